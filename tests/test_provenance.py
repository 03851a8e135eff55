"""A result's git state is the project's: its own repository's, or the enclosing repository's
with the project's folder; dirty when a file of the project that could change a run is new
(untracked) or modified, whatever changes outside the project."""

import pickle
import subprocess
import sys

import pytest


def git(directory, *arguments):
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *arguments],
        cwd=directory,
        check=True,
        capture_output=True,
    )


def run_one_job(copy):
    """One plain job of the copied project; its result's ``meta.git``."""
    completed = subprocess.run(
        [sys.executable, str(copy / "task.py"), "method=tnc", "method.options.maxfun=10"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    (result,) = (copy / "results").rglob("*.pkl")
    with result.open("rb") as file:
        meta = pickle.load(file)["meta"]
    result.unlink()
    return meta["git"]


@pytest.fixture
def own_repository(project_copy):
    git(project_copy, "init", "-q")
    git(project_copy, "add", "-A")
    git(project_copy, "commit", "-q", "-m", "the paper's code")
    return project_copy


def test_a_project_inside_another_repository_records_that_repository_and_its_folder(
    tmp_path, project_copy
):
    outer = tmp_path
    (outer / "notes.md").write_text("someone else's repository\n")
    git(outer, "init", "-q")
    git(outer, "add", "-A")
    git(outer, "commit", "-q", "-m", "outer, with the project in it")
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=outer, capture_output=True, text=True
    ).stdout.strip()
    state = run_one_job(project_copy)
    assert state == {
        "commit": commit,
        "dirty": False,
        "changed": 0,
        "changes": [],
        "repository": "enclosing",
        "path": "project",
    }
    (outer / "notes.md").write_text("edited outside the project\n")
    assert run_one_job(project_copy)["dirty"] is False
    (project_copy / "task.py").write_text((project_copy / "task.py").read_text() + "\n")
    edited = run_one_job(project_copy)
    assert edited["dirty"] is True and edited["changes"] == ["task.py"]


def test_a_project_in_no_repository_records_none(project_copy):
    state = run_one_job(project_copy)
    assert state["commit"] is None and state["repository"] == "no git repository"


def test_clean_then_dirty_with_an_untracked_settings_file(own_repository):
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=own_repository, capture_output=True, text=True
    ).stdout.strip()
    clean = run_one_job(own_repository)
    assert clean == {
        "commit": commit,
        "dirty": False,
        "changed": 0,
        "changes": [],
        "repository": "own",
    }
    (own_repository / "experiment" / "settings" / "powell.yaml").write_text(
        "# @package _global_\ndefaults:\n  - /method: powell\n"
    )
    dirty = run_one_job(own_repository)
    assert dirty["commit"] == commit and dirty["dirty"] is True
    assert dirty["changes"] == ["experiment/settings/powell.yaml"]


def test_untracked_files_elsewhere_and_ignored_ones_keep_the_tree_clean(own_repository):
    (own_repository / "scratch-notes.txt").write_text("thoughts\n")  # not under a watched path
    (own_repository / "outputs").mkdir(exist_ok=True)
    (own_repository / "outputs" / "log.txt").write_text("ignored\n")
    assert run_one_job(own_repository)["dirty"] is False
    (own_repository / "task.py").write_text((own_repository / "task.py").read_text() + "\n")
    edited = run_one_job(own_repository)
    assert edited["dirty"] is True and edited["changes"] == ["task.py"]
