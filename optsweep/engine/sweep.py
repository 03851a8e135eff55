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
import re
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Glob, Override
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException, ConfigCompositionException, OverrideParseException
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.experiment_sweeper_plugin.experiment_sweeper import ExperimentSweeper
from omegaconf import DictConfig, OmegaConf

from optsweep.engine import internals
from optsweep.engine.chunks import (
    ChunkContext,
    ChunkDied,
    Job,
    chunk_context,
    chunk_count,
    import_modules,
    make_chunks,
    returns_of_a_dead_chunk,
    run_chunk,
    say_failed_imports,
    warm_up_modules,
)
from optsweep.engine.compose import FastComposer, JobConfig
from optsweep.engine.declaration import InvalidDeclaration, refuse_invalid_declaration
from optsweep.engine.errors import JobNotRun
from optsweep.engine.experiment import ExperimentTask, experiment_of
from optsweep.engine.failures import last_failure
from optsweep.engine.files import (
    missing_directories,
    remove_abandoned_lock,
    remove_empty,
    unwritable,
)
from optsweep.engine.job import FoundCurrent
from optsweep.engine.limits import (
    raise_if_stop_requested,
    signal_of,
    stop_signals,
    watching_stops,
)
from optsweep.engine.plan import JobPlan, check_sweep
from optsweep.engine.progress import ProgressReport
from optsweep.engine.runner import InProcessRun
from optsweep.engine.slurm_array import Batch, SlurmArrays
from optsweep.engine.store import ResultStore, written_by_another
from optsweep.engine.submissions import (
    DIRECTORY,
    InFlight,
    SubmissionRegistry,
    SubmissionsUnknown,
)

log = logging.getLogger(__name__)

Launch = Callable[[list[Job]], Iterator[Batch]]
# From this many jobs on, joblib's workers start (and import) while the sweep is checked: then
# checking takes longer than a worker's start, so even an up-to-date sweep never waits for it.
WARM_UP_MIN_JOBS = 200


class SweepFailed(CompactHydraException):
    """Some jobs of the sweep failed; the others ran and kept their results. Its cause is the
    first failed job's exception, with its traceback."""


class SweepRefused(CompactHydraException):
    """The sweep cannot start as asked; nothing was run or submitted."""


def _refuse_others_results(plans: Sequence[JobPlan], statuses: list[str], name: str) -> None:
    """Refuse the sweep, before anything runs, if a job would write over a result of another
    experiment (an ``output.dir`` shared by mistake); names the files and their writers."""
    foreign = [
        (plan.path, writer)
        for plan, status in zip(plans, statuses, strict=True)
        if status in ("stale", "overwrite")
        and (writer := written_by_another(plan.path, name)) is not None
    ]
    if foreign:
        listed = "\n  ".join(f"{path}: a result of experiment {w!r}" for path, w in foreign[:10])
        more = f"\n  ... and {len(foreign) - 10} more" if len(foreign) > 10 else ""
        raise SweepRefused(
            f"sweep refused before running any job: {len(foreign)} job(s) of experiment "
            f"{name!r} would write over another experiment's results:\n  {listed}{more}\n"
            "  choose another output.dir (or move those results away)"
        )


def _refuse_unparsable_options(key: str, options: list[str], parser: OverridesParser) -> None:
    """Refuse, before anything runs, a ``glob`` that lists an option whose file name is no
    override value (``tnc,v2.yaml`` reads as two options, ``tnc=v2.yaml`` as a grammar error):
    name the file and what to rename it to."""
    for option in options:
        try:
            (parsed,) = parser.parse_overrides([f"{key}={option}"])
            unchanged = (
                not parsed.is_sweep_override() and parsed.get_value_element_as_str() == option
            )
        except OverrideParseException:
            unchanged = False
        if not unchanged:
            raise SweepRefused(
                f"sweep refused before running any job: the option {option!r} of {key} "
                f"({key}/{option}.yaml) is no value Hydra reads back from "
                f"'{key}={option}': rename the file without , = : spaces, quotes or "
                "brackets (letters, digits, - _ . are safe)"
            )


def _refuse_empty(override: Override, loader: Any) -> NoReturn:
    """A sweep override that lists no value (a misspelt ``glob(plian*)``, ``range(0, 0)``)
    makes a sweep of no job, which would end "0 jobs ... 0 failed", status 0: refuse it."""
    key = override.get_key_element()
    said = override.input_line or f"{key}=[]"
    options = ""
    if isinstance(override.value(), Glob):
        try:
            found = loader.get_group_options(key)
        except Exception:  # not a config group: nothing to list
            found = []
        options = f" (the options of {key}: {', '.join(found)})" if found else ""
    raise SweepRefused(
        f"sweep refused before running any job: {said} lists no value, so the sweep has no "
        f"job{options}"
    )


def _remove_abandoned_locks(paths: Sequence[Path], patience: float = 2.0) -> None:
    """After a stop: remove the lock files of ``paths`` that no process holds any more (a
    joblib worker ended by the stop leaves its job's, where an in-process job removes its own
    as it stops); one still held, for up to ``patience`` seconds, by a worker being ended, is
    waited for; one held after that (another sweep running that job) is left to its holder."""
    locked = [path for path in paths if (path.parent / f".{path.name}.lock").exists()]
    deadline = time.monotonic() + patience
    while locked:
        for path in locked:
            remove_abandoned_lock(path)
        locked = [path for path in locked if (path.parent / f".{path.name}.lock").exists()]
        if not locked or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _stopped_before_launch(stop: KeyboardInterrupt, jobs: int) -> NoReturn:
    """Ctrl-C or SIGTERM while the sweep's jobs were checked: say so in a line (no job ran),
    exit 130 or 143."""
    signal_name, code = signal_of(stop)
    print(
        f"sweep stopped by {signal_name} while its {jobs} jobs were checked: no job ran; "
        "run the same command again to start it.",
        file=sys.stderr,
        flush=True,
    )
    raise SystemExit(code) from None


def _refuse_unwritable_sweep_dir(directory: Path) -> None:
    """Refuse the sweep, before anything runs, if Hydra's sweep directory (the sweep's config,
    the jobs' logs, progress markers) cannot be written."""
    reason = unwritable(directory)
    if reason is not None:
        raise SweepRefused(
            f"sweep refused before running any job: hydra.sweep.dir {directory} cannot be "
            f"written ({reason}); it holds the sweep's config and the jobs' logs: choose "
            "another hydra.sweep.dir"
        )


def _refuse_unwritable(directories: set[Path]) -> None:
    """Refuse the sweep, before anything runs, if a job could not write its result."""
    problems = [
        f"  {directory}: {reason}"
        for directory in sorted(directories)
        if (reason := unwritable(directory)) is not None
    ]
    if problems:
        raise SweepRefused(
            "sweep refused before running any job: results cannot be written in\n"
            + "\n".join(problems)
            + "\n  (choose another output.dir, or free space / fix permissions)"
        )


def _failure_line(ret: JobReturn, log_file: Path | None, grouped: bool = False) -> str:
    """A failed job: its overrides, its error (unless ``grouped`` under it), its log."""
    error = internals.job_error(ret)
    if log_file is None and ret.hydra_cfg is not None:
        log_file = Path(ret.hydra_cfg.hydra.runtime.output_dir) / f"{ret.task_name}.log"
    indent = "    " if grouped else "  "
    error_line = "" if grouped else f"{indent}  {type(error).__name__}: {error}\n"
    return (
        f"{indent}[{' '.join(ret.overrides or [])}]\n"
        f"{error_line}{indent}  log: {log_file or '(none)'}"
    )


def _summary(
    total: int,
    skipped: int,
    running: int,
    returns: list[Sequence[JobReturn]],
    failed: list[tuple[JobReturn, Path | None]],
) -> str:
    """``45 jobs: 3 skipped (up to date), 40 ran, 2 failed``, naming also the jobs another
    sweep finished meanwhile and those not started after an error every job would hit."""
    found = sum(
        r.status is JobStatus.COMPLETED and isinstance(r.return_value, FoundCurrent)
        for batch in returns
        for r in batch
    )
    not_started = sum(isinstance(internals.job_error(r), JobNotRun) for r, _ in failed)
    ran = running - len(failed) - found
    parts = [f"{total} jobs: {skipped} skipped (up to date)"]
    if found:
        parts.append(f"{found} skipped (finished meanwhile by another sweep)")
    parts += [f"{ran} ran", f"{len(failed) - not_started} failed"]
    if not_started:
        parts.append(f"{not_started} not started")
    return ", ".join(parts)


# Jobs listed per group of identical failures; the others are counted.
_LISTED_PER_ERROR = 3


def _failure_key(error: BaseException | None) -> tuple:
    """Failures with one key are one problem: the same exception and message, or for an
    OSError the same error number whatever the file, or any job not started."""
    if isinstance(error, JobNotRun):
        return (JobNotRun,)
    if isinstance(error, OSError) and error.errno is not None:
        return (type(error), error.errno)
    return (type(error), str(error))


def _failure_summary(failed: list[tuple[JobReturn, Path | None]]) -> str:
    """Each failed job as ``_failure_line``; identical failures grouped, a few jobs listed."""
    groups: dict[tuple, list[tuple[JobReturn, Path | None]]] = {}
    for ret, log_file in failed:
        groups.setdefault(_failure_key(internals.job_error(ret)), []).append((ret, log_file))
    lines = []
    for members in groups.values():
        if len(members) == 1:
            lines.append(_failure_line(*members[0]))
            continue
        error = internals.job_error(members[0][0])
        lines.append(f"  {len(members)} jobs: {type(error).__name__}: {error}")
        for ret, log_file in members[:_LISTED_PER_ERROR]:
            lines.append(_failure_line(ret, log_file, grouped=True))
        if len(members) > _LISTED_PER_ERROR:
            lines.append(f"    ... and {len(members) - _LISTED_PER_ERROR} more")
    return "\n".join(lines)


def _failed_before_the_stop(
    progress: ProgressReport,
    sweep_dir: str,
    todo: list[Job],
    failed: list[tuple[JobReturn, Path | None]],
) -> str:
    """The lines naming the jobs that failed before a stop: those of batches that came back,
    with their errors (``_failure_summary``), then the others the jobs marked (a stop ends
    a batch before it returns), each with its overrides; "" if none failed."""
    known = {tuple(ret.overrides or ()) for ret, _ in failed}
    overrides = dict(todo)
    others = [
        f"  #{number} [{' '.join(overrides[number])}]"
        for number in progress.failed_jobs(sweep_dir)
        if number in overrides and overrides[number] not in known
    ]
    if not failed and not others:
        return ""
    lines = [_failure_summary(failed)] if failed else []
    if others:
        lines += others[:_LISTED_FAILED]
        if len(others) > _LISTED_FAILED:
            lines.append(f"  ... and {len(others) - _LISTED_FAILED} more")
        lines.append(f"  (their errors, with tracebacks, are in the jobs' logs under {sweep_dir})")
    return "Failed jobs (not saved; the rerun runs them again):\n" + "\n".join(lines) + "\n"


# Failed jobs a stop's summary lists by their overrides alone; the others are counted.
_LISTED_FAILED = 10


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
        detach: bool = False,
    ):
        super().__init__(max_batch_size=max_batch_size, overrides=overrides)
        self.dry_run, self.search, self.fast = dry_run, search, fast
        self.chunk_size, self.job_timeout = chunk_size, job_timeout
        self.max_array_size, self.detach = max_array_size, detach
        self.registry: SubmissionRegistry | None = None
        self.warm_up: threading.Thread | None = None
        self.launched = False  # whether a job was handed to a launcher (then it reports a stop)

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
                if isinstance(override.value(), Glob):
                    _refuse_unparsable_options(key, values, parser)
                if not values:
                    _refuse_empty(override, loader)
            else:
                values = [override.get_value_element_as_str()]
            choices.append([f"{key}={value}" for value in values])
        return list(itertools.product(*choices))

    def sweep(self, arguments: list[str]) -> Any:
        """The sweep (or search) of ``arguments``. A sweep refused before any job ran leaves
        no empty sweep directory behind (one per refused command, otherwise)."""
        assert self.config is not None
        created = missing_directories(Path(self.config.hydra.sweep.dir).absolute())
        try:
            try:
                return self._sweep(arguments)
            except ConfigCompositionException as error:
                blamed = self._sweep_list_entry(error, arguments)
                if blamed is None:
                    raise
                said = str(error)
                if said.startswith("Could not"):  # Hydra's advice is for a typed override
                    said = said.splitlines()[0]
                    cause = str(error.__cause__ or "").strip().splitlines()
                    said += f" {cause[0]}" if cause else ""
                raise ConfigCompositionException(f"{blamed}: {said}") from error
        except BaseException:
            if not self.launched:
                remove_empty(created)
            raise

    def _sweep_list_entry(self, error: Exception, arguments: list[str]) -> str | None:
        """Where the sweep's own list (``hydra.sweeper.overrides``, in the tree's primary
        config) holds the key or option a composition ``error`` names, when the command line
        does not set it: ``experiment/task.yaml: hydra.sweeper.overrides: maxfunn:
        range(10, 151, 10)``. Hydra's message names the key alone, as if it were typed."""
        assert self.config is not None
        text = str(error)
        named = re.search(r"Could not (?:override|append to) '([^']+)'", text)
        missing = re.search(r"Could not find '([^']+)/([^'/]+)'", text)
        key = named.group(1) if named else missing.group(1) if missing else None
        if key is None or key not in self.overrides:
            return None
        if missing and missing.group(2) not in str(self.overrides[key]):
            return None
        given = {a.lstrip("+~").split("=", 1)[0] for a in arguments}
        if key in given:
            return None  # the command line's own value is the one Hydra refused
        from optsweep.engine.group_choices import config_file
        from optsweep.engine.paths import shown

        file = config_file(self.config.hydra, str(self.config.hydra.job.config_name))
        where = str(shown(file)) if file is not None else "the sweep's config"
        return f"{where}: hydra.sweeper.overrides: {key}: {self.overrides[key]}"

    def _sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None
        self._check_values()
        if self.task is not None:
            try:
                refuse_invalid_declaration(self.task.experiment)
            except InvalidDeclaration as error:
                refused = (
                    "search refused before any evaluation"
                    if self.search is not None
                    else "sweep refused before running any job"
                )
                raise SweepRefused(f"{refused}: {error}") from None
        if not self.dry_run:
            _refuse_unwritable_sweep_dir(Path(self.config.hydra.sweep.dir))
        if self.detach:
            self._check_detachable()
        if self.search is not None:
            return self._run_search(arguments)
        log.info("Sweep output dir : %s", self.config.hydra.sweep.dir)
        jobs = self.generate_jobs(arguments)
        if self.task is None:
            return self._sweep_app(jobs)
        self._start_warm_up(len(jobs), self.task)
        try:
            # Ctrl-C or SIGTERM while the jobs are checked: a line, even if a library
            # swallowed the KeyboardInterrupt on the way (the next job checked raises it)
            with watching_stops():
                try:
                    return self._sweep_experiment(jobs, self.task)
                except KeyboardInterrupt as stop:
                    if self.launched:
                        raise  # the launch said what finished
                    _stopped_before_launch(stop, len(jobs))
        finally:
            if self.warm_up is not None:
                self.warm_up.join()

    def _check_values(self) -> None:
        """Refuse, before anything runs, a sweeper or launcher setting that means nothing:
        a time limit, a chunk size or an array size of zero or less, a joblib pool of 0
        workers (joblib's own error would come only after the checks)."""
        meaningless = []
        if self.job_timeout is not None and not self.job_timeout > 0:
            meaningless.append(
                f"hydra.sweeper.job_timeout={self.job_timeout}: a time limit is a number of "
                "seconds > 0 (null: no limit)"
            )
        for key, value in (
            ("chunk_size", self.chunk_size),
            ("max_array_size", self.max_array_size),
        ):
            if value is not None and not value >= 1:
                meaningless.append(f"hydra.sweeper.{key}={value}: must be >= 1 (null: chosen)")
        n_jobs = OmegaConf.select(self.config, "hydra.launcher.n_jobs", default=None)
        if isinstance(n_jobs, int) and n_jobs == 0:
            meaningless.append(
                "hydra.launcher.n_jobs=0: a pool needs workers (>= 1, or -1 for every core)"
            )
        if meaningless:
            raise SweepRefused(
                "sweep refused before running any job:\n  " + "\n  ".join(meaningless)
            )

    def _check_detachable(self) -> None:
        """``hydra.sweeper.detach=true`` needs a grid of an experiment's jobs run in chunks on
        SLURM: anything else ends with this process (refused before anything runs)."""
        if self.search is not None or self.task is None:
            what = "a search" if self.search is not None else "a plain Hydra app's sweep"
            raise SweepRefused(
                f"hydra.sweeper.detach=true: {what} cannot detach (only an experiment's grid "
                "submitted to SLURM can)"
            )
        if not internals.is_slurm_launcher(self.launcher):
            raise SweepRefused(
                "hydra.sweeper.detach=true needs launcher=slurm: jobs on this machine end with "
                "this command"
            )
        if not self._runs_chunks():
            raise SweepRefused(
                "hydra.sweeper.detach=true needs the chunked SLURM path: drop "
                "hydra.sweeper.fast=false and the job's own hydra.job.chdir/env_set"
            )

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
        _refuse_others_results(plans, statuses, task.experiment.name)
        self.registry = SubmissionRegistry(Path(self.config.output.dir) / DIRECTORY)
        flying = self._in_flight(plans, statuses)
        for index in flying:
            statuses[index] = "in flight"
        raise_if_stop_requested()
        if self.dry_run:
            self._print_dry_run(plans, statuses, flying)
            return []
        todo = [
            (index, plan.overrides)
            for index, (plan, status) in enumerate(zip(plans, statuses, strict=True))
            if status not in ("current", "in flight")
        ]
        _refuse_unwritable({plans[index].path.parent for index, _ in todo})
        self.save_sweep_config()
        skipped = len(plans) - len(todo) - len(flying)
        if skipped:
            log.info(
                "%d of %d jobs are up to date and skipped (output.overwrite=true reruns them)",
                skipped,
                len(plans),
            )
        followed = {str(plans[index].path.absolute()): flight for index, flight in flying.items()}
        if flying:
            log.info(
                "%d jobs are in flight in SLURM job %s, submitted by an earlier sweep: not "
                "submitted again%s",
                len(flying),
                ", ".join(sorted({flight.submission.array for flight in flying.values()})),
                "" if self.detach else "; waiting for them",
            )
        by_overrides = {plan.overrides: plan for plan in plans}
        if self.detach:
            return self._detach(task, todo, by_overrides, len(plans), skipped, flying)
        return self._launch_all(
            todo,
            len(plans),
            skipped,
            self._launch_for(task, by_overrides),
            followed,
            paths=[plans[index].path for index, _ in todo],
        )

    def _in_flight(self, plans: list[JobPlan], statuses: list[str]) -> dict[int, InFlight]:
        """{job number: its array task} of the jobs to run that an earlier sweep submitted to
        SLURM and SLURM still holds (``optsweep.engine.submissions``)."""
        assert self.registry is not None
        try:
            flying = self.registry.in_flight()
        except SubmissionsUnknown as error:
            raise SweepRefused(str(error)) from None
        if not flying:
            return {}
        return {
            index: flying[str(plan.path.absolute())]
            for index, (plan, status) in enumerate(zip(plans, statuses, strict=True))
            if status != "current" and str(plan.path.absolute()) in flying
        }

    def _plan(self, jobs: list[tuple[str, ...]], store: ResultStore) -> list[JobPlan]:
        """Compose and check every job (``HydraConfig`` is the job's meanwhile, so
        ``${hydra:...}`` in an output path resolves as it will in the job)."""
        try:
            return check_sweep(self._composed(jobs), store)
        finally:
            assert self.config is not None
            HydraConfig.instance().set_config(self.config)

    def _composed(self, jobs: list[tuple[str, ...]]) -> Iterator[JobConfig]:
        """Each job's config, in order; a stop requested meanwhile is raised between two."""
        for index, job in enumerate(jobs):
            raise_if_stop_requested()
            if self.fast:  # the Hydra node filled in only if a check may read it
                yield self.composer.compose(job, index, describe=False)
            else:
                yield self.composer.compose_stock(job, index)

    @staticmethod
    def _status(plan: JobPlan, store: ResultStore) -> str:
        """Why a job runs ("missing", "damaged", "stale", "overwrite") or "current" if it is
        skipped."""
        status = store.status(plan.path, plan.config)
        return "overwrite" if status == "current" and plan.overwrite else status

    # -- launching --------------------------------------------------------------------------

    def _runs_chunks(self) -> bool:
        """Whether jobs may run by the in-process path (in this process or in chunks); not
        with ``hydra.sweeper.fast=false`` or a job that changes its working directory or
        environment, which Hydra's launcher applies."""
        assert self.config is not None
        job = self.config.hydra.job
        return self.fast and not (job.chdir or job.env_set or self.composer.per_job_environment)

    def _launch_for(self, task: ExperimentTask, plans: dict[tuple, JobPlan]) -> Launch:
        """How the jobs run: in this process with Hydra's basic launcher; in chunks, each by
        the in-process path, on joblib's process pool or as a SLURM job array; else through
        Hydra's launcher, one job per task (other launchers or joblib backends, see
        ``_runs_chunks``)."""
        if not self._runs_chunks():
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

    def _start_warm_up(self, jobs: int, task: ExperimentTask) -> None:
        """Start joblib's workers, each importing the engine and the experiment's code, in a
        thread while this one checks the sweep (``WARM_UP_MIN_JOBS``). The pool is then
        reused by the chunks (the same joblib options), and its start-up no longer comes
        after the checks."""
        if jobs < WARM_UP_MIN_JOBS or self.dry_run or not self._runs_chunks():
            return
        if not self._packs_for_joblib():
            return
        from joblib import Parallel, delayed

        options = internals.joblib_options(self.launcher)
        workers = internals.joblib_workers(options)
        modules, imports = warm_up_modules(task), task.experiment.imports

        def warm_up() -> None:
            try:
                failed = Parallel(**options)(
                    delayed(import_modules)(modules, imports) for _ in range(workers)
                )
            except Exception as error:  # the chunks will meet and report it
                log.debug("warming up joblib's workers failed: %r", error)
            else:
                say_failed_imports(task, [what for each in failed for what in each])

        self.warm_up = threading.Thread(target=warm_up, name="warm-up", daemon=True)
        self.warm_up.start()

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
            if not todo:  # every job up to date: nothing to launch, nothing to say
                return
            if self.warm_up is not None:  # one Parallel call at a time on the pool
                self.warm_up.join()
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
            from joblib.externals.loky.process_executor import TerminatedWorkerError

            try:
                results = Parallel(**options)(delayed(run_chunk)(context, c) for c in chunks)
            except TerminatedWorkerError as error:  # a worker was killed (OOM, kill -9)
                reason = str(error).strip().splitlines()[0]
                sweep_dir = str(self.config.hydra.sweep.dir)
                for chunk in chunks:
                    died = ChunkDied(
                        f"a joblib worker died while chunk {chunk.number} ran: {reason}"
                    )
                    yield returns_of_a_dead_chunk(chunk.jobs, sweep_dir, died, plans=plans), None
                return
            for result in results:
                yield result.returns, result.log_file

        return launch

    def _slurm_chunks(self, task: ExperimentTask, plans: dict[tuple, JobPlan]) -> Launch:
        """The jobs in chunks, as one SLURM job array (``optsweep.engine.slurm_array``)."""

        def launch(todo: list[Job]) -> Iterator[Batch]:
            if not todo:  # every job up to date or in flight: nothing to submit
                return
            arrays = self._arrays()
            yield from arrays.wait(arrays.submit(todo, plans, self._chunk_context(task), False))

        return launch

    def _arrays(self) -> SlurmArrays:
        assert self.config is not None and self.registry is not None
        return SlurmArrays(
            self.launcher,
            self.registry,
            str(self.config.hydra.sweep.dir),
            self.config.hydra.job.name,
            chunk_size=self.chunk_size,
            max_array_size=self.max_array_size,
            job_timeout=self.job_timeout,
        )

    def _detach(
        self,
        task: ExperimentTask,
        todo: list[Job],
        plans: dict[tuple, JobPlan],
        total: int,
        skipped: int,
        flying: dict[int, InFlight],
    ) -> list:
        """Submit ``todo`` to SLURM and return once the cluster holds it (exit 0); ``flying``:
        this sweep's jobs already in flight."""
        submitted, arrays = "", {flight.submission.array for flight in flying.values()}
        if todo:
            array = self._arrays().submit(todo, plans, self._chunk_context(task), True)
            submitted = f" as SLURM job {array.submission.array}"
            arrays.add(array.submission.array)
        follow = (
            f"  follow them: squeue -j {','.join(sorted(arrays))}, or wait for them with "
            f"progress and a failure summary:\n    {_command_without_detach()}\n"
            if arrays
            else ""
        )
        log.info(
            "%d jobs: %d skipped (up to date), %d submitted%s, %d already in flight. Detached: "
            "the jobs run without this command.\n%s"
            "  once they have ended, the same command reruns only what failed or is missing.",
            total,
            skipped,
            len(todo),
            submitted,
            len(flying),
            follow,
        )
        return []

    def _chunk_context(self, task: ExperimentTask) -> ChunkContext:
        """What every chunk of this sweep needs, wherever it runs."""
        assert self.config is not None and self.hydra_context is not None
        return chunk_context(self.hydra_context, self.config, task, self.composer)

    def _launcher_batches(self, todo: list[Job]) -> Iterator[Batch]:
        """The jobs through Hydra's launcher, in batches of consecutive numbers: a launcher
        numbers a batch's jobs from the first one's on, so each keeps its number in the sweep
        (``${hydra:job.num}``, its ``<sweep dir>/<num>`` directory) whichever are skipped."""
        assert self.launcher is not None
        for batch in consecutive_batches(todo, self.batch_size(todo) or 1):
            overrides = [list(job) for _, job in batch]
            yield self.launcher.launch(overrides, initial_job_idx=batch[0][0]), None

    def _launch_all(
        self,
        todo: list[Job],
        total: int,
        skipped: int,
        launch: Launch,
        followed: dict[str, InFlight] | None = None,
        paths: Sequence[Path] = (),
    ) -> list[Sequence[JobReturn]]:
        """Run ``todo`` with ``launch`` and wait for the ``followed`` jobs (in flight on SLURM,
        {result path: its task}), then the summary (``SweepFailed`` if a job failed).
        ``paths``: the result paths of ``todo``, whose lock files a stop cleans up."""
        assert self.config is not None
        followed = followed or {}
        running = len(todo) + len(followed)
        batches = itertools.chain(launch(todo), self._arrays().follow(followed) if followed else ())
        sweep_dirs = [self.config.hydra.sweep.dir]
        sweep_dirs += sorted({flight.submission.sweep_dir for flight in followed.values()})
        returns: list[Sequence[JobReturn]] = []
        failed: list[tuple[JobReturn, Path | None]] = []
        raise_if_stop_requested()
        self.launched = True
        with ProgressReport(sweep_dirs, running) as progress:
            try:
                with stop_signals():
                    for results, log_file in batches:
                        returns.append(results)
                        failed += [
                            (r, log_file) for r in results if r.status is not JobStatus.COMPLETED
                        ]
            except KeyboardInterrupt as stop:
                _remove_abandoned_locks(paths)
                said = _failed_before_the_stop(progress, self.config.hydra.sweep.dir, todo, failed)
                self._stopped(stop, progress, running, total, skipped, followed, said)
        if followed:  # forget the submissions whose tasks have all ended
            assert self.registry is not None
            self.registry.in_flight()
        summary = _summary(total, skipped, running, returns, failed)
        if failed:
            ran = sum(len(batch) for batch in returns)
            kept = "the other results were saved" if len(failed) < ran else "no result was saved"
            raise SweepFailed(
                f"{summary}. Failed jobs ({kept}):\n" + _failure_summary(failed)
            ) from internals.job_error(failed[0][0])
        log.info(summary)
        return returns

    def _stopped(
        self,
        stop: KeyboardInterrupt,
        progress: ProgressReport,
        running: int,
        total: int,
        skipped: int,
        followed: dict[str, InFlight],
        failures: str = "",
    ) -> NoReturn:
        """Say what finished, which jobs failed (``failures``) and how to go on after Ctrl-C
        or SIGTERM; exit 130 or 143."""
        done, failed = progress.counts()
        signal_name, code = signal_of(stop)
        arrays = sorted({flight.submission.array for flight in followed.values()})
        left_alone = (
            f"The jobs in flight in SLURM job {', '.join(arrays)} (submitted by an earlier sweep) "
            "go on running.\n"
            if arrays
            else ""
        )
        print(
            f"sweep stopped by {signal_name}: {total} jobs: {skipped} skipped (up to date), "
            f"{done - failed} ran, {failed} failed, {running - done} did not finish.\n"
            f"{failures}{left_alone}"
            "Finished jobs kept their results; run the same command again to run the rest.",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(code) from None

    # -- searches and the dry run -----------------------------------------------------------

    def _run_search(self, arguments: list[str]) -> Any:
        """The search of ``search=<name>`` (nevergrad's for ``optim:``, Optuna's for
        ``optuna:``), its state and tuned settings under ``<output.dir>/search=<name>/``."""
        from optsweep.engine.search.chosen import chosen_search

        assert self.config is not None and self.hydra_context is not None
        choices = self.config.hydra.runtime.choices
        name = choices.get("search")
        self._refuse_unsupported_search_launcher(name)
        if self.task is not None and self._packs_for_joblib() and self._runs_chunks():
            from optsweep.engine.search.pool_workers import warm_up

            modules = warm_up_modules(self.task)
            if self._asynchronous_optuna():  # its workers open the study
                from optsweep.engine.search.optuna_storage import STORAGE_MODULES

                modules += tuple(STORAGE_MODULES)
            warm_up(internals.joblib_options(self.launcher), modules, self.task)
        search = chosen_search(
            self.search,
            name,
            # A search block of the sweep's own config, chosen by no search file: search/
            state_dir=str(Path(self.config.output.dir) / (f"search={name}" if name else "search")),
            tunes_settings=choices.get("settings"),
        )
        search.setup(
            hydra_context=self.hydra_context, task_function=self.task_function, config=self.config
        )
        search.dry_run = self.dry_run
        return search.sweep(arguments)

    def _asynchronous_optuna(self) -> bool:
        """Whether the search file asks for an asynchronous Optuna search."""
        optuna = (self.search or {}).get("optuna")
        return bool(isinstance(optuna, DictConfig) and optuna.get("asynchronous") is True)

    def _refuse_unsupported_search_launcher(self, name: str | None) -> None:
        """A search runs its evaluations in this process, on joblib's process pool or on
        SLURM, each by the engine's path (``optsweep.engine.search.launching``). Any other
        launcher, or jobs that change their working directory or environment (which only
        Hydra's launcher applies), would have Hydra's launcher compose each evaluation in
        its worker without the experiment tree's engine config, failing every one: refused
        before any evaluation, instead."""
        from optsweep.engine.search.errors import SearchRefused

        assert self.config is not None
        if internals.is_basic_launcher(self.launcher):
            return
        job = self.config.hydra.job
        supported = self._packs_for_joblib() or internals.is_slurm_launcher(self.launcher)
        if supported and not (job.chdir or job.env_set):
            return
        choices = self.config.hydra.runtime.choices
        launcher = choices.get("launcher") or choices.get("hydra/launcher")
        why = (
            "hydra.job.chdir or hydra.job.env_set is set, which only Hydra's launcher applies"
            if supported
            else "only joblib's process pool (loky) and SLURM run a search's workers"
        )
        raise SearchRefused(
            f"search refused before any evaluation: search={name} on launcher={launcher}: "
            f"{why}; drop it, or the launcher (the evaluations then run in this process)"
        )

    @staticmethod
    def _print_dry_run(
        plans: list[JobPlan], statuses: list[str], flying: dict[int, InFlight]
    ) -> None:
        actions = {
            "missing": "run (no result)",
            "stale": "run (stale result)",
            "damaged": "run (damaged result)",
            "overwrite": "run (overwrite)",
            "current": "skip (up to date)",
        }
        for index, (plan, status) in enumerate(zip(plans, statuses, strict=True)):
            if index in flying:
                action = f"wait (in flight, SLURM {flying[index].task.job_id})"
            elif status == "missing" and (failed := last_failure(plan.path)) is not None:
                action = f"run (failed last time: {failed})"
            else:
                action = actions[status]
            print(f"#{index} {action:18} [{' '.join(plan.overrides)}] -> {plan.path}")
        to_run = sum(status not in ("current", "in flight") for status in statuses)
        in_flight = f", {len(flying)} in flight on SLURM" if flying else ""
        print(
            f"dry run: {len(plans)} jobs, {to_run} would run, "
            f"{len(plans) - to_run - len(flying)} would be skipped{in_flight}; nothing was run"
        )


def _command_without_detach() -> str:
    """This process's command line with ``hydra.sweeper.detach=false``: the same sweep, waiting."""
    arguments = [a for a in sys.argv[1:] if a.lstrip("+~").split("=")[0] != "hydra.sweeper.detach"]
    arguments.append("hydra.sweeper.detach=false")
    return shlex.join(["python", sys.argv[0], *arguments])
