"""A relative output.dir is the working directory's when the sweep starts: a task that changes
its directory does not move its results elsewhere (nor leave a lock file behind)."""

from conftest import run_in, small_project

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
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = small_project(
        tmp_path / "wandering", TASK.replace("ELSEWHERE", repr(str(elsewhere))), "x: 1\n"
    )
    status, output = run_in(root, root / "task.py", "x=1,2,3", "output.dir=res", "-m")
    assert status == 0, output
    assert sorted(p.name for p in (root / "res").rglob("*") if p.is_file()) == [
        "x=1.pkl",
        "x=2.pkl",
        "x=3.pkl",
    ]
    assert not list(elsewhere.rglob("*.pkl"))
