"""The queue through which a search hands evaluations to its SLURM workers: files in a
directory the sweeping process and the compute nodes share (as submitit's own are).

- ``todo/<number>.pkl``: an evaluation to run, (job, plan), written by the sweeping process;
- ``taken/<number>.pkl.<worker>``: the same file, moved there by the worker that takes it (a
  rename: of the workers that try, exactly one succeeds);
- ``done/<number>.pkl``: its ``JobReturn``, written by that worker;
- ``heartbeat``: touched by the sweeping process every second; a worker whose sweeping
  process has not touched it for ``ORPHANED_AFTER`` seconds (killed with ``kill -9``) exits
  (the file's time is the shared file system's, compared with the node's clock);
- ``stop``: the search ended; every worker exits;
- ``retired-<worker>``: that worker exited before the search ended, at SLURM's signal that
  its time limit is near (or of a preemption), to be replaced.

Every file is written to a temporary name and renamed, so no reader sees half of one. These
are messages, not results: a result file is written (and fsynced) by the job itself.
"""

import os
import pickle
import time
import uuid
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus

from optsweep.engine.chunks import Job
from optsweep.engine.plan import JobPlan

# Seconds without a heartbeat after which a worker takes its search for dead;
# $OPTSWEEP_ORPHANED_AFTER sets another (the sweeping process's environment reaches its
# SLURM tasks).
ORPHANED_AFTER = 120.0
ORPHANED_AFTER_VARIABLE = "OPTSWEEP_ORPHANED_AFTER"


class EvaluationQueue:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.todo, self.taken, self.done = (self.directory / n for n in ("todo", "taken", "done"))

    def create(self) -> None:
        for directory in (self.todo, self.taken, self.done):
            directory.mkdir(parents=True, exist_ok=True)
        self.beat()

    # -- the sweeping process ---------------------------------------------------------------

    def put(self, job: Job, plan: JobPlan | None) -> None:
        _write(self.todo / _name(job[0]), pickle.dumps((job, plan)))

    def collect(self) -> dict[int, JobReturn]:
        """The returns of the evaluations finished since the last call."""
        returns = {}
        for entry in os.scandir(self.done):
            if entry.name.endswith(".pkl"):
                number = int(entry.name[:-4])
                try:
                    with open(entry.path, "rb") as file:
                        returns[number] = pickle.load(file)
                except Exception as error:  # a return this process cannot unpickle
                    returns[number] = _lost(error)
                os.unlink(entry.path)
        return returns

    def held(self) -> dict[int, str]:
        """{evaluation number: the worker running it} of the evaluations taken, not done."""
        held = {}
        for entry in os.scandir(self.taken):
            name, _, worker = entry.name.partition(".pkl.")
            if worker:
                held[int(name)] = worker
        return held

    def release(self, number: int, worker: str) -> None:
        """Put evaluation ``number``, taken by ``worker`` (which ended), back in the queue;
        if its return came back meanwhile, only forget that it was taken."""
        taken = self.taken / f"{_name(number)}.{worker}"
        try:
            if (self.done / _name(number)).exists():
                taken.unlink()
            else:
                os.rename(taken, self.todo / _name(number))
        except FileNotFoundError:  # its worker finished it after all
            pass

    def release_all(self, worker: str) -> None:
        """Put back every evaluation ``worker`` took (it starts again, requeued)."""
        for number, holder in self.held().items():
            if holder == worker:
                self.release(number, worker)

    def retired(self, worker: str) -> bool:
        """Whether ``worker`` exited at SLURM's signal (see ``retire``)."""
        return (self.directory / f"retired-{worker}").exists()

    def beat(self) -> None:
        (self.directory / "heartbeat").touch()

    def stop(self) -> None:
        (self.directory / "stop").touch()

    # -- a worker ---------------------------------------------------------------------------

    def retire(self, worker: str) -> None:
        """``worker`` exits before the search ended, at SLURM's signal."""
        (self.directory / f"retired-{worker}").touch()

    def take(self, worker: str) -> tuple[Job, JobPlan | None] | None:
        """The first evaluation nobody took yet, now this worker's; None if there is none."""
        try:
            names = sorted(os.listdir(self.todo))
        except FileNotFoundError:  # the search removed its queue: it ended
            return None
        for name in names:
            if not name.endswith(".pkl"):
                continue
            mine = self.taken / f"{name}.{worker}"
            try:
                os.rename(self.todo / name, mine)
            except FileNotFoundError:  # another worker took it first
                continue
            with open(mine, "rb") as file:
                taken: tuple[Job, JobPlan | None] = pickle.load(file)
            return taken
        return None

    def finish(self, number: int, worker: str, ret: JobReturn) -> None:
        import cloudpickle  # as submitit sends the task: a __main__ task's values too

        try:
            data = cloudpickle.dumps(ret)
        except Exception as error:  # a value or exception pickle cannot carry: said instead
            said = JobReturn(overrides=ret.overrides, task_name=ret.task_name)
            said.status = JobStatus.FAILED
            said.return_value = RuntimeError(
                f"the evaluation's return could not be sent back: {type(error).__name__}: "
                f"{error} (return value: {ret._return_value!r})"
            )
            data = pickle.dumps(said)
        _write(self.done / _name(number), data)
        (self.taken / f"{_name(number)}.{worker}").unlink(missing_ok=True)

    def ended(self) -> bool:
        """Whether the search ended: stopped, or its sweeping process silent too long."""
        if (self.directory / "stop").exists():
            return True
        try:
            silent = time.time() - (self.directory / "heartbeat").stat().st_mtime
        except FileNotFoundError:
            return True
        return silent > float(os.environ.get(ORPHANED_AFTER_VARIABLE, ORPHANED_AFTER))


def _lost(error: Exception) -> JobReturn:
    ret = JobReturn(overrides=[])
    ret.status = JobStatus.FAILED
    ret.return_value = RuntimeError(
        f"the evaluation's return could not be read back: {type(error).__name__}: {error}"
    )
    return ret


def _name(number: int) -> str:
    return f"{number:09d}.pkl"


def _write(path: Path, data: Any) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_bytes(data)
    os.replace(temporary, path)
