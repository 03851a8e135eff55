"""A group choice in a settings file, written with or without ``override``.

The tutorial this project grew from writes a settings file as

    # @package _global_
    defaults:
      - /method: powell

Hydra reads ``- /method: powell`` as *adding* the group ``method``. When the tree already
chooses that group (``config/task.yaml``: ``- /method: ~``), Hydra refuses the file ("Multiple
values for method") and wants ``- override /method: powell``. ``with_overrides`` rewrites such
entries of a group config (``experiment/settings/*.yaml``, ``experiment/search/*.yaml``, ...)
into overrides when, and only when, the tree's primary configs already choose that group:
exactly where Hydra would refuse the file. Any other entry is left as written, so a file Hydra
accepts composes as before.

``check_choices`` refuses a group config choosing an option that does not exist, naming that
file (Hydra names the config that first chose the group: ``config/task.yaml``).

``TreeSource`` (hydra_plugins/optsweep_sweeper/tree_source.py) applies both to the primary
config directory as Hydra loads it, on every path: a plain run, a sweep, a launcher's worker.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import DictConfig, ListConfig, OmegaConf

from optsweep.engine.keys import GLOBAL_PACKAGE
from optsweep.engine.paths import shown

# The scheme under which Hydra reads the primary config directory through ``TreeSource``.
TREE_SCHEME = "optsweep-tree"
# The scheme of the primary config's ``file://`` search path entries as ``TreeSource`` serves
# them: Hydra's file source, with YAML syntax errors in a line (``YamlFileSource``).
FILE_SCHEME = "optsweep-file"


def config_file(hydra: Any, name: str) -> Path | None:
    """The file ``<name>.yaml`` (``settings/tnc``, the primary ``task``) of the first of the
    Hydra node ``hydra``'s file config sources that has it (the primary config directory as
    ``TreeSource`` serves it, its search path), else None."""
    for source in hydra.runtime.config_sources:
        if source.schema in ("file", TREE_SCHEME, FILE_SCHEME):
            file = Path(source.path) / f"{name}.yaml"
            if file.is_file():
                return file
    return None


def job_config_files(hydra: Any) -> list[tuple[str, Path]]:
    """(name, file) of the job's primary config (``task``) and of each group option it
    chose (``settings/tnc``), Hydra's own groups left out: the file ``config_file`` finds for
    each, where one does."""
    wanted = [hydra.job.config_name] + [
        f"{group}/{choice}"
        for group, choice in hydra.runtime.choices.items()
        if choice and not group.startswith("hydra/")
    ]
    found = ((name, config_file(hydra, name)) for name in wanted if name is not None)
    return [(name, file) for name, file in found if file is not None]


def declared_groups(tree: Path) -> frozenset[str]:
    """The config groups that the primary configs of ``tree`` (its top-level ``*.yaml``) and
    the configs they include choose, e.g. ``{"method", "settings", "search", "launcher",
    "hydra/sweeper"}`` for the experiment tree. Included configs are looked up in ``tree`` and
    in the ``file://`` directories of the primary config's ``hydra.searchpath``."""
    groups: set[str] = set()
    for primary in sorted(tree.glob("*.yaml")):
        config = _load(primary)
        if config is None:
            continue
        roots = [tree, *_search_dirs(config)]
        _collect(config, group="", roots=roots, groups=groups, seen={primary.resolve()})
    return frozenset(groups)


def tree_roots(tree: Path) -> list[Path] | None:
    """Where the options of ``tree``'s config groups are: ``tree`` and the ``file://``
    directories of its primary configs' ``hydra.searchpath``; None if a primary config
    searches elsewhere too (``pkg://``), where options cannot be listed from files."""
    roots = [tree]
    for primary in sorted(tree.glob("*.yaml")):
        config = _load(primary)
        entries = None if config is None else _search_entries(config)
        if entries and not all(entry.startswith("file://") for entry in entries):
            return None
        roots += [Path(entry.removeprefix("file://")) for entry in entries or ()]
    return roots


def check_choices(file: Path, defaults: Any, group: str, roots: list[Path]) -> None:
    """Raise ``MissingConfigException`` naming ``file`` if its defaults list (``file`` is an
    option of ``group``) chooses an option that none of ``roots`` has, e.g. ``- /method:
    newton`` in ``experiment/settings/tnc.yaml``. Hydra itself would blame the config that
    first chose the group (``config/task.yaml``). Groups with no directory in ``roots``, or
    with options in Hydra's ConfigStore, and Hydra's own groups (``hydra/launcher``, served by
    packages) are left to Hydra."""
    if not isinstance(defaults, (list, ListConfig)):
        return
    for entry in defaults:
        key = _single_key(entry)
        if key is None or "optional" in key.split() or not isinstance(entry[key], str):
            continue
        option = entry[key]
        chosen = _group(_absolute(key.split()[-1], group))
        if chosen.startswith("hydra/") or "${" in option or option == "???":
            continue
        directories = [root / chosen for root in roots if (root / chosen).is_dir()]
        if not directories or _in_config_store(chosen):
            continue
        options = sorted({f.stem for d in directories for f in d.glob("*.yaml")})
        if option not in options:
            places = ", ".join(f"{shown(d)}/" for d in directories)
            raise MissingConfigException(
                f"{shown(file)}: '- {key}: {option}' chooses an option of {chosen} that does "
                f"not exist (no {option}.yaml in {places}).\n"
                f"The options of {chosen} are: {', '.join(options)}",
                missing_cfg_file=f"{chosen}/{option}",
                options=options,
            )


def check_package(
    file: Path, defaults: Any, package: str | None, group: str, groups: frozenset[str]
) -> None:
    """Raise ``ConfigCompositionException`` naming ``file`` if it chooses an option of a group
    the tree already chooses (``- /method: tnc``) but has no ``# @package`` header, in a group
    whose files are ``# @package _global_`` (``settings``, or a sibling file has the header):
    its defaults then land under its own package (``settings.method``), and Hydra would say
    only "No earlier Group Default for 'method@settings.method'"."""
    if package is not None or not isinstance(defaults, (list, ListConfig)):
        return
    chosen = [
        f"{key}: {entry[key]}"
        for entry in defaults
        if (key := _single_key(entry)) is not None
        and key.split()[-1].startswith("/")
        and _group(key.split()[-1]) in groups
    ]
    if not chosen or not (group == "settings" or _sibling_is_global(file)):
        return
    raise ConfigCompositionException(
        f"{shown(file)}: '- {chosen[0]}' chooses an option of a group the tree already "
        f"chooses, but the file has no package header, so its defaults and keys land under "
        f"{group.replace('/', '.')!r}: start it with '# @package _global_' (as a file of "
        f"{group} maps the sweep variables onto the task's own keys)"
    )


def _sibling_is_global(file: Path) -> bool:
    """Whether another option of ``file``'s group starts with ``# @package _global_``."""
    for sibling in file.parent.glob("*.yaml"):
        if sibling != file:
            try:
                head = sibling.read_text()[:200]
            except OSError:
                continue
            if GLOBAL_PACKAGE.search(head):
                return True
    return False


def with_overrides(defaults: Any, groups: frozenset[str]) -> list | None:
    """``defaults`` (a config's defaults list) with each ``- /G: X`` whose group ``G`` is in
    ``groups`` written as ``- override /G: X`` and moved after the plain entries (Hydra wants
    overrides last; an override merges at the slot it replaces, so the move changes nothing
    else). None when no entry needs it."""
    if not isinstance(defaults, (list, ListConfig)):
        return None
    plain, overrides, changed = [], [], False
    for entry in defaults:
        key = _single_key(entry)
        if key is not None and key.startswith("/") and _group(key[1:]) in groups:
            value = entry[key]
            if isinstance(value, str):
                overrides.append({f"override {key}": value})
                changed = True
                continue
        if key is not None and key.split()[0] == "override":
            overrides.append(entry)
        else:
            plain.append(entry)
    return plain + overrides if changed else None


def _collect(
    config: DictConfig, group: str, roots: list[Path], groups: set[str], seen: set[Path]
) -> None:
    defaults = config.get("defaults")
    if not isinstance(defaults, ListConfig):
        return
    for entry in defaults:
        key = _single_key(entry)
        if key is not None:
            target = key.split()[-1]
            groups.add(_group(_absolute(target, group)))
        elif isinstance(entry, str) and entry != "_self_":
            path = _absolute(entry.split()[-1], group).split("@")[0]
            included = _find(path, roots)
            if included is not None and included.resolve() not in seen:
                seen.add(included.resolve())
                child = _load(included)
                if child is not None:
                    parent = path.rsplit("/", 1)[0] if "/" in path else ""
                    _collect(child, parent, roots, groups, seen)


def _single_key(entry: Any) -> str | None:
    """The key of a ``{key: value}`` defaults entry (a group choice), else None."""
    if isinstance(entry, (dict, DictConfig)) and len(entry) == 1:
        key = next(iter(entry.keys()))
        if isinstance(key, str):
            return key.strip()
    return None


def _group(target: str) -> str:
    """``method@foo`` -> ``method``; ``/hydra/sweeper`` -> ``hydra/sweeper``."""
    return target.split("@")[0].strip("/")


def _absolute(target: str, group: str) -> str:
    """A defaults-list path as seen from a config in ``group``: ``/x`` is absolute."""
    if target.startswith("/") or not group:
        return target.lstrip("/")
    return f"{group}/{target}"


def _find(path: str, roots: Iterable[Path]) -> Path | None:
    for root in roots:
        candidate = root / f"{path}.yaml"
        if candidate.is_file():
            return candidate
    return None


def _search_dirs(config: DictConfig) -> list[Path]:
    entries = _search_entries(config) or []
    return [Path(p.removeprefix("file://")) for p in entries if p.startswith("file://")]


def _search_entries(config: DictConfig) -> list[str] | None:
    """The resolved ``hydra.searchpath`` of a primary config; None if it has none, or one that
    does not resolve (Hydra reports it when it loads the tree)."""
    entries = OmegaConf.select(config, "hydra.searchpath", default=None)
    if not isinstance(entries, ListConfig):
        return None
    try:
        paths = OmegaConf.to_container(entries, resolve=True)
    except Exception:
        return None
    assert isinstance(paths, list)
    return [str(p) for p in paths]


def _in_config_store(group: str) -> bool:
    try:
        ConfigStore.instance().list(group)
    except OSError:
        return False
    return True


def _load(path: Path) -> DictConfig | None:
    try:
        config = OmegaConf.load(path)
    except Exception:  # a broken file: Hydra reports it, naming the file, when it loads it
        return None
    return config if isinstance(config, DictConfig) else None
