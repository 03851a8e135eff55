"""What all figures and tables share: the style sheet, deterministic atomic output files, and
the rule that a failed script deletes nothing: it writes no output and says which existing ones
it left. ``run_script`` and ``load_spec`` serve a project's own figure scripts (such as the
example's ``plots/landscape.py``); the generic figures and tables are ``optsweep.report.render``.
"""

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402
from omegaconf.errors import OmegaConfBaseException  # noqa: E402

from optsweep.engine.files import write_atomically  # noqa: E402
from optsweep.engine.paths import project_root  # noqa: E402
from optsweep.engine.store import NoResults, ResultFileError, advice  # noqa: E402
from optsweep.report.sweepdata import UnusableResults  # noqa: E402

# No creation dates or software versions in the files: same results, same bytes.
_METADATA = {
    ".pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
    ".png": {"Software": None},
}
FIGURE_SUFFIXES = tuple(_METADATA)


def plots_dir(project: Path | None = None) -> Path:
    """``plots/`` of ``project`` (default: ``paths.project_root()``)."""
    return (project if project is not None else project_root()) / "plots"


def load_spec(name: str, overrides: list[str], project: Path | None = None) -> DictConfig:
    """``plots/specs/<name>.yaml`` of ``project`` (over the file its ``extends`` names, if
    any), then ``key=value`` overrides from the command line; a key the spec has not is an
    error."""
    from optsweep.report.specs import _read, with_script_defaults

    spec = with_script_defaults(_read(plots_dir(project) / "specs" / f"{name}.yaml"))
    OmegaConf.set_struct(spec, True)  # a misspelt override key is an error
    merged = OmegaConf.merge(spec, OmegaConf.from_dotlist(overrides))
    assert isinstance(merged, DictConfig)
    return merged


def figure_bytes(figure: plt.Figure) -> dict[str, bytes]:
    """{".pdf": ..., ".png": ...}: the figure's files, byte-reproducible; closes it."""
    # The tight box is measured once, by one layout without rendering, and given to both
    # saves: bbox_inches="tight" would lay the whole figure out again for each file.
    figure.draw_without_rendering()
    box = figure.get_tightbbox().padded(plt.rcParams["savefig.pad_inches"])
    made = {}
    for suffix, metadata in _METADATA.items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format=suffix[1:], metadata=metadata, bbox_inches=box)
        made[suffix] = buffer.getvalue()
    plt.close(figure)
    return made


def write_all(files: dict[Path, bytes]) -> None:
    """Write each file atomically (a reader sees the old or the new file, never half)."""
    for path, data in files.items():
        write_atomically(path, data)


def figure_files(figure: plt.Figure, stem: Path) -> dict[Path, bytes]:
    """{``stem``.pdf: ..., ``stem``.png: ...}: the figure's files, byte-reproducible, not yet
    written (``write_all``); closes it."""
    return {stem.parent / f"{stem.name}{s}": data for s, data in figure_bytes(figure).items()}


def run_script(
    name: str,
    make: Callable[[Path, DictConfig, Path], dict[Path, bytes]],
    outputs: Callable[[DictConfig, Path], list[Path]],
    argv=None,
    project: Path | None = None,
) -> None:
    """Command-line wrapper of a figure or table script.

    ``python plots/<name>.py [--results DIR] [--out DIR] [key=value ...]``: loads the spec,
    calls ``make(results, spec, out)``, which returns its files ({path: bytes}), and writes
    them, each atomically. (The same script drawn by ``optsweep plot --spec`` with a spec of
    ``kind: script``: ``optsweep.report.specs``.) If the results are
    missing, unreadable or unfit, the script writes nothing, says why, names its existing
    ``outputs`` (left as they are: committed paper figures are never deleted) and exits
    non-zero. A file among the results that is no result at all is named and skipped.
    ``project``: the script's project (default ``paths.project_root()``, which for a script
    run as ``python plots/x.py`` is the script's own directory: pass the project).
    """
    plots = plots_dir(project)
    parser = argparse.ArgumentParser(
        prog=f"plots/{name}.py", description=f"Spec: plots/specs/{name}.yaml"
    )
    parser.add_argument("--results", type=Path, default=plots.parent / "results")
    parser.add_argument("--out", type=Path, default=plots)
    parser.add_argument("overrides", nargs="*", help="spec overrides, e.g. budget=100")
    arguments = parser.parse_intermixed_args(argv)  # key=value also after the options
    try:
        spec = load_spec(name, arguments.overrides, plots.parent)
    except (OmegaConfBaseException, ValueError) as error:
        sys.exit(f"plots/{name}.py: bad spec override: {error}")
    try:
        written = make(arguments.results, spec, arguments.out)
        write_all(written)
    except (NoResults, ResultFileError, UnusableResults) as error:
        kept = [path for path in outputs(spec, arguments.out) if path.exists()]
        note = (
            f"\nleft as they were (not made from these results): {', '.join(map(str, kept))}"
            if kept
            else ""
        )
        sys.exit(f"plots/{name}.py: nothing written: {error}{advice(error)}{note}")
    for path in written:
        print(f"wrote {path}")


def style_sheet() -> str:
    return str(plots_dir() / "paper.mplstyle")


def new_figure(size, style: str | None = "") -> tuple[plt.Figure, plt.Axes]:
    """A figure in ``style`` (a style sheet's path; "": the project's ``plots/paper.mplstyle``;
    None: matplotlib's defaults). The style is applied process-wide until the next figure: draw
    and save one figure before starting another."""
    sheet = style_sheet() if style == "" else style
    if sheet == style_sheet() and not Path(sheet).is_file():
        sheet = None
    plt.style.use(["default", sheet] if sheet else ["default"])
    return plt.subplots(figsize=tuple(size))


def label(spec: DictConfig, setting) -> str:
    return spec.labels.get(str(setting), str(setting)) if spec.labels else str(setting)
