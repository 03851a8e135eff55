"""An Optuna search's definition, from a search file (``hydra.sweeper.search.optuna``) or the
plain tree (``hydra/sweeper=optuna``: hydra-optuna-sweeper's keys), and what in it means
nothing: every such key is named before anything is evaluated.

Optuna itself is imported only to check the sampler and make it (``sampler_for``).
"""

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf

# Where a plain tree's sampler may come from (as hydra-optuna-sweeper's own allow-list).
SAMPLER_MODULES = ("optuna.samplers.", "hydra_plugins.hydra_optuna_sweeper.")
# Samplers whose seed stays the same for every trial: QMCSampler's seed scrambles one
# low-discrepancy sequence, whose position the study's storage keeps.
ONE_SEED_SAMPLERS = frozenset({"QMCSampler"})


@dataclass(frozen=True)
class OptunaDefinition:
    """What an Optuna search runs, with the config key of each field for messages."""

    sampler: str  # a dotted path: optuna.samplers.TPESampler
    sampler_options: dict[str, Any]
    seed: int | None
    n_trials: int
    batch: int  # trials asked at once, launched together
    max_failure_rate: float
    storage: str | None
    direction: Any  # None: the experiment's (a plain app's: minimize)
    study_prefix: str | None = None
    asynchronous: bool = False  # pool workers ask and tell (optsweep.engine.search.optuna_workers)
    custom_search_space: str | None = None
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def sampler_name(self) -> str:
        return self.sampler.rsplit(".", 1)[-1]

    def key(self, name: str) -> str:
        """How the user writes field ``name`` (``hydra.sweeper.search.optuna.n_trials``)."""
        return self.keys.get(name, name)

    def refusals(self) -> list[str]:
        """What in this definition means nothing, one line per key (empty: it can run)."""
        meaningless = []
        for name, what in (("n_trials", "trials"), ("batch", "trials asked at once")):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                meaningless.append(f"{self.key(name)}={value}: {what}, an integer >= 1")
        if not 0 <= self.max_failure_rate <= 1:
            meaningless.append(
                f"{self.key('max_failure_rate')}={self.max_failure_rate}: a share of the "
                "budget, in [0, 1]"
            )
        if self.direction not in (None, "minimize", "maximize"):
            meaningless.append(
                f"{self.key('direction')}={self.direction}: minimize or maximize (one "
                "objective: the experiment's), or leave it out"
            )
        if self.custom_search_space is not None:
            meaningless.append(
                f"{self.key('custom_search_space')}={self.custom_search_space}: not supported "
                "here; the search space is the version-controlled params (override grammar)"
            )
        sampler = self._sampler_refusal()
        if sampler is not None:
            meaningless.append(sampler)
        return meaningless

    def _sampler_refusal(self) -> str | None:
        """Why the sampler cannot be made (unknown, no seed, wrong options), else None."""
        key = f"{self.key('sampler')}={self.sampler_name}"
        if self.sampler_name == "GridSampler":
            return (
                f"{key}: a grid is a sweep, not a search: sweep the values with "
                "hydra/sweeper=checked_experiment (the experiment tree's grid)"
            )
        try:
            factory = self._factory()
        except LookupError as error:
            return f"{key}: {error}"
        try:
            factory(seed=self.seed, **self.sampler_options)
        except Exception as error:  # a sampler's own check of its arguments
            return (
                f"{key} with {self.key('sampler_options')}={self.sampler_options} "
                f"cannot be made: {type(error).__name__}: {error}"
            )
        return None

    def _factory(self) -> Callable[..., Any]:
        """The sampler class (or hydra-optuna-sweeper's factory) the definition names."""
        import optuna
        from hydra.utils import get_object

        known = sorted(
            name
            for name in optuna.samplers.__all__
            if isinstance(getattr(optuna.samplers, name), type)
            and issubclass(getattr(optuna.samplers, name), optuna.samplers.BaseSampler)
            and name not in ("BaseSampler", "GridSampler", "PartialFixedSampler")
        )
        if not self.sampler.startswith(SAMPLER_MODULES):
            raise LookupError(f"not a sampler of optuna.samplers: one of {', '.join(known)}")
        name = self.sampler.removeprefix("optuna.samplers.")
        if name != self.sampler and "." not in name:  # looked up here: get_object logs misses
            factory = getattr(optuna.samplers, name, None)
        else:
            try:
                factory = get_object(self.sampler)
            except Exception:
                factory = None
        if factory is None:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise LookupError(
                f"no such sampler in optuna.samplers: {hint}one of {', '.join(known)}"
            )
        if not callable(factory):
            raise LookupError(f"not a sampler: one of {', '.join(known)}")
        return factory

    def sampler_for(self, trial_number: int) -> Any:
        """The sampler that draws trial ``trial_number``: made anew for each trial, seeded from
        the search's seed and the trial's number (``trial_seed``), so a trial's parameters
        depend only on the seed, its number and the study's earlier trials, never on what
        this process drew before: a search resumed in another process asks what one
        uninterrupted run would have asked."""
        seed = trial_seed(self.seed, trial_number, self.sampler_name)
        return self._factory()(seed=seed, **self.sampler_options)


def trial_seed(seed: int | None, trial_number: int, sampler_name: str) -> int | None:
    """The seed of the sampler drawing trial ``trial_number`` (None: random)."""
    if seed is None or sampler_name in ONE_SEED_SAMPLERS:
        return seed
    return int(np.random.SeedSequence([seed, trial_number]).generate_state(1)[0])


def _plain(node: Any) -> Any:
    return (
        OmegaConf.to_container(node, resolve=True)
        if isinstance(node, (DictConfig, ListConfig))
        else node
    )


def from_search_file(optuna: DictConfig) -> OptunaDefinition:
    """The definition of a search file's ``hydra.sweeper.search.optuna`` (``OptunaSearchConf``
    merged in: its fields are typed)."""
    prefix = "hydra.sweeper.search.optuna"
    return OptunaDefinition(
        sampler=f"optuna.samplers.{optuna.sampler}",
        sampler_options=dict(_plain(optuna.sampler_options) or {}),
        seed=optuna.seed,
        n_trials=optuna.n_trials,
        batch=optuna.num_workers,
        max_failure_rate=optuna.max_failure_rate,
        storage=optuna.storage,
        direction=optuna.direction,
        asynchronous=optuna.asynchronous,
        keys={
            name: f"{prefix}.{name}"
            for name in (
                "sampler",
                "sampler_options",
                "n_trials",
                "max_failure_rate",
                "storage",
                "direction",
                "asynchronous",
            )
        }
        | {"batch": f"{prefix}.num_workers"},
    )


def from_plain_tree(
    sampler: Any,
    direction: Any,
    storage: Any,
    study_name: str | None,
    n_trials: int,
    n_jobs: int,
    max_failure_rate: float,
    custom_search_space: str | None,
    asynchronous: bool = False,
) -> OptunaDefinition:
    """The definition of ``hydra/sweeper=optuna`` (hydra-optuna-sweeper's keys: the sampler
    config of ``hydra/sweeper/sampler``, ``n_jobs`` trials asked at once, ...)."""
    options = dict(_plain(sampler) or {})
    target = options.pop("_target_", "")
    options.pop("_partial_", None)
    seed = options.pop("seed", None)
    direction = _plain(direction)
    if hasattr(direction, "name"):  # hydra-optuna-sweeper's Direction enum
        direction = direction.name
    return OptunaDefinition(
        sampler=target,
        # Left unset (null): the sampler's own default, as Optuna documents it.
        sampler_options={k: v for k, v in options.items() if v is not None},
        seed=seed,
        n_trials=n_trials,
        batch=n_jobs,
        max_failure_rate=max_failure_rate,
        storage=_plain(storage),
        direction=direction,
        study_prefix=study_name,
        custom_search_space=custom_search_space,
        asynchronous=asynchronous,
        keys={
            "sampler": "hydra/sweeper/sampler",
            "sampler_options": "hydra.sweeper.sampler",
            "batch": "hydra.sweeper.n_jobs",
        }
        | {
            name: f"hydra.sweeper.{name}"
            for name in (
                "n_trials",
                "max_failure_rate",
                "storage",
                "direction",
                "custom_search_space",
                "asynchronous",
            )
        },
    )
