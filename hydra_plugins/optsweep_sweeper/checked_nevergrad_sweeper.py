"""``hydra/sweeper=nevergrad`` as this project configures it (config/hydra/sweeper/).

hydra-nevergrad-sweeper 1.4.0rc3 applies ``max_failure_rate`` to each batch of evaluations
separately, and if every evaluation fails at a tolerated rate it still logs "Best parameters"
(the untried initial point) and exits 0. Here the rate applies to the whole search, failed and
non-finite evaluations count as bad values (``FAILED_LOSS``) up to that rate, and a search in
which nothing succeeded, or too much failed, exits non-zero without reporting a best point.
"""

from dataclasses import dataclass, field, replace

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra_plugins.hydra_nevergrad_sweeper.config import NevergradSweeperConf, OptimConf
from hydra_plugins.hydra_nevergrad_sweeper.nevergrad_sweeper import NevergradSweeper


@dataclass
class CheckedOptimConf(OptimConf):
    # A fixed seed: the same search file gives the same evaluations every time.
    seed: int | None = 0
    # Largest tolerated share of failed evaluations over the whole search (not per batch).
    max_failure_rate: float = 0.25


@dataclass
class CheckedNevergradSweeperConf(NevergradSweeperConf):
    _target_: str = (
        "hydra_plugins.optsweep_sweeper.checked_nevergrad_sweeper.CheckedNevergradSweeper"
    )
    optim: CheckedOptimConf = field(default_factory=CheckedOptimConf)


ConfigStore.instance().store(
    group="hydra/sweeper",
    name="checked_nevergrad",
    node=CheckedNevergradSweeperConf,
    provider="optsweep",
)


class SearchFailed(CompactHydraException):
    """Too many evaluations of a search failed, or all of them did."""


class _FailureCountingLauncher:
    """Wraps the sweeper's launcher to apply the failure policy across all batches."""

    def __init__(self, launcher, budget: int, max_failure_rate: float):
        self.launcher, self.budget, self.max_failure_rate = launcher, budget, max_failure_rate
        self.done, self.failures = 0, []

    def launch(self, job_overrides, initial_job_idx):
        returns = self.launcher.launch(job_overrides, initial_job_idx=initial_job_idx)
        self.done += len(returns)
        failures = [r for r in returns if r.status is not JobStatus.COMPLETED]
        self.failures += failures
        failed = len(self.failures)
        if failed == self.done and self.done >= self.budget:
            raise SearchFailed(self._report(f"all {failed} evaluations failed; no best point"))
        if failed / self.done > self.max_failure_rate and self.done >= self.budget:
            raise SearchFailed(self._report(
                f"{failed} of {self.done} evaluations failed, more than "
                f"max_failure_rate={self.max_failure_rate}"
            ))
        # The sweeper sees a failure as a completed evaluation with a very bad loss, so its
        # own per-batch failure check never stops a search that is within the overall rate.
        return [_as_bad_value(r) if r in failures else r for r in returns]

    def _report(self, headline: str) -> str:
        lines = [f"  [{' '.join(r.overrides or [])}] {type(r._return_value).__name__}: "
                 f"{r._return_value}" for r in self.failures[:10]]
        more = len(self.failures) - len(lines)
        return "\n".join([headline] + lines + ([f"  ... and {more} more"] if more > 0 else []))

    def __getattr__(self, name):
        return getattr(self.launcher, name)


# The loss told to nevergrad for a failed evaluation: worse than any real Rosenbrock value in
# a search box, and below nevergrad's clipping threshold (5e20), which would warn on inf.
FAILED_LOSS = 1e20


def _as_bad_value(ret: JobReturn) -> JobReturn:
    sign = -1.0 if ret.hydra_cfg and ret.hydra_cfg.hydra.sweeper.optim.maximize else 1.0
    return replace(ret, status=JobStatus.COMPLETED, _return_value=sign * FAILED_LOSS)


class CheckedNevergradSweeper(NevergradSweeper):
    def setup(self, *, hydra_context, task_function, config) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        impl = self.sweeper
        impl.launcher = _FailureCountingLauncher(
            impl.launcher, impl.opt_config.budget, impl.opt_config.max_failure_rate
        )
