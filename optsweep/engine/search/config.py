"""The configuration of the project's searches: its nevergrad sweeper
(``hydra/sweeper=checked_nevergrad``), its Optuna sweeper (``hydra/sweeper=checked_optuna``)
and the ``optuna`` block of a search file (``hydra.sweeper.search.optuna``)."""

from dataclasses import dataclass, field
from typing import Any

from hydra_plugins.hydra_nevergrad_sweeper.config import NevergradSweeperConf, OptimConf
from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf


@dataclass
class CheckedOptimConf(OptimConf):
    # A fixed seed: the same search definition gives the same evaluations every time.
    seed: int | None = 0
    # Largest tolerated share of failed evaluations over the whole search (not per batch).
    max_failure_rate: float = 0.25
    # null: the experiment's direction (a plain Hydra app's: minimize); given, it must agree.
    maximize: bool | None = None  # type: ignore[assignment]  # unset: not stated
    # With launcher=local or slurm: num_workers evaluations in flight on the pool or the
    # SLURM workers, the next point asked as each one is told, no batch waiting for its
    # slowest evaluation. One worker: the same evaluations as the batched search; several:
    # which points are asked depends on timing (docs/searches.md). In process: batches,
    # said so.
    asynchronous: bool = False


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


@dataclass
class OptunaSearchConf:
    """A search file's ``hydra.sweeper.search.optuna``: an Optuna study of ``n_trials``."""

    # A sampler of optuna.samplers, by its class name: TPESampler, RandomSampler, CmaEsSampler,
    # QMCSampler, NSGAIISampler, ... (GridSampler: a grid is the experiment's sweep).
    sampler: str = "TPESampler"
    # Its other arguments ({n_startup_trials: 5}); null or {}: Optuna's defaults.
    sampler_options: dict[str, Any] | None = None
    # A fixed seed: the same search file gives the same trials every time (null: random).
    seed: int | None = 0
    # Trials (evaluations) of the whole study; a larger one continues a finished study.
    n_trials: int = 20
    # Trials asked per batch, launched together (as nevergrad's num_workers).
    num_workers: int = 1
    # With launcher=local: each of the pool's workers asks for, evaluates and tells its own
    # trials through the study's storage, num_workers trials in flight, no batch waiting for
    # its slowest trial; with launcher=slurm: num_workers in flight on the SLURM workers,
    # this process asking a trial as one is told. One worker: the same trials as the
    # batched search; several: which trials are asked depends on timing
    # (docs/searches.md). In process: batches, said so.
    asynchronous: bool = False
    # Largest tolerated share of failed evaluations over the whole search (not per batch).
    max_failure_rate: float = 0.25
    # Where the study lives: null, the SQLite file study.db in the search's directory;
    # "journal", the journal file study.journal there; "journal:PATH", a journal file at PATH
    # (relative: to the search's directory); or an RDB URL (sqlite:///..., postgresql://...).
    storage: str | None = None
    # The experiment declares its direction (Experiment(direction=...)); given here, it must
    # agree. A plain Hydra app's: minimize unless said.
    direction: str | None = None


@dataclass
class CheckedOptunaSweeperConf(OptunaSweeperConf):
    """hydra-optuna-sweeper's documented keys (sampler group, direction, storage, study_name,
    n_trials, n_jobs, max_failure_rate, params), run as this project's Optuna search."""

    _target_: str = "hydra_plugins.optsweep_sweeper.checked_optuna_sweeper.CheckedOptunaSweeper"
    # null: the experiment's direction (a plain Hydra app's: minimize); given, it must agree.
    direction: Any = None
    # Largest tolerated share of failed evaluations over the whole search (not per batch).
    max_failure_rate: float = 0.25
    # With launcher=local or slurm: num_workers trials in flight (as the search file's
    # optuna.asynchronous).
    asynchronous: bool = False
    # Study name prefix (null: "search"); the study is <prefix>-<definition id>.
    study_name: str | None = None
    # Trace, progress, the study's default storage (study.db); null: <sweep dir>/search.
    state_dir: str | None = None
    # Name of the search and the settings file it tunes: set by the experiment tree.
    search_name: str | None = None
    tunes_settings: str | None = None
