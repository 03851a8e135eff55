"""Which keys a job config may have.

Hydra merges config files without complaint, so ``jacc: 2-point`` in a settings file or ``xo:``
in experiment/task.yaml would just add a key that nothing reads. Here such a key is an error:
a top-level key must be one of the plain task's keys (the experiment's ``task_config``) or be
used by an interpolation somewhere in the config (an experiment variable such as ``maxfun``).
"""

import difflib
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from optsweep.engine.errors import InvalidJobConfig

if TYPE_CHECKING:
    from optsweep.engine.experiment import Experiment

# Keys the engine owns, not the task: Hydra's node and the tracker's (config/tracker/).
ENGINE_KEYS = ("hydra", "tracker")
_REFERENCE = re.compile(r"\$\{\s*([A-Za-z_][\w-]*)")


@cache
def task_keys(experiment: "Experiment") -> dict[str, frozenset | None]:
    """{top-level key of the task config: its sub-keys if it is a mapping, else None}, with
    the experiment's config groups."""
    base = OmegaConf.load(experiment.task_config)
    assert isinstance(base, DictConfig)
    keys: dict[str, frozenset | None] = {
        str(key): frozenset(base[key]) if OmegaConf.is_dict(base[key]) else None
        for key in base
        if key not in ("defaults", "hydra")
    }
    keys.update(experiment.group_keys)
    return keys


def referenced_keys(container: Any) -> set[str]:
    """Top-level keys named by ``${...}`` interpolations anywhere in ``container``."""
    if isinstance(container, dict):
        return set().union(*(referenced_keys(v) for v in container.values()))
    if isinstance(container, list):
        return set().union(*(referenced_keys(v) for v in container))
    if isinstance(container, str):
        return set(_REFERENCE.findall(container))
    return set()


def _not_a_task_key(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{name!r} is not a task key ({', '.join(candidates)}){hint}"


def check_keys(cfg: DictConfig, experiment: "Experiment") -> None:
    """Raise ``InvalidJobConfig`` for a key that no part of the experiment would read."""
    unresolved = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(unresolved, dict)
    for engine_key in ENGINE_KEYS:
        unresolved.pop(engine_key, None)
    known = task_keys(experiment)
    used = referenced_keys(unresolved)
    for key, value in unresolved.items():
        if key not in known and key not in used:
            raise InvalidJobConfig(
                f"top-level key {_not_a_task_key(str(key), list(known))} and nothing uses it"
            )
        sub_keys = known.get(key)
        if sub_keys is not None and isinstance(value, dict):
            for sub in value:
                if sub not in sub_keys:
                    candidates = [f"{key}.{k}" for k in sorted(sub_keys)]
                    raise InvalidJobConfig(f"key {_not_a_task_key(f'{key}.{sub}', candidates)}")
