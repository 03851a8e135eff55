"""The results of the example experiment as one table, for figures, exports and notebooks."""

from pathlib import Path

import pandas as pd

from optsweep.engine.index import ResultIndex, source_version
from optsweep.engine.store import NoResults, ResultStore, result_files
from rosenbrock import ROSENBROCK

__all__ = ["STORE", "NoResults", "load_result", "load_results", "result_files", "results_frame"]

STORE = ResultStore(ROSENBROCK)
# Provenance left out of the table: long or nested, and in each file for whoever needs it.
_META_LEFT_OUT = ("overrides", "choices", "argv", "path")


def load_result(path: str | Path) -> dict:
    """One result file of the experiment (``ResultStore.load``)."""
    return STORE.load(path)


def load_results(directory: str | Path, on_error: str = "raise") -> list[tuple[Path, dict]]:
    """Every result file of the experiment under ``directory`` (``ResultStore.load_all``)."""
    return STORE.load_all(directory, on_error)


def setting_name(record: dict) -> str:
    """The experiment setting of a result (``settings=...``), else its method's config name."""
    choices = record["meta"].get("choices", {})
    return choices.get("settings") or choices.get("method") or record["config"]["method"]["name"]


def results_frame(directory: str | Path, on_error: str = "raise") -> pd.DataFrame:
    """One row per result: flattened config keys (``method.options.maxfun``), the result's
    scalars (``fun``, ``nfev``, ``nit``, ``success``, ``status``, ``message``), ``setting``,
    the job's Hydra ``overrides``, ``path`` and provenance (``meta.git.commit``, ...).

    Read through the directory's results index (``optsweep.engine.index``): only files written
    since the last call are read. Errors as in ``ResultStore.load_all``.
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
    rest = pd.DataFrame(
        [
            {
                **ROSENBROCK.scalars_of(record["result"]),
                "setting": setting_name(record),
                "overrides": tuple(record["meta"]["overrides"]),
                "path": str(path),
            }
            for path, record in loaded
        ]
    )
    frame = pd.concat([configs, rest, metas], axis=1)
    frame.attrs["config_columns"] = sorted(configs.columns)
    return frame


_INDEX = ResultIndex(STORE, rows_of, f"rosenbrock:{source_version(rows_of)}")
