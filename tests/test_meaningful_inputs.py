"""Values that would give meaningless results are refused before launch, naming the key, the
files and the accepted range; equal values spelt differently make one job and one file; a sweep
never writes over a file that is not one of its results."""

import pickle

import pytest

from conftest import run_task
from optsweep.report.table import result_files


def refused(*arguments: str, workdir) -> str:
    completed = run_task("-cp", "experiment", *arguments, "-m", workdir=workdir, check=False)
    assert completed.returncode != 0, completed.output
    assert "sweep refused before running any job" in completed.output
    assert not (workdir / "results").exists() or not result_files(workdir / "results")
    return completed.output


@pytest.mark.parametrize("budget", ["0", "-5"])
def test_a_budget_below_one_is_refused_for_every_method(budget, tmp_path):
    output = refused(f"maxfun={budget}", workdir=tmp_path)
    for key, setting in [
        ("maxfun", "lbfgsb"),
        ("maxfev", "nelder-mead"),
        ("maxfun", "tnc"),
    ]:
        assert f"method.options.{key}={budget} must be an integer >= 1" in output
        assert f"experiment/settings/{setting}.yaml" in output


def test_a_count_option_below_one_is_refused_on_the_plain_tree(tmp_path):
    completed = run_task("method=lbfgsb", "method.options.maxcor=0", workdir=tmp_path, check=False)
    assert completed.returncode != 0
    assert "method.options.maxcor=0 must be an integer >= 1 (stored corrections)" in (
        completed.output
    )
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "override, message",
    [
        ("x0=[5]", "x0=[5] has 1 coordinate(s): it needs 2 or more"),
        ("x0=null x0_random.dim=1", "x0_random.dim=1 must be an integer >= 2"),
        ("x0=[nan,1.0]", "x0=[nan, 1.0] must hold finite numbers"),
        ("x0=[1.0,inf]", "x0=[1.0, inf] must hold finite numbers"),
        ("x0=null x0_random.high=inf", "must be finite numbers"),
    ],
    ids=["x0-1d", "dim-1", "x0-nan", "x0-inf", "high-inf"],
)
def test_a_meaningless_start_is_refused_before_launch(override, message, tmp_path):
    output = refused("settings=tnc", "maxfun=10", *override.split(), workdir=tmp_path)
    assert message in output
    assert "experiment/task.yaml" in output  # where x0 is set


def test_equal_values_spelt_differently_are_one_file(tmp_path):
    spellings = ["0.1", "0.10", "1e-1"]
    outputs = [
        run_task(
            "-cp",
            "experiment",
            "settings=tnc",
            "maxfun=10",
            f"method.options.eta={value}",
            "-m",
            workdir=tmp_path,
        ).output
        for value in spellings
    ]
    files = result_files(tmp_path / "results")
    assert [f.name for f in files] == ["maxfun=10,method.options.eta=0.1.pkl"]
    assert "1 ran" in outputs[0]
    assert all("1 jobs: 1 skipped (up to date), 0 ran" in output for output in outputs[1:])


def test_one_value_swept_twice_under_two_spellings_is_refused(tmp_path):
    output = refused("settings=tnc", "maxfun=10", "method.options.eta=0.1,1e-1", workdir=tmp_path)
    assert "2 jobs are one job (their values are equal" in output
    assert "sweep each value once" in output


@pytest.mark.parametrize("plain", [True, False], ids=["plain-run", "sweep"])
def test_output_file_over_a_file_that_is_not_a_result_is_refused(plain, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    frame = tmp_path / "frame.pkl"
    frame.write_bytes(pickle.dumps({"a": [1, 2, 3]}))
    for victim in (notes, frame, tmp_path):
        before = victim.read_bytes() if victim.is_file() else None
        arguments = ["method=tnc"] if plain else ["-cp", "experiment", "settings=tnc", "maxfun=10"]
        completed = run_task(
            *arguments,
            f"output.file={victim}",
            *([] if plain else ["-m"]),
            workdir=tmp_path,
            check=False,
        )
        assert completed.returncode != 0, completed.output
        assert f"result path {victim} is" in completed.output
        assert "refusing to write over it" in completed.output
        if before is not None:
            assert victim.read_bytes() == before
            assert not victim.with_name(victim.name + ".stale").exists()


def test_output_file_over_its_own_result_reruns_and_skips(tmp_path):
    target = tmp_path / "mine.pkl"
    arguments = ("-cp", "experiment", "settings=tnc", "maxfun=10", f"output.file={target}", "-m")
    assert "1 ran" in run_task(*arguments, workdir=tmp_path).output
    assert "1 skipped (up to date)" in run_task(*arguments, workdir=tmp_path).output


@pytest.mark.parametrize("plain", [True, False], ids=["plain-run", "sweep"])
def test_an_option_of_nan_is_refused_before_launch(plain, tmp_path):
    arguments = (
        ("method=lbfgsb", "method.options.eps=nan")
        if plain
        else ("-cp", "experiment", "settings=lbfgsb", "maxfun=10", "method.options.eps=nan", "-m")
    )
    refused = run_task(*arguments, workdir=tmp_path, check=False)
    assert refused.returncode != 0
    assert "method.options.eps=nan is not a value" in refused.output
    assert not (tmp_path / "results").exists()


def test_no_method_names_the_files_to_choose_from(tmp_path):
    refused = run_task(workdir=tmp_path, check=False)
    assert refused.returncode != 0
    assert "a file of config/method/ (bfgs, cg, cobyla, cobyqa, lbfgsb, nelder-mead" in (
        refused.output
    )
    assert "l-bfgs-b" not in refused.output  # scipy's name, which method= refuses


def test_an_up_to_date_sweep_on_a_pool_launches_nothing_and_says_nothing_of_it(tmp_path):
    arguments = ("-cp", "experiment", "launcher=local", "settings=tnc", "maxfun=10,20", "-m")
    run_task(*arguments, workdir=tmp_path)
    rerun = run_task(*arguments, workdir=tmp_path)
    assert "2 jobs: 2 skipped (up to date), 0 ran, 0 failed" in rerun.output
    assert "Launching" not in rerun.output
