"""A stop that the task swallows never saves its half-computed result.

Training loops (scikit-learn's ``MLPClassifier`` among them) catch ``KeyboardInterrupt`` and
return what they have; an ``except Exception`` swallows the job's time limit. Here the task
does both: its result after a Ctrl-C, a SIGTERM or the time limit is not saved, the job counts
as stopped or timed out, and the next run computes it.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

TASK = """
import time
from pathlib import Path

import hydra

from optsweep import Experiment

SLOW = Experiment(name="slow", objective="steps")


@hydra.main(config_path="config", config_name="task")
@SLOW.task
def main(config: dict) -> dict:
    steps = 0
    Path(config["started"]).write_text("started")
    try:
        while steps < config["steps"]:
            time.sleep(0.01)
            steps += 1
    except KeyboardInterrupt:  # as a training loop does: keep what was learnt so far
        pass
    except Exception:  # swallows the time limit too
        pass
    return {"steps": steps}


if __name__ == "__main__":
    main()
"""


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "slow"
    (root / "config").mkdir(parents=True)
    (root / "config" / "task.yaml").write_text(
        textwrap.dedent(
            f"""
            defaults:
              - override hydra/sweeper: checked_experiment
              - _self_
            steps: 3000          # 30 s: long enough to be stopped
            started: {tmp_path / "started"}
            """
        )
    )
    (root / "task.py").write_text(TASK)
    return root


def start(project: Path, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(project / "task.py"), *arguments],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a command
    )


def wait_started(project: Path) -> None:
    marker = project.parent / "started"
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    time.sleep(0.3)  # inside the loop


def results(project: Path) -> list[Path]:
    return sorted((project / "results").rglob("*.pkl")) if (project / "results").exists() else []


@pytest.mark.parametrize(
    ("sending", "code"),
    [
        pytest.param(signal.SIGINT, 130, id="ctrl-c"),
        pytest.param(signal.SIGTERM, 143, id="sigterm"),
    ],
)
@pytest.mark.parametrize("where", ["in-process", "launcher-local"])
def test_a_stop_the_task_swallows_saves_nothing_and_the_rerun_computes_it(
    project, sending, code, where
):
    arguments = ["steps=3000,3001", "-m"]
    if where == "launcher-local":
        arguments += ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    process = start(project, *arguments)
    wait_started(project)
    os.killpg(process.pid, sending)  # as a terminal's Ctrl-C reaches every process of the group
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0, output
    assert results(project) == [], output  # no half-trained result saved as current
    if where == "in-process":
        assert process.returncode == code, output
        assert "returned a result after" in output and "not saved" in output
    rerun = subprocess.run(
        [sys.executable, str(project / "task.py"), "steps=5,6", "-m"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert len(results(project)) == 2


@pytest.mark.parametrize("where", ["in-process", "launcher-local"])
def test_a_stopped_sweep_names_the_jobs_that_had_failed(project, where):
    """A job whose marker cannot be written fails at once (FileNotFoundError in the task);
    SIGTERM while the other job runs: the stop's summary counts the failure and names that
    job, as a sweep's end does."""
    unwritable = project.parent / "no-such-directory" / "started"
    arguments = [f"started={unwritable},{project.parent / 'started'}", "-m"]
    if where == "launcher-local":
        arguments += ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    process = start(project, *arguments)
    wait_started(project)
    time.sleep(1.0)  # the failing job has ended
    os.killpg(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 143, output
    assert "1 failed, 1 did not finish" in output, output
    assert "Failed jobs (not saved; the rerun runs them again):" in output
    assert f"[started={unwritable}]" in output
    assert (
        "FileNotFoundError" in output
        or "their errors, with tracebacks, are in the jobs' logs" in output
    )
    assert results(project) == []


def test_a_time_limit_the_task_swallows_fails_the_job_and_saves_nothing(project):
    completed = subprocess.run(
        [
            sys.executable,
            str(project / "task.py"),
            "steps=3000,5",
            "hydra.sweeper.job_timeout=0.5",
            "-m",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert "2 jobs: 0 skipped (up to date), 1 ran, 1 failed" in output
    assert "ran past job_timeout=0.5 s" in output
    assert [p.name for p in results(project)] == ["steps=5.pkl"]


STUBBORN_TASK = """
import time
from pathlib import Path

import hydra

from optsweep import Experiment

STUBBORN = Experiment(name="stubborn", objective="steps")


@hydra.main(config_path="config", config_name="task")
@STUBBORN.task
def main(config: dict) -> dict:
    steps = 0
    Path(config["started"]).write_text("started")
    while steps < config["steps"]:
        if config["swallow"] == "bare":
            try:
                time.sleep(0.01)
            except:  # noqa: E722  swallows everything, and goes on
                pass
        else:
            try:
                time.sleep(0.01)
            except KeyboardInterrupt:  # a step's stop is swallowed, and the loop goes on
                pass
            except Exception:
                pass
        steps += 1
    return {"steps": steps}


if __name__ == "__main__":
    main()
"""


@pytest.fixture
def stubborn(project):
    (project / "task.py").write_text(STUBBORN_TASK)
    with open(project / "config" / "task.yaml", "a") as config:
        config.write("swallow: step\n")
    return project


def stop_until_ended(process: subprocess.Popen, sending: int, times: int) -> str:
    """Send ``sending`` to the process group ``times`` times, half a second apart; what the
    process printed (it must end within a minute of the last)."""
    for _ in range(times):
        os.killpg(process.pid, sending)
        time.sleep(0.5)
    output, _ = process.communicate(timeout=60)
    return output


@pytest.mark.parametrize(
    ("sending", "code", "named"),
    [
        pytest.param(signal.SIGINT, 130, "a stop (SIGINT, Ctrl-C)", id="ctrl-c"),
        pytest.param(signal.SIGTERM, 143, "SIGTERM", id="sigterm"),
    ],
)
def test_a_task_that_computes_on_after_a_stop_is_stopped_by_the_second(
    stubborn, sending, code, named
):
    """The task swallows every stop and goes on (30 s of steps): the second one stops it,
    the sweep ends with its summary and status, and nothing is saved."""
    process = start(stubborn, "steps=3000,3001", "-m")
    wait_started(stubborn)
    output = stop_until_ended(process, sending, times=2)
    assert process.returncode == code, output
    assert f"went on computing after {named}: stopped again, not saved" in output
    assert "did not finish" in output or "stopped" in output, output
    assert results(stubborn) == []


def test_a_task_that_swallows_everything_ends_the_process_at_the_third_stop(stubborn):
    process = start(stubborn, "steps=3000", "swallow=bare", "-m")
    wait_started(stubborn)
    output = stop_until_ended(process, signal.SIGINT, times=3)
    assert process.returncode == 130, output
    assert "went on computing after 3 stops (SIGINT; its task swallows them)" in output
    assert "this process ends now, without that job's result" in output
    assert results(stubborn) == []
    assert not list(stubborn.rglob(".*.lock")), "the job's lock file was left"


def test_a_time_limit_the_task_swallows_at_every_step_still_ends_the_job(stubborn):
    """The time limit again after a grace period (1 s) stops the job; the other runs."""
    clock = time.monotonic()
    completed = subprocess.run(
        [
            sys.executable,
            str(stubborn / "task.py"),
            "steps=3000,5",
            "hydra.sweeper.job_timeout=0.5",
            "-m",
        ],
        cwd=stubborn,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert time.monotonic() - clock < 25, "the job ran its 30 s"
    assert "2 jobs: 0 skipped (up to date), 1 ran, 1 failed" in output
    assert "ran past job_timeout=0.5 s" in output
    assert "went on computing after its time limit: stopped again, not saved" in output
    assert [p.name for p in results(stubborn)] == ["steps=5.pkl"]


def test_a_time_limit_the_task_swallows_entirely_ends_the_process_at_its_third_expiry(stubborn):
    """A bare ``except`` swallows even the escalation: the time limit's third expiry (the
    limit, then two grace periods of 1 s) ends the process, saying so, exit 1, nothing of
    the job saved; the results saved before it are kept."""
    clock = time.monotonic()
    completed = subprocess.run(
        [
            sys.executable,
            str(stubborn / "task.py"),
            "steps=5,3000",
            "swallow=bare",
            "hydra.sweeper.job_timeout=0.5",
            "-m",
        ],
        cwd=stubborn,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert time.monotonic() - clock < 20, "the job ran its 30 s"
    assert "optsweep: job [steps=3000 swallow=bare] went on computing past its time limit 3" in (
        output
    )
    assert "ran past job_timeout=0.5 s" in output and "this process ends now" in output
    assert [p.name for p in results(stubborn)] == ["steps=5,swallow=bare.pkl"]
    assert not list(stubborn.rglob(".*.lock")), "the job's lock file was left"


def test_a_stop_of_joblib_workers_whose_task_swallows_it_leaves_no_lock_file(stubborn):
    """The workers are ended mid-job by the stop (their task went on): the sweep removes the
    lock files they held, once no process holds them."""
    process = start(
        stubborn, "steps=3000,3001", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "-m"
    )
    wait_started(stubborn)
    output = stop_until_ended(process, signal.SIGINT, times=1)
    assert process.returncode == 130, output
    assert results(stubborn) == []
    assert not list(stubborn.rglob(".*.lock")), output
