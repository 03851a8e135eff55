"""An experiment's declaration of what its results depend on, checked before anything runs.

``Experiment.code`` names the project's files and modules whose sources make a result's code
version, and ``Experiment.packages`` the installed distributions whose versions do
(``provenance.code_version``). A misspelt entry used to surface only when a result was saved
(a traceback after the job computed, or every job failing alike); a package that is not
installed was recorded as version None, so that its upgrade never made a result stale.
"""

import difflib
import importlib.util
from importlib import metadata
from typing import TYPE_CHECKING

from optsweep.engine.paths import project_root

if TYPE_CHECKING:
    from optsweep.engine.experiment import Experiment


class InvalidDeclaration(ValueError):
    """``Experiment.code`` or ``packages`` names something that is not there."""


def refuse_invalid_declaration(experiment: "Experiment") -> None:
    """``InvalidDeclaration`` naming every entry of ``experiment.code`` that is no file of the
    project or importable module, and every one of ``packages`` that is no installed
    distribution, each with the closest name there is."""
    problems = [
        *filter(None, map(_code_problem, experiment.code)),
        *filter(None, map(_package_problem, experiment.packages)),
    ]
    if problems:
        raise InvalidDeclaration(f"Experiment {experiment.name!r}: " + "; ".join(problems))


def _code_problem(entry: str) -> str | None:
    if entry.endswith(".py") or "/" in entry:
        root = project_root()
        path = root / entry
        if path.is_file():
            return None
        near = [p.relative_to(root).as_posix() for p in path.parent.glob("*.py")]
        return f"code names {entry!r}, which is no file of the project {root}" + _hint(entry, near)
    try:
        spec = importlib.util.find_spec(entry)
    except (ImportError, ValueError):  # its parent package is missing, or a bad name
        spec = None
    if spec is not None and spec.origin is not None:
        return None
    parent = entry.rpartition(".")[0]
    near = _modules_beside(parent) + [p.name for p in project_root().glob("*.py")]  # mc.yp
    return f"code names {entry!r}, which is no module that can be imported here" + _hint(
        entry, near
    )


def _modules_beside(parent: str) -> list[str]:
    """The modules of package ``parent`` (the top-level ones of the project if empty)."""
    import pkgutil

    if not parent:
        return [m.name for m in pkgutil.iter_modules([str(project_root())])]
    try:
        spec = importlib.util.find_spec(parent)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [f"{parent}.{m.name}" for m in pkgutil.iter_modules(spec.submodule_search_locations)]


def _package_problem(name: str) -> str | None:
    try:
        metadata.version(name)
        return None
    except metadata.PackageNotFoundError:
        installed = {d.metadata["Name"] for d in metadata.distributions() if d.metadata["Name"]}
        return (
            f"packages names {name!r}, which is no installed distribution (packages are "
            "distribution names, as pip installs them: scikit-learn, not sklearn)"
            + _hint(name, sorted(installed))
        )


def _hint(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
