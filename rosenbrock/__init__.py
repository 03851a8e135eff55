"""The example experiment: scipy optimizers on the Rosenbrock function.

``ROSENBROCK`` is what this experiment hands the sweep engine (``optsweep.engine.Experiment``);
task.py's task function is ``solve.solve``, decorated with ``@ROSENBROCK.task``.
"""

from pathlib import Path

from optsweep.engine.experiment import Experiment
from rosenbrock.checks import record


def _value(result) -> float:
    return float(result.fun)


def _scalars(result) -> dict:
    return {
        "fun": float(result.fun),
        "nfev": int(result.get("nfev", -1)),
        "nit": int(result.get("nit", -1)),
        "success": bool(result.success),
        "status": int(result.status),
        "message": str(result.message),
    }


def _describe(config: dict, result) -> str:
    return f"{config['method']['name']}: f={result.fun:.6g} after {result.nfev} evaluations"


# The example project: the folder holding this package, task.py and the config trees.
PROJECT = Path(__file__).resolve().parents[1]

ROSENBROCK = Experiment(
    name="rosenbrock",
    task_config=PROJECT / "config" / "task.yaml",
    group_keys={"method": frozenset({"name", "options"})},
    record=record,
    value=_value,
    scalars=_scalars,
    describe=_describe,
    # What computes a result: the task function, the objective and start point, the solver
    # call. (Option tables and checks decide whether a job may run, not its numbers; a change
    # to the recorded config changes each result's fingerprint by itself.)
    code=("rosenbrock.problem", "rosenbrock.solve"),
    packages=("numpy", "scipy"),
    # solve.py imports scipy.optimize when a job runs (a rerun of current results, or the
    # checks, never need it): a pool's workers import it while the sweep is checked.
    imports=("scipy.optimize",),
    result_types=frozenset(
        {
            ("scipy.optimize._optimize", "OptimizeResult"),
            ("scipy.optimize._lbfgsb_py", "LbfgsInvHessProduct"),
        }
    ),
    result_groups=("search", "settings", "method"),
)
