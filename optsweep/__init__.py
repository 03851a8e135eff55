"""Reproducible Hydra sweeps, in three parts:

- ``optsweep.engine``: the generic sweep engine (expand and check a sweep, compose jobs, run
  them, the result store, resume, progress, searches); it knows no objective or solver.
- ``rosenbrock``: the example experiment (scipy optimizers on the Rosenbrock function),
  handed to the engine as one ``Experiment`` value.
- ``optsweep.report``: figures, tables and exports made from the example's results.

Importing the package registers the ``project_path`` and ``run_id`` resolvers that the config
trees use, so that every path in them is tied to the project, not to the shell's working
directory.
"""

from optsweep.engine.paths import register_resolvers

register_resolvers()
