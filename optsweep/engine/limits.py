"""Stopping a sweep safely, and a time limit per job: the one place that decides a stop.

- ``stop_signals``: while a sweep launches, SIGTERM raises ``Terminated`` (a
  ``KeyboardInterrupt``, as Ctrl-C's SIGINT does) in the sweeping process, so that every path
  stops the same way: a job in this process stops where it is, a joblib pool terminates its
  workers, and the sweeper prints what finished and exits 130 (SIGINT) or 143 (SIGTERM).
- ``time_limit``: a job running longer than ``hydra.sweeper.job_timeout`` seconds raises
  ``JobTimeout`` (SIGALRM in the job's process: this process, a pool worker or an array task),
  so it fails like any other job and the others go on.
- ``watching_stops``: around a job's computation, wherever it runs, every stop (SIGINT,
  SIGTERM, the time limit) is also *recorded* before it is raised. A task may swallow the
  exception (a training loop's ``except KeyboardInterrupt``, an ``except Exception``) and
  return a half-computed result: ``raise_if_stopped`` raises the recorded stop again after the
  task returns, so that result is never saved, and the job counts as stopped or timed out and
  runs again next time. The sweeping process watches the same way while it checks a
  sweep: a stop swallowed on the way (a library's ``except``) is raised again by
  ``raise_if_stop_requested`` at the next job checked, and before anything is launched.
"""

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

log = logging.getLogger(__name__)


class Terminated(KeyboardInterrupt):
    """The sweeping process received SIGTERM."""

    exit_code = 143


class JobTimeout(Exception):
    """A job ran past ``hydra.sweeper.job_timeout``."""


# The stops requested while the current job computes (``watching_stops``), oldest first.
_requested: list[BaseException] = []


def _request(stop: BaseException) -> NoReturn:
    """Record ``stop`` for ``raise_if_stopped``, then raise it where the job is."""
    _requested.append(stop)
    raise stop


def _interrupt(signum: int, frame: FrameType | None) -> None:
    _request(KeyboardInterrupt())


def _terminate(signum: int, frame: FrameType | None) -> None:
    _request(Terminated())


@contextmanager
def watching_stops() -> Iterator[None]:
    """Record every stop requested while the block runs (SIGINT, SIGTERM, the time limit);
    see ``raise_if_stopped``. In a thread other than the main one, signals cannot be caught:
    only the time limit, which needs the main thread too, is then not watched."""
    _requested.clear()
    if not _main_thread():
        yield
        return
    # A signal the process was told to ignore (a shell's background job ignores SIGINT) stays
    # ignored.
    previous = {
        number: signal.signal(number, handler)
        for number, handler in ((signal.SIGINT, _interrupt), (signal.SIGTERM, _terminate))
        if signal.getsignal(number) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _take_request() -> BaseException | None:
    """The oldest stop requested while ``watching_stops`` watches (forgetting them all)."""
    stop = _requested[0] if _requested else None
    _requested.clear()
    return stop


def raise_if_stopped(what: str) -> None:
    """After a job's task returned: if a stop was requested while it computed, raise it again
    (the task swallowed it, and its result is not to be saved)."""
    stop = _take_request()
    if stop is None:
        return
    note = f"{what} returned a result after {_named(stop)} was requested: not saved"
    log.warning("%s", note)
    again = type(stop)(*stop.args)
    again.add_note(note)
    raise again from stop


def raise_if_stop_requested() -> None:
    """Raise the stop requested while ``watching_stops`` watches, if any: where the code
    that received it swallowed it, this stops the work at a point of our choosing."""
    stop = _take_request()
    if stop is not None:
        raise type(stop)(*stop.args) from stop


def _named(stop: BaseException) -> str:
    if isinstance(stop, Terminated):
        return "SIGTERM"
    if isinstance(stop, KeyboardInterrupt):
        return "a stop (SIGINT, Ctrl-C)"
    return "its time limit"


@contextmanager
def deferred_stops() -> Iterator[None]:
    """SIGINT and SIGTERM received while the block runs are raised when it ends, not in its
    middle: for work that must not be cut in two (a search telling its optimizer a batch's
    values and saving the outcome). In a thread other than the main one: no effect."""
    if not _main_thread():
        yield
        return
    received: list[BaseException] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(Terminated() if signum == signal.SIGTERM else KeyboardInterrupt())

    previous = {
        number: signal.signal(number, hold)
        for number in (signal.SIGINT, signal.SIGTERM)
        if signal.getsignal(number) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if received:
        raise received[0]


def signal_of(stop: KeyboardInterrupt) -> tuple[str, int]:
    """The signal that stopped a sweep or search and the exit status it ends with."""
    return ("SIGTERM", 143) if isinstance(stop, Terminated) else ("SIGINT", 130)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def stop_signals() -> Iterator[None]:
    """SIGTERM raises ``Terminated`` in this (main) thread while the block runs."""
    if not _main_thread() or signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        yield
        return

    previous = signal.signal(signal.SIGTERM, _terminate)
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
        _request(JobTimeout(f"{what} ran past job_timeout={seconds:g} s and was stopped"))

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
