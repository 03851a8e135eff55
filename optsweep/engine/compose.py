"""Job configs for the jobs of a sweep, composed fast and the same as stock Hydra composes them.

Stock Hydra composes every job from scratch (defaults list, file loading, merges: ~100 ms a job
here). ``FastComposer`` instead composes each distinct set of config-group choices
(``settings=tnc``) once with stock Hydra, then makes each job's config from that template by
applying the job's value overrides (``maxfun=10``) with Hydra's own override code, which is what
stock composition does after merging. A job whose plain ``key=value`` overrides set exactly the
keys the previous job of its template set (as in any grid) reuses that job's config in place,
each value overwritten (so a task function must not modify its config); any other job
(``+key``/``~key``, dict values, other keys) gets a fresh copy of the template. An override it
cannot classify with certainty (Hydra overrides, packages, sweeps) makes that job fall back
to stock composition; a nested group's path (``integrand/transform=none``) is a group choice.
tests/test_compose.py compares both on every settings file.

Jobs whose overrides set the same keys to values without interpolations form a *family*
(``JobConfig.family``), which ``optsweep.engine.resolve`` resolves from what they share.
"""

import copy
import functools
import os
from dataclasses import dataclass
from typing import Any

from hydra.core.config_loader import ConfigLoader
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import DictConfig, ListConfig, OmegaConf, ValueNode, open_dict, read_write

from optsweep.engine import internals


@dataclass
class JobConfig:
    """A composed job: its task config (what the task function gets) and its Hydra node."""

    task: DictConfig | None  # None: composed for its Hydra node alone (``compose``)
    hydra: DictConfig
    overrides: tuple[str, ...] = ()
    index: int = 0
    # Jobs of one family differ only in the values of the same keys (``changed``), which hold
    # no interpolation: (config-group overrides, those keys). None: no such guarantee.
    family: tuple | None = None
    changed: tuple[str, ...] = ()
    # The template's own Hydra node, against which interpolations inside ``hydra`` resolve
    # (see ``internals.set_job_hydra_node``), e.g. ``sweep.subdir: ${hydra.job.num}``.
    template_hydra: DictConfig | None = None
    # The sweep directory, the same for the jobs of one template (resolved once for them),
    # and whether its subdirectories are the job numbers (Hydra's default ``subdir``).
    sweep_dir: str | None = None
    subdir_is_number: bool = False

    def describe(self) -> None:
        """Write the job's overrides and number into its Hydra node and into the template's,
        which the node resolves its interpolations against (``subdir: ${hydra.job.num}``),
        and its output directory (``<sweep dir>/<subdir>``, as Hydra's ``run_job`` sets it)
        into its node. ``compose`` does this unless told not to."""
        subdir = str(self.index) if self.subdir_is_number else None
        for node in (self.template_hydra, self.hydra):
            if node is None:
                continue
            _assign_strings(_child(node, "overrides"), "task", self.overrides)
            job = _child(node, "job")
            _assign(job, "id", str(self.index))
            _assign(job, "num", self.index)
            if node is self.hydra:
                output_dir = job_output_dir(node, self.sweep_dir, subdir)
                _assign(_child(node, "runtime"), "output_dir", output_dir)

    def full_config(self) -> DictConfig:
        """The job's whole config, ``hydra`` node included, as Hydra hands it to callbacks
        (a copy: built only when a callback needs it)."""
        assert self.task is not None, "composed for its Hydra node alone"
        full = copy.deepcopy(self.task)
        with read_write(full), open_dict(full):
            full.hydra = copy.deepcopy(self.hydra)
        return full


def _child(container: DictConfig, key: str) -> DictConfig:
    """``container.key``, a node of Hydra's schema (OmegaConf's attribute access costs more)."""
    child = container._get_node(key)
    assert isinstance(child, DictConfig), key
    return child


def _assign(container: DictConfig, key: str, value: Any) -> None:
    """``container[key] = value`` in a read-only Hydra node; where ``key`` holds a plain value
    already, by that value node's own conversion, with only that node made writable
    (OmegaConf's validated assignment costs ten times more, and a flag changed on a container
    walks its subtree: both ran for every job)."""
    child = container._get_node(key)
    if isinstance(child, ValueNode):
        _set_writable(child, value)
    else:
        with read_write(container), open_dict(container):
            container[key] = value


def _set_writable(node: ValueNode, value: Any) -> None:
    """Set ``node``'s value, the node alone made writable meanwhile (its own flag wins over
    its parents')."""
    own = node._get_node_flag("readonly")
    node._set_flag("readonly", False)
    try:
        node._set_value(value)
    finally:
        node._set_flag("readonly", own)


def _assign_strings(container: DictConfig, key: str, values: tuple[str, ...]) -> None:
    """``container[key] = list(values)`` in a read-only Hydra node, changing only the items
    that differ when the list there has as many (the jobs of one template differ in a few
    values)."""
    current = container._get_node(key)
    if (
        not isinstance(current, ListConfig)
        or current._is_missing()
        or current._is_none()
        or len(current) != len(values)
    ):
        with read_write(container), open_dict(container):
            container[key] = list(values)
        return
    for position, value in enumerate(values):
        item = current._get_node(position)
        if not isinstance(item, ValueNode):
            with read_write(current):
                current[position] = value
        elif item._value() != value:
            _set_writable(item, value)


def job_output_dir(
    hydra: DictConfig, sweep_dir: str | None = None, subdir: str | None = None
) -> str:
    """A multirun job's output directory, ``<sweep dir>/<subdir>``, from its Hydra node (its
    number set), as Hydra's ``run_job`` computes it; ``sweep_dir`` and ``subdir`` if already
    known. In-process jobs write nothing there unless a callback asks (``runner``)."""
    sweep_dir = sweep_dir or os.path.abspath(str(hydra.sweep.dir))
    return os.path.join(sweep_dir, subdir if subdir is not None else str(hydra.sweep.subdir))


# Hydra's default ``hydra.sweep.subdir``: each job's directory is its number.
_NUMBERED_SUBDIRS = ("${hydra.job.num}", "${hydra:job.num}")


def split_task_config(cfg: DictConfig) -> tuple[DictConfig, DictConfig]:
    """``cfg`` without its ``hydra`` node (as Hydra's ``run_job`` hands it to the task), and
    that node."""
    task = copy.deepcopy(cfg)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task, cfg.hydra


def _nested(keys: tuple[str, ...]) -> bool:
    """Whether one dotted key lies inside another (``x0`` and ``x0.1``): then applying a job's
    overrides over the previous job's values may fail where a fresh template would not."""
    parts = [key.split(".") for key in keys]
    return any(a[: len(b)] == b or b[: len(a)] == a for i, a in enumerate(parts) for b in parts[:i])


class FastComposer:
    """Job configs for the jobs of one sweep (see the module docstring)."""

    def __init__(self, config_loader: ConfigLoader, master_config: DictConfig):
        self.loader, self.master = config_loader, master_config
        self.groups = set(master_config.hydra.runtime.choices)
        self.parser = OverridesParser.create()
        # group overrides -> (stock-composed full config, its task part, its sweep directory,
        # whether its subdirectories are the job numbers)
        self.templates: dict[tuple, tuple[DictConfig, DictConfig, str, bool]] = {}
        # group overrides -> (keys the last job set, that job's config, reusable in place)
        self.working: dict[tuple, tuple[tuple | None, DictConfig]] = {}
        # (template, Hydra's copy of its node, the Hydra node of each)
        self.current: tuple | None = None
        self.fallbacks = 0
        # Whether some composed job changes its working directory or environment (hydra.job.
        # chdir, env_set, e.g. from a settings file): then only Hydra's launcher may run it.
        self.per_job_environment = False

    @functools.lru_cache(maxsize=65536)  # noqa: B019 (one composer per sweep)
    def _parse(self, override: str) -> Override:
        """Hydra's parse of one override string: the same strings recur in every job."""
        (parsed,) = self.parser.parse_overrides([override])
        return parsed

    def _split(self, overrides: Any) -> tuple[tuple[str, ...], list[Override]] | None:
        """(group overrides, parsed value overrides), or None if stock Hydra must compose."""
        groups: list[str] = []
        values: list[Override] = []
        for override in map(self._parse, overrides):
            key = override.key_or_group
            if (
                override.is_hydra_override()
                or override.package is not None
                or override.is_sweep_override()
            ):
                return None
            # A key with a slash is a group's path (a nested group, integrand/transform=none,
            # which an option chooses, so the master config's choices may not have it).
            if key in self.groups or "/" in key:
                groups.append(str(override.input_line))
            else:
                values.append(override)
        return tuple(groups), values

    def stock(self, overrides: Any, index: int) -> DictConfig:
        """The job's full config as Hydra's launchers compose it."""
        cfg = self.loader.load_sweep_config(self.master, list(overrides))
        with open_dict(cfg):
            cfg.hydra.job.id = str(index)
            cfg.hydra.job.num = index
            cfg.hydra.runtime.output_dir = job_output_dir(cfg.hydra)
        if cfg.hydra.job.chdir or cfg.hydra.job.env_set:
            self.per_job_environment = True
        return cfg

    def compose_stock(self, overrides: Any, index: int) -> JobConfig:
        """``compose`` by stock Hydra alone (the fallback, and ``hydra.sweeper.fast=false``)."""
        cfg = self.stock(overrides, index)
        node = internals.set_job_hydra_node(cfg)
        task, _ = split_task_config(cfg)
        return JobConfig(task, node.hydra, tuple(overrides), index)

    def compose(
        self, overrides: Any, index: int, describe: bool = True, values: bool = True
    ) -> JobConfig:
        """The job's config; also makes its Hydra node current for ``HydraConfig.get()``
        and ``${hydra:...}``, as it is during the job. ``describe=False``: the node is the
        template's until ``JobConfig.describe()`` (for checks that may not need it).
        ``values=False``: the Hydra node alone, for a job whose checked plan already holds
        its config (``task`` is then None: its values are not applied again)."""
        split = self._split(overrides)
        if split is None:
            self.fallbacks += 1
            return self.compose_stock(overrides, index)
        groups, parsed = split
        if groups not in self.templates:
            full = self.stock(groups, index)
            sweep = OmegaConf.to_container(full.hydra.sweep, resolve=False)
            assert isinstance(sweep, dict)
            numbered = sweep.get("subdir") in _NUMBERED_SUBDIRS
            sweep_dir = os.path.abspath(str(full.hydra.sweep.dir))
            self.templates[groups] = (full, split_task_config(full)[0], sweep_dir, numbered)
        full, template, sweep_dir, numbered = self.templates[groups]
        keys = tuple(v.key_or_group for v in parsed)
        plain = all(
            v.type is OverrideType.CHANGE and not isinstance(v.value(), dict) for v in parsed
        ) and not _nested(keys)
        task: DictConfig | None = None
        if values:
            last_keys, task = self.working.get(groups, (None, None))
            if not plain or keys != last_keys or task is None:
                task = copy.deepcopy(template)
            internals.apply_overrides(parsed, task)
            self.working[groups] = (keys if plain else None, task)
        if (
            self.current is None
            or self.current[0] is not full
            or self.current[1] is not internals.current_hydra_root()
        ):
            root = internals.set_job_hydra_node(full)  # copies: once a template
            # Their Hydra nodes too (OmegaConf's attribute access costs more than the rest of
            # a job's composition).
            self.current = (full, root, _child(full, "hydra"), _child(root, "hydra"))
        inert = all("${" not in repr(v.value()) for v in parsed)
        job = JobConfig(
            task,
            self.current[3],
            tuple(overrides),
            index,
            family=(groups, keys) if plain and inert else None,
            changed=keys,
            template_hydra=self.current[2],
            sweep_dir=sweep_dir,
            subdir_is_number=numbered,
        )
        if describe:
            job.describe()
        return job
