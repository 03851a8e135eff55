"""``optsweep new DIR``: a working project for a new experiment, from the template in
``optsweep/templates/project/`` (package data, so it comes with the installed wheel).

The project is the least an experiment of one's own needs, already working: ``task.py`` (the
``Experiment`` and its task function), a toy experiment's code (``toy.py``, seeded, numpy
only), the plain config tree (``config/``) and the experiment tree (``experiment/``: settings,
a search, launcher presets), a figure spec, tests, a README, a Makefile (``make sweep``,
``make test``), a ``pyproject.toml`` and a ``.gitignore``. Template files are copied as they
are, except that ``{{name}}`` becomes the experiment's name and ``{{optsweep_version}}`` the
installed optsweep's version.
"""

import re
from importlib import metadata, resources
from importlib.abc import Traversable
from pathlib import Path

__all__ = ["ProjectExists", "new_project", "valid_name"]

TEMPLATE = "templates/project"
# Caches that tools leave in a template used in place (a source checkout), never copied.
_CACHES = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"})
# A name that is at once a Python distribution's, a results directory's and a word in YAML.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class ProjectExists(FileExistsError):
    """The target directory is not empty (or is a file): nothing was written."""


def valid_name(name: str) -> str:
    """``name`` if it can name an experiment (letters, digits, ``_`` and ``-``, starting with
    a letter); else ValueError saying so."""
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} cannot name an experiment: use letters, digits, _ and -, "
            "starting with a letter (--name NAME)"
        )
    return name


def _template_files(root: Traversable, prefix: tuple[str, ...] = ()):
    """(relative path parts, file) of every file of the template, in a stable order; caches
    of a template used in place (``__pycache__``, ``.ruff_cache``) left out."""
    for entry in sorted(root.iterdir(), key=lambda item: item.name):
        if entry.name in _CACHES or entry.name.endswith(".pyc"):
            continue
        if entry.is_dir():
            yield from _template_files(entry, (*prefix, entry.name))
        else:
            yield (*prefix, entry.name), entry


def _version() -> str:
    try:
        return metadata.version("optsweep")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "0.1.0"


def new_project(directory: str | Path, name: str | None = None) -> list[Path]:
    """Write a new project into ``directory`` (created if missing) and return its files.

    ``name``: the experiment's name (default: the directory's name). Refuses, writing nothing,
    a directory that exists and is not empty (``ProjectExists``) and a name that cannot name
    an experiment (ValueError); never overwrites a file.
    """
    target = Path(directory)
    name = valid_name(name if name is not None else target.resolve().name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        what = "is not empty" if target.is_dir() else "is a file"
        raise ProjectExists(
            f"{target} {what}: optsweep new writes only into a new or empty directory"
        )
    replacements = {"{{name}}": name, "{{optsweep_version}}": _version()}
    files = {}  # every file read and filled in before the first is written
    for parts, source in _template_files(resources.files("optsweep").joinpath(TEMPLATE)):
        text = source.read_text(encoding="utf-8")
        for placeholder, value in replacements.items():
            text = text.replace(placeholder, value)
        files[target.joinpath(*parts)] = text
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:  # "x": never overwrite
            handle.write(text)
    return list(files)
