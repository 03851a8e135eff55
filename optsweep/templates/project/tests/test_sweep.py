"""Tiny real sweeps of this project, as `make sweep` runs them, with every output in a
temporary directory: results are written and reproduce, a rerun skips them, a misspelt key
is refused before any job runs, the search maximizes, the figure is drawn."""

import os
import subprocess
import sys
from pathlib import Path

from optsweep.engine.store import ResultStore, result_files

import task
import toy

PROJECT = Path(task.__file__).resolve().parent


def run(*arguments: str, workdir: Path, check: bool = True) -> str:
    """``python task.py ARGUMENTS`` from ``workdir``, results and Hydra's logs there; returns
    what it printed."""
    command = [
        sys.executable,
        str(PROJECT / "task.py"),
        *arguments,
        f"output.dir={workdir / 'results'}",
        f"hydra.run.dir={workdir / 'run'}",
        f"hydra.sweep.dir={workdir / 'multirun'}",
    ]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, env=environment, timeout=600
    )
    output = done.stdout + done.stderr
    assert not check or done.returncode == 0, output
    return output


# Every settings file is a setting of the sweep (settings: glob(*)): adding one adds jobs.
SETTINGS = sorted(path.stem for path in (PROJECT / "experiment" / "settings").glob("*.yaml"))


def test_a_tiny_sweep_writes_results_that_reproduce_and_a_rerun_skips_them(tmp_path):
    jobs = 2 * len(SETTINGS)  # each setting at two budgets
    output = run("-cp", "experiment", "budget=1,3", "seed=0", "-m", workdir=tmp_path)
    assert f"{jobs} jobs: 0 skipped (up to date), {jobs} ran, 0 failed" in output
    files = result_files(tmp_path / "results")
    assert len(files) == jobs
    store = ResultStore(task.EXPERIMENT)
    for path in files:
        record = store.load(path)
        assert record["result"] == toy.run(record["config"]), "seeded: computed again exactly"
    rerun = run("-cp", "experiment", "budget=1,3", "seed=0", "-m", workdir=tmp_path)
    assert f"{jobs} jobs: {jobs} skipped (up to date), 0 ran, 0 failed" in rerun


def test_a_misspelt_key_is_refused_before_any_job_runs(tmp_path):
    output = run(
        "-cp", "experiment", "budget=1", "+model.epoch=3", "-m", workdir=tmp_path, check=False
    )
    assert "sweep refused before running any job" in output and "model.epochs" in output
    assert not (tmp_path / "results").exists()


def test_a_bad_value_is_refused_before_any_job_runs(tmp_path):
    output = run("-cp", "experiment", "budget=3,0", "seed=0", "-m", workdir=tmp_path, check=False)
    assert "sweep refused before running any job" in output
    assert "model.max_iter=0 must be a positive integer" in output
    assert not (tmp_path / "results").exists()


def test_the_search_optimizes_the_objective_in_its_direction(tmp_path):
    output = run(
        "-cp",
        "experiment",
        "search=logistic",
        "hydra.sweeper.search.optim.budget=4",
        "hydra.sweeper.search.optim.num_workers=2",
        "-m",
        workdir=tmp_path,
    )
    experiment = task.EXPERIMENT
    aim = f"{'maximizing' if experiment.maximize else 'minimizing'} {experiment.objective}"
    assert f"Search NGOpt {aim}" in output
    store = ResultStore(experiment)
    files = result_files(tmp_path / "results")
    values = [store.load(path)["result"][experiment.objective] for path in files]
    assert len(values) == 4
    best = max(values) if experiment.maximize else min(values)
    assert f"Best evaluated ({aim}): {best!r}" in output


def test_the_figure_is_drawn_from_the_results(tmp_path):
    run("-cp", "experiment", "budget=1,3", "seed=0,1", "-m", workdir=tmp_path)
    spec = PROJECT / "plots" / "specs" / "accuracy.yaml"
    command = [sys.executable, "-m", "optsweep.cli", "plot", str(tmp_path / "results")]
    command += ["--spec", str(spec), "--out", str(tmp_path / "plots")]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {"accuracy.pdf", "accuracy.png"}
