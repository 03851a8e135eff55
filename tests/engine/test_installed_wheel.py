"""The tool as users get it: the wheel built from this repository, installed (not editable)
into a fresh virtual environment outside the repository with the pinned dependencies, and
used from a directory holding no file of the repository: ``optsweep --help``, ``optsweep new``
and the new project's ``make sweep`` and ``make test``.

Slow (it installs every dependency from the package index pip is configured with): marked
``wheel``; ``pytest -m "not wheel"`` leaves it out.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.wheel


def sh(command: list[str], cwd: Path, env: dict | None = None, timeout: float = 1800):
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done


def repository_files(destination: Path) -> Path:
    """The repository's files as git sees them (tracked, or new and not ignored): a wheel
    built from them holds nothing a local build or cache left behind."""
    names = sh(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT
    ).stdout.split()
    for name in names:
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            (destination / name).write_bytes(source.read_bytes())
    return destination


def test_the_installed_wheel_makes_a_project_whose_commands_pass(tmp_path, tmp_path_factory):
    # Built apart from where it is used: the copy of the sources is deleted once built.
    source = repository_files(tmp_path_factory.mktemp("source"))
    sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
        str(source)], cwd=tmp_path)  # fmt: skip
    shutil.rmtree(source)
    (wheel,) = (tmp_path / "dist").glob("optsweep-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if "rosenbrock" in n], "the example is not in the wheel"
    assert not [n for n in names if n.startswith(("tests/", "plots/", "bench/", "task.py"))]
    assert "optsweep/templates/project/.gitignore" in names
    assert "optsweep/templates/project/experiment/settings/svm.yaml" in names
    assert "hydra_plugins/optsweep_sweeper/tree_source.py" in names
    template = subprocess.run(
        ["git", "ls-files", "optsweep/templates/project"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert sorted(n for n in names if n.startswith("optsweep/templates/project/")) == sorted(
        template
    )

    venv = tmp_path / "venv"  # outside the repository
    sh([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("HYDRA_", "PYTHON", "VIRTUAL_ENV"))
    }
    environment["PATH"] = os.pathsep.join([str(venv / "bin"), environment.get("PATH", "")])
    # Non-editable, with the pinned dependencies (and pytest, for the project's make test).
    install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    install += [f"{wheel}[test]", "-c", str(ROOT / "constraints.txt")]
    sh(install, cwd=tmp_path, env=environment)

    work = tmp_path / "work"  # no file of the repository here or above
    work.mkdir()
    where = sh([str(python), "-c", "import optsweep; print(optsweep.__file__)"], work,
               environment).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(venv), where
    assert "new" in sh(["optsweep", "--help"], work, environment).stdout
    created = sh(["optsweep", "new", "study"], work, environment)
    assert "experiment 'study'" in created.stdout
    project = work / "study"
    pin = f'dependencies = ["optsweep=={metadata.version("optsweep")}"]'
    assert pin in (project / "pyproject.toml").read_text()

    sweep = sh(["make", "sweep", f"PYTHON={python}"], project, environment)
    assert "30 jobs: 0 skipped (up to date), 30 ran, 0 failed" in sweep.stdout + sweep.stderr
    assert (project / "plots" / "accuracy.pdf").is_file()
    assert (project / "plots" / "accuracy.png").is_file()
    tests = sh(["make", "test", f"PYTHON={python}"], project, environment)
    assert " passed" in tests.stdout and "failed" not in tests.stdout
