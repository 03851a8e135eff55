"""A search's evaluations on joblib's process pool (``launcher=local``), its workers started
once for the whole search.

Each evaluation is one task of loky's reusable executor (joblib's own process pool), sent
with the search's chunk context pickled once; a worker unpickles that context once and keeps
its composer, so an evaluation costs a worker what a job of a sweep's chunk costs. A batch
waits for all its evaluations. Submitting to the executor directly costs ~0.5 ms a batch,
where a ``joblib.Parallel`` call costs ~10 ms (measured with 2 workers).
"""

import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn
from hydra.types import HydraContext
from omegaconf import DictConfig

from optsweep.engine.chunks import (
    ChunkContext,
    ChunkDied,
    Job,
    import_modules,
    returns_of_a_dead_chunk,
    run_evaluation,
)
from optsweep.engine.compose import FastComposer
from optsweep.engine.experiment import ExperimentTask
from optsweep.engine.plan import JobPlan
from optsweep.engine.search.launching import CheckedEvaluations, worker_log_dir
from optsweep.engine.slurm import THREAD_VARIABLES

# Seconds an idle worker waits for the next evaluation before it exits (loky's timeout).
IDLE_TIMEOUT = 300


def pool(options: dict[str, Any]) -> Any:
    """loky's executor of ``hydra.launcher.n_jobs`` workers for a search (the same one for
    the same options: loky reuses it); their math libraries get their share of the cores, as
    joblib gives its workers."""
    from joblib.externals.loky import get_reusable_executor

    from optsweep.engine.internals import joblib_workers

    workers = joblib_workers(options)
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    environment = {variable: os.environ.get(variable, threads) for variable in THREAD_VARIABLES}
    return get_reusable_executor(max_workers=workers, timeout=IDLE_TIMEOUT, env=environment)


def warm_up(options: dict[str, Any], modules: Sequence[str]) -> None:
    """Start the search's pool now, each worker importing ``modules``, while this process
    goes on (importing the optimizer, opening the study): the first batch then finds its
    workers ready."""
    from optsweep.engine.internals import joblib_workers

    executor = pool(options)
    for _ in range(joblib_workers(options)):
        executor.submit(import_modules, modules)


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

    def _executor(self) -> Any:
        if self.executor is None:
            self.executor = pool(self.options)
        return self.executor

    def _context(self) -> bytes:
        """The search's chunk context, pickled once (with the templates composed so far)."""
        if self.context is None:
            self.context = ChunkContext(
                self.hydra_context,
                self.config,
                self.task,
                self.sweep_dir,
                Singleton.get_state(),
                templates=dict(self.composer.templates),
            )
            import cloudpickle  # as loky pickles: the task function may be __main__'s

            self.sent = cloudpickle.dumps(self.context)
        return self.sent

    def run(self, jobs: list[Job], plans: dict[tuple, JobPlan]) -> list[JobReturn]:
        from concurrent.futures.process import BrokenProcessPool

        context = self._context()
        assert self.context is not None
        executor = self._executor()
        futures = [
            executor.submit(evaluate, self.context.token, context, job, plans.get(job[1]))
            for job in jobs
        ]
        returns = []
        try:
            for job, future in zip(jobs, futures, strict=True):
                try:
                    returns.append(future.result())
                except BrokenProcessPool as error:  # a worker was killed (OOM, kill -9)
                    reason = str(error).strip().splitlines()[0]
                    died = ChunkDied(f"a joblib worker died during this evaluation: {reason}")
                    returns += returns_of_a_dead_chunk([job], self.sweep_dir, died, plans=plans)
                    self.executor = None  # the next batch starts a new pool
        except BaseException:  # Ctrl-C, SIGTERM: the evaluations in flight stop with it
            self.stop()
            raise
        return returns

    def close(self) -> None:
        """The search ended: its idle workers exit."""
        super().close()
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None

    def stop(self) -> None:
        """Stop the workers now, evaluations in flight with them."""
        super().stop()
        if self.executor is not None:
            self.executor.shutdown(wait=False, kill_workers=True)
            self.executor = None


# Per worker process: the search context it last unpickled, by token.
_CONTEXTS: dict[str, ChunkContext] = {}


def evaluate(token: str, context: bytes, job: Job, plan: JobPlan | None) -> JobReturn:
    """Evaluate ``job`` in this pool worker (``context``: the search's, pickled)."""
    if token not in _CONTEXTS:
        _CONTEXTS.clear()
        _CONTEXTS[token] = pickle.loads(context)
    unpacked = _CONTEXTS[token]
    log_dir: Path = worker_log_dir(unpacked.sweep_dir, f"pid-{os.getpid()}")
    return run_evaluation(unpacked, job, plan, log_dir)
