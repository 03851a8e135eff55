"""Minimize the Rosenbrock function with one scipy optimizer, as the Hydra config says.

    python task.py method=tnc method.options.eta=0.1     # plain tree (config/), one job
    python task.py -cp experiment -m                      # the experiment sweep (experiment/)
"""

import hydra
from omegaconf import DictConfig

import optsweep  # noqa: F401  (registers the resolvers the config trees use)
from optsweep.job import run


# version_base is left out on purpose: Hydra 1.4 deprecates the argument and warns whenever it
# is passed; without it Hydra 1.4 applies its current defaults (no change of working directory).
# The execution whitelist names the only config-given targets Hydra may instantiate.
@hydra.main(config_path="config", config_name="task",
            execution_whitelist=["optsweep.progress.JobEndMarker"])
def main(cfg: DictConfig) -> float:
    return run(cfg)


if __name__ == "__main__":
    main()
