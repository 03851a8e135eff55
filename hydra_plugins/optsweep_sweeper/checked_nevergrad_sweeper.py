"""``hydra/sweeper=nevergrad`` as this project configures it (config/hydra/sweeper/), and the
engine of the experiment tree's searches (``python task.py -cp experiment search=tnc -m``).

Compared with hydra-nevergrad-sweeper 1.4.0rc3, whose parametrization it reuses:
- failed and non-finite evaluations count as bad values (``FAILED_LOSS``) as long as at most
  ``optim.max_failure_rate`` of the whole search fails (upstream: of each batch); past that,
  or if nothing succeeded, the search exits non-zero and reports no best point;
- a fixed default seed, so the same definition gives the same evaluations;
- after every batch, the trace, the best evaluated point, nevergrad's recommendation and the
  optimizer state go to ``state_dir`` (``optsweep.search``); rerunning the same search resumes
  from there without repeating finished evaluations;
- at the end, the best *evaluated* point is also written as a settings file, if the search
  tunes a setting of the experiment tree.
"""

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra_plugins.hydra_nevergrad_sweeper.config import NevergradSweeperConf, OptimConf


@dataclass
class CheckedOptimConf(OptimConf):
    # A fixed seed: the same search definition gives the same evaluations every time.
    seed: int | None = 0
    # Largest tolerated share of failed evaluations over the whole search (not per batch).
    max_failure_rate: float = 0.25


@dataclass
class CheckedNevergradSweeperConf(NevergradSweeperConf):
    _target_: str = (
        "hydra_plugins.optsweep_sweeper.checked_nevergrad_sweeper.CheckedNevergradSweeper"
    )
    optim: CheckedOptimConf = field(default_factory=CheckedOptimConf)
    # Trace, progress, optimizer state (and tuned settings); the same search rerun with the
    # same state_dir resumes. null: <sweep dir>/search (a fresh directory each run).
    state_dir: str | None = None
    # Name of the search ("tnc") and the settings file it tunes: set by the experiment tree.
    search_name: str | None = None
    tunes_settings: str | None = None


ConfigStore.instance().store(
    group="hydra/sweeper",
    name="checked_nevergrad",
    node=CheckedNevergradSweeperConf,
    provider="optsweep",
)


class CheckedNevergradSweeper(Sweeper):
    """Thin plugin class: nevergrad is imported only when a search runs (Hydra imports every
    plugin module on every command); the loop is ``optsweep.nevergrad_search``."""

    def __init__(self, optim, parametrization=None, params=None, state_dir=None,
                 search_name=None, tunes_settings=None):
        from optsweep.nevergrad_search import NevergradSearch

        self.search = NevergradSearch(optim, parametrization, params, state_dir=state_dir,
                                      search_name=search_name, tunes_settings=tunes_settings)

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.search.setup(hydra_context=hydra_context, task_function=task_function,
                          config=config)

    def sweep(self, arguments: list[str]) -> None:
        return self.search.sweep(arguments)
