"""What an experiment hands the sweep engine: its checks, what a result records and depends on.

The engine knows no objective and no solver. An experiment is one ``Experiment`` value, and
its Hydra task function is the function that computes one result, decorated with
``@experiment.task``::

    QUADRATIC = Experiment(name="quadratic", task_config=..., record=..., value=..., ...)

    @hydra.main(config_path="config", config_name="task")
    @QUADRATIC.task
    def main(config: dict) -> dict:          # the recorded config, checked
        return {"f": ...}                    # the result: any picklable value

The decorated function is what Hydra calls with a job's ``DictConfig``: it checks the job
(``record``), skips it if its stored result is current, else calls the function, saves the
result with its provenance and returns ``value(result)``. The ``checked_experiment`` sweeper
finds the experiment on the task function (``experiment_of``) to check a whole sweep before
launching and to skip current jobs; a task function without one is a plain Hydra app, which
the sweeper runs as hydra-experiment-sweeper does.
"""

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from optsweep.engine.errors import InvalidJobConfig
from optsweep.engine.job import run_job

__all__ = ["Experiment", "ExperimentTask", "InvalidJobConfig", "experiment_of"]


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one value per experiment
class Experiment:
    """An experiment, as the engine sees it. Every callable receives plain containers."""

    name: str
    # The plain task tree's primary config file: its top-level keys (and the sub-keys of its
    # mappings) are the keys a job config may have, besides experiment variables that some
    # interpolation uses (``maxfun``). It must have an ``output`` node: dir, file, overwrite.
    task_config: Path
    # resolved job config (without ``output`` and ``hydra``) -> the config a result records,
    # with every value checked (raise ``InvalidJobConfig`` naming the key). Runs for every job
    # before any job runs, and must not depend on anything but its argument.
    record: Callable[[dict], dict]
    # result -> the float the task function returns (what an optimizing sweeper minimizes).
    value: Callable[[Any], float]
    # The code that computes results: modules, packages or files relative to the project
    # (``task.py``). Editing one makes every result stale; editing any other file (reporting,
    # the engine) does not.
    code: tuple[str, ...]
    # Distributions whose versions results depend on (a new version makes results stale).
    packages: tuple[str, ...] = ()
    # Sub-keys of the config groups the defaults list chooses (absent from task_config's body),
    # e.g. {"method": frozenset({"name", "options"})}.
    group_keys: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # (module, name) of the classes a result may hold beyond numpy's: the unpickler's allow-list.
    result_types: frozenset[tuple[str, str]] = frozenset()
    # Config groups whose choice names a result's directory (the first one a job overrides).
    result_groups: tuple[str, ...] = ()
    # result -> its scalar columns in results tables ({"fun": ..., "nfev": ...}).
    scalars: Callable[[Any], dict] = lambda result: {}
    # (recorded config, result) -> the line logged when a job finishes.
    describe: Callable[[dict, Any], str] = lambda config, result: "done"

    def task(self, compute: Callable[[dict], Any]) -> "ExperimentTask":
        """Decorator: the Hydra task function that runs ``compute`` as a job of this
        experiment (see the module docstring)."""
        return ExperimentTask(self, compute)


class ExperimentTask:
    """A Hydra task function: one job of ``experiment``, computed by ``compute``."""

    def __init__(self, experiment: Experiment, compute: Callable[[dict], Any]):
        self.experiment, self.compute = experiment, compute
        # Hydra finds the config directory from the wrapped function's file.
        functools.update_wrapper(self, compute)

    def __call__(self, cfg: DictConfig) -> float:
        return run_job(self, cfg)

    def __repr__(self) -> str:
        return f"ExperimentTask({self.experiment.name!r}, {self.compute.__qualname__})"


def experiment_of(task_function: Any) -> ExperimentTask | None:
    """The task function as an experiment's task, or None for a plain Hydra app (also for a
    function that wraps an experiment's task: the engine then calls it as Hydra would)."""
    return task_function if isinstance(task_function, ExperimentTask) else None
