"""``hydra/sweeper=nevergrad`` as this project configures it (config/hydra/sweeper/), and the
engine of the experiment tree's searches (``python task.py -cp experiment search=tnc -m``).

A thin plugin class: nevergrad is imported only when a search runs (Hydra imports every plugin
module on every command); the search loop is ``optsweep.engine.search.nevergrad``, which says
what it adds to hydra-nevergrad-sweeper.
"""

from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from optsweep.engine.search.config import CheckedNevergradSweeperConf

# replace=True: a launcher's worker restores the sweeping process's ConfigStore (this entry
# included) before Hydra imports this module there; the same node is then stored again.
ConfigStore.instance().store(
    group="hydra/sweeper",
    name="checked_nevergrad",
    node=CheckedNevergradSweeperConf,
    provider="optsweep",
    replace=True,
)


class CheckedNevergradSweeper(Sweeper):
    """See ``optsweep.engine.search.nevergrad``."""

    def __init__(self, **config: Any):
        """``config``: the fields of ``CheckedNevergradSweeperConf``, as Hydra passes them."""
        from optsweep.engine.search.nevergrad import NevergradSearch

        self.search = NevergradSearch(**config)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        return self.search.sweep(arguments)
