"""Convergence figure: best objective value against the evaluation budget, one line per setting.

    python plots/convergence.py [--results DIR] [--out DIR]

Reads the result files of the experiment sweep and writes convergence.pdf and convergence.png.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from optsweep.figures import FigureError, remove_outputs, save_figure, style_sheet  # noqa: E402
from optsweep.paths import PROJECT_ROOT  # noqa: E402
from optsweep.results import NoResults, identifying_overrides, results_frame  # noqa: E402
from optsweep.storage import ResultFileError  # noqa: E402


# The figure shows the sweep of experiment/task.yaml: jobs set by these overrides alone.
# Runs with further overrides (method.options.maxCGit=5, ...) are other experiments.
SWEPT_KEYS = {"settings", "maxfun", "seed"}


def _override_keys(overrides) -> set:
    return {override.split("=", 1)[0] for override in identifying_overrides(overrides)}


def sweep_rows(frame):
    """The rows of ``frame`` that belong to the configured sweep; refuse duplicates."""
    frame = frame[[_override_keys(o) <= SWEPT_KEYS and "maxfun" in _override_keys(o)
                   for o in frame["overrides"]]]
    duplicated = frame[frame.duplicated(["setting", "maxfun", "seed"], keep=False)]
    if not duplicated.empty:
        raise FigureError(
            "several results for one setting, budget and seed; remove the stale ones:\n  "
            + "\n  ".join(sorted(duplicated["path"]))
        )
    return frame


def convergence_lines(frame):
    """{setting: (budgets, f values)}, budgets ascending, from the sweep's results frame."""
    lines = {}
    for setting, rows in sweep_rows(frame).groupby("setting"):
        rows = rows.sort_values("maxfun")
        lines[setting] = (rows["maxfun"].to_numpy(), rows["fun"].to_numpy())
    return lines


def draw(lines) -> plt.Figure:
    with plt.style.context(style_sheet()):
        figure, axes = plt.subplots()
        for setting, (budgets, values) in sorted(lines.items()):
            axes.plot(budgets, values, marker="o", label=setting)
        axes.set_yscale("log")
        axes.set_xlabel("budget (max. function evaluations)")
        axes.set_ylabel(r"best objective $f(x_\mathrm{opt})$")
        axes.legend(title="setting")
    return figure


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=PROJECT_ROOT / "results")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "plots")
    arguments = parser.parse_args(argv)
    stem = arguments.out / "convergence"
    try:
        frame = results_frame(arguments.results)
        if "maxfun" not in frame or sweep_rows(frame).empty:
            raise FigureError(
                f"no experiment sweep results in {arguments.results}: "
                "run `python task.py -cp experiment -m` (or `make sweep`) first"
            )
        figure = draw(convergence_lines(frame))
    except (FigureError, NoResults, ResultFileError) as error:
        # Never leave an older figure looking current: it no longer matches the results.
        removed = remove_outputs(stem)
        note = f"\nremoved the outdated {', '.join(map(str, removed))}" if removed else ""
        raise SystemExit(f"convergence figure not drawn: {error}{note}") from None
    for path in save_figure(figure, stem):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
