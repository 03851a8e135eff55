"""make env cannot poison itself: an unsupported Python is named and refused, a failed set-up
leaves no half-made .venv, and a .venv made by another interpreter than the one asked for is
rebuilt. Real make, real interpreters, real venv and pip (made to fail fast with no index)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

BASE = Path(getattr(sys, "_base_executable", sys.executable)).resolve()


def make_env(venv, *variables, offline=False):
    environment = dict(os.environ)
    if offline:  # no package source: pip fails at once, as it would without a network
        empty = venv.parent / "no-packages"
        empty.mkdir(exist_ok=True)
        environment.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(empty))
    completed = subprocess.run(
        ["make", "-C", str(ROOT), "env", f"VENV={venv}", *variables],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    completed.output = completed.stdout + completed.stderr
    return completed


def test_an_unsupported_python_is_named_and_refused(tmp_path):
    venv = tmp_path / "venv"
    completed = make_env(venv, f"PYTHON={BASE}", "MIN_PYTHON=3.99")
    assert completed.returncode != 0
    version = ".".join(map(str, sys.version_info[:3]))
    assert f"'{BASE}' is Python {version}; this project needs Python 3.99 or newer" in (
        completed.output
    )
    assert not venv.exists()


def test_a_failed_set_up_leaves_no_half_made_venv(tmp_path):
    venv = tmp_path / "venv"
    completed = make_env(venv, f"PYTHON={BASE}", offline=True)
    assert completed.returncode != 0
    assert f"set-up failed (exit 1): removed the half-made {venv}" in completed.output
    assert not venv.exists()


def other_interpreter() -> Path | None:
    for name in ("python3.11", "python3.12", "python3.13", "python3"):
        for directory in ("/usr/bin", "/usr/local/bin"):
            candidate = Path(directory) / name
            if candidate.is_file() and candidate.resolve() != BASE:
                return candidate
    return None


def test_a_venv_made_by_another_python_is_rebuilt_with_the_one_asked_for(tmp_path):
    other = other_interpreter()
    if other is None:
        pytest.skip("no second Python interpreter on this machine")
    venv = tmp_path / "venv"
    subprocess.run([str(BASE), "-m", "venv", "--without-pip", str(venv)], check=True)
    completed = make_env(venv, f"PYTHON={other}", offline=True)
    assert f"{venv} was made by Python" in completed.output
    assert f"not by '{other}'" in completed.output and "removing it to rebuild" in completed.output
    assert not venv.exists()  # removed, and the rebuild (offline here) left nothing half-made


def test_a_venv_is_kept_when_no_python_is_named(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([str(BASE), "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / ".installed").touch()
    newest = max(os.path.getmtime(ROOT / name) for name in ("pyproject.toml", "constraints.txt"))
    os.utime(venv / ".installed", (newest + 10,) * 2)  # the stamp is newer: nothing to do
    completed = make_env(venv)
    assert completed.returncode == 0, completed.output
    assert (venv / "bin" / "python").exists()
    shutil.rmtree(venv)
