"""Convergence figure: best objective value against the evaluation budget, one line per setting.

    python plots/convergence.py [--results DIR] [--out DIR] [spec overrides, e.g. budgets=[10,50]]

Spec: plots/specs/convergence.yaml. With one seed per budget the line is the result itself;
with several, the median across seeds and a band from the 25th to the 75th percentile.
"""

import numpy as np

from optsweep.report.figures import FIGURE_SUFFIXES, label, new_figure, run_script, save_figure
from optsweep.report.precision import shown
from optsweep.report.sweepdata import sweep_results


def convergence_lines(frame) -> dict:
    """{setting: (budgets, median f, 25th percentile, 75th percentile)}, budgets ascending."""
    lines = {}
    for setting, rows in frame.groupby("setting", sort=False):
        per_budget = rows.groupby("maxfun")["fun"]
        budgets = np.array(sorted(rows["maxfun"].unique()))
        lines[setting] = (  # plotted at the stated precision (optsweep.report.precision)
            budgets,
            shown(per_budget.median().loc[budgets]),
            shown(per_budget.quantile(0.25).loc[budgets]),
            shown(per_budget.quantile(0.75).loc[budgets]),
        )
    return lines


def draw(frame, spec):
    figure, axes = new_figure(spec.size)
    order = spec.settings or sorted(frame["setting"].unique())
    lines = convergence_lines(frame)
    several_seeds = frame["seed"].nunique() > 1
    for setting in order:
        budgets, median, low, high = lines[setting]
        (line,) = axes.plot(budgets, median, marker="o", label=label(spec, setting))
        if several_seeds:
            axes.fill_between(budgets, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    axes.set_yscale("log")
    axes.set_xlabel(spec.x_label)
    axes.set_ylabel(spec.y_label)
    title = "median, IQR over seeds" if several_seeds else None
    axes.legend(title=title)
    return figure


def make(results, spec, out):
    frame = sweep_results(results, spec.settings, spec.budgets, spec.extra_overrides)
    return save_figure(draw(frame, spec), out / spec.output)


def outputs(spec, out):
    return [(out / spec.output).with_suffix(suffix) for suffix in FIGURE_SUFFIXES]


if __name__ == "__main__":
    run_script("convergence", make, outputs)
