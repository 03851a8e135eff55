"""The generic sweep engine. What an experiment writes to use it: ``experiment.Experiment``.

Modules, in the order a sweep uses them:
- ``experiment``: the interface an experiment implements, and its task function;
- ``keys``: which keys a job config may have;
- ``compose``: job configs from per-setting templates; ``resolve``: their resolution by family;
- ``plan``: every job checked before any runs; ``store``: result files (where, current, save,
  load); ``job``: one job; ``runner``: a list of jobs in this process;
- ``sweep``: the ``checked_experiment`` sweeper; ``search``: nevergrad searches;
- ``progress``, ``provenance``, ``files``, ``paths``, ``trust``: what they say;
- ``internals``: every use of a private Hydra/OmegaConf/plugin API.
"""
