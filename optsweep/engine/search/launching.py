"""Where a search's evaluations run: each batch of trials its optimizer asked for, evaluated
together, their returns in the batch's order.

An experiment's evaluations are checked in the sweeping process, each as a sweep's job is
(composed from its setting's template, the experiment's checks, its result path), then run
by the sweep's in-process path (``InProcessRun``):
- in this process, with Hydra's basic launcher;
- on joblib's process pool (``launcher=local``, ``hydra.launcher.n_jobs`` workers), whose
  workers start once for the whole search (``optsweep.engine.search.pool_workers``);
- on SLURM (``launcher=slurm``), by one array task per worker, submitted once, each taking
  evaluations from a queue on the shared file system until the search ends
  (``optsweep.engine.search.slurm_workers``).

Every batch is evaluated whole before the optimizer is told and asks again, so a search with
a fixed seed asks for the same trials on every launcher and with any number of workers. A
plain Hydra app's evaluations, and jobs that change their working directory or environment,
go through Hydra's launcher as upstream's sweepers launch them.
"""

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from optsweep.engine import internals
from optsweep.engine.chunks import Job
from optsweep.engine.compose import FastComposer
from optsweep.engine.experiment import ExperimentTask, experiment_of
from optsweep.engine.plan import INVALID, JobPlan, plan_from_resolved, resolved_by_family
from optsweep.engine.progress import mark_job_end
from optsweep.engine.resolve import FamilyResolver
from optsweep.engine.runner import InProcessRun
from optsweep.engine.search.errors import SearchRefused
from optsweep.engine.store import ResultStore

log = logging.getLogger(__name__)

Evaluated = tuple[JobReturn, str | None]  # an evaluation's return, its result file if any


class Evaluations(Protocol):
    """Evaluates batches of overrides, numbered from ``first`` on."""

    def evaluate(self, batch: Sequence[tuple[str, ...]], first: int) -> list[Evaluated]: ...

    def close(self) -> None:
        """The search ended (or failed): its workers exit."""

    def stop(self) -> None:
        """Ctrl-C or SIGTERM: the workers stop now, evaluations in flight with them."""


def evaluations_for(
    sweeper: Any,
    launcher: Any,
    hydra_context: HydraContext,
    task_function: TaskFunction,
    config: DictConfig,
    workers: int,
) -> Evaluations:
    """How the search ``sweeper`` evaluates on ``launcher`` (Hydra's, as configured), asking
    for ``workers`` evaluations at once."""
    task = experiment_of(task_function)
    job = config.hydra.job
    if task is None or job.chdir or job.env_set:
        return ThroughLauncher(sweeper, launcher)
    composer = FastComposer(hydra_context.config_loader, config)
    if internals.is_basic_launcher(launcher):
        return InThisProcess(composer, task, hydra_context, config)
    if internals.is_joblib_launcher(launcher):
        options = internals.joblib_options(launcher)
        if options["backend"] == "loky" and not options.get("inner_max_num_threads"):
            from optsweep.engine.search.pool_workers import OnPoolWorkers

            return OnPoolWorkers(composer, task, hydra_context, config, options)
    if internals.is_slurm_launcher(launcher):
        from optsweep.engine.search.slurm_workers import OnSlurmWorkers

        return OnSlurmWorkers(composer, task, hydra_context, config, launcher, workers)
    return ThroughLauncher(sweeper, launcher)


class ThroughLauncher:
    """Each batch through Hydra's launcher, as hydra-nevergrad-sweeper launches it."""

    def __init__(self, sweeper: Any, launcher: Any):
        self.sweeper, self.launcher = sweeper, launcher
        self.store = getattr(sweeper, "store", None)

    def evaluate(self, batch: Sequence[tuple[str, ...]], first: int) -> list[Evaluated]:
        self.sweeper.validate_batch_is_legal(batch)
        returns = self.launcher.launch(list(batch), initial_job_idx=first)
        return [(ret, self._path(ret)) for ret in returns]

    def _path(self, ret: JobReturn) -> str | None:
        if self.store is None or ret.cfg is None:
            return None
        return str(self.store.path(ret.cfg.output, list(ret.overrides or ()), ret.cfg))

    def close(self) -> None:
        pass

    def stop(self) -> None:
        pass


class CheckedEvaluations:
    """An experiment's evaluations, each checked here as a sweep's job, then run by
    ``run`` (a subclass's: in this process or on workers) with its plan."""

    def __init__(
        self,
        composer: FastComposer,
        task: ExperimentTask,
        hydra_context: HydraContext,
        config: DictConfig,
    ):
        self.composer, self.task = composer, task
        self.hydra_context, self.config = hydra_context, config
        self.store = ResultStore(task.experiment)
        self.sweep_dir = str(config.hydra.sweep.dir)
        # The evaluations of a search set the same keys (its dimensions) to plain values: one
        # family, checked in full once, then resolved from what they share, as a sweep's jobs.
        self.families = FamilyResolver()

    def evaluate(self, batch: Sequence[tuple[str, ...]], first: int) -> list[Evaluated]:
        """Check every evaluation of the batch (a bad override raises Hydra's error before
        any of it runs; one the experiment's checks refuse is a failed evaluation), then run
        the others."""
        plans, refused = self.checked(batch, first)
        todo = [(n, tuple(o)) for n, o in enumerate(batch, first) if n not in refused]
        ran = iter(self.run(todo, plans) if todo else [])
        evaluated: list[Evaluated] = []
        for number, overrides in enumerate(batch, first):
            if number in refused:
                evaluated.append((refused[number], None))
            else:
                evaluated.append((next(ran), str(plans[tuple(overrides)].path)))
        return evaluated

    def checked(
        self, batch: Sequence[tuple[str, ...]], first: int
    ) -> tuple[dict[tuple, JobPlan], dict[int, JobReturn]]:
        """The plans of the batch's evaluations (by overrides) and the returns of those the
        experiment's checks refuse (by number); a bad override raises Hydra's error."""
        plans: dict[tuple, JobPlan] = {}
        refused: dict[int, JobReturn] = {}
        # Each job's Hydra node is current while it is checked and run, as in a sweep; the
        # sweep's own is restored once, by ``close`` (a copy of it costs ~5 ms).
        for number, overrides in enumerate(batch, first):
            job = self.composer.compose(overrides, number)
            if self.composer.per_job_environment:  # a setting's chdir/env_set: Hydra's to apply
                raise SearchRefused(
                    f"search refused at evaluation #{number} [{' '.join(overrides)}]: its "
                    "config sets hydra.job.chdir or hydra.job.env_set, which a search's "
                    "evaluations do not apply: drop it from the setting"
                )
            assert job.task is not None
            try:
                resolved = resolved_by_family(job, self.families, self.store)
                plans[tuple(overrides)] = plan_from_resolved(resolved, overrides, self.store)
            except INVALID as error:
                refused[number] = _refused(overrides, error, job.hydra.job.name)
                mark_job_end(self.sweep_dir, number, refused[number].status)
        return plans, refused

    def run(self, jobs: list[Job], plans: dict[tuple, JobPlan]) -> list[JobReturn]:
        raise NotImplementedError

    def close(self) -> None:
        """The search's own Hydra node is current again."""
        HydraConfig.instance().set_config(self.config)

    def stop(self) -> None:
        HydraConfig.instance().set_config(self.config)


def _refused(overrides: Sequence[str], error: BaseException, name: str) -> JobReturn:
    ret = JobReturn(overrides=list(overrides), task_name=name, working_dir=os.getcwd())
    internals.job_failed(ret, error)
    return ret


class InThisProcess(CheckedEvaluations):
    """Evaluations run one after the other in this process, as the sweep's jobs are."""

    def __init__(self, *arguments: Any):
        super().__init__(*arguments)
        # One run for the whole search: its job logging stays configured between batches,
        # and Hydra's is restored when the search ends.
        self.runner = InProcessRun(self.composer, self.task, self.hydra_context, self.sweep_dir)
        self.runner.keep_logging = True

    def run(self, jobs: list[Job], plans: dict[tuple, JobPlan]) -> list[JobReturn]:
        return self.runner.run(jobs, plans)

    def close(self) -> None:
        super().close()
        self.runner.restore_logging()

    def stop(self) -> None:
        super().stop()
        self.runner.restore_logging()


def worker_log_dir(sweep_dir: str, worker: str) -> Path:
    """Where the worker ``worker`` of a search logs its evaluations."""
    return Path(sweep_dir) / "workers" / worker
