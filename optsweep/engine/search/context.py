"""What a search's evaluations run on besides its optimizer and space: recorded in its
definition, so that a search rerun on another config or code starts afresh."""

from typing import Any

from omegaconf import DictConfig, OmegaConf

from optsweep.engine.keys import task_keys
from optsweep.engine.search.state import search_id
from optsweep.engine.store import ResultStore


def runs_on(config: DictConfig, store: ResultStore | None) -> dict[str, Any]:
    """The sweep's ``config`` (where results go left out), digested; the experiment's own
    variables (``maxfun: 100``), shown; the code version of the experiment of ``store``."""
    plain = OmegaConf.to_container(config, resolve=False)
    assert isinstance(plain, dict)
    return {
        "config": search_id({k: v for k, v in plain.items() if k not in ("hydra", "output")}),
        "variables": _variables(plain, store),
        "code": None if store is None else store.code,
    }


def _variables(plain: dict, store: ResultStore | None) -> dict:
    """The top-level scalars of the config ``plain`` that are not task keys: the
    experiment's variables, which a search file fixes (``maxfun: 100``)."""
    if store is None:
        return {}
    known = task_keys(store.experiment)
    return {
        str(key): value
        for key, value in plain.items()
        if key not in known and key != "hydra" and isinstance(value, (int, float, str, bool))
    }
