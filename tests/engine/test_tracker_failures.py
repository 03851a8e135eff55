"""A tracker that cannot log never fails a job nor stalls a sweep: an MLflow server that is
gone (a closed port on this machine) or a read-only store is said once, in a line; every
result is saved; the sweep takes seconds, not minutes."""

import os
import time

import pytest

from conftest import QUADRATIC, run_task

TASK = QUADRATIC / "task.py"
pytest.importorskip("mlflow")


def test_an_unreachable_mlflow_server_is_said_once_and_the_sweep_goes_on(tmp_path, monkeypatch):
    for variable in [v for v in os.environ if v.startswith("MLFLOW_")]:
        monkeypatch.delenv(variable)
    started = time.monotonic()
    completed = run_task(
        "-cp",
        "experiment",
        "tracker=mlflow",
        "tracker.uri=http://127.0.0.1:9",  # the discard port: nothing listens there
        "-m",
        workdir=tmp_path,
        script=TASK,
    )
    elapsed = time.monotonic() - started
    assert "6 jobs: 0 skipped (up to date), 6 ran, 0 failed" in completed.output
    assert len(list((tmp_path / "results").rglob("*.pkl"))) == 6
    said = [line for line in completed.output.splitlines() if "no more runs are logged" in line]
    assert len(said) == 1 and "opening http://127.0.0.1:9 failed" in said[0]
    assert "6 job run(s) not logged" in completed.output
    assert elapsed < 90, f"the sweep waited {elapsed:.0f} s for the tracker"


def test_a_store_that_cannot_be_written_is_said_once_not_in_hundreds_of_lines(tmp_path):
    # /proc takes no new files, even from root (for whom a read-only mode means nothing)
    completed = run_task(
        "-cp",
        "experiment",
        "tracker=mlflow",
        "tracker.uri=sqlite:////proc/optsweep-test-store/mlflow.db",
        "-m",
        workdir=tmp_path,
        script=TASK,
    )
    assert "6 jobs: 0 skipped (up to date), 6 ran, 0 failed" in completed.output
    assert len(list((tmp_path / "results").rglob("*.pkl"))) == 6
    assert completed.output.count("no more runs are logged") == 1
    assert "6 job run(s) not logged" in completed.output
    assert len(completed.output.splitlines()) < 40
