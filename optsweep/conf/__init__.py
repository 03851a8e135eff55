"""The engine's own Hydra configs, on every app's search path (``pkg://optsweep.conf``):
``optsweep_engine.yaml`` (what every experiment's config gets: ``output``, the progress
callback, run and sweep dirs in the project) and the ``tracker`` group (MLflow, W&B)."""
