"""A relative output.dir is the working directory's when the sweep starts: a task that changes
its directory does not move its results elsewhere (nor leave a lock file behind)."""

import subprocess
import sys
import textwrap

TASK = """
import os

import hydra

from optsweep import Experiment

WANDERING = Experiment(name="wandering", objective="f")


@hydra.main(config_path="config", config_name="task")
@WANDERING.task
def main(config: dict):
    os.chdir(ELSEWHERE)  # as a library might
    return {"f": float(config["x"])}


if __name__ == "__main__":
    main()
"""


def test_a_task_changing_its_directory_keeps_its_results_in_place(tmp_path):
    root = tmp_path / "wandering"
    (root / "config").mkdir(parents=True)
    (root / "config" / "task.yaml").write_text(
        textwrap.dedent(
            """
            defaults:
              - override hydra/sweeper: checked_experiment
              - _self_
            x: 1
            """
        )
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "task.py").write_text(TASK.replace("ELSEWHERE", repr(str(elsewhere))))
    completed = subprocess.run(
        [sys.executable, str(root / "task.py"), "x=1,2,3", "output.dir=res", "-m"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert sorted(p.name for p in (root / "res").rglob("*") if p.is_file()) == [
        "x=1.pkl",
        "x=2.pkl",
        "x=3.pkl",
    ]
    assert not list(elsewhere.rglob("*.pkl"))
