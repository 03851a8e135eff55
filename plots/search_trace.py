"""Search-trace figure: each evaluation's objective in order, and the best value so far.

    python plots/search_trace.py [--results DIR] [--out DIR] [spec overrides, e.g. search=lbfgsb]

Spec: plots/specs/search_trace.yaml. Failed evaluations are drawn as crosses along the top.
"""

import csv
from pathlib import Path

import numpy as np

from optsweep.engine.search.state import TRACE
from optsweep.report.figures import FIGURE_SUFFIXES, figure_files, new_figure, run_script
from optsweep.report.sweepdata import UnusableResults

PROJECT = Path(__file__).resolve().parents[1]


def read_trace(results: Path, search: str) -> tuple[np.ndarray, np.ndarray]:
    """(evaluation numbers, values with NaN for failures) of ``results/search=<search>``."""
    path = Path(results) / f"search={search}" / TRACE
    if not path.exists():
        raise UnusableResults(
            f"no trace of search {search!r} at {path}; run "
            f"`python task.py -cp experiment search={search} -m`"
        )
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    numbers = np.array([int(row["evaluation"]) for row in rows])
    values = np.array(
        [float(row["value"]) if row["value"] and not row["error"] else np.nan for row in rows]
    )
    if np.isnan(values).all():
        raise UnusableResults(f"every evaluation of search {search!r} failed ({path})")
    return numbers, values


def best_so_far(values: np.ndarray) -> np.ndarray:
    """Running minimum, ignoring failures (NaN) until the first success."""
    return np.fmin.accumulate(values)


def draw(numbers, values, spec):
    figure, axes = new_figure(spec.size, str(PROJECT / "plots" / "paper.mplstyle"))
    ok = ~np.isnan(values)
    axes.plot(
        numbers[ok],
        values[ok],
        linestyle="none",
        marker="o",
        markersize=3,
        alpha=0.6,
        label="evaluation",
    )
    axes.step(numbers, best_so_far(values), where="post", color="black", label="best so far")
    if (~ok).any():
        top = np.nanmax(values)
        axes.plot(
            numbers[~ok],
            np.full((~ok).sum(), top),
            linestyle="none",
            marker="x",
            color="red",
            label="failed",
        )
    axes.set_yscale("log")
    axes.set_xlabel(spec.x_label)
    axes.set_ylabel(spec.y_label)
    axes.set_title(f"search={spec.search}", fontsize="medium")
    axes.legend()
    return figure


def make(results, spec, out):
    numbers, values = read_trace(results, spec.search)
    return figure_files(draw(numbers, values, spec), out / spec.output)


def outputs(spec, out):
    return [(out / spec.output).with_suffix(suffix) for suffix in FIGURE_SUFFIXES]


if __name__ == "__main__":
    run_script("search_trace", make, outputs, project=PROJECT)
