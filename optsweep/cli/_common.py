"""What the reporting subcommands share: the results directory, the output directory, specs."""

import argparse
import os
import sys
from pathlib import Path

from optsweep.engine.paths import MARKER, find_project, project_root
from optsweep.engine.store import NoResults, ResultFileError, advice
from optsweep.report.specs import SpecError
from optsweep.report.sweepdata import UnusableResults


def add_results(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "results", nargs="?", type=Path, metavar="RESULTS", help="default: the project's results/"
    )


def project_of(spec_files: list[Path]) -> Path:
    """The project whose results/ and plots/ are the defaults: the working directory's if it
    is one (a ``.project-root`` there or above); else, from elsewhere, that of the spec files
    (``optsweep plot --spec study/plots/specs/accuracy.yaml`` from study's parent) when they
    are all in one."""
    here = project_root()
    if (here / MARKER).is_file() or not spec_files:
        return here
    projects = {find_project(spec) for spec in spec_files if spec.is_file()}
    marked = [project for project in projects if (project / MARKER).is_file()]
    return marked[0] if len(projects) == 1 and marked else here


def add_spec_arguments(command: argparse.ArgumentParser, kind: str) -> None:
    add_results(command)
    command.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="spec keys, over the specs' (e.g. x=budget y=accuracy hue=setting agg=mean)",
    )
    command.add_argument(
        "--spec",
        action="append",
        type=Path,
        default=[],
        help=f"a {kind} spec file (YAML); repeat for several, drawn in one process",
    )
    command.add_argument(
        "--out", type=Path, default=None, help="output directory (default: the project's plots/)"
    )


def run_specs(arguments: argparse.Namespace, kind: str) -> int:
    """Load the specs (or one from the overrides alone), make them all, write them; a refusal
    writes nothing and names the existing outputs it left. Exit status: 0 written, 1 refused
    (results unfit), 2 a bad spec or override."""
    from optsweep.report import render, specs

    if arguments.results is not None and "=" in arguments.results.name:
        if not arguments.results.exists():  # no RESULTS given: the first key=value took its place
            arguments.overrides.insert(0, str(arguments.results))
            arguments.results = None
    positional = [o for o in arguments.overrides if "=" not in o]
    if positional:  # RESULTS given after a key=value, or a second directory
        print(f"optsweep: not key=value: {' '.join(positional)}", file=sys.stderr)
        return 2
    project = project_of(arguments.spec)
    out = arguments.out if arguments.out is not None else project / "plots"
    results = arguments.results if arguments.results is not None else project / "results"
    try:
        loaded = specs.load_all(arguments.spec or [None], arguments.overrides, kind)
        for spec in loaded:
            render.outputs(spec, out)  # a figure script is imported now, and checked
    except SpecError as error:
        print(f"optsweep: bad spec: {error}", file=sys.stderr)
        return 2
    unusable = _unusable_out(out)
    if unusable is not None:
        print(f"optsweep: nothing written: --out {out}: {unusable}", file=sys.stderr)
        return 2
    try:
        written = render.render(loaded, results, out)
    except OSError as error:  # the checks above passed, the writes did not (a full disk)
        done = [path for spec in loaded for path in render.outputs(spec, out) if path.exists()]
        print(
            f"optsweep: writing failed: {error}; the outputs there now: "
            f"{', '.join(map(str, done)) or 'none'}",
            file=sys.stderr,
        )
        return 1
    except (NoResults, ResultFileError, UnusableResults) as error:
        kept = [path for spec in loaded for path in render.outputs(spec, out) if path.exists()]
        note = (
            f"\nleft as they were (not made from these results): {', '.join(map(str, kept))}"
            if kept
            else ""
        )
        print(f"optsweep: nothing written: {error}{advice(error)}{note}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


# The suffixes of the files figures and tables are written as: an --out ending so is a slip.
_OUTPUT_SUFFIXES = (".pdf", ".png", ".svg", ".csv", ".md", ".tex")


def _unusable_out(out: Path) -> str | None:
    """Why the output directory ``out`` cannot take the outputs (checked before any is made,
    nothing created), else None."""
    if not out.exists() and out.suffix.lower() in _OUTPUT_SUFFIXES:
        return (
            f"{out.name} looks like a file's name, but --out names the directory the outputs "
            f"go to (it would be made as a directory): give --out {out.parent}, and the spec's "
            f"output={out.stem} names the files"
        )
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        where = "" if existing == out else f" ({existing} is a file)"
        return f"not a directory{where}: --out names the directory the outputs go to"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot be written: {existing} is not writable"
    return None
