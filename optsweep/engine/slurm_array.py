"""A sweep's chunks as one SLURM job array (submitit): submit it, wait for it, or follow one an
earlier, detached sweep submitted.

The array is built by the ``submitit.AutoExecutor`` hydra-submitit-launcher would build from
``hydra.launcher.*`` (``internals.submitit_executor``), with at most the cluster's
``MaxArraySize`` tasks and time limits fitted to ``hydra.sweeper.job_timeout``. Each task runs
one chunk (``optsweep.engine.chunks.run_chunk``). Every array is written down in the
submission registry (``optsweep.engine.submissions``) so that no later sweep submits its jobs
again while SLURM holds them.
"""

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn

from optsweep.engine import internals, slurm
from optsweep.engine.chunks import (
    Chunk,
    ChunkContext,
    ChunkDied,
    Job,
    chunk_count,
    make_chunks,
    returns_of_a_dead_chunk,
    run_chunk,
)
from optsweep.engine.plan import JobPlan
from optsweep.engine.submissions import (
    InFlight,
    Submission,
    SubmissionRegistry,
    SubmittedTask,
    now,
)

log = logging.getLogger(__name__)

Batch = tuple[Sequence[JobReturn], Path | None]  # the jobs' returns, the log they wrote to


@dataclass
class Submitted:
    """An array this process submitted: its record and submitit's handles of its tasks."""

    submission: Submission
    handles: list[Any]  # submitit.SlurmJob, one per task


def chunk_outcome(handle: Any, jobs: Sequence[Job], chunk: int, sweep_dir: str, name: str) -> Batch:
    """The returns of one array task's chunk (waiting for it); if the task died (cancelled,
    out of time, node failure), its finished jobs as they ended and the others failed, naming
    the task."""
    try:
        result = handle.result()
    except Exception as error:  # submitit: the task ended without a result
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        died = ChunkDied(
            f"array task {handle.job_id} (chunk {chunk}) ended before this job: {reason}"
        )
        return returns_of_a_dead_chunk(jobs, sweep_dir, died, name), Path(handle.paths.stderr)
    return result.returns, result.log_file


class SlurmArrays:
    """Submit, wait for and follow the SLURM arrays of one sweep."""

    def __init__(
        self,
        launcher: Any,
        registry: SubmissionRegistry,
        sweep_dir: str,
        job_name: str,
        chunk_size: int | None = None,
        max_array_size: int | None = None,
        job_timeout: float | None = None,
    ):
        self.launcher, self.registry = launcher, registry
        self.sweep_dir, self.job_name = sweep_dir, job_name
        self.chunk_size, self.max_array_size = chunk_size, max_array_size
        self.job_timeout = job_timeout

    def submit(
        self, todo: list[Job], plans: dict[tuple, JobPlan], context: ChunkContext, detached: bool
    ) -> Submitted:
        """Submit ``todo`` in chunks as one array and write it down in the registry."""
        params = internals.submitit_params(self.launcher)
        workers = params["array_parallelism"]
        cpus = slurm.cluster_cpus(params.get("partition"))
        if cpus:  # no more tasks at once than the partition can run
            workers = min(workers, cpus // (params.get("cpus_per_task") or 1))
        limit = self.max_array_size or slurm.max_array_size()
        count = min(chunk_count(len(todo), workers, self.chunk_size), limit)
        chunks = make_chunks(todo, plans, count)
        timeout_min, signal_delay_s = slurm.time_limits(
            params["timeout_min"],
            params["signal_delay_s"],
            self.job_timeout,
            max(len(c.jobs) for c in chunks),
        )
        executor = internals.submitit_executor(
            self.launcher,
            timeout_min=timeout_min,
            signal_delay_s=signal_delay_s,
            setup=slurm.thread_limits(params.get("setup")),
        )
        handles = executor.map_array(run_chunk, [context] * len(chunks), chunks)
        array = handles[0].job_id.split("_")[0]
        submission = Submission(
            array=array,
            folder=str(Path(params["submitit_folder"]).absolute()),
            sweep_dir=str(Path(self.sweep_dir).absolute()),
            detached=detached,
            submitted=now(),
            tasks=tuple(map(_task, handles, chunks)),
        )
        self.registry.add(submission)
        log.info(
            "Submitted %d jobs as %d array tasks of SLURM job %s (MaxArraySize %d, time limit "
            "%d min a task)",
            len(todo),
            len(chunks),
            array,
            limit,
            timeout_min,
        )
        return Submitted(submission, list(handles))

    def wait(self, submitted: Submitted) -> Iterator[Batch]:
        """The outcome of each task of an array this process submitted, as each ends. Stopped
        (Ctrl-C, SIGTERM), it cancels the tasks still queued or running."""
        submission = submitted.submission
        log.info("Waiting for SLURM job %s; follow it with: squeue -j %s", *[submission.array] * 2)
        try:
            for handle, task in zip(submitted.handles, submission.tasks, strict=True):
                yield chunk_outcome(handle, task.jobs, task.chunk, self.sweep_dir, self.job_name)
        except KeyboardInterrupt:
            for handle in submitted.handles:
                handle.cancel(check=False)
            log.info("cancelled the array tasks still queued or running")
            raise
        finally:
            self.registry.remove(submission.array)

    def follow(self, flying: dict[str, InFlight]) -> Iterator[Batch]:
        """The outcome of the jobs in flight in arrays submitted earlier ({result path: its
        task}), as each task ends; nothing is cancelled if this process is stopped."""
        import submitit

        tasks: dict[str, InFlight] = {}
        for flight in flying.values():
            tasks.setdefault(flight.task.job_id, flight)
        for job_id, flight in tasks.items():
            task, submission = flight.task, flight.submission
            handle: Any = submitit.SlurmJob(folder=submission.folder, job_id=job_id)
            returns, log_file = chunk_outcome(
                handle, task.jobs, task.chunk, submission.sweep_dir, self.job_name
            )
            followed = [
                ret for ret, path in zip(returns, task.paths, strict=True) if path in flying
            ]
            yield followed, log_file


def _task(handle: Any, chunk: Chunk) -> SubmittedTask:
    """The record of the array task ``handle`` (submitit's) that runs ``chunk``."""
    paths = tuple(str(chunk.plans[overrides].path.absolute()) for _, overrides in chunk.jobs)
    return SubmittedTask(job_id=handle.job_id, chunk=chunk.number, jobs=chunk.jobs, paths=paths)
