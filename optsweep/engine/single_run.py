"""A plain run (no ``-m``) whose job config the checks refuse: its message alone, exit 1.

Hydra prints an exception raised in a job with its traceback whatever its type, taking it
for a bug in the task; ``CompactHydraException`` is printed compactly only outside a job. A
refused config is the user's to fix, so a plain run's refusal is a ``SystemExit`` carrying
the message, as the sweep's refusal (``SweepRejected``) prints its message alone. Hydra's
callbacks still hear of the job, as failed.

An experiment tree run without ``-m`` lacks what the sweep would give each job (``settings``,
``maxfun``): the refusal then says to add ``-m``, or to give every swept key, rather than what
the incomplete job lacks; such a run is refused even when its config is complete.
"""

import shlex
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from optsweep.engine.group_choices import TREE_SCHEME
from optsweep.engine.paths import shown


class JobRefused(SystemExit):
    """The job of a plain run is refused; the message says why (exit status 1)."""


def refusal(error: Exception, hydra_cfg: Any) -> JobRefused:
    """The refusal of a plain run's job that the checks refused with ``error``; ``hydra_cfg``:
    ``HydraConfig.get()`` (typed ``HydraConf``, a ``DictConfig`` when a job runs)."""
    return incomplete_sweep_job(hydra_cfg) or JobRefused(f"refused: {error}")


def incomplete_sweep_job(hydra_cfg: Any) -> JobRefused | None:
    """The refusal of a plain run of a config tree that is a sweep (``hydra.sweeper.overrides``)
    whose command does not give every swept key, else None. Such a job, even one whose
    config is complete (``seed`` has a default), is not the sweep's job: its result file
    would be named by fewer keys than the sweep's (``budget=3.pkl`` beside
    ``budget=3,seed=0.pkl``), a second result of the same config, and another "sweep" to
    every figure."""
    unset = _unset_sweep_keys(hydra_cfg)
    if not unset:
        return None
    swept = ", ".join(OmegaConf.select(hydra_cfg, "sweeper.overrides"))
    given = shlex.join(hydra_cfg.overrides.task)
    command = f"python {hydra_cfg.job.name}.py -cp {_tree(hydra_cfg)} {given}".rstrip()
    one_job = " ".join(f"{key}=<value>" for key in unset)
    return JobRefused(
        f"refused: this config tree is a sweep over {swept} (hydra.sweeper.overrides); "
        f"run it with -m: {command} -m\n"
        f"  (one job without -m needs {one_job} too)"
    )


def _unset_sweep_keys(hydra_cfg: DictConfig) -> list[str]:
    """The keys of the configured sweep (``hydra.sweeper.overrides``) that the command line
    does not set."""
    swept = OmegaConf.select(hydra_cfg, "sweeper.overrides", default=None)
    if not isinstance(swept, DictConfig) or not swept:
        return []
    given = {
        override.key_or_group
        for override in OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task))
    }
    return [str(key) for key in swept if key not in given]


def _tree(hydra_cfg: DictConfig) -> str:
    """The primary config directory, as ``-cp`` names it (``experiment``)."""
    for source in hydra_cfg.runtime.config_sources:
        if source.provider == "main" and source.schema in ("file", TREE_SCHEME):
            return shown(Path(source.path))
    return "<config dir>"
