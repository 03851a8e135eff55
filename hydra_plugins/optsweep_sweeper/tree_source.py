"""Config trees as Hydra reads them, plus the tutorial's settings-file form and errors that
name the file to fix.

Hydra finds a ``ConfigSource`` for each search path entry by its scheme. ``TreeSearchPath``
gives the primary config directory (``config/`` or ``experiment/``, or any ``-cp`` directory)
the scheme ``optsweep-tree://``, served by ``TreeSource``: Hydra's file source, except that

- a group config's ``- /G: X`` is read as ``- override /G: X`` when the tree already chooses
  ``G`` (see ``optsweep.engine.group_choices``); a file Hydra accepts is served unchanged;
- a group config choosing an option of a group the tree chooses, without the
  ``# @package _global_`` header its group's files have, is refused saying to add it (Hydra
  would say "No earlier Group Default");
- a group config choosing an option that does not exist (``- /method: newton`` in a settings
  file) is refused naming that file and the options there are (Hydra would blame the config
  that first chose the group);
- an experiment's primary config gets the engine's own config first in its defaults list
  (``optsweep_engine``, from ``pkg://optsweep.conf``: ``output``, the progress callback,
  Hydra's run and sweep dirs in the project, the ``tracker`` group), so a project's YAML
  never copies them and anything it sets wins; a plain Hydra app (no ``@EXPERIMENT.task``
  in the process) is served unchanged;
- a YAML syntax error is reported in a line, ``<file>:<line>:<column>: <PyYAML's message>``
  (``optsweep.engine.config_errors``), not as PyYAML's traceback. The primary config's
  ``file://`` search path entries (``experiment/task.yaml`` reaching ``config/``) are served
  as ``optsweep-file://`` by ``YamlFileSource``, which does the same for their files:
  search path entries are added after search path plugins run, so this is the one place to
  choose their source.

A thin plugin module (Hydra imports every plugin module on every command).
"""

from pathlib import Path

import yaml
from hydra._internal.core_plugins.file_config_source import FileConfigSource
from hydra.core.config_search_path import ConfigSearchPath, SearchPathElement
from hydra.plugins.config_source import ConfigResult
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import Container, ListConfig, OmegaConf, open_dict
from omegaconf.errors import GrammarParseError

from optsweep.engine.config_errors import interpolation_error, syntax_error
from optsweep.engine.group_choices import (
    FILE_SCHEME,
    TREE_SCHEME,
    check_choices,
    check_package,
    declared_groups,
    tree_roots,
    with_overrides,
)
from optsweep.engine.paths import experiment_registered

# The engine's own configs, and the one every experiment's primary config includes first.
ENGINE_SEARCH_PATH = "pkg://optsweep.conf"
ENGINE_CONFIG = "optsweep_engine"


class YamlFileSource(FileConfigSource):
    """Hydra's ``file://`` config source, reporting a YAML syntax error in a line."""

    @staticmethod
    def scheme() -> str:
        return FILE_SCHEME

    def load_config(self, config_path: str) -> ConfigResult:
        try:
            return super().load_config(config_path)
        except yaml.YAMLError as error:
            path = Path(self.path) / self._normalize_file_name(config_path)
            raise syntax_error(path, error) from error
        except GrammarParseError as error:
            path = Path(self.path) / self._normalize_file_name(config_path)
            raise interpolation_error(path, error) from None  # the message says it all


class TreeSource(YamlFileSource):
    """The primary config directory: both settings-file forms, errors naming the file."""

    _declared: frozenset[str] | None = None
    _roots: list[Path] | None = None
    _roots_known = False

    @staticmethod
    def scheme() -> str:
        return TREE_SCHEME

    def load_config(self, config_path: str) -> ConfigResult:
        result = super().load_config(config_path)
        name = config_path.strip("/")
        if "/" not in name:  # a primary config
            _serve_search_path(result.config)
            if experiment_registered():
                _with_engine_config(result.config)
            return result
        defaults = OmegaConf.select(result.config, "defaults", default=None)
        if defaults is not None:  # a group's config
            tree = Path(self.path)
            if not self._roots_known:
                self._roots, self._roots_known = tree_roots(tree), True
            file = tree / self._normalize_file_name(name)
            group = name.rsplit("/", 1)[0]
            if self._roots is not None:
                check_choices(file, defaults, group, self._roots)
            if self._declared is None:
                self._declared = declared_groups(tree)
            check_package(file, defaults, result.header.get("package"), group, self._declared)
            rewritten = with_overrides(defaults, self._declared)
            if rewritten is not None:
                with open_dict(result.config):
                    result.config["defaults"] = rewritten
        return result


def _with_engine_config(config: Container) -> None:
    """Put the engine's config first in a primary config's defaults list (``_self_`` last if
    the list had none, as Hydra would place it)."""
    defaults = OmegaConf.select(config, "defaults", default=None)
    entries = [] if defaults is None else OmegaConf.to_container(defaults, resolve=False)
    assert isinstance(entries, list)
    if ENGINE_CONFIG in entries:
        return
    if "_self_" not in entries:
        entries.append("_self_")
    with open_dict(config):
        config["defaults"] = [ENGINE_CONFIG, *entries]


def _serve_search_path(config: Container) -> None:
    """Have ``YamlFileSource`` serve the ``file://`` entries of a primary config's
    ``hydra.searchpath`` (unresolved: ``file://${project_path:config}``)."""
    entries = OmegaConf.select(config, "hydra.searchpath", default=None)
    if not isinstance(entries, ListConfig):
        return
    raw = OmegaConf.to_container(entries, resolve=False)
    assert isinstance(raw, list)
    served = [
        f"{FILE_SCHEME}://{entry.removeprefix('file://')}"
        if isinstance(entry, str) and entry.startswith("file://")
        else entry
        for entry in raw
    ]
    if served != raw:
        OmegaConf.update(config, "hydra.searchpath", served, merge=False)


class TreeSearchPath(SearchPathPlugin):
    """Serves the primary config directory through ``TreeSource``; puts the engine's own
    configs (``pkg://optsweep.conf``) last on the search path."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append("optsweep", ENGINE_SEARCH_PATH)
        elements = search_path.get_path()
        for index, element in enumerate(elements):
            path = element.path.removeprefix("file://")
            if element.provider == "main" and "://" not in path:  # not pkg://, structured://
                elements[index] = SearchPathElement("main", f"{TREE_SCHEME}://{path}")
