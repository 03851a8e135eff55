"""``Experiment.imports``: the modules a job imports only when it runs are imported by a pool's
workers while the sweep or search is checked, so that a worker's first job finds them
imported; a module a worker cannot import is named in a warning and the jobs run as without
it; a value that is no tuple of module names is refused before anything runs."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

TASK = """
import os
import sys
import time

import hydra

from optsweep import Experiment

LAZY = Experiment(name="lazy", objective="x", imports={imports})


@hydra.main(config_path="config", config_name="task")
@LAZY.task
def main(config: dict) -> dict:
    warm = "lazymod" in sys.modules  # imported before this job, by the worker's warm-up
    import lazymod

    return {{"x": float(config["x"]), "warm": warm, "pid": os.getpid(), "at": time.time()}}


if __name__ == "__main__":
    main()
"""

# Writes when and in which process it was imported, and whether the warm-up imported it.
LAZYMOD = """
import inspect
import os
import time
from pathlib import Path

_BY_WARM_UP = any(frame.function == "import_modules" for frame in inspect.stack())
with (Path(__file__).parent / "imports.log").open("a") as log:
    log.write(f"{os.getpid()} {_BY_WARM_UP} {time.time()}\\n")
"""

CONFIG = """
defaults:
  - override hydra/sweeper: checked_experiment
  - override hydra/launcher: joblib
  - _self_
x: 0
hydra:
  launcher:
    n_jobs: 2
  sweeper:
"""

SWEEP = """
    overrides:
      x: range(0, 200)
"""

SEARCH = """
    search:
      optim:
        optimizer: OnePlusOne
        budget: 4
        num_workers: 2
        seed: 0
      params:
        x: interval(0.0, 1.0)
"""


def lazy_project(root: Path, imports: str, *, search: bool = False) -> Path:
    (root / "config").mkdir(parents=True)
    config = CONFIG + (SEARCH if search else SWEEP)
    (root / "config" / "task.yaml").write_text(config)
    (root / "task.py").write_text(TASK.format(imports=imports))
    (root / "lazymod.py").write_text(textwrap.dedent(LAZYMOD))
    return root


def sweep(project: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(project / "task.py"), "-m", *arguments],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )


def results(project: Path) -> list[dict]:
    from optsweep.engine.experiment import Experiment
    from optsweep.engine.store import ResultStore

    store = ResultStore(Experiment(name="lazy"))
    return [store.load(path)["result"] for path in sorted((project / "results").rglob("*.pkl"))]


def test_the_workers_import_them_before_their_first_job(tmp_path):
    project = lazy_project(tmp_path / "lazy", '("lazymod",)')
    ran = sweep(project)
    assert ran.returncode == 0, ran.stderr
    assert "200 jobs: 0 skipped (up to date), 200 ran, 0 failed" in ran.stdout + ran.stderr
    imports = [line.split() for line in (project / "imports.log").read_text().splitlines()]
    warmed = {int(pid): float(at) for pid, by_warm_up, at in imports if by_warm_up == "True"}
    assert warmed, imports  # at least one worker took a warm-up (each takes one, as a rule)
    jobs = results(project)
    assert len(jobs) == 200
    for job in jobs:
        if job["pid"] in warmed:
            assert job["warm"] and job["at"] > warmed[job["pid"]]


def test_without_them_the_first_job_of_a_worker_imports_them(tmp_path):
    """The case the field is for: without it, a worker's first job pays for the import."""
    project = lazy_project(tmp_path / "lazy", "()")
    ran = sweep(project)
    assert ran.returncode == 0, ran.stderr
    imports = [line.split() for line in (project / "imports.log").read_text().splitlines()]
    assert imports and all(by_warm_up == "False" for _, by_warm_up, _ in imports)
    assert not all(job["warm"] for job in results(project))


@pytest.mark.parametrize("search", [False, True], ids=["sweep", "search"])
def test_a_module_a_worker_cannot_import_is_named_and_the_jobs_run(tmp_path, search):
    project = lazy_project(tmp_path / "lazy", '("lazymod", "lazymd")', search=search)
    ran = sweep(project)
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    assert "Experiment 'lazy': imports 'lazymd' (ModuleNotFoundError: No module named" in output
    assert "could not be imported in a pool worker; fix Experiment.imports in" in output
    assert str(project / "task.py") in output
    assert output.count("imports 'lazymd'") == 1  # once, not once per worker
    if search:
        progress = yaml.safe_load((project / "results/search/progress.yaml").read_text())
        assert progress["evaluations"] == 4 and progress["failures"] == 0
    else:
        assert len(results(project)) == 200


@pytest.mark.parametrize(
    "imports, said",
    [
        ('"lazymod"', "imports='lazymod', expected a tuple of module names"),
        ('("lazy mod",)', "imports holds 'lazy mod', which is no module name"),
        ("(3,)", "imports holds 3, which is no module name"),
    ],
)
def test_a_value_that_names_no_modules_is_refused_before_anything_runs(tmp_path, imports, said):
    project = lazy_project(tmp_path / "lazy", imports)
    ran = sweep(project, "hydra.sweeper.dry_run=true")
    assert ran.returncode != 0
    assert f"Experiment 'lazy': {said}" in ran.stderr
    assert not (project / "results").exists() and not (project / "imports.log").exists()
