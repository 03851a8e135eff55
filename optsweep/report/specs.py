"""Figure and table specs: version-controlled YAML, checked against these schemas.

A spec file holds the keys of ``FigureSpec`` (``kind: figure``) or ``TableSpec``
(``kind: table``); ``extends: common.yaml`` merges another file (relative to the spec's
directory) under it first. ``key=value`` overrides from the command line are merged last. A key
that the schema does not have is an error naming it, and so is a value of the wrong type.

A spec of ``kind: script`` is a project's own figure or table: ``script:`` names its Python
file (relative to the spec file that names it), which defines ``make(results, spec, out)``,
returning its files as ``{path: bytes}`` without writing them (a ``make`` that also takes
``frame=`` is given the results' table, read once for every spec), and ``outputs(spec, out)``,
the paths it makes. ``optsweep.report.render`` draws it in the same process as the others,
under the same rule. Its other keys are the script's own: no schema, but an override must name
a key the file has.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from optsweep.engine.paths import project_root

KINDS = ("figure", "table", "script")
AGGREGATIONS = ("median", "mean")
# What a table column can show of each point's values across the aggregated keys.
STATS = ("median", "q25", "q75", "mean", "ci_low", "ci_high", "min", "max", "rate")


class SpecError(ValueError):
    """A spec that cannot be used: the message names the file and the key."""


@dataclass
class _Selection:
    """Which results, and how they are grouped (figures and tables alike)."""

    # Swept key the points follow (the x axis, a table's rows within a line); e.g. maxfun.
    x: str = "???"
    # What tells lines apart: the result's setting (the choice of the first result group the
    # job overrides, e.g. settings=tnc), or any swept key.
    hue: str = "setting"
    # The swept key the points follow when x is not one (x: meta.wall_time, along: maxfun).
    along: str | None = None
    agg: str = "median"  # median (band: 25th-75th percentile) or mean (band: bootstrap CI)
    ci: float = 0.95  # confidence of the mean's interval
    bootstrap: int = 1000  # resamples of the bootstrap
    seed: int = 0  # of the bootstrap's resampling: the same interval on every run
    order: list[Any] | None = None  # lines to show, in this order; null: every one, sorted
    labels: dict[str, str] = field(default_factory=dict)  # display name of each line
    x_values: list[Any] | None = None  # points to show; null: every one in the results
    # The sweep to show: jobs whose overrides include exactly these beyond the swept keys,
    # e.g. [x0=null] for `python task.py -cp experiment seed=0,1,2 x0=null -m`.
    extra_overrides: list[str] = field(default_factory=list)
    where: dict[str, Any] = field(default_factory=dict)  # {column: value or [values]} kept
    # The swept keys; null: the smallest set of overridden keys that includes the points' key.
    swept: list[str] | None = None
    # Make it from results whose code has changed since they were computed (a warning names
    # the changed files); false: refused (optsweep.report.staleness).
    allow_stale: bool = False
    # Make it although jobs of its sweep failed and have no result (a warning names them);
    # false: refused (optsweep.report.failures).
    allow_failed: bool = False
    output: str = "???"  # file name without suffix, in the output directory
    kind: str = "figure"
    extends: str | None = None


@dataclass
class FigureSpec(_Selection):
    """A scalar ``y`` against ``x``, one line per ``hue``, aggregated over the other swept keys."""

    y: str = "???"
    logx: bool = False
    logy: bool = False
    x_label: str | None = None  # null: the key's name
    y_label: str | None = None
    title: str | None = None
    legend_title: str | None = None  # null: what the line and band show, if aggregated
    size: list[float] = field(default_factory=lambda: [3.3, 2.4])  # inches
    marker: str = "o"
    # matplotlib style sheet, relative to the spec's directory; null: paper.mplstyle beside
    # the spec or in its parent directory if there is one, else matplotlib's defaults.
    style: str | None = None


@dataclass
class ColumnSpec:
    """One scalar of a summary table."""

    y: str = "???"
    name: str | None = None  # CSV columns are <name>_<stat>; null: y
    stats: list[str] | None = None  # null: median, q25, q75 (agg median); mean, ci_low, ci_high
    format: str = ".6g"  # Python format of each shown value: .2e, g, .0%
    header: str | None = None  # Markdown header; null: name
    tex: str | None = None  # LaTeX header, as LaTeX; null: the header, escaped


@dataclass
class TableSpec(_Selection):
    """Per line and point, the chosen scalars aggregated across the other swept keys."""

    kind: str = "table"
    columns: list[ColumnSpec] = field(default_factory=list)
    y: list[str] | None = None  # shorthand for columns: [{y: ...}, ...] (y=[fun,nfev])
    hue_header: str | None = None  # null: the hue's name
    x_header: str | None = None  # null: x
    count_header: str = "n"  # the column counting each point's results


SCHEMAS = {"figure": FigureSpec, "table": TableSpec}


def _read(path: Path, seen: tuple[Path, ...] = ()) -> DictConfig:
    """``path`` merged over the file it ``extends`` (recursively)."""
    if path in seen:
        raise SpecError(f"{path}: extends itself (through {', '.join(map(str, seen))})")
    try:
        loaded = OmegaConf.load(path)
    except FileNotFoundError:
        raise SpecError(f"no spec file {path}") from None
    except yaml.MarkedYAMLError as error:  # its first line is "while constructing a mapping"
        from optsweep.engine.config_errors import syntax_error  # Hydra's, only on an error

        raise SpecError(str(syntax_error(path, error))) from None
    if not isinstance(loaded, DictConfig):
        raise SpecError(f"{path}: a spec is a mapping of keys")
    if isinstance(loaded.get("script"), str):  # relative to the file that names it
        loaded.script = str((path.parent / loaded.script).absolute())
    base = loaded.get("extends")
    if base is None:
        return loaded
    merged = OmegaConf.merge(_read(path.parent / str(base), (*seen, path)), loaded)
    assert isinstance(merged, DictConfig)
    return merged


def load_all(
    paths: Sequence[Path | None], overrides: Sequence[str] = (), kind: str = "figure"
) -> list[DictConfig]:
    """``load`` each spec file, with the overrides whose key it has: drawn together,
    ``budget=50`` goes to the spec that has a budget (a script's) and ``x_values=...`` to the
    figures' and tables'. An override that no spec has goes to all, so that the error names
    it (with the key it may mean)."""
    if len(paths) < 2:
        return [load(path, overrides, kind) for path in paths]
    keys = [_keys(path, kind) for path in paths]
    unclaimed = [o for o in overrides if not any(_key_of(o) in known for known in keys)]
    return [
        load(path, [o for o in overrides if _key_of(o) in known or o in unclaimed], kind)
        for path, known in zip(paths, keys, strict=True)
    ]


def _key_of(override: str) -> str:
    """The top-level key an override sets (``labels.tnc=TNC``: labels)."""
    return override.split("=", 1)[0].split(".", 1)[0].split("[", 1)[0]


def _keys(path: Path | None, kind: str) -> set[str]:
    """The keys a spec can take: its file's, and its kind's schema's."""
    try:
        given = _read(path) if path is not None else OmegaConf.create({})
    except SpecError:
        return set()  # load says what is wrong with it
    kind = str(given.get("kind", kind))
    schema = SCHEMAS.get(kind)
    return {str(key) for key in given.keys()} | (
        {f.name for f in fields(schema)} if schema is not None else set()
    )


def load(path: Path | None, overrides: Sequence[str] = (), kind: str = "figure") -> DictConfig:
    """The spec in ``path`` (None: the defaults alone) with ``overrides``, checked against its
    kind's schema; ``kind`` when the file does not say. A figure's ``style`` comes back as a
    path (or None). Raises ``SpecError`` naming the file and what is wrong."""
    where = str(path) if path is not None else "the command line"
    try:
        given = _read(path) if path is not None else OmegaConf.create({})
        command_line = OmegaConf.from_dotlist(list(overrides))
        kind = str(command_line.get("kind", given.get("kind", kind)))
        if kind not in KINDS:
            raise SpecError(f"{where}: kind={kind!r} is not one of {', '.join(KINDS)}")
        if kind == "script":
            return _script_spec(given, command_line, path, where)
        if kind == "table":  # y=accuracy: one column, as y=[accuracy]
            for part in (given, command_line):
                if isinstance(part.get("y"), str):
                    part.y = [part.y]
        elif kind == "figure" and any(
            OmegaConf.is_list(part.get("y")) for part in (given, command_line)
        ):
            raise SpecError(
                f"{where}: y: a figure draws one y (y=fun); several are a table's columns "
                "(optsweep table y=[fun,nfev]), or give each figure its own spec"
            )
        schema = OmegaConf.structured(SCHEMAS[kind])  # a misspelt key is an error naming it
        spec = OmegaConf.merge(schema, given, command_line)
        assert isinstance(spec, DictConfig)
    except SpecError:
        raise
    except Exception as error:  # OmegaConf's errors name the key and the type
        message = str(error).split("\n")[0]
        key = getattr(error, "full_key", None)
        raise SpecError(f"{where}: {key + ': ' if key else ''}{message}") from None
    _check(spec, where)
    if spec.kind == "figure":
        spec.style = _style(spec.style, path)
    return spec


def _script_spec(
    given: DictConfig, command_line: DictConfig, path: Path | None, where: str
) -> DictConfig:
    """A ``kind: script`` spec: the file's keys (a misspelt override is an error naming it),
    with ``script`` as the path of an existing file."""
    if path is None or "script" not in given:
        raise SpecError(f"{where}: a spec of kind script needs a file with script: <its .py>")
    with_script_defaults(given)
    OmegaConf.set_struct(given, True)
    spec = OmegaConf.merge(given, command_line)
    assert isinstance(spec, DictConfig)
    script = path.parent / str(spec.script)  # a path given as an override: from the spec's
    if not script.is_file():
        raise SpecError(f"{where}: script: no file {script}")
    spec.script = str(script)
    return spec


def with_script_defaults(spec: DictConfig) -> DictConfig:
    """A script's spec with the keys every spec takes, where its file leaves them out:
    ``allow_stale: false`` and ``allow_failed: false``, which the script passes on to its
    reading (``sweep_results``)."""
    if "allow_stale" not in spec:
        spec.allow_stale = False
    if "allow_failed" not in spec:
        spec.allow_failed = False
    return spec


def _style(style: str | None, path: Path | None) -> str | None:
    """The style sheet's path: ``style`` relative to the spec's directory, else the first
    ``paper.mplstyle`` beside the spec or one level up (the project's ``plots/`` without a
    spec), else None."""
    directory = path.parent if path is not None else project_root() / "plots" / "specs"
    if style is not None:
        return str(directory / style)
    for candidate in (directory / "paper.mplstyle", directory.parent / "paper.mplstyle"):
        if candidate.is_file():
            return str(candidate)
    return None


def _check(spec: DictConfig, where: str) -> None:
    required = ["x"] + (["y"] if spec.kind == "figure" else [])
    absent = [key for key in required if OmegaConf.is_missing(spec, key)]
    if absent:
        raise SpecError(f"{where}: say {' and '.join(f'{k}=...' for k in absent)}")
    if OmegaConf.is_missing(spec, "output"):
        y = spec.y if spec.kind == "figure" else "summary"
        spec.output = f"{y}-{spec.x}".replace("/", "_")
    if spec.hue in (spec.x, spec.along):
        raise SpecError(f"{where}: hue={spec.hue} is the key the points follow: choose another")
    if spec.agg not in AGGREGATIONS:
        raise SpecError(f"{where}: agg={spec.agg!r} is not one of {', '.join(AGGREGATIONS)}")
    if not 0 < spec.ci < 1 or spec.bootstrap < 1:
        raise SpecError(f"{where}: ci must lie between 0 and 1 and bootstrap be at least 1")
    if spec.kind == "table":
        if not spec.columns and spec.y:
            spec.columns = [OmegaConf.structured(ColumnSpec(y=name)) for name in spec.y]
        if not spec.columns:
            raise SpecError(f"{where}: a table needs y=[...] or columns: [{{y: ...}}, ...]")
        for number, column in enumerate(spec.columns):
            if OmegaConf.is_missing(column, "y"):
                raise SpecError(f"{where}: columns[{number}] needs y")
            try:
                format(0.5, column.format)
            except (ValueError, TypeError) as error:
                raise SpecError(
                    f"{where}: columns[{number}].format={column.format!r}: {error} (a Python "
                    "format specification of a number: .2e, .3g, .0%)"
                ) from None
            unknown = [s for s in column.stats or () if s not in STATS]
            if unknown:
                raise SpecError(
                    f"{where}: columns[{number}].stats: {', '.join(unknown)} not among "
                    + ", ".join(STATS)
                )
