"""One job of a sweep: solve, record, save. ``task.py`` wires Hydra to ``run``."""

import logging
import time

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from optsweep.provenance import now, provenance
from optsweep.preflight import check_job
from optsweep.results import recorded_config, save_result
from optsweep.solve import solve

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> float:
    """Run the job ``cfg`` describes, save its result, return the final objective value."""
    hydra_cfg = HydraConfig.get()
    overrides = list(hydra_cfg.overrides.task)
    path = check_job(cfg, overrides)
    config = recorded_config(cfg)
    started, clock = now(), time.perf_counter()
    result, x0 = solve(config)
    config["x0"] = x0.tolist()
    meta = provenance(overrides, started, time.perf_counter() - clock)
    meta["path"] = str(path)
    # Which config-group options made this job (settings=tnc, method=tnc): figures group by them.
    meta["choices"] = {
        group: choice for group, choice in hydra_cfg.runtime.choices.items()
        if not group.startswith("hydra/")
    }
    save_result(path, {"config": config, "result": result, "meta": meta})
    log.info("%s: f=%.6g after %d evaluations -> %s", config["method"]["name"], result.fun,
             result.nfev, path)
    return float(result.fun)
