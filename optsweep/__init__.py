"""Shared code of the optimizer-comparison project: one module per job.

Importing the package registers the ``project_path`` resolver that the config trees use,
so that every path in them is tied to the project, not to the shell's working directory.
"""

from optsweep.paths import register_resolvers

register_resolvers()
