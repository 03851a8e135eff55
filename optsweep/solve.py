"""Run one scipy optimizer on the benchmark problem, exactly as a job's config says."""

import numpy as np
from scipy.optimize import OptimizeResult, minimize

from optsweep import problem
from optsweep.options import check_method


def given_options(options: dict) -> dict:
    """The options the config sets; null means "scipy's default", so it is not passed."""
    return {key: value for key, value in options.items() if value is not None}


def solve(config: dict) -> tuple[OptimizeResult, np.ndarray]:
    """Minimize the objective with ``config``'s method; return scipy's result and the start.

    ``config`` is a resolved job config as plain containers (see ``results.recorded_config``).
    """
    method = config["method"]
    options = given_options(method["options"])
    check_method(method["name"], options, config["jac"])
    x0 = problem.start_point(config["x0"], config["seed"], **config["x0_random"])
    jac = problem.gradient if config["jac"] == "exact" else config["jac"]
    keywords = {} if jac is None else {"jac": jac}
    result = minimize(problem.objective, x0, method=method["name"], options=options, **keywords)
    return result, x0
