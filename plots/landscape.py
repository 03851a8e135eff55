"""Landscape figure: Rosenbrock contours with each setting's path of iterates at one budget.

    python plots/landscape.py [--results DIR] [--out DIR] [spec overrides, e.g. budget=50]

Spec: plots/specs/landscape.yaml. The paths are the iterates recorded in the results
(``result.iterates``, then the returned solution), not recomputed.
"""

import numpy as np
from matplotlib.colors import LogNorm

from optsweep.report.figures import FIGURE_SUFFIXES, figure_files, label, new_figure, run_script
from optsweep.report.precision import shown
from optsweep.report.sweepdata import sweep_results
from optsweep.report.table import load_result
from rosenbrock import PROJECT

MINIMUM = (1.0, 1.0)


def rosenbrock(points: np.ndarray) -> np.ndarray:
    """The objective at ``points`` (shape (2, ...)): scipy.optimize.rosen's own formula, so that
    drawing the contours does not import scipy.optimize (0.4 s of the figures' time). Checked
    equal to the runs' objective (``rosenbrock.problem.objective``) by tests/test_figures.py."""
    x, y = points
    return 100.0 * (y - x**2.0) ** 2.0 + (1 - x) ** 2.0


def paths(frame, seed) -> dict:
    """{setting: (n, 2) array of the points from x0 to the solution}, for one seed."""
    drawn = {}
    for _, row in frame[frame["seed"] == seed].iterrows():
        result = load_result(row["path"])["result"]
        # At the stated precision (optsweep.report.precision), as every figure.
        drawn[row["setting"]] = shown(np.vstack([result.iterates, result.x]))
    return drawn


def draw(frame, spec):
    figure, axes = new_figure(spec.size, str(PROJECT / "plots" / "paper.mplstyle"))
    x = np.linspace(spec.xlim[0], spec.xlim[1], 400)
    y = np.linspace(spec.ylim[0], spec.ylim[1], 400)
    grid_x, grid_y = np.meshgrid(x, y)
    values = rosenbrock(np.stack([grid_x, grid_y]))
    levels = np.logspace(np.log10(values.min() + 1e-3), np.log10(values.max()), spec.levels)
    axes.contour(
        grid_x, grid_y, values + 1e-3, levels=levels, norm=LogNorm(), cmap="Greys", linewidths=0.5
    )
    seed = spec.seed if spec.seed is not None else int(frame["seed"].min())
    drawn = paths(frame, seed)
    for setting in spec.order or sorted(drawn):
        points = drawn[setting]
        axes.plot(
            points[:, 0],
            points[:, 1],
            marker=".",
            markersize=2.5,
            linewidth=0.9,
            label=label(spec, setting),
        )
    start = next(iter(drawn.values()))[0]
    axes.plot(*start, marker="o", color="black", linestyle="none", label="start $x_0$")
    axes.plot(
        *MINIMUM,
        marker="*",
        markersize=9,
        color="gold",
        markeredgecolor="black",
        linestyle="none",
        label="minimum (1, 1)",
    )
    axes.grid(False)
    axes.set_xlim(*spec.xlim)
    axes.set_ylim(*spec.ylim)
    axes.set_xlabel("$x_1$")
    axes.set_ylabel("$x_2$")
    axes.set_title(f"paths at budget {spec.budget}", fontsize="medium")
    axes.legend(loc="lower right", fontsize="x-small")
    return figure


def make(results, spec, out, frame=None):
    """The figure's files; ``frame``: the results' table, when ``optsweep plot`` has read it
    for the other specs."""
    frame = sweep_results(
        results,
        "maxfun",
        order=spec.order,
        values=[spec.budget],
        extra_overrides=spec.extra_overrides,
        frame=frame,
        allow_stale=spec.allow_stale,
        allow_failed=spec.allow_failed,
    ).frame
    return figure_files(draw(frame, spec), out / spec.output)


def outputs(spec, out):
    return [(out / spec.output).with_suffix(suffix) for suffix in FIGURE_SUFFIXES]


if __name__ == "__main__":
    run_script("landscape", make, outputs, project=PROJECT)
