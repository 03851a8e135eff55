"""Checks a whole sweep before its first job runs, so no work is wasted on a bad config."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from optsweep.jobfamily import FamilyResolver, resolve_in_full
from optsweep.options import SOLVERS, InvalidMethodConfig, check_method
from optsweep.paths import PROJECT_ROOT
from optsweep.results import recorded, result_path, with_start_point
from optsweep.schema import InvalidTaskConfig, check_keys, check_values
from optsweep.solve import given_options

if TYPE_CHECKING:  # fastrun imports this module (through job)
    from optsweep.fastrun import JobConfig

INVALID = (InvalidMethodConfig, InvalidTaskConfig, OmegaConfBaseException)


class SweepRejected(CompactHydraException):
    """The sweep cannot run as configured; nothing was run."""


@dataclass(frozen=True)
class JobPlan:
    """A checked job: where its result goes and the config it will record."""

    overrides: tuple[str, ...]
    path: Path
    config: dict
    overwrite: bool = False  # output.overwrite: rerun even if the stored result is current


def check_composition(cfg: DictConfig) -> dict:
    """Check the keys of one composed job config and resolve it: its plain, resolved form
    (``output`` included), or one of ``INVALID`` naming the problem."""
    if cfg.get("method") is None:
        raise InvalidMethodConfig(
            f"no method selected: add method=<name>, one of the files in config/method/ "
            f"(scipy methods supported: {', '.join(sorted(SOLVERS))})"
        )
    check_keys(cfg)
    return resolve_in_full(cfg)


def plan_job(resolved: dict, overrides) -> JobPlan:
    """Check the values of a job's resolved config (``check_composition``); its plan."""
    config = recorded(resolved)
    check_values(config)
    config = with_start_point(config)
    method = config["method"]
    check_method(method["name"], given_options(method["options"]), config["jac"])
    return JobPlan(tuple(overrides), result_path(resolved["output"], overrides), config,
                   bool(resolved["output"]["overwrite"]))


def check_job(cfg: DictConfig, overrides: list[str]) -> JobPlan:
    """Validate one composed job config; raise one of ``INVALID`` naming the problem."""
    return plan_job(check_composition(cfg), overrides)


def _shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def _where() -> str:
    """The config files the current job is made of (primary task.yaml, chosen group options),
    to say where a bad key may come from, e.g. "experiment/settings/tnc.yaml"."""
    if not HydraConfig.initialized():
        return "command-line overrides"
    hydra = HydraConfig.get()
    sources = [Path(s.path) for s in hydra.runtime.config_sources if s.schema == "file"]
    wanted = [hydra.job.config_name] + [
        f"{group}/{choice}" for group, choice in hydra.runtime.choices.items()
        if choice and not group.startswith("hydra/")
    ]
    files = []
    for name in wanted:
        found = next((d / f"{name}.yaml" for d in sources if (d / f"{name}.yaml").is_file()), None)
        if found is not None:
            files.append(_shown(found))
    return ", ".join(files + ["command-line overrides"])


def check_sweep(jobs: Iterable["JobConfig"]) -> list[JobPlan]:
    """Check every job of a sweep; return their plans or raise ``SweepRejected``.

    Reports every distinct problem once, with the number of jobs it affects and the first of
    them, and every collision (two jobs writing one result file). Jobs of one family are
    resolved from what they share (``optsweep.jobfamily``), with the same outcome.
    """
    problems = defaultdict(list)
    plans = []
    owners = defaultdict(list)
    families = FamilyResolver()
    for job in jobs:
        label = " ".join(job.overrides) or "(no overrides)"
        family = families.known(job.family)
        try:
            if family is None:
                job.describe()
                resolved = check_composition(job.task)
                families.learn(job.family, job.task, job.changed, resolved)
            else:
                if family.needs_hydra_node:
                    job.describe()
                try:
                    resolved = family.resolve(job.task)
                except Exception:  # report what resolving in full says
                    job.describe()
                    resolved = check_composition(job.task)
            plan = plan_job(resolved, job.overrides)
        except INVALID as error:
            job.describe()
            problems[f"{error}\n    (from {_where()})"].append(label)
            continue
        owners[plan.path].append(label)
        plans.append(plan)
    lines = [
        f"{message}\n    in {len(labels)} job(s), e.g. [{labels[0]}]"
        for message, labels in problems.items()
    ]
    for path, labels in owners.items():
        if len(labels) > 1:
            jobs_text = "".join(f"\n    [{label}]" for label in labels)
            lines.append(
                f"{len(labels)} jobs would write the same result file {path}:{jobs_text}\n"
                "  make output.file depend on every swept key, or leave it null"
            )
    if lines:
        raise SweepRejected("sweep refused before running any job:\n  " + "\n  ".join(lines))
    return plans
