"""Whether a result is current follows what computes it (``ROSENBROCK.code``: task.py, the
objective and the solver call, numpy and scipy): tried on a copy of the project, so its files
can be edited."""

import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

GRID = ("-cp", "experiment", "settings=tnc", "maxfun=10,20", "-m")


@pytest.fixture
def project_copy(tmp_path):
    """The project's files (tracked, or new and not ignored), copied: ``python
    <copy>/task.py`` imports the copy's optsweep and sweeper plugin (the script's directory
    comes first on sys.path)."""
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    copy = tmp_path / "project"
    for name in tracked:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


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
        "plots/convergence.py",
    ):
        touch(project_copy / orchestration)
    assert "dry run: 2 jobs, 0 would run, 2 would be skipped" in dry_run(project_copy)
    touch(project_copy / "optsweep/rosenbrock/solve.py")
    assert "dry run: 2 jobs, 2 would run, 0 would be skipped" in dry_run(project_copy)
    assert "2 jobs: 0 skipped (up to date), 2 ran, 0 failed" in sweep(project_copy)
    touch(project_copy / "optsweep/rosenbrock/problem.py")
    assert dry_run(project_copy).count("run (stale result)") == 2
