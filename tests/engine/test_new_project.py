"""``optsweep new``: a working project for a new experiment, whose own two commands pass.

The project is written from the template in the package (``optsweep.scaffold``); its
``make sweep`` and ``make test`` are run for real, with PYTHON naming this test's Python.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from optsweep.engine.store import result_files
from optsweep.scaffold import ProjectExists, new_project

# The generated project's files, as the README's table describes them.
LAYOUT = {
    ".gitignore",
    ".project-root",  # its own root, even inside another marked project
    "Makefile",
    "README.md",
    "pyproject.toml",
    "task.py",
    "toy.py",
    "config/task.yaml",
    "config/model/logistic.yaml",
    "config/model/svm.yaml",
    "config/hydra/sweeper/nevergrad.yaml",
    "config/hydra/sweeper/optuna.yaml",
    "experiment/task.yaml",
    "experiment/settings/logistic.yaml",
    "experiment/settings/svm.yaml",
    "experiment/search/logistic.yaml",
    "experiment/launcher/local.yaml",
    "experiment/launcher/slurm.yaml",
    "plots/paper.mplstyle",
    "plots/specs/accuracy.yaml",
    "tests/test_configs.py",
    "tests/test_sweep.py",
}


def optsweep(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optsweep.cli", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def make(target: str, project: Path) -> subprocess.CompletedProcess:
    """``make TARGET PYTHON=<this Python>`` in ``project``, without Hydra's variables."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}
    return subprocess.run(
        ["make", target, f"PYTHON={sys.executable}"],
        cwd=project,
        capture_output=True,
        text=True,
        env=environment,
        timeout=900,
    )


def test_new_writes_the_project_with_its_name(tmp_path):
    written = new_project(tmp_path / "digits-study", name="digits")
    project = tmp_path / "digits-study"
    assert {p.relative_to(project).as_posix() for p in written} == LAYOUT
    assert {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()} == LAYOUT
    assert 'Experiment(\n    name="digits",' in (project / "task.py").read_text()
    assert (project / "README.md").read_text().startswith("# digits\n")
    for path in written:
        text = path.read_text()
        assert "{{" not in text, f"{path}: a placeholder left"
        assert str(ROOT) not in text and str(tmp_path) not in text, f"{path}: a machine path"


def test_the_name_defaults_to_the_directorys_and_must_be_one(tmp_path):
    new_project(tmp_path / "toy-study")
    assert 'name="toy-study"' in (tmp_path / "toy-study" / "task.py").read_text()
    with pytest.raises(ValueError, match="'2nd try' cannot name an experiment"):
        new_project(tmp_path / "other", name="2nd try")
    assert not (tmp_path / "other").exists()


def test_new_refuses_a_non_empty_directory_naming_it_and_writes_nothing(tmp_path):
    project = tmp_path / "mine"
    project.mkdir()
    (project / "notes.txt").write_text("keep me")
    completed = optsweep("new", str(project), cwd=tmp_path)
    assert completed.returncode == 1
    assert f"optsweep new: {project} is not empty" in completed.stderr
    assert [p.name for p in project.iterdir()] == ["notes.txt"]
    assert (project / "notes.txt").read_text() == "keep me"
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ProjectExists, match="a-file is a file"):
        new_project(tmp_path / "a-file")


def test_an_empty_directory_is_used(tmp_path):
    (tmp_path / "empty").mkdir()
    completed = optsweep("new", "empty", "--name", "study", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert f"wrote {len(LAYOUT)} files into empty/: experiment 'study'" in completed.stdout
    assert (tmp_path / "empty" / "task.py").is_file()


def test_the_new_projects_two_commands_pass(tmp_path):
    assert optsweep("new", "study", cwd=tmp_path).returncode == 0
    project = tmp_path / "study"
    help_text = make("help", project).stdout
    assert all(f"make {t}" in help_text for t in ("sweep", "test", "figure", "search", "help"))

    sweep = make("sweep", project)
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    assert "30 jobs: 0 skipped (up to date), 30 ran, 0 failed" in sweep.stdout + sweep.stderr
    assert len(result_files(project / "results")) == 2 * 5 * 3  # settings x budgets x seeds
    for suffix in ("pdf", "png"):
        assert (project / "plots" / f"accuracy.{suffix}").stat().st_size > 0
    assert {p.name for p in project.iterdir()} >= {"results", "multirun"}, "inside the project"

    tests = make("test", project)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout and "failed" not in tests.stdout


def test_make_says_how_to_install_optsweep_when_python_lacks_it(tmp_path):
    new_project(tmp_path / "study")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}
    environment["PYTHONNOUSERSITE"] = "1"
    completed = subprocess.run(
        ["make", "sweep", f"PYTHON={sys.executable} -I -S"],  # -S: no site-packages
        cwd=tmp_path / "study",
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert completed.returncode != 0
    assert "optsweep cannot be imported by PYTHON=" in completed.stderr
    assert "make sweep PYTHON=path/to/venv/bin/python" in completed.stderr
    assert not (tmp_path / "study" / "results").exists()
