"""``kill -9`` of a sweeping process leaves none of its pool workers running: each notices
its parent is gone and exits within seconds, and the rerun computes what they had not saved."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

TASK = """
import time
from pathlib import Path

import hydra

from optsweep import Experiment

SLOW = Experiment(name="slow", objective="steps")


@hydra.main(config_path="config", config_name="task")
@SLOW.task
def main(config: dict) -> dict:
    Path(config["started"]).mkdir(exist_ok=True)
    (Path(config["started"]) / str(config["steps"])).write_text("")
    time.sleep(config["steps"] / 100)
    return {"steps": config["steps"]}


if __name__ == "__main__":
    main()
"""


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def test_workers_exit_soon_after_their_sweep_is_killed(tmp_path):
    project = tmp_path / "slow"
    (project / "config").mkdir(parents=True)
    started = tmp_path / "started"
    (project / "config" / "task.yaml").write_text(
        textwrap.dedent(
            f"""
            defaults:
              - override hydra/sweeper: checked_experiment
              - override hydra/launcher: joblib
              - _self_
            steps: 3000
            started: {started}
            hydra:
              launcher:
                n_jobs: 2
            """
        )
    )
    (project / "task.py").write_text(TASK)
    sweep = subprocess.Popen(
        [sys.executable, str(project / "task.py"), "steps=3000,3001,3002,3003", "-m"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (started.is_dir() and len(list(started.iterdir())) >= 2):
        assert time.monotonic() < deadline and sweep.poll() is None, "the jobs never started"
        time.sleep(0.1)
    workers = alive(children(sweep.pid))
    assert len(workers) >= 2  # two loky workers (and loky's resource tracker)
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait()
    deadline = time.monotonic() + 15
    while alive(workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(workers), f"still running after their sweep was killed: {alive(workers)}"
    assert not list((project / "results").rglob("*.pkl"))  # 30 s jobs: none had finished
    assert not list(project.rglob("*.lock"))
