"""An experiment's ``code`` and ``packages`` name what is there, checked before any job runs:
a misspelt file, module or distribution is refused, naming the closest one, where it used to
fail after the job computed (a traceback) or be recorded as version None."""

import pytest

from conftest import run_in, small_project

TASK = """
import hydra

from optsweep import Experiment

DECLARED = Experiment(name="declared", objective="f", code=CODE, packages=PACKAGES)


@hydra.main(config_path="config", config_name="task")
@DECLARED.task
def main(config: dict):
    from solver import solve

    return {"f": solve(config["x"])}


if __name__ == "__main__":
    main()
"""


def project(tmp_path, code, packages):
    source = TASK.replace("CODE", repr(code)).replace("PACKAGES", repr(packages))
    return small_project(
        tmp_path / "declared",
        source,
        "x: 1.0\n",
        {"solver.py": "def solve(x):\n    return x * x\n"},
    )


def run(root, *arguments):
    return run_in(root, root / "task.py", *arguments)


@pytest.mark.parametrize(
    ("code", "packages", "said"),
    [
        (("solvr.py",), (), "code names 'solvr.py', which is no file of the project"),
        (("solvr.py",), (), "did you mean 'solver.py'?"),
        (
            ("solvr",),
            (),
            "code names 'solvr', which is no module that can be imported here; "
            "did you mean 'solver'?",
        ),
        (("solver.yp",), (), "did you mean 'solver.py'?"),
        ((), ("nunpy",), "packages names 'nunpy', which is no installed distribution"),
        ((), ("nunpy",), "did you mean 'numpy'?"),
    ],
)
def test_a_misspelt_declaration_is_refused_before_any_job(tmp_path, code, packages, said):
    root = project(tmp_path, code, packages)
    status, output = run(root, "x=1.0,2.0", "-m")
    assert status == 1, output
    assert "sweep refused before running any job: Experiment 'declared': " in output, output
    assert said in output and "Traceback" not in output
    assert not (root / "results").exists()
    status, output = run(root, "x=3.0")  # a plain run: refused in a line
    assert status == 1 and "refused: Experiment 'declared': " in output and said in output
    assert not (root / "results").exists()


def test_a_right_declaration_runs(tmp_path):
    root = project(tmp_path, ("solver.py",), ("numpy",))
    status, output = run(root, "x=1.0,2.0", "-m")
    assert status == 0, output
    assert "2 jobs: 0 skipped (up to date), 2 ran, 0 failed" in output


def test_a_lone_string_is_refused_when_the_experiment_is_made():
    from optsweep import Experiment

    for field in ("code", "packages"):
        with pytest.raises(ValueError, match=rf"{field}='mc.py', expected a tuple of names"):
            Experiment(name="lone", **{field: "mc.py"})
