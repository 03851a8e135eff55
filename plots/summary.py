"""Summary table: per setting and budget, final f, nfev, nit and success across seeds.

    python plots/summary.py [--results DIR] [--out DIR] [spec overrides, e.g. budgets=null]

Spec: plots/specs/summary.yaml. Writes the same table as CSV (full precision), Markdown and a
LaTeX ``tabular``. "median [q25, q75]" summarizes seeds; with one seed it is the value itself.
"""

import pandas as pd

from optsweep.engine.files import write_atomically
from optsweep.report.figures import label, run_script
from optsweep.report.precision import DECIMAL_DIGITS, shown
from optsweep.report.sweepdata import sweep_results

SUFFIXES = (".csv", ".md", ".tex")


def summary_table(frame, spec) -> pd.DataFrame:
    """One row per setting and budget: seeds, f median/q25/q75, nfev and nit medians,
    success rate."""
    order = spec.settings or sorted(frame["setting"].unique())
    rows = []
    for setting in order:
        for budget, group in frame[frame["setting"] == setting].groupby("maxfun"):
            rows.append(
                {
                    "setting": label(spec, setting),
                    "budget": int(budget),
                    "seeds": len(group),
                    "f_median": group["fun"].median(),
                    "f_q25": group["fun"].quantile(0.25),
                    "f_q75": group["fun"].quantile(0.75),
                    "nfev_median": group["nfev"].median(),
                    "nit_median": group["nit"].median(),
                    "success_rate": group["success"].mean(),
                }
            )
    table = pd.DataFrame(rows)
    if not table.empty:  # what a paper shows, at the stated precision (optsweep.report.precision)
        for column in ROUNDED:
            table[column] = shown(table[column])
    return table


# Columns shown at the stated precision: the same table on every machine whose results agree.
ROUNDED = ("f_median", "f_q25", "f_q75", "nfev_median", "nit_median", "success_rate")


def _f(row) -> str:
    if row.seeds == 1:
        return f"{row.f_median:.2e}"
    return f"{row.f_median:.2e} [{row.f_q25:.2e}, {row.f_q75:.2e}]"


def _cells(row) -> list[str]:
    return [
        row.setting,
        str(row.budget),
        str(row.seeds),
        _f(row),
        f"{row.nfev_median:g}",
        f"{row.nit_median:g}",
        f"{row.success_rate:.0%}",
    ]


HEADER = [
    "setting",
    "budget",
    "seeds",
    "f(x_opt): median [q25, q75]",
    "nfev (median)",
    "nit (median)",
    "success",
]


def markdown(table) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in table.itertuples()]
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    for char, escaped in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
        ("$", r"\$"),
    ):
        text = text.replace(char, escaped)
    return text


def latex(table) -> str:
    header = ["setting", "budget", "seeds", r"$f(x_\mathrm{opt})$", "nfev", "nit", "success"]
    lines = [r"\begin{tabular}{lrrlrrr}", r"\hline", " & ".join(header) + r" \\", r"\hline"]
    lines += [
        " & ".join(_latex_escape(cell) for cell in _cells(row)) + r" \\"
        for row in table.itertuples()
    ]
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def make(results, spec, out):
    frame = sweep_results(results, spec.settings, spec.budgets, spec.extra_overrides)
    table = summary_table(frame, spec)
    stem = out / spec.output
    csv = table.to_csv(index=False, float_format=f"%.{DECIMAL_DIGITS}g")
    texts = {".csv": csv, ".md": markdown(table), ".tex": latex(table)}
    for suffix, text in texts.items():
        write_atomically(stem.with_suffix(suffix), text.encode())
    return [stem.with_suffix(suffix) for suffix in texts]


def outputs(spec, out):
    return [(out / spec.output).with_suffix(suffix) for suffix in SUFFIXES]


if __name__ == "__main__":
    run_script("summary", make, outputs)
