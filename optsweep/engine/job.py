"""One job of an experiment: plan, skip if current, compute, record, save.

``ExperimentTask.__call__`` (the task function Hydra calls) runs ``run_job`` without a plan;
the in-process runner passes the plan the sweep's checks made for the same config.
"""

import copy
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from optsweep.engine.config_digests import job_config_digests, overridden_keys
from optsweep.engine.declaration import InvalidDeclaration, refuse_invalid_declaration
from optsweep.engine.errors import NonFiniteValue, TaskExited
from optsweep.engine.failures import clear_failure, record_failure
from optsweep.engine.files import job_lock, move_aside
from optsweep.engine.keys import result_groups
from optsweep.engine.limits import raise_if_stopped, time_limit, watching_stops
from optsweep.engine.plan import INVALID, JobPlan, plan_job
from optsweep.engine.provenance import now, provenance
from optsweep.engine.single_run import JobRefused, incomplete_sweep_job, refusal
from optsweep.engine.store import ResultStore

if TYPE_CHECKING:
    from optsweep.engine.experiment import ExperimentTask

log = logging.getLogger(__name__)


class FoundCurrent(float):
    """The value of a job whose result was current when it got its lock: another sweep (or an
    earlier run) computed it, so it was not run. A float, so sweepers and callbacks use it as
    any job's value; the sweep counts these apart from the jobs it ran."""


def run_job(task: "ExperimentTask", cfg: DictConfig | None, plan: JobPlan | None = None) -> float:
    """Run the job ``cfg`` describes, save its result, return the experiment's value of it.

    ``plan``: the job's plan if the sweep made it from this same config, else None (the job is
    checked here, from ``cfg``, which may be None when a plan is given). A job whose stored
    result is current (same recorded config, same code version) is not run again unless
    ``output.overwrite=true``. A job that fails moves any older result aside
    (``<name>.pkl.stale``), so no reader takes it for this job's current result.
    """
    experiment = task.experiment
    store = ResultStore(experiment)
    hydra_cfg = HydraConfig.get()
    overrides = list(plan.overrides if plan is not None else hydra_cfg.overrides.task)
    facts = _facts_of(hydra_cfg)
    # A search needs each job's value (NoObjective says what to declare); a grid does not.
    value = experiment.value_of if facts.in_search else experiment.job_value
    if plan is None:
        assert cfg is not None, "a job without its checked plan needs its config"
        if hydra_cfg.mode == RunMode.RUN and (incomplete := incomplete_sweep_job(hydra_cfg)):
            raise incomplete
        if hydra_cfg.mode == RunMode.RUN:  # a sweep checked it before its jobs
            try:
                refuse_invalid_declaration(experiment)
            except InvalidDeclaration as error:
                raise JobRefused(f"refused: {error}") from None
        try:
            plan = plan_job(cfg, overrides, store)
        except INVALID as error:
            if hydra_cfg.mode == RunMode.RUN:  # one job, this process's own: refuse it
                raise refusal(error, hydra_cfg) from error
            if not _engine_sweeper(hydra_cfg):  # Hydra's basic sweeper would print a traceback
                raise JobRefused(f"refused: job [{' '.join(overrides)}]: {error}") from error
            raise  # a sweep's job: the sweep reports it
    with job_lock(plan.path) as lock:
        if not plan.overwrite:
            stored = store.current(plan.path, plan.config)
            if stored is not None:
                log.info("up to date, not rerun: %s", plan.path)
                clear_failure(plan.path)
                return FoundCurrent(value(stored["result"]))
        started, clock = now(), time.perf_counter()
        what = f"job [{' '.join(overrides)}]"
        try:
            with watching_stops(what), time_limit(facts.timeout, what):
                result = _computed(task, plan.config)
                raise_if_stopped(what)  # a stop the task swallowed: its result is not saved
            refuse_non_finite(experiment, result)
        except Exception as error:
            stale = move_aside(plan.path)
            if stale is not None:
                log.warning("job failed; its older result was moved aside to %s", stale)
            setting = setting_of(overrides, result_groups(experiment))
            record_failure(plan.path, overrides, setting, experiment.name, error)
            from optsweep.engine.experiment import NoObjective

            said = (NonFiniteValue, TaskExited, NoObjective)  # a line says it all
            if isinstance(error, said) and hydra_cfg.mode == RunMode.RUN:
                raise JobRefused(f"failed: {error}") from error  # its message, no traceback
            raise
        meta = provenance(experiment, overrides, started, time.perf_counter() - clock)
        meta["path"] = str(plan.path)
        # Which config-group options made this job (settings=tnc, method=tnc): figures group
        # by them.
        meta["choices"] = dict(facts.choices)
        # Reports: has its config changed since? (``config_digests``)
        meta["config_files"] = job_config_digests(
            hydra_cfg, overridden_keys(overrides), facts.choices
        )
        meta["setting"] = setting_of(overrides, result_groups(experiment))
        record = {
            "config": plan.config,
            "result": result,
            "meta": meta,
            # The result's table columns, so that any reader has them without the experiment.
            "scalars": experiment.scalars_of(result),
        }
        store.save(plan.path, record, lock=lock)
        clear_failure(plan.path)
    log.info("%s -> %s", experiment.describe(plan.config, result), plan.path)
    return value(result)


def _computed(task: "ExperimentTask", config: dict) -> Any:
    """The task's result for ``config`` (a copy: the record keeps the original); a task that
    exits instead (``sys.exit()``, in it or in a library) fails as ``TaskExited``, where
    ``SystemExit`` would end the whole sweep, with status 0 for ``sys.exit(0)``, and no
    summary."""
    try:
        return task.compute(copy.deepcopy(config))
    except SystemExit as exited:
        raise TaskExited(
            f"the task raised SystemExit({exited.code!r}) (sys.exit) instead of returning a "
            "result: not saved"
        ) from exited


def refuse_non_finite(experiment: Any, result: Any) -> None:
    """``NonFiniteValue`` if the job's value (``Experiment.value_of``: its objective) is NaN or
    infinite, ``NoObjective`` if the experiment declares an objective (or ``value``) that the
    result does not have (``None``, a mapping without it): such a job failed, in a grid as in
    a search, and is not saved. A result without a single value, where none is declared, is
    not judged."""
    from optsweep.engine.experiment import NoObjective

    try:
        number = experiment.value_of(result)
    except NoObjective:
        if experiment.objective is not None or experiment.value is not None:
            raise
        return
    if not math.isfinite(number):
        what = f"objective {experiment.objective!r}" if experiment.objective else "value"
        raise NonFiniteValue(f"the task's {what} is {number!r}: not a finite value, not saved")


@dataclass(frozen=True)
class _HydraFacts:
    """What a job reads of its Hydra node that its overrides do not change."""

    in_search: bool  # an evaluation of a search (nevergrad's sweeper, or a search file)
    timeout: float | None  # hydra.sweeper.job_timeout
    choices: dict[str, str]  # the config-group options that made it, Hydra's own left out


def _engine_sweeper(hydra_cfg: Any) -> bool:
    """Whether the job's sweeper is one of the engine's (``checked_experiment``, the checked
    nevergrad and Optuna sweepers), which check every job before any runs and report a
    refused one; Hydra's basic sweeper (``python task.py method=tnc,cg -m`` on the plain
    tree) would end with the job's traceback instead."""
    target = str(OmegaConf.select(hydra_cfg, "sweeper._target_", default="") or "")
    return target.startswith("hydra_plugins.optsweep_sweeper.")


def _facts_of(hydra_cfg: Any) -> _HydraFacts:
    """The facts of ``hydra_cfg``, read once for the jobs that share the node (the jobs of one
    template, in this process): the last node's are kept with the node itself, so that an
    identity match is the same node."""
    global _last_facts
    if _last_facts is None or _last_facts[0] is not hydra_cfg:
        sweeper = hydra_cfg.sweeper
        in_search = (
            OmegaConf.select(sweeper, "optim", default=None) is not None
            or OmegaConf.select(sweeper, "search", default=None) is not None
        )
        choices = {
            str(group): choice
            for group, choice in hydra_cfg.runtime.choices.items()
            if not str(group).startswith("hydra/")
        }
        timeout = OmegaConf.select(sweeper, "job_timeout", default=None)
        _last_facts = (hydra_cfg, _HydraFacts(in_search, timeout, choices))
    return _last_facts[1]


_last_facts: tuple[Any, _HydraFacts] | None = None


def setting_of(overrides: list[str], groups: tuple[str, ...]) -> str | None:
    """The choice of the first of ``groups`` that ``overrides`` choose (``settings=tnc``:
    ``tnc``), which names the result's directory; None if none is chosen."""
    chosen = dict(o.lstrip("+~").split("=", 1) for o in overrides if "=" in o)
    return next((chosen[group] for group in groups if group in chosen), None)
