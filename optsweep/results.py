"""Result files: what one holds, where it goes, how it is written and read back.

One pickle per job, a dict with three parts:
- ``config``: the resolved job config as plain containers, with the start point actually used;
- ``result``: scipy's ``OptimizeResult``;
- ``meta``: provenance (see ``provenance.py``) and where the file was written.
``config`` and ``result`` hold no timestamps, so two runs of one command give identical bytes.
"""

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

SUFFIX = ".pkl"
# Longest file name we build from overrides; longer ones are shortened with a hash.
_MAX_NAME = 200
# Keys left out of the recorded config: where results and logs go is not what was computed.
_NOT_RECORDED = ("output", "hydra")


def recorded_config(cfg: DictConfig) -> dict:
    """The job config as plain Python containers, resolved, without output locations."""
    return {
        key: OmegaConf.to_container(cfg[key], resolve=True, throw_on_missing=True)
        if OmegaConf.is_config(cfg[key]) else cfg[key]
        for key in cfg if key not in _NOT_RECORDED
    }


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("/", "%2F").replace(os.sep, "%2F")


def identifying_overrides(overrides: list[str]) -> list[str]:
    """The overrides that say what a job computes: sorted, without ``+``/``~`` prefixes,
    ``output.*`` (where results go) left out."""
    bare = (override.lstrip("+~") for override in overrides)
    return sorted(override for override in bare if not override.startswith("output."))


def default_result_path(output_dir: str | Path, overrides: list[str]) -> Path:
    """``<output_dir>/<group choice>/<other overrides>.pkl``, unique for each job of a sweep.

    Every job of a Hydra sweep differs from the others in its overrides, so naming the file by
    all of them (sorted, ``output.*`` left out) can never make two jobs share it. The choice of
    ``settings`` (or ``method``) becomes the directory, so each setting's results sit together.
    """
    relevant = identifying_overrides(overrides)
    directory = next((o for o in relevant if o.split("=")[0] in ("settings", "method")), "")
    rest = [o for o in relevant if o != directory]
    name = _escape(",".join(rest)) or "defaults"
    if len(name) > _MAX_NAME:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        name = f"{name[:_MAX_NAME - 17]}-{digest}"
    return Path(output_dir) / _escape(directory or "no-group") / f"{name}{SUFFIX}"


def result_path(cfg: DictConfig, overrides: list[str]) -> Path:
    """Where this job's result goes: ``output.file`` if set, else ``default_result_path``."""
    if cfg.output.file is not None:
        return Path(cfg.output.file)
    return default_result_path(cfg.output.dir, overrides)


def save_result(path: Path, record: dict) -> None:
    """Write ``record`` to ``path`` atomically: readers see the old file or the new, never half.

    The pickle goes to a temporary file in the same directory, is flushed to disk, then renamed
    over ``path``; a crash at any point leaves any older result at ``path`` intact.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            pickle.dump(record, file, protocol=5)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load_result(path: str | Path) -> dict:
    """Read one result file. Pickles can run code: load only results this project wrote."""
    with open(path, "rb") as file:
        return pickle.load(file)


def result_files(directory: str | Path) -> list[Path]:
    """All result files under ``directory``, in a stable order (temporary files excluded)."""
    return sorted(p for p in Path(directory).rglob(f"*{SUFFIX}") if not p.name.startswith("."))


def setting_name(record: dict) -> str:
    """The experiment setting of a result (``settings=...``), else its method's config name."""
    choices = record["meta"].get("choices", {})
    return choices.get("settings") or choices.get("method") or record["config"]["method"]["name"]


def results_frame(directory: str | Path) -> pd.DataFrame:
    """One row per result file: flattened config keys (``method.options.maxfun``), the main
    result fields (``fun``, ``nfev``, ``nit``, ``success``), ``setting``, the job's Hydra
    ``overrides`` and ``path``."""
    rows = []
    for path in result_files(directory):
        record = load_result(path)
        result = record["result"]
        row = pd.json_normalize(record["config"]).iloc[0].to_dict()
        row.update(
            fun=float(result.fun),
            nfev=int(result.get("nfev", -1)),
            nit=int(result.get("nit", -1)),
            success=bool(result.success),
            setting=setting_name(record),
            overrides=tuple(record["meta"]["overrides"]),
            path=str(path),
        )
        rows.append(row)
    return pd.DataFrame(rows)
