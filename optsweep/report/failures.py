"""Whether jobs of a figure's sweep failed and have no result: the figure would leave them out.

A failed job leaves a record where its result would be (``optsweep.engine.failures``), until
it succeeds. A figure or table whose sweep (the same swept keys and extra overrides, a drawn
line, a drawn point) has such records is refused, naming the jobs and their errors
(``allow_failed=true`` makes it anyway, with a warning): a point where every setting failed
would otherwise vanish from the figure without a word.
"""

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from optsweep.engine.failures import read_failures
from optsweep.engine.store import identifying_overrides

# Failed jobs named in a message.
_LISTED = 5


class FailedJobsLeftOut(UserWarning):
    """A figure or table made although jobs of its sweep failed (``allow_failed=true``)."""


def check_no_failed_jobs(
    results_dir: Path,
    experiment: str | None,
    extra: list[str],
    swept: frozenset,
    belongs: Callable[[dict[str, str], str | None], bool],
    allow: bool,
) -> list[tuple[dict[str, str], str | None]]:
    """Refuse (``UnusableResults``) if a job of the sweep in ``results_dir`` failed and has no
    result: one of ``experiment`` (None: any), carrying the ``extra`` overrides and sweeping
    exactly the keys ``swept``, for which ``belongs(its overrides {key: value}, its
    setting)`` (a drawn line and point); with ``allow``, warn instead, and return them (their
    overrides and setting), which the figure then leaves out."""
    from optsweep.report.sweepdata import UnusableResults

    failed = [
        record
        for record in read_failures(results_dir)
        if _of_the_sweep(record, experiment, extra, swept, belongs)
        and not Path(record["result"]).exists()
    ]
    if not failed:
        return []
    listed = "; ".join(
        f"[{' '.join(identifying_overrides(record['overrides']))}] {record.get('error', '')}"
        for record in failed[:_LISTED]
    )
    more = f"; and {len(failed) - _LISTED} more" if len(failed) > _LISTED else ""
    said = (
        f"{len(failed)} job(s) of this sweep failed in their last run and have no result, "
        f"which it would leave out: {listed}{more}"
    )
    if allow:
        warnings.warn(
            f"{said}; made without them (allow_failed=true)", FailedJobsLeftOut, stacklevel=2
        )
        return [(_values(record, extra), record.get("setting")) for record in failed]
    raise UnusableResults(
        f"{said}; rerun the sweep, which reruns them, or make it without them: allow_failed=true "
        f"(each failure is recorded beside its result's place, as {Path(failed[0]['record'])}: "
        "remove the records of jobs that are no longer part of the sweep)"
    )


def _of_the_sweep(
    record: dict[str, Any],
    experiment: str | None,
    extra: list[str],
    swept: frozenset,
    belongs: Callable[[dict[str, str], str | None], bool],
) -> bool:
    if experiment is not None and record.get("experiment") not in (None, experiment):
        return False
    ids = identifying_overrides([str(o) for o in record["overrides"]])
    if not set(extra) <= set(ids):
        return False
    values = _values(record, extra)
    return frozenset(values) == swept and belongs(values, record.get("setting"))


def _values(record: dict[str, Any], extra: list[str]) -> dict[str, str]:
    """{key: value} of a failed job's overrides beyond the sweep's ``extra`` ones."""
    ids = identifying_overrides([str(o) for o in record["overrides"]])
    rest = [o for o in ids if o not in extra]
    return {key: value for key, _, value in (o.partition("=") for o in rest)}
