"""What a search's evaluations run on besides its optimizer and space: recorded in its
definition, so that a search rerun on another config or code starts afresh."""

from collections.abc import Iterable
from typing import Any

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from optsweep.engine.group_choices import config_file
from optsweep.engine.keys import task_keys
from optsweep.engine.search.state import search_id
from optsweep.engine.store import ResultStore
from optsweep.engine.trackers import flatten


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


def fixed_keys(
    config: DictConfig, search_name: str | None, store: ResultStore | None, searched: Iterable[str]
) -> dict[str, Any]:
    """The task keys a search fixes besides its setting, with their values in its ``config``:
    those its search file sets (``dim: 1``) and its command line's overrides give
    (``x0_random.dim=3``). The tuned settings file sets them too, or it would not reproduce
    the best value. The ``searched`` keys and the variables (which its header names) are left
    out, and so are group choices (``settings=tnc``)."""
    if store is None:
        return {}
    known, searched = task_keys(store.experiment), set(searched)
    dotted: list[str] = []
    file = config_file(config.hydra, f"search/{search_name}") if search_name else None
    if file is not None:
        content = yaml.safe_load(file.read_text())
        if isinstance(content, dict):
            given = {k: v for k, v in content.items() if k not in ("defaults", "hydra")}
            dotted += flatten(given).keys()
    for override in config.hydra.overrides.task:
        key, equals, _ = override.partition("=")
        if equals and not key.startswith("~"):
            dotted.append(key.lstrip("+"))
    fixed: dict[str, Any] = {}
    for key in dict.fromkeys(dotted):
        if key.split(".")[0] not in known or key in searched:
            continue
        try:
            value = OmegaConf.select(config, key, default=None)
        except OmegaConfBaseException:  # an interpolation only a job resolves (${hydra:job.num})
            continue
        if isinstance(value, ListConfig):
            value = OmegaConf.to_container(value, resolve=True)
        if value is not None and not isinstance(value, DictConfig):
            fixed[key] = value
    return fixed
