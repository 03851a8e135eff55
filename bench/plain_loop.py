"""Baseline for bench/sweep_bench.py: the sweep's minimize calls in a plain Python loop.

    python bench/plain_loop.py JOBS

The same methods, options, start point and budgets as `python task.py -cp experiment -m`
(repeated JOBS / 45 times, as the seed sweep repeats them), with nothing else: no Hydra, no
checks, no files.
"""

import sys

import numpy as np
from scipy.optimize import minimize, rosen

SETTINGS: tuple[
    tuple[str, str, dict, str | None], ...
] = (  # (method, budget option, fixed options, jac) as in experiment/settings/
    ("L-BFGS-B", "maxfun", {"eps": 1e-3}, "2-point"),
    ("Nelder-Mead", "maxfev", {}, None),
    ("TNC", "maxfun", {"eta": 0.5}, None),
)


def main(jobs: int) -> None:
    x0 = np.array([-0.5, -0.5])
    for _ in range(jobs // 45):
        for method, budget, fixed, jac in SETTINGS:
            for maxfun in range(10, 151, 10):
                keywords = {} if jac is None else {"jac": jac}
                minimize(rosen, x0, method=method, options={budget: maxfun, **fixed}, **keywords)


if __name__ == "__main__":
    main(int(sys.argv[1]))
