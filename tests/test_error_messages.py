"""Errors that point the right way: a line or two naming the file to fix, no traceback, a
non-zero exit and nothing run, for a YAML syntax error or a broken interpolation in any file
of either tree, a group choice that does not exist, and a sweep run without -m."""

import shutil

import pytest

from conftest import ROOT, run_task

METHODS = "bfgs, cg, cobyla, cobyqa, lbfgsb, nelder-mead, powell, slsqp, tnc"


@pytest.fixture
def trees(tmp_path):
    """Copies of both trees to break on purpose: ``<tmp>/config`` and ``<tmp>/experiment``,
    which reaches the copy of config/ through its hydra.searchpath."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "experiment", tmp_path / "experiment")
    edit(tmp_path / "experiment" / "task.yaml", "${project_path:config}", f"{tmp_path}/config")
    edit(tmp_path / "experiment" / "task.yaml", "${project_path:}", str(tmp_path))
    return tmp_path


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def short_error(*arguments, workdir) -> str:
    """The message of a command that must fail before running any job, in a line or two."""
    completed = run_task(*arguments, workdir=workdir / "run", check=False)
    output = completed.output
    assert completed.returncode != 0, output
    assert "Traceback" not in output, output
    assert not (workdir / "run" / "results").exists(), "a job ran"
    message = [line for line in output.splitlines() if line and not line.startswith("[")]
    assert 1 <= len(message) <= 2, output
    return output


@pytest.fixture(autouse=True)
def run_dir(tmp_path):
    (tmp_path / "run").mkdir()


# (file in the copies, text, broken text, command, where PyYAML finds the error, its message)
YAML_ERRORS = [
    pytest.param(
        "experiment/settings/tnc.yaml",
        "    eta: 0.5",
        "   eta: 0.5",
        ("-m",),
        ":8:4: YAML syntax error: did not find expected key (while parsing a block mapping "
        "that starts at 6:3)",
        id="settings-bad-indent-sweep",
    ),
    pytest.param(
        "experiment/settings/tnc.yaml",
        "maxfun: ${maxfun}",
        "maxfun: [${maxfun}",
        ("settings=tnc", "maxfun=10"),
        ":7:15: YAML syntax error: did not find expected ',' or ']' (while parsing a flow "
        "sequence that starts at 7:13)",
        id="settings-unclosed-bracket-plain-run",
    ),
    pytest.param(
        "experiment/task.yaml",
        "x0: [-0.5, -0.5]",
        "x0: [-0.5, -0.5",
        ("-m",),
        ":26:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow "
        "sequence that starts at 23:5)",
        id="experiment-task-sweep",
    ),
    pytest.param(
        "experiment/search/tnc.yaml",
        "maxfun: 100",
        "maxfun: 100\n  budget: 3",
        ("search=tnc", "-m"),
        ":9:9: YAML syntax error: mapping values are not allowed in this context",
        id="search-sweep",
    ),
    pytest.param(
        "experiment/launcher/local.yaml",
        "hydra:",
        "hydra:\n\tn_jobs: 2",
        ("launcher=local", "-m"),
        ":9:1: YAML syntax error: found character that cannot start any token",
        id="launcher-tab-sweep",
    ),
    pytest.param(
        "config/task.yaml",
        "seed: 0",
        "seed: 0\n  other: 1",
        ("settings=tnc", "-m"),
        ":20:8: YAML syntax error: mapping values are not allowed in this context",
        id="config-task-via-searchpath-sweep",
    ),
    pytest.param(
        "config/method/tnc.yaml",
        "eta: null",
        "eta: [null",
        ("settings=tnc", "-m"),
        ":12:9: YAML syntax error: did not find expected ',' or ']' (while parsing a flow "
        "sequence that starts at 11:8)",
        id="config-method-via-searchpath-sweep",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "arguments", "expected"), YAML_ERRORS)
def test_yaml_error_in_the_experiment_tree_names_file_line_and_column(
    trees, file, old, new, arguments, expected
):
    edit(trees / file, old, new)
    output = short_error("-cp", str(trees / "experiment"), *arguments, workdir=trees)
    assert f"{trees / file}{expected}" in output


@pytest.mark.parametrize(
    ("file", "old", "expected"),
    [
        ("config/task.yaml", "x0: null", "starts at 10:5"),
        ("config/method/tnc.yaml", "eta: null", "starts at 11:8"),
    ],
)
def test_yaml_error_in_the_plain_tree_names_file_line_and_column(trees, file, old, expected):
    edit(trees / file, old, old.replace(": ", ": ["))
    output = short_error("-cp", str(trees / "config"), "method=tnc", workdir=trees)
    assert f"{trees / file}:" in output
    assert "YAML syntax error: did not find expected ',' or ']'" in output
    assert f"(while parsing a flow sequence that {expected})" in output


@pytest.mark.parametrize(
    ("entry", "arguments"),
    [
        pytest.param("- /method: newton", ("-m",), id="tutorial-form-sweep"),
        pytest.param(
            "- override /method: newton", ("settings=tnc", "maxfun=10"), id="override-plain-run"
        ),
    ],
)
def test_settings_file_choosing_a_missing_method_is_named(trees, entry, arguments):
    settings = trees / "experiment" / "settings" / "tnc.yaml"
    edit(settings, "- /method: tnc", entry)
    output = short_error("-cp", str(trees / "experiment"), *arguments, workdir=trees)
    assert f"{settings}: '{entry}' chooses an option of method that does not exist" in output
    assert f"no newton.yaml in {trees / 'config' / 'method'}/" in output
    assert f"The options of method are: {METHODS}" in output
    assert "config/task" not in output  # not the file that first chose the group


def test_search_file_choosing_a_missing_setting_is_named(trees):
    search = trees / "experiment" / "search" / "tnc.yaml"
    edit(search, "override /settings: tnc", "override /settings: tnc2")
    output = short_error("-cp", str(trees / "experiment"), "search=tnc", "-m", workdir=trees)
    assert f"{search}: '- override /settings: tnc2' chooses an option of settings" in output
    assert f"no tnc2.yaml in {trees / 'experiment' / 'settings'}/" in output
    assert "The options of settings are: lbfgsb, nelder-mead, tnc" in output


def test_experiment_tree_without_multirun_says_to_add_m(tmp_path):
    output = short_error("-cp", "experiment", workdir=tmp_path)
    assert "refused: this config tree is a sweep over settings, maxfun" in output
    assert "run it with -m: python task.py -cp experiment output.dir=" in output
    assert "one job without -m needs settings=<value> maxfun=<value> too" in output


def test_one_setting_without_multirun_says_to_add_m_or_the_sweep_variable(tmp_path):
    output = short_error("-cp", "experiment", "settings=tnc", workdir=tmp_path)
    assert "run it with -m: python task.py -cp experiment settings=tnc output.dir=" in output
    assert "one job without -m needs maxfun=<value> too" in output
    assert "MissingMandatoryValue" not in output
    run_task("-cp", "experiment", "settings=tnc", "maxfun=10", workdir=tmp_path / "run")
    assert (tmp_path / "run" / "results" / "settings=tnc" / "maxfun=10.pkl").is_file()


def test_plain_run_without_a_method_keeps_its_message_without_a_traceback(tmp_path):
    output = short_error(workdir=tmp_path)
    assert "refused: no method selected: add method=<name>" in output
    assert "nelder-mead" in output


def test_plain_run_with_a_bad_value_is_refused_without_a_traceback(tmp_path):
    output = short_error("method=tnc", "seed=-1", workdir=tmp_path)
    assert "refused: seed=-1 must be a non-negative integer" in output


@pytest.mark.parametrize(
    ("file", "old", "new", "arguments", "expected"),
    [
        pytest.param(
            "experiment/settings/tnc.yaml",
            "maxfun: ${maxfun}",
            "maxfun: ${maxfun",
            ("-m",),
            ":7: method.options.maxfun is not a valid interpolation (no viable alternative at "
            "input '${maxfun'): write ${key}",
            id="settings-sweep",
        ),
        pytest.param(
            "experiment/settings/tnc.yaml",
            "maxfun: ${maxfun}",
            "maxfun: ${maxfun",
            ("settings=tnc", "maxfun=10"),
            ":7: method.options.maxfun is not a valid interpolation",
            id="settings-plain-run",
        ),
        pytest.param(
            "config/task.yaml",
            "seed: 0",
            "seed: ${}",
            ("settings=tnc", "-m"),
            ":19: seed is not a valid interpolation",
            id="config-task-via-searchpath-sweep",
        ),
    ],
)
def test_a_broken_interpolation_names_file_line_and_key(trees, file, old, new, arguments, expected):
    """OmegaConf's grammar error names the key alone (``full_key: method.options.maxfun``):
    the message names the file and the key's line, once."""
    edit(trees / file, old, new)
    output = short_error("-cp", str(trees / "experiment"), *arguments, workdir=trees)
    assert f"{trees / file}{expected}" in output
    assert "full_key" not in output


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(("settings=tnc", "method.options.maxfun=7", "-m"), id="sweep"),
        pytest.param(("settings=tnc", "maxfun=10", "method.options.maxfun=7"), id="plain-run"),
    ],
)
def test_an_override_of_the_value_a_setting_maps_a_variable_onto_is_named(tmp_path, arguments):
    """``method.options.maxfun=7`` replaces the settings file's ``maxfun: ${maxfun}``, so the
    swept maxfun is used by nothing: the refusal names that override and the file, and says
    to set maxfun instead; not that maxfun is no task key."""
    completed = run_task("-cp", "experiment", *arguments, workdir=tmp_path / "run", check=False)
    output = completed.output
    assert completed.returncode != 0 and "Traceback" not in output, output
    assert not (tmp_path / "run" / "results").exists(), "a job ran"
    assert (
        "top-level key 'maxfun' is set, but nothing uses it: the override "
        "method.options.maxfun=7 replaces experiment/settings/tnc.yaml's method.options.maxfun: "
        "${maxfun}, which maps maxfun onto it; drop method.options.maxfun=7 and set maxfun "
        "instead (maxfun=7)"
    ) in output
    assert "is not a task key" not in output


def test_a_multirun_of_the_plain_tree_refuses_a_bad_job_without_a_traceback(tmp_path):
    """The plain tree's -m runs Hydra's basic sweeper, which does not check jobs first: the
    bad job is refused in a line naming it (exit 1), as a plain run's is, not with the
    check's traceback."""
    completed = run_task("method=tnc,lbfgsb", "seed=-1", "-m", workdir=tmp_path, check=False)
    assert completed.returncode == 1, completed.output
    assert "Traceback" not in completed.output, completed.output
    assert "refused: job [method=tnc seed=-1 " in completed.output
    assert "seed=-1 must be a non-negative integer" in completed.output
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("search", ["tnc", "tnc-optuna"])
def test_a_search_of_a_key_a_setting_maps_from_a_sweep_variable_is_refused_first(trees, search):
    """Searching method.options.maxfun, which settings/tnc.yaml maps from maxfun: every
    evaluation would leave maxfun unused, and the experiment's key check would refuse each
    one. Refused before any evaluation, saying to search maxfun itself."""
    file = trees / "experiment" / "search" / f"{search}.yaml"
    edit(
        file,
        "method.options.eta: tag(log, interval(0.001, 1))",
        "method.options.maxfun: int(interval(10, 100))",
    )
    completed = run_task(
        "-cp",
        str(trees / "experiment"),
        f"search={search}",
        "-m",
        workdir=trees / "run",
        check=False,
    )
    assert completed.returncode != 0 and "Traceback" not in completed.output, completed.output
    assert "search refused before any evaluation" in completed.output
    assert (
        "the config maps the sweep variable maxfun onto method.options.maxfun "
        "(method.options.maxfun: ${maxfun}), so every evaluation would leave maxfun unused"
    ) in completed.output
    assert "search maxfun itself instead" in completed.output
    assert not (trees / "run" / "results").exists()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "maxfun: range(10, 151, 10)",
            "maxfunn: range(10, 151, 10)",
            "hydra.sweeper.overrides: maxfunn: range(10, 151, 10): Could not override 'maxfunn'. "
            "Key 'maxfunn' is not in struct. Did you mean: 'maxfun'?",
            id="key",
        ),
        pytest.param(
            "settings: glob(*)",
            "settings: tnc,lbfgsbb",
            "hydra.sweeper.overrides: settings: tnc,lbfgsbb: In 'task': Could not find "
            "'settings/lbfgsbb'",
            id="option",
        ),
    ],
)
def test_a_typo_in_the_sweeps_own_list_names_its_file(trees, old, new, expected):
    """A misspelt key or option in experiment/task.yaml's hydra.sweeper.overrides: Hydra's
    message reads as if it had been typed on the command line ('To append to your config use
    +maxfunn=10'); the refusal names the file and the entry."""
    edit(trees / "experiment" / "task.yaml", old, new)
    completed = run_task("-cp", str(trees / "experiment"), "-m", workdir=trees / "run", check=False)
    assert completed.returncode != 0 and "Traceback" not in completed.output, completed.output
    assert f"{trees / 'experiment' / 'task.yaml'}: {expected}" in completed.output
    assert "To append to your config" not in completed.output
    assert not (trees / "run" / "results").exists()
