"""What all figure and table scripts share: their YAML specs, the style sheet, deterministic
atomic output files, and the rule that a failed script deletes nothing: it writes no output and
says which existing ones it left."""

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
from optsweep.engine.store import NoResults, ResultFileError  # noqa: E402
from optsweep.report.sweepdata import UnusableResults  # noqa: E402

PLOTS = project_root() / "plots"
SPECS = PLOTS / "specs"
# No creation dates or software versions in the files: same results, same bytes.
_METADATA = {
    ".pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
    ".png": {"Software": None},
}
FIGURE_SUFFIXES = tuple(_METADATA)


def load_spec(name: str, overrides: list[str]) -> DictConfig:
    """``plots/specs/common.yaml``, then ``plots/specs/<name>.yaml``, then ``key=value``
    overrides from the command line."""
    spec = OmegaConf.merge(
        OmegaConf.load(SPECS / "common.yaml"), OmegaConf.load(SPECS / f"{name}.yaml")
    )
    OmegaConf.set_struct(spec, True)  # a misspelt override key is an error
    merged = OmegaConf.merge(spec, OmegaConf.from_dotlist(overrides))
    assert isinstance(merged, DictConfig)
    return merged


def save_figure(figure: plt.Figure, stem: Path) -> list[Path]:
    """Write ``stem``.pdf and ``stem``.png, each atomically and byte-reproducibly."""
    paths = []
    for suffix, metadata in _METADATA.items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format=suffix[1:], metadata=metadata, bbox_inches="tight")
        path = stem.with_suffix(suffix)
        write_atomically(path, buffer.getvalue())
        paths.append(path)
    plt.close(figure)
    return paths


def run_script(
    name: str,
    make: Callable[[Path, DictConfig, Path], list[Path]],
    outputs: Callable[[DictConfig, Path], list[Path]],
    argv=None,
) -> None:
    """Command-line wrapper of a figure or table script.

    ``python plots/<name>.py [--results DIR] [--out DIR] [key=value ...]``: loads the spec,
    calls ``make(results, spec, out)`` which writes and returns its files. If the results are
    missing, unreadable or unfit, the script writes nothing, says why, names its existing
    ``outputs`` (left as they are: committed paper figures are never deleted) and exits
    non-zero. A file among the results that is no result at all is named and skipped.
    """
    parser = argparse.ArgumentParser(
        prog=f"plots/{name}.py", description=f"Spec: plots/specs/{name}.yaml"
    )
    parser.add_argument("--results", type=Path, default=project_root() / "results")
    parser.add_argument("--out", type=Path, default=PLOTS)
    parser.add_argument("overrides", nargs="*", help="spec overrides, e.g. budget=100")
    arguments = parser.parse_args(argv)
    try:
        spec = load_spec(name, arguments.overrides)
    except OmegaConfBaseException as error:
        sys.exit(f"plots/{name}.py: bad spec override: {error}")
    try:
        written = make(arguments.results, spec, arguments.out)
    except (NoResults, ResultFileError, UnusableResults) as error:
        kept = [path for path in outputs(spec, arguments.out) if path.exists()]
        note = (
            f"\nleft as they were (not made from these results): {', '.join(map(str, kept))}"
            if kept
            else ""
        )
        sys.exit(f"plots/{name}.py: nothing written: {error}{note}")
    for path in written:
        print(f"wrote {path}")


def style_sheet() -> str:
    return str(PLOTS / "paper.mplstyle")


def new_figure(size) -> tuple[plt.Figure, plt.Axes]:
    """A figure in the shared style (applied process-wide: scripts draw nothing else)."""
    plt.style.use(style_sheet())
    return plt.subplots(figsize=tuple(size))


def label(spec: DictConfig, setting: str) -> str:
    return spec.labels.get(setting, setting) if spec.labels else setting
