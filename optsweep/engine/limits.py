"""Stopping a sweep safely, and a time limit per job.

- ``stop_signals``: while a sweep launches, SIGTERM raises ``Terminated`` (a
  ``KeyboardInterrupt``, as Ctrl-C's SIGINT does) in the sweeping process, so that every path
  stops the same way: a job in this process stops where it is, a joblib pool terminates its
  workers, and the sweeper prints what finished and exits 130 (SIGINT) or 143 (SIGTERM).
- ``time_limit``: a job running longer than ``hydra.sweeper.job_timeout`` seconds raises
  ``JobTimeout`` (SIGALRM in the job's process: this process, a pool worker or an array task),
  so it fails like any other job and the others go on.
"""

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger(__name__)


class Terminated(KeyboardInterrupt):
    """The sweeping process received SIGTERM."""

    exit_code = 143


class JobTimeout(Exception):
    """A job ran past ``hydra.sweeper.job_timeout``."""


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def stop_signals() -> Iterator[None]:
    """SIGTERM raises ``Terminated`` in this (main) thread while the block runs."""
    if not _main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def time_limit(seconds: float | None, what: str) -> Iterator[None]:
    """Raise ``JobTimeout`` naming ``what`` if the block runs longer than ``seconds``."""
    if not seconds:
        yield
        return
    if not _main_thread():
        log.warning("job_timeout=%s is not enforced outside a process's main thread", seconds)
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise JobTimeout(f"{what} ran past job_timeout={seconds:g} s and was stopped")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
