"""Whether a result is current follows what computes it (the task module task.py and
``ROSENBROCK.code``: the objective and the solver call; numpy and scipy): tried on a copy of
the project, so its files can be edited."""

import subprocess
import sys

GRID = ("-cp", "experiment", "settings=tnc", "maxfun=10,20", "-m")


def sweep(copy, *arguments):
    completed = subprocess.run(
        [sys.executable, str(copy / "task.py"), *GRID, *arguments],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout + completed.stderr


def dry_run(copy):
    return sweep(copy, "hydra.sweeper.dry_run=true")


def touch(path):
    path.write_text(path.read_text() + "\n# edited\n")


def test_editing_engine_or_reporting_keeps_results_and_editing_the_solver_does_not(project_copy):
    output = sweep(project_copy)
    assert "2 jobs: 0 skipped (up to date), 2 ran, 0 failed" in output
    assert str(project_copy / "results" / "settings=tnc") in output
    for orchestration in (
        "optsweep/engine/progress.py",
        "optsweep/engine/compose.py",
        "optsweep/engine/sweep.py",
        "optsweep/report/figures.py",
        "hydra_plugins/optsweep_sweeper/checked_experiment_sweeper.py",
        "plots/landscape.py",
        "plots/specs/convergence.yaml",
    ):
        touch(project_copy / orchestration)
    assert "dry run: 2 jobs, 0 would run, 2 would be skipped" in dry_run(project_copy)
    touch(project_copy / "rosenbrock/solve.py")
    assert "dry run: 2 jobs, 2 would run, 0 would be skipped" in dry_run(project_copy)
    assert "2 jobs: 0 skipped (up to date), 2 ran, 0 failed" in sweep(project_copy)
    touch(project_copy / "rosenbrock/problem.py")
    assert dry_run(project_copy).count("run (stale result)") == 2


def test_the_example_figure_script_refuses_stale_results_unless_allowed(project_copy):
    """plots/landscape.py (a figure script) reads through sweep_results: after an edit of the
    solver its results are stale, and the script refuses them as a spec does, naming the file;
    allow_stale=true draws them, with a warning."""
    sweep(project_copy)
    script = [sys.executable, str(project_copy / "plots" / "landscape.py"), "budget=20"]
    script += ["order=[tnc]", f"--results={project_copy / 'results'}"]
    script += [f"--out={project_copy / 'out'}"]

    def draw(*extra):
        return subprocess.run(
            [*script, *extra], cwd=project_copy, capture_output=True, text=True, timeout=300
        )

    assert draw().returncode == 0, draw().stderr
    touch(project_copy / "rosenbrock/solve.py")
    refused = draw()
    assert refused.returncode == 1, refused.stderr
    assert "are stale: their code has changed since (rosenbrock/solve.py (edited))" in (
        refused.stderr
    )
    allowed = draw("allow_stale=true")
    assert allowed.returncode == 0, allowed.stderr
    assert "drawn anyway (allow_stale=true)" in allowed.stderr
