"""One job of a sweep: check, skip if current, solve, record, save. ``task.py`` calls ``run``."""

import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from optsweep.preflight import check_job
from optsweep.provenance import code_version, now, provenance
from optsweep.results import save_result, stored_if_current
from optsweep.solve import solve
from optsweep.storage import job_lock, move_aside

log = logging.getLogger(__name__)

# The checked plan of the job about to run, when the sweep already checked it in this process.
_PRECHECKED: ContextVar = ContextVar("prechecked", default=None)


@contextmanager
def prechecked(plan):
    """Run a job with the ``JobPlan`` the sweep's checks already made for the same config."""
    token = _PRECHECKED.set(plan)
    try:
        yield
    finally:
        _PRECHECKED.reset(token)


def run(cfg: DictConfig) -> float:
    """Run the job ``cfg`` describes, save its result, return the final objective value.

    A job whose stored result is current (same recorded config, same code version) is not run
    again unless ``output.overwrite=true``. A job that fails moves any older result aside
    (``<name>.pkl.stale``), so no reader takes it for this job's current result.
    """
    hydra_cfg = HydraConfig.get()
    overrides = list(hydra_cfg.overrides.task)
    plan = _PRECHECKED.get()
    if plan is None or list(plan.overrides) != overrides:
        plan = check_job(cfg, overrides)
    with job_lock(plan.path):
        if not cfg.output.overwrite:
            stored = stored_if_current(plan.path, plan.config, code_version())
            if stored is not None:
                log.info("up to date, not rerun: %s", plan.path)
                return float(stored["result"].fun)
        started, clock = now(), time.perf_counter()
        try:
            result = solve(plan.config)
        except Exception:
            stale = move_aside(plan.path)
            if stale is not None:
                log.warning("job failed; its older result was moved aside to %s", stale)
            raise
        meta = provenance(overrides, started, time.perf_counter() - clock)
        meta["path"] = str(plan.path)
        # Which config-group options made this job (settings=tnc, method=tnc): figures group
        # by them.
        meta["choices"] = {
            group: choice for group, choice in hydra_cfg.runtime.choices.items()
            if not group.startswith("hydra/")
        }
        save_result(plan.path, {"config": plan.config, "result": result, "meta": meta},
                    locked=True)
    log.info("%s: f=%.6g after %d evaluations -> %s", plan.config["method"]["name"],
             result.fun, result.nfev, plan.path)
    return float(result.fun)
