"""Errors every engine module may name without importing the rest: the one an experiment
raises for a job config it refuses, and the one a job gets when the sweep did not start it."""

import errno


class InvalidJobConfig(ValueError):
    """A job config an experiment refuses; the message names the key and what is accepted."""


class JobNotRun(Exception):
    """A job the sweep did not start, because an earlier job failed with an error that every
    job would hit (``stops_every_job``): a full disk, a read-only results directory."""


# OSError numbers that say the file system refuses writes, for this job and every other.
_EVERY_JOB_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def stops_every_job(error: BaseException) -> bool:
    """Whether ``error`` (a failed job's) will fail every later job of the sweep as well."""
    return isinstance(error, OSError) and error.errno in _EVERY_JOB_ERRNOS
