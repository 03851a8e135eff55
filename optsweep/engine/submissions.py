"""SLURM arrays submitted by sweeps, so that no command submits a job that is already in flight.

Every SLURM array a sweep submits is written down in ``<output.dir>/.submitted/<array>.json``:
its submitit folder, the sweep directory its jobs report progress to, and, for each array task,
its jobs (number, overrides, result path). A sweep that waits for its array removes the file at
the end; a detached sweep (``hydra.sweeper.detach=true``) leaves it. Any later sweep over the
same results asks SLURM (``squeue``) which of those tasks are still queued or running: their
jobs are in flight, so it neither runs nor submits them again, and it waits for them instead
(or, detached, leaves them). A file whose tasks have all ended is removed: from then on the
results decide, so what failed or never ran runs again.
"""

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from optsweep.engine import slurm
from optsweep.engine.chunks import Job
from optsweep.engine.files import write_atomically

log = logging.getLogger(__name__)

DIRECTORY = ".submitted"  # under the sweep's output.dir


class SubmissionsUnknown(Exception):
    """Whether jobs submitted earlier are still in flight cannot be told."""


@dataclass(frozen=True)
class SubmittedTask:
    """One array task: the chunk of jobs it runs, each with its result path."""

    job_id: str  # "<array>_<task>"
    chunk: int
    jobs: tuple[Job, ...]
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Submission:
    """One SLURM array submitted by a sweep."""

    array: str
    folder: str  # submitit's folder, with %j for the task's id
    sweep_dir: str  # where its jobs' progress markers and chunk logs go
    detached: bool
    submitted: str  # when (ISO 8601, local time)
    tasks: tuple[SubmittedTask, ...]

    def has_ended(self, task: SubmittedTask) -> bool:
        """Whether ``task`` has returned its chunk's outcome (SLURM may still list it a
        moment longer, completing)."""
        from submitit.core.utils import JobPaths

        return JobPaths(self.folder, job_id=task.job_id, task_id=0).result_pickle.exists()

    def to_json(self) -> str:
        data = {
            "array": self.array,
            "folder": self.folder,
            "sweep_dir": self.sweep_dir,
            "detached": self.detached,
            "submitted": self.submitted,
            "tasks": [
                {
                    "job_id": task.job_id,
                    "chunk": task.chunk,
                    "jobs": [[number, list(overrides)] for number, overrides in task.jobs],
                    "paths": list(task.paths),
                }
                for task in self.tasks
            ],
        }
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Submission":
        data = json.loads(text)
        tasks = tuple(
            SubmittedTask(
                job_id=task["job_id"],
                chunk=task["chunk"],
                jobs=tuple((number, tuple(overrides)) for number, overrides in task["jobs"]),
                paths=tuple(task["paths"]),
            )
            for task in data["tasks"]
        )
        return cls(
            array=data["array"],
            folder=data["folder"],
            sweep_dir=data["sweep_dir"],
            detached=data["detached"],
            submitted=data["submitted"],
            tasks=tasks,
        )


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")


@dataclass(frozen=True)
class InFlight:
    """A job of an earlier submission that SLURM still holds."""

    submission: Submission
    task: SubmittedTask


class SubmissionRegistry:
    """The submissions written down under ``directory`` (see the module docstring)."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def _file(self, array: str) -> Path:
        return self.directory / f"{array}.json"

    def add(self, submission: Submission) -> None:
        write_atomically(self._file(submission.array), submission.to_json().encode())

    def remove(self, array: str) -> None:
        self._file(array).unlink(missing_ok=True)

    def _read_all(self) -> list[tuple[Path, Submission]]:
        if not self.directory.is_dir():
            return []
        submissions = []
        for file in sorted(self.directory.glob("*.json")):
            try:
                submissions.append((file, Submission.from_json(file.read_text())))
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise SubmissionsUnknown(
                    f"{file}: not a readable record of a SLURM submission ({error!r}); "
                    "delete it if the jobs it lists are over"
                ) from None
        return submissions

    def in_flight(self) -> dict[str, InFlight]:
        """{result path: its job's task} for every job of a recorded submission whose array
        task SLURM still holds. Submissions with no task left are removed."""
        submissions = self._read_all()
        if not submissions:
            return {}
        try:
            queued = slurm.queued_tasks()
        except slurm.SlurmUnreachable as error:
            files = ", ".join(str(file) for file, _ in submissions)
            raise SubmissionsUnknown(
                f"cannot tell whether jobs submitted to SLURM by earlier sweeps ({files}) are "
                f"still queued or running: {error}. Run where SLURM's commands work, or delete "
                "those files if their jobs are over."
            ) from None
        flying: dict[str, InFlight] = {}
        for file, submission in submissions:
            tasks = [
                task
                for task in submission.tasks
                if task.job_id in queued and not submission.has_ended(task)
            ]
            if not tasks:
                log.info(
                    "SLURM job %s (submitted %s) has ended; its logs: %s",
                    submission.array,
                    submission.submitted,
                    submission.folder.replace("%j", "<task>"),
                )
                file.unlink(missing_ok=True)
                continue
            for task in tasks:
                for path in task.paths:
                    flying[path] = InFlight(submission, task)
        return flying
