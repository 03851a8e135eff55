"""Progress of a sweep on the terminal, whatever the launcher.

Each job, wherever it runs (a joblib worker, a SLURM node), marks its end with a file in
``<sweep dir>/.progress/`` (the Hydra callback ``JobEndMarker``, which the engine's config
optsweep/conf/optsweep_engine.yaml lists); a job run by the sweeping process itself marks it
in that process's memory (a file per job cost a file created per job). The sweeping process
watches that directory
and, if its stderr is a terminal, prints a line every few seconds: jobs done of total, failures
so far, elapsed time and an estimate of the time left. When output is not a terminal it stays
quiet: the sweep's final summary line says what happened.
"""

import os
import sys
import threading
import time
from pathlib import Path

from hydra.core.utils import JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode

MARKERS = ".progress"
# Seconds between progress lines; $OPTSWEEP_PROGRESS_INTERVAL sets another.
INTERVAL_VARIABLE = "OPTSWEEP_PROGRESS_INTERVAL"
_INTERVAL = 2.0


# The marker directories a ``ProgressReport`` of this process watches, with the ends of the
# jobs this process ran into them ({directory: {marker file name}}), and that process's id
# (a forked child inherits the dict, but not the report: it marks with files).
_watched: dict[Path, set[str]] = {}
_watching_pid = os.getpid()


def mark_job_end(sweep_dir, number: int, status: JobStatus) -> None:
    """Record that job ``number`` of the sweep in ``sweep_dir`` ended with ``status``: in
    memory if a progress report of this process watches that sweep, else with a file."""
    directory = Path(sweep_dir).absolute() / MARKERS
    outcome = "ok" if status is JobStatus.COMPLETED else "failed"
    marks = _watched.get(directory) if os.getpid() == _watching_pid else None
    if marks is not None:
        marks.add(f"{number}.{outcome}")
        return
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{number}.{outcome}").touch()


def finished_jobs(sweep_dir) -> dict[int, JobStatus]:
    """{job number: COMPLETED or FAILED} of the jobs marked as ended in ``sweep_dir``."""
    directory = Path(sweep_dir) / MARKERS
    if not directory.is_dir():
        return {}
    ended = {}
    for marker in directory.glob("*.*"):
        number, outcome = marker.name.split(".", 1)
        if number.isdigit():
            ended[int(number)] = JobStatus.COMPLETED if outcome == "ok" else JobStatus.FAILED
    return ended


class JobEndMarker(Callback):
    """Hydra callback: mark each finished job of a multirun (for launchers that run jobs
    elsewhere: joblib workers, SLURM nodes)."""

    def on_job_end(self, config, job_return, **kwargs) -> None:
        if config.hydra.mode == RunMode.MULTIRUN:
            mark_job_end(config.hydra.sweep.dir, config.hydra.job.num, job_return.status)


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def progress_line(done: int, failed: int, total: int, elapsed: float) -> str:
    left = f", ~{_clock(elapsed / done * (total - done))} left" if 0 < done < total else ""
    return f"[progress] {done}/{total} jobs done, {failed} failed, {_clock(elapsed)} elapsed{left}"


class ProgressReport:
    """Context manager: while it is open, report the jobs that end under ``sweep_dirs`` (this
    sweep's directory, and those of earlier sweeps whose jobs it waits for)."""

    def __init__(self, sweep_dirs, total: int, stream=None):
        dirs = [sweep_dirs] if isinstance(sweep_dirs, (str, Path)) else sweep_dirs
        self.directories = list(dict.fromkeys(Path(d).absolute() / MARKERS for d in dirs))
        self.total, self.stream = total, stream or sys.stderr
        self.enabled = total > 0 and self.stream.isatty()
        self.interval = float(os.environ.get(INTERVAL_VARIABLE) or _INTERVAL)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._before: set[Path] = set()

    def _markers(self) -> set[Path]:
        """The markers of the watched directories: their files, and the ends marked in
        memory by the jobs this process ran (a copy of each set, taken in one step: the
        reporting thread reads them while the sweep's thread adds to them)."""
        on_disk = {marker for directory in self.directories for marker in directory.glob("*.*")}
        in_memory = {
            directory / name
            for directory in self.directories
            for name in self._marks[directory].copy()
        }
        return on_disk | in_memory

    def failed_jobs(self, sweep_dir) -> list[int]:
        """The numbers of the jobs of ``sweep_dir`` that failed since the report opened."""
        directory = Path(sweep_dir).absolute() / MARKERS
        ended = self._markers() - self._before
        return sorted(int(m.stem) for m in ended if m.parent == directory and m.suffix == ".failed")

    def counts(self) -> tuple[int, int]:
        """(jobs ended since the report opened, how many of them failed)."""
        ended = self._markers() - self._before
        return len(ended), sum(marker.suffix == ".failed" for marker in ended)

    def _watch(self) -> None:
        shown = None
        while not self._stop.wait(self.interval):
            done, failed = self.counts()
            if (done, failed) != shown:
                shown = (done, failed)
                elapsed = time.monotonic() - self._start
                print(
                    progress_line(done, failed, self.total, elapsed), file=self.stream, flush=True
                )

    def __enter__(self):
        global _watching_pid
        if os.getpid() != _watching_pid:  # a forked child's own report
            _watched.clear()
            _watching_pid = os.getpid()
        self._marks = {
            directory: _watched.setdefault(directory, set()) for directory in self.directories
        }
        self._start = time.monotonic()
        self._before = self._markers()  # markers of earlier runs into the same directories
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join()
        for directory in self.directories:
            _watched.pop(directory, None)
