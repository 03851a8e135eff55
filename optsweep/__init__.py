"""Reproducible Hydra sweeps. A project of one's own needs only ``Experiment``::

    from optsweep import Experiment

The package, in parts:

- ``optsweep.engine``: the generic sweep engine (expand and check a sweep, compose jobs, run
  them, the result store, resume, progress, searches); it knows no objective or solver.
- ``optsweep.report``: figures, tables and exports made from any experiment's results.
- ``optsweep.cli``: the ``optsweep`` command (``optsweep new DIR`` writes a working project).

Importing the package registers the ``project_path`` and ``run_id`` resolvers that the config
trees use, so that every path in them is tied to the project, not to the shell's working
directory.
"""

from optsweep.engine.experiment import Experiment, InvalidJobConfig
from optsweep.engine.paths import register_resolvers

__all__ = ["Experiment", "InvalidJobConfig"]

register_resolvers()
