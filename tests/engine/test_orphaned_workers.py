"""``kill -9`` of a sweeping process leaves none of its pool workers running: each notices
its parent is gone and exits within seconds, and the rerun computes what they had not saved.
And ``kill -9`` of a worker ends the sweep with its summary, not joblib's traceback: the jobs
of the dead worker's chunk failed, naming it, and no lock file is left."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

TASK = """
import os
import time
from pathlib import Path

import hydra

from optsweep import Experiment

SLOW = Experiment(name="slow", objective="steps")


@hydra.main(config_path="config", config_name="task")
@SLOW.task
def main(config: dict) -> dict:
    Path(config["started"]).mkdir(exist_ok=True)
    (Path(config["started"]) / str(config["steps"])).write_text(str(os.getpid()))
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


def slow_project(tmp_path: Path) -> Path:
    project = tmp_path / "slow"
    (project / "config").mkdir(parents=True)
    (project / "config" / "task.yaml").write_text(
        textwrap.dedent(
            f"""
            defaults:
              - override hydra/sweeper: checked_experiment
              - override hydra/launcher: joblib
              - _self_
            steps: 3000
            started: {tmp_path / "started"}
            hydra:
              launcher:
                n_jobs: 2
            """
        )
    )
    (project / "task.py").write_text(TASK)
    return project


def start_sweep(project: Path, *arguments: str, **options) -> subprocess.Popen:
    sweep = subprocess.Popen(
        [sys.executable, str(project / "task.py"), *arguments, "-m"], cwd=project, **options
    )
    started = project.parent / "started"
    deadline = time.monotonic() + 120
    while not (started.is_dir() and len(list(started.iterdir())) >= 2):
        assert time.monotonic() < deadline and sweep.poll() is None, "the jobs never started"
        time.sleep(0.1)
    return sweep


def test_a_killed_worker_ends_the_sweep_with_its_summary(tmp_path):
    project = slow_project(tmp_path)
    sweep = start_sweep(
        project,
        "steps=10,3000,3001",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    marker = tmp_path / "started" / "3000"
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()):
        assert time.monotonic() < deadline, "the job to kill never started"
        time.sleep(0.05)
    victim = int(marker.read_text())
    os.kill(victim, signal.SIGKILL)
    output, _ = sweep.communicate(timeout=120)
    assert sweep.returncode == 1, output
    assert "ChunkDied: a joblib worker died while chunk" in output
    assert "Traceback" not in output and "TerminatedWorkerError" not in output.split("died")[0]
    assert "3 jobs: 0 skipped (up to date)" in output
    assert not list(project.rglob("*.lock")), list(project.rglob("*.lock"))


def test_workers_exit_soon_after_their_sweep_is_killed(tmp_path):
    project = slow_project(tmp_path)
    sweep = start_sweep(
        project,
        "steps=3000,3001,3002,3003",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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


WRITER = """
import time
from pathlib import Path

import hydra

from optsweep import Experiment

LARGE = Experiment(name="large", objective="steps")


@hydra.main(config_path="config", config_name="task")
@LARGE.task
def main(config: dict) -> dict:
    Path(config["started"]).mkdir(exist_ok=True)
    (Path(config["started"]) / str(config["steps"])).touch()
    return {"steps": config["steps"], "payload": bytes(40_000_000)}


if __name__ == "__main__":
    main()
"""


def test_workers_of_a_killed_sweep_leave_no_temporary_or_lock_file(tmp_path):
    """Each job writes a 40 MB result, so the workers are mostly inside a write (or holding
    its lock) when the sweep is killed: each finishes the file it is writing, removes its
    lock file and exits, and only whole results are left."""
    project = slow_project(tmp_path)
    (project / "task.py").write_text(WRITER)
    sweep = start_sweep(
        project,
        "steps=range(0,2000)",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results = project / "results"
    deadline = time.monotonic() + 60
    while not list(results.rglob("*.pkl")):
        assert time.monotonic() < deadline and sweep.poll() is None, "no result was written"
        time.sleep(0.05)
    time.sleep(1)
    workers = alive(children(sweep.pid))
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait()
    deadline = time.monotonic() + 30
    while alive(workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(workers), f"still running after their sweep was killed: {alive(workers)}"
    saved = list(results.rglob("*.pkl"))
    assert 2 <= len(saved) < 2000
    leftovers = [path.name for path in results.rglob(".*") if path.is_file()]
    assert not leftovers, leftovers
