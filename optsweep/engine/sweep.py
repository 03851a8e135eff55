"""The ``checked_experiment`` sweeper: hydra-experiment-sweeper, made strict and resumable.

hydra-experiment-sweeper runs the sweep written in ``hydra.sweeper.overrides``. This sweeper
adds what a reproducible sweep needs, for any Hydra app:
- ``glob(...)`` sweeps over config groups (``settings: glob(*)``), so a new settings file joins
  the sweep without editing the sweep;
- ``hydra.sweeper.dry_run=true`` lists the jobs and runs none;
- a failed job no longer leaves exit code 0: the other jobs still run, then a summary names
  each failed job, its exception and its log file, and the command exits non-zero.

For an experiment's task function (``optsweep.engine.experiment``), also:
- every job is composed and checked before the first one runs (keys, the experiment's value
  checks, result paths, no two jobs writing one file), see ``optsweep.engine.plan``;
- jobs whose stored result is current (same recorded config, same code version) are skipped,
  unless ``output.overwrite=true``, and the dry run says which;
- with Hydra's basic launcher, jobs run in this process without per-job Hydra bookkeeping
  (``optsweep.engine.runner``), composed from per-setting templates (``compose``).
"""

import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.experiment_sweeper_plugin.experiment_sweeper import ExperimentSweeper
from omegaconf import DictConfig

from optsweep.engine import internals
from optsweep.engine.compose import FastComposer
from optsweep.engine.experiment import ExperimentTask, experiment_of
from optsweep.engine.plan import JobPlan, check_sweep
from optsweep.engine.progress import ProgressReport
from optsweep.engine.runner import InProcessRun
from optsweep.engine.store import ResultStore

log = logging.getLogger(__name__)

Job = tuple[int, tuple[str, ...]]  # (number in the sweep, overrides)


class SweepFailed(CompactHydraException):
    """Some jobs of the sweep failed; the others ran and kept their results. Its cause is the
    first failed job's exception, with its traceback."""


def _failure_line(ret: JobReturn, log_file: Path | None) -> str:
    error = internals.job_error(ret)
    if log_file is None and ret.hydra_cfg is not None:
        log_file = Path(ret.hydra_cfg.hydra.runtime.output_dir) / f"{ret.task_name}.log"
    return (
        f"  [{' '.join(ret.overrides or [])}]\n"
        f"    {type(error).__name__}: {error}\n"
        f"    log: {log_file or '(none)'}"
    )


def consecutive_batches(todo: list[Job], size: int) -> Iterator[list[Job]]:
    """``todo`` in batches of at most ``size`` jobs with consecutive numbers (a launcher
    numbers a batch's jobs from the first one's number on)."""
    batch: list[Job] = []
    for job in todo:
        if batch and (len(batch) == size or job[0] != batch[-1][0] + 1):
            yield batch
            batch = []
        batch.append(job)
    if batch:
        yield batch


class CheckedSweeper(ExperimentSweeper):
    """The sweeper's work; ``hydra_plugins.optsweep_sweeper`` holds its thin plugin class."""

    def __init__(
        self,
        max_batch_size: int | None,
        overrides: dict,
        dry_run: bool = False,
        search: Any = None,
        fast: bool = True,
    ):
        super().__init__(max_batch_size=max_batch_size, overrides=overrides)
        self.dry_run, self.search, self.fast = dry_run, search, fast

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.task_function = task_function
        self.task: ExperimentTask | None = experiment_of(task_function)
        self.composer = FastComposer(hydra_context.config_loader, config)

    # -- the jobs ---------------------------------------------------------------------------

    def generate_jobs(self, arguments: list[str]) -> list[tuple[str, ...]]:
        """All jobs: the product of the configured and command-line overrides.

        As in the base class, a key on the command line replaces the same key in
        ``hydra.sweeper.overrides``. Unlike it, every override knows the config loader, so
        ``glob(...)`` can list a config group's options.
        """
        assert self.hydra_context is not None
        loader = self.hydra_context.config_loader
        parser = OverridesParser.create(config_loader=loader)
        configured: list[Override] = []
        for key, value in self.overrides.items():
            if isinstance(value, str):
                configured += parser.parse_overrides([f"{key}={value}"])
            else:
                configured.append(internals.choice_sweep_override(key, list(value), loader))
        ordered = configured + parser.parse_overrides(arguments)
        latest = {override.get_key_element(): override for override in ordered}
        choices = []
        for key, override in latest.items():
            if override.is_sweep_override():
                values = list(override.sweep_string_iterator())
            else:
                values = [override.get_value_element_as_str()]
            choices.append([f"{key}={value}" for value in values])
        return list(itertools.product(*choices))

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None
        if self.search is not None:
            return self._run_search(arguments)
        log.info("Sweep output dir : %s", self.config.hydra.sweep.dir)
        jobs = self.generate_jobs(arguments)
        if self.task is None:
            return self._sweep_app(jobs)
        return self._sweep_experiment(jobs, self.task)

    def _sweep_app(self, jobs: list[tuple[str, ...]]) -> list[Sequence[JobReturn]]:
        """A plain Hydra app's sweep: as hydra-experiment-sweeper runs it (every job composed
        before launch), plus the dry run and the failure summary."""
        self.validate_batch_is_legal(jobs)
        if self.dry_run:
            for index, overrides in enumerate(jobs):
                print(f"#{index} [{' '.join(overrides)}]")
            print(f"dry run: {len(jobs)} jobs; nothing was run")
            return []
        self.save_sweep_config()
        todo = list(enumerate(jobs))
        return self._launch_all(todo, total=len(jobs), skipped=0, in_process=None)

    def _sweep_experiment(self, jobs: list[tuple[str, ...]], task: ExperimentTask) -> Any:
        assert self.config is not None
        store = ResultStore(task.experiment)
        plans = self._plan(jobs, store)
        statuses = [self._status(plan, store) for plan in plans]
        if self.dry_run:
            self._print_dry_run(plans, statuses)
            return []
        self.save_sweep_config()
        todo = [
            (index, plan.overrides)
            for index, (plan, status) in enumerate(zip(plans, statuses, strict=True))
            if status != "current"
        ]
        skipped = len(plans) - len(todo)
        if skipped:
            log.info(
                "%d of %d jobs are up to date and skipped (output.overwrite=true reruns them)",
                skipped,
                len(plans),
            )
        in_process = None
        if self._in_process():
            assert self.hydra_context is not None
            in_process = InProcessRun(
                self.composer, task, self.hydra_context, self.config.hydra.sweep.dir
            )
        by_overrides = {plan.overrides: plan for plan in plans}
        return self._launch_all(todo, len(plans), skipped, in_process, by_overrides)

    def _plan(self, jobs: list[tuple[str, ...]], store: ResultStore) -> list[JobPlan]:
        """Compose and check every job (``HydraConfig`` is the job's meanwhile, so
        ``${hydra:...}`` in an output path resolves as it will in the job)."""
        if self.fast:  # the Hydra node filled in only if a check may read it
            composed = (self.composer.compose(job, i, describe=False) for i, job in enumerate(jobs))
        else:
            composed = (self.composer.compose_stock(job, i) for i, job in enumerate(jobs))
        try:
            return check_sweep(composed, store)
        finally:
            assert self.config is not None
            HydraConfig.instance().set_config(self.config)

    @staticmethod
    def _status(plan: JobPlan, store: ResultStore) -> str:
        """Why a job runs ("missing", "stale", "overwrite") or "current" if it is skipped."""
        status = store.status(plan.path, plan.config)
        return "overwrite" if status == "current" and plan.overwrite else status

    # -- launching --------------------------------------------------------------------------

    def _in_process(self) -> bool:
        """Whether jobs may run through ``InProcessRun``: Hydra's basic launcher, and no job
        (as the checks composed them) changes its working directory or environment."""
        assert self.config is not None
        job = self.config.hydra.job
        return (
            self.fast
            and internals.is_basic_launcher(self.launcher)
            and not job.chdir
            and not job.env_set
            and not self.composer.per_job_environment
        )

    def _batches(self, todo: list[Job], in_process: InProcessRun | None) -> Iterable[list[Job]]:
        """Batches of ``todo``, each job keeping its number in the sweep (``${hydra:job.num}``,
        its ``<sweep dir>/<num>`` directory), as the checks assumed, whichever jobs are
        skipped. In-process jobs run in one batch."""
        if in_process is not None:
            return [todo] if todo else []
        return consecutive_batches(todo, self.batch_size(todo) or 1)

    def _launch_all(
        self,
        todo: list[Job],
        total: int,
        skipped: int,
        in_process: InProcessRun | None,
        plans: dict[tuple, JobPlan] | None = None,
    ) -> list[Sequence[JobReturn]]:
        assert self.config is not None and self.launcher is not None
        returns: list[Sequence[JobReturn]] = []
        failed: list[JobReturn] = []
        with ProgressReport(self.config.hydra.sweep.dir, len(todo)):
            for batch in self._batches(todo, in_process):
                if in_process is not None:
                    results: Sequence[JobReturn] = in_process.run(batch, plans or {})
                else:
                    overrides = [list(job) for _, job in batch]
                    results = self.launcher.launch(overrides, initial_job_idx=batch[0][0])
                returns.append(results)
                failed += [r for r in results if r.status is not JobStatus.COMPLETED]
        summary = (
            f"{total} jobs: {skipped} skipped (up to date), "
            f"{len(todo) - len(failed)} ran, {len(failed)} failed"
        )
        if failed:
            log_file = in_process.log_file if in_process is not None else None
            raise SweepFailed(
                f"{summary}. Failed jobs (the other results were saved):\n"
                + "\n".join(_failure_line(r, log_file) for r in failed)
            ) from internals.job_error(failed[0])
        log.info(summary)
        return returns

    # -- searches and the dry run -----------------------------------------------------------

    def _run_search(self, arguments: list[str]) -> Any:
        """The search of ``search=<name>``, its state and tuned settings under
        ``<output.dir>/search=<name>/``."""
        from omegaconf import OmegaConf

        from optsweep.engine.search.config import CheckedOptimConf
        from optsweep.engine.search.nevergrad import NevergradSearch

        assert self.config is not None and self.hydra_context is not None
        choices = self.config.hydra.runtime.choices
        name = choices.get("search")
        optim = OmegaConf.merge(OmegaConf.structured(CheckedOptimConf), self.search.optim)
        search = NevergradSearch(
            optim,
            params=self.search.get("params"),
            state_dir=str(Path(self.config.output.dir) / f"search={name}"),
            search_name=name,
            tunes_settings=choices.get("settings"),
        )
        search.setup(
            hydra_context=self.hydra_context, task_function=self.task_function, config=self.config
        )
        return search.sweep(arguments)

    @staticmethod
    def _print_dry_run(plans: list[JobPlan], statuses: list[str]) -> None:
        actions = {
            "missing": "run (no result)",
            "stale": "run (stale result)",
            "overwrite": "run (overwrite)",
            "current": "skip (up to date)",
        }
        for index, (plan, status) in enumerate(zip(plans, statuses, strict=True)):
            print(f"#{index} {actions[status]:18} [{' '.join(plan.overrides)}] -> {plan.path}")
        to_run = sum(status != "current" for status in statuses)
        print(
            f"dry run: {len(plans)} jobs, {to_run} would run, "
            f"{len(plans) - to_run} would be skipped; nothing was run"
        )
