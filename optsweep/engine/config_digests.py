"""The config files a job is made of, each with a digest of what it sets, for reports to tell
whether a result's config has changed since it was computed.

A result records ``meta.config_files``: ``"<digest> <path>"`` of its primary config and of each
group option it chose (``experiment/task.yaml``, ``experiment/settings/tnc.yaml``,
``config/method/tnc.yaml``), the path relative to the project. The digest covers the file's
content as OmegaConf reads it, without its ``hydra`` node: a comment, the layout or the sweep's
own lists (``hydra.sweeper.overrides``, which add or drop jobs, not change them) leave it as it
is; a value a job reads changes it. ``optsweep.report.staleness`` compares them with the files
now, as it does the code files.
"""

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from optsweep.engine.group_choices import job_config_files
from optsweep.engine.paths import project_root

# (config name, choices) -> the job's config files; (file, mtime, size) -> its digest.
_files: dict[tuple, tuple[Path, ...]] = {}
_digests: dict[tuple, str | None] = {}


def config_digest(path: Path) -> str | None:
    """The digest of what ``path`` (a YAML config) sets, its ``hydra`` node left out; None if
    it cannot be read as a config."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    key = (str(path), status.st_mtime_ns, status.st_size)
    if key not in _digests:
        try:
            content = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        except Exception:  # not a config any more: it has changed
            _digests[key] = None
        else:
            if isinstance(content, dict):
                content.pop("hydra", None)
            text = json.dumps(content, sort_keys=True, default=str)
            _digests[key] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return _digests[key]


def job_config_digests(hydra: Any) -> list[str]:
    """``"<digest> <path>"`` of each config file of the project that the job whose Hydra node
    is ``hydra`` is made of (see the module docstring)."""
    choices = tuple((str(k), str(v)) for k, v in hydra.runtime.choices.items())
    key = (str(hydra.job.config_name), choices)
    if key not in _files:
        _files[key] = tuple(file for _, file in job_config_files(hydra))
    root = project_root()
    recorded = []
    for file in _files[key]:
        resolved = file.resolve()
        digest = config_digest(resolved)
        if digest is not None and resolved.is_relative_to(root):
            recorded.append(f"{digest} {resolved.relative_to(root).as_posix()}")
    return recorded
