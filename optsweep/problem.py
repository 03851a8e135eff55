"""The benchmark problem: the Rosenbrock function and its (seeded) start point."""

import numpy as np
from scipy.optimize import rosen, rosen_der

objective = rosen
gradient = rosen_der


def start_point(x0, seed: int, dim: int, low: float, high: float) -> np.ndarray:
    """``x0`` as given, or, if it is None, a point drawn uniformly from [low, high]^dim.

    The draw comes from a generator seeded by ``seed`` alone, so it is the same on every run.
    """
    if x0 is not None:
        return np.asarray(x0, dtype=float)
    return np.random.default_rng(seed).uniform(low, high, size=dim)
