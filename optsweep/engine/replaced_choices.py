"""An override that replaces a group choice of the job's settings file.

``experiment/settings/logistic.yaml`` chooses ``- /model: logistic``; Hydra lets a
command-line ``model=svm`` (or a sweeper override) win over it, in every job of the sweep.
The job then runs an SVM with logistic's mapping (``model.max_iter``, which the SVM does not
read), and its result is filed and drawn as ``settings=logistic``: a figure's line would say
one method and show another. ``refuse_replaced_choices`` refuses such a job, naming the file,
its choice and the override. The same holds for every group that names a result's directory
(``search=tnc`` choosing ``- override /settings: tnc``).
"""

from collections.abc import Iterable
from pathlib import Path

import yaml
from hydra.core.hydra_config import HydraConfig

from optsweep.engine.errors import InvalidJobConfig
from optsweep.engine.group_choices import config_file
from optsweep.engine.paths import shown


def refuse_replaced_choices(groups: Iterable[str]) -> None:
    """Raise ``InvalidJobConfig`` if the current job (its Hydra node) chose, for a group
    another option than the chosen option file of one of ``groups`` says."""
    if not HydraConfig.initialized():
        return
    hydra = HydraConfig.get()
    choices = hydra.runtime.choices
    for group in groups:
        option = choices.get(group)
        file = config_file(hydra, f"{group}/{option}") if isinstance(option, str) else None
        if file is None:
            continue
        for target, wanted in _chosen_groups(file):
            final = choices.get(target)
            if final == wanted:
                continue
            override = next(
                (o for o in hydra.overrides.task if o.split("=", 1)[0].lstrip("+~") == target),
                None,
            )
            by = f"the override {override}" if override else "an override"
            raise InvalidJobConfig(
                f"{group}={option} chooses {target} {wanted!r} ({shown(file)}), but {by} "
                f"replaces it with {final!r}: the results would be filed and drawn as "
                f"{group}={option}, made by {target}={final}. Leave the override out; to "
                f"compare {target}={final}, choose it in a {group} file of its own"
            )


def _chosen_groups(file: Path) -> list[tuple[str, str]]:
    """The ``(group, option)`` choices of a ``# @package _global_`` option file's defaults
    list that name a group from the root (``- /model: logistic``, ``- override /settings:
    tnc``); Hydra's own groups left out."""
    try:
        content = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError):
        return []  # Hydra reports an unreadable file
    defaults = content.get("defaults") if isinstance(content, dict) else None
    chosen = []
    for entry in defaults if isinstance(defaults, list) else []:
        if not isinstance(entry, dict):
            continue
        for key, value in entry.items():
            name = str(key)
            for word in ("override", "optional"):
                name = name.removeprefix(word).strip()
            if not name.startswith("/") or not isinstance(value, str):
                continue
            group = name.lstrip("/").split("@")[0]
            if group and not group.startswith("hydra"):
                chosen.append((group, value))
    return chosen
