"""What would fail every evaluation of a search, checked for nevergrad and Optuna before
anything is evaluated: a parameter whose key the config has not (Hydra would refuse it in each
evaluation, advising to append it), a key of the search file that no part of the
experiment reads (each evaluation would fail the experiment's key check), and a mandatory
value (``???``, a sweep variable such as ``budget``) that neither the search file, its
parameters nor the command line sets."""

import difflib
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from optsweep.engine.errors import InvalidJobConfig

_ABSENT = object()


def absent_keys(overrides: list[Any], config: DictConfig) -> dict[int, str]:
    """{position: why} of the parsed ``overrides`` that set a key the composed ``config``
    does not have (``key=value``, not ``+key=value``), which Hydra would refuse in every
    evaluation. Nothing is said if one of them searches a config group, or chooses another
    group than ``config`` did: the keys then depend on the choice."""
    from hydra.core.override_parser.types import OverrideType

    choices = config.hydra.runtime.choices if "hydra" in config else {}
    for override in overrides:
        group = override.key_or_group
        if group in choices or "/" in group:
            if override.is_sweep_override() or choices.get(group) != override.value():
                return {}
    absent = {}
    for position, override in enumerate(overrides):
        key = override.key_or_group
        if override.type is not OverrideType.CHANGE or key in choices or "/" in key:
            continue
        if key.split(".")[0] == "hydra":
            continue
        try:
            found = OmegaConf.select(config, key, default=_ABSENT, throw_on_missing=False)
        except Exception:  # a key OmegaConf cannot look up (a list index): Hydra will say
            continue
        if found is _ABSENT and not _mandatory(config, key):
            closest = _closest(config, key)
            hint = f"did you mean {closest}?" if closest else f"to add it, write +{key}"
            absent[position] = f"the config has no key {key}; {hint}"
    return absent


def mapped_keys(overrides: list[Any], config: DictConfig, experiment: Any) -> dict[int, str]:
    """{position: why} of the parsed ``overrides`` that search a key whose value the config
    maps from a sweep variable (``method.options.maxfun: ${maxfun}``, a settings file's
    mapping): each evaluation would replace it, leaving the variable unused, and the
    experiment's key check would refuse every one. Searching the variable itself works."""
    from hydra.core.override_parser.types import OverrideType

    from optsweep.engine.keys import referenced_keys, task_keys

    known = task_keys(experiment) if experiment is not None else {}
    mapped = {}
    for position, override in enumerate(overrides):
        key = override.key_or_group
        if override.type is not OverrideType.CHANGE or "." not in key or key.startswith("hydra."):
            continue
        parent_key, _, leaf = key.rpartition(".")
        try:
            parent = OmegaConf.select(config, parent_key, throw_on_missing=False)
        except Exception:
            continue
        if not isinstance(parent, DictConfig) or leaf not in parent:
            continue
        if not OmegaConf.is_interpolation(parent, leaf):
            continue
        raw = OmegaConf.to_container(parent, resolve=False)[leaf]  # type: ignore[index]
        variables = sorted(v for v in referenced_keys(raw) if v not in known and v in config)
        if variables:
            named = ", ".join(variables)
            mapped[position] = (
                f"the config maps the sweep variable {named} onto {key} ({key}: {raw}), so "
                f"every evaluation would leave {named} unused, which the experiment refuses; "
                f"search {variables[0]} itself instead"
            )
    return mapped


def _closest(config: DictConfig, key: str) -> str:
    """The existing key nearest to ``key`` beside it (the same parent), or ``""``."""
    parent, _, name = key.rpartition(".")
    try:
        node = OmegaConf.select(config, parent) if parent else config
    except Exception:
        return ""
    if not isinstance(node, DictConfig):
        return ""
    names = difflib.get_close_matches(name, [str(k) for k in node.keys()], n=1)
    return f"{parent + '.' if parent else ''}{names[0]}" if names else ""


def unread_keys(config: DictConfig, experiment: Any) -> str | None:
    """Why the composed ``config`` (the search's, before its parameters are applied) has a key
    no part of ``experiment`` reads (``keys.check_keys``, the check each evaluation gets, as a
    sweep's job does), or an override replacing a choice of its files
    (``replaced_choices``), with the files it may come from, else None."""
    from optsweep.engine.keys import check_keys, result_groups
    from optsweep.engine.plan import config_files
    from optsweep.engine.replaced_choices import refuse_replaced_choices

    task = config.copy()
    with open_dict(task):
        task.pop("hydra", None)
    try:
        refuse_replaced_choices(result_groups(experiment))
        check_keys(task, experiment)
    except InvalidJobConfig as error:
        return f"{error}\n    (from {config_files()})"  # the search's files: its Hydra node
    return None


def missing_values(config: DictConfig, given: set[str]) -> str | None:
    """Why the composed ``config`` (the search's, before its parameters are applied) cannot
    make any evaluation: values left mandatory (``???``) that no parameter or command-line
    override of ``given`` (their keys) sets; each evaluation would fail on them. None if
    there are none."""
    from optsweep.engine.plan import config_files

    task = config.copy()
    with open_dict(task):
        task.pop("hydra", None)
    plain = OmegaConf.to_container(task, resolve=False)  # "???" where a value is missing
    missing = sorted(key for key in _mandatory_keys(plain) if key not in given)
    if not missing:
        return None
    named = ", ".join(missing)
    verb = "has" if len(missing) == 1 else "have"
    return (
        f"{named} {verb} no value (???), which every evaluation would fail on: set "
        f"{'it' if len(missing) == 1 else 'them'} in the search file ({missing[0]}: ...) or on "
        f"the command line ({missing[0]}=...)\n    (from {config_files()})"
    )


def _mandatory_keys(value: Any, prefix: str = "") -> list[str]:
    """The dotted keys of ``value`` (a config as plain containers, unresolved) whose value is
    missing (``???``); an interpolation to one (``${maxfun}``) is not one itself."""
    if value == "???":
        return [prefix]
    if isinstance(value, dict):
        items = ((f"{prefix}.{k}" if prefix else str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{prefix}[{i}]", v) for i, v in enumerate(value))
    else:
        return []
    return [key for name, child in items for key in _mandatory_keys(child, name)]


def _mandatory(config: DictConfig, key: str) -> bool:
    """Whether ``config`` has ``key`` with no value yet (``???``: a sweep variable the
    search may set), which ``OmegaConf.select`` answers with its default as if absent."""
    parent_key, _, leaf = key.rpartition(".")
    try:
        parent = OmegaConf.select(config, parent_key) if parent_key else config
        # ``leaf in parent`` is False for a missing value: its node is there all the same.
        return (
            isinstance(parent, DictConfig)
            and parent._get_node(leaf) is not None
            and OmegaConf.is_missing(parent, leaf)
        )
    except Exception:
        return False
