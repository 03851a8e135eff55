"""Sweeper, launcher and search settings that mean nothing are refused before anything runs,
naming the key and its range (a search of 0 workers used to ask for empty batches forever)."""

import subprocess

import pytest

from conftest import QUADRATIC, run_task, task_command

TASK = QUADRATIC / "task.py"


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("hydra.sweeper.job_timeout=-1", "hydra.sweeper.job_timeout=-1.0: a time limit is"),
        ("hydra.sweeper.job_timeout=0", "hydra.sweeper.job_timeout=0.0: a time limit is"),
        ("hydra.sweeper.chunk_size=0", "hydra.sweeper.chunk_size=0: must be >= 1"),
        ("hydra.sweeper.max_array_size=0", "hydra.sweeper.max_array_size=0: must be >= 1"),
        ("hydra.launcher.n_jobs=0", "hydra.launcher.n_jobs=0: a pool needs workers"),
    ],
)
def test_a_meaningless_sweep_setting_is_refused_before_any_job(tmp_path, setting, said):
    arguments = ["-cp", "experiment", setting, "-m"]
    if "launcher" in setting:
        arguments.insert(2, "hydra/launcher=joblib")
    refused = run_task(*arguments, workdir=tmp_path, script=TASK, check=False)
    assert refused.returncode != 0
    assert "sweep refused before running any job" in refused.output and said in refused.output
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("hydra.sweeper.optim.num_workers=0", "optim.num_workers=0: evaluations asked at once"),
        ("hydra.sweeper.optim.num_workers=-2", "optim.num_workers=-2: evaluations asked at once"),
        ("hydra.sweeper.optim.budget=0", "optim.budget=0: evaluations, an integer >= 1"),
        ("hydra.sweeper.optim.max_failure_rate=2", "optim.max_failure_rate=2.0: a share"),
    ],
)
def test_a_meaningless_search_is_refused_before_any_evaluation(tmp_path, setting, said):
    refused = run_task(
        "hydra/sweeper=checked_nevergrad",
        "scale=unit",
        "rate=interval(0.01,0.4)",
        setting,
        "-m",
        workdir=tmp_path,
        script=TASK,
        check=False,
    )
    assert refused.returncode != 0
    assert "search refused before any evaluation" in refused.output and said in refused.output
    assert "Launching" not in refused.output


def test_a_sweep_dir_that_cannot_be_written_is_refused_in_a_line(tmp_path):
    command = task_command("-cp", "experiment", "-m", workdir=tmp_path, script=TASK)
    command.append("hydra.sweep.dir=/proc/optsweep-no-such-dir")  # after the test's own
    refused = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "hydra.sweep.dir /proc/optsweep-no-such-dir cannot be written" in output
    assert "Traceback" not in output
    assert not (tmp_path / "results").exists()
