"""``hydra/sweeper=optuna`` as this project configures it (config/hydra/sweeper/optuna.yaml),
with hydra-optuna-sweeper's keys: an Optuna search in a real storage, resumable, with this
project's failure policy and a fixed seed.

A thin plugin class: optuna is imported only when a search runs (Hydra imports every plugin
module on every command); the search loop is ``optsweep.engine.search.optuna``, which says
what it adds to hydra-optuna-sweeper.
"""

from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from optsweep.engine.search.config import CheckedOptunaSweeperConf

# replace=True: a launcher's worker restores the sweeping process's ConfigStore (this entry
# included) before Hydra imports this module there; the same node is then stored again.
ConfigStore.instance().store(
    group="hydra/sweeper",
    name="checked_optuna",
    node=CheckedOptunaSweeperConf,
    provider="optsweep",
    replace=True,
)


class CheckedOptunaSweeper(Sweeper):
    """See ``optsweep.engine.search.optuna``."""

    def __init__(
        self,
        sampler: Any,
        direction: Any,
        storage: Any,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        custom_search_space: str | None,
        params: Any = None,
        state_dir: str | None = None,
        search_name: str | None = None,
        tunes_settings: str | None = None,
        asynchronous: bool = False,
    ):
        """The fields of ``CheckedOptunaSweeperConf``, as Hydra passes them."""
        from optsweep.engine.search.optuna import OptunaSearch
        from optsweep.engine.search.optuna_definition import from_plain_tree

        definition = from_plain_tree(
            sampler,
            direction,
            storage,
            study_name,
            n_trials,
            n_jobs,
            max_failure_rate,
            custom_search_space,
            asynchronous,
        )
        self.search = OptunaSearch(
            definition,
            params=params,
            state_dir=state_dir,
            search_name=search_name,
            tunes_settings=tunes_settings,
        )

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        return self.search.sweep(arguments)
