"""Stopping a sweep (Ctrl-C, SIGTERM) and jobs that never end (hydra.sweeper.job_timeout), in
this process, on joblib workers and on SLURM: what finished is kept and said, no process or
array task is left behind, and the rerun completes."""

import os
import signal
import subprocess
import time

import pytest

from conftest import run_task, slurm_tasks_end, task_command
from optsweep.report.table import result_files

# Nelder-Mead in 1,000 dimensions: maxfun=10 and 20 end at once, 10**9 practically never.
HANGING = ("settings=nelder-mead", "x0=null", "x0_random.dim=1000")
LAUNCHERS = {"in-process": (), "joblib": ("launcher=local", "hydra.launcher.n_jobs=2")}


def start_sweep(tmp_path, *arguments):
    return subprocess.Popen(
        task_command("-cp", "experiment", *arguments, "-m", workdir=tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for_results(tmp_path, count, process, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (tmp_path / "results").exists() and len(result_files(tmp_path / "results")) >= count:
            return
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.2)
    pytest.fail(f"fewer than {count} results after {seconds} s")


def group_is_empty(pgid, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("launcher", [*LAUNCHERS, "slurm"])
@pytest.mark.parametrize(
    "stop, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_a_stopped_sweep_says_what_finished_leaves_no_process_and_resumes(
    tmp_path, launcher, stop, code, request
):
    if launcher == "slurm":
        request.getfixturevalue("slurm_cluster")
    arguments = ("launcher=slurm",) if launcher == "slurm" else LAUNCHERS[launcher]
    grid = (*HANGING, "maxfun=10,20,1000000000", *arguments)
    process = start_sweep(tmp_path, *grid)
    wait_for_results(tmp_path, 2, process)
    time.sleep(1.0)  # the hanging job is running
    os.killpg(process.pid, stop) if stop == signal.SIGINT else process.send_signal(stop)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == code, output
    name = "SIGINT" if stop == signal.SIGINT else "SIGTERM"
    assert (
        f"sweep stopped by {name}: 3 jobs: 0 skipped (up to date), 2 ran, 0 failed, "
        "1 did not finish" in output
    )
    assert "run the same command again" in output and "Traceback" not in output
    assert group_is_empty(process.pid), "a worker outlived the sweep"
    if launcher == "slurm":
        assert "cancelled the array tasks still queued or running" in output
        assert slurm_tasks_end(tmp_path), "an array task outlived the sweep"
        assert not list((tmp_path / "results" / ".submitted").glob("*"))
    rerun = run_task(
        "-cp", "experiment", *HANGING, "maxfun=10,20", *arguments, "-m", workdir=tmp_path
    )
    assert "2 jobs: 2 skipped (up to date), 0 ran, 0 failed" in rerun.output


@pytest.mark.parametrize("launcher", [*LAUNCHERS, "slurm"])
def test_a_job_past_its_time_limit_fails_and_the_others_go_on(tmp_path, launcher, request):
    if launcher == "slurm":
        request.getfixturevalue("slurm_cluster")
    arguments = ("launcher=slurm",) if launcher == "slurm" else LAUNCHERS[launcher]
    completed = run_task(
        "-cp",
        "experiment",
        *HANGING,
        "maxfun=10,1000000000,20",
        "hydra.sweeper.job_timeout=2",
        *arguments,
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode == 1
    assert "3 jobs: 0 skipped (up to date), 2 ran, 1 failed" in completed.output
    assert (
        "JobTimeout: job [settings=nelder-mead maxfun=1000000000 x0=null x0_random.dim=1000"
        in completed.output
    )
    assert "ran past job_timeout=2 s and was stopped" in completed.output
    assert len(result_files(tmp_path / "results")) == 2


def test_a_sweep_waiting_for_a_job_another_process_runs_names_that_process(tmp_path):
    from optsweep.engine.files import job_lock

    target = tmp_path / "results" / "settings=tnc" / "maxfun=10.pkl"
    with job_lock(target):  # this test process "runs" the job
        process = start_sweep(tmp_path, "settings=tnc", "maxfun=10")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if (tmp_path / "multirun" / "task.log").exists() and "waiting for" in (
                tmp_path / "multirun" / "task.log"
            ).read_text():
                break
            time.sleep(0.2)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    assert f"waiting for {target}: process {os.getpid()} on " in output
    assert "1 jobs: 0 skipped (up to date), 1 ran, 0 failed" in output
