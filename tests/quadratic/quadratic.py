"""A second, tiny experiment on the same engine: gradient descent on a scaled quadratic.

It proves the engine reusable: nothing in optsweep.engine knows it. What it writes is what a
researcher writes for their own experiment (docs/your-experiment.md): this
``Experiment`` value, a task function (task.py) and two config trees (config/, experiment/).
"""

from pathlib import Path

import numpy as np

from optsweep.engine.experiment import Experiment, InvalidJobConfig

HERE = Path(__file__).resolve().parent


def record(config: dict) -> dict:
    """The checked config a result records, with the start point drawn from the seed."""
    if config.get("scale") is None:
        raise InvalidJobConfig("no scale selected: add scale=<name> (config/scale/)")
    steps, factor = config["steps"], config["scale"]["factor"]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InvalidJobConfig(f"steps={steps!r} must be a positive integer")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
        raise InvalidJobConfig(f"scale.factor={factor!r} must be a positive number")
    start = np.random.default_rng(config["seed"]).uniform(-1, 1, size=config["dim"])
    return {**config, "start": start.tolist()}


def descend(config: dict) -> dict:
    """``steps`` gradient steps on f(x) = factor * |x|^2 from ``start``."""
    factor, rate = config["scale"]["factor"], config["rate"]
    x = np.asarray(config["start"], dtype=float)
    for _ in range(config["steps"]):
        x = x - rate * 2 * factor * x
    return {"f": float(factor * x @ x), "x": x}


QUADRATIC = Experiment(
    name="quadratic",
    task_config=HERE / "config" / "task.yaml",
    group_keys={"scale": frozenset({"factor"})},
    record=record,
    value=lambda result: result["f"],
    scalars=lambda result: {"f": result["f"]},
    describe=lambda config, result: f"steps={config['steps']}: f={result['f']:.4g}",
    code=(str(HERE / "quadratic.py"), str(HERE / "task.py")),
    packages=("numpy",),
    result_groups=("settings", "scale"),
)
