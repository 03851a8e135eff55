"""Each job that runs, logged to an experiment tracker (MLflow, Weights & Biases).

A tracker is a Hydra callback (``hydra.callbacks.tracker``, set by ``tracker=mlflow`` or
``tracker=wandb``, config/tracker/*.yaml), so it runs wherever the job runs: in process, in a
joblib worker, in a SLURM task, and for each evaluation of a search. At the end of a job it
logs one run:

- params: the job's recorded config, flattened (``method.options.eta``);
- metrics: the experiment's scalars of the result (``scalars``) and the job's wall time;
- tags: the config-group choices (``settings``), the overrides, the sweep directory, the code
  version, the git commit, the result file.

A run is logged only when a job ends, with its start time from the result, so a killed job
leaves no run "running" forever, and a rerun logs only the jobs it runs: jobs skipped as up to
date (before launch, or found current when they got their lock) log nothing. A failed job is
logged as failed, with its error. The tracker libraries are imported only when a tracker is
chosen; without one, nothing changes.
"""

import importlib.util
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from optsweep.engine import internals
from optsweep.engine.experiment import Experiment, experiment_of
from optsweep.engine.job import FoundCurrent
from optsweep.engine.paths import shown
from optsweep.engine.store import ResultFileError, ResultStore, identifying_overrides

log = logging.getLogger(__name__)

# Job config keys that say where results and reports go, not what was computed.
_NOT_PARAMS = ("hydra", "output", "tracker")


@dataclass
class TrackedJob:
    """What a tracker logs for one job."""

    name: str  # the overrides that say what the job computes, e.g. "maxfun=10 settings=tnc"
    experiment: str
    sweep: str  # the sweep (or run) directory, relative to the project when inside it
    failed: bool
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    started: float | None = None  # seconds since the epoch
    ended: float = field(default_factory=time.time)


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"method": {"options": {"eta": 0.5}}}`` -> ``{"method.options.eta": 0.5}``."""
    if isinstance(node, Mapping) and node:
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: node} if prefix else {}


def _text(value: Any) -> str:
    return "null" if value is None else str(value)


def _metrics(scalars: Mapping[str, Any]) -> dict[str, float]:
    """The numeric scalars (booleans as 0 and 1), finite or not (trackers take nan and inf)."""
    return {
        key: float(value)
        for key, value in scalars.items()
        if isinstance(value, (int, float)) and not isinstance(value, complex)
    }


def _shown(path: str) -> str:
    return shown(Path(path).absolute())


def tracked_job(
    experiment: Experiment, config: DictConfig, job_return: JobReturn
) -> TrackedJob | None:
    """The run to log for a job that ended, or None for a job found up to date."""
    if job_return.status is JobStatus.COMPLETED and isinstance(
        job_return.return_value, FoundCurrent
    ):
        return None
    overrides = list(job_return.overrides or config.hydra.overrides.task)
    hydra = config.hydra
    sweep = hydra.sweep.dir if hydra.mode == RunMode.MULTIRUN else hydra.run.dir
    job = TrackedJob(
        name=" ".join(identifying_overrides(overrides)) or "(no overrides)",
        experiment=experiment.name,
        sweep=_shown(str(sweep)),
        failed=job_return.status is not JobStatus.COMPLETED,
    )
    choices = {
        group: choice
        for group, choice in hydra.runtime.choices.items()
        if choice is not None and not group.startswith("hydra/") and group != "tracker"
    }
    job.tags.update({f"choice.{group}": str(choice) for group, choice in choices.items()})
    job.tags.update(
        {"overrides": " ".join(overrides), "sweep": job.sweep, "experiment": experiment.name}
    )
    store = ResultStore(experiment)
    record = None
    try:
        path = store.path(config.output, overrides, config)
        job.tags["result"] = _shown(str(path))
        if not job.failed:
            record = store.load(path)
    except (ResultFileError, OSError, ValueError) as unreadable:  # logged as what it is
        job.tags["result_error"] = str(unreadable)
    if record is not None:
        job.params = {key: _text(value) for key, value in flatten(record["config"]).items()}
        scalars = experiment.scalars_of(record["result"])
        job.metrics = _metrics(scalars)
        job.tags.update({k: str(v) for k, v in scalars.items() if k not in job.metrics})
        meta = record["meta"]
        job.metrics["wall_time"] = float(meta.get("wall_time", math.nan))
        job.tags["code"] = str(meta.get("code"))
        git = meta.get("git") or {}
        job.tags["git_commit"] = str(git.get("commit"))
        job.tags["git_dirty"] = str(git.get("dirty"))
        job.started = job.ended - job.metrics["wall_time"]
    else:
        job.params = _config_params(config)
    if job.failed:
        error = internals.job_error(job_return)
        job.tags["error"] = f"{type(error).__name__}: {error}"
    return job


def _config_params(config: DictConfig) -> dict[str, str]:
    """A failed job's params: its config as composed, resolved where it resolves."""
    plain = {key: config[key] for key in config if key not in _NOT_PARAMS}
    try:
        container = OmegaConf.to_container(OmegaConf.create(plain), resolve=True)
    except Exception:  # an unresolvable value: log it as written
        container = OmegaConf.to_container(OmegaConf.create(plain), resolve=False)
    return {key: _text(value) for key, value in flatten(container).items()}


class TrackerCallback(Callback):
    """A Hydra callback logging each job of an experiment that runs (``log``, per tracker).
    A plain Hydra app (a task function without an ``Experiment``) is not tracked.

    A tracker that fails (a server that is gone, a read-only store) never fails a job nor
    stalls a sweep: its first error is said once, in a line, with what is kept (the results),
    no later job of this process tries again, and the end of the sweep says how many jobs'
    runs were not logged. Each tracker bounds its own waits (``bounded_waits``)."""

    def __init__(self) -> None:
        self._experiment: Experiment | None = None
        self.broken: str | None = None  # why this process logs no more runs
        self.not_logged = 0

    def give_up(self, doing: str, error: BaseException) -> None:
        """Say once why this process logs no more runs; count the runs not logged."""
        if self.broken is None:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            self.broken = f"{type(error).__name__}: {first[:300]}"
            log.warning(
                "tracker %s: %s failed (%s); no more runs are logged from this process "
                "(the results are saved as usual)",
                self.kind,
                doing,
                self.broken,
            )

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.broken is not None:
            log.warning(
                "tracker %s: %d job run(s) not logged from the sweeping process: %s",
                self.kind,
                self.not_logged,
                self.broken,
            )

    kind = "tracker"
    # The package the tracker logs through (in the trackers extra), looked for before a job.
    module: str | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.require_module()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.require_module()

    def require_module(self) -> None:
        """Refuse the command before any job (exit 1, a line) if the tracker's package is not
        installed: asked for tracking, a sweep must not run untracked to the end."""
        if self.module is not None and importlib.util.find_spec(self.module) is None:
            raise SystemExit(
                f"refused: tracker={self.kind} logs through {self.module}, which is not "
                "installed in this environment: install the trackers extra (pip install "
                "'optsweep[trackers]'; in this repository, make trackers); nothing was run"
            )

    def on_job_start(self, config: DictConfig, *, task_function: Any = None, **kwargs) -> None:
        task = experiment_of(task_function) if task_function is not None else None
        self._experiment = task.experiment if task is not None else None

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs) -> None:
        if self._experiment is None:
            return
        job = tracked_job(self._experiment, config, job_return)
        if job is None:
            return
        if self.broken is not None:
            self.not_logged += 1
            return
        try:
            self.log(job)
        except Exception as error:  # the tracker's failure is not the job's
            self.not_logged += 1
            self.give_up(f"logging the run of [{job.name}]", error)

    def log(self, job: TrackedJob) -> None:
        raise NotImplementedError
