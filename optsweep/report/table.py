"""The results of any experiment as one table, for figures, exports and notebooks.

No ``Experiment`` is needed: files are read by a generic ``ResultReader`` (verified trailer and
checksum, an allow-list unpickler that builds inert stand-ins for the result's own classes and
never imports them), through the directory's results index.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from optsweep.engine.experiment import default_scalars
from optsweep.engine.index import ResultIndex, source_version
from optsweep.engine.store import NoResults, ResultReader, result_files

__all__ = [
    "READER",
    "NoResults",
    "load_result",
    "load_results",
    "result_files",
    "results_frame",
    "scalars_of",
    "search_of",
    "setting_of",
]

READER = ResultReader()
# Provenance left out of the table: long or nested, and in each file for whoever needs it.
_META_LEFT_OUT = ("overrides", "choices", "argv", "path", "setting")
# Columns the table itself sets; a scalar of the same name is shown as ``result.<name>``.
_OWN_COLUMNS = ("setting", "search", "overrides", "path")


def load_result(path: str | Path) -> dict:
    """One result file of any experiment (``ResultReader.load``)."""
    return READER.load(path)


def load_results(directory: str | Path, on_error: str = "raise") -> list[tuple[Path, dict]]:
    """Every result file under ``directory`` (``ResultReader.load_all``)."""
    return READER.load_all(directory, on_error)


def scalars_of(record: dict) -> dict[str, Any]:
    """A result's scalar columns: ``record["scalars"]`` as the engine records them; for older
    files, derived from the result as the engine would have (``default_scalars``: a number:
    ``{"value": ...}``; a mapping, such as scipy's ``OptimizeResult``: its entries that are
    bools, numbers or strings)."""
    recorded = record.get("scalars")
    if isinstance(recorded, Mapping):
        return {str(key): value for key, value in recorded.items()}
    return default_scalars(record["result"])  # the rule the engine records them by


def setting_of(record: dict) -> str | None:
    """The setting of a result: ``meta["setting"]`` (the choice of the first of the
    experiment's result groups the job overrides), else, for older files, the ``settings``
    choice, else None."""
    meta = record["meta"]
    if "setting" in meta:
        return meta["setting"]
    return meta.get("choices", {}).get("settings")


def search_of(record: dict) -> str | None:
    """The search a result is an evaluation of (``search=tnc``: "tnc"), else None: a sweep's
    job. Its setting is the one the search tunes, so without this its rows would pass for the
    sweep's."""
    overridden = {o.lstrip("+~").split("=", 1)[0] for o in record["meta"].get("overrides", [])}
    if "search" not in overridden:
        return None
    return record["meta"].get("choices", {}).get("search")


def results_frame(directory: str | Path, on_error: str = "raise") -> pd.DataFrame:
    """One row per result: flattened config keys (``method.options.maxfun``), the result's
    scalars (``scalars_of``), ``setting``, ``search`` (``search_of``: None for a sweep's job),
    the job's Hydra ``overrides``, ``path`` and provenance (``meta.git.commit``,
    ``meta.wall_time``, ...).

    Read through the directory's results index (``optsweep.engine.index``): only files written
    since the last call are read. Errors as in ``ResultReader.load_all``.
    ``frame.attrs["config_columns"]`` names the config columns.
    """
    return _INDEX.frame(directory, on_error)


def rows_of(loaded: list[tuple[Path, dict]]) -> pd.DataFrame:
    """The table's rows of loaded results; configs and provenance flattened in one pass."""
    configs = pd.json_normalize([record["config"] for _, record in loaded])
    metas = pd.json_normalize(
        [
            {k: v for k, v in record["meta"].items() if k not in _META_LEFT_OUT}
            for _, record in loaded
        ]
    ).add_prefix("meta.")
    taken = set(configs.columns) | set(_OWN_COLUMNS)
    rest = pd.DataFrame(
        [
            {
                **{
                    (f"result.{key}" if key in taken else key): value
                    for key, value in scalars_of(record).items()
                },
                "setting": setting_of(record),
                "search": search_of(record),
                "overrides": tuple(record["meta"]["overrides"]),
                "path": str(path),
            }
            for path, record in loaded
        ]
    )
    frame = pd.concat([configs, rest, metas], axis=1)
    frame.attrs["config_columns"] = sorted(configs.columns)
    return frame


_INDEX = ResultIndex(READER, rows_of, f"results:{source_version(rows_of, ResultReader)}")
