"""A nested config group (``model/transform``, chosen in an option's defaults list) on the
fast composition path: a job overriding it (``model/transform=scaled``) gets the config stock
Hydra composes, and is checked against the chosen option's keys, with those of the option it
extends (``- base``). Such overrides used to send
every job to stock composition (a new user's 144 jobs took 37 s to check instead of 2 s)."""

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TASK = """
import hydra

from optsweep import Experiment

NESTED = Experiment(name="nested", objective="y")


@hydra.main(config_path="config", config_name="task")
@NESTED.task
def main(config: dict) -> dict:
    model = config["model"]
    return {"y": model["weight"] * model["transform"]["factor"] + config["seed"]}


if __name__ == "__main__":
    main()
"""

FILES = {
    "config/task.yaml": """
        defaults:
          - /model: a      # chosen here, as Hydra needs for model/transform=... in a sweep
          - _self_
        seed: 0
        """,
    "config/model/base.yaml": "weight: 0.0\nsteps: 3\n",
    "config/model/a.yaml": """
        defaults:
          - base           # extends the group's shared base: its keys are a's too
          - transform: none
          - _self_
        weight: 1.0
        """,
    "config/model/b.yaml": """
        defaults:
          - transform: scaled
          - _self_
        weight: 2.0
        rate: 0.1
        """,
    "config/model/transform/none.yaml": "factor: 1.0\n",
    "config/model/transform/scaled.yaml": "factor: 10.0\nshift: 0.0\n",
    "experiment/task.yaml": """
        defaults:
          - /config/task@_global_
          - settings: ~
          - override hydra/sweeper: checked_experiment
          - _self_
        hydra:
          searchpath:
            - file://${project_path:config}
            - file://${project_path:}
          sweeper:
            overrides:
              settings: glob(*)
              seed: 0,1,2
        """,
    "experiment/settings/a.yaml": "# @package _global_\ndefaults:\n  - /model: a\n",
    "experiment/settings/b.yaml": "# @package _global_\ndefaults:\n  - /model: b\n",
}


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "nested"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    (root / ".project-root").touch()
    (root / "task.py").write_text(TASK)
    return root


def sweep(project: Path, results: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(project / "task.py"), "-cp", "experiment", *arguments,
         f"output.dir={results}", "-m"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def records(results: Path) -> dict[str, dict]:
    return {
        str(path.relative_to(results)): pickle.loads(path.read_bytes())
        for path in sorted(results.rglob("*.pkl"))
    }


def test_a_nested_group_override_composes_as_stock_hydra_does(project, tmp_path):
    fast = sweep(project, tmp_path / "fast", "model/transform=scaled")
    stock = sweep(project, tmp_path / "stock", "model/transform=scaled", "hydra.sweeper.fast=false")
    assert fast.returncode == 0 == stock.returncode, fast.stderr + stock.stderr
    assert "6 jobs: 0 skipped (up to date), 6 ran, 0 failed" in fast.stderr + fast.stdout
    made, expected = records(tmp_path / "fast"), records(tmp_path / "stock")
    assert sorted(made) == sorted(expected) and len(made) == 6
    for name, record in made.items():
        assert record["config"] == expected[name]["config"], name
        assert record["config"]["model"]["transform"] == {"factor": 10.0, "shift": 0.0}
    values = sorted(r["result"]["y"] for r in made.values())
    assert values == [10.0, 11.0, 12.0, 20.0, 21.0, 22.0]


def test_a_key_of_the_other_nested_option_is_refused(project, tmp_path):
    """``shift`` is scaled's; with transform=none chosen nothing reads it."""
    refused = sweep(
        project, tmp_path / "r", "settings=a", "+model.transform.shift=1", "hydra.sweeper.fast=true"
    )
    assert refused.returncode != 0
    said = refused.stdout + refused.stderr
    assert "key 'model.transform.shift' is not a task key (model.transform.factor)" in said
    assert "model/transform=none chose config/model/transform/none.yaml" in said


def test_an_option_extending_a_base_has_the_base_keys_and_no_other_options(project, tmp_path):
    """a extends base (steps): ``model.steps`` is a's key; b's ``rate`` is not."""
    ran = sweep(
        project, tmp_path / "ok", "settings=a", "model.steps=4", "hydra.sweeper.dry_run=true"
    )
    assert ran.returncode == 0, ran.stderr
    refused = sweep(project, tmp_path / "r", "settings=a", "+model.rate=1")
    assert refused.returncode != 0
    said = refused.stdout + refused.stderr
    assert (
        "key 'model.rate' is not a task key (model.steps, model.transform, model.weight)" in said
    ), said
    assert "model=a chose config/model/a.yaml, which does not have it" in said
