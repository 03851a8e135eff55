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
- A task that swallows a stop and goes on computing (a loop catching ``KeyboardInterrupt`` at
  every step) is stopped by the next one: the second Ctrl-C or SIGTERM, or the time limit
  again after a grace period, raises ``StillRunning``, which neither ``except
  KeyboardInterrupt`` nor ``except Exception`` catches, and the job's block turns it back into
  the stop it got, so the job ends as stopped or timed out and the sweep says so. A third
  Ctrl-C or SIGTERM (the task swallowed even that, with a bare ``except``) ends the process at
  once, with a line on stderr: every result saved before is kept, the job's is not. So does
  the time limit's third expiry (a pool worker or an array task then ends as a dead chunk,
  whose jobs the sweep names; in the sweeping process, the sweep ends with exit status 1).
"""

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

from optsweep.engine.files import exit_now

log = logging.getLogger(__name__)


class Terminated(KeyboardInterrupt):
    """The sweeping process received SIGTERM."""

    exit_code = 143


class JobTimeout(Exception):
    """A job ran past ``hydra.sweeper.job_timeout``."""


class StillRunning(BaseException):
    """Raised where a task goes on computing after it swallowed a stop: no ``except
    KeyboardInterrupt`` or ``except Exception`` catches it (see the module docstring)."""


# The stops requested while the current job computes (``watching_stops``), oldest first.
_requested: list[BaseException] = []
# What computes in the innermost ``watching_stops(task=...)`` block ("job [seed=0]"), else
# None: a block that escalates a stop its code swallowed.
_task: str | None = None
# Ctrl-C or SIGTERM this many times while the task computes ends the process.
_FORCE_AFTER = 3


def _request(stop: BaseException) -> NoReturn:
    """Record ``stop`` for ``raise_if_stopped``, then raise it where the job is; where the
    task computes on after a stop it swallowed, ``StillRunning``, or the end of the process."""
    _requested.append(stop)
    if _task is None or len(_requested) == 1:
        raise stop
    signalled = [s for s in _requested if isinstance(s, KeyboardInterrupt)]
    if len(signalled) >= _FORCE_AFTER:
        _end_process(_task, signalled[0])
    if len(_requested) >= _FORCE_AFTER and not signalled:  # the time limit, again and again
        _end_process(_task, stop)
    raise StillRunning()


def _end_process(task: str, stop: BaseException) -> NoReturn:
    """End this process now (in a signal handler: no logging, whose lock the interrupted
    code may hold), saying why on stderr: after a third Ctrl-C or SIGTERM (exit 130 or 143),
    or after the time limit's third expiry (exit 1) that the task swallowed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a write the signal interrupted: its buffer is lost
            pass
    if isinstance(stop, KeyboardInterrupt):
        name, code = signal_of(stop)
        said = (
            f"optsweep: {task} went on computing after {_FORCE_AFTER} stops ({name}; its "
            "task swallows them): this process ends now, without that job's result. Every "
            "result saved before it is kept: run the same command again to go on.\n"
        )
    else:
        code = 1
        said = (
            f"optsweep: {task} went on computing past its time limit {_FORCE_AFTER} times "
            f"({stop}; its task swallows every exception, a bare 'except:' or 'except "
            "BaseException:'): this process ends now, without that job's result and without "
            "the jobs it had not run yet. Every result saved before it is kept; the rerun "
            "runs the others and that job again.\n"
        )
    os.write(2, said.encode())
    exit_now(code, wait=1.0)  # the job's lock file removed too


def _strongest(stops: list[BaseException]) -> BaseException:
    """The stop a job ends with: the first Ctrl-C or SIGTERM, else the first (a time limit)."""
    return next((s for s in stops if isinstance(s, KeyboardInterrupt)), stops[0])


def _interrupt(signum: int, frame: FrameType | None) -> None:
    _request(KeyboardInterrupt())


def _terminate(signum: int, frame: FrameType | None) -> None:
    _request(Terminated())


@contextmanager
def watching_stops(task: str | None = None) -> Iterator[None]:
    """Record every stop requested while the block runs (SIGINT, SIGTERM, the time limit);
    see ``raise_if_stopped``. With ``task`` (what computes in the block: "job [seed=0]"), a
    stop that the block's code swallows is escalated (the module docstring) and said in the
    log. In a thread other than the main one, signals cannot be caught: only the time limit,
    which needs the main thread too, is then not watched."""
    global _task
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
    outer, _task = _task, task
    try:
        yield
    except StillRunning:
        stop = _strongest(_requested)
        _requested.clear()
        note = f"{task} went on computing after {_named(stop)}: stopped again, not saved"
        log.warning("%s", note)
        again = type(stop)(*stop.args)
        again.add_note(note)
        raise again from None
    finally:
        _task = outer
        for number, handler in previous.items():
            signal.signal(number, handler)


def _take_request() -> BaseException | None:
    """The stop requested while ``watching_stops`` watches, the first Ctrl-C or SIGTERM
    before a time limit (forgetting them all)."""
    stop = _strongest(_requested) if _requested else None
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
        # Again after a grace period, for a task that swallows it and goes on.
        signal.setitimer(signal.ITIMER_REAL, max(1.0, seconds / 10))
        _request(JobTimeout(f"{what} ran past job_timeout={seconds:g} s and was stopped"))

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
