"""Where the project lives: the user's project of the app being run, never the engine's install.

The project root is found from the user's side, as lightning-hydra-template's ``rootutils``
does: the nearest directory, from the task function's file upward, that holds a
``.project-root`` marker file; without one, the directory of the task function's file
(``task.py`` beside ``config/`` and ``experiment/``). Which app is being run:

1. the task function of an experiment (``@EXPERIMENT.task`` registers its file when it
   decorates it: importing the task module, in the sweeping process or a worker, is enough;
   ``-cp`` may point to a config tree elsewhere: the project stays the task's);
2. else, while Hydra is initialized (Hydra's compose API in a test or notebook), the primary
   config directory's project: the nearest ``.project-root`` above it, else its parent
   (``config/`` and ``experiment/`` sit in the project's root);
3. else the script Python runs (``python task.py``, ``python plots/landscape.py``:
   ``__main__``'s file), unless it is the engine's own (``optsweep plot``,
   ``python -m optsweep.report.export``);
4. else the working directory's project (an interactive session, ``python -c``, the
   ``optsweep`` command): the nearest ``.project-root`` above it, else the directory itself.

A project whose scripts live in subfolders (``plots/``) marks its root with ``.project-root``.

``${project_path:results}`` in a config, results, Hydra's run and sweep dirs, caches, the code
that decides staleness and the git provenance all use this root.
"""

import os
import sys
from datetime import datetime
from functools import cache
from pathlib import Path

from omegaconf import OmegaConf

# A file that marks a project's root for a task module in a subdirectory of it.
MARKER = ".project-root"

_registered: Path | None = None


def find_project(start: str | Path) -> Path:
    """The project holding ``start`` (a file or a directory): the nearest ancestor with a
    ``.project-root`` file, else ``start``'s own directory."""
    start = Path(start).resolve()
    here = start if start.is_dir() else start.parent
    for directory in (here, *here.parents):
        if (directory / MARKER).is_file():
            return directory
    return here


def register_task_file(file: str | Path) -> Path:
    """Make the project of the task function defined in ``file`` this process's project."""
    return register_project(find_project(file))


def register_project(root: Path) -> Path:
    """Make ``root`` this process's project, as an experiment's task function there does
    (a worker that unpickles the task function, which was decorated in another process)."""
    global _registered
    _registered = root
    return _registered


def experiment_registered() -> bool:
    """Whether an experiment's task function was decorated in this process: its configs get
    the engine's own (``hydra_plugins/optsweep_sweeper/tree_source.py``)."""
    return _registered is not None


def project_root() -> Path:
    """The project of the app being run (see the module docstring)."""
    if _registered is not None:
        return _registered
    primary = _primary_config_dir()
    if primary is not None:
        found = find_project(primary)
        return found if (found / MARKER).is_file() else primary.parent
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main and not _is_the_engines(Path(main)):
        return find_project(main)
    return find_project(Path.cwd())


def _is_the_engines(file: Path) -> bool:
    """Whether ``file`` is part of the engine or of the Python installation (the ``optsweep``
    command's script), not a project's script."""
    file = file.resolve()
    engine = Path(__file__).resolve().parents[1]
    prefixes = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    return file.is_relative_to(engine) or any(file.is_relative_to(p) for p in prefixes)


def _primary_config_dir() -> Path | None:
    """The primary config directory of an initialized Hydra, if it is a directory."""
    global_hydra = sys.modules.get("hydra.core.global_hydra")
    if global_hydra is None:  # Hydra not even imported (the reporting commands)
        return None
    hydra = global_hydra.GlobalHydra.instance()
    if not hydra.is_initialized():
        return None
    for element in hydra.config_loader().get_search_path().get_path():
        if element.provider == "main" and element.path is not None:
            path = Path(element.path.split("://", 1)[-1])
            return path.resolve() if path.is_dir() else None
    return None


def project_path(relative: str = "") -> str:
    """Absolute path of ``relative`` inside the project (the project root for "")."""
    root = project_root()
    return str(root / relative) if relative else str(root)


@cache
def run_id() -> str:
    """``YYYY-MM-DD/HH-MM-SS-ffffff-<pid>``: one per process, unique even for two sweeps
    started in the same microsecond, so concurrent runs never share a log directory."""
    return f"{datetime.now():%Y-%m-%d/%H-%M-%S-%f}-{os.getpid()}"


def register_resolvers() -> None:
    """Make ``${project_path:results}`` and ``${run_id:}`` available to every config."""
    OmegaConf.register_resolver("project_path", project_path, replace=True)
    OmegaConf.register_resolver("run_id", run_id, replace=True, use_cache=True)


def shown(path: Path) -> str:
    """``path`` as messages show it: relative to the project if inside it
    (``experiment/settings/tnc.yaml``), else as given."""
    root = project_root()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
