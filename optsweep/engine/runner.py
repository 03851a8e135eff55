"""Run a list of jobs one after the other in this process, as Hydra's basic launcher would.

Unlike the basic launcher, logging is configured once per sweep (one log file:
``<sweep dir>/<job name>.log``) and no per-job ``.hydra/`` files are written (the sweep's
``multirun.yaml`` and each result's recorded config say the same). Like it, every callback of
``hydra.callbacks`` gets ``on_job_start`` and ``on_job_end`` once per job, with the job's whole
config; that config is only built when a callback other than the engine's own progress marker
is configured.
"""

import copy
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus, configure_log
from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf

from optsweep.engine import internals
from optsweep.engine.compose import FastComposer, JobConfig
from optsweep.engine.errors import JobNotRun, stops_every_job
from optsweep.engine.experiment import ExperimentTask, ObjectiveNotReturned
from optsweep.engine.files import running_elsewhere
from optsweep.engine.job import run_job
from optsweep.engine.plan import JobPlan
from optsweep.engine.progress import JobEndMarker, mark_job_end

log = logging.getLogger("optsweep.sweep")


class InProcessRun:
    """The jobs of one sweep of an experiment (or of one chunk of it), run in this process
    with their callbacks and one log file, in ``log_dir`` (default: the sweep directory)."""

    def __init__(
        self,
        composer: FastComposer,
        task: ExperimentTask,
        hydra_context: HydraContext,
        sweep_dir: str,
        log_dir: str | None = None,
    ):
        self.composer, self.task = composer, task
        self.sweep_dir, self.log_dir = sweep_dir, log_dir or sweep_dir
        callbacks = internals.job_callbacks(hydra_context)
        self.hydra_context, self.callbacks = hydra_context, hydra_context.callbacks
        # The progress marker only needs the job's number, which is marked here directly.
        self.needs_full_config = any(type(c) is not JobEndMarker for c in callbacks)
        self.log_file: Path | None = None
        # Whether job logging stays configured between two ``run`` calls (a search's, whose
        # batches each run), until ``restore_logging``; else each ``run`` restores Hydra's.
        self.keep_logging = False

    def run(
        self, jobs: Iterable[tuple[int, tuple[str, ...]]], plans: dict[tuple, JobPlan]
    ) -> list[JobReturn]:
        """Run ``jobs`` ((number in the sweep, overrides) pairs); ``plans``: the checked plan
        of each job by its overrides, which the job reuses. Returns in the order of ``jobs``.

        A job that another process is running (another sweep of the same jobs) is put off
        until the others have run (``files.running_elsewhere``): two sweeps started together
        share the work instead of the second waiting at each job in turn; when it comes back
        to the job, it waits for it and finds its result."""
        jobs = list(jobs)
        returns: dict[int, JobReturn] = {}
        stop: tuple[int, BaseException] | None = None  # the failure every later job would hit
        valued = False  # whether a job of this run has completed (its result had its value)
        put_off: list[tuple[int, tuple[str, ...]]] = []
        try:
            for index, overrides, first_pass in _with_put_off(jobs, put_off):
                if stop is not None:
                    returns[index] = self._not_run(index, overrides, *stop)
                    continue
                plan = plans.get(overrides)
                if first_pass and plan is not None and running_elsewhere(plan.path):
                    put_off.append((index, overrides))
                    continue
                # A checked plan holds the job's config: only its Hydra node is needed, unless
                # a callback gets the whole config.
                values = plan is None or self.needs_full_config
                job = self.composer.compose(overrides, index, values=values)
                ret = self._run_one(job, plan)
                returns[index] = ret
                error = internals.job_error(ret)
                valued = valued or ret.status is JobStatus.COMPLETED
                if error is not None and (
                    stops_every_job(error)
                    # A declared objective no result has had yet: misnamed, most likely.
                    or (isinstance(error, ObjectiveNotReturned) and not valued)
                ):
                    stop = (index, error)
        finally:
            if not self.keep_logging:
                self.restore_logging()
        return [returns[index] for index, _ in jobs]

    def restore_logging(self) -> None:
        """Back to Hydra's own logging, as its launcher does after its jobs."""
        if self.log_file is not None:
            hydra = self.composer.master.hydra
            whitelist = self.hydra_context.execution_whitelist
            configure_log(hydra.hydra_logging, hydra.verbose, execution_whitelist=whitelist)

    def _run_one(self, job: JobConfig, plan: JobPlan | None) -> JobReturn:
        if self.log_file is None:
            self.log_file = _configure_logging_once(
                job.hydra, self.log_dir, self.hydra_context.execution_whitelist
            )
        log.info("\t#%d : %s", job.index, " ".join(job.overrides))
        ret = JobReturn(
            overrides=list(job.overrides),
            task_name=job.hydra.job.name,
            working_dir=os.getcwd(),
        )
        full = job.full_config() if self.needs_full_config else None
        if full is not None:  # what Hydra's run_job hands callbacks (copies: jobs share configs)
            ret.cfg, ret.hydra_cfg = copy.deepcopy(job.task), full
            Path(full.hydra.runtime.output_dir).mkdir(parents=True, exist_ok=True)
            self.callbacks.on_job_start(config=full, task_function=self.task)
        try:
            ret.return_value = run_job(self.task, job.task, plan)
            ret.status = JobStatus.COMPLETED
        except Exception as error:
            internals.job_failed(ret, error)  # its traceback travels with it
            _log_to_file_only(f"job #{job.index} [{' '.join(job.overrides)}] failed")
        except BaseException as stop:  # Ctrl-C, SIGTERM: the job did not finish
            ret.return_value = stop
            ret.status = JobStatus.FAILED
            raise
        finally:
            if full is not None:
                self.callbacks.on_job_end(config=full, job_return=ret)
        mark_job_end(self.sweep_dir, job.index, ret.status)
        return ret

    def _not_run(
        self, index: int, overrides: tuple[str, ...], failed: int, error: BaseException
    ) -> JobReturn:
        """The return of a job not started because job ``failed`` hit ``error``."""
        ret = JobReturn(overrides=list(overrides), working_dir=os.getcwd())
        ret.return_value = JobNotRun(
            f"not started: job #{failed} failed with {type(error).__name__}: {error}, "
            "which every later job would hit too"
        )
        ret.status = JobStatus.FAILED
        mark_job_end(self.sweep_dir, index, ret.status)
        return ret


def _with_put_off(
    jobs: list[tuple[int, tuple[str, ...]]], put_off: list[tuple[int, tuple[str, ...]]]
) -> Iterator[tuple[int, tuple[str, ...], bool]]:
    """(number, overrides, whether in the first pass) of each of ``jobs``, then of each job
    put off meanwhile (appended to ``put_off`` by the caller), in the order put off."""
    for index, overrides in jobs:
        yield index, overrides, True
    for index, overrides in put_off:
        yield index, overrides, False


def _log_to_file_only(message: str) -> None:
    """Log the current exception with its traceback to the log file, not the terminal (the
    sweep's failure summary reports it there), as Hydra does for a failed job."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, message, (), sys.exc_info())
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _configure_logging_once(hydra: DictConfig, log_dir: str, execution_whitelist: Any) -> Path:
    """Job logging as Hydra configures it per job, once, with its log files in ``log_dir``
    (``<log dir>/<job name>.log``) instead of each job's output directory."""
    directory = Path(log_dir).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    log_file = directory / f"{hydra.job.name}.log"
    if hydra.job_logging is None:
        return log_file
    config = OmegaConf.to_container(hydra.job_logging, resolve=True)
    assert isinstance(config, dict)
    for handler in (config.get("handlers") or {}).values():
        if isinstance(handler, dict) and "filename" in handler:
            log_file = directory / Path(handler["filename"]).name
            handler["filename"] = str(log_file)
    configure_log(OmegaConf.create(config), hydra.verbose, execution_whitelist=execution_whitelist)
    return log_file
