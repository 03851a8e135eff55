"""The benchmark problem: the Rosenbrock function and its (seeded) start point."""

import numpy as np

# scipy.optimize's implementations, imported on first use (see ``__getattr__``).
_FROM_SCIPY = {"objective": "rosen", "gradient": "rosen_der"}


def __getattr__(name: str):
    """``objective`` and ``gradient``: scipy's ``rosen`` and ``rosen_der``. Imported when first
    used, so that checking or skipping jobs does not import scipy.optimize (a quarter of a
    second)."""
    if name not in _FROM_SCIPY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import scipy.optimize

    value = globals()[name] = getattr(scipy.optimize, _FROM_SCIPY[name])
    return value


def start_point(x0, seed: int, dim: int, low: float, high: float) -> np.ndarray:
    """``x0`` as given, or, if it is None, a point drawn uniformly from [low, high]^dim.

    The draw comes from a generator seeded by ``seed`` alone, so it is the same on every run.
    """
    if x0 is not None:
        return np.asarray(x0, dtype=float)
    return np.random.default_rng(seed).uniform(low, high, size=dim)
