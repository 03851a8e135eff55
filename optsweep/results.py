"""Result records: what one holds, where it goes, when it is current, how to read many.

One file per job (format and safety: ``storage.py``) holding a dict with three parts:
- ``config``: the resolved job config as plain containers, with the start point actually used;
- ``result``: scipy's ``OptimizeResult``;
- ``meta``: provenance (see ``provenance.py``) and where the file was written.
``config`` and ``result`` hold no timestamps, so two runs of one command give identical data.
"""

import hashlib
import os
import warnings
from pathlib import Path

from optsweep import problem
from optsweep.storage import (
    ResultFileError,
    decode,
    encode,
    unpickle_record,
    verified_payload,
    write_atomically,
)

SUFFIX = ".pkl"
# Longest file name we build from overrides; longer ones are shortened with a hash.
_MAX_NAME = 200
# Keys left out of the recorded config: where results and logs go is not what was computed.
_NOT_RECORDED = ("output", "hydra")


def recorded(resolved: dict) -> dict:
    """The part of a resolved task config (plain containers) that a result records: all but
    where results and logs go."""
    return {key: value for key, value in resolved.items() if key not in _NOT_RECORDED}


def with_start_point(config: dict) -> dict:
    """``config`` with ``x0`` replaced by the start actually used (drawn from ``seed`` if
    null): the config a result records."""
    start = problem.start_point(config["x0"], config["seed"], **config["x0_random"])
    return {**config, "x0": start.tolist()}


# Overrides that say where or how a job runs, not what it computes.
_NOT_IDENTIFYING = ("output", "launcher")


def identifying_overrides(overrides: list[str]) -> list[str]:
    """The overrides that say what a job computes: sorted, without ``+``/``~`` prefixes;
    ``output.*`` (where results go) and ``launcher`` (where jobs run) left out."""
    bare = (override.lstrip("+~") for override in overrides)
    return sorted(override for override in bare
                  if override.split("=", 1)[0].split(".", 1)[0] not in _NOT_IDENTIFYING)


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("/", "%2F").replace(os.sep, "%2F")


def default_result_path(output_dir: str | Path, overrides: list[str]) -> Path:
    """``<output_dir>/<group choice>/<other overrides>.pkl``, unique for each job of a sweep.

    Every job of a Hydra sweep differs from the others in its overrides, so naming the file by
    all of them (sorted, ``output.*`` left out) can never make two jobs share it. The choice of
    ``search``, else ``settings``, else ``method`` becomes the directory, so each search's or
    setting's results sit together.
    """
    relevant = identifying_overrides(overrides)
    chosen = {o.split("=")[0]: o for o in relevant}
    directory = next((chosen[g] for g in ("search", "settings", "method") if g in chosen), "")
    rest = [o for o in relevant if o != directory]
    name = _escape(",".join(rest)) or "defaults"
    if len(name) > _MAX_NAME:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        name = f"{name[:_MAX_NAME - 17]}-{digest}"
    return Path(output_dir) / _escape(directory or "no-group") / f"{name}{SUFFIX}"


def result_path(output, overrides: list[str]) -> Path:
    """Where a job's result goes, from its ``output`` config (resolved, or a DictConfig):
    ``output.file`` if set, else ``default_result_path``."""
    if output["file"] is not None:
        return Path(output["file"])
    return default_result_path(output["dir"], overrides)


def _canonical(value) -> str:
    """A text that two values share only if they are equal and of the same types (dicts in
    any order)."""
    if isinstance(value, dict):
        return "{" + ",".join(sorted(f"{_canonical(k)}:{_canonical(v)}"
                                     for k, v in value.items())) + "}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[" + ",".join(map(_canonical, value)) + "]"
    return f"{type(value).__name__}:{value!r}"


def fingerprint(config: dict, code: str | None) -> str:
    """What a result was computed from: its recorded config and the code version, digested.
    Stored in the file's header, so checking whether a result is current needs no unpickling."""
    return hashlib.sha256(f"{code}\0{_canonical(config)}".encode()).hexdigest()


def save_result(path: Path, record: dict, locked: bool = False) -> None:
    """Write ``record`` to ``path`` atomically (see ``storage.write_atomically``);
    ``locked``: the caller holds ``storage.job_lock(path)``."""
    label = fingerprint(record["config"], record["meta"].get("code"))
    write_atomically(path, encode(record, label), exclusive=locked)


def _read(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ResultFileError(path, f"cannot read: {error.strerror}") from None


def load_result(path: str | Path) -> dict:
    """Read one result file; ``ResultFileError`` names the file and what is wrong with it."""
    return decode(_read(path), path)


def stored_if_current(path: Path, config: dict, code: str) -> dict | None:
    """The record at ``path`` if it was computed from ``config`` by code version ``code``.
    The header's fingerprint decides before anything is unpickled (format 1 files, which
    have none, are compared after unpickling)."""
    try:
        payload, label = verified_payload(_read(path), path)
        if label is not None and label != fingerprint(config, code):
            return None
        record = unpickle_record(payload, path)
    except ResultFileError:
        return None
    if label is None and (record["config"] != config or record["meta"].get("code") != code):
        return None
    return record


def is_current(path: Path, config: dict, code: str) -> bool:
    """Whether the intact result at ``path`` was computed from ``config`` by code version
    ``code``: ``stored_if_current`` without unpickling (except for format 1 files)."""
    try:
        _, label = verified_payload(_read(path), path)
    except ResultFileError:
        return False
    if label is None:
        return stored_if_current(path, config, code) is not None
    return label == fingerprint(config, code)


def result_files(directory: str | Path) -> list[Path]:
    """All result files under ``directory``, in a stable order (temporary files excluded)."""
    return sorted(p for p in Path(directory).rglob(f"*{SUFFIX}") if not p.name.startswith("."))


class NoResults(Exception):
    """A results directory that is missing or holds no results."""


def load_results(directory: str | Path, on_error: str = "raise") -> list[tuple[Path, dict]]:
    """Every result under ``directory`` as ``(path, record)``.

    A file that is not a readable result raises ``ResultFileError`` (``on_error="raise"``, the
    default: a figure must not silently miss a point) or is skipped with a warning that names
    it (``on_error="warn"``, for exploring in a notebook). A missing or empty directory raises
    ``NoResults`` saying which command writes results.
    """
    files = result_files(directory) if Path(directory).is_dir() else []
    if not files:
        raise NoResults(
            f"no results in {directory}: run `python task.py -cp experiment -m` "
            "(or `make sweep`) to produce them"
        )
    loaded = []
    for path in files:
        try:
            loaded.append((path, load_result(path)))
        except ResultFileError as error:
            if on_error != "warn":
                raise
            warnings.warn(f"skipped {error}", stacklevel=2)
    return loaded


def setting_name(record: dict) -> str:
    """The experiment setting of a result (``settings=...``), else its method's config name."""
    choices = record["meta"].get("choices", {})
    return choices.get("settings") or choices.get("method") or record["config"]["method"]["name"]


def _row(path: Path, record: dict) -> dict:
    import pandas as pd  # only tables need pandas; jobs should not pay for its import

    result, meta = record["result"], record["meta"]
    row = pd.json_normalize(record["config"]).iloc[0].to_dict()
    row.update(
        fun=float(result.fun),
        nfev=int(result.get("nfev", -1)),
        nit=int(result.get("nit", -1)),
        success=bool(result.success),
        status=int(result.status),
        message=str(result.message),
        setting=setting_name(record),
        overrides=tuple(meta["overrides"]),
        path=str(path),
    )
    row.update({f"meta.{key}": value for key, value in pd.json_normalize(
        {k: v for k, v in meta.items() if k not in ("overrides", "choices", "argv", "path")}
    ).iloc[0].items()})
    return row


def results_frame(directory: str | Path, on_error: str = "raise"):
    """One row per result: flattened config keys (``method.options.maxfun``), the main result
    fields (``fun``, ``nfev``, ``nit``, ``success``, ``status``, ``message``), ``setting``, the
    job's Hydra ``overrides``, ``path`` and provenance (``meta.git.commit``, ...).

    Errors as in ``load_results``. ``frame.attrs["config_columns"]`` names the config columns.
    """
    import pandas as pd

    loaded = load_results(directory, on_error)
    frame = pd.DataFrame([_row(path, record) for path, record in loaded])
    frame.attrs["config_columns"] = sorted(
        set().union(*(pd.json_normalize(record["config"]).columns for _, record in loaded))
    )
    return frame
