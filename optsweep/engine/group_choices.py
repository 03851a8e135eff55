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

``TreeSource`` (hydra_plugins/optsweep_sweeper/tree_source.py) applies it to the primary
config directory as Hydra loads it, on every path: a plain run, a sweep, a launcher's worker.
"""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

# The scheme under which Hydra reads the primary config directory through ``TreeSource``.
TREE_SCHEME = "optsweep-tree"


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
    entries = OmegaConf.select(config, "hydra.searchpath", default=None)
    if not isinstance(entries, ListConfig):
        return []
    try:
        paths = OmegaConf.to_container(entries, resolve=True)
    except Exception:  # an unresolvable entry: Hydra reports it when it loads the tree
        return []
    assert isinstance(paths, list)
    return [Path(p.removeprefix("file://")) for p in paths if str(p).startswith("file://")]


def _load(path: Path) -> DictConfig | None:
    try:
        config = OmegaConf.load(path)
    except Exception:  # a broken file: Hydra reports it, naming the file, when it loads it
        return None
    return config if isinstance(config, DictConfig) else None
