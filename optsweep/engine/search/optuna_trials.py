"""An Optuna search's trials as the search's evaluations, whoever asks and tells them (the
sweeping process of a batched search, or the pool workers of an asynchronous one): the
overrides that evaluate a trial, how it is told, how the study's trials read back."""

from typing import Any

from optsweep.engine.search.optuna_definition import OptunaDefinition
from optsweep.engine.search.state import Evaluation

# The user attributes a trial gets (Optuna's dashboard shows them).
ERROR, PATH, RESUMED = "error", "path", "resumed"
RESUMED_NOTE = "left RUNNING by a search that stopped; evaluated by a later run"
WORKER_DIED_NOTE = "left RUNNING by a joblib worker that died; evaluated again on a new pool"


def trial_overrides(trial: Any, space: dict, fixed: tuple[str, ...]) -> tuple[str, ...]:
    """The overrides that evaluate ``trial``: its parameters, then the fixed ones."""
    return tuple(f"{k}={_as_override(trial.params[k])}" for k in space) + tuple(fixed)


def _as_override(value: Any) -> str:
    """A parameter's value as an override's value (None: Hydra's null)."""
    return "null" if value is None else str(value)


def tell(study: Any, trial: Any, evaluation: Evaluation, definition: OptunaDefinition) -> None:
    """Tell ``trial`` its value, or its failure (its error in the user attribute ``error``),
    with its result file in ``path``; the sampler told is the one made for its number."""
    from optuna.trial import TrialState

    if evaluation.path is not None:
        trial.set_user_attr(PATH, evaluation.path)
    study.sampler = definition.sampler_for(trial.number)
    if evaluation.ok and evaluation.value is not None:  # evaluation_of: a finite value
        study.tell(trial, evaluation.value)
        return
    assert evaluation.error is not None
    trial.set_user_attr(ERROR, evaluation.error)
    study.tell(trial, state=TrialState.FAIL)


def reopened(
    study: Any, frozen: Any, space: dict, definition: OptunaDefinition, note: str = RESUMED_NOTE
) -> Any:
    """A trial left RUNNING (``frozen``) by a stopped run (or, ``note`` says, a dead worker),
    to be evaluated now with the parameters it holds (any it had not drawn yet drawn now, by
    the sampler made for its number); its user attribute ``resumed`` is ``note``."""
    from optsweep.engine import internals

    study.sampler = definition.sampler_for(frozen.number)
    trial = internals.reopened_trial(study, frozen)
    for key, distribution in space.items():
        internals.suggest(trial, key, distribution)
    trial.set_user_attr(RESUMED, note)
    return trial


def evaluations_of(trials: list, space: dict) -> list[Evaluation]:
    """The study's finished trials in order, as the search's evaluations: a COMPLETE trial's
    value, a FAIL (or PRUNED) trial's error, each with its result file."""
    evaluations = []
    for trial in sorted(trials, key=lambda t: t.number):
        if not trial.state.is_finished():
            continue
        params = {k: trial.params[k] for k in space if k in trial.params}
        path = trial.user_attrs.get(PATH)
        if trial.state.name == "COMPLETE":
            evaluations.append(Evaluation(trial.number, params, trial.value, path=path))
        else:
            error = trial.user_attrs.get(ERROR) or f"trial {trial.state.name} (no error recorded)"
            evaluations.append(Evaluation(trial.number, params, None, error, path))
    return evaluations
