"""Which optimizer a search file chose: ``hydra.sweeper.search.optim`` (nevergrad) or
``hydra.sweeper.search.optuna`` (Optuna), exactly one of them, beside its ``params``."""

from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from optsweep.engine.search.errors import SearchRefused

KEY = "hydra.sweeper.search"
OPTIMIZERS = {"optim": "nevergrad", "optuna": "Optuna"}


def chosen_search(
    search: DictConfig, name: str | None, *, state_dir: str, tunes_settings: str | None
) -> Any:
    """The search that the search file ``name`` (``hydra.sweeper.search``) defines, not yet
    set up; ``SearchRefused`` if it names no optimizer, both, or keys that are not theirs."""
    given = [key for key in OPTIMIZERS if search.get(key) is not None]
    unknown = sorted(str(key) for key in search if key not in (*OPTIMIZERS, "params"))
    problems = []
    if len(given) != 1:
        said = "both optim and optuna" if given else "neither optim nor optuna"
        problems.append(
            f"{KEY} of search={name} gives {said}: one optimizer, optim: {{...}} (nevergrad) or "
            "optuna: {...} (Optuna)"
        )
    if unknown:
        problems.append(
            f"{KEY}.{unknown[0]} of search={name}: not a key of a search (optim or optuna, "
            "and params)"
        )
    if problems:
        raise SearchRefused("search refused before any evaluation:\n  " + "\n  ".join(problems))
    (optimizer,) = given
    params = search.get("params")
    if optimizer == "optim":
        from optsweep.engine.search.config import CheckedOptimConf
        from optsweep.engine.search.nevergrad import NevergradSearch

        return NevergradSearch(
            _merged(CheckedOptimConf, search, "optim", name),
            params=params,
            state_dir=state_dir,
            search_name=name,
            tunes_settings=tunes_settings,
        )
    from optsweep.engine.search.config import OptunaSearchConf
    from optsweep.engine.search.optuna import OptunaSearch
    from optsweep.engine.search.optuna_definition import from_search_file

    optuna = _merged(OptunaSearchConf, search, "optuna", name)
    return OptunaSearch(
        from_search_file(optuna),
        params=params,
        params_key=f"{KEY}.params",
        state_dir=state_dir,
        search_name=name,
        tunes_settings=tunes_settings,
    )


def _merged(schema: type, search: DictConfig, key: str, name: str | None) -> DictConfig:
    """The search file's ``key`` block over its ``schema``'s defaults; ``SearchRefused``,
    naming the block and the key, if it does not fit."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), search[key])
    except OmegaConfBaseException as error:
        raise SearchRefused(
            f"search refused before any evaluation:\n  {KEY}.{key} of search={name}: {error}"
        ) from None
    assert isinstance(merged, DictConfig)
    return merged
