"""Detached SLURM sweeps (hydra.sweeper.detach=true) and array tasks that die, on the real test
cluster: submit and return; the same command again submits nothing in flight, waits for it with
the plain command, then finds everything up to date; a cancelled task's jobs run again."""

import json
import subprocess
import time

import pytest

from conftest import run_task, slurm_tasks_end, task_command
from optsweep.report.table import result_files

# Nelder-Mead in 1,000 dimensions: maxfun=10 and 20 end at once, 3000 takes seconds, 10**9
# practically never ends.
SLOW = ("settings=nelder-mead", "x0=null", "x0_random.dim=1000")
ONE_TASK = ("launcher=slurm", "hydra.sweeper.chunk_size=3")  # the jobs in one array task


def submissions(tmp_path):
    return sorted((tmp_path / "results" / ".submitted").glob("*.json"))


def wait_for_results(tmp_path, count, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (tmp_path / "results").exists() and len(result_files(tmp_path / "results")) >= count:
            return
        time.sleep(0.2)
    pytest.fail(f"fewer than {count} results after {seconds} s")


def test_detach_submits_and_returns_then_the_same_command_waits_and_finds_it_done(
    slurm_cluster, tmp_path
):
    grid = ("-cp", "experiment", *SLOW, "maxfun=10,20,3000", *ONE_TASK)
    detached = run_task(*grid, "hydra.sweeper.detach=true", "-m", workdir=tmp_path)
    assert "3 jobs: 0 skipped (up to date), 3 submitted as SLURM job " in detached.output
    assert "squeue -j " in detached.output and "hydra.sweeper.detach=false" in detached.output
    [record] = submissions(tmp_path)
    array = json.loads(record.read_text())["array"]
    assert len(result_files(tmp_path / "results")) < 3, "detach waited for the jobs"

    again = run_task(*grid, "hydra.sweeper.detach=true", "-m", workdir=tmp_path)
    assert f"in flight in SLURM job {array}, submitted by an earlier sweep" in again.output
    assert "0 submitted, " in again.output and "Submitted" not in again.output
    assert submissions(tmp_path) == [record]

    dry = run_task(*grid, "hydra.sweeper.dry_run=true", "-m", workdir=tmp_path)
    assert f"wait (in flight, SLURM {array}" in dry.output
    assert "in flight on SLURM; nothing was run" in dry.output

    followed = run_task(*grid, "-m", workdir=tmp_path)
    assert "waiting for them" in followed.output and "Submitted" not in followed.output
    assert "3 jobs: " in followed.output and ", 0 failed" in followed.output
    assert len(result_files(tmp_path / "results")) == 3
    assert submissions(tmp_path) == []
    rerun = run_task(*grid, "-m", workdir=tmp_path)
    assert "3 jobs: 3 skipped (up to date), 0 ran, 0 failed" in rerun.output


def test_jobs_of_a_cancelled_detached_task_run_again(slurm_cluster, tmp_path):
    grid = ("-cp", "experiment", *SLOW, "maxfun=10,20,1000000000", *ONE_TASK)
    run_task(*grid, "hydra.sweeper.detach=true", "-m", workdir=tmp_path)
    wait_for_results(tmp_path, 2)
    [record] = submissions(tmp_path)
    subprocess.run(["scancel", json.loads(record.read_text())["array"]], check=True)
    assert slurm_tasks_end(tmp_path)
    rerun = run_task(*grid, "hydra.sweeper.job_timeout=3", "-m", workdir=tmp_path, check=False)
    assert "has ended; its logs:" in rerun.output
    assert "Submitted 1 jobs as 1 array tasks" in rerun.output
    assert "3 jobs: 2 skipped (up to date), 0 ran, 1 failed" in rerun.output
    assert "JobTimeout: job [settings=nelder-mead maxfun=1000000000" in rerun.output
    assert submissions(tmp_path) == []


def test_a_waited_for_task_cancelled_mid_chunk_keeps_its_results_and_names_the_rest(
    slurm_cluster, tmp_path
):
    grid = ("-cp", "experiment", *SLOW, "maxfun=10,20,1000000000", *ONE_TASK)
    process = subprocess.Popen(
        task_command(*grid, "-m", workdir=tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_results(tmp_path, 2)
    [record] = submissions(tmp_path)
    subprocess.run(["scancel", json.loads(record.read_text())["array"]], check=True)
    output, _ = process.communicate(timeout=180)
    assert process.returncode == 1, output
    assert "3 jobs: 0 skipped (up to date), 2 ran, 1 failed" in output
    assert "ChunkDied: array task " in output and "ended before this job" in output
    assert "_log.err" in output  # the task's SLURM log
    assert submissions(tmp_path) == []
    rerun = run_task("-cp", "experiment", *SLOW, "maxfun=10,20", *ONE_TASK, "-m", workdir=tmp_path)
    assert "2 jobs: 2 skipped (up to date), 0 ran, 0 failed" in rerun.output


@pytest.mark.parametrize("launcher", [(), ("launcher=local",)], ids=["in-process", "joblib"])
def test_detach_without_slurm_is_refused_before_anything_runs(tmp_path, launcher):
    completed = run_task(
        "-cp",
        "experiment",
        "settings=tnc",
        "maxfun=10",
        *launcher,
        "hydra.sweeper.detach=true",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode == 1
    assert "hydra.sweeper.detach=true needs launcher=slurm" in completed.output
    assert "Traceback" not in completed.output
    assert not (tmp_path / "results").exists()


def test_submissions_slurm_cannot_be_asked_about_are_named_not_ignored(tmp_path, monkeypatch):
    record = tmp_path / "results" / ".submitted" / "123.json"
    record.parent.mkdir(parents=True)
    record.write_text(
        json.dumps(
            {
                "array": "123",
                "folder": str(tmp_path / "multirun" / ".submitit" / "%j"),
                "sweep_dir": str(tmp_path / "multirun"),
                "detached": True,
                "submitted": "2026-01-01T00:00:00",
                "tasks": [],
            }
        )
    )
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "no-such-slurm.conf"))
    completed = run_task(
        "-cp", "experiment", "settings=tnc", "maxfun=10", "-m", workdir=tmp_path, check=False
    )
    assert completed.returncode == 1
    assert "cannot tell whether jobs submitted to SLURM by earlier sweeps" in completed.output
    assert str(record) in completed.output
    assert not result_files(tmp_path / "results")
