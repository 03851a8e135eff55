"""Fast composition and in-process running of sweep jobs.

Stock Hydra composes every job from scratch (defaults list, file loading, merges: ~100 ms a
job here), and its basic launcher writes three YAML files and reconfigures logging per job.
For cheap jobs that is almost all of a sweep's time. Here:

- ``FastComposer`` composes each distinct set of config-group choices (``settings=tnc``) once
  with stock Hydra, then makes each job's config from that template by applying the job's
  value overrides (``maxfun=10``) with Hydra's own override code, which is what stock
  composition does after merging. A job whose plain ``key=value`` overrides set exactly the
  keys the previous job of its template set (as in any grid) reuses that job's config in
  place, each value overwritten (so a task function must not modify its config, which
  this project's does not); any other job (``+key``/``~key``, dict values, other keys) gets
  a fresh copy of the template. Any override it cannot classify with certainty (Hydra overrides, package
  or group paths, sweeps) makes that job fall back to stock composition;
  tests/test_fastrun.py compares both on every settings file. Jobs whose overrides set the
  same keys to values without interpolations form a *family* (``JobConfig.family``), which
  ``optsweep.jobfamily`` resolves from what they share.
- ``run_in_process`` runs jobs one after the other in this process, like Hydra's basic
  launcher, with logging configured once per sweep (one log file: ``<sweep dir>/<job name>.log``)
  and without per-job ``.hydra/`` files (the sweep's ``multirun.yaml`` and each result's
  recorded config say the same).
"""

import copy
import functools
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import OverrideType
from hydra.core.utils import JobReturn, JobStatus, configure_log
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from optsweep.job import prechecked
from optsweep.progress import mark_job_end

log = logging.getLogger("optsweep.sweep")


@dataclass
class JobConfig:
    """A composed job: its task config (what the task function gets) and its Hydra node."""

    task: DictConfig
    hydra: DictConfig
    overrides: tuple[str, ...] = ()
    index: int = 0
    # Jobs of one family differ only in the values of the same keys (``changed``), which hold
    # no interpolation: (config-group overrides, those keys). None: no such guarantee.
    family: tuple | None = None
    changed: tuple[str, ...] = ()
    # The template's own Hydra node, against which interpolations inside ``hydra`` resolve
    # (``HydraConfig.set_config`` parents its copy to the config it was given), e.g.
    # ``sweep.subdir: ${hydra.job.num}`` and ``job.override_dirname``.
    template_hydra: DictConfig | None = None

    def describe(self) -> None:
        """Write the job's overrides and number into its Hydra node (``compose`` does unless
        told not to: the node is shared by the jobs of one template)."""
        for node in (self.hydra, self.template_hydra):
            if node is not None:
                with read_write(node), open_dict(node):
                    node.overrides.task = list(self.overrides)
                    node.job.id = str(self.index)
                    node.job.num = self.index


def split_task_config(cfg: DictConfig) -> tuple[DictConfig, DictConfig]:
    """``cfg`` without its ``hydra`` node (as Hydra's ``run_job`` hands it to the task), and
    that node."""
    task = copy.deepcopy(cfg)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task, cfg.hydra


class FastComposer:
    """Job configs for the jobs of one sweep (see the module docstring)."""

    def __init__(self, config_loader, master_config: DictConfig):
        self.loader, self.master = config_loader, master_config
        self.groups = set(master_config.hydra.runtime.choices)
        self.parser = OverridesParser.create()
        # group overrides -> (stock-composed full config, its task part)
        self.templates: dict[tuple, tuple[DictConfig, DictConfig]] = {}
        # group overrides -> (keys the last job set, that job's config, reusable in place)
        self.working: dict[tuple, tuple[tuple, DictConfig]] = {}
        self.current: tuple | None = None  # (template, HydraConfig's copy of its node)
        self.fallbacks = 0

    @functools.lru_cache(maxsize=65536)
    def _parse(self, override: str):
        """Hydra's parse of one override string: the same strings recur in every job."""
        (parsed,) = self.parser.parse_overrides([override])
        return parsed

    def _split(self, overrides) -> tuple[tuple[str, ...], list] | None:
        """(group overrides, parsed value overrides), or None if stock Hydra must compose."""
        groups, values = [], []
        for override in map(self._parse, overrides):
            key = override.key_or_group
            if override.is_hydra_override() or override.package is not None or \
                    "/" in key or override.is_sweep_override():
                return None
            if key in self.groups:
                groups.append(override.input_line)
            else:
                values.append(override)
        return tuple(groups), values

    def stock(self, overrides, index: int) -> DictConfig:
        """The job's full config as Hydra's launchers compose it (with the sweep directory as
        output directory: in-process runs log there)."""
        cfg = self.loader.load_sweep_config(self.master, list(overrides))
        with open_dict(cfg):
            cfg.hydra.job.id = str(index)
            cfg.hydra.job.num = index
            cfg.hydra.runtime.output_dir = os.path.abspath(cfg.hydra.sweep.dir)
        return cfg

    def compose_stock(self, overrides, index: int) -> JobConfig:
        """``compose`` by stock Hydra alone (the fallback, and ``hydra.sweeper.fast=false``)."""
        cfg = self.stock(overrides, index)
        HydraConfig.instance().set_config(cfg)
        task, _ = split_task_config(cfg)
        return JobConfig(task, HydraConfig.get(), tuple(overrides), index)

    def compose(self, overrides, index: int, describe: bool = True) -> JobConfig:
        """The job's config; also makes its Hydra node current for ``HydraConfig.get()``
        and ``${hydra:...}``, as it is during the job. ``describe=False``: the node is the
        template's until ``JobConfig.describe()`` (for checks that may not need it)."""
        split = self._split(overrides)
        if split is None:
            self.fallbacks += 1
            return self.compose_stock(overrides, index)
        groups, values = split
        if groups not in self.templates:
            full = self.stock(groups, index)
            self.templates[groups] = (full, split_task_config(full)[0])
        full, template = self.templates[groups]
        keys = tuple(v.key_or_group for v in values)
        plain = all(v.type is OverrideType.CHANGE and not isinstance(v.value(), dict)
                    for v in values) and not _nested(keys)
        last_keys, task = self.working.get(groups, (None, None))
        if not plain or keys != last_keys:
            task = copy.deepcopy(template)
        ConfigLoaderImpl._apply_overrides_to_config(values, task)
        self.working[groups] = (keys if plain else None, task)
        holder = HydraConfig.instance()
        if self.current is None or self.current[0] is not full or \
                self.current[1] is not holder.cfg:
            holder.set_config(full)  # copies the node: once per template
            self.current = (full, holder.cfg)
        inert = all("${" not in repr(v.value()) for v in values)
        job = JobConfig(task, HydraConfig.get(), tuple(overrides), index,
                        family=(groups, keys) if plain and inert else None, changed=keys,
                        template_hydra=full.hydra)
        if describe:
            job.describe()
        return job


def _nested(keys: tuple[str, ...]) -> bool:
    """Whether one dotted key lies inside another (``x0`` and ``x0.1``): then applying a job's
    overrides over the previous job's values may fail where a fresh template would not."""
    parts = [key.split(".") for key in keys]
    return any(a[:len(b)] == b or b[:len(a)] == a
               for i, a in enumerate(parts) for b in parts[:i])


def run_in_process(composer: FastComposer, jobs, task_function, sweep_dir: str,
                   plans: dict | None = None) -> list[JobReturn]:
    """Run ``jobs`` ((job number, overrides) pairs) one after the other in this process.
    ``plans`` maps a job's overrides to its ``JobPlan`` from the sweep's checks, which the job
    then reuses instead of checking its config again (see ``optsweep.job.prechecked``)."""
    returns = []
    log_file = None
    for index, overrides in jobs:
        job = composer.compose(overrides, index)
        if log_file is None:
            log_file = _configure_logging_once(job.hydra, sweep_dir)
        log.info(f"\t#{index} : {' '.join(overrides)}")
        ret = JobReturn(overrides=list(overrides), task_name=job.hydra.job.name,
                        working_dir=os.getcwd())
        try:
            with prechecked((plans or {}).get(tuple(overrides))):
                ret.return_value = task_function(job.task)
            ret.status = JobStatus.COMPLETED
        except Exception as error:
            ret.return_value = error
            ret.status = JobStatus.FAILED
            _log_to_file_only(f"job #{index} [{' '.join(overrides)}] failed")
        ret.log_file = log_file
        mark_job_end(sweep_dir, index, ret.status)
        returns.append(ret)
    if log_file is not None:  # back to Hydra's own logging, as its basic launcher does
        hydra = composer.master.hydra
        configure_log(hydra.hydra_logging, hydra.verbose)
    return returns


def _log_to_file_only(message: str) -> None:
    """Log the current exception with its traceback to the log file, not the terminal (the
    sweep's failure summary reports it there), as Hydra does for a failed job."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, message, None,
                            sys.exc_info())
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _configure_logging_once(hydra: DictConfig, sweep_dir: str) -> Path:
    """Job logging as Hydra configures it per job, once, into ``<sweep dir>/<name>.log``."""
    Path(sweep_dir).mkdir(parents=True, exist_ok=True)
    configure_log(hydra.job_logging, hydra.verbose)
    return Path(hydra.runtime.output_dir) / f"{hydra.job.name}.log"
