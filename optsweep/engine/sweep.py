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
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.experiment_sweeper_plugin.experiment_sweeper import ExperimentSweeper
from omegaconf import DictConfig

from optsweep.engine import internals, slurm
from optsweep.engine.chunks import Chunk, ChunkContext, Job, chunk_count, make_chunks, run_chunk
from optsweep.engine.compose import FastComposer
from optsweep.engine.experiment import ExperimentTask, experiment_of
from optsweep.engine.limits import Terminated, stop_signals
from optsweep.engine.plan import JobPlan, check_sweep
from optsweep.engine.progress import ProgressReport, finished_jobs
from optsweep.engine.runner import InProcessRun
from optsweep.engine.store import ResultStore

log = logging.getLogger(__name__)

Batch = tuple[Sequence[JobReturn], Path | None]  # the jobs' returns, the log they wrote to
Launch = Callable[[list[Job]], Iterator[Batch]]


class ChunkDied(RuntimeError):
    """The process running a chunk of jobs ended before the job did."""


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
        chunk_size: int | None = None,
        job_timeout: float | None = None,
        max_array_size: int | None = None,
    ):
        super().__init__(max_batch_size=max_batch_size, overrides=overrides)
        self.dry_run, self.search, self.fast = dry_run, search, fast
        self.chunk_size, self.job_timeout = chunk_size, job_timeout
        self.max_array_size = max_array_size

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
        return self._launch_all(todo, len(jobs), 0, self._launcher_batches)

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
        launch = self._launch_for(task, {plan.overrides: plan for plan in plans})
        return self._launch_all(todo, len(plans), skipped, launch)

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

    def _launch_for(self, task: ExperimentTask, plans: dict[tuple, JobPlan]) -> Launch:
        """How the jobs run: in this process with Hydra's basic launcher; in chunks, each by
        the in-process path, on joblib's process pool or as a SLURM job array; else through
        Hydra's launcher, one job per task (other launchers or joblib backends, a job that
        changes its working directory or environment, ``hydra.sweeper.fast=false``)."""
        assert self.config is not None
        job = self.config.hydra.job
        if not self.fast or job.chdir or job.env_set or self.composer.per_job_environment:
            return self._launcher_batches
        if internals.is_basic_launcher(self.launcher):
            return self._in_process_batches(task, plans)
        if self._packs_for_joblib():
            return self._joblib_chunks(task, plans)
        if internals.is_slurm_launcher(self.launcher):
            return self._slurm_chunks(task, plans)
        return self._launcher_batches

    def _packs_for_joblib(self) -> bool:
        """Whether the launcher is joblib's with its process pool (loky), which runs chunks
        of jobs (``optsweep.engine.chunks``); other backends run one job per task."""
        if not internals.is_joblib_launcher(self.launcher):
            return False
        options = internals.joblib_options(self.launcher)
        return options["backend"] == "loky" and not options.get("inner_max_num_threads")

    def _in_process_batches(self, task: ExperimentTask, plans: dict[tuple, JobPlan]) -> Launch:
        """Every job in this process, in one batch (``InProcessRun``)."""

        def launch(todo: list[Job]) -> Iterator[Batch]:
            assert self.config is not None and self.hydra_context is not None
            sweep_dir = self.config.hydra.sweep.dir
            run = InProcessRun(self.composer, task, self.hydra_context, sweep_dir)
            if todo:
                yield run.run(todo, plans), run.log_file

        return launch

    def _joblib_chunks(self, task: ExperimentTask, plans: dict[tuple, JobPlan]) -> Launch:
        """The jobs in chunks, each run in a joblib worker by the in-process path."""

        def launch(todo: list[Job]) -> Iterator[Batch]:
            from joblib import Parallel, delayed

            assert self.config is not None and self.hydra_context is not None
            options = internals.joblib_options(self.launcher)
            workers = internals.joblib_workers(options)
            chunks = make_chunks(todo, plans, chunk_count(len(todo), workers, self.chunk_size))
            context = self._chunk_context(task)
            log.info(
                "Launching %d jobs in %d chunks on %d joblib workers (logs: %s/chunks/)",
                len(todo),
                len(chunks),
                workers,
                self.config.hydra.sweep.dir,
            )
            for result in Parallel(**options)(delayed(run_chunk)(context, c) for c in chunks):
                yield result.returns, result.log_file

        return launch

    def _slurm_chunks(self, task: ExperimentTask, plans: dict[tuple, JobPlan]) -> Launch:
        """The jobs in chunks, as one SLURM job array (never more tasks than the cluster's
        MaxArraySize), each task running its chunk by the in-process path."""

        def launch(todo: list[Job]) -> Iterator[Batch]:
            assert self.config is not None and self.hydra_context is not None
            if not todo:  # every job up to date: nothing to submit
                return
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
                self.launcher, timeout_min=timeout_min, signal_delay_s=signal_delay_s
            )
            context = self._chunk_context(task)
            submitted = executor.map_array(run_chunk, [context] * len(chunks), chunks)
            array = submitted[0].job_id.split("_")[0]
            log.info(
                "Submitted %d jobs as %d array tasks of SLURM job %s (MaxArraySize %d, time "
                "limit %d min a task); follow with: squeue -j %s",
                len(todo),
                len(chunks),
                array,
                limit,
                timeout_min,
                array,
            )
            try:
                for job, chunk in zip(submitted, chunks, strict=True):
                    yield self._chunk_outcome(job, chunk)
            except KeyboardInterrupt:
                for job in submitted:
                    job.cancel(check=False)
                log.info("cancelled the array tasks still queued or running")
                raise

        return launch

    def _chunk_context(self, task: ExperimentTask) -> ChunkContext:
        """What every chunk of this sweep needs, wherever it runs."""
        assert self.config is not None and self.hydra_context is not None
        sweep_dir = str(self.config.hydra.sweep.dir)
        return ChunkContext(self.hydra_context, self.config, task, sweep_dir, Singleton.get_state())

    def _chunk_outcome(self, job: Any, chunk: Chunk) -> Batch:
        """The returns of one array task's chunk; if the task died (cancelled, out of time,
        node failure), its finished jobs as they ended and the others failed, naming it."""
        try:
            result = job.result()
        except Exception as error:  # submitit: the task ended without a result
            assert self.config is not None
            ended = finished_jobs(self.config.hydra.sweep.dir)
            died = ChunkDied(
                f"array task {job.job_id} (chunk {chunk.number}) ended before this job: "
                f"{str(error).strip().splitlines()[0] if str(error).strip() else error!r}"
            )
            returns = []
            for index, overrides in chunk.jobs:
                ret = JobReturn(overrides=list(overrides), task_name=self.config.hydra.job.name)
                if index in ended:
                    ret.status = ended[index]
                    if ret.status is JobStatus.FAILED:
                        ret.return_value = RuntimeError("failed (see the chunk's log)")
                    else:
                        ret.return_value = None
                else:
                    ret.return_value, ret.status = died, JobStatus.FAILED
                returns.append(ret)
            return returns, Path(job.paths.stderr)
        return result.returns, result.log_file

    def _launcher_batches(self, todo: list[Job]) -> Iterator[Batch]:
        """The jobs through Hydra's launcher, in batches of consecutive numbers: a launcher
        numbers a batch's jobs from the first one's on, so each keeps its number in the sweep
        (``${hydra:job.num}``, its ``<sweep dir>/<num>`` directory) whichever are skipped."""
        assert self.launcher is not None
        for batch in consecutive_batches(todo, self.batch_size(todo) or 1):
            overrides = [list(job) for _, job in batch]
            yield self.launcher.launch(overrides, initial_job_idx=batch[0][0]), None

    def _launch_all(
        self, todo: list[Job], total: int, skipped: int, launch: Launch
    ) -> list[Sequence[JobReturn]]:
        """Run ``todo`` with ``launch``, then the summary (``SweepFailed`` if a job failed)."""
        assert self.config is not None
        returns: list[Sequence[JobReturn]] = []
        failed: list[tuple[JobReturn, Path | None]] = []
        with ProgressReport(self.config.hydra.sweep.dir, len(todo)) as progress:
            try:
                with stop_signals():
                    for results, log_file in launch(todo):
                        returns.append(results)
                        failed += [
                            (r, log_file) for r in results if r.status is not JobStatus.COMPLETED
                        ]
            except KeyboardInterrupt as stop:
                self._stopped(stop, progress, len(todo), total, skipped)
        summary = (
            f"{total} jobs: {skipped} skipped (up to date), "
            f"{len(todo) - len(failed)} ran, {len(failed)} failed"
        )
        if failed:
            raise SweepFailed(
                f"{summary}. Failed jobs (the other results were saved):\n"
                + "\n".join(_failure_line(r, log_file) for r, log_file in failed)
            ) from internals.job_error(failed[0][0])
        log.info(summary)
        return returns

    def _stopped(
        self, stop: KeyboardInterrupt, progress: ProgressReport, todo: int, total: int, skipped: int
    ) -> NoReturn:
        """Say what finished and how to go on after Ctrl-C or SIGTERM; exit 130 or 143."""
        done, failed = progress.counts()
        signal_name, code = ("SIGTERM", 143) if isinstance(stop, Terminated) else ("SIGINT", 130)
        print(
            f"sweep stopped by {signal_name}: {total} jobs: {skipped} skipped (up to date), "
            f"{done - failed} ran, {failed} failed, {todo - done} did not finish.\n"
            "Finished jobs kept their results; run the same command again to run the rest.",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(code) from None

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
