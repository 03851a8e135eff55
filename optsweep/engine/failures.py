"""A job's failure, recorded beside where its result would be, until the job succeeds.

A failed job saves no result, so a figure of its sweep would simply have one point fewer: a
budget at which every setting failed is not drawn, and nothing says so. Each failed job
therefore leaves ``.<name>.pkl.failed`` (JSON: its overrides, setting, experiment, error and
time) in its result's directory; the job's next success (or finding its result current)
removes it, and with it the older result the failure moved aside (``<name>.pkl.stale``).
Reports refuse a figure or table of a sweep with such records (``optsweep.report.sweepdata``;
``allow_failed=true`` makes it anyway). Stops (Ctrl-C, SIGTERM) are no failures: they record
nothing.
"""

import json
import logging
import time
from pathlib import Path
from typing import Any

from optsweep.engine.files import STALE_SUFFIX, write_atomically

log = logging.getLogger(__name__)

SUFFIX = ".failed"


def failure_path(path: Path) -> Path:
    """Where the failure of the job whose result is ``path`` is recorded."""
    return path.parent / f".{path.name}{SUFFIX}"


def record_failure(
    path: Path, overrides: list[str], setting: str | None, experiment: str, error: BaseException
) -> None:
    """Record that the job whose result is ``path`` failed with ``error``; a record that
    cannot be written (the disk that failed the job) is logged, and the job's own error
    stands."""
    said = str(error).strip().splitlines()
    record = {
        "overrides": list(overrides),
        "setting": setting,
        "experiment": experiment,
        "error": f"{type(error).__name__}: {said[0] if said else ''}".rstrip(": "),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        write_atomically(failure_path(path), json.dumps(record).encode() + b"\n")
    except OSError as failed:
        log.debug("the failure of %s could not be recorded: %s", path, failed)


def clear_failure(path: Path) -> None:
    """The job whose result is ``path`` succeeded: its failure record and the older result
    its failure moved aside are gone."""
    failure_path(path).unlink(missing_ok=True)
    path.with_name(path.name + STALE_SUFFIX).unlink(missing_ok=True)


def last_failure(path: Path) -> str | None:
    """The error the job whose result is ``path`` last failed with, if it is recorded."""
    try:
        record = json.loads(failure_path(path).read_text())
    except (OSError, ValueError):
        return None
    return str(record.get("error", "")) if isinstance(record, dict) else None


def read_failures(directory: Path) -> list[dict[str, Any]]:
    """The failure records under ``directory``, each with ``result``: the path its job's
    result would have (a record that cannot be read is skipped)."""
    found = []
    for record_file in sorted(Path(directory).rglob(f".*.pkl{SUFFIX}")):
        try:
            record = json.loads(record_file.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("overrides"), list):
            result = record_file.with_name(record_file.name[1 : -len(SUFFIX)])
            found.append({**record, "result": str(result), "record": str(record_file)})
    return found
