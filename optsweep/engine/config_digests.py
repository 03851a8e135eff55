"""The config files a job is made of, each with a digest of what it sets for the job, for
reports to tell whether a result's config has changed since it was computed.

A result records ``meta.config_files``: ``"<digest> <path>"`` of its primary config, of each
group option it chose (``experiment/settings/tnc.yaml``, ``config/method/tnc.yaml``) and of
each config their defaults lists include (``/config/task@_global_``: ``config/task.yaml``), the
path relative to the project. The digest covers the file's content as OmegaConf reads it,
without what does not make the job's values: its ``hydra`` node (the sweep's lists, the
launcher), its defaults list (which options it chooses: those are recorded files of their
own), and the keys the job's overrides set (``maxfun``, ``seed``: the job's values there come
from the command, not the file). A comment, the layout, ``maxfun: ???`` or another sweep list
then leave it as it is; a value a job reads changes it. ``optsweep.report.staleness`` compares
them with the files now, as it does the code files.
"""

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from optsweep.engine.group_choices import config_file, job_config_files
from optsweep.engine.paths import project_root

# (config name, choices) -> the job's config files; (file, mtime, size, keys) -> digest.
_files: dict[tuple, tuple[Path, ...]] = {}
_digests: dict[tuple, str | None] = {}
# (choices, overridden keys) -> what a job with them records.
_recorded: dict[tuple, tuple[str, ...]] = {}


def overridden_keys(overrides: Iterable[str]) -> frozenset[str]:
    """The keys (and group names) that ``overrides`` set: ``maxfun=10`` -> ``maxfun``."""
    return frozenset(o.lstrip("+~").split("=", 1)[0] for o in overrides)


def config_digest(path: Path, overridden: frozenset[str] = frozenset()) -> str | None:
    """The digest of what ``path`` (a YAML config) sets for a job whose overrides set the keys
    ``overridden`` (see the module docstring); None if it cannot be read as a config."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    key = (str(path), status.st_mtime_ns, status.st_size, overridden)
    if key not in _digests:
        content = _content(path)
        if not isinstance(content, dict):
            _digests[key] = None if content is None else _digest(content)
        else:
            content.pop("hydra", None)
            content.pop("defaults", None)
            for dotted in overridden:
                parts = dotted.split(".")
                for start in range(len(parts)):  # as set in a group's option: options.eta
                    _drop(content, parts[start:])
            _digests[key] = _digest(content)
    return _digests[key]


def job_config_digests(
    hydra: Any, overridden: frozenset[str] = frozenset(), choices: dict | None = None
) -> list[str]:
    """``"<digest> <path>"`` of each config file of the project that the job whose Hydra node
    is ``hydra`` is made of, its overrides setting the keys ``overridden``; ``choices``: its
    config-group choices if known (the node's, else). Worked out once per template and set
    of keys in a process: the files as the sweep composed its jobs."""
    if choices is None:
        choices = {str(k): str(v) for k, v in hydra.runtime.choices.items()}
    key = (tuple(sorted(choices.items())), overridden)
    if key not in _recorded:
        name = (str(hydra.job.config_name), key[0])
        if name not in _files:
            _files[name] = _with_included(hydra, job_config_files(hydra))
        root = project_root()
        recorded = []
        for file in _files[name]:
            digest = config_digest(file, overridden)
            if digest is not None and file.is_relative_to(root):
                recorded.append(f"{digest} {file.relative_to(root).as_posix()}")
        _recorded[key] = tuple(recorded)
    return list(_recorded[key])


def _with_included(hydra: Any, named: list[tuple[str, Path]]) -> tuple[Path, ...]:
    """The files of ``named`` and the configs their defaults lists include (a string entry,
    ``/config/task@_global_``), through every level; group choices are listed already."""
    files: dict[Path, None] = {}
    pending = list(named)
    while pending:
        name, file = pending.pop(0)
        file = file.resolve()
        if file in files:
            continue
        files[file] = None
        content = _content(file)
        defaults = content.get("defaults") if isinstance(content, dict) else None
        for entry in defaults if isinstance(defaults, list) else ():
            if not isinstance(entry, str) or entry.strip() == "_self_":
                continue
            path = entry.strip().removeprefix("optional ").split("@", 1)[0].strip()
            group = name.rpartition("/")[0]
            included = path[1:] if path.startswith("/") else "/".join(filter(None, (group, path)))
            found = config_file(hydra, included)
            if found is not None:
                pending.append((included, found))
    return tuple(files)


def _content(path: Path) -> Any:
    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception:  # not a config any more: it has changed
        return None


def _drop(content: Any, parts: list[str]) -> None:
    for part in parts[:-1]:
        if not isinstance(content, dict) or part not in content:
            return
        content = content[part]
    if isinstance(content, dict):
        content.pop(parts[-1], None)


def _digest(content: Any) -> str:
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
