"""An experiment written the least way (``Experiment(name=...)``, a task function, two config
trees) in a directory of its own: the project is its own (results, logs, search path, code
that decides staleness), keys are checked at every depth, and the value a search optimizes is
declared once. Nothing here uses the example."""

import csv
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

TASK = """
import hydra

from optsweep import Experiment

TOY = Experiment(name="toy"{fields})


@hydra.main(config_path="config", config_name="task")
@TOY.task
def main(config: dict) -> dict:
    p = config["model"]["params"]
    score = 1.0 / (1.0 + (p["c"] - 2.0) ** 2) + 0.001 * config["budget"]
    return {{"score": score, "calls": config["budget"], "name": config["model"]["name"]}}


if __name__ == "__main__":
    main()
"""

FILES = {
    "config/task.yaml": """
        defaults:
          - /model: ~
          - _self_
        seed: 0
        budget: 1
        """,
    "config/model/wide.yaml": """
        name: wide
        params:
          c: 1.0
          steps: 10
        """,
    "config/model/narrow.yaml": """
        name: narrow
        params:
          c: 3.0
          steps: 5
        """,
    "experiment/task.yaml": """
        defaults:
          - /config/task@_global_
          - settings: ~
          - search: ~
          - override hydra/sweeper: checked_experiment
          - _self_
        hydra:
          searchpath:
            - file://${project_path:config}
            - file://${project_path:}
          sweeper:
            overrides:
              settings: glob(*)
              rounds: 1,2
        rounds: ???
        """,
    "experiment/settings/wide.yaml": """
        # @package _global_
        defaults:
          - /model: wide
        budget: ${rounds}
        """,
    "experiment/settings/narrow.yaml": """
        # @package _global_
        defaults:
          - /model: narrow
        model:
          params:
            steps: ${rounds}
        budget: ${rounds}
        """,
    "experiment/search/c.yaml": """
        # @package _global_
        defaults:
          - override /settings: wide
        rounds: 1
        hydra:
          sweeper:
            search:
              optim:
                optimizer: OnePlusOne
                budget: 6
                num_workers: 2
                seed: 0
              params:
                model.params.c: interval(0.0, 4.0)
        """,
    "experiment/search/c-optuna.yaml": """
        # @package _global_
        defaults:
          - override /settings: wide
        rounds: 1
        hydra:
          sweeper:
            search:
              optuna:
                sampler: TPESampler
                sampler_options: {n_startup_trials: 3}
                n_trials: 8
                num_workers: 2
              params:
                model.params.c: interval(0.0, 4.0)
        """,
}


def write_project(root: Path, fields: str = ', objective="score", direction="maximize"') -> Path:
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip())
    (root / "task.py").write_text(TASK.format(fields=fields))
    return root


class Run(NamedTuple):
    returncode: int
    output: str  # stdout and stderr


def run(root: Path, *arguments: str, cwd: Path, check: bool = True) -> Run:
    completed = subprocess.run(
        [sys.executable, str(root / "task.py"), *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    ran = Run(completed.returncode, completed.stdout + completed.stderr)
    if check:
        assert ran.returncode == 0, ran.output
    return ran


@pytest.fixture
def project(tmp_path):
    return write_project(tmp_path / "toy")


def test_results_logs_and_search_path_belong_to_the_project_not_the_engine(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    completed = run(project, "-cp", "experiment", "-m", cwd=elsewhere)
    assert "4 jobs: 0 skipped (up to date), 4 ran, 0 failed" in completed.output
    results = sorted(p.relative_to(project) for p in (project / "results").rglob("*.pkl"))
    assert [str(p) for p in results] == [
        "results/settings=narrow/rounds=1.pkl",
        "results/settings=narrow/rounds=2.pkl",
        "results/settings=wide/rounds=1.pkl",
        "results/settings=wide/rounds=2.pkl",
    ]
    assert (project / "multirun").is_dir() and not any(elsewhere.iterdir())
    with (project / "results/settings=narrow/rounds=2.pkl").open("rb") as file:
        record = pickle.load(file)
    assert record["config"]["model"]["params"] == {"c": 3.0, "steps": 2}
    assert "output" not in record["config"] and record["meta"]["setting"] == "narrow"
    assert record["scalars"] == {"score": 0.5 + 0.002, "calls": 2, "name": "narrow"}
    assert record["meta"]["git"]["repository"] == "no git repository"
    assert "up to date" in run(project, "-cp", "experiment", "-m", cwd=elsewhere).output


def test_a_typo_below_a_group_key_is_refused_before_any_job_runs(project, tmp_path):
    settings = project / "experiment/settings/narrow.yaml"
    settings.write_text(settings.read_text().replace("steps:", "stepz:"))
    refused = run(project, "-cp", "experiment", "-m", cwd=tmp_path, check=False)
    assert refused.returncode != 0
    assert "'model.params.stepz' is not a task key" in refused.output
    assert "did you mean 'model.params.steps'?" in refused.output
    assert "experiment/settings/narrow.yaml" in refused.output
    assert not (project / "results").exists()
    assert not (project / "multirun").exists(), "an empty sweep directory was left behind"
    plain = run(project, "model=wide", "+model.params.cc=1", cwd=tmp_path, check=False)
    assert plain.returncode != 0 and "did you mean 'model.params.c'?" in plain.output


def test_a_search_maximizes_the_declared_objective_and_says_so(project, tmp_path):
    completed = run(project, "-cp", "experiment", "search=c", "-m", cwd=tmp_path)
    assert "maximizing score" in completed.output
    with (project / "results/search=c/trace.csv").open() as file:
        values = [float(row["value"]) for row in csv.DictReader(file)]
    progress = yaml.safe_load((project / "results/search=c/progress.yaml").read_text())
    assert len(values) == 6 and min(values) < max(values)
    assert progress["definition"]["maximize"] is True
    assert progress["best_evaluated"]["value"] == max(values)


def test_an_optuna_search_maximizes_the_declared_objective(project, tmp_path):
    import optuna

    completed = run(project, "-cp", "experiment", "search=c-optuna", "-m", cwd=tmp_path)
    assert "maximizing score" in completed.output
    directory = project / "results/search=c-optuna"
    with (directory / "trace.csv").open() as file:
        values = [float(row["value"]) for row in csv.DictReader(file)]
    progress = yaml.safe_load((directory / "progress.yaml").read_text())
    assert len(values) == 8 and min(values) < max(values)
    assert progress["definition"]["maximize"] is True
    assert progress["best_evaluated"]["value"] == max(values)
    study = optuna.load_study(
        study_name=progress["study"]["name"], storage=progress["study"]["storage"]
    )
    assert study.direction is optuna.study.StudyDirection.MAXIMIZE
    assert study.best_value == max(values)
    tuned = yaml.safe_load((directory / "c-optuna-tuned.yaml").read_text())
    assert tuned["model"]["params"]["c"] == progress["best_evaluated"]["params"]["model.params.c"]


def test_an_optuna_search_saying_minimize_for_a_maximizing_experiment_is_refused(project, tmp_path):
    search = project / "experiment/search/c-optuna.yaml"
    search.write_text(
        search.read_text().replace("n_trials: 8", "n_trials: 8\n        direction: minimize")
    )
    refused = run(project, "-cp", "experiment", "search=c-optuna", "-m", cwd=tmp_path, check=False)
    assert refused.returncode != 0
    assert (
        "hydra.sweeper.search.optuna.direction=minimize, but experiment 'toy' declares "
        "direction='maximize'" in refused.output
    )
    assert not (project / "results").exists()


@pytest.mark.parametrize(("direction", "maximize"), [("minimize", "true"), ("maximize", "false")])
def test_a_search_file_contradicting_the_direction_is_refused(
    direction, maximize, project, tmp_path
):
    write_project(project, fields=f', objective="score", direction="{direction}"')
    search = project / "experiment/search/c.yaml"
    search.write_text(
        search.read_text().replace("seed: 0", f"seed: 0\n        maximize: {maximize}")
    )
    refused = run(project, "-cp", "experiment", "search=c", "-m", cwd=tmp_path, check=False)
    assert refused.returncode != 0
    assert f"optim.maximize={maximize}, but experiment" in refused.output
    assert f"declares direction='{direction}'" in refused.output
    assert not (project / "results").exists()


def test_a_search_of_a_mapping_without_objective_says_what_to_declare(project, tmp_path):
    write_project(project, fields="")
    failed = run(project, "-cp", "experiment", "search=c", "-m", cwd=tmp_path, check=False)
    assert failed.returncode != 0
    assert "say which value a search optimizes: Experiment(..., objective=" in failed.output


def test_a_marker_file_makes_a_parent_folder_the_project(tmp_path):
    root = tmp_path / "paper"
    write_project(root / "code")
    (root / ".project-root").write_text("")
    for tree in ("config", "experiment"):
        (root / "code" / tree).rename(root / tree)
    task = root / "code" / "task.py"
    task.write_text(task.read_text().replace('config_path="config"', 'config_path="../config"'))
    run(root / "code", "model=wide", cwd=tmp_path)
    assert [p.relative_to(root) for p in (root / "results").rglob("*.pkl")] == [
        Path("results/model=wide/defaults.pkl")
    ]
