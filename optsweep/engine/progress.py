"""Progress of a sweep on the terminal, whatever the launcher.

Each job, wherever it runs (in-process, a joblib worker, a SLURM node), marks its end with a
file in ``<sweep dir>/.progress/`` (the Hydra callback ``JobEndMarker``, which the engine's
config optsweep/conf/optsweep_engine.yaml lists). The sweeping process watches that directory
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


def mark_job_end(sweep_dir, number: int, status: JobStatus) -> None:
    """Record that job ``number`` of the sweep in ``sweep_dir`` ended with ``status``."""
    directory = Path(sweep_dir) / MARKERS
    directory.mkdir(parents=True, exist_ok=True)
    outcome = "ok" if status is JobStatus.COMPLETED else "failed"
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
        return {marker for directory in self.directories for marker in directory.glob("*.*")}

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
        self._start = time.monotonic()
        self._before = self._markers()  # markers of earlier runs into the same directories
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join()
