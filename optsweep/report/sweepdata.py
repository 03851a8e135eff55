"""The results of the experiment sweep, selected and checked for a figure or table.

A figure must not mislead: it is drawn only from the jobs of one sweep (overrides of
``settings``, ``maxfun`` and ``seed``, plus exactly the spec's ``extra_overrides``; runs with
other overrides are other experiments), only if every setting has a result for every budget
and seed of the grid, and only if each setting's results share one config apart from the
swept keys.
"""

import pandas as pd

from optsweep.engine.store import identifying_overrides
from optsweep.report.table import results_frame

SWEPT_KEYS = frozenset({"settings", "maxfun", "seed"})
_MAX_LISTED = 10


class UnusableResults(Exception):
    """The results cannot make the figure or table honestly; the message says why and what
    command fixes it."""


def _belongs(overrides, extra: set[str]) -> bool:
    """Whether a job with ``overrides`` is a job of the sweep the figure shows."""
    overrides = identifying_overrides(overrides)
    keys = {override.split("=", 1)[0] for override in overrides}
    others = {o for o in overrides if o.split("=", 1)[0] not in SWEPT_KEYS}
    return "maxfun" in keys and others == extra


def _rerun_hint(settings) -> str:
    return "; run " + " and ".join(
        f"`python task.py -cp experiment settings={setting} -m`" for setting in sorted(settings)
    )


def _hashable(value):
    return repr(value) if isinstance(value, (list, dict)) else value


def check_complete(frame: pd.DataFrame, budgets: list) -> None:
    """Every setting has one result for every budget and every seed of the grid."""
    seeds = sorted(frame["seed"].unique())
    have = set(zip(frame["setting"], frame["maxfun"], frame["seed"], strict=True))
    missing = [
        (setting, budget, seed)
        for setting in sorted(frame["setting"].unique())
        for budget in budgets
        for seed in seeds
        if (setting, budget, seed) not in have
    ]
    if missing:
        listed = ", ".join(f"{s} maxfun={b} seed={d}" for s, b, d in missing[:_MAX_LISTED])
        more = f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
        raise UnusableResults(
            f"incomplete results: missing {listed}{more}"
            + _rerun_hint({setting for setting, _, _ in missing})
        )


def check_consistent(frame: pd.DataFrame, config_columns: list[str]) -> None:
    """Within a setting, only the swept keys vary (``x0`` may vary between seeds: a random
    start is drawn from the seed); two different ``eta`` or ``x0`` in one line would mix two
    experiments."""
    for setting, rows in frame.groupby("setting"):
        for column in config_columns:
            if column in ("maxfun", "seed") or (rows[column] == rows["maxfun"]).all():
                continue  # swept, or the option a settings file maps maxfun onto
            groups = rows.groupby("seed") if column == "x0" else [(None, rows)]
            for _, group in groups:
                values = group[column].map(_hashable).unique()
                if len(values) > 1:
                    shown = ", ".join(map(str, values[:4]))
                    raise UnusableResults(
                        f"results of setting {setting!r} mix configs: {column} takes {shown}; "
                        "they come from different versions of the sweep"
                        + _rerun_hint([setting])
                        + " (after removing stale results)"
                    )


def sweep_results(results_dir, settings=None, budgets=None, extra_overrides=()) -> pd.DataFrame:
    """The checked rows of one sweep for ``settings`` (None: all found) at ``budgets``
    (None: every budget found), one per setting, budget and seed. The sweep's jobs are those
    whose overrides beyond ``settings``/``maxfun``/``seed`` are exactly ``extra_overrides``."""
    frame = results_frame(results_dir)
    config_columns = frame.attrs["config_columns"]
    extra = set(identifying_overrides(list(extra_overrides)))
    frame = frame[frame["overrides"].map(lambda o: _belongs(o, extra))].copy()
    if not frame.empty:
        frame[["maxfun", "seed"]] = frame[["maxfun", "seed"]].astype(int)
    if settings is not None:
        absent = sorted(set(settings) - set(frame["setting"]))
        if absent:
            raise UnusableResults(
                f"no results for setting(s) {', '.join(absent)}" + _rerun_hint(absent)
            )
        frame = frame[frame["setting"].isin(settings)]
    if frame.empty:
        with_extra = "".join(f" {o}" for o in sorted(extra))
        raise UnusableResults(
            f"no experiment sweep results{' with' + with_extra if extra else ''}"
            f" in {results_dir}; run `python task.py -cp experiment"
            f"{with_extra} -m`"
        )
    duplicated = frame[frame.duplicated(["setting", "maxfun", "seed"], keep=False)]
    if not duplicated.empty:
        raise UnusableResults(
            "several results for one setting, budget and seed; remove the stale ones:\n  "
            + "\n  ".join(sorted(duplicated["path"]))
        )
    budgets = sorted(frame["maxfun"].unique()) if budgets is None else list(budgets)
    found = sorted(int(b) for b in frame["maxfun"].unique())
    frame = frame[frame["maxfun"].isin(budgets)]
    if frame.empty:
        raise UnusableResults(
            f"no results at maxfun={', '.join(map(str, budgets))} (the results have "
            f"{', '.join(map(str, found))}); run `python task.py -cp experiment "
            f"maxfun={','.join(map(str, budgets))} -m`"
        )
    check_complete(frame, budgets)
    check_consistent(frame, config_columns)
    return frame.sort_values(["setting", "maxfun", "seed"]).reset_index(drop=True)
