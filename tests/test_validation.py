"""Bad input is refused before any job runs, naming the file, the key and what is accepted."""

import shutil

import pytest

from conftest import ROOT, run_task


@pytest.fixture
def tree(tmp_path):
    """A copy of the experiment tree to break on purpose (it still inherits config/)."""
    copy = tmp_path / "experiment"
    shutil.copytree(ROOT / "experiment", copy)
    return copy


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def refused(*arguments, workdir):
    completed = run_task(*arguments, "-m", workdir=workdir, check=False)
    assert completed.returncode != 0, completed.output
    assert not (workdir / "results").exists(), "a job ran before the refusal"
    return completed.output


def test_misspelt_option_in_the_last_settings_file_stops_the_whole_sweep(tree, tmp_path):
    edit(tree / "settings" / "tnc.yaml", "maxfun: ${maxfun}", "maxfunn: ${maxfun}")
    output = refused("-cp", str(tree), workdir=tmp_path)
    assert "method 'TNC' has no option 'maxfunn'" in output
    assert "did you mean 'maxfun'?" in output
    assert "it accepts: eps, scale, offset" in output
    assert str(tree / "settings" / "tnc.yaml") in output
    assert "in 15 job(s)" in output


def test_unknown_option_on_the_command_line(tmp_path):
    output = refused("-cp", "experiment", "settings=tnc", "+method.options.foo=1", workdir=tmp_path)
    assert "has no option 'foo'" in output and "maxCGit" in output
    output = refused("-cp", "experiment", "settings=tnc", "method.options.foo=1", workdir=tmp_path)
    assert "method.options.foo" in output


def test_misspelt_top_level_key_in_a_settings_file(tree, tmp_path):
    edit(tree / "settings" / "lbfgsb.yaml", "jac: 2-point", "jacc: 2-point")
    output = refused("-cp", str(tree), workdir=tmp_path)
    assert "top-level key 'jacc' is not a task key" in output
    assert "did you mean 'jac'?" in output
    assert str(tree / "settings" / "lbfgsb.yaml") in output


def test_misspelt_top_level_key_in_the_experiment_file(tree, tmp_path):
    edit(tree / "task.yaml", "x0: [-0.5, -0.5]", "xo: [-0.5, -0.5]")
    output = refused("-cp", str(tree), workdir=tmp_path)
    assert "top-level key 'xo' is not a task key" in output and "did you mean 'x0'?" in output
    assert str(tree / "task.yaml") in output


def test_misspelt_nested_task_key(tmp_path):
    output = refused("-cp", "experiment", "settings=tnc", "+x0_random.dimm=3", workdir=tmp_path)
    assert "'x0_random.dimm' is not a task key" in output
    assert "did you mean 'x0_random.dim'?" in output


def test_wrongly_typed_sweep_value(tmp_path):
    output = refused("-cp", "experiment", "maxfun=10,abc", workdir=tmp_path)
    assert "method.options.maxfun='abc' must be an integer" in output
    assert "method.options.maxfev='abc' must be an integer" in output  # Nelder-Mead


def test_wrongly_typed_task_values(tmp_path):
    assert "seed=-1 must be a non-negative integer" in refused(
        "-cp", "experiment", "settings=tnc", "maxfun=10", "seed=-1", workdir=tmp_path
    )
    assert "x0=['a', 1] must be null or a list of numbers" in refused(
        "-cp", "experiment", "settings=tnc", "maxfun=10", "x0=[a,1]", workdir=tmp_path
    )
    assert "jac='4-point' is not one of" in refused(
        "-cp", "experiment", "settings=lbfgsb", "maxfun=10", "jac=4-point", workdir=tmp_path
    )


def test_gradient_for_a_gradient_free_method_is_refused(tmp_path):
    output = refused("-cp", "experiment", "settings=nelder-mead", "jac=2-point", workdir=tmp_path)
    assert "does not use gradients" in output


def test_plain_run_without_a_method_names_the_choices(tmp_path):
    completed = run_task(workdir=tmp_path, check=False)
    assert completed.returncode != 0
    assert "no method selected: add method=<name>" in completed.output
    assert "nelder-mead" in completed.output


def test_dry_run_lists_every_job_and_runs_none(tmp_path):
    output = run_task(
        "-cp", "experiment", "hydra.sweeper.dry_run=true", "-m", workdir=tmp_path
    ).output
    assert not (tmp_path / "results").exists()
    lines = [line for line in output.splitlines() if line.startswith("#")]
    assert len(lines) == 45
    assert all("run (no result)" in line for line in lines)
    assert "settings=nelder-mead maxfun=70" in output
    assert str(tmp_path / "results" / "settings=tnc" / "maxfun=150.pkl") in output
    assert "dry run: 45 jobs, 45 would run, 0 would be skipped; nothing was run" in output

    run_task("-cp", "experiment", "settings=tnc", "-m", workdir=tmp_path)
    output = run_task(
        "-cp", "experiment", "hydra.sweeper.dry_run=true", "-m", workdir=tmp_path
    ).output
    assert "dry run: 45 jobs, 30 would run, 15 would be skipped" in output
    assert output.count("skip (up to date)") == 15


@pytest.mark.parametrize(
    ("override", "said"),
    [
        (
            "settings=glob(tnx*)",
            "settings=glob(tnx*) lists no value, so the sweep has no job (the options of "
            "settings: lbfgsb, nelder-mead, tnc)",
        ),
        ("seed=range(0,0)", "seed=range(0,0) lists no value, so the sweep has no job"),
    ],
)
def test_a_sweep_of_no_job_is_refused_naming_the_override(tmp_path, override, said):
    """A misspelt glob made a sweep that ran nothing and ended with status 0."""
    output = refused("-cp", "experiment", override, workdir=tmp_path)
    assert said in output and "Traceback" not in output


def test_a_misspelt_interpolation_is_named_not_the_variable_it_meant(tree, tmp_path):
    """``${maxfn}`` leaves ``maxfun`` unused: the message names the interpolation."""
    edit(tree / "settings" / "tnc.yaml", "maxfun: ${maxfun}", "maxfun: ${maxfn}")
    output = refused("-cp", str(tree), workdir=tmp_path)
    assert "'${maxfn}' names no key; did you mean '${maxfun}'?" in output
    assert str(tree / "settings" / "tnc.yaml") in output and "in 15 job(s)" in output
