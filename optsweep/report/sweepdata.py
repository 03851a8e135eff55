"""The results of one sweep, selected and checked for a figure or table, for any experiment.

A figure must not mislead. It is drawn only from the jobs of one sweep: the jobs whose
identifying overrides include exactly the spec's ``extra_overrides`` and, beyond those, override
one set of keys, the *swept keys* (the spec's ``swept``; by default the smallest set of keys,
among the jobs, that includes the key the lines step along: a one-off run on top of a sweep
overrides more keys, so it is another sweep). Each line is one value of ``hue`` (the result's
``setting``, or a swept key); along it, the points are the values of ``along`` (``x`` when x is
a swept key); every other swept key (seeds, say) is aggregated over. It is drawn only if every
line has one result for every point and every combination of the aggregated keys' values, and
only if each line's results share one config apart from the swept keys (a value may follow a
swept key: the option a settings file maps the budget onto, a start point drawn from the seed).
Results of several experiments are never mixed.
"""

import difflib
import itertools
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from optsweep.engine.store import identifying_overrides, numbers_as_floats
from optsweep.report.failures import check_no_failed_jobs
from optsweep.report.staleness import check_current_code
from optsweep.report.table import results_frame

_MAX_LISTED = 10
NO_SETTING = "(none)"  # the hue value of results without a setting


class UnusableResults(Exception):
    """The results cannot make the figure or table honestly; the message says why and what
    command fixes it."""


@dataclass
class Sweep:
    """The checked rows of one sweep (one per line, point and aggregated keys' values) and what
    its keys are. ``frame[hue]`` names each row's line; ``frame[along]`` its point."""

    frame: pd.DataFrame
    hue: str
    along: str
    over: list[str]  # the swept keys aggregated over
    swept: list[str]
    order: list = field(default_factory=list)  # the lines, in the order to draw them
    hue_key: str | None = None  # the override key the lines differ in (settings), if any


def _parse(overrides) -> dict[str, str]:
    return dict(o.split("=", 1) if "=" in o else (o, "") for o in overrides)


def _hashable(value):
    return repr(value) if isinstance(value, (list, dict, tuple)) else value


def _hashed(column: pd.Series) -> pd.Series:
    """``column`` with lists and dicts as their text; only a column of objects can hold them."""
    return column.map(_hashable) if column.dtype == object else column


def _number(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _sortable(value):
    """Numbers by value (numpy's too: a column of integers holds ``np.int64``), before text."""
    return (0, value, "") if isinstance(value, numbers.Real) else (1, 0, str(value))


def _command(script: str, extra: list[str], *assignments: str) -> str:
    """The command that would run the jobs of ``assignments`` with the task file ``script``
    (``script_of``)."""
    words = " ".join(a for a in (*assignments, *extra) if a)
    return f"`python {script} -cp experiment {words} -m`".replace("  ", " ")


def script_of(frame: pd.DataFrame) -> str:
    """The task file the results' commands ran (``meta.script``: ``train.py`` in a project
    whose entry point it is), ``task.py`` for results that do not record it."""
    if "meta.script" in frame.columns:
        scripts = frame["meta.script"].dropna()
        if not scripts.empty:
            return str(scripts.mode().iloc[0])
    return "task.py"


def _swept_as_given(frame: pd.DataFrame, swept: frozenset, parsed: pd.Series) -> pd.DataFrame:
    """``frame`` with each swept key that every row's override gives as an integer
    (``budget=10``) in integers: pandas makes a column of floats where some other result lacks
    the key (a plain run's), and the messages would ask for ``budget=10.0``, which the sweep
    refuses. Floats swept as floats (``lr=1.0``) stay floats."""
    changed = {}
    for key in sorted(swept):
        if key not in frame.columns or frame[key].dtype.kind != "f":
            continue
        given = parsed[frame.index].map(
            lambda ids, key=key: _number(dict(o.split("=", 1) for o in ids).get(key, ""))
        )
        if len(given) and given.map(lambda v: type(v) is int).all():
            changed[key] = given.astype("int64")
    return frame.assign(**changed) if changed else frame


def _refuse_unknown(
    needed: set[str], swept: set[str], frame: pd.DataFrame, results_dir, along: str
) -> None:
    """A key to draw along or by (``along``, ``hue``) that no job swept and no column has
    is a typo: say so, with the closest key, instead of asking for a sweep over it."""
    for key in sorted(needed):
        if key in swept or key in frame.columns:
            continue  # a column never swept: the caller asks for a sweep over it
        known = sorted(swept | {c for c in frame.columns if not str(c).startswith("meta.")})
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        role = "x" if key == along else "hue"
        raise UnusableResults(
            f"{role}={key}: no job of {results_dir} swept {key!r} and no result has it{hint} "
            f"(swept there: {', '.join(sorted(swept)) or 'nothing'})"
        )


def _refuse_absent_values(frame: pd.DataFrame, column: str, wanted: list) -> None:
    """A ``where`` value that no result has is a typo when another is close to it
    (``lassso``): said, with the closest, instead of an empty selection."""
    have = [str(v) for v in frame[column].dropna().unique()]
    for value in wanted:
        if frame[column].isin([value]).any():  # as the selection itself matches it
            continue
        close = difflib.get_close_matches(str(value), have, n=1, cutoff=0.6)
        if close:
            raise UnusableResults(
                f"where: no result has {column}={value!r}; did you mean {close[0]!r}? (the "
                f"results have {', '.join(sorted(have)[:12])})"
            )


def _joined(values) -> str:
    return ",".join(map(str, values))


def sweep_results(
    results_dir: str | Path,
    along: str,
    hue: str = "setting",
    order=None,
    values=None,
    extra_overrides=(),
    where=None,
    swept=None,
    frame: pd.DataFrame | None = None,
    allow_stale: bool = False,
    allow_failed: bool = False,
) -> Sweep:
    """The checked rows of one sweep of ``results_dir`` (see the module docstring): lines
    ``hue`` (None for ``order``: every one found, sorted), points at the values of the swept
    key ``along`` (None for ``values``: every one found), jobs carrying exactly
    ``extra_overrides`` and rows whose columns take the ``where`` values ({column: value or
    [values]}). ``frame``: ``results_frame(results_dir)`` if the caller has read it already
    (several figures of the same results); it is not changed. Results whose code has changed
    since are refused, unless ``allow_stale`` (``staleness.check_current_code``), and so is a
    sweep some of whose jobs failed and have no result, unless ``allow_failed``
    (``failures.check_no_failed_jobs``)."""
    frame = results_frame(results_dir) if frame is None else frame
    script = script_of(frame)
    config_columns = frame.attrs["config_columns"]
    extra = identifying_overrides(list(extra_overrides))
    with_extra = "".join(f" {o}" for o in extra)
    parsed = frame["overrides"].map(lambda o: identifying_overrides(list(o)))
    frame = frame[parsed.map(lambda ids: set(extra) <= set(ids))].copy()
    keysets = parsed[frame.index].map(
        lambda ids: frozenset(o.split("=", 1)[0] for o in ids if o not in extra)
    )
    needed = {along} | ({hue} if hue != "setting" else set())
    _refuse_unknown(needed, set().union(*keysets), frame, results_dir, along)
    if swept is not None:
        chosen = frozenset(swept)
        if not needed <= chosen:
            raise UnusableResults(
                f"swept={sorted(chosen)} must include {', '.join(sorted(needed))}"
            )
    else:
        candidates = {keys for keys in keysets if needed <= keys}
        smallest = min(map(len, candidates), default=0)
        tied = sorted(sorted(keys) for keys in candidates if len(keys) == smallest)
        if len(tied) > 1:
            raise UnusableResults(
                "the results hold several sweeps of the same size, sweeping "
                + " and ".join(map(str, tied))
                + "; say which: swept=[...]"
            )
        chosen = frozenset(tied[0]) if tied else frozenset()
    frame = frame[keysets == chosen] if chosen else frame.iloc[0:0]
    frame = _swept_as_given(frame, chosen, parsed)
    if frame.empty:
        raise UnusableResults(
            f"no sweep over {along}{' with' + with_extra if extra else ''} in {results_dir}; "
            f"run {_command(script, extra, f'{along}=...')}"
        )
    experiments = sorted(map(str, frame["meta.experiment"].dropna().unique()))
    if "meta.experiment" in frame and len(experiments) > 1:
        raise UnusableResults(
            f"{results_dir} holds results of several experiments ({', '.join(experiments)}): "
            "give each its own output.dir; "
            + "; ".join(_experiment_files(frame, name) for name in experiments)
        )
    texts = parsed[frame.index].map(_parse)
    for key in chosen:  # each swept key as a column (a group choice has none in the config)
        column = texts.map(lambda t, key=key: _number(t[key]))
        if key not in frame.columns:
            frame[key] = column
    hue_key = None
    if hue == "setting":
        settings = frame["setting"]
        hue_key = next(
            (
                key
                for key in sorted(chosen)
                if (texts.map(lambda t, key=key: t[key]) == settings).all()
            ),
            None,
        )
        frame["setting"] = settings.fillna(NO_SETTING)
    else:
        hue_key = hue
    over = sorted(chosen - {along, hue_key})
    for column, wanted in (where or {}).items():
        if column not in frame.columns:
            key, colon, value = str(column).partition(":")
            hint = (
                f"; YAML reads {{{column}}} as one key: write 'where={{{key}: {value}}}', with a "
                "space after the colon"
                if colon and key in frame.columns
                else ""
            )
            raise UnusableResults(f"where: no column {column!r} in the results{hint}")
        wanted = list(wanted) if isinstance(wanted, (list, tuple)) else [wanted]
        _refuse_absent_values(frame, str(column), wanted)
        frame = frame[frame[column].isin(wanted)]
    noun = "setting" if hue == "setting" else hue
    found_lines = sorted(frame[hue].unique(), key=_sortable)
    if order is not None:
        order = list(order)
        absent = [v for v in order if v not in set(found_lines)]
        if absent:
            have = [str(v) for v in found_lines]
            close = {
                str(v): difflib.get_close_matches(str(v), have, n=1, cutoff=0.6) for v in absent
            }
            misspelt = [f"{v!r}: did you mean {c[0]!r}?" for v, c in close.items() if c]
            runs = [v for v in absent if not close[str(v)]]
            said = "; ".join(
                misspelt
                + (
                    [
                        "run "
                        + " and ".join(
                            _command(script, extra, f"{hue_key or hue}={v}") for v in runs
                        )
                    ]
                    if runs
                    else []
                )
            )
            raise UnusableResults(
                f"no results for {noun}(s) {', '.join(map(str, absent))} (the results have "
                f"{', '.join(have) or 'none'}); {said}"
            )
        frame = frame[frame[hue].isin(order)]
    else:
        order = found_lines
    if frame.empty:
        raise UnusableResults(f"no results left after where={dict(where or {})}")
    if hue != "setting":  # the settings are the compared methods, never repeats of one
        mixed = frame.groupby(hue, dropna=False)["setting"].nunique(dropna=False)
        if (mixed > 1).any():
            found = sorted(map(str, frame["setting"].dropna().unique()))
            raise UnusableResults(
                f"each line of hue={hue} would aggregate the results of several settings "
                f"({', '.join(found)}) as if they were repeats: show one "
                f"(where={{setting: {found[0]}}}), or a line per setting (hue=setting)"
            )
    group = [hue, along, *over]
    keys = pd.DataFrame({column: _hashed(frame[column]) for column in group})  # lists as text
    duplicated = frame[keys.duplicated(keep=False)]
    if not duplicated.empty:
        paths = sorted(duplicated["path"])
        links = [p for p in paths if os.path.islink(p)]
        said = "\n  ".join(
            f"{p} (a symbolic link to {os.path.realpath(p)})" if p in links else p for p in paths
        )
        spelt_apart = len({numbers_as_floats(path) for path in paths}) < len(paths)
        why = (
            "; some are one point written as an int and as a float (1 and 1.0: two configs, "
            "two files, neither stale): keep one, and write the value as the sweep does"
            if spelt_apart
            else "; remove the stale ones"
        )
        raise UnusableResults(
            f"several results for one {', '.join(group)}{why}"
            + (" (a link to a result is a second copy of it)" if links else "")
            + ":\n  "
            + said
        )
    found = sorted(frame[along].unique(), key=_sortable)
    asked = None if values is None else set(values)  # None: every point, one failed too
    values = found if values is None else list(values)
    command = _command(script, extra, f"{along}={_joined(values)}")
    frame = frame[frame[along].isin(values)]
    if frame.empty:
        raise UnusableResults(
            f"no results at {along}={', '.join(map(str, values))} (the results have "
            f"{', '.join(map(str, found))}); run {command}"
        )
    sweep = Sweep(frame, hue, along, over, sorted(chosen), order, hue_key)

    def drawn(overrides: dict[str, str], setting: str | None) -> bool:
        """Whether a failed job with these overrides would be a point of a drawn line."""
        line = (setting or NO_SETTING) if hue == "setting" else _number(overrides.get(hue, ""))
        point = _number(overrides.get(along, ""))
        kept = all(
            _number(overrides[column]) in (w if isinstance(w, (list, tuple)) else [w])
            for column, w in (where or {}).items()
            if column in overrides
        )
        return line in set(order) and (asked is None or point in asked) and kept

    left_out = check_no_failed_jobs(
        Path(results_dir),
        experiments[0] if experiments else None,
        extra,
        chosen,
        drawn,
        allow_failed,
    )
    excused = {  # the points of failed jobs that allow_failed leaves out
        (
            (setting or NO_SETTING) if hue == "setting" else _number(found_values.get(hue, "")),
            _number(found_values.get(along, "")),
            *(_hashable(_number(found_values.get(key, ""))) for key in over),
        )
        for found_values, setting in left_out
    }
    check_complete(sweep, values, extra, excused)
    check_consistent(sweep, config_columns)
    check_one_code_version(sweep)
    check_current_code(sweep.frame, Path(results_dir), allow_stale)
    rank = {value: number for number, value in enumerate(order)}
    frame = frame.assign(_rank=frame[hue].map(rank))
    sweep.frame = frame.sort_values(["_rank", along, *over]).drop(columns="_rank")
    sweep.frame = sweep.frame.reset_index(drop=True)
    return sweep


def _experiment_files(frame: pd.DataFrame, name: str) -> str:
    """How many of ``frame``'s results experiment ``name`` wrote, with the first paths."""
    paths = sorted(frame.loc[frame["meta.experiment"] == name, "path"])
    more = f" and {len(paths) - 2} more" if len(paths) > 2 else ""
    return f"{len(paths)} of {name!r}: {', '.join(paths[:2])}{more}"


def check_complete(
    sweep: Sweep, values: list, extra: list[str], excused: set[tuple] | None = None
) -> None:
    """Every line has one result for every point and every combination of the aggregated
    keys' values found, but those ``excused`` (failed jobs that ``allow_failed`` leaves
    out: (line, point, aggregated keys' values))."""
    frame = sweep.frame
    levels = [sorted(_hashed(frame[key]).unique(), key=_sortable) for key in sweep.over]
    have = set(
        zip(
            frame[sweep.hue],
            frame[sweep.along],
            *(_hashed(frame[key]) for key in sweep.over),
            strict=True,
        )
    )
    missing = [
        (line, value, combination)
        for line in sweep.order
        for value in values
        for combination in itertools.product(*levels)
        if (line, value, *combination) not in have
        and (line, value, *combination) not in (excused or set())
    ]
    if not missing:
        return

    def named(line, value, combination) -> str:
        keys = " ".join(f"{k}={v}" for k, v in zip(sweep.over, combination, strict=True))
        return f"{line} {sweep.along}={value}{' ' + keys if keys else ''}"

    listed = ", ".join(named(*m) for m in missing[:_MAX_LISTED])
    more = f" and {len(missing) - _MAX_LISTED} more" if len(missing) > _MAX_LISTED else ""
    commands = []
    for line in sorted({m[0] for m in missing}, key=_sortable):
        points = sorted({m[1] for m in missing if m[0] == line}, key=_sortable)
        assignments = [f"{sweep.hue_key}={line}" if sweep.hue_key else ""]
        assignments.append(f"{sweep.along}={_joined(points)}")
        assignments += [
            f"{key}={_joined(level)}" for key, level in zip(sweep.over, levels, strict=True)
        ]
        commands.append(_command(script_of(frame), extra, *assignments))
    raise UnusableResults(
        f"incomplete results: missing {listed}{more}; run " + " and ".join(commands)
    )


def check_one_code_version(sweep: Sweep) -> None:
    """Every result was computed by one version of the experiment's code and packages
    (``meta.code``): a figure must not compare results of the old code with the new one's
    (a code change that a rerun of only some jobs, or a stopped rerun, leaves half done)."""
    frame = sweep.frame
    if "meta.code" not in frame.columns:
        return
    counts = frame["meta.code"].dropna().value_counts()
    if len(counts) < 2:
        return
    versions = ", ".join(
        f"{version} ({count} result{'s' if count > 1 else ''}, e.g. "
        f"{frame.loc[frame['meta.code'] == version, 'path'].iloc[0]})"
        for version, count in counts.items()
    )
    raise UnusableResults(
        f"the results were computed by {len(counts)} versions of the experiment's code and "
        f"packages (meta.code): {versions}; rerun the sweep, which reruns the stale ones "
        "(its dry run, hydra.sweeper.dry_run=true, lists them)"
    )


def check_consistent(sweep: Sweep, config_columns: list[str]) -> None:
    """Within a line, only the swept keys vary: a config value may differ between points only
    if it is a swept key's value (the option a settings file maps the budget onto), and
    between the aggregated keys' values (a start point drawn from the seed); two different
    ``eta`` or ``x0`` in one line would mix two experiments.

    One grouping counts, for every column at once, the values within each line and
    combination of the aggregated keys; only a column found to vary is looked at further."""
    frame = sweep.frame
    swept_columns = [key for key in sweep.swept if key in frame.columns]
    checked = [column for column in config_columns if column not in sweep.swept]
    if not checked or frame.empty:
        return
    wanted = dict.fromkeys([*checked, *swept_columns, *sweep.over])
    hashed = pd.DataFrame({c: _hashed(frame[c]) for c in wanted}, index=frame.index)
    keys = [frame[sweep.hue], *(hashed[key] for key in sweep.over)]
    distinct = hashed[checked].groupby(keys, sort=False).nunique(dropna=False)
    most = distinct.groupby(level=0, sort=False).max()  # per line, per column
    for line, rows in frame.groupby(sweep.hue, sort=False):
        for column in (c for c in checked if most.loc[line, c] > 1):
            cells = hashed.loc[rows.index, column]
            if any((cells == hashed.loc[rows.index, key]).all() for key in swept_columns):
                continue  # a swept key's value under another name
            groups = hashed.loc[rows.index].groupby(sweep.over) if sweep.over else [(None, rows)]
            for _, group in groups:
                found = group[column].map(_hashable).unique()
                if len(found) > 1:
                    shown = ", ".join(map(str, found[:4]))
                    assignment = f"{sweep.hue_key}={line}" if sweep.hue_key else ""
                    command = _command(script_of(frame), [], assignment)
                    raise UnusableResults(
                        f"results of {sweep.hue} {line!r} mix configs: {column} takes {shown}; "
                        f"they come from different versions of the sweep; run "
                        f"{command} (after removing stale results)"
                    )
