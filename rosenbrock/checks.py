"""The Rosenbrock experiment's job configs: their values checked, and what a result records."""

import math
from numbers import Real
from pathlib import Path

from optsweep.engine.errors import InvalidJobConfig
from rosenbrock.options import InvalidMethodConfig, check_method
from rosenbrock.problem import start_point
from rosenbrock.solve import given_options


class InvalidTaskConfig(InvalidJobConfig):
    """A task key (seed, x0, x0_random) with a value of the wrong kind."""


# The Rosenbrock function of one variable is identically 0: every method would "find" the
# minimum at once. Two variables or more make it the benchmark it is.
MIN_DIMENSION = 2


def _method_files() -> list[str]:
    """The options of the method group: config/method/*.yaml, by name (``lbfgsb``)."""
    directory = Path(__file__).resolve().parents[1] / "config" / "method"
    return sorted(path.stem for path in directory.glob("*.yaml"))


def check_values(config: dict) -> None:
    """Raise ``InvalidTaskConfig`` if a task key holds a value of the wrong kind or one that
    makes the benchmark meaningless; the message names the key and the accepted range."""
    seed = config["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidTaskConfig(f"seed={seed!r} must be a non-negative integer")
    x0 = config["x0"]
    if x0 is not None:
        if not isinstance(x0, list) or not all(_is_number(v) for v in x0):
            raise InvalidTaskConfig(f"x0={x0!r} must be null or a list of numbers")
        if len(x0) < MIN_DIMENSION:
            raise InvalidTaskConfig(
                f"x0={x0!r} has {len(x0)} coordinate(s): it needs {MIN_DIMENSION} or more "
                "(the Rosenbrock function of one variable is identically 0)"
            )
        if not all(math.isfinite(v) for v in x0):
            raise InvalidTaskConfig(f"x0={x0!r} must hold finite numbers (no nan or inf)")
    box = config["x0_random"]
    dim = box["dim"]
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < MIN_DIMENSION:
        raise InvalidTaskConfig(
            f"x0_random.dim={dim!r} must be an integer >= {MIN_DIMENSION} "
            "(the Rosenbrock function of one variable is identically 0)"
        )
    low, high = box["low"], box["high"]
    if not (_is_number(low) and _is_number(high) and math.isfinite(low) and math.isfinite(high)):
        raise InvalidTaskConfig(
            f"x0_random.low={low!r} and x0_random.high={high!r} must be finite numbers"
        )
    if not low < high:
        raise InvalidTaskConfig(f"x0_random.low={low!r} must be less than x0_random.high={high!r}")


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def record(config: dict) -> dict:
    """The checked config a result records: ``config`` with ``x0`` replaced by the start
    actually used (drawn from ``seed`` if null)."""
    method = config.get("method")
    if method is None:
        raise InvalidMethodConfig(
            "no method selected: add method=<name>, where <name> is a file of config/method/ "
            f"({', '.join(_method_files())})"
        )
    check_values(config)
    check_method(method["name"], given_options(method["options"]), config["jac"])
    start = start_point(config["x0"], config["seed"], **config["x0_random"])
    return {**config, "x0": start.tolist()}
