"""Files that are never seen half-written, and per-job locks for concurrent sweeps."""

import fcntl
import glob
import logging
import os
import socket
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NoReturn

STALE_SUFFIX = ".stale"

log = logging.getLogger(__name__)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half.

    The temporary file is ``.<name>.<pid>@<host>~<random>.tmp``, and a later write of ``path``
    on the same host removes those of this host's writers that are no longer running (killed
    between writing and renaming), so none is left for good. (A job's result is written
    through its lock file instead: ``HeldLock.commit``.)

    The new file has the mode of the file it replaces, else the one the umask gives (0644
    under the usual 022), as ``open`` would create it. The bytes go to a temporary file in
    the same directory, are synced to disk, then renamed over ``path``; a crash at any point
    leaves any older file at ``path`` intact. (The directory is not synced: after a power
    loss the rename may be lost, and the job is then simply missing and reruns; a killed
    process loses nothing.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with _exit_guard:  # ``exit_now`` waits until the temporary file is renamed or removed
        _write_through_temporary(path, data)
    _remove_dead_writers_leftovers(path)


def _write_through_temporary(path: Path, data: bytes) -> None:
    """``write_atomically``'s temporary file: created, written, synced, renamed to ``path``,
    and removed if anything fails on the way."""
    handle, temporary = tempfile.mkstemp(
        dir=path.parent,
        prefix=f".{path.name}.{os.getpid()}@{socket.gethostname()}~",
        suffix=".tmp",
    )
    try:
        os.fchmod(handle, _mode_for(path))  # mkstemp creates 0600
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            sync_data(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def sync_data(handle: int) -> None:
    """Put a file's bytes and size on disk before it is renamed into place: ``fdatasync``
    where the system has it (what a rename needs, without the timestamps ``fsync`` also
    writes), else ``fsync``."""
    getattr(os, "fdatasync", os.fsync)(handle)


def _existing_mode(path: Path) -> int | None:
    """The mode of the file at ``path``, None if there is none."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def _mode_for(path: Path) -> int:
    """The mode of the file at ``path``, else ``0o666`` less the process's umask."""
    mode = _existing_mode(path)
    return 0o666 & ~_umask() if mode is None else mode


def _umask() -> int:
    """The process's umask (read without changing it where Linux tells it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def _remove_dead_writers_leftovers(path: Path) -> None:
    """Remove the ``.<name>.<pid>@<host>~*.tmp`` files beside ``path`` of writers on this
    host that are gone (another host's writers cannot be checked: their files stay)."""
    host = socket.gethostname()
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*@*~*.tmp"):
        pid, _, rest = leftover.name[len(path.name) + 2 :].partition("@")
        if rest.rsplit("~", 1)[0] != host or not pid.isdigit() or int(pid) == os.getpid():
            continue
        if not process_running(int(pid)):
            leftover.unlink(missing_ok=True)


def process_running(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def unwritable(directory: Path) -> str | None:
    """Why files cannot be written in ``directory`` (created if missing), or None.

    Tries what a job will do, writing and removing a small file, so that permissions, a
    read-only file system, a full disk or a file in the way are all found the same way
    (``os.access`` says yes to root, and nothing about a full disk)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=directory, prefix=".write-probe.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(b"\0" * 4096)
                file.flush()
                os.fsync(file.fileno())
        finally:
            Path(probe).unlink(missing_ok=True)
    except OSError as error:
        return f"{type(error).__name__}: {error.strerror or error}"
    return None


def missing_directories(directory: Path) -> list[Path]:
    """``directory`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    for path in (directory, *directory.parents):
        if path.exists():
            break
        missing.append(path)
    return missing


def remove_empty(directories: list[Path]) -> None:
    """Remove each of ``directories`` (deepest first) that is an empty directory."""
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:  # not empty, gone, or not ours to remove
            return


def move_aside(path: Path) -> Path | None:
    """Rename an existing file to ``<name>.stale`` so no reader takes it as current."""
    stale = path.with_name(path.name + STALE_SUFFIX)
    try:
        os.replace(path, stale)
    except FileNotFoundError:
        return None
    return stale


class HeldLock:
    """The lock ``job_lock`` holds on a job, through which the job's result is written."""

    def __init__(self, path: Path, lock_path: Path, lock: IO[bytes]):
        self.path, self.lock_path, self._lock = path, lock_path, lock
        self.committed = False

    def commit(self, data: bytes) -> None:
        """Write ``data`` as the job's result, atomically: into the lock file, synced, then
        renamed over ``path`` (readers see the old result or the new, never half; a crash
        leaves at most the lock file, which the next holder takes over). One file made and
        renamed, where a separate temporary file would cost a second file created per job.
        The result has the mode of the file it replaces, else the one the umask gave the lock
        file (``open``'s). The lock stays held until ``job_lock`` ends; the lock file is gone,
        so a waiter takes a new one and finds this result."""
        assert not self.committed, "a job's result is written once"
        with _exit_guard:  # ``exit_now`` waits until the file is renamed
            handle = self._lock.fileno()
            mode = _existing_mode(self.path)
            if mode is not None:
                os.fchmod(handle, mode)
            self._lock.seek(0)
            self._lock.truncate()
            self._lock.write(data)
            self._lock.flush()
            sync_data(handle)
            os.replace(self.lock_path, self.path)
            self.committed = True
            _held.discard(self.lock_path)


@contextmanager
def job_lock(path: Path, what: str = "this job") -> Iterator[HeldLock]:
    """Hold an exclusive lock on the job whose result is ``path`` (waits for a holder;
    ``what`` it holds, in the message a waiter gives: a search's lock says "this search").

    Two sweeps running the same job one after the other see each other's result; the lock is
    released by the kernel if the process dies, so a killed sweep never blocks the next. The
    holder writes which process it is into the lock file (``.<name>.lock``), and a sweep that
    must wait says so. The holder either writes the result through the lock file
    (``HeldLock.commit``, which renames it to ``path``) or removes the file, before it releases
    the lock, so none is left beside the results; a waiter that then gets the lock of a file
    no longer at its place tries again.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.parent / f".{path.name}.lock"
    said = False
    while True:
        with _exit_guard:  # the file is created, locked and registered with no exit between
            lock = open(lock_path, "a+b")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                waited = False
            except BlockingIOError:
                waited = True
            if not waited and _is_the_file_at(lock, lock_path):
                _held.add(lock_path)
                break
        if waited:
            if not said:
                lock.seek(0)
                # The holder's line, or the start of a result it is committing: a line's worth.
                holder = lock.read(200).decode(errors="replace").strip()
                if not holder.startswith("process "):  # empty, or a result being committed
                    holder = "another process"
                log.warning("waiting for %s: %s is running %s", path, holder, what)
                said = True
            fcntl.flock(lock, fcntl.LOCK_EX)
            with _exit_guard:
                if _is_the_file_at(lock, lock_path):
                    _held.add(lock_path)
                    break
        lock.close()  # the holder removed it while this process waited: lock the new one
    held = HeldLock(path, lock_path, lock)
    try:
        lock.seek(0)
        lock.truncate()
        lock.write(f"process {os.getpid()} on {socket.gethostname()}\n".encode())
        lock.flush()
        yield held
    finally:
        with _exit_guard:
            if not held.committed:
                lock_path.unlink(missing_ok=True)
                _held.discard(lock_path)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


# The lock files this process holds (``job_lock``), for ``exit_now``.
_held: set[Path] = set()
# Held while this process has a file on disk that it has not registered or not finished
# (a lock file being taken or given back, a temporary file being written and renamed), so
# that ``exit_now`` never leaves one behind.
_exit_guard = threading.Lock()


def running_elsewhere(path: Path) -> bool:
    """Whether another live process seems to hold the lock of the job whose result is
    ``path`` (its lock file names that process, or another host's, or holds a result being
    committed), read without taking the lock: a sweep then runs its other jobs first and
    comes back to this one (``runner``), so that two sweeps of the same jobs share them. A
    guess either way costs nothing but order: the job itself takes the lock as ever."""
    try:
        with open(path.parent / f".{path.name}.lock", "rb") as lock:
            line = lock.read(200).decode(errors="replace")
    except OSError:  # no lock file: nobody runs it
        return False
    holder, on, host = line.removeprefix("process ").partition(" on ")
    if not line.startswith("process ") or not on:
        return bool(line)  # a result being committed; empty: being created, or abandoned
    if host.strip() != socket.gethostname():
        return True
    return holder.isdigit() and int(holder) != os.getpid() and process_running(int(holder))


def remove_abandoned_lock(path: Path) -> None:
    """Remove the lock file of the job whose result is ``path`` if no process holds it (its
    holder died: a killed pool worker)."""
    lock_path = path.parent / f".{path.name}.lock"
    try:
        lock = open(lock_path, "r+")
    except OSError:
        return
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # held: a live process runs that job
        if _is_the_file_at(lock, lock_path):
            lock_path.unlink(missing_ok=True)
        fcntl.flock(lock, fcntl.LOCK_UN)


def remove_abandoned_locks(directory: Path) -> None:
    """``remove_abandoned_lock`` for every job lock file under ``directory``: those of
    workers that were killed (a stopped search's), not those a live process holds."""
    for lock_path in directory.rglob(".*.lock"):
        name = lock_path.name[1 : -len(".lock")]
        remove_abandoned_lock(lock_path.with_name(name))


def exit_now(status: int, wait: float | None = None) -> NoReturn:
    """Exit this process at once (``os._exit``: a pool worker whose sweep died, a task that
    swallowed three stops), leaving no file of its own behind: it waits for a temporary file
    being written to be renamed or removed, then removes the lock files it holds (the kernel
    releases the locks). ``wait``: at most this many seconds, from a signal handler, whose
    own thread may be the one holding the guard (interrupted while it held it)."""
    _exit_guard.acquire(timeout=-1 if wait is None else wait)  # never released: it ends here
    for lock_path in list(_held):
        lock_path.unlink(missing_ok=True)
    os._exit(status)


def _is_the_file_at(handle: IO, path: Path) -> bool:
    """Whether the open file ``handle`` is still the file at ``path`` (not removed or replaced)."""
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
