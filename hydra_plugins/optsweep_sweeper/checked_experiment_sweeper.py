"""``hydra/sweeper=checked_experiment``: the experiment sweeper, made strict.

hydra-experiment-sweeper 0.1.1 runs the sweep written in ``hydra.sweeper.overrides``. This
subclass adds what a reproducible sweep needs:
- ``glob(...)`` sweeps over config groups (``settings: glob(*)``), so a new settings file joins
  the sweep without editing the sweep;
- every job is composed and checked before the first one runs (options, result paths, no two
  jobs writing one file), see ``optsweep.preflight``;
- a failed job no longer leaves exit code 0: the other jobs still run, then a summary names
  each failed job, its exception and its log file, and the command exits non-zero.
"""

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra_plugins.experiment_sweeper_plugin.experiment_sweeper import (
    ExperimentSweeper,
    SweeperConfig,
)
from more_itertools import chunked
from omegaconf import open_dict

from optsweep.preflight import check_sweep

log = logging.getLogger(__name__)


@dataclass
class CheckedExperimentSweeperConfig(SweeperConfig):
    _target_: str = (
        "hydra_plugins.optsweep_sweeper.checked_experiment_sweeper.CheckedExperimentSweeper"
    )


ConfigStore.instance().store(
    group="hydra/sweeper",
    name="checked_experiment",
    node=CheckedExperimentSweeperConfig,
    provider="optsweep",
)


class SweepFailed(CompactHydraException):
    """Some jobs of the sweep failed; the others ran and kept their results."""


def _failure_line(ret: JobReturn) -> str:
    error = ret._return_value
    log_file = Path(ret.working_dir or ".") / f"{ret.task_name}.log"
    return (
        f"  [{' '.join(ret.overrides or [])}]\n"
        f"    {type(error).__name__}: {error}\n"
        f"    log: {log_file}"
    )


class CheckedExperimentSweeper(ExperimentSweeper):
    def generate_jobs(self, arguments: list[str]) -> list[tuple[str, ...]]:
        """All jobs: the product of the configured and command-line overrides.

        As in the base class, a key on the command line replaces the same key in
        ``hydra.sweeper.overrides``. Unlike it, every override knows the config loader, so
        ``glob(...)`` can list a config group's options.
        """
        parser = OverridesParser.create()
        ordered = self.parse_configured_overrides(parser) + parser.parse_overrides(arguments)
        latest = {override.get_key_element(): override for override in ordered}
        choices = []
        for key, override in latest.items():
            override.config_loader = self.hydra_context.config_loader
            if override.is_sweep_override():
                values = list(override.sweep_string_iterator())
            else:
                values = [override.get_value_element_as_str()]
            choices.append([f"{key}={value}" for value in values])
        return list(itertools.product(*choices))

    def _compose(self, index: int, overrides) -> tuple[list[str], object]:
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with open_dict(cfg):
            cfg.hydra.job.id = str(index)
            cfg.hydra.job.num = index
        HydraConfig.instance().set_config(cfg)  # so ${hydra:...} resolves as in the job
        return list(overrides), cfg

    def sweep(self, arguments):
        log.info(f"Sweep output dir : {self.config.hydra.sweep.dir}")
        self.save_sweep_config()
        jobs = self.generate_jobs(arguments)
        try:
            check_sweep(self._compose(i, job) for i, job in enumerate(jobs))
        finally:
            HydraConfig.instance().set_config(self.config)

        returns, failed = [], []
        initial_job_idx = 0
        for batch in chunked(jobs, self.batch_size(jobs)):
            results = self.launcher.launch(batch, initial_job_idx=initial_job_idx)
            initial_job_idx += len(batch)
            returns.append(results)
            failed += [r for r in results if r.status is not JobStatus.COMPLETED]
        log.info(f"{len(jobs) - len(failed)} of {len(jobs)} jobs succeeded")
        if failed:
            raise SweepFailed(
                f"{len(failed)} of {len(jobs)} jobs failed; the other results were saved.\n"
                + "\n".join(_failure_line(r) for r in failed)
            )
        return returns
