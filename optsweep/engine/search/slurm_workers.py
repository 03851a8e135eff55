"""A search's evaluations on SLURM (``launcher=slurm``): one job array of one task per worker,
submitted once, each task running evaluations until the search ends.

The array is built as a sweep's is (``internals.submitit_executor``: hydra-submitit-launcher's
parameters, thread limits). Each task runs ``serve``: it takes the evaluations the sweeping
process puts in the search's queue (``optsweep.engine.search.evaluation_queue``), runs each by
the in-process path with the plan the sweeping process checked, and puts back its return. The
sweeping process asks and tells the optimizer, as in-process. So a batch costs a file round
trip on the shared file system, not a scheduler round trip; the workers' start (a queue wait,
Python, imports) is paid once.

A worker that ends early (cancelled, out of time, node failure) puts the evaluation it held
back in the queue for another worker (a requeued task takes back its own when it starts
again); when every worker has ended, the search stops with the tasks' states. A stop
of the search (Ctrl-C, SIGTERM) writes the queue's ``stop`` and cancels the array. A task's
time limit (``hydra.launcher.timeout_min``) is the time its worker serves the whole search.
"""

import logging
import os
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from hydra.types import HydraContext
from omegaconf import DictConfig

from optsweep.engine import internals, slurm
from optsweep.engine.chunks import ChunkContext, Job, chunk_context, run_evaluation
from optsweep.engine.compose import FastComposer
from optsweep.engine.experiment import ExperimentTask
from optsweep.engine.plan import JobPlan
from optsweep.engine.search.errors import SearchFailed
from optsweep.engine.search.evaluation_queue import EvaluationQueue
from optsweep.engine.search.launching import CheckedEvaluations, worker_log_dir

log = logging.getLogger(__name__)

# Seconds between two looks at the queue: the first right away, then slower while idle.
FIRST_POLL, LAST_POLL = 0.002, 0.05
# Seconds between two asks of SLURM whether the workers are still there.
WORKERS_CHECK = 2.0
# Seconds between two heartbeats of the sweeping process (see ``EvaluationQueue``).
BEAT = 1.0
# Seconds the end of a search waits for its idle workers to exit before cancelling them.
EXIT_WAIT = 5.0


class OnSlurmWorkers(CheckedEvaluations):
    """Evaluations on ``workers`` SLURM array tasks that serve the whole search."""

    def __init__(
        self,
        composer: FastComposer,
        task: ExperimentTask,
        hydra_context: HydraContext,
        config: DictConfig,
        launcher: Any,
        workers: int,
    ):
        super().__init__(composer, task, hydra_context, config)
        self.launcher, self.workers = launcher, workers
        # One queue per run of the search: a rerun's workers never see an earlier run's stop.
        queues = Path(self.sweep_dir).absolute() / "search-queue"
        self.queue = EvaluationQueue(queues / uuid.uuid4().hex[:12])
        self.handles: list[Any] = []
        self.gone: dict[str, str] = {}  # {task id: how it ended} of the workers that ended
        self.beating = threading.Event()
        self.started = False  # whether the queue exists (then the workers may be running)

    def _start(self) -> None:
        """Submit the workers' array (at the first batch, once the templates are composed)."""
        params = internals.submitit_params(self.launcher)
        workers = min(self.workers, params["array_parallelism"])
        cpus = slurm.cluster_cpus(params.get("partition"))
        if cpus:  # no more workers than the partition runs at once
            workers = max(1, min(workers, cpus // (params.get("cpus_per_task") or 1)))
        self.queue.create()
        self.started = True
        self._beat()
        context = chunk_context(self.hydra_context, self.config, self.task, self.composer)
        executor = internals.submitit_executor(
            self.launcher, setup=slurm.thread_limits(params.get("setup"))
        )
        self.handles = list(
            executor.map_array(serve, [context] * workers, [str(self.queue.directory)] * workers)
        )
        array = self.handles[0].job_id.split("_")[0]
        log.info(
            "Search workers: SLURM job %s, %d array tasks serving every evaluation (time limit "
            "%d min a task); follow it with: squeue -j %s",
            array,
            workers,
            params["timeout_min"],
            array,
        )

    def _beat(self) -> None:
        """Touch the queue's heartbeat every ``BEAT`` seconds until the workers are stopped,
        whatever this process is doing meanwhile (asking the optimizer, saving its state)."""
        self.beating.set()

        def beat() -> None:
            while self.beating.is_set():
                try:
                    self.queue.beat()
                except OSError as error:  # a file system hiccup (ESTALE, EIO): beat again
                    if not self.queue.directory.is_dir():  # the queue is gone: it ended
                        return
                    log.debug("search heartbeat: %r", error)
                time.sleep(BEAT)

        threading.Thread(target=beat, name="optsweep-search-heartbeat", daemon=True).start()

    def run(self, jobs: list[Job], plans: dict[tuple, JobPlan]) -> list[JobReturn]:
        try:
            if not self.started:
                self._start()
            for job in jobs:
                self.queue.put(job, plans.get(job[1]))
            return self._wait(jobs)
        except BaseException:  # Ctrl-C, SIGTERM: the workers stop with the search
            self.stop()
            raise

    def _wait(self, jobs: list[Job]) -> list[JobReturn]:
        """The returns of ``jobs``, as the workers put them back."""
        got: dict[int, JobReturn] = {}
        pending = {number for number, _ in jobs}
        poll, checked = FIRST_POLL, time.monotonic()
        while pending:
            finished = self.queue.collect()
            got.update(finished)
            pending -= finished.keys()
            if not pending:
                break
            if time.monotonic() - checked > WORKERS_CHECK:
                self._release_of_ended_workers()
                checked = time.monotonic()
            poll = FIRST_POLL if finished else min(poll * 2, LAST_POLL)
            time.sleep(poll)
        return [got[number] for number, _ in jobs]

    def _release_of_ended_workers(self) -> None:
        """Put back in the queue the evaluations that workers held when they ended (another
        worker runs them; a result saved meanwhile is found current); ``SearchFailed`` if no
        worker is left. A ``squeue`` that fails is asked again at the next check."""
        try:
            queued = slurm.queued_tasks()
        except slurm.SlurmUnreachable as error:
            log.warning("could not ask SLURM about the search's workers: %s", error)
            return
        for handle in self.handles:
            if handle.job_id not in queued and handle.job_id not in self.gone:
                self.gone[handle.job_id] = _how_it_ended(handle)
        if not self.gone:
            return
        ended = {_worker_of(task): task for task in self.gone}
        for number, worker in self.queue.held().items():
            if worker in ended:
                log.warning(
                    "SLURM worker %s ended (%s) during evaluation #%d: queued again",
                    ended[worker],
                    self.gone[ended[worker]],
                    number,
                )
                self.queue.release(number, worker)
        if len(self.gone) == len(self.handles):
            states = ", ".join(f"{task}: {state}" for task, state in sorted(self.gone.items()))
            raise SearchFailed(
                f"every SLURM worker of the search ended before the search did ({states}); "
                f"their logs: {Path(self.handles[0].paths.stderr).parent.parent}. The finished "
                "evaluations are kept: run the same command again to continue."
            )

    def close(self) -> None:
        """The search ended: the workers exit once idle (any still there after
        ``EXIT_WAIT`` seconds are cancelled)."""
        super().close()
        if not self.started:
            return
        self.beating.clear()
        self.queue.stop()
        deadline = time.monotonic() + EXIT_WAIT
        try:
            while self.handles and time.monotonic() < deadline:
                if not {h.job_id for h in self.handles} & slurm.queued_tasks():
                    self.handles = []
                time.sleep(0.5)
        except slurm.SlurmUnreachable:
            pass
        self.stop()

    def stop(self) -> None:
        """Stop the workers now (Ctrl-C, SIGTERM, a failure): cancel the array."""
        super().stop()
        if not self.started:
            return
        self.started = False
        self.beating.clear()
        self.queue.stop()
        if self.handles:
            array = self.handles[0].job_id.split("_")[0]
            slurm.cancel(array)
            log.info("cancelled the search's SLURM workers (job %s)", array)
        self.handles = []
        shutil.rmtree(self.queue.directory, ignore_errors=True)


def _worker_of(task_id: str) -> str:
    """The queue's name of the worker that runs as array task ``task_id`` (``123_4``)."""
    return f"task-{task_id}"


def _how_it_ended(handle: Any) -> str:
    try:
        return str(handle.state)
    except Exception as error:  # sacct unavailable: say so instead
        return f"state unknown ({type(error).__name__})"


def serve(context: ChunkContext, directory: str) -> int:
    """A SLURM array task's work: evaluate what the search's queue in ``directory`` holds
    until the search ends; returns how many evaluations this worker ran."""
    task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    worker = _worker_of(f"{task[0]}_{task[1]}") if all(task) else f"pid-{os.getpid()}"
    queue = EvaluationQueue(Path(directory))
    log_dir = worker_log_dir(context.sweep_dir, worker)
    queue.release_all(worker)  # a requeued task (preempted, node failure) starts again
    served, poll = 0, FIRST_POLL
    while not queue.ended():
        taken = queue.take(worker)
        if taken is None:
            time.sleep(poll)
            poll = min(poll * 2, LAST_POLL)
            continue
        job, plan = taken
        queue.finish(job[0], worker, run_evaluation(context, job, plan, log_dir))
        served, poll = served + 1, FIRST_POLL
    return served
