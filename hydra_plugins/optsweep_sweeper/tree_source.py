"""Config trees as Hydra reads them, plus the tutorial's settings-file form.

Hydra finds a ``ConfigSource`` for each search path entry by its scheme. ``TreeSearchPath``
gives the primary config directory (``config/`` or ``experiment/``, or any ``-cp`` directory)
the scheme ``optsweep-tree://``, served by ``TreeSource``: Hydra's file source, except that a
group config's ``- /G: X`` is read as ``- override /G: X`` when the tree already chooses ``G``
(see ``optsweep.engine.group_choices``). A file Hydra accepts is served unchanged.

A thin plugin module (Hydra imports every plugin module on every command).
"""

from pathlib import Path

from hydra._internal.core_plugins.file_config_source import FileConfigSource
from hydra.core.config_search_path import ConfigSearchPath, SearchPathElement
from hydra.plugins.config_source import ConfigResult
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf, open_dict

from optsweep.engine.group_choices import TREE_SCHEME, declared_groups, with_overrides


class TreeSource(FileConfigSource):
    """Hydra's ``file://`` config source, taking both settings-file forms."""

    _declared: frozenset[str] | None = None

    @staticmethod
    def scheme() -> str:
        return TREE_SCHEME

    def load_config(self, config_path: str) -> ConfigResult:
        result = super().load_config(config_path)
        defaults = OmegaConf.select(result.config, "defaults", default=None)
        if defaults is not None and "/" in config_path.strip("/"):  # a group's config
            if self._declared is None:
                self._declared = declared_groups(Path(self.path))
            rewritten = with_overrides(defaults, self._declared)
            if rewritten is not None:
                with open_dict(result.config):
                    result.config["defaults"] = rewritten
        return result


class TreeSearchPath(SearchPathPlugin):
    """Serves the primary config directory through ``TreeSource``."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        elements = search_path.get_path()
        for index, element in enumerate(elements):
            path = element.path.removeprefix("file://")
            if element.provider == "main" and "://" not in path:  # not pkg://, structured://
                elements[index] = SearchPathElement("main", f"{TREE_SCHEME}://{path}")
