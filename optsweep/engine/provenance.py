"""What produced a result: code version, package versions, machine, timing, overrides."""

import hashlib
import importlib.util
import platform
import socket
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from optsweep.engine.paths import project_root

if TYPE_CHECKING:
    from optsweep.engine.experiment import Experiment

# Recorded in every result besides the experiment's own packages.
ENGINE_PACKAGES = ("hydra-core", "omegaconf", "hydra-experiment-sweeper", "optsweep")


def _git(root: Path, *arguments: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *arguments], cwd=root, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return completed.stdout.rstrip()  # porcelain lines may begin with a space


# An untracked (not ignored) file of these kinds can change what a run computes or how it is
# configured (a new settings file, option file or module): it makes the tree dirty. Other
# untracked files (notes, data, outputs) do not.
WATCHED_SUFFIXES = (".py", ".yaml", ".yml")
# Changed paths listed in a result (the count is always exact).
_LISTED_CHANGES = 20


def git_state() -> dict:
    """The git state of this process's project (``paths.project_root``): ``git_state_of``."""
    return git_state_of(project_root())


@cache
def git_state_of(root: Path) -> dict:
    """The git state of the project at ``root``: the commit, whether the project's files differ
    from it, and which do (``changes``, relative to the project, at most 20 listed;
    ``changed``: how many).

    ``repository`` says whose commit it is: ``own`` (the project is the top of its work tree),
    ``enclosing`` (the project is the folder ``path`` of a larger repository: the commit is that
    repository's, and only changes inside the project count), or why there is none (``no git
    repository``: every other field is None). Dirty means a tracked file of the project is
    modified, staged or deleted, or an untracked, not ignored ``.py`` or ``.yaml`` file lies in
    it. Computed once per process: a sweep does not change its own code while it runs.
    """
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None:
        return _no_state("no git repository")
    inside = root.resolve().relative_to(Path(top).resolve()).as_posix()
    status = _git(root, "status", "--porcelain", "--untracked-files=all", "--", ".")
    if status is None:
        return _no_state("unreadable")
    prefix = "" if inside == "." else f"{inside}/"  # porcelain paths are the repository's
    changes = [
        line[3:].strip('"').removeprefix(prefix) for line in status.splitlines() if _counts(line)
    ]
    state = {
        "commit": _git(root, "rev-parse", "HEAD"),  # None in a repository without commits
        "dirty": bool(changes),
        "changed": len(changes),
        "changes": changes[:_LISTED_CHANGES],
        "repository": "own" if inside == "." else "enclosing",
    }
    if inside != ".":
        state["path"] = inside
    return state


def _no_state(why: str) -> dict:
    return {"commit": None, "dirty": None, "changed": None, "changes": None, "repository": why}


def _counts(line: str) -> bool:
    """Whether a ``git status --porcelain`` line makes the tree dirty: any change to a tracked
    file; an untracked file only if it is a ``.py`` or ``.yaml`` file."""
    if not line.startswith("??"):
        return bool(line.strip())
    return line[3:].strip('"').endswith(WATCHED_SUFFIXES)


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
        return [project_root() / entry]
    spec = importlib.util.find_spec(entry)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"Experiment.code names {entry!r}, which is not a module")
    origin = Path(spec.origin)
    if spec.submodule_search_locations:  # a package: all of it
        return sorted(origin.parent.rglob("*.py"))
    return [origin]


def result_type_sources(experiment: "Experiment") -> tuple[list[Path], list[str]]:
    """What the classes of ``result_types`` come from, found without importing them: the
    project's files of each one's top-level package or module, or the installed distribution
    (``name=version``) it belongs to, or ``name=missing``. A result whose class is renamed or
    gone is then stale, and is computed again, instead of current and unreadable."""
    files: list[Path] = []
    versions: list[str] = []
    root = project_root()
    for module, _ in sorted(experiment.result_types):
        top = module.split(".")[0]
        spec = importlib.util.find_spec(top) if top != "__main__" else None
        origin = None if spec is None or spec.origin is None else Path(spec.origin)
        if origin is None:
            versions.append(f"{top}=missing")
        elif origin.is_relative_to(root) and "site-packages" not in origin.parts:
            files += source_files(top)
        else:
            versions.append(f"{top}={_distribution_version(top)}")
    return files, versions


def _distribution_version(top: str) -> str | None:
    """The version of the installed distribution that provides the import name ``top``."""
    try:
        return metadata.version(top)
    except metadata.PackageNotFoundError:
        names = metadata.packages_distributions().get(top, [])
        return metadata.version(names[0]) if names else None


def code_version(experiment: "Experiment") -> str:
    """A hash of the code that computes the experiment's results and of the versions of the
    packages they depend on (``Experiment.code`` and ``packages``).

    A result is current only if this matches: editing one of those files or upgrading one of
    those packages makes every result stale; editing reporting or the engine does not. The
    sources of the result's own classes count too (``result_type_sources``). Unlike a git
    commit it also sees uncommitted edits, and works outside git. Computed once per process
    (``code_record``), as the process imports the code once.
    """
    return code_record(experiment)[0]


def code_files(experiment: "Experiment") -> tuple[str, ...]:
    """The project's files that ``code_version`` hashes, each as ``"<digest> <path>"`` (the
    first 16 hex digits of its SHA-256, the path relative to the project): a report can then
    tell without the experiment whether a result's code has changed since, and which file
    (``optsweep.report.staleness``). Files outside the project (an installed package's) are
    left out: their version is the package's."""
    return code_record(experiment)[1]


@cache
def code_record(experiment: "Experiment") -> tuple[str, tuple[str, ...]]:
    """``code_version`` and ``code_files``, from one reading of each file."""
    digest = hashlib.sha256()
    root = project_root()
    type_files, type_versions = result_type_sources(experiment)
    files = sorted(
        {path for entry in experiment.code_entries() for path in source_files(entry)}
        | set(type_files)
    )
    own = []
    for path in files:
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        data = path.read_bytes()
        digest.update(shown.as_posix().encode() + b"\0")
        digest.update(data + b"\0")
        if path.is_relative_to(root):
            own.append(f"{bytes_digest(data)} {shown.as_posix()}")
    versions = package_versions(tuple(experiment.packages))
    digest.update(" ".join(f"{name}={versions[name]}" for name in experiment.packages).encode())
    if type_versions:
        digest.update(b"\0" + " ".join(type_versions).encode())
    return digest.hexdigest()[:16], tuple(own)


def bytes_digest(data: bytes) -> str:
    """The first 16 hex digits of the SHA-256 of ``data`` (a file's bytes)."""
    return hashlib.sha256(data).hexdigest()[:16]


@cache
def blas_libraries() -> tuple[str, ...]:
    """The BLAS libraries this process has loaded, each as ``"<library> <version> <kernel>"``
    (``openblas 0.3.30 Haswell``), by threadpoolctl; looked at once, after the process's
    first job ran (so its libraries are loaded). OpenBLAS chooses its kernels by CPU, and
    results can differ in their last bits between kernels: an optimizer that fits a model to
    the points (nevergrad's NGOpt) may then ask other ones on another machine. Recorded, not
    part of the code version: a result is not stale on another CPU."""
    from threadpoolctl import threadpool_info

    found = []
    for library in threadpool_info():
        if library.get("user_api") != "blas":
            continue
        said = " ".join(
            str(library[key])
            for key in ("internal_api", "version", "architecture")
            if library.get(key)
        )
        if said not in found:
            found.append(said)
    return tuple(found)


# The command whose jobs this process runs, if not its own: a worker's results record the
# sweeping process's (``adopt_command``).
_adopted: tuple[str, ...] | None = None


def adopt_command(argv: Sequence[str]) -> None:
    """Make ``argv`` the command this process's results record (a pool worker or a SLURM
    array task running a sweep's jobs: the sweeping process's command line)."""
    global _adopted
    _adopted = tuple(argv)


def command() -> list[str]:
    """The command line this process's results record: the adopted one, else ``sys.argv``."""
    return list(_adopted if _adopted is not None else sys.argv)


def now() -> datetime:
    return datetime.now(UTC)


def provenance(
    experiment: "Experiment", overrides: list[str], started: datetime, wall_time: float
) -> dict:
    """The ``meta`` part of a result record."""
    argv = command()
    return {
        "experiment": experiment.name,
        "code": code_version(experiment),
        "code_files": list(code_files(experiment)),
        "git": git_state(),
        "versions": package_versions(tuple(experiment.packages)),
        "blas": list(blas_libraries()),
        "host": socket.gethostname(),
        "argv": argv,
        # The task file the command ran (train.py in another project): reports name it in the
        # commands they suggest.
        "script": Path(argv[0]).name if argv and argv[0] else None,
        "overrides": list(overrides),
        "started": started.isoformat(),
        "wall_time": wall_time,
    }
