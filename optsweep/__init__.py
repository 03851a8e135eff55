"""Reproducible Hydra experiment sweeps: strict checks before launch, resume, packed launches,
searches, open results and reports, for any Hydra project.

- ``optsweep.Experiment``: what a project hands the engine (``@EXPERIMENT.task`` on its Hydra
  task function); every field but the name has a default;
- ``optsweep.engine``: the generic sweep engine (expand and check a sweep, compose jobs, run
  them, the result store, resume, progress, searches); it knows no objective or solver;
- ``optsweep.report``: tables, figures, exports and comparisons of any experiment's results;
- ``optsweep.cli``: the ``optsweep`` command (``optsweep new``, ``plot``, ``table``, ...).

Importing the package registers the ``project_path`` and ``run_id`` resolvers that config trees
use, so that every path in them is tied to the project, not to the shell's working directory.
"""

from typing import TYPE_CHECKING

from optsweep.engine.errors import InvalidJobConfig
from optsweep.engine.paths import register_resolvers

if TYPE_CHECKING:
    from optsweep.engine.experiment import Experiment

__all__ = ["Experiment", "InvalidJobConfig"]

register_resolvers()


def __getattr__(name: str):
    """``optsweep.Experiment``, imported when first used: the reporting commands, which read
    results of any experiment, do not pay for Hydra's import."""
    if name == "Experiment":
        from optsweep.engine.experiment import Experiment

        return Experiment
    raise AttributeError(f"module 'optsweep' has no attribute {name!r}")
