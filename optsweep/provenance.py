"""What produced a result: code version, package versions, machine, timing, overrides."""

import hashlib
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from functools import cache
from importlib import metadata

from optsweep.paths import PROJECT_ROOT

PACKAGES = ("numpy", "scipy", "hydra-core", "omegaconf", "hydra-experiment-sweeper")
# Modules that only read, present or steer results: editing them leaves results current.
_PRESENTATION = ("figures.py", "export.py", "sweepdata.py", "search.py", "nevergrad_search.py")


def _git(*arguments: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *arguments], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return completed.stdout.strip()


@cache
def git_state() -> dict:
    """The project's commit and whether the work tree differs from it (None outside git).

    Computed once per process: a sweep does not change its own code while it runs.
    """
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


@cache
def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@cache
def code_version() -> str:
    """A hash of the code that computes results and of the numeric packages' versions.

    A result is current only if this matches (see ``results.is_current``): editing
    task.py or a module of optsweep/ (other than the presentation ones) or upgrading numpy or
    scipy makes every result stale. Unlike a git commit it also sees uncommitted edits, and
    works outside git.
    """
    digest = hashlib.sha256()
    package = PROJECT_ROOT / "optsweep"
    files = [PROJECT_ROOT / "task.py"] + sorted(
        p for p in package.glob("*.py") if p.name not in _PRESENTATION
    )
    for path in files:
        digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    versions = package_versions()
    digest.update(f"numpy={versions['numpy']} scipy={versions['scipy']}".encode())
    return digest.hexdigest()[:16]


def now() -> datetime:
    return datetime.now(timezone.utc)


def provenance(overrides: list[str], started: datetime, wall_time: float) -> dict:
    """The ``meta`` part of a result record."""
    return {
        "code": code_version(),
        "git": git_state(),
        "versions": package_versions(),
        "host": socket.gethostname(),
        "argv": list(sys.argv),
        "overrides": list(overrides),
        "started": started.isoformat(),
        "wall_time": wall_time,
    }
