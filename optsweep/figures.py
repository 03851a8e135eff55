"""What all figure scripts share: the style sheet and deterministic, atomic saving."""

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from optsweep.paths import PROJECT_ROOT

# No creation dates or software versions in the files: same results, same bytes.
_METADATA = {
    ".png": {"Software": None},
    ".pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
}


class FigureError(Exception):
    """The results cannot make the figure honestly (missing, mixed, ...): say why."""


def remove_outputs(stem: Path) -> list[Path]:
    """Delete the files ``save_figure`` writes for ``stem``; return those that existed."""
    removed = []
    for suffix in _METADATA:
        path = stem.with_suffix(suffix)
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed


def style_sheet() -> str:
    return str(PROJECT_ROOT / "plots" / "paper.mplstyle")


def save_figure(figure: plt.Figure, stem: Path) -> list[Path]:
    """Write ``stem``.pdf and ``stem``.png, each atomically; return their paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, metadata in _METADATA.items():
        path = stem.with_suffix(suffix)
        handle, temporary = tempfile.mkstemp(dir=stem.parent, prefix=f".{path.name}.")
        os.close(handle)
        try:
            figure.savefig(temporary, format=suffix[1:], metadata=metadata, bbox_inches="tight")
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        paths.append(path)
    plt.close(figure)
    return paths
