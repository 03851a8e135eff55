"""Where the project lives, whatever the shell's working directory."""

from pathlib import Path

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_path(relative: str = "") -> str:
    """Absolute path of ``relative`` inside the project (the project root for "")."""
    return str(PROJECT_ROOT / relative) if relative else str(PROJECT_ROOT)


def register_resolvers() -> None:
    """Make ``${project_path:results}`` available to every config."""
    OmegaConf.register_resolver("project_path", project_path, replace=True)
