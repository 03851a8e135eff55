"""experiment/settings/lbfgsb.yaml: L-BFGS-B, 2-point gradient with eps=1e-3, budget maxfun."""

from benchmark_utils.scipy_solver import ScipySolver


class Solver(ScipySolver):
    name = "lbfgsb"
    METHOD = "L-BFGS-B"
    BUDGET_OPTION = "maxfun"
    OPTIONS = {"eps": 1e-3}
    JAC = "2-point"
