"""Ctrl-C or SIGTERM while a large sweep is being checked ends in one line (no job ran, how to
go on) and exit 130 or 143, not in a traceback."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import QUADRATIC, task_command

TASK = QUADRATIC / "task.py"


def start_large_sweep(tmp_path, **popen) -> subprocess.Popen:
    """The quadratic experiment over 120,000 jobs (checking them takes far longer than the
    test), its stdout and stderr piped together."""
    command = task_command(
        "-cp", "experiment", "budget=range(1,60001)", "-m", workdir=tmp_path, script=TASK
    )
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(QUADRATIC)},
        **popen,
    )


def sweeper_started(sweep: subprocess.Popen) -> str:
    """Wait for the sweeper's first line (from there on a stop is the sweep's to report);
    return the output so far."""
    assert sweep.stdout is not None
    started = [sweep.stdout.readline()]
    while "Sweep output dir" not in started[-1]:
        started.append(sweep.stdout.readline())
        assert started[-1], "".join(started)  # the sweep ended before it started checking
    return "".join(started)


@pytest.mark.parametrize(
    ("sending", "code", "name"),
    [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")],
    ids=["ctrl-c", "sigterm"],
)
def test_a_stop_during_the_checks_says_so_in_a_line(tmp_path, sending, code, name):
    sweep = start_large_sweep(tmp_path)
    started = sweeper_started(sweep)
    time.sleep(1)  # into the checks: 120,000 jobs take far longer to check
    assert sweep.poll() is None, started + sweep.communicate()[0]
    sweep.send_signal(sending)
    output = started + sweep.communicate(timeout=60)[0]
    assert sweep.returncode == code, output
    assert f"sweep stopped by {name} while its 120000 jobs were checked: no job ran" in output
    assert "Traceback" not in output
    assert not (tmp_path / "results").exists()


SWALLOWING_TASK = """
import time
from pathlib import Path

import hydra

from optsweep import Experiment


def check(config: dict) -> None:
    Path(config["checking"]).touch()
    try:  # a library that swallows every exception, Ctrl-C's too
        time.sleep(0.005)
    except BaseException:
        pass


SWALLOWING = Experiment(name="swallowing", objective="steps", check=check)


@hydra.main(config_path="config", config_name="task")
@SWALLOWING.task
def main(config: dict) -> dict:
    return {"steps": config["steps"]}


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize(
    ("sending", "code", "name"),
    [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")],
    ids=["ctrl-c", "sigterm"],
)
def test_a_stop_swallowed_while_checking_still_stops_the_sweep(tmp_path, sending, code, name):
    """The experiment's check swallows the stop (most of the checks' time is spent in it):
    the sweep still stops at the next job checked, runs nothing, and says so in a line."""
    project = tmp_path / "swallowing"
    (project / "config").mkdir(parents=True)
    (project / "config" / "task.yaml").write_text(
        "defaults:\n  - override hydra/sweeper: checked_experiment\n  - _self_\n"
        f"steps: 1\nchecking: {tmp_path / 'checking'}\n"
    )
    (project / "task.py").write_text(SWALLOWING_TASK)
    sweep = subprocess.Popen(
        [sys.executable, str(project / "task.py"), "steps=range(1,5001)", "-m"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "checking").exists():  # 5,000 checks of 5 ms: 25 s
        assert time.monotonic() < deadline and sweep.poll() is None, sweep.communicate()[0]
        time.sleep(0.05)
    time.sleep(0.5)
    sweep.send_signal(sending)
    output, _ = sweep.communicate(timeout=60)
    assert sweep.returncode == code, output
    assert f"sweep stopped by {name} while its 5000 jobs were checked: no job ran" in output
    assert "Traceback" not in output
    assert not (project / "results").exists()


def test_a_sweep_started_with_ctrl_c_ignored_keeps_ignoring_it(tmp_path):
    """A shell's background job ignores SIGINT (the terminal's Ctrl-C is for the foreground):
    the sweep leaves it ignored, and SIGTERM still stops it in a line."""
    ignoring = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731
    sweep = start_large_sweep(tmp_path, preexec_fn=ignoring)
    started = sweeper_started(sweep)
    time.sleep(1)
    sweep.send_signal(signal.SIGINT)
    time.sleep(1)
    assert sweep.poll() is None, started + sweep.communicate()[0]
    sweep.send_signal(signal.SIGTERM)
    output = started + sweep.communicate(timeout=60)[0]
    assert sweep.returncode == 143, output
    assert "sweep stopped by SIGTERM while its 120000 jobs were checked: no job ran" in output
