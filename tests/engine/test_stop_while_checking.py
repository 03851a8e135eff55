"""Ctrl-C or SIGTERM while a large sweep is being checked ends in one line (no job ran, how to
go on) and exit 130 or 143, not in a traceback."""

import os
import signal
import subprocess
import time

import pytest

from conftest import QUADRATIC, task_command

TASK = QUADRATIC / "task.py"


@pytest.mark.parametrize(
    ("sending", "code", "name"),
    [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")],
    ids=["ctrl-c", "sigterm"],
)
def test_a_stop_during_the_checks_says_so_in_a_line(tmp_path, sending, code, name):
    command = task_command(
        "-cp", "experiment", "budget=range(1,60001)", "-m", workdir=tmp_path, script=TASK
    )
    sweep = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(QUADRATIC)},
    )
    time.sleep(4)  # Hydra has started; 120,000 jobs take far longer to check
    assert sweep.poll() is None, sweep.communicate()[0]
    sweep.send_signal(sending)
    output, _ = sweep.communicate(timeout=60)
    assert sweep.returncode == code, output
    assert f"sweep stopped by {name} while its 120000 jobs were checked: no job ran" in output
    assert "Traceback" not in output
    assert not (tmp_path / "results").exists()
