"""A search's evaluations on joblib's process pool (``launcher=local``), its workers started
once for the whole search.

Each evaluation is one task of loky's reusable executor (joblib's own process pool), sent
with the search's chunk context pickled once; a worker unpickles that context once and keeps
its composer, so an evaluation costs a worker what a job of a sweep's chunk costs. A batch
waits for all its evaluations. Submitting to the executor directly costs ~0.5 ms a batch,
where a ``joblib.Parallel`` call costs ~10 ms (measured with 2 workers).
"""

import logging
import os
import pickle
import queue
import signal
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext
from omegaconf import DictConfig

from optsweep.engine import internals
from optsweep.engine.chunks import (
    ChunkContext,
    ChunkDied,
    Job,
    chunk_context,
    composer_of,
    import_modules,
    run_evaluation,
    say_failed_imports,
)
from optsweep.engine.compose import FastComposer
from optsweep.engine.experiment import ExperimentTask
from optsweep.engine.files import remove_abandoned_lock
from optsweep.engine.job import FoundCurrent
from optsweep.engine.plan import JobPlan
from optsweep.engine.search.launching import CheckedEvaluations, worker_log_dir
from optsweep.engine.slurm import THREAD_VARIABLES

log = logging.getLogger(__name__)

# Why an evaluation in flight when a pool broke a second time failed.
DIED_TWICE = "a joblib worker died during this evaluation, twice"
# Seconds an idle worker waits for the next evaluation before it exits (loky's timeout).
IDLE_TIMEOUT = 300


def not_sent(error: BaseException) -> bool:
    """Whether a task's ``BrokenProcessPool`` says the pool had broken before the task was
    sent (``OnPoolWorkers._submit_task``): no worker ran it, so its evaluation lived through
    no death."""
    return getattr(error, "not_sent", False)


def pool(options: dict[str, Any]) -> Any:
    """loky's executor of ``hydra.launcher.n_jobs`` workers for a search (the same one for
    the same options: loky reuses it); their math libraries get their share of the cores, as
    joblib gives its workers."""
    from joblib.externals.loky import get_reusable_executor

    from optsweep.engine.internals import joblib_workers

    workers = joblib_workers(options)
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    environment = {variable: os.environ.get(variable, threads) for variable in THREAD_VARIABLES}
    return get_reusable_executor(
        max_workers=workers, timeout=IDLE_TIMEOUT, env=environment, initializer=ignore_interrupts
    )


def ignore_interrupts() -> None:
    """A pool worker's start: Ctrl-C (SIGINT, which reaches the whole process group) is the
    sweeping process's to handle, and it stops the workers. Only an evaluation is interrupted
    by it (``evaluate``): an idle worker, interrupted in loky's loop, would print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def warm_up(options: dict[str, Any], modules: Sequence[str], task: ExperimentTask) -> None:
    """Start the search's pool now, each worker importing ``modules`` and the experiment's
    ``imports``, while this process goes on (importing the optimizer, opening the study): the
    first batch then finds its workers ready."""
    from optsweep.engine.internals import joblib_workers

    said: set[str] = set()

    def say(future: Future) -> None:  # in the executor's thread, as each warm-up ends
        if not future.cancelled() and future.exception() is None:
            say_failed_imports(task, [what for what in future.result() if what not in said])
            said.update(future.result())

    executor = pool(options)
    for _ in range(joblib_workers(options)):
        executor.submit(import_modules, modules, task.experiment.imports).add_done_callback(say)


class OnPoolWorkers(CheckedEvaluations):
    """Evaluations on loky's process pool of ``hydra.launcher.n_jobs`` workers."""

    def __init__(
        self,
        composer: FastComposer,
        task: ExperimentTask,
        hydra_context: HydraContext,
        config: DictConfig,
        options: dict[str, Any],
    ):
        super().__init__(composer, task, hydra_context, config)
        self.options = options
        self.executor: Any = None
        self.context: ChunkContext | None = None
        self.sent: bytes = b""
        self.broke = False  # the pool broke during the batch being run

    def _executor(self) -> Any:
        if self.executor is None:
            self.executor = pool(self.options)
        return self.executor

    def _context(self) -> bytes:
        """The search's chunk context, pickled once (with the templates composed so far)."""
        if self.context is None:
            self.context = chunk_context(self.hydra_context, self.config, self.task, self.composer)
            import cloudpickle  # as loky pickles: the task function may be __main__'s

            self.sent = cloudpickle.dumps(self.context)
        return self.sent

    def run(self, jobs: list[Job], plans: dict[tuple, JobPlan]) -> list[JobReturn]:
        """The jobs' returns. If a worker dies (OOM, ``kill -9``), loky breaks the pool and
        every evaluation in flight with it: those whose result was not saved run again once,
        on a new pool; a second death fails them, naming it."""
        try:
            self.broke = False
            returns = self._submitted(jobs, plans)
            broken = [i for i, ret in enumerate(returns) if isinstance(ret, BaseException)]
            if self.broke and not broken:
                log.warning(
                    "a joblib worker died; every evaluation in flight had saved its result: "
                    "going on on a new pool"
                )
            if broken:
                log.warning("a joblib worker died; evaluating %d again on a new pool", len(broken))
                again = self._submitted([jobs[i] for i in broken], plans)
                for i, ret in zip(broken, again, strict=True):
                    returns[i] = ret
        except BaseException:  # Ctrl-C, SIGTERM: the evaluations in flight stop with it
            self.stop()
            for job in jobs:  # a killed worker's lock file
                plan = plans.get(job[1])
                if plan is not None:
                    remove_abandoned_lock(plan.path)
            raise
        return [
            self._died(job, ret, plans) if isinstance(ret, BaseException) else ret
            for job, ret in zip(jobs, returns, strict=True)
        ]

    def _submitted(self, jobs: list[Job], plans: dict[tuple, JobPlan]) -> list[Any]:
        """Each job's return, or the error of a pool that broke before it came back (the
        pool is then dropped). A return that could not come back is a failed evaluation."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            futures = self._submit(jobs, plans)
        except BrokenProcessPool:  # a worker died while idle, between two batches
            log.warning("a joblib worker died between two batches: starting a new pool")
            self.executor = None
            futures = self._submit(jobs, plans)
        returns: list[Any] = []
        for job, future in zip(jobs, futures, strict=True):
            try:
                returns.append(future.result())
            except BrokenProcessPool as error:
                returns.append(self._saved(job, plans) or error)
                self.executor, self.broke = None, True
            except Exception as error:  # the return (or its error) did not survive pickling
                ret = JobReturn(overrides=list(job[1]))
                internals.job_failed(
                    ret, RuntimeError(f"the evaluation's return was lost: {error!r}")
                )
                returns.append(ret)
        return returns

    def _submit(self, jobs: list[Job], plans: dict[tuple, JobPlan]) -> list[Any]:
        context = self._context()
        assert self.context is not None
        executor = self._executor()  # loky makes a new pool if the last one broke
        return [
            executor.submit(evaluate, self.context.token, context, job, plans.get(job[1]))
            for job in jobs
        ]

    def compose_template(self, overrides: Sequence[str], index: int) -> None:
        """Compose here the template of evaluations with ``overrides`` (the search's fixed
        ones), for workers that compose their own evaluations: they reuse it, as a sweep's
        chunks do (stock Hydra composes only in the sweeping process)."""
        assert self.context is None, "the templates are sent with the context"
        self.composer.compose(tuple(overrides), index, values=False)

    def submit_checked(self, overrides: Sequence[str], index: int) -> Any:
        """A task that checks and runs the search's job ``index`` with ``overrides`` on a
        worker (``checked_evaluation``), for a search that keeps evaluations in flight: its
        future, whose result is the job's ``Evaluation``."""
        return self._submit_task(checked_evaluation, tuple(overrides), index)

    def submit_trial(self, work: Any, number: int, index: int, resumed: str | None) -> Any:
        """A task that asks for, evaluates and tells one trial of an asynchronous Optuna
        search on a worker (``optsweep.engine.search.optuna_workers.run_trial``): its future."""
        from optsweep.engine.search.optuna_workers import run_trial

        return self._submit_task(run_trial, work, number, index, resumed)

    def _submit_task(self, task: Any, *arguments: Any) -> Any:
        """The future of ``task(token, context, *arguments)`` on the pool. A pool that broke
        since the last task came back (a worker died meanwhile) takes none: the future then
        fails as those in flight do, with loky's ``BrokenProcessPool`` (marked ``not_sent``:
        it is sent again without counting a death), and the search's handling of a death
        applies to it."""
        from concurrent.futures.process import BrokenProcessPool

        context = self._context()
        assert self.context is not None
        try:
            return self._executor().submit(task, self.context.token, context, *arguments)
        except BrokenProcessPool as error:
            error.not_sent = True  # type: ignore[attr-defined]  # (``not_sent``)
            future: Future = Future()
            future.set_exception(error)
            return future

    def broken(self) -> None:
        """A worker died and loky broke the pool: once its other workers are killed and
        joined (loky fails the tasks in flight first: a worker may still be asking for a
        trial meanwhile), the next task starts a new pool."""
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        self.executor = None

    def _saved(self, job: Job, plans: dict[tuple, JobPlan]) -> JobReturn | None:
        """The return of ``job`` from its saved result, if its worker saved it before dying."""
        plan = plans.get(job[1])
        stored = None if plan is None else self.store.current(plan.path, plan.config)
        if stored is None:
            return None
        ret = JobReturn(overrides=list(job[1]))
        ret.return_value = FoundCurrent(self.task.experiment.value_of(stored["result"]))
        ret.status = JobStatus.COMPLETED
        return ret

    def _died(self, job: Job, error: BaseException, plans: dict[tuple, JobPlan]) -> JobReturn:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        ret = JobReturn(overrides=list(job[1]))
        internals.job_failed(ret, ChunkDied(f"{DIED_TWICE}: {reason}"))
        plan = plans.get(job[1])
        if plan is not None:
            remove_abandoned_lock(plan.path)
        return ret

    def close(self) -> None:
        """The search ended: its idle workers exit."""
        super().close()
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None

    def stop(self, joined: bool = True) -> None:
        """Stop the workers now, evaluations in flight with them (``joined``: return once
        they are killed, so that none tells a study anything more, none starts a queued
        evaluation after the search said it stopped, and their lock files can be removed)."""
        super().stop()
        if self.executor is not None:
            shut_down_killing(self.executor, wait=joined)
            self.executor = None


def shut_down_killing(executor: Any, wait: bool) -> None:
    """``executor.shutdown(wait, kill_workers=True)`` (loky's), without loky's traceback.

    loky fails the tasks not yet sent to a worker, but leaves their ids in its queue of work
    ids; its manager thread then looks one up (``KeyError`` in ``add_call_item_to_queue``,
    printed on stderr as an exception in thread ExecutorManagerThread, after a stopped
    search said its summary). Taking the ids out first leaves it nothing to look up: the
    tasks are failed all the same (``ShutdownExecutorError``)."""
    work_ids = getattr(executor, "_work_ids", None)
    while work_ids is not None:
        try:
            work_ids.get_nowait()
        except queue.Empty:
            break
    executor.shutdown(wait=wait, kill_workers=True)


# Per worker process: the search context it last unpickled, by token, and the evaluations
# that check jobs with it.
_CONTEXTS: dict[str, ChunkContext] = {}
_CHECKED: dict[str, "WorkerEvaluations"] = {}


def _unpacked(token: str, context: bytes) -> ChunkContext:
    """The search's context in this worker, unpickled at its first task of the search."""
    if token not in _CONTEXTS:
        _CONTEXTS.clear()
        _CONTEXTS[token] = pickle.loads(context)
    return _CONTEXTS[token]


def evaluate(token: str, context: bytes, job: Job, plan: JobPlan | None) -> JobReturn:
    """Evaluate ``job`` in this pool worker (``context``: the search's, pickled)."""
    unpacked = _unpacked(token, context)
    log_dir: Path = worker_log_dir(unpacked.sweep_dir, f"pid-{os.getpid()}")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops the evaluation
    try:
        return run_evaluation(unpacked, job, plan, log_dir)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


class WorkerEvaluations(CheckedEvaluations):
    """A worker's evaluations: each checked here as the sweeping process checks a batch's,
    then run by the chunks' in-process path, logged to the worker's own log directory."""

    def __init__(self, context: ChunkContext):
        super().__init__(composer_of(context), context.task, context.hydra_context, context.master)
        self.context = context
        self.log_dir = worker_log_dir(context.sweep_dir, f"pid-{os.getpid()}")

    def run(self, jobs: list[Job], plans: dict[tuple, JobPlan]) -> list[JobReturn]:
        return [run_evaluation(self.context, job, plans.get(job[1]), self.log_dir) for job in jobs]


def worker_evaluations(token: str, context: bytes) -> WorkerEvaluations:
    """This worker's checking evaluations for the search ``token`` (``context``: the
    search's, pickled, unpickled once per worker)."""
    if token not in _CHECKED:
        _CHECKED.clear()
        _CHECKED[token] = WorkerEvaluations(_unpacked(token, context))
    return _CHECKED[token]


def checked_evaluation(token: str, context: bytes, overrides: tuple[str, ...], index: int):
    """In a pool worker: the search's job ``index`` with ``overrides``, checked (a refused
    one is a failed evaluation; a bad override raises Hydra's error) and run. Its
    ``Evaluation``, numbered ``index`` and without parameters: the sweeping process gives it
    its number in the trace and its point."""
    from optsweep.engine.search.evaluations import evaluation_of

    evaluations = worker_evaluations(token, context)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops the evaluation
    try:
        ((ret, path),) = evaluations.evaluate([overrides], index)
        return evaluation_of(index, {}, ret, path)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
