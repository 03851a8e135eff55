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
of the search (Ctrl-C, SIGTERM) writes the queue's ``stop`` and cancels the workers.

A search may last longer than a task's time limit (``hydra.launcher.timeout_min``). SLURM
signals a task ``hydra.launcher.signal_delay_s`` before its limit, or when it is preempted
(submitit's ``--signal``); the worker then finishes the evaluation it holds, takes no other
and exits. A worker that exited so, or was ended by its time limit, a preemption or a node
failure, is replaced by a new task at once (a new job, not a requeue: SLURM holds a requeued
job for two minutes). One that failed or was cancelled is not; nor are workers that keep
ending without any evaluation finishing meanwhile (``FRUITLESS`` times in a row).
"""

import logging
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
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

# Seconds between two looks at the queue: every FIRST_POLL for HOT seconds after the last
# evaluation (the optimizer's step between two batches is shorter), then slower, down to
# every LAST_POLL while idle.
FIRST_POLL, LAST_POLL, HOT = 0.002, 0.05, 0.25
# Seconds between two asks of SLURM whether the workers are still there.
WORKERS_CHECK = 2.0
# Seconds between two heartbeats of the sweeping process (see ``EvaluationQueue``).
BEAT = 1.0
# How a worker's task ended, for SLURM, when it is replaced by a new one: ended by its time
# limit, a preemption or a node failure (or ``RETIRED``: it exited at SLURM's signal before).
REPLACED = ("TIMEOUT", "PREEMPTED", "NODE_FAIL", "BOOT_FAIL")
RETIRED = "exited at the signal of its time limit"
# Checks of a task gone from the queue whose end SLURM's accounting does not say yet, before
# it is taken as it is.
UNSETTLED_CHECKS = 5
# Replacements in a row with no evaluation finished in between, after which workers that
# end are not replaced any more (a time limit shorter than one evaluation).
FRUITLESS = 3


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
        self.context: ChunkContext | None = None
        self.executor: Any = None  # submitit's, made at the start, for every array of workers
        self.collected = 0  # evaluations whose returns came back
        self.fruitless = 0  # replacements in a row with no evaluation finished in between
        self.collected_at_replacement = 0
        self.unsettled: dict[str, int] = {}  # {task id: checks} of tasks whose end is unknown
        # An asynchronous search's evaluations in the queue: {number: (future, result path)},
        # set by the collecting thread (``submit_checked``).
        self.flying: dict[int, tuple[Future, str]] = {}
        self.flying_lock = threading.Lock()
        self.collecting = threading.Event()
        self.collector: threading.Thread | None = None
        self.collector_error: BaseException | None = None

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
        self.context = chunk_context(self.hydra_context, self.config, self.task, self.composer)
        self.executor = internals.submitit_executor(
            self.launcher, setup=slurm.thread_limits(params.get("setup"))
        )
        array = self._submit(workers)
        log.info(
            "Search workers: SLURM job %s, %d array tasks serving every evaluation (time limit "
            "%d min a task, each replaced when it ends); follow it with: squeue -j %s",
            array,
            workers,
            params["timeout_min"],
            array,
        )

    def _submit(self, workers: int) -> str:
        """Submit ``workers`` more workers as one array (``self.executor``'s); its job id."""
        directory = str(self.queue.directory)
        handles = list(
            self.executor.map_array(serve, [self.context] * workers, [directory] * workers)
        )
        self.handles += handles
        return handles[0].job_id.split("_")[0]

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
        checked = time.monotonic()
        poll = Polling()
        while pending:
            finished = self.queue.collect()
            got.update(finished)
            self.collected += len(finished)
            pending -= finished.keys()
            if not pending:
                break
            if time.monotonic() - checked > WORKERS_CHECK:
                self._release_of_ended_workers()
                checked = time.monotonic()
            poll.wait(bool(finished))
        return [got[number] for number, _ in jobs]

    # -- evaluations kept in flight (an asynchronous search) --------------------------------

    def compose_template(self, overrides: Sequence[str], index: int) -> None:
        """Compose the template of evaluations with ``overrides`` (the search's fixed ones)
        before the workers start: they get it with the search's context."""
        assert self.context is None, "the templates are sent with the context"
        self.composer.compose(tuple(overrides), index, values=False)

    def submit_checked(self, overrides: Sequence[str], index: int) -> Future:
        """The search's job ``index`` with ``overrides``, checked here (a bad override raises
        Hydra's error) and put in the queue for the next idle worker, for a search that keeps
        evaluations in flight: a future whose result is its ``Evaluation`` (numbered
        ``index``, without parameters), set as its worker puts the return back. One the
        experiment's checks refuse is a failed evaluation at once."""
        from optsweep.engine.search.evaluations import evaluation_of

        overrides = tuple(overrides)
        future: Future = Future()
        plans, refused = self.checked([overrides], index)
        if index in refused:
            future.set_result(evaluation_of(index, {}, refused[index], None))
            return future
        try:
            if not self.started:
                self._start()
            with self.flying_lock:
                if self.collector_error is not None:  # no worker is left to run it
                    future.set_exception(self.collector_error)
                    return future
                self.flying[index] = (future, str(plans[overrides].path))
            self.queue.put((index, overrides), plans[overrides])
        except BaseException:
            self.stop()
            raise
        self._collect_in_background()
        return future

    def _collect_in_background(self) -> None:
        """Start the thread that sets the futures of ``submit_checked`` as the workers put
        their returns back, and looks after the workers as ``_wait`` does (an evaluation
        held by a worker that ended goes back to the queue; no worker left fails every
        evaluation in flight with ``SearchFailed``)."""
        if self.collector is not None:
            return
        from optsweep.engine.search.evaluations import evaluation_of

        self.collecting.set()

        def collect() -> None:
            checked, poll = time.monotonic(), Polling()
            try:
                while self.collecting.is_set():
                    finished = self.queue.collect()
                    self.collected += len(finished)
                    for number, ret in finished.items():
                        with self.flying_lock:
                            flight = self.flying.pop(number, None)
                        if flight is not None:
                            flight[0].set_result(evaluation_of(number, {}, ret, flight[1]))
                    if time.monotonic() - checked > WORKERS_CHECK:
                        self._release_of_ended_workers()
                        checked = time.monotonic()
                    poll.wait(bool(finished))
            except BaseException as error:  # no worker left, or the queue is unreadable
                with self.flying_lock:
                    self.collector_error = error
                    flying, self.flying = list(self.flying.values()), {}
                for future, _ in flying:
                    future.set_exception(error)

        self.collector = threading.Thread(target=collect, name="optsweep-search-collector")
        self.collector.daemon = True
        self.collector.start()

    def _stop_collecting(self) -> None:
        self.collecting.clear()
        if self.collector is not None and self.collector is not threading.current_thread():
            self.collector.join()
        self.collector = None

    def _release_of_ended_workers(self) -> None:
        """Put back in the queue the evaluations that workers held when they ended (another
        worker runs them; a result saved meanwhile is found current); ``SearchFailed`` if no
        worker is left. A ``squeue`` that fails is asked again at the next check."""
        try:
            queued = slurm.queued_tasks()
        except slurm.SlurmUnreachable as error:
            log.warning("could not ask SLURM about the search's workers: %s", error)
            return
        ended_now = []
        for handle in self.handles:
            if handle.job_id not in queued and handle.job_id not in self.gone:
                how = self._how_it_ended(handle)
                if how is not None:
                    self.gone[handle.job_id] = how
                    ended_now.append(handle.job_id)
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
        self._replace(
            [t for t in ended_now if self.gone[t] == RETIRED or self.gone[t].startswith(REPLACED)]
        )
        if len(self.gone) == len(self.handles):
            states = ", ".join(f"{task}: {state}" for task, state in sorted(self.gone.items()))
            why = (
                f"; workers were replaced {FRUITLESS} times in a row with no evaluation "
                "finishing: is the time limit (hydra.launcher.timeout_min) shorter than one "
                "evaluation?"
                if self.fruitless >= FRUITLESS
                else ""
            )
            raise SearchFailed(
                f"every SLURM worker of the search ended before the search did ({states}){why}; "
                f"their logs: {Path(self.handles[0].paths.stderr).parent.parent}. The finished "
                "evaluations are kept: run the same command again to continue."
            )

    def _replace(self, ended: list[str]) -> None:
        """New workers for those that ended by their time limit, a preemption or a node."""
        if not ended:
            return
        progress = self.collected > self.collected_at_replacement
        self.fruitless = 0 if progress else self.fruitless + 1
        self.collected_at_replacement = self.collected
        if self.fruitless >= FRUITLESS:
            return
        array = self._submit(len(ended))
        log.info(
            "Search workers: %s ended (%s): replaced by SLURM job %s",
            ", ".join(ended),
            ", ".join(sorted({self.gone[task] for task in ended})),
            array,
        )

    def close(self) -> None:
        """The search ended: the workers, idle, exit at their next look at the queue (its
        ``stop``, which stays; the search does not wait for them), and any not started yet
        are cancelled."""
        super().close()
        self._stop_collecting()
        if not self.started:
            return
        self.started = False
        self.beating.clear()
        self.queue.stop()
        for array in self._arrays():
            slurm.cancel(array, pending_only=True)
        self.handles = []

    def stop(self, joined: bool = False) -> None:
        """Stop the workers now (Ctrl-C, SIGTERM, a failure): cancel the array (``joined``,
        as a pool's ``stop`` takes it: the cancelled tasks are not waited for)."""
        super().stop()
        self._stop_collecting()
        if not self.started:
            return
        self.started = False
        self.beating.clear()
        self.queue.stop()
        arrays = self._arrays()
        for array in arrays:
            slurm.cancel(array)
        if arrays:
            log.info("cancelled the search's SLURM workers (job %s)", ", ".join(arrays))
        self.handles = []
        shutil.rmtree(self.queue.directory, ignore_errors=True)

    def _arrays(self) -> list[str]:
        """The job ids of the workers' arrays with a worker that did not end."""
        return sorted({h.job_id.split("_")[0] for h in self.handles if h.job_id not in self.gone})

    def _how_it_ended(self, handle: Any) -> str | None:
        """How the task of ``handle``, gone from SLURM's queue, ended (``RETIRED`` if its
        worker said so); None while SLURM's accounting does not say it yet."""
        if self.queue.retired(_worker_of(handle.job_id)):
            return RETIRED
        try:  # asked now: submitit's cached state can be minutes old in a long search
            state = str(handle.watcher.get_state(handle.job_id, mode="force"))
        except Exception as error:  # sacct unavailable: say so instead
            return f"state unknown ({type(error).__name__})"
        if state in ("RUNNING", "COMPLETING", "PENDING", "REQUEUED", "UNKNOWN"):
            self.unsettled[handle.job_id] = self.unsettled.get(handle.job_id, 0) + 1
            if self.unsettled[handle.job_id] < UNSETTLED_CHECKS:
                return None
        return state


def _worker_of(task_id: str) -> str:
    """The queue's name of the worker that runs as array task ``task_id`` (``123_4``)."""
    return f"task-{task_id}"


def serve(context: ChunkContext, directory: str) -> int:
    """A SLURM array task's work: evaluate what the search's queue in ``directory`` holds
    until the search ends, or until SLURM signals that the task's time limit is near (or a
    preemption): then after the evaluation it holds. Returns how many evaluations it ran."""
    task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    worker = _worker_of(f"{task[0]}_{task[1]}") if all(task) else f"pid-{os.getpid()}"
    queue = EvaluationQueue(Path(directory))
    log_dir = worker_log_dir(context.sweep_dir, worker)
    retiring = threading.Event()  # in place of submitit's requeue (see the module docstring)
    signal.signal(signal.Signals[f"SIG{slurm_signal()}"], lambda *_: retiring.set())
    queue.release_all(worker)  # a requeued task (preempted, node failure) starts again
    served, poll = 0, Polling()
    while not queue.ended():
        if retiring.is_set():
            log.warning("search worker %s: its time limit is near; exits, to be replaced", worker)
            queue.retire(worker)
            break
        taken = queue.take(worker)
        if taken is None:
            poll.wait(False)
            continue
        job, plan = taken
        queue.finish(job[0], worker, run_evaluation(context, job, plan, log_dir))
        served += 1
        poll.wait(True)
    return served


class Polling:
    """The waits between two looks at the queue (``FIRST_POLL``, ``LAST_POLL``, ``HOT``)."""

    def __init__(self) -> None:
        self.busy_at, self.interval = time.monotonic(), FIRST_POLL

    def wait(self, found: bool) -> None:
        """Sleep before the next look; ``found``: whether this look found something."""
        now = time.monotonic()
        if found:
            self.busy_at, self.interval = now, FIRST_POLL
            return
        if now - self.busy_at > HOT:
            self.interval = min(self.interval * 2, LAST_POLL)
        time.sleep(self.interval)


def slurm_signal() -> str:
    """The signal SLURM sends before a task's time limit, as submitit asks for it (USR2)."""
    from submitit.slurm.slurm import SlurmJobEnvironment

    return str(SlurmJobEnvironment.USR_SIG)
