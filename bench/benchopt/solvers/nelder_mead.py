"""experiment/settings/nelder-mead.yaml: Nelder-Mead, budget maxfev."""

from benchmark_utils.scipy_solver import ScipySolver


class Solver(ScipySolver):
    name = "nelder-mead"
    METHOD = "Nelder-Mead"
    BUDGET_OPTION = "maxfev"
