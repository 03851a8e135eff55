"""Which Hydra callbacks may run: those listed in the project's own config files.

Hydra 1.4 instantiates a ``_target_`` from config only if trusted Python code allowed it
(``execution_whitelist=`` of ``@hydra.main``). The project's config trees are version-controlled
and trusted, so every callback listed under ``hydra.callbacks`` in one of their files is allowed
(``trusted_callbacks``). A callback named only on the command line is refused before Hydra
starts, with a message saying how to allow it (``refuse_untrusted_callbacks``).
"""

import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

_COMMAND_LINE_TARGET = re.compile(r"_target_(?:=|\s*:\s*)['\"]?([\w.]+)")


def _targets(node: Any) -> Iterator[str]:
    """Every ``_target_`` inside ``node`` (a callback's own, and those of its arguments)."""
    if isinstance(node, dict):
        if isinstance(node.get("_target_"), str):
            yield node["_target_"]
        for value in node.values():
            yield from _targets(value)
    elif isinstance(node, list):
        for value in node:
            yield from _targets(value)


def _callback_targets(node: Any, path: tuple = ()) -> Iterator[str]:
    """The targets of the entries of every ``hydra.callbacks`` mapping inside ``node``."""
    if not isinstance(node, dict):
        return
    if path[-2:] == ("hydra", "callbacks") or path == ("callbacks",):
        yield from _targets(node)
        return
    for key, value in node.items():
        yield from _callback_targets(value, (*path, str(key)))


def trusted_callbacks(*config_dirs: Path) -> list[str]:
    """The callback targets listed in the YAML files under ``config_dirs``: under a
    ``hydra.callbacks`` key, or at the top of a file in a ``hydra/callbacks/`` group."""
    targets: set[str] = set()
    for directory in config_dirs:
        for file in sorted(Path(directory).rglob("*.yaml")):
            in_group = file.parent.parts[-2:] == ("hydra", "callbacks")
            try:
                text = file.read_text()
                if not in_group and "callbacks" not in text:
                    continue  # most files: no need to parse them
                content = yaml.safe_load(text)
            except (OSError, yaml.YAMLError):
                continue  # Hydra reports a broken file when it loads it
            targets.update(_callback_targets(content, ("callbacks",) if in_group else ()))
    return sorted(targets)


def refuse_untrusted_callbacks(arguments: Iterable[str], trusted: list[str]) -> None:
    """Exit with a message if a command-line override adds a callback not in ``trusted``."""
    for argument in arguments:
        if "callbacks" not in argument:
            continue
        for target in _COMMAND_LINE_TARGET.findall(argument):
            if target not in trusted:
                sys.exit(
                    f"refused: the callback {target!r} ({argument}) is given on the command "
                    "line, and Hydra only instantiates callbacks listed in the project's own "
                    "config files, which are version-controlled. To allow it, list it under "
                    "hydra.callbacks in config/task.yaml (or in a file of experiment/), e.g.\n"
                    f"  hydra:\n    callbacks:\n      mine:\n        _target_: {target}"
                )
