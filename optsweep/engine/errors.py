"""Errors every engine module may name without importing the rest: the one an experiment
raises for a job config it refuses, the one a job gets when the sweep did not start it, the
one of a job whose value is not a number to keep, and the one of a task that exited."""

import errno


class InvalidJobConfig(ValueError):
    """A job config an experiment refuses; the message names the key and what is accepted."""


class JobNotRun(Exception):
    """A job the sweep did not start, because an earlier job failed with an error that every
    job would hit (``stops_every_job``): a full disk, a read-only results directory."""


class NonFiniteValue(ArithmeticError):
    """A job's value (the experiment's objective: ``Experiment.value_of``) is NaN or infinite:
    the job failed, and its result is not saved."""


class TaskExited(Exception):
    """A job's task raised ``SystemExit`` (``sys.exit()``, in it or in a library it calls)
    instead of returning a result: the job failed, and the sweep goes on with the others."""


# OSError numbers that say the file system refuses writes, for this job and every other.
_EVERY_JOB_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def stops_every_job(error: BaseException) -> bool:
    """Whether ``error`` (a failed job's) will fail every later job of the sweep as well."""
    return isinstance(error, OSError) and error.errno in _EVERY_JOB_ERRNOS
