"""The shape of a job config: which keys may exist, and what the task's own keys must hold.

Hydra merges config files without complaint, so ``jacc: 2-point`` in a settings file or ``xo:``
in experiment/task.yaml would just add a key that nothing reads. Here such a key is an error:
a top-level key must be one of the plain task's keys (config/task.yaml) or be used by an
interpolation somewhere in the config (an experiment variable such as ``maxfun``).
"""

import difflib
import re
from functools import cache
from numbers import Real

from omegaconf import DictConfig, OmegaConf

from optsweep.paths import PROJECT_ROOT

_REFERENCE = re.compile(r"\$\{\s*([A-Za-z_][\w-]*)")


class InvalidTaskConfig(ValueError):
    """A key that nothing reads, or a task key with a value of the wrong kind."""


@cache
def task_keys() -> dict[str, frozenset | None]:
    """{top-level key of config/task.yaml: its sub-keys if it is a mapping, else None}."""
    base = OmegaConf.load(PROJECT_ROOT / "config" / "task.yaml")
    keys = {
        key: frozenset(base[key]) if OmegaConf.is_dict(base[key]) else None
        for key in base if key not in ("defaults", "hydra")
    }
    keys["method"] = frozenset({"name", "options"})
    return keys


def referenced_keys(container) -> set[str]:
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


def check_keys(cfg: DictConfig) -> None:
    """Raise ``InvalidTaskConfig`` for a key that no part of the project would read."""
    unresolved = OmegaConf.to_container(cfg, resolve=False)
    unresolved.pop("hydra", None)
    known = task_keys()
    used = referenced_keys(unresolved)
    for key, value in unresolved.items():
        if key not in known and key not in used:
            raise InvalidTaskConfig(
                f"top-level key {_not_a_task_key(key, list(known))} and nothing uses it"
            )
        if known.get(key) is not None and isinstance(value, dict):
            for sub in value:
                if sub not in known[key]:
                    candidates = [f"{key}.{k}" for k in sorted(known[key])]
                    raise InvalidTaskConfig(f"key {_not_a_task_key(f'{key}.{sub}', candidates)}")


def check_values(config: dict) -> None:
    """Raise ``InvalidTaskConfig`` if the task's own keys hold values of the wrong kind."""
    seed = config["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidTaskConfig(f"seed={seed!r} must be a non-negative integer")
    x0 = config["x0"]
    if x0 is not None and (not isinstance(x0, list) or not x0 or not all(
            isinstance(v, Real) and not isinstance(v, bool) for v in x0)):
        raise InvalidTaskConfig(f"x0={x0!r} must be null or a non-empty list of numbers")
    box = config["x0_random"]
    if not (isinstance(box["dim"], int) and box["dim"] > 0 and isinstance(box["low"], Real)
            and isinstance(box["high"], Real) and box["low"] < box["high"]):
        raise InvalidTaskConfig(
            f"x0_random={box!r} must have an integer dim > 0 and numbers low < high"
        )
