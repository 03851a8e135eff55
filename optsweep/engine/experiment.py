"""What an experiment hands the sweep engine: its name, and whatever it wants other than the
defaults.

The engine knows no objective and no solver. An experiment is one ``Experiment`` value, and
its Hydra task function is the function that computes one result, decorated with
``@experiment.task``. The least a user writes::

    DIGITS = Experiment(name="digits")       # every other field optional

    @hydra.main(config_path="config", config_name="task")
    @DIGITS.task
    def main(config: dict) -> dict:          # the recorded config, checked
        return {"accuracy": ..., "train_time": ...}   # any picklable value; or a float

The decorated function is what Hydra calls with a job's ``DictConfig``: it checks the job
(keys at every depth, then ``record`` and ``check``), skips it if its stored result is current,
else calls the function, saves the result with its provenance and returns its value (the
float an optimizing sweeper optimizes). The ``checked_experiment`` sweeper finds the experiment
on the task function (``experiment_of``) to check a whole sweep before launching and to skip
current jobs; a task function without one is a plain Hydra app, which the sweeper runs as
hydra-experiment-sweeper does.

Decorating also makes the task function's project this process's project
(``optsweep.engine.paths``): results, Hydra's run and sweep dirs, ``${project_path:...}``,
relative ``code`` entries and the git provenance belong to it.
"""

import decimal
import difflib
import functools
import inspect
import logging
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from omegaconf import DictConfig

from optsweep.engine.errors import InvalidJobConfig
from optsweep.engine.paths import project_root, register_project, register_task_file
from optsweep.engine.trust import trust_project

__all__ = ["Experiment", "ExperimentTask", "InvalidJobConfig", "experiment_of"]

log = logging.getLogger(__name__)

Direction = Literal["minimize", "maximize"]


def plain_scalar(value: Any) -> Any:
    """``value`` as one table cell, a Python bool, int, float or str (numpy's scalars, a
    ``Decimal`` or a ``Fraction`` become one), so that every reader reads it; None if it is no
    scalar (an array, a mapping, a complex number)."""
    if isinstance(value, np.generic) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (numbers.Real, decimal.Decimal)):  # a Decimal is no numbers.Real
        return float(value)
    return None


def default_scalars(result: Any) -> dict:
    """A result's table columns: a mapping's scalar entries (``plain_scalar``), or
    ``{"value": v}`` for a number or bool; nothing for anything else. Readers derive the
    columns of files that do not record them with this same rule."""
    if isinstance(result, Mapping):
        return _cells(result)
    cell = plain_scalar(result)
    return {"value": cell} if cell is not None and not isinstance(cell, str) else {}


def _cells(values: Mapping, refuse: Callable[[str, Any], None] | None = None) -> dict:
    """``values``' entries as table cells (``plain_scalar``), without those that are none;
    ``refuse(key, value)`` is called first for each such entry that is not None."""
    cells = {}
    for key, value in values.items():
        cell = plain_scalar(value)
        if cell is None:
            if refuse is not None and value is not None:
                refuse(str(key), value)
            continue
        cells[str(key)] = cell
    return cells


def _describe_scalars(config: dict, result: Any) -> str:
    shown = default_scalars(result)
    text = ", ".join(
        f"{key}={value:.6g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in list(shown.items())[:4]
    )
    return text or "done"


class NoObjective(InvalidJobConfig):
    """The experiment's value cannot be taken from a result: the message says what to set."""


class ObjectiveNotReturned(NoObjective):
    """The task returned a mapping without the declared objective: until a job returns it, a
    misnamed declaration (``objective="los"``) that every later job would hit too."""


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one value per experiment
class Experiment:
    """An experiment, as the engine sees it. Every callable receives plain containers."""

    name: str
    # The entry of a returned mapping that a search optimizes (``"accuracy"``); None: the
    # task returns a number, or a mapping with one numeric entry.
    objective: str | None = None
    # Whether a search minimizes or maximizes the objective: declared here once, printed when a
    # search starts; a search file's own ``optim.maximize`` must agree.
    direction: Direction = "minimize"
    # The plain task tree's primary config file (relative to the project; None:
    # ``config/task.yaml``). Its keys, and at every depth the keys of the config group options
    # its defaults list chooses, are the keys a job config may have, besides experiment
    # variables that some interpolation uses (``budget``).
    task_config: Path | str | None = None
    # resolved job config (without ``output``, ``hydra`` and ``tracker``) -> the config a
    # result records. Runs for every job before any job runs, and must not depend on anything
    # but its argument. None: the config as it is.
    record: Callable[[dict], dict] | None = None
    # recorded config -> None, or raise ``InvalidJobConfig`` naming the key and the range: the
    # experiment's own value checks, run before any job runs.
    check: Callable[[dict], None] | None = None
    # result -> the float the task function returns (what a search optimizes, before the
    # direction is applied). None: from ``objective`` (see ``value_of``).
    value: Callable[[Any], float] | None = None
    # The code that computes results, besides the task function's own module: modules,
    # packages or files relative to the project. Editing one makes every result stale; editing
    # any other file (reporting, the engine) does not.
    code: tuple[str, ...] = ()
    # Distributions whose versions results depend on (a new version makes results stale).
    packages: tuple[str, ...] = ()
    # Modules a job imports when it runs rather than at the top of its module (``task.py``
    # importing ``scipy.optimize`` inside the task keeps reruns and checks fast): a pool's
    # workers import them while the sweep or search is still being checked, so the first
    # job of each does not wait for them. Results do not depend on this list.
    imports: tuple[str, ...] = ()
    # Sub-keys of config groups, for groups whose options do not list every key they accept
    # (``{"method": frozenset({"name", "options"})}``): checked one level deep instead.
    group_keys: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # (module, name) of the classes a result may hold beyond numpy's: the unpickler's allow-list.
    result_types: frozenset[tuple[str, str]] = frozenset()
    # Config groups whose choice names a result's directory (the first one a job overrides).
    # None: search, settings, then the groups the plain tree's defaults list declares.
    result_groups: tuple[str, ...] | None = None
    # result -> its scalar columns in results tables; None: ``default_scalars``.
    scalars: Callable[[Any], dict] | None = None
    # (recorded config, result) -> the line logged when a job finishes.
    describe: Callable[[dict, Any], str] = _describe_scalars

    def __post_init__(self) -> None:
        if self.direction not in ("minimize", "maximize"):
            raise ValueError(
                f"Experiment {self.name!r}: direction={self.direction!r}, "
                "expected 'minimize' or 'maximize'"
            )
        _refuse_unnamed_modules(self.name, self.imports)
        for field_name in ("code", "packages"):  # a lone string would be read letter by letter
            value = getattr(self, field_name)
            if isinstance(value, str) or not isinstance(value, (tuple, list)):
                raise ValueError(
                    f"Experiment {self.name!r}: {field_name}={value!r}, expected a tuple of "
                    f"names: {field_name}=({value!r},)"
                    if isinstance(value, str)
                    else f"Experiment {self.name!r}: {field_name}={value!r}, expected a tuple"
                )
        object.__setattr__(self, "_task_files", ())

    # --- what the defaults resolve to -------------------------------------------------------

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    @property
    def task_files(self) -> tuple[str, ...]:
        """The files of the task functions decorated with this experiment's ``task``."""
        return self._task_files  # type: ignore[attr-defined]

    def task_config_file(self) -> Path:
        """The plain tree's primary config file, absolute."""
        path = Path(self.task_config if self.task_config is not None else "config/task.yaml")
        return path if path.is_absolute() else project_root() / path

    def code_entries(self) -> tuple[str, ...]:
        """``code`` plus the task functions' own files."""
        return tuple(dict.fromkeys((*self.task_files, *self.code)))

    def recorded(self, config: dict) -> dict:
        """The config a result records (``record``), checked (``check``)."""
        recorded = config if self.record is None else self.record(config)
        if self.check is not None:
            self.check(recorded)
        return recorded

    def scalars_of(self, result: Any) -> dict:
        if self.scalars is None:
            return default_scalars(result)

        def refuse(key: str, value: Any) -> None:
            raise TypeError(
                f"experiment {self.name!r}: its scalars gave {key!r} = {_what(value)}, "
                "which is no table cell (a bool, number or string)"
            )

        return _cells(self.scalars(result), refuse)

    def value_of(self, result: Any) -> float:
        """The float a job returns: ``value(result)``, else the ``objective`` entry of a
        mapping, else the result itself if it is a number, else a mapping's only numeric
        entry. ``NoObjective`` says what to set when none of these applies."""
        if self.value is not None:
            return float(self.value(result))
        if self.objective is not None:
            if not isinstance(result, Mapping):
                raise NoObjective(
                    f"experiment {self.name!r}: objective={self.objective!r}, but the task "
                    f"returned {_what(result)}"
                )
            if self.objective not in result:
                close = difflib.get_close_matches(self.objective, map(str, result), n=1)
                hint = f" (did you mean objective={close[0]!r}?)" if close else ""
                raise ObjectiveNotReturned(
                    f"experiment {self.name!r}: objective={self.objective!r}, but the task "
                    f"returned {_what(result)}{hint}"
                )
            value = result[self.objective]
            if not _is_number(value):
                raise NoObjective(
                    f"experiment {self.name!r}: the task's objective {self.objective!r} is "
                    f"{_what(value)} ({_shown(value)}), not a number: return it as a float "
                    "(float(x), or x.item() for an array or tensor of one value)"
                )
            return float(value)
        if _is_number(result):
            return float(result)
        if isinstance(result, Mapping):
            numeric = [k for k, v in result.items() if _is_number(v)]
            if len(numeric) == 1:
                return float(result[numeric[0]])
        raise NoObjective(
            f"experiment {self.name!r}: the task returned {_what(result)}; say which value a "
            "search optimizes: Experiment(..., objective='<key>', direction='minimize' or "
            "'maximize')"
        )

    def job_value(self, result: Any) -> float:
        """What a job returns to Hydra: its value, or nan for a result with no single value
        (a grid sweep does not need one; a search says what to set)."""
        try:
            return self.value_of(result)
        except NoObjective:
            return math.nan

    # --- the task function ------------------------------------------------------------------

    def task(self, compute: Callable[[dict], Any]) -> "ExperimentTask":
        """Decorator: the Hydra task function that runs ``compute`` as a job of this
        experiment (see the module docstring)."""
        return ExperimentTask(self, compute)


def _refuse_unnamed_modules(name: str, imports: Any) -> None:
    """``imports`` must be a sequence of dotted module names (a lone string would be read
    letter by letter); whether each can be imported is for the workers to say."""
    if isinstance(imports, str) or not isinstance(imports, (tuple, list)):
        raise ValueError(
            f"Experiment {name!r}: imports={imports!r}, expected a tuple of module names "
            "such as ('scipy.optimize',)"
        )
    for module in imports:
        if not isinstance(module, str) or not all(p.isidentifier() for p in module.split(".")):
            raise ValueError(
                f"Experiment {name!r}: imports holds {module!r}, which is no module name "
                "(dotted identifiers, such as 'scipy.optimize')"
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _what(result: Any) -> str:
    if isinstance(result, Mapping):
        return f"a mapping with keys {', '.join(map(repr, list(result)[:8]))}"
    return f"a {type(result).__name__}"


def _shown(value: Any) -> str:
    """``value``'s repr, cut to a line's worth."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class ExperimentTask:
    """A Hydra task function: one job of ``experiment``, computed by ``compute``."""

    def __init__(self, experiment: Experiment, compute: Callable[[dict], Any]):
        self.experiment, self.compute = experiment, compute
        # Hydra finds the config directory from the wrapped function's file.
        functools.update_wrapper(self, compute)
        file = inspect.getsourcefile(compute)
        if file is not None:
            self.project = register_task_file(file)
            trust_project(self.project, from_command_line=compute.__module__ == "__main__")
            files = (*experiment.task_files, str(Path(file).resolve()))
            object.__setattr__(experiment, "_task_files", tuple(dict.fromkeys(files)))
        else:
            self.project = project_root()

    def __getstate__(self) -> dict:
        from optsweep.engine.provenance import command

        return {**self.__dict__, "_command": tuple(command())}

    def __setstate__(self, state: dict) -> None:
        """Unpickled in a worker of Hydra's own launchers (joblib's, submitit's), which
        compose each job there: the process gets this task's project, so the experiment's
        configs get the engine's own there too (``output``: without it every job failed with
        "Could not override 'output.dir'"), and its results record the sweeping process's
        command (``meta.argv``), not the worker's (submitit's ``_submit.py`` in a SLURM array
        task). A chunk's context holds the task, so its workers adopt the command too."""
        from optsweep.engine.provenance import adopt_command

        state = dict(state)
        argv = state.pop("_command", None)
        self.__dict__.update(state)
        register_project(self.project)
        if argv is not None:
            adopt_command(argv)

    def __call__(self, cfg: DictConfig) -> float:
        from optsweep.engine.job import run_job

        return run_job(self, cfg)

    def __repr__(self) -> str:
        return f"ExperimentTask({self.experiment.name!r}, {self.compute.__qualname__})"


def experiment_of(task_function: Any) -> ExperimentTask | None:
    """The task function as an experiment's task, or None for a plain Hydra app (also for a
    function that wraps an experiment's task: the engine then calls it as Hydra would)."""
    return task_function if isinstance(task_function, ExperimentTask) else None
