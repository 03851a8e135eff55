"""Minimize the Rosenbrock function with one scipy optimizer, as the Hydra config says.

    python task.py method=tnc method.options.eta=0.1     # plain tree (config/), one job
    python task.py -cp experiment -m                      # the experiment sweep (experiment/)

The task computes one result from a job's checked, recorded config; ``@ROSENBROCK.task`` makes
it a Hydra task function that checks the job, skips it if its result is current, saves the
result with its provenance and returns f (see optsweep/engine/experiment.py).
"""

from typing import TYPE_CHECKING

import hydra

from rosenbrock import ROSENBROCK
from rosenbrock.solve import solve

if TYPE_CHECKING:  # scipy.optimize is imported only when a job runs
    from scipy.optimize import OptimizeResult


# version_base is left out on purpose: Hydra 1.4 deprecates the argument and warns whenever it
# is passed; without it Hydra 1.4 applies its current defaults (no change of working directory).
@hydra.main(config_path="config", config_name="task")
@ROSENBROCK.task
def main(config: dict) -> "OptimizeResult":
    return solve(config)


if __name__ == "__main__":
    main()
