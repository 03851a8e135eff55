"""``hydra/sweeper=checked_experiment``: hydra-experiment-sweeper, made strict and resumable.

A thin plugin class (Hydra imports every plugin module on every command): the work is in
``optsweep.engine.sweep``, imported when a sweep starts.
"""

from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.experiment_sweeper_plugin.experiment_sweeper import SweeperConfig
from omegaconf import DictConfig


@dataclass
class CheckedExperimentSweeperConfig(SweeperConfig):
    _target_: str = (
        "hydra_plugins.optsweep_sweeper.checked_experiment_sweeper.CheckedExperimentSweeper"
    )
    # List every job (overrides; for an experiment also result file, run or skip); run none.
    dry_run: bool = False
    # Set by a search file (experiment/search/*.yaml): run that nevergrad search instead of
    # the grid. Keys: optim (see CheckedOptimConf), params (the search space).
    search: Any = None
    # Compose jobs from per-setting templates and run an experiment's in-process jobs without
    # per-job Hydra bookkeeping (optsweep.engine.compose, .runner); false: stock Hydra.
    fast: bool = True
    # Jobs per chunk when a pool runs them (launcher=local): null chooses from the number of
    # jobs and workers (one chunk per worker).
    chunk_size: int | None = None
    # Seconds a job may run; past that it fails (JobTimeout) and the others go on. null: no
    # limit. Read by each job (optsweep.engine.job), whatever the launcher.
    job_timeout: float | None = None
    # Most tasks of one SLURM job array; null: the cluster's MaxArraySize (scontrol).
    max_array_size: int | None = None
    # true (launcher=slurm): submit the array, print its job id and how to follow it, and exit 0
    # once SLURM holds it. A later run of the same command submits none of the jobs SLURM still
    # holds (it waits for them, or with detach=true leaves them); once they end, it reruns only
    # what failed or is missing (optsweep.engine.submissions).
    detach: bool = False


# replace=True: a launcher's worker restores the sweeping process's ConfigStore (this entry
# included) before Hydra imports this module there; the same node is then stored again.
ConfigStore.instance().store(
    group="hydra/sweeper",
    name="checked_experiment",
    node=CheckedExperimentSweeperConfig,
    provider="optsweep",
    replace=True,
)


class CheckedExperimentSweeper(Sweeper):
    """See ``optsweep.engine.sweep``."""

    def __init__(self, **config: Any):
        """``config``: the fields of ``CheckedExperimentSweeperConfig``, as Hydra passes them."""
        from optsweep.engine.sweep import CheckedSweeper

        self.sweeper = CheckedSweeper(**config)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        return self.sweeper.sweep(arguments)
