"""Checks a whole sweep before its first job runs, so no work is wasted on a bad config."""

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from hydra.errors import CompactHydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from optsweep.options import SOLVERS, InvalidMethodConfig, check_method
from optsweep.results import recorded_config, result_path
from optsweep.solve import given_options


class SweepRejected(CompactHydraException):
    """The sweep cannot run as configured; nothing was run."""


def check_job(cfg: DictConfig, overrides: list[str]) -> Path:
    """Validate one composed job config and return the path its result will be written to."""
    if cfg.get("method") is None:
        raise InvalidMethodConfig(
            f"no method selected: add method=<name>, one of the files in config/method/ "
            f"(scipy methods supported: {', '.join(sorted(SOLVERS))})"
        )
    config = recorded_config(cfg)
    method = config["method"]
    check_method(method["name"], given_options(method["options"]), config["jac"])
    return result_path(cfg, overrides)


def check_sweep(jobs: Iterable[tuple[list[str], DictConfig]]) -> list[Path]:
    """Check every job of a sweep; return their result paths or raise ``SweepRejected``.

    Reports every bad job and every collision (two jobs writing one result file) at once.
    """
    problems, paths = [], []
    owners = defaultdict(list)
    for overrides, cfg in jobs:
        label = " ".join(overrides) or "(no overrides)"
        try:
            path = check_job(cfg, overrides)
        except (InvalidMethodConfig, OmegaConfBaseException) as error:
            problems.append(f"job [{label}]: {error}")
            continue
        owners[path].append(label)
        paths.append(path)
    for path, labels in owners.items():
        if len(labels) > 1:
            jobs_text = "".join(f"\n    [{label}]" for label in labels)
            problems.append(
                f"{len(labels)} jobs would write the same result file {path}:{jobs_text}\n"
                "  make output.file depend on every swept key, or leave it null"
            )
    if problems:
        raise SweepRejected(
            "sweep refused before running any job:\n  " + "\n  ".join(problems)
        )
    return paths
