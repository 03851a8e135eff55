"""Whether the code that computed a figure's results has changed since: results are stale.

The engine reruns a job whose result was computed by other code (``meta.code``, the hash of the
experiment's code and packages); a figure or a table is made without the experiment, so each
result also records the project's files that hash covers, with a digest of each
(``meta.code_files``: ``"<digest> <path>"``, the path relative to the project). A file that
differs now, or is gone, means the results show what the old code computed: the report is
refused (``allow_stale=true`` makes it anyway, with a warning naming the files). So is one whose
config files have changed since (``meta.config_files``: ``optsweep.engine.config_digests``),
the content each sets, not its comments or the sweep's lists.

Only the project's own files count. A package's version may differ between the machine that
computed the results and the one that draws them without the results being stale there; a file
the code gained since (a new module of a package in ``Experiment.code``) is not seen here,
though the sweep sees it. Results that record no files (older ones) are not checked.
"""

import warnings
from pathlib import Path

import pandas as pd

from optsweep.engine.paths import find_project
from optsweep.engine.provenance import bytes_digest

COLUMN = "meta.code_files"
CONFIG_COLUMN = "meta.config_files"
# Changed files named in a message.
_LISTED = 5


class StaleResults(UserWarning):
    """Results drawn although their code has changed since (``allow_stale=true``)."""


def changed_files(frame: pd.DataFrame, project: Path) -> list[str]:
    """The recorded code files of ``frame``'s results that differ in ``project`` now, each as
    ``"<path> (edited)"`` or ``"<path> (gone)"``; [] if none do, or if none of them is there
    (results copied away from their project: nothing to compare them with). The results hold
    one code version (``check_one_code_version``), so one row's list is every row's."""
    if COLUMN not in frame.columns or frame.empty:
        return []
    recorded = next((files for files in frame[COLUMN] if _is_list(files)), None)
    if not recorded:
        return []
    changed, found = [], 0
    for entry in recorded:
        digest, _, name = str(entry).partition(" ")
        path = project / name
        if not path.is_file():
            changed.append(f"{name} (gone)")
            continue
        found += 1
        if bytes_digest(path.read_bytes()) != digest:
            changed.append(f"{name} (edited)")
    return changed if found else []


def changed_config_files(frame: pd.DataFrame, project: Path) -> list[str]:
    """The recorded config files of ``frame``'s results (``meta.config_files``: each setting's
    own, so every row's list counts) whose content differs in ``project`` now
    (``config_digests.config_digest``), as ``changed_files`` says them; [] if none does, or
    if none of them is there."""
    from optsweep.engine.config_digests import config_digest, overridden_keys

    if CONFIG_COLUMN not in frame.columns or frame.empty:
        return []
    recorded = {
        (str(entry), overridden_keys(overrides))
        for files, overrides in zip(frame[CONFIG_COLUMN], frame["overrides"], strict=True)
        if _is_list(files)
        for entry in files
    }
    changed, found = [], 0
    for entry, overridden in sorted(recorded, key=lambda e: (e[0].partition(" ")[2], e[0])):
        digest, _, name = entry.partition(" ")
        path = project / name
        if not path.is_file():
            changed.append(f"{name} (gone)")
            continue
        found += 1
        if config_digest(path, overridden) != digest:
            changed.append(f"{name} (edited)")
    return list(dict.fromkeys(changed)) if found else []


def check_current_code(frame: pd.DataFrame, results_dir: Path, allow: bool) -> None:
    """Refuse (``UnusableResults``) results whose code files (``changed_files``) or config
    files (``changed_config_files``) have changed in their project since they were
    computed; with ``allow``, warn instead."""
    from optsweep.report.sweepdata import UnusableResults

    code, config = [], []
    # The results' project: the nearest .project-root above them, else the folder holding
    # them (results/ in a project without the marker); the first where their files are.
    for project in dict.fromkeys((find_project(results_dir), Path(results_dir).absolute().parent)):
        code, config = changed_files(frame, project), changed_config_files(frame, project)
        if code or config:
            break
    if not code and not config:
        return
    changed = code + config
    listed = ", ".join(changed[:_LISTED]) + (
        f" and {len(changed) - _LISTED} more" if len(changed) > _LISTED else ""
    )
    what = " and ".join(w for w, c in (("code", code), ("config", config)) if c)
    said = f"the results in {results_dir} are stale: their {what} has changed since ({listed})"
    if allow:
        warnings.warn(f"{said}; drawn anyway (allow_stale=true)", StaleResults, stacklevel=2)
        return
    rerun = (
        "rerun the sweep, which reruns them (its dry run, hydra.sweeper.dry_run=true, lists them)"
    )
    if not code:
        rerun += "; if it finds them up to date, the edit left their jobs as they were"
    raise UnusableResults(
        f"{said}; {rerun}; or make this from the results as they are: allow_stale=true"
    )


def _is_list(value) -> bool:
    return isinstance(value, list | tuple) or hasattr(value, "tolist")
