"""Where the project lives, whatever the shell's working directory."""

import os
from datetime import datetime
from functools import cache
from pathlib import Path

from omegaconf import OmegaConf

# The project's root: the directory holding the ``optsweep`` package.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def project_path(relative: str = "") -> str:
    """Absolute path of ``relative`` inside the project (the project root for "")."""
    return str(PROJECT_ROOT / relative) if relative else str(PROJECT_ROOT)


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
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)
