"""experiment/settings/tnc.yaml: TNC with eta=0.5, budget maxfun."""

from benchmark_utils.scipy_solver import ScipySolver


class Solver(ScipySolver):
    name = "tnc"
    METHOD = "TNC"
    BUDGET_OPTION = "maxfun"
    OPTIONS = {"eta": 0.5}
