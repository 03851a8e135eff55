"""python -m optsweep.report.compare: two result sets, job by job, within a tolerance."""

import shutil
import subprocess
import sys

import pytest

from conftest import run_task
from optsweep.engine.store import ResultStore
from rosenbrock import ROSENBROCK

STORE = ResultStore(ROSENBROCK)  # the example's own store: edited copies keep their types


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("compare")
    run_task("-cp", "experiment", "settings=tnc,lbfgsb", "maxfun=10,20", "-m", workdir=workdir)
    return workdir / "results"


def copy(results, destination, relative: float = 0.0, job: str | None = None):
    """A copy of ``results``, with ``fun`` (of every job, or of ``job``) scaled by 1 + relative,
    rewritten through the store so the files stay valid."""
    shutil.copytree(results, destination)
    for path, record in STORE.load_all(destination):
        if relative and (job is None or path.relative_to(destination).as_posix() == job):
            record["result"].fun = record["result"].fun * (1 + relative)
            record["scalars"] = STORE.experiment.scalars_of(record["result"])
            STORE.save(path, record)
    return destination


def compare(*arguments):
    """``optsweep compare`` (the alias ``python -m optsweep.report.compare``: test_aliases)."""
    return subprocess.run(
        [sys.executable, "-m", "optsweep.cli", "compare", *map(str, arguments)],
        capture_output=True,
        text=True,
    )


def test_the_module_alias_runs_the_same_command(results, tmp_path):
    alias = [sys.executable, "-m", "optsweep.report.compare", str(results), str(results)]
    completed = subprocess.run(alias, capture_output=True, text=True)
    assert completed.returncode == 0 and "4 jobs: 4 agree" in completed.stdout


def test_the_same_results_agree(results, tmp_path):
    completed = compare(results, copy(results, tmp_path / "theirs"))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "4 jobs: 4 agree within rtol=1e-06, atol=1e-12; 0 do not" in completed.stdout


def test_differences_in_the_tenth_digit_agree(results, tmp_path):
    theirs = copy(results, tmp_path / "theirs", relative=1e-10)
    assert compare(results, theirs).returncode == 0


def test_a_real_difference_is_named_and_fails(results, tmp_path):
    theirs = copy(results, tmp_path / "theirs", 1e-3, job="settings=tnc/maxfun=20.pkl")
    completed = compare(results, theirs)
    assert completed.returncode == 1
    (line,) = [line for line in completed.stdout.splitlines() if line.startswith("differs")]
    assert line.startswith("differs: settings=tnc/maxfun=20.pkl: result fun: ")
    assert "4 jobs: 3 agree" in completed.stdout
    assert compare(results, theirs, "--rtol", "1e-2").returncode == 0  # looser: agrees


def test_a_config_difference_is_named(results, tmp_path):
    theirs = copy(results, tmp_path / "theirs")
    path = theirs / "settings=tnc" / "maxfun=20.pkl"
    record = STORE.load(path)
    record["config"]["method"]["options"]["eta"] = 0.9
    STORE.save(path, record)
    completed = compare(results, theirs)
    assert completed.returncode == 1
    assert "differs: settings=tnc/maxfun=20.pkl: config method.options.eta: 0.5 vs 0.9" in (
        completed.stdout
    )


def test_a_missing_job_fails_naming_it(results, tmp_path):
    theirs = copy(results, tmp_path / "theirs")
    (theirs / "settings=lbfgsb" / "maxfun=10.pkl").unlink()
    completed = compare(results, theirs)
    assert completed.returncode == 1
    assert f"only in {results}: settings=lbfgsb/maxfun=10.pkl" in completed.stdout
    assert f"4 jobs: 3 agree within rtol=1e-06, atol=1e-12; 1 do not (1 only in {results})" in (
        completed.stdout
    )


def test_results_of_other_versions_are_noted_side_by_side(results, tmp_path):
    """A job that differs, from another Python: the note says which side has which version,
    and the count which kind of disagreement each job is."""
    theirs = copy(results, tmp_path / "theirs", 1e-3, job="settings=tnc/maxfun=20.pkl")
    for path, record in STORE.load_all(theirs):
        record["meta"]["versions"]["python"] = "3.12.3"
        STORE.save(path, record)
    ours = STORE.load(results / "settings=tnc" / "maxfun=20.pkl")["meta"]["versions"]["python"]
    completed = compare(results, theirs)
    assert completed.returncode == 1
    assert (
        f"note: made by different code or packages: {results} has python {ours}; "
        f"{theirs} has python 3.12.3"
    ) in completed.stdout
    assert "4 jobs: 3 agree within rtol=1e-06, atol=1e-12; 1 do not (1 differ)" in (
        completed.stdout
    )


def test_a_missing_directory_is_bad_input(results, tmp_path):
    completed = compare(results, tmp_path / "nowhere")
    assert completed.returncode == 2
    assert f"{tmp_path / 'nowhere'} does not exist" in completed.stderr
