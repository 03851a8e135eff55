"""The configuration of the project's nevergrad sweeper (``hydra/sweeper=checked_nevergrad``)."""

from dataclasses import dataclass, field

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
