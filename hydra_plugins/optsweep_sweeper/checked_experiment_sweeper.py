"""``hydra/sweeper=checked_experiment``: the experiment sweeper, made strict and resumable.

hydra-experiment-sweeper 0.1.1 runs the sweep written in ``hydra.sweeper.overrides``. This
subclass adds what a reproducible sweep needs:
- ``glob(...)`` sweeps over config groups (``settings: glob(*)``), so a new settings file joins
  the sweep without editing the sweep;
- every job is composed and checked before the first one runs (options, keys, types, result
  paths, no two jobs writing one file), see ``optsweep.preflight``;
- jobs whose stored result is current (same recorded config, same code version) are skipped,
  unless ``output.overwrite=true``; ``hydra.sweeper.dry_run=true`` lists what would happen;
- a failed job no longer leaves exit code 0: the other jobs still run, then a summary names
  each failed job, its exception and its log file, and the command exits non-zero.
"""

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra_plugins.experiment_sweeper_plugin.experiment_sweeper import (
    ExperimentSweeper,
    SweeperConfig,
)
from hydra_plugins.optsweep_sweeper.checked_nevergrad_sweeper import (
    CheckedNevergradSweeper,
    CheckedOptimConf,
)
from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from omegaconf import OmegaConf

from optsweep.fastrun import FastComposer, run_in_process
from optsweep.preflight import JobPlan, check_sweep
from optsweep.progress import ProgressReport
from optsweep.provenance import code_version
from optsweep.results import is_current

log = logging.getLogger(__name__)


@dataclass
class CheckedExperimentSweeperConfig(SweeperConfig):
    _target_: str = (
        "hydra_plugins.optsweep_sweeper.checked_experiment_sweeper.CheckedExperimentSweeper"
    )
    # List every job (overrides, result file, run or skip) and run none.
    dry_run: bool = False
    # Set by a search file (experiment/search/*.yaml): run that nevergrad search instead of
    # the grid. Keys: optim (see CheckedOptimConf), params (the search space).
    search: Any = None
    # Compose jobs from cached per-setting templates and run in-process jobs without per-job
    # Hydra bookkeeping (optsweep.fastrun); false: stock Hydra composition and launcher.
    fast: bool = True


ConfigStore.instance().store(
    group="hydra/sweeper",
    name="checked_experiment",
    node=CheckedExperimentSweeperConfig,
    provider="optsweep",
)


class SweepFailed(CompactHydraException):
    """Some jobs of the sweep failed; the others ran and kept their results."""


def _failure_line(ret: JobReturn) -> str:
    error = ret._return_value
    # In-process runs log to one file per sweep; other launchers to the job's output dir
    # (its working directory is the caller's, unchanged).
    log_file = getattr(ret, "log_file", None) or \
        Path(ret.hydra_cfg.hydra.runtime.output_dir) / f"{ret.task_name}.log"
    return (
        f"  [{' '.join(ret.overrides or [])}]\n"
        f"    {type(error).__name__}: {error}\n"
        f"    log: {log_file}"
    )


def _status(plan: JobPlan, code: str) -> str:
    """Why a job runs ("missing", "stale", "overwrite") or "current" if it is skipped."""
    if not plan.path.exists():
        return "missing"
    if not is_current(plan.path, plan.config, code):
        return "stale"
    return "overwrite" if plan.overwrite else "current"


def _numbered_batches(todo: list[tuple[int, tuple]], size: int):
    """``todo`` in batches of at most ``size`` jobs with consecutive indices."""
    batch = []
    for job in todo:
        if batch and (len(batch) == size or job[0] != batch[-1][0] + 1):
            yield batch
            batch = []
        batch.append(job)
    if batch:
        yield batch


class CheckedExperimentSweeper(ExperimentSweeper):
    def __init__(self, max_batch_size, overrides, dry_run: bool = False, search=None,
                 fast: bool = True):
        super().__init__(max_batch_size=max_batch_size, overrides=overrides)
        self.dry_run, self.search, self.fast = dry_run, search, fast
        self.task_function = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.task_function = task_function
        self.composer = FastComposer(hydra_context.config_loader, config)

    def _in_process(self) -> bool:
        """Whether jobs may run through ``run_in_process``: Hydra's basic launcher, no
        per-job working directory or environment."""
        job = self.config.hydra.job
        return self.fast and type(self.launcher) is BasicLauncher and not job.chdir \
            and not job.env_set

    def _batches(self, todo: list[tuple[int, tuple]]):
        """Batches of ``todo`` ((index in the sweep, overrides) of the jobs to run), each job
        keeping its index in the sweep as its number (``${hydra:job.num}``, its
        ``<sweep dir>/<num>`` directory), as the checks assumed, whichever jobs are skipped.
        In-process jobs run in one batch; a launcher numbers a batch's jobs from the first
        one's index on, so its batches hold consecutive indices."""
        if self._in_process():
            return [todo] if todo else []
        return _numbered_batches(todo, self.batch_size(todo) or 1)

    def _launch(self, batch: list[tuple[int, tuple]], plans):
        if self._in_process():
            return run_in_process(self.composer, batch, self.task_function,
                                  self.config.hydra.sweep.dir, plans)
        return self.launcher.launch([overrides for _, overrides in batch],
                                    initial_job_idx=batch[0][0])

    def _run_search(self, arguments):
        """The search of ``search=<name>``, its state and tuned settings under
        ``<output.dir>/search=<name>/``."""
        choices = self.config.hydra.runtime.choices
        name = choices.get("search")
        optim = OmegaConf.merge(OmegaConf.structured(CheckedOptimConf), self.search.optim)
        search = CheckedNevergradSweeper(
            optim=optim, params=self.search.get("params"),
            state_dir=str(Path(self.config.output.dir) / f"search={name}"),
            search_name=name, tunes_settings=choices.get("settings"),
        )
        search.setup(hydra_context=self.hydra_context, task_function=self.task_function,
                     config=self.config)
        return search.sweep(arguments)

    def generate_jobs(self, arguments: list[str]) -> list[tuple[str, ...]]:
        """All jobs: the product of the configured and command-line overrides.

        As in the base class, a key on the command line replaces the same key in
        ``hydra.sweeper.overrides``. Unlike it, every override knows the config loader, so
        ``glob(...)`` can list a config group's options.
        """
        parser = OverridesParser.create()
        ordered = self.parse_configured_overrides(parser) + parser.parse_overrides(arguments)
        latest = {override.get_key_element(): override for override in ordered}
        choices = []
        for key, override in latest.items():
            override.config_loader = self.hydra_context.config_loader
            if override.is_sweep_override():
                values = list(override.sweep_string_iterator())
            else:
                values = [override.get_value_element_as_str()]
            choices.append([f"{key}={value}" for value in values])
        return list(itertools.product(*choices))

    def _plan(self, jobs) -> list[JobPlan]:
        """Compose and check every job (``HydraConfig`` is the job's meanwhile, so
        ``${hydra:...}`` in an output path resolves as it will in the job)."""
        if self.fast:  # the Hydra node filled in only if a check may read it
            composed = (self.composer.compose(job, i, describe=False)
                        for i, job in enumerate(jobs))
        else:
            composed = (self.composer.compose_stock(job, i) for i, job in enumerate(jobs))
        try:
            return check_sweep(composed)
        finally:
            HydraConfig.instance().set_config(self.config)

    def sweep(self, arguments):
        if self.search is not None:
            return self._run_search(arguments)
        log.info(f"Sweep output dir : {self.config.hydra.sweep.dir}")
        jobs = self.generate_jobs(arguments)
        plans = self._plan(jobs)
        code = code_version()
        statuses = [_status(plan, code) for plan in plans]
        if self.dry_run:
            self._print_dry_run(plans, statuses)
            return []
        self.save_sweep_config()
        todo = [(index, plan.overrides)
                for index, (plan, status) in enumerate(zip(plans, statuses))
                if status != "current"]
        by_overrides = {plan.overrides: plan for plan in plans}
        skipped = len(plans) - len(todo)
        if skipped:
            log.info(f"{skipped} of {len(plans)} jobs are up to date and skipped "
                     "(output.overwrite=true reruns them)")

        returns, failed = [], []
        with ProgressReport(self.config.hydra.sweep.dir, len(todo)):
            for batch in self._batches(todo):
                results = self._launch(batch, by_overrides)
                returns.append(results)
                failed += [r for r in results if r.status is not JobStatus.COMPLETED]
        summary = (f"{len(plans)} jobs: {skipped} skipped (up to date), "
                   f"{len(todo) - len(failed)} ran, {len(failed)} failed")
        if failed:
            raise SweepFailed(
                f"{summary}. Failed jobs (the other results were saved):\n"
                + "\n".join(_failure_line(r) for r in failed)
            )
        log.info(summary)
        return returns

    @staticmethod
    def _print_dry_run(plans: list[JobPlan], statuses: list[str]) -> None:
        actions = {"missing": "run (no result)", "stale": "run (stale result)",
                   "overwrite": "run (overwrite)", "current": "skip (up to date)"}
        for index, (plan, status) in enumerate(zip(plans, statuses)):
            print(f"#{index} {actions[status]:18} [{' '.join(plan.overrides)}] -> {plan.path}")
        to_run = sum(status != "current" for status in statuses)
        print(f"dry run: {len(plans)} jobs, {to_run} would run, "
              f"{len(plans) - to_run} would be skipped; nothing was run")
