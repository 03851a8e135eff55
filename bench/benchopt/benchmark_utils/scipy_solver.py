"""What the three solvers share: one ``scipy.optimize.minimize`` call per budget.

benchopt's ``iteration`` sampling strategy calls ``run(stop_val)`` afresh for each stop value;
``Budgets`` makes those stop values the sweep's budgets, ``maxfun`` in range(10, 151, 10)
(experiment/task.yaml), so each (solver, budget, repetition) is one benchopt run and one
minimize call, as each (setting, maxfun, seed) is one job of the project's sweep.
"""

from benchopt import BaseSolver
from benchopt.stopping_criterion import StoppingCriterion
from scipy import optimize

FIRST_BUDGET, LAST_BUDGET, BUDGET_STEP = 10, 150, 10


class Budgets(StoppingCriterion):
    """Stop values FIRST_BUDGET, FIRST_BUDGET + BUDGET_STEP, ..., LAST_BUDGET, then stop;
    no stop for lack of progress (the sweep runs every budget)."""

    # benchopt re-creates the criterion with these keyword arguments (get_runner_instance).
    def __init__(self, strategy="iteration", key_to_monitor=None, minimize=True):
        super().__init__(strategy=strategy, key_to_monitor=key_to_monitor, minimize=minimize)

    def init_stop_val(self):
        return FIRST_BUDGET

    def get_next_stop_val(self, stop_val):
        return stop_val + BUDGET_STEP

    def check_convergence(self, objective_list):
        return objective_list[-1]["stop_val"] >= LAST_BUDGET, 0


class ScipySolver(BaseSolver):
    """``minimize(fun, x0, method=METHOD, options={BUDGET_OPTION: budget, **OPTIONS}, jac=JAC)``
    with the options of one experiment/settings/ file (JAC None: not passed)."""

    sampling_strategy = "iteration"
    stopping_criterion = Budgets()
    requirements = ["pip::scipy"]

    METHOD: str
    BUDGET_OPTION: str
    OPTIONS: dict = {}
    JAC: str | None = None

    def set_objective(self, fun, x0):
        self.fun, self.x0 = fun, x0

    def run(self, budget):
        keywords = {} if self.JAC is None else {"jac": self.JAC}
        options = {self.BUDGET_OPTION: budget, **self.OPTIONS}
        self.result = optimize.minimize(
            self.fun, self.x0, method=self.METHOD, options=options, **keywords
        )

    def get_result(self):
        result = self.result
        return dict(fun=float(result.fun), nfev=int(result.nfev), nit=int(result.nit))
