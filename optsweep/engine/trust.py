"""Which Hydra callbacks may run: the engine's own and those listed in the project's config files.

Hydra 1.4 instantiates a ``_target_`` from config only if trusted Python code allowed it
(``execution_whitelist=`` of ``@hydra.main``, or an ``execution_whitelist`` context). The
project's config trees are version-controlled and trusted, so every callback listed under
``hydra.callbacks`` in one of their files is allowed (``trusted_callbacks``), and so are the
engine's own (``ENGINE_CALLBACKS``). A callback named only on the command line is refused
before Hydra starts, with a message saying how to allow it (``refuse_untrusted_callbacks``).
``trust_project`` does all of it for an experiment's task function when it is decorated, so a
project's ``task.py`` needs no wiring.
"""

import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

# The callbacks the engine's own configs name (optsweep/conf): progress, the trackers.
ENGINE_CALLBACKS = (
    "optsweep.engine.progress.JobEndMarker",
    "optsweep.engine.trackers.mlflow_runs.MLflowTracker",
    "optsweep.engine.trackers.wandb_runs.WandbTracker",
)
# The project's config trees, relative to its root.
CONFIG_TREES = ("config", "experiment")

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
            if target not in trusted and target not in ENGINE_CALLBACKS:
                sys.exit(
                    f"refused: the callback {target!r} ({argument}) is given on the command "
                    "line, and Hydra only instantiates callbacks listed in the project's own "
                    "config files, which are version-controlled. To allow it, list it under "
                    "hydra.callbacks in config/task.yaml (or in a file of experiment/), e.g.\n"
                    f"  hydra:\n    callbacks:\n      mine:\n        _target_: {target}"
                )


def trust_project(project: Path, from_command_line: bool) -> None:
    """Allow the engine's callbacks and those of ``project``'s config trees in this process
    (an execution whitelist that ``@hydra.main``'s own ``execution_whitelist`` adds to); with
    ``from_command_line`` (the task module is the script Python runs), first refuse a
    callback that only the command line names."""
    from hydra.utils import execution_whitelist

    trusted = sorted({*ENGINE_CALLBACKS, *trusted_callbacks(*_trees(project))})
    if from_command_line:
        refuse_untrusted_callbacks(sys.argv[1:], trusted)
    execution_whitelist(trusted).__enter__()  # for the rest of this thread's context


def _trees(project: Path) -> list[Path]:
    return [project / tree for tree in CONFIG_TREES if (project / tree).is_dir()]
