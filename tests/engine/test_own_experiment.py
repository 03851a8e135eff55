"""The engine is reusable: a second experiment (tests/quadratic/: its own task function, config
trees and option group) runs through it with checks, dry run, resume and results, and Hydra
callbacks run once per job on every launcher. Nothing in optsweep.engine knows it."""

import shutil
import subprocess
import sys

import pytest

from conftest import QUADRATIC, ROOT, run_task
from optsweep.engine.store import ResultStore, result_files

sys.path.append(str(QUADRATIC))  # after the repository: its task.py must not shadow ours
from quadratic import QUADRATIC as EXPERIMENT  # noqa: E402
from quadratic import descend, record  # noqa: E402

TASK = QUADRATIC / "task.py"
JOBS = [(setting, budget) for setting in ("steep", "unit") for budget in (1, 2, 3)]


def run_quadratic(*arguments, workdir, check=True):
    return run_task(*arguments, workdir=workdir, script=TASK, check=check)


def test_the_engine_does_not_import_the_example():
    code = (
        "import sys, optsweep.engine.sweep, optsweep.engine.runner, optsweep.engine.store; "
        "print(sorted(m for m in sys.modules if m.startswith(('rosenbrock', "
        "'optsweep.report', 'scipy'))))"
    )
    imported = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.strip()
    assert imported == "[]"


def test_sweep_checks_records_and_resumes(tmp_path):
    completed = run_quadratic("-cp", "experiment", "-m", workdir=tmp_path)
    assert "6 jobs: 0 skipped (up to date), 6 ran, 0 failed" in completed.output
    store = ResultStore(EXPERIMENT)
    files = result_files(tmp_path / "results")
    assert [(p.parent.name, p.name) for p in files] == [
        (f"settings={s}", f"budget={b}.pkl") for s, b in JOBS
    ]
    for path, (setting, budget) in zip(files, JOBS, strict=True):
        saved = store.load(path)
        assert (
            saved["config"]["steps"] == budget and saved["meta"]["choices"]["settings"] == setting
        )
        assert saved["result"]["f"] == descend(saved["config"])["f"]
        assert saved["config"] == record({k: v for k, v in saved["config"].items() if k != "start"})

    rerun = run_quadratic("-cp", "experiment", "-m", workdir=tmp_path)
    assert "6 jobs: 6 skipped (up to date), 0 ran, 0 failed" in rerun.output
    dry = run_quadratic(
        "-cp", "experiment", "budget=3,4", "hydra.sweeper.dry_run=true", "-m", workdir=tmp_path
    )
    assert dry.output.count("skip (up to date)") == 2 and dry.output.count("run (no result)") == 2
    assert "dry run: 4 jobs, 2 would run, 2 would be skipped" in dry.output


@pytest.mark.parametrize(
    "override, message",
    [
        ("budget=0", "steps=0 must be a positive integer"),
        ("+scale.factr=2", "key 'scale.factr' is not a task key (scale.factor)"),
        ("+rat=0.1", "top-level key 'rat' is not a task key"),
    ],
    ids=["value", "group-key", "top-level-key"],
)
def test_bad_input_is_refused_before_any_job(tmp_path, override, message):
    completed = run_quadratic("-cp", "experiment", override, "-m", workdir=tmp_path, check=False)
    assert completed.returncode == 1
    assert (
        "sweep refused before running any job" in completed.output and message in completed.output
    )
    assert not (tmp_path / "results").exists()


def events(workdir):
    lines = (workdir / "multirun" / "events.log").read_text().splitlines()
    return sorted(lines)


@pytest.mark.parametrize("launcher", ["in-process", "joblib", "slurm"])
def test_every_callback_sees_every_job_once(tmp_path, launcher, request):
    arguments = {
        "in-process": [],
        "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        "slurm": [
            "hydra/launcher=submitit_slurm",
            f"hydra.launcher.submitit_folder={tmp_path}/submitit/%j",
        ],
    }[launcher]
    if launcher == "slurm":
        request.getfixturevalue("slurm_cluster")
    run_quadratic("-cp", "experiment", "settings=unit", *arguments, "-m", workdir=tmp_path)
    overrides = {
        b: f"settings=unit budget={b} output.dir={tmp_path / 'results'}" for b in (1, 2, 3)
    }
    assert events(tmp_path) == sorted(
        [f"start {b - 1} {overrides[b]} dir={b - 1} env=-" for b in (1, 2, 3)]
        + [f"end {b - 1} {overrides[b]} COMPLETED steps={b}" for b in (1, 2, 3)]
    )


def test_callbacks_see_failed_and_skipped_jobs_as_hydra_reports_them(tmp_path):
    run_quadratic("-cp", "experiment", "settings=unit", "budget=1", "-m", workdir=tmp_path)
    assert len(events(tmp_path)) == 2
    rerun = run_quadratic("-cp", "experiment", "settings=unit", "budget=1", "-m", workdir=tmp_path)
    assert "1 skipped (up to date)" in rerun.output and len(events(tmp_path)) == 2, (
        "a job skipped before launch is not a job Hydra ran: no callback"
    )
    (tmp_path / "multirun" / "events.log").unlink()
    # The checks do not cover ``rate``: a text rate fails inside each job.
    completed = run_quadratic(
        "-cp",
        "experiment",
        "settings=unit",
        "budget=1,2",
        "rate='x'",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert (
        completed.returncode == 1
        and "2 jobs: 0 skipped (up to date), 0 ran, 2 failed" in completed.output
    )
    ends = [line for line in events(tmp_path) if line.startswith("end")]
    assert len(ends) == 2 and all(" FAILED " in line for line in ends)


def test_a_command_line_callback_is_refused_saying_how_to_allow_it(tmp_path):
    completed = run_quadratic(
        "-cp",
        "experiment",
        "+hydra.callbacks.mine._target_=callbacks.NotListed",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode == 1
    assert "refused: the callback 'callbacks.NotListed'" in completed.output
    assert "list it under hydra.callbacks in config/task.yaml" in completed.output
    assert not (tmp_path / "results").exists()


def test_a_setting_with_its_own_environment_runs_as_hydra_runs_it(tmp_path):
    tree = tmp_path / "experiment"
    shutil.copytree(QUADRATIC / "experiment", tree)
    (tree / "settings" / "env.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /scale: unit\nsteps: ${budget}\n"
        "hydra:\n  job:\n    env_set:\n      QUADRATIC_TEST_VARIABLE: from-settings\n"
    )
    run_quadratic("-cp", str(tree), "settings=unit,env", "budget=1", "-m", workdir=tmp_path)
    starts = [line for line in events(tmp_path) if line.startswith("start")]
    assert [line.rsplit(" ", 1)[1] for line in starts] == ["env=-", "env=from-settings"]


def test_the_store_refuses_a_result_of_another_experiment(tmp_path):
    from optsweep import Experiment
    from optsweep.engine.store import ResultFileError

    run_quadratic("scale=unit", "steps=2", workdir=tmp_path)
    (path,) = result_files(tmp_path / "results")
    assert ResultStore(EXPERIMENT).load(path)["meta"]["experiment"] == "quadratic"
    with pytest.raises(ResultFileError, match="a result of experiment 'quadratic', not of "):
        ResultStore(Experiment(name="other")).load(path)
