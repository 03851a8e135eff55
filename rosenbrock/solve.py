"""Run one scipy optimizer on the benchmark problem, exactly as a job's config says."""

from typing import TYPE_CHECKING

import numpy as np

from rosenbrock import problem

if TYPE_CHECKING:
    from scipy.optimize import OptimizeResult


class NonFiniteObjective(ArithmeticError):
    """The optimizer ended on a NaN or infinite objective value: not a result to keep."""


def given_options(options: dict) -> dict:
    """The options the config sets; null means "scipy's default", so it is not passed."""
    return {key: value for key, value in options.items() if value is not None}


def solve(config: dict) -> "OptimizeResult":
    """Minimize the objective from ``config["x0"]`` with ``config``'s method.

    ``config`` is a recorded job config (``checks.record``: checked, resolved, plain
    containers, ``x0`` the actual start). Raises ``NonFiniteObjective`` if f ends NaN or inf.
    The result gains ``iterates``: the start, then the point after each iteration (as scipy's
    callback reports it), one row each, so figures draw paths from results alone.
    """
    from scipy.optimize import minimize  # not at import: checks and skips do without scipy

    method = config["method"]
    options = given_options(method["options"])
    jac = problem.gradient if config["jac"] == "exact" else config["jac"]
    keywords = {} if jac is None else {"jac": jac}
    x0 = np.asarray(config["x0"], dtype=float)
    iterates = [x0.copy()]

    def record_iterate(xk, *_):
        # Most methods pass the point, COBYQA an OptimizeResult holding it.
        iterates.append(np.array(getattr(xk, "x", xk), dtype=float, copy=True))

    result = minimize(
        problem.objective,
        x0,
        method=method["name"],
        options=options,
        callback=record_iterate,
        **keywords,
    )
    result.iterates = np.vstack(iterates)
    if not np.isfinite(result.fun):
        raise NonFiniteObjective(
            f"{method['name']} ended with f={result.fun} at x={result.x.tolist()} "
            f"({result.message})"
        )
    return result
