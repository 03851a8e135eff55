"""Run one scipy optimizer on the benchmark problem, exactly as a job's config says."""

import numpy as np
from scipy.optimize import OptimizeResult, minimize

from optsweep import problem
from optsweep.options import check_method


class NonFiniteObjective(ArithmeticError):
    """The optimizer ended on a NaN or infinite objective value: not a result to keep."""


def given_options(options: dict) -> dict:
    """The options the config sets; null means "scipy's default", so it is not passed."""
    return {key: value for key, value in options.items() if value is not None}


def solve(config: dict) -> OptimizeResult:
    """Minimize the objective from ``config["x0"]`` with ``config``'s method.

    ``config`` is a recorded job config (``results.with_start_point``): resolved, plain
    containers, ``x0`` the actual start. Raises ``NonFiniteObjective`` if f ends NaN or inf.
    """
    method = config["method"]
    options = given_options(method["options"])
    check_method(method["name"], options, config["jac"])
    jac = problem.gradient if config["jac"] == "exact" else config["jac"]
    keywords = {} if jac is None else {"jac": jac}
    result = minimize(problem.objective, np.asarray(config["x0"], dtype=float),
                      method=method["name"], options=options, **keywords)
    if not np.isfinite(result.fun):
        raise NonFiniteObjective(
            f"{method['name']} ended with f={result.fun} at x={result.x.tolist()} "
            f"({result.message})"
        )
    return result
