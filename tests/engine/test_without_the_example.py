"""Deleting the example leaves the engine, its tests and its reporting working.

The repository is copied without the example experiment (``rosenbrock/``, ``task.py``, the
config trees, ``plots/``, ``bench/``, the example's tests), and the engine's tests run in the
copy, in processes that cannot see this checkout: a ``sitecustomize`` on ``PYTHONPATH`` drops
the checkout from ``sys.path`` (the editable install puts it there) and refuses any import of
``rosenbrock``, in every process the tests start too.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

# What belongs to the example experiment, relative to the repository.
EXAMPLE = ("rosenbrock", "task.py", "config", "experiment", "plots", "bench", "results")
# Set in the copy's test run, so that this test does not run itself there.
NESTED = "OPTSWEEP_TEST_WITHOUT_EXAMPLE"

SITECUSTOMIZE = """
import sys
from importlib.abc import MetaPathFinder
from pathlib import Path

_CHECKOUT = Path({checkout!r})
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _CHECKOUT]


class _NoExample(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "rosenbrock" or name.startswith("rosenbrock."):
            raise ImportError(f"the example was deleted: no {{name}}")
        return None


sys.meta_path.insert(0, _NoExample())
"""


def _files_without_the_example() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    kept = []
    for name in listed:
        parts = Path(name).parts
        if parts[0] in EXAMPLE:
            continue
        if parts[0] == "tests" and len(parts) == 2 and parts[1].startswith("test_"):
            continue  # the example's own tests (the engine's are in tests/engine/)
        if (ROOT / name).is_file():
            kept.append(name)
    return kept


@pytest.mark.skipif(bool(os.environ.get(NESTED)), reason="runs the engine's tests itself")
def test_the_engine_and_its_tests_pass_with_the_example_deleted(tmp_path):
    copy = tmp_path / "engine-only"
    for name in _files_without_the_example():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    assert not (copy / "rosenbrock").exists() and not (copy / "task.py").exists()
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(SITECUSTOMIZE.format(checkout=str(ROOT.resolve())))
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")},
        "PYTHONPATH": os.pathsep.join([str(guard), str(copy)]),
        NESTED: "1",
    }
    probe = subprocess.run(
        [sys.executable, "-c", "import optsweep, rosenbrock"],
        cwd=copy,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "the example was deleted" in probe.stderr
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/engine",
            "-q",
            "-m",
            "not slurm and not wheel",  # the wheel test builds from git, which the copy is not
            "-p",
            "no:cacheprovider",
        ],
        cwd=copy,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert " passed" in completed.stdout and " failed" not in completed.stdout
