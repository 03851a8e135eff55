"""What produced a result: code version, package versions, machine, timing, overrides."""

import hashlib
import importlib.util
import platform
import socket
import subprocess
import sys
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from optsweep.engine.paths import PROJECT_ROOT

if TYPE_CHECKING:
    from optsweep.engine.experiment import Experiment

# Recorded in every result besides the experiment's own packages.
ENGINE_PACKAGES = ("hydra-core", "omegaconf", "hydra-experiment-sweeper")


def _git(*arguments: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *arguments], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return completed.stdout.rstrip()  # porcelain lines may begin with a space


# Paths (relative to the project) where an untracked file can change what a run computes or
# how it is configured: a new settings file, method file or module makes the tree dirty.
WATCHED_PATHS = ("config", "experiment", "optsweep", "hydra_plugins", "task.py")
# Changed paths listed in a result (the count is always exact).
_LISTED_CHANGES = 20


@cache
def git_state() -> dict:
    """The project's own git state: its commit, whether the work tree differs from it, and
    which paths differ (``changes``, at most 20 listed; ``changed``: how many).

    Dirty means a tracked file is modified, staged or deleted, or an untracked (not ignored)
    file lies under ``WATCHED_PATHS``. When the project is not the top level of a git work
    tree (no repository, or a copy placed inside another repository, whose commit says nothing
    about this project), every field is None and ``repository`` says why.
    Computed once per process: a sweep does not change its own code while it runs.
    """
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != PROJECT_ROOT.resolve():
        why = "no git repository" if top is None else "inside another repository, not its own"
        return {"commit": None, "dirty": None, "changed": None, "changes": None, "repository": why}
    status = _git("status", "--porcelain", "--untracked-files=all")
    if status is None:
        return {
            "commit": None,
            "dirty": None,
            "changed": None,
            "changes": None,
            "repository": "unreadable",
        }
    changes = [line[3:] for line in status.splitlines() if _counts(line)]
    return {
        "commit": _git("rev-parse", "HEAD"),  # None in a repository without commits
        "dirty": bool(changes),
        "changed": len(changes),
        "changes": changes[:_LISTED_CHANGES],
        "repository": "own",
    }


def _counts(line: str) -> bool:
    """Whether a ``git status --porcelain`` line makes the tree dirty: any change to a tracked
    file, an untracked file only under ``WATCHED_PATHS``."""
    if not line.startswith("??"):
        return bool(line.strip())
    path = line[3:].strip('"')
    return any(path == watched or path.startswith(f"{watched}/") for watched in WATCHED_PATHS)


@cache
def package_versions(packages: tuple[str, ...]) -> dict:
    """{"python": ..., package: version or None} for ``packages`` and the engine's own."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in (*packages, *ENGINE_PACKAGES):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def source_files(entry: str) -> list[Path]:
    """The files of one ``Experiment.code`` entry: a path relative to the project (``task.py``),
    a module (its file) or a package (every ``.py`` file under it)."""
    if entry.endswith(".py") or "/" in entry:
        return [PROJECT_ROOT / entry]
    spec = importlib.util.find_spec(entry)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"Experiment.code names {entry!r}, which is not a module")
    origin = Path(spec.origin)
    if spec.submodule_search_locations:  # a package: all of it
        return sorted(origin.parent.rglob("*.py"))
    return [origin]


@cache
def code_version(experiment: "Experiment") -> str:
    """A hash of the code that computes the experiment's results and of the versions of the
    packages they depend on (``Experiment.code`` and ``packages``).

    A result is current only if this matches: editing one of those files or upgrading one of
    those packages makes every result stale; editing reporting or the engine does not. Unlike
    a git commit it also sees uncommitted edits, and works outside git.
    """
    digest = hashlib.sha256()
    files = sorted({path for entry in experiment.code for path in source_files(entry)})
    for path in files:
        shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
        digest.update(shown.as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    versions = package_versions(tuple(experiment.packages))
    digest.update(" ".join(f"{name}={versions[name]}" for name in experiment.packages).encode())
    return digest.hexdigest()[:16]


def now() -> datetime:
    return datetime.now(UTC)


def provenance(
    experiment: "Experiment", overrides: list[str], started: datetime, wall_time: float
) -> dict:
    """The ``meta`` part of a result record."""
    return {
        "experiment": experiment.name,
        "code": code_version(experiment),
        "git": git_state(),
        "versions": package_versions(tuple(experiment.packages)),
        "host": socket.gethostname(),
        "argv": list(sys.argv),
        "overrides": list(overrides),
        "started": started.isoformat(),
        "wall_time": wall_time,
    }
