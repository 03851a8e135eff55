"""Figures and summary tables of any experiment's results, from specs (``optsweep.report.specs``).

``render(specs, results, out)`` makes every spec's files in memory, then writes them, each
atomically: if the results cannot make one of them honestly (``UnusableResults``: see
``optsweep.report.sweepdata``), nothing is written and existing outputs are left as they are.
Values are drawn and tabulated at the stated precision (``optsweep.report.precision``), and the
files carry no dates or versions: the same results give the same bytes. The results are read
once for all the specs: the generic ones, and a ``kind: script`` spec's own script (imported
once) whose ``make`` takes ``frame=`` (the results' table); another script reads what it needs.
"""

import difflib
import importlib.util
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from optsweep.report.figures import FIGURE_SUFFIXES, figure_bytes, new_figure, write_all
from optsweep.report.precision import DECIMAL_DIGITS, shown
from optsweep.report.specs import SpecError
from optsweep.report.sweepdata import NO_SETTING, Sweep, UnusableResults, sweep_results
from optsweep.report.table import results_frame

TABLE_SUFFIXES = (".csv", ".md", ".tex")


def statistics(values, spec: DictConfig) -> dict[str, float]:
    """Every statistic of ``values`` (one point's results across the aggregated keys), NaN
    skipped: median, quartiles (linear interpolation), mean with a seeded percentile bootstrap
    interval at confidence ``spec.ci`` (``spec.bootstrap`` resamples; ``spec.seed``), min, max,
    and ``rate`` (the mean, for booleans)."""
    array = np.asarray(pd.to_numeric(pd.Series(list(values)), errors="coerce"), dtype=float)
    array = array[~np.isnan(array)]
    if not len(array):
        nan = float("nan")
        return dict.fromkeys(
            ("median", "q25", "q75", "mean", "ci_low", "ci_high", "min", "max", "rate"), nan
        )
    mean = float(array.mean())
    low = high = mean
    if len(array) > 1:
        rng = np.random.default_rng(spec.seed)  # one stream per point: independent of the others
        means = array[rng.integers(0, len(array), size=(spec.bootstrap, len(array)))].mean(axis=1)
        low, high = (float(q) for q in np.quantile(means, [(1 - spec.ci) / 2, (1 + spec.ci) / 2]))
    return {
        "median": float(np.median(array)),
        "q25": float(np.percentile(array, 25)),
        "q75": float(np.percentile(array, 75)),
        "mean": mean,
        "ci_low": low,
        "ci_high": high,
        "min": float(array.min()),
        "max": float(array.max()),
        "rate": mean,
    }


def _center_band(spec: DictConfig) -> tuple[str, str, str]:
    return ("median", "q25", "q75") if spec.agg == "median" else ("mean", "ci_low", "ci_high")


def select(results: Path, spec: DictConfig, frame: pd.DataFrame | None = None) -> Sweep:
    """The checked sweep a spec shows (of ``frame``, the results' table, if already read)."""
    along = spec.along or spec.x
    sweep = sweep_results(
        results,
        frame=frame,
        along=along,
        hue=spec.hue,
        order=None if spec.order is None else list(spec.order),
        values=None if spec.x_values is None else list(spec.x_values),
        extra_overrides=list(spec.extra_overrides),
        where=OmegaConf.to_container(spec.where),  # plain lists: [0, 1] is a list of values
        swept=None if spec.swept is None else list(spec.swept),
        allow_stale=spec.allow_stale,
        allow_failed=spec.allow_failed,
    )
    _refuse_misspelt_labels(sweep, spec)
    return sweep


def _refuse_misspelt_labels(sweep: Sweep, spec: DictConfig) -> None:
    """A ``labels`` key that names no line drawn, close to a line that has no label (``labels:
    {momentun: HB}`` beside the line ``momentum``), is a typo: the legend would show the
    raw name. Labels of lines absent here are fine (one set shared by several specs)."""
    if not spec.labels:
        return
    lines = [str(line) for line in sweep.order]
    unlabelled = [line for line in lines if line not in spec.labels]
    for key in spec.labels:
        if str(key) in lines:
            continue
        close = difflib.get_close_matches(str(key), unlabelled, n=1, cutoff=0.75)
        if close:
            raise UnusableResults(
                f"labels: {key!r} names no line here; did you mean {close[0]!r}? (its line "
                f"would be shown as {close[0]!r}; the lines are {', '.join(lines)})"
            )


def _need(sweep: Sweep, column: str) -> None:
    if column not in sweep.frame.columns:
        scalars = [c for c in sweep.frame.columns if not c.startswith("meta.")]
        close = difflib.get_close_matches(column, scalars, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnusableResults(
            f"no column {column!r} in the results{hint} "
            f"(they have {', '.join(sorted(scalars)[:30])})"
        )


def lines(sweep: Sweep, spec: DictConfig) -> dict:
    """{line: (x, center, low, high, counts)}: per point, ``spec.y`` aggregated over the other
    swept keys (``spec.agg``), and x (the point's value, or ``spec.x`` aggregated likewise),
    at the stated precision."""
    for column in (spec.x, spec.y):
        _need(sweep, column)
        _finite(sweep, column)
    center, low, high = _center_band(spec)
    drawn = {}
    for line in sweep.order:
        rows = sweep.frame[sweep.frame[sweep.hue] == line]
        xs, ys, lows, highs, counts = [], [], [], [], []
        for point, group in rows.groupby(sweep.along, sort=True):
            found = statistics(group[spec.y], spec)
            x = point if spec.x == sweep.along else statistics(group[spec.x], spec)[center]
            xs.append(x)
            ys.append(found[center])
            lows.append(found[low])
            highs.append(found[high])
            counts.append(len(group))
        drawn[line] = tuple(shown(v) for v in (xs, ys, lows, highs)) + (counts,)
    return drawn


_LISTED = 5  # results named in a refusal; the others are counted


def _finite(sweep: Sweep, column: str, made: str = "figure") -> None:
    """``UnusableResults`` naming the results whose ``column`` is no finite number (NaN,
    inf, missing): a figure would leave them out of its line, or its band, silently; a table
    out of its statistics, though its count has them."""
    values = pd.to_numeric(sweep.frame[column], errors="coerce").astype(float)
    bad = sweep.frame[~np.isfinite(values.to_numpy())]
    if bad.empty:
        return
    keys = [sweep.along, *sweep.over]
    named = [
        f"{row[sweep.hue]} {' '.join(f'{k}={row[k]}' for k in keys)}: {row[column]!r} "
        f"({row['path']})"
        for _, row in bad.head(_LISTED).iterrows()
    ]
    more = f" and {len(bad) - _LISTED} more" if len(bad) > _LISTED else ""
    raise UnusableResults(
        f"{column} is not a finite number in {len(bad)} result(s), which the {made} would "
        f"leave out: {'; '.join(named)}{more}; remove them and rerun the sweep, or draw "
        "another column"
    )


def label(spec: DictConfig, line) -> str:
    return spec.labels.get(str(line), str(line)) if spec.labels else str(line)


def draw(sweep: Sweep, spec: DictConfig):
    """The figure of a spec (a matplotlib Figure)."""
    figure, axes = new_figure(spec.size, spec.style)
    drawn = lines(sweep, spec)
    aggregated = any(max(counts) > 1 for *_, counts in drawn.values())
    for line, (x, y, low, high, counts) in drawn.items():
        name = label(spec, line) if line != NO_SETTING or len(drawn) > 1 else spec.y
        (plotted,) = axes.plot(x, y, marker=spec.marker, label=name)
        if max(counts) > 1:
            axes.fill_between(x, low, high, color=plotted.get_color(), alpha=0.2, linewidth=0)
    if spec.logx:
        axes.set_xscale("log")
    if spec.logy:
        axes.set_yscale("log")
    axes.set_xlabel(spec.x_label if spec.x_label is not None else spec.x)
    axes.set_ylabel(spec.y_label if spec.y_label is not None else spec.y)
    if spec.title:
        axes.set_title(spec.title, fontsize="medium")
    title = spec.legend_title
    if title is None and aggregated:
        band = "IQR" if spec.agg == "median" else f"{spec.ci:.0%} CI"
        varied = [k for k in sweep.over if sweep.frame[k].astype(str).nunique() > 1]
        title = f"{spec.agg}, {band} over {', '.join(varied or sweep.over)}"
    if len(drawn) > 1 or title:
        axes.legend(title=title)
    return figure


def _integral(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all() and (numbers == numbers.round()).all():
        return numbers.astype(int)
    return values


def summary_table(sweep: Sweep, spec: DictConfig) -> pd.DataFrame:
    """One row per line and point (lines in the spec's order, points ascending): the line's
    label, the point, the count of results, and each column's statistics
    (``<name>_<stat>``), at the stated precision."""
    for column in spec.columns:
        _need(sweep, column.y)
        _finite(sweep, column.y, "table")
        if "rate" in _stats(column, spec):
            _refuse_rate_of_non_booleans(sweep, column.y)
    _refuse_shared_headers(spec)
    rows = []
    for line in sweep.order:
        selected = sweep.frame[sweep.frame[sweep.hue] == line]
        for point, group in selected.groupby(sweep.along, sort=True):
            row = {_hue_header(spec): label(spec, line), _x_header(spec): point}
            row[spec.count_header] = len(group)
            for column in spec.columns:
                found = statistics(group[column.y], spec)
                for stat in _stats(column, spec):
                    row[f"{column.name or column.y}_{stat}"] = found[stat]
            rows.append(row)
    table = pd.DataFrame(rows)
    for name in table.columns[3:]:  # what a paper shows, at the stated precision
        table[name] = shown(table[name])
    table[_x_header(spec)] = _integral(table[_x_header(spec)])
    return table


def _refuse_shared_headers(spec: DictConfig) -> None:
    """Two of a table's columns named alike (the count's default header ``n`` and a swept key
    ``n``): one would overwrite the other's cells."""
    names = [_hue_header(spec), _x_header(spec), spec.count_header] + [
        f"{column.name or column.y}_{stat}"
        for column in spec.columns
        for stat in _stats(column, spec)
    ]
    shared = sorted({name for name in names if names.count(name) > 1})
    if shared:
        raise SpecError(
            f"the table would have several columns named {', '.join(map(repr, shared))}: name "
            "them apart (hue_header=..., x_header=..., count_header=..., a column's name)"
        )


def _refuse_rate_of_non_booleans(sweep: Sweep, column: str) -> None:
    """``rate`` is the share of true values: of a column of other numbers it would show their
    mean under the name of a rate."""
    values = sweep.frame[column].dropna()
    if values.map(lambda v: isinstance(v, (bool, np.bool_)) or v in (0, 1)).all():
        return
    shown_values = ", ".join(map(repr, values.drop_duplicates().head(3).tolist()))
    raise UnusableResults(
        f"stats rate of {column!r}: rate is the share of true values, but {column} holds other "
        f"values ({shown_values}, ...): use mean, or a column of booleans"
    )


def _stats(column, spec: DictConfig) -> list[str]:
    return list(column.stats) if column.stats is not None else list(_center_band(spec))


def _hue_header(spec: DictConfig) -> str:
    return spec.hue_header or spec.hue


def _x_header(spec: DictConfig) -> str:
    return spec.x_header or spec.x


def _cells(table: pd.DataFrame, spec: DictConfig) -> list[list[str]]:
    """Each row's cells as shown: ``value`` or, with several stats and several results,
    ``first [second, third]``."""
    shown_rows = []
    for _, row in table.iterrows():
        cells = [str(row.iloc[0]), str(row.iloc[1]), str(row.iloc[2])]
        for column in spec.columns:
            values = [
                format(row[f"{column.name or column.y}_{stat}"], column.format)
                for stat in _stats(column, spec)
            ]
            several = len(values) > 1 and row.iloc[2] > 1
            cells.append(f"{values[0]} [{', '.join(values[1:])}]" if several else values[0])
        shown_rows.append(cells)
    return shown_rows


def _headers(spec: DictConfig) -> list[str]:
    return [_hue_header(spec), _x_header(spec), spec.count_header] + [
        _column_header(column, spec) for column in spec.columns
    ]


def _column_header(column, spec: DictConfig) -> str:
    """A column's header: the spec's, else its name with the statistics its cells show
    (``accuracy: median [q25, q75]``: a reader must not guess what the brackets hold)."""
    if column.header:
        return str(column.header)
    stats = _stats(column, spec)
    bounds = f"{spec.ci:.0%} CI" if stats[1:] == ["ci_low", "ci_high"] else ", ".join(stats[1:])
    said = f"{stats[0]} [{bounds}]" if len(stats) > 1 else stats[0]
    return f"{column.name or column.y}: {said}"


def markdown(table: pd.DataFrame, spec: DictConfig) -> str:
    header = _headers(spec)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in _cells(table, spec)]
    return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
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


def latex(table: pd.DataFrame, spec: DictConfig) -> str:
    """A LaTeX ``tabular``: text left-aligned, numbers right-aligned."""
    header = [latex_escape(h) for h in _headers(spec)[:3]] + [
        column.tex if column.tex is not None else latex_escape(_column_header(column, spec))
        for column in spec.columns
    ]
    align = "lrr" + "".join("l" if len(_stats(c, spec)) > 1 else "r" for c in spec.columns)
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\hline", " & ".join(header) + r" \\", r"\hline"]
    lines += [
        " & ".join(latex_escape(cell) for cell in cells) + r" \\" for cells in _cells(table, spec)
    ]
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _named(out: Path, spec: DictConfig, suffix: str) -> Path:
    return out / f"{spec.output}{suffix}"  # not with_suffix: an output may hold dots


def outputs(spec: DictConfig, out: Path) -> list[Path]:
    """The files a spec writes into ``out``."""
    if spec.kind == "script":
        return list(script(spec).outputs(spec, out))
    suffixes = FIGURE_SUFFIXES if spec.kind == "figure" else TABLE_SUFFIXES
    return [_named(out, spec, suffix) for suffix in suffixes]


def make(
    spec: DictConfig, results: Path, out: Path, frame: pd.DataFrame | None = None
) -> dict[Path, bytes]:
    """A spec's files, in memory: {path: bytes} (``frame``: the results' table, if read)."""
    if spec.kind == "script":
        if frame is not None and _takes_frame(spec):
            return dict(script(spec).make(results, spec, out, frame=frame))
        return dict(script(spec).make(results, spec, out))
    sweep = select(results, spec, frame)
    if spec.kind == "figure":
        made = figure_bytes(draw(sweep, spec))
        return {_named(out, spec, suffix): data for suffix, data in made.items()}
    table = summary_table(sweep, spec)
    texts = {
        ".csv": table.to_csv(index=False, float_format=f"%.{DECIMAL_DIGITS}g"),
        ".md": markdown(table, spec),
        ".tex": latex(table, spec),
    }
    return {_named(out, spec, suffix): text.encode() for suffix, text in texts.items()}


def script(spec: DictConfig) -> ModuleType:
    """The module of a ``kind: script`` spec's file, imported once per process, with its
    directory first on ``sys.path`` while it is imported (as ``python plots/<name>.py`` runs
    it); ``SpecError`` if it lacks ``make`` or ``outputs``."""
    path = Path(spec.script).resolve()
    if path not in _scripts:
        name = f"optsweep_script_{len(_scripts)}_{path.stem}"
        found = importlib.util.spec_from_file_location(name, path)
        assert found is not None and found.loader is not None
        module = importlib.util.module_from_spec(found)
        sys.modules[name] = module  # as for any import: dataclasses and pickle look it up
        sys.path.insert(0, str(path.parent))
        try:
            found.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        finally:
            sys.path.remove(str(path.parent))
        _scripts[path] = module
    module = _scripts[path]
    missing = [f for f in ("make", "outputs") if not callable(getattr(module, f, None))]
    if missing:
        raise SpecError(f"{path}: a figure script defines {' and '.join(missing)}(...)")
    return module


def _takes_frame(spec: DictConfig) -> bool:
    """Whether a ``kind: script`` spec's ``make`` takes the results' table (``frame=``)."""
    return "frame" in inspect.signature(script(spec).make).parameters


# The scripts of ``kind: script`` specs imported so far, by path.
_scripts: dict[Path, ModuleType] = {}


def render(specs: Sequence[DictConfig], results: Path, out: Path) -> list[Path]:
    """Make every spec's files, then write them all (atomically, each); if any spec cannot be
    made, raise (``UnusableResults``, ``NoResults``, ``ResultFileError``) before writing any."""
    reading = [spec for spec in specs if spec.kind != "script" or _takes_frame(spec)]
    frame = results_frame(results) if reading else None
    made: dict[Path, bytes] = {}
    for spec in specs:
        made.update(make(spec, results, out, frame))
    write_all(made)
    return list(made)
