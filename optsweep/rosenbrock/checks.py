"""The Rosenbrock experiment's job configs: their values checked, and what a result records."""

from numbers import Real

from optsweep.engine.errors import InvalidJobConfig
from optsweep.rosenbrock.options import SOLVERS, InvalidMethodConfig, check_method
from optsweep.rosenbrock.problem import start_point
from optsweep.rosenbrock.solve import given_options


class InvalidTaskConfig(InvalidJobConfig):
    """A task key (seed, x0, x0_random) with a value of the wrong kind."""


def check_values(config: dict) -> None:
    """Raise ``InvalidTaskConfig`` if the task's own keys hold values of the wrong kind."""
    seed = config["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidTaskConfig(f"seed={seed!r} must be a non-negative integer")
    x0 = config["x0"]
    if x0 is not None and (
        not isinstance(x0, list)
        or not x0
        or not all(isinstance(v, Real) and not isinstance(v, bool) for v in x0)
    ):
        raise InvalidTaskConfig(f"x0={x0!r} must be null or a non-empty list of numbers")
    box = config["x0_random"]
    if not (
        isinstance(box["dim"], int)
        and box["dim"] > 0
        and isinstance(box["low"], Real)
        and isinstance(box["high"], Real)
        and box["low"] < box["high"]
    ):
        raise InvalidTaskConfig(
            f"x0_random={box!r} must have an integer dim > 0 and numbers low < high"
        )


def record(config: dict) -> dict:
    """The checked config a result records: ``config`` with ``x0`` replaced by the start
    actually used (drawn from ``seed`` if null)."""
    method = config.get("method")
    if method is None:
        raise InvalidMethodConfig(
            "no method selected: add method=<name>, one of the files in config/method/ "
            f"(scipy methods supported: {', '.join(sorted(SOLVERS))})"
        )
    check_values(config)
    check_method(method["name"], given_options(method["options"]), config["jac"])
    start = start_point(config["x0"], config["seed"], **config["x0_random"])
    return {**config, "x0": start.tolist()}
