"""Which keys a job config may have, at every depth.

Hydra merges config files without complaint, so ``jacc: 2-point`` in a settings file, ``xo:``
in experiment/task.yaml or ``model.params.max_itr`` would just add a key that nothing reads.
Here such a key is an error. The keys a job may have are the plain task's (the experiment's
``task_config``, to every depth) and, for each config group of the plain tree (a folder of
option files: ``config/model/*.yaml``), the keys of the option the job chose and of the
options it extends (``- base`` in its defaults list), to every depth (``model=svm``:
config/model/svm.yaml's; ``model.max_iter``, logistic's, is refused there). Where the choice is
not known, or the option takes keys from elsewhere (a ``@package`` header, a file that is not
there), a key is known if any option of the group has it. A top-level key may also be an
experiment variable that some interpolation uses (``budget``). Where an option leaves a
mapping empty (``{}``) or null, anything below it is accepted. An experiment's ``group_keys``
checks a group one level deep instead (for groups whose options do not list every key they
accept).
"""

import difflib
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from omegaconf import DictConfig, OmegaConf

from optsweep.engine.errors import InvalidJobConfig
from optsweep.engine.paths import project_root, shown

if TYPE_CHECKING:
    from optsweep.engine.experiment import Experiment

# Keys the engine owns, not the task: Hydra's node, where results go, the tracker's.
ENGINE_KEYS = ("hydra", "output", "tracker")
_REFERENCE = re.compile(r"\$\{\s*([A-Za-z_][\w-]*)")
GLOBAL_PACKAGE = re.compile(r"^#\s*@package\s+_global_\s*$", re.MULTILINE)

# A schema: {key: its schema if it is a mapping with known keys, else ANY}.
Schema = dict[str, Any]
ANY = None


def _schema_of(node: Any) -> Any:
    """The keys of a loaded YAML value, to every depth; ANY for a leaf, an empty mapping or
    null (anything may go there)."""
    if isinstance(node, dict) and node:
        return {str(key): _schema_of(value) for key, value in node.items() if key != "defaults"}
    return ANY


def _merge(into: Schema, schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    for key, sub in schema.items():
        if key not in into:
            into[key] = sub
        elif isinstance(into[key], dict) and isinstance(sub, dict):
            _merge(into[key], sub)
        # else: a mapping in one option, a value in another: the known keys are kept


def _load(file: Path) -> tuple[Any, bool]:
    """A YAML file's content and whether it is ``# @package _global_``."""
    content, text = _read(file)
    return content, bool(GLOBAL_PACKAGE.search(text))


def _read(file: Path) -> tuple[Any, str]:
    """A YAML file's content (None if it does not parse) and its text."""
    text = file.read_text()
    try:
        return yaml.safe_load(text), text
    except yaml.YAMLError:
        return None, text  # Hydra reports the syntax error when it loads the file


def _group_schema(directory: Path, top: Schema) -> Schema:
    """The union of the keys of a group's options (and of its nested groups, at their key)."""
    schema: Schema = {}
    for file in sorted(directory.glob("*.yaml")):
        content, global_package = _load(file)
        _merge(top if global_package else schema, _schema_of(content))
    _merge_nested(schema, directory, top, group="", choices={})
    return schema


def _merge_nested(schema: Schema, directory: Path, top: Schema, group: str, choices: dict) -> None:
    """Add the schema of each nested group of ``directory`` at its key."""
    for sub in sorted(p for p in directory.iterdir() if p.is_dir()):
        if any(sub.rglob("*.yaml")):
            nested = schema.setdefault(sub.name, {})
            if isinstance(nested, dict):
                _merge(nested, _chosen_schema(sub, top, f"{group}/{sub.name}", choices))


def _option_keys(file: Path, root: Path, seen: frozenset[Path] = frozenset()) -> Schema | None:
    """The keys of an option file, with those of the options it extends (the plain entries of
    its defaults list: ``- base`` in its own group, ``- /model/base`` from the tree's
    ``root``); None where they cannot all be known from files (an ``@package`` header, an
    extended file that is missing, a loop)."""
    if file in seen or not file.is_file():
        return None
    content, text = _read(file)
    if "@package" in text or not isinstance(content, dict):
        return None
    defaults = content.get("defaults") or []
    if not isinstance(defaults, list):
        return None
    schema: Schema = {}
    for entry in defaults:
        if entry == "_self_" or isinstance(entry, dict):
            continue  # itself, or a nested group's choice (its folder gives its keys)
        if not isinstance(entry, str):
            return None
        name = entry.strip()
        base = (
            root / f"{name.lstrip('/')}.yaml"
            if name.startswith("/")
            else file.parent / f"{name}.yaml"
        )
        extended = _option_keys(base, root, seen | {file})
        if extended is None:
            return None
        _merge(schema, extended)
    own = _schema_of(content)
    _merge(schema, own if isinstance(own, dict) else {})
    return schema


def _chosen_schema(directory: Path, top: Schema, group: str, choices: dict) -> Schema:
    """The keys of the option the job chose for ``group`` (``choices``, Hydra's
    ``runtime.choices``) and of the options it extends, with those of its nested groups; the
    union of every option's where the choice is not known or the option takes keys from
    elsewhere."""
    name = group.strip("/")
    choice = choices.get(name)
    root = directory
    for _ in name.split("/"):
        root = root.parent
    schema = _option_keys(directory / f"{choice}.yaml", root) if isinstance(choice, str) else None
    if schema is None:
        return _group_schema(directory, top)
    _merge_nested(schema, directory, top, group, choices)
    return schema


@cache
def job_schema(experiment: "Experiment", choices: tuple[tuple[str, str], ...] = ()) -> Schema:
    """The keys a job config of ``experiment`` may have (see the module docstring), given
    the job's group choices (Hydra's ``runtime.choices``: ``(("model", "svm"), ...)``)."""
    task_config = experiment.task_config_file()
    if not task_config.is_file():
        raise InvalidJobConfig(
            f"experiment {experiment.name!r}: its plain task config {task_config} does not "
            "exist; set Experiment(task_config=...) to the primary config of config/"
        )
    base = OmegaConf.load(task_config)
    assert isinstance(base, DictConfig)
    plain = OmegaConf.to_container(base, resolve=False)
    assert isinstance(plain, dict)
    schema: Schema = {
        str(key): _schema_of(value)
        for key, value in plain.items()
        if key not in ("defaults", "hydra")
    }
    tree = task_config.parent
    for directory in sorted(p for p in tree.iterdir() if p.is_dir() and p.name != "hydra"):
        if any(directory.rglob("*.yaml")):
            groups = schema.setdefault(directory.name, {})
            if isinstance(groups, dict):
                _merge(groups, _chosen_schema(directory, schema, directory.name, dict(choices)))
    for group, sub_keys in experiment.group_keys.items():
        schema[group] = {key: ANY for key in sub_keys}
    for engine_key in ENGINE_KEYS:
        schema.pop(engine_key, None)
    return schema


def task_keys(experiment: "Experiment") -> Schema:
    """The top-level keys a job config may have, each with its schema (see ``job_schema``)."""
    return job_schema(experiment)


@cache
def declared_groups(experiment: "Experiment") -> tuple[str, ...]:
    """The config groups the plain tree's defaults list declares, in its order."""
    base = OmegaConf.load(experiment.task_config_file())
    groups = []
    for entry in OmegaConf.to_container(base, resolve=False).get("defaults", []) or []:  # type: ignore[union-attr]
        if isinstance(entry, dict):
            for key in entry:
                group = str(key).removeprefix("override ").strip().lstrip("/").split("@")[0]
                if group and not group.startswith("hydra"):
                    groups.append(group)
    return tuple(dict.fromkeys(groups))


def result_groups(experiment: "Experiment") -> tuple[str, ...]:
    """The groups whose choice names a result's directory: the experiment's, else search,
    settings and the groups the plain tree declares (the tracker's left out)."""
    if experiment.result_groups is not None:
        return experiment.result_groups
    declared = (g for g in declared_groups(experiment) if g not in ENGINE_KEYS)
    return tuple(dict.fromkeys(("search", "settings", *declared)))


def referenced_keys(container: Any) -> set[str]:
    """Top-level keys named by ``${...}`` interpolations anywhere in ``container``."""
    if isinstance(container, dict):
        return set().union(*(referenced_keys(v) for v in container.values()))
    if isinstance(container, list):
        return set().union(*(referenced_keys(v) for v in container))
    if isinstance(container, str):
        return set(_REFERENCE.findall(container))
    return set()


def _unknown(dotted: str, candidates: list[str], said: str = "") -> str:
    """``'<dotted>' is not a task key (<candidates>)<said>; did you mean '<closest>'?``"""
    # By the last part: 'model.max_iter' is close to every 'model.*' as a whole.
    leaves = {candidate.rsplit(".", 1)[-1]: candidate for candidate in candidates}
    close = difflib.get_close_matches(dotted.rsplit(".", 1)[-1], list(leaves), n=1, cutoff=0.5)
    hint = f"; did you mean {leaves[close[0]]!r}?" if close else ""
    listed = ", ".join(candidates[:12]) + (", ..." if len(candidates) > 12 else "")
    return f"{dotted!r} is not a task key ({listed}){said}{hint}"


def _check_node(
    node: dict, schema: Schema, path: tuple[str, ...], groups: Path, choices: dict
) -> None:
    for key, value in node.items():
        sub = schema.get(str(key), ANY) if str(key) in schema else _MISSING
        if sub is _MISSING:
            dotted = ".".join((*path, str(key)))
            candidates = [".".join((*path, k)) for k in sorted(schema)]
            raise InvalidJobConfig(
                f"key {_unknown(dotted, candidates)}{_where(path, groups, choices)}"
            )
        if isinstance(sub, dict) and isinstance(value, dict):
            _check_node(value, sub, (*path, str(key)), groups, choices)


def _where(path: tuple[str, ...], groups: Path, choices: dict) -> str:
    """Where a key under ``path`` would be declared: the chosen option of its group, else
    the group's options."""
    for depth in range(len(path), 0, -1):
        group = "/".join(path[:depth])
        directory = groups / group
        if not directory.is_dir():
            continue
        option = directory / f"{choices.get(group)}.yaml"
        if option.is_file():
            return f"; {group}={choices[group]} chose {shown(option)}, which does not have it"
        return f"; declare it in the options of {group}/ ({directory})"
    return ""


_MISSING = object()


def _group_hint(key: str, experiment: "Experiment") -> str:
    """For a top-level key named like a config group of a tree (``settings``): the chosen
    option file lacks ``# @package _global_`` (or is empty), so its keys landed under it."""
    trees = (experiment.task_config_file().parent, project_root() / "experiment")
    groups = [tree / key for tree in trees if (tree / key).is_dir()]
    if not groups:
        return ""
    return (
        f"; a file of the config group {key!r} ({shown(groups[0])}/) puts its keys under "
        f"{key!r}: start it with '# @package _global_' and give it content (an empty or "
        "comment-only file is read as an empty mapping under that key)"
    )


def check_keys(cfg: DictConfig, experiment: "Experiment") -> None:
    """Raise ``InvalidJobConfig`` for a key that no part of the experiment would read."""
    unresolved = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(unresolved, dict)
    for engine_key in ENGINE_KEYS:
        unresolved.pop(engine_key, None)
    choices = _job_choices()
    schema = job_schema(experiment, tuple(sorted(choices.items())))
    used = referenced_keys(unresolved)
    variables = sorted(str(k) for k in unresolved if k not in schema and k in used)
    for key in list(unresolved):
        if key not in schema and key in used:  # an experiment variable (budget: 100)
            continue
        if key not in schema:
            # A misspelt interpolation (${sample}) leaves the variable it meant unused.
            dangling = sorted(r for r in used if r not in unresolved and r not in schema)
            meant = difflib.get_close_matches(str(key), dangling, n=1, cutoff=0.6)
            if meant:
                raise InvalidJobConfig(
                    f"'${{{meant[0]}}}' names no key; did you mean '${{{key}}}'? (the "
                    f"top-level key {str(key)!r} is set, and nothing else uses it)"
                )
            replaced = _replaced_mapping(str(key))
            if replaced:
                raise InvalidJobConfig(
                    f"top-level key {str(key)!r} is set, but nothing uses it: {replaced}"
                )
            names = [*sorted(schema), *variables]  # a misspelt variable's name is close to one
            raise InvalidJobConfig(
                f"top-level key {_unknown(str(key), names, ' and nothing uses it')}"
                + _group_hint(str(key), experiment)
            )
    known = {k: v for k, v in unresolved.items() if k in schema}
    _check_node(known, schema, (), experiment.task_config_file().parent, choices)


def _replaced_mapping(variable: str) -> str:
    """Why a variable (``budget``) is unused when an override of the job replaced the value
    that one of its config files maps onto it (``model.epochs=5`` over a settings file's
    ``model.epochs: ${budget}``): that override, the file and what to do; else ""."""
    from hydra.core.hydra_config import HydraConfig  # only a job's checks need Hydra

    if not HydraConfig.initialized():
        return ""
    hydra = HydraConfig.get()
    overridden = {}
    for override in hydra.overrides.task:
        name, equals, _ = override.lstrip("+~").partition("=")
        if equals and "." in name:
            overridden[name] = override
    if not overridden:
        return ""
    from optsweep.engine.group_choices import job_config_files

    for name, path in job_config_files(hydra):
        loaded, text = _read(path)
        if GLOBAL_PACKAGE.search(text):
            package = ""
        elif "@package" in text:
            continue  # another package than its group's: where its keys go is not known here
        else:
            package = name.rpartition("/")[0].replace("/", ".")  # "" for the primary config
        for dotted, value in _leaves(loaded, package):
            if dotted in overridden and variable in referenced_keys(value):
                override = overridden[dotted]
                return (
                    f"the override {override} replaces {shown(path)}'s {dotted}: {value}, "
                    f"which maps {variable} onto it; drop {override} and set {variable} "
                    f"instead ({variable}={override.partition('=')[2]}), which that file maps "
                    f"onto {dotted}"
                )
    return ""


def _leaves(node: Any, prefix: str) -> list[tuple[str, Any]]:
    """(dotted key, value) of every leaf of a loaded config, its keys under ``prefix``."""
    if isinstance(node, dict):
        return [
            leaf
            for key, value in node.items()
            if key != "defaults"
            for leaf in _leaves(value, f"{prefix}.{key}" if prefix else str(key))
        ]
    return [(prefix, node)]


def _job_choices() -> dict[str, str]:
    """The current job's group choices (Hydra's ``runtime.choices``), without Hydra's own."""
    from hydra.core.hydra_config import HydraConfig  # only a job's checks need Hydra

    if not HydraConfig.initialized():
        return {}
    chosen = HydraConfig.get().runtime.choices
    return {
        str(group): str(option)
        for group, option in chosen.items()
        if isinstance(option, str) and not str(group).startswith("hydra/")
    }
