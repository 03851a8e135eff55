"""Checks a whole sweep before its first job runs, so no work is wasted on a bad config.

A job's *plan* is what the checks leave: where its result goes and the config it records.
The sweeper makes every job's plan before launching any; the job (``optsweep.engine.job``)
is handed its plan when it runs in this process, and makes it itself elsewhere.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from optsweep.engine.compose import JobConfig
from optsweep.engine.errors import InvalidJobConfig
from optsweep.engine.group_choices import job_config_files
from optsweep.engine.keys import check_keys, result_groups
from optsweep.engine.paths import shown
from optsweep.engine.replaced_choices import refuse_replaced_choices
from optsweep.engine.resolve import FamilyResolver, resolve_in_full
from optsweep.engine.store import ResultStore, numbers_as_floats, refuse_foreign

INVALID = (InvalidJobConfig, OmegaConfBaseException)
# Keys left out of the recorded config: where results, logs and tracker runs go is not what
# was computed.
_NOT_RECORDED = ("output", "hydra", "tracker")


class SweepRejected(CompactHydraException):
    """The sweep cannot run as configured; nothing was run."""


@dataclass(frozen=True)
class JobPlan:
    """A checked job: where its result goes and the config it will record."""

    overrides: tuple[str, ...]
    path: Path
    config: dict
    overwrite: bool = False  # output.overwrite: rerun even if the stored result is current


def check_composition(cfg: DictConfig, store: ResultStore) -> dict:
    """Check the keys of one composed job config and resolve it: its plain, resolved form
    (``output`` included), or one of ``INVALID`` naming the problem."""
    refuse_replaced_choices(result_groups(store.experiment))
    check_keys(cfg, store.experiment)
    return resolve_in_full(cfg)


def plan_from_resolved(resolved: dict, overrides: Iterable[str], store: ResultStore) -> JobPlan:
    """The plan of a job whose config ``check_composition`` resolved (the experiment checks
    the values: one of ``INVALID`` names a problem)."""
    recorded = {key: value for key, value in resolved.items() if key not in _NOT_RECORDED}
    config = store.experiment.recorded(recorded)
    overrides = tuple(overrides)
    path = store.path(resolved["output"], list(overrides), resolved)
    refuse_foreign(path)
    return JobPlan(overrides, path, config, bool(resolved["output"]["overwrite"]))


def plan_job(cfg: DictConfig, overrides: Iterable[str], store: ResultStore) -> JobPlan:
    """Check one composed job config; its plan, or one of ``INVALID`` naming the problem."""
    return plan_from_resolved(check_composition(cfg, store), overrides, store)


def config_files() -> str:
    """The config files the current job is made of (primary task.yaml, chosen group options),
    to say where a bad key may come from, e.g. "experiment/settings/tnc.yaml"."""
    if not HydraConfig.initialized():
        return "command-line overrides"
    files = [shown(file) for _, file in job_config_files(HydraConfig.get())]
    return ", ".join(files + ["command-line overrides"])


def resolved_by_family(job: JobConfig, families: FamilyResolver, store: ResultStore) -> dict:
    """The job's resolved config, by family where one is known (``optsweep.engine.resolve``),
    with the same outcome as ``check_composition`` (the family's first job is checked in
    full; the others differ from it only in the values of the same keys)."""
    assert job.task is not None, "checks need the job's values"
    family = families.known(job.family)
    if family is None:
        job.describe()
        resolved = check_composition(job.task, store)
        families.learn(job.family, job.task, job.changed, resolved)
        return resolved
    if family.needs_hydra_node:
        job.describe()
    try:
        return family.resolve(job.task)
    except Exception:  # report what resolving in full says
        job.describe()
        return check_composition(job.task, store)


def check_sweep(jobs: Iterable[JobConfig], store: ResultStore) -> list[JobPlan]:
    """Check every job of a sweep; return their plans or raise ``SweepRejected``.

    Reports every distinct problem once, with the number of jobs it affects and the first of
    them, and every collision (two jobs writing one result file).
    """
    problems = defaultdict(list)
    plans = []
    owners = defaultdict(list)
    families = FamilyResolver()
    for job in jobs:
        label = " ".join(job.overrides) or "(no overrides)"
        try:
            plan = plan_from_resolved(
                resolved_by_family(job, families, store), job.overrides, store
            )
        except INVALID as error:
            job.describe()
            problems[f"{error}\n    (from {config_files()})"].append(label)
            continue
        owners[plan.path].append((label, plan.config))
        plans.append(plan)
    lines = [
        f"{message}\n    in {len(labels)} job(s), e.g. [{labels[0]}]"
        for message, labels in problems.items()
    ]
    for path, owned in owners.items():
        if len(owned) > 1:
            jobs_text = "".join(f"\n    [{label}]" for label, _ in owned)
            if all(config == owned[0][1] for _, config in owned):
                lines.append(
                    f"{len(owned)} jobs are one job (their values are equal, e.g. 0.1 and "
                    f"1e-1) and would write one result file {path}:{jobs_text}\n"
                    "  sweep each value once"
                )
            else:
                lines.append(
                    f"{len(owned)} jobs would write the same result file {path}:{jobs_text}\n"
                    "  make output.file depend on every swept key, or leave it null"
                )
    lines += _equal_numbers_written_apart(owners)
    if lines:
        raise SweepRejected("sweep refused before running any job:\n  " + "\n  ".join(lines))
    return plans


def _equal_numbers_written_apart(owners: dict) -> list[str]:
    """The jobs of the sweep whose result files differ only in a number written as an int in
    one and as a float in the other (``data.separation=2,2.0``): equal values, but two configs
    and two files, which a figure then takes for two results of one point."""
    by_value = defaultdict(list)
    for path, owned in owners.items():
        by_value[numbers_as_floats(str(path))].append(owned[0][0])
    lines = []
    for labels in by_value.values():
        if len(labels) > 1:
            jobs_text = "".join(f"\n    [{label}]" for label in labels)
            lines.append(
                f"{len(labels)} jobs differ only in a number written as an int and as a float "
                f"(2 and 2.0: equal values, but two configs and two result files):{jobs_text}\n"
                "  write each value one way (as the sweep's other values are)"
            )
    return lines
