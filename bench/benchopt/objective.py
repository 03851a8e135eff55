"""The benchopt side of bench/benchopt_bench.py: scipy's Rosenbrock function from a start point.

Each run records the result's f, nfev and nit (``objective_value``, ``objective_nfev``,
``objective_nit`` in benchopt's result file), the numbers the bench compares with the project's
results. Run by bench/benchopt_bench.py, which says how the two sides correspond.
"""

from benchopt import BaseObjective
from scipy.optimize import rosen


class Objective(BaseObjective):
    name = "rosenbrock"
    min_benchopt_version = "1.10"
    requirements = ["pip::scipy"]

    def set_data(self, x0):
        self.x0 = x0

    def get_objective(self):
        return dict(fun=rosen, x0=self.x0)

    def evaluate_result(self, fun, nfev, nit):
        # f as scipy returns it (result.fun), as the project records it; not recomputed.
        return dict(value=fun, nfev=nfev, nit=nit)

    def get_one_result(self):
        return dict(fun=float(rosen(self.x0)), nfev=1, nit=0)
