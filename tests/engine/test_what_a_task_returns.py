"""A job whose task does not return a result to keep fails, and the sweep goes on and says so.

A task (or a library it calls) that calls ``sys.exit()`` used to end the whole sweep with that
status (0 for ``sys.exit(0)``) and no summary, the remaining jobs never run. A task returning
``None``, a string, or a mapping without the experiment's declared objective was saved as a
success in a grid (a search failed it). Each now fails its job, nothing is saved for it, the
other jobs run, and the sweep ends with its summary and a non-zero status; a plain run says so
in a line.
"""

import subprocess
import sys
import textwrap

import pytest

TASK = """
import sys

import hydra
import numpy as np

from optsweep import Experiment

RETURNS = Experiment(name="returns", objective="f")
MISNAMED = Experiment(name="misnamed", objective="f_valeu")


@hydra.main(config_path="config", config_name="task")
@RETURNS.task
def main(config: dict):
    kind = config["kind"]
    if kind == "exit0":
        sys.exit(0)
    if kind == "exit3":
        sys.exit(3)
    return {
        "ok": {"f": 1.0},
        "none": None,
        "text": "done",
        "other": {"g": 2.0},
        "bool": {"f": True},
        "array": {"f": np.array([1.0])},
        "word": {"f": "bad"},
        "list": {"f": [1.0]},
        "misnamed": {"f_value": 1.0, "nfev": 3},
    }[kind]


if __name__ == "__main__":
    main()
"""

KINDS = "ok,exit0,exit3,none,text,other"


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "returns"
    (root / "config").mkdir(parents=True)
    (root / "config" / "task.yaml").write_text(
        textwrap.dedent(
            """
            defaults:
              - override hydra/sweeper: checked_experiment
              - _self_
            kind: ok
            seed: 0
            """
        )
    )
    (root / "task.py").write_text(TASK)
    return root


def run(project, *arguments):
    completed = subprocess.run(
        [sys.executable, str(project / "task.py"), *arguments],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return completed.returncode, completed.stdout + completed.stderr


@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]])
def test_a_task_that_exits_or_returns_no_objective_fails_its_job_only(project, launcher):
    code, output = run(project, f"kind={KINDS}", *launcher, "-m")
    assert code == 1, output
    assert "6 jobs: 0 skipped (up to date), 1 ran, 5 failed" in output
    for said in (
        "TaskExited: the task raised SystemExit(0) (sys.exit) instead of returning a result",
        "TaskExited: the task raised SystemExit(3)",
        "objective='f', but the task returned a NoneType",
        "objective='f', but the task returned a str",
        "objective='f', but the task returned a mapping with keys 'g'",
    ):
        assert said in output, output
    assert sorted(p.name for p in (project / "results").rglob("*.pkl")) == ["kind=ok.pkl"]


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("exit0", "failed: the task raised SystemExit(0) (sys.exit) instead of returning"),
        ("none", "failed: experiment 'returns': objective='f', but the task returned a NoneType"),
    ],
)
def test_a_plain_run_says_why_in_a_line(project, kind, said):
    code, output = run(project, f"kind={kind}")
    assert code == 1, output
    assert said in output and "Traceback" not in output
    assert not (project / "results").exists() or not list((project / "results").rglob("*.pkl"))


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("bool", "the task's objective 'f' is a bool (True), not a number"),
        ("array", "the task's objective 'f' is a ndarray (array([1.])), not a number"),
        ("word", "the task's objective 'f' is a str ('bad'), not a number"),
        ("list", "the task's objective 'f' is a list ([1.0]), not a number"),
    ],
)
def test_an_objective_that_is_no_number_fails_its_job_and_says_what_it_is(project, kind, said):
    code, output = run(project, f"kind=ok,{kind}", "-m")
    assert code == 1, output
    assert "2 jobs: 0 skipped (up to date), 1 ran, 1 failed" in output
    assert said in output, output
    assert sorted(p.name for p in (project / "results").rglob("*.pkl")) == ["kind=ok.pkl"]


@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]])
def test_a_misnamed_objective_stops_the_sweep_after_the_first_job(project, launcher):
    # No job has returned the declared objective: each later job would compute in vain.
    task = project / "task.py"
    task.write_text(task.read_text().replace("@RETURNS.task", "@MISNAMED.task"))
    code, output = run(project, "kind=misnamed", "seed=range(0,8)", *launcher, "-m")
    assert code == 1, output
    assert (
        "objective='f_valeu', but the task returned a mapping with keys 'f_value', 'nfev' "
        "(did you mean objective='f_value'?)" in output
    ), output
    summary = output[output.index("8 jobs:") :]
    ran = 1 if not launcher else 2  # one job a chunk
    assert f"0 ran, {ran} failed, {8 - ran} not started" in summary, summary
    assert "which every later job would hit too" in summary
    assert not (project / "results").exists() or not list((project / "results").rglob("*.pkl"))


def test_a_search_whose_objective_is_misnamed_stops_after_its_first_batch(project):
    task = project / "task.py"
    task.write_text(
        task.read_text()
        .replace("@RETURNS.task", "@MISNAMED.task")
        .replace('"misnamed": {"f_value": 1.0, "nfev": 3}', '"misnamed": {"f_value": config["x"]}')
    )
    config = project / "config" / "task.yaml"
    config.write_text(config.read_text().replace("seed: 0", "seed: 0\nx: 0.5"))
    code, output = run(
        project, "hydra/sweeper=checked_nevergrad", "kind=misnamed", "x=interval(0, 1)",
        "hydra.sweeper.optim.budget=12", "hydra.sweeper.optim.num_workers=2", "-m",
    )  # fmt: skip
    assert code == 1, output
    assert "no evaluation returned the objective the experiment declares" in output, output
    assert "did you mean objective='f_value'?" in output
    assert output.count("\t#") == 1, output  # one evaluation computed, not the budget
