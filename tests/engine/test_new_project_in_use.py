"""A second experiment written the minimal way, as a user writes one: the project that
``optsweep new`` makes, in its own directory and its own git repository, using nothing of
this repository but the installed engine. Its sweep, dry run, rerun, a killed sweep resumed,
``launcher=local``, a maximizing search, git provenance of ITS repository, and the generic
figure and table from its results.

Results are read with the engine's generic ``ResultReader``: importing the project's task
module here would make it this test process's project.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from optsweep.engine.store import ResultReader, result_files
from optsweep.scaffold import new_project

SMALL = ("budget=1,3", "seed=0,1")  # x 2 settings: 8 jobs


def git(project: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Researcher", "-c", "user.email=researcher@example.org"]
        + list(arguments),
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The new project, committed to its own git repository."""
    project = tmp_path_factory.mktemp("own") / "study"
    new_project(project)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "A new experiment")
    return project


def command(project: Path, workdir: Path, *arguments: str) -> list[str]:
    """``python <project>/task.py ARGUMENTS``, results and Hydra's logs in ``workdir``."""
    return [
        sys.executable,
        str(project / "task.py"),
        *arguments,
        f"output.dir={workdir / 'results'}",
        f"hydra.run.dir={workdir / 'run'}",
        f"hydra.sweep.dir={workdir / 'multirun'}",
    ]


def environment() -> dict:
    """This process's environment without Hydra's variables and without PYTHONPATH: the
    project's folder is on no path but the one Python gives its script."""
    return {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_") and k != "PYTHONPATH"}


def run(project: Path, workdir: Path, *arguments: str, check: bool = True) -> str:
    """Run it from ``workdir`` (not the project); returns what it printed."""
    done = subprocess.run(
        command(project, workdir, *arguments),
        cwd=workdir,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert not check or done.returncode == 0, output
    return output


def records(directory: Path) -> list[dict]:
    return [record for _, record in ResultReader().load_all(directory)]


def mtimes(directory: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in result_files(directory)}


@pytest.fixture(scope="module")
def swept(project, tmp_path_factory) -> tuple[Path, str]:
    """One small sweep, settings x budget x seed (shared: treat as read-only)."""
    workdir = tmp_path_factory.mktemp("swept")
    output = run(project, workdir, "-cp", "experiment", *SMALL, "-m")
    return workdir, output


def test_sweep_runs_every_setting_budget_and_seed(swept):
    workdir, output = swept
    assert "8 jobs: 0 skipped (up to date), 8 ran, 0 failed" in output
    saved = records(workdir / "results")
    assert sorted(
        (r["meta"]["choices"]["settings"], r["config"]["budget"], r["config"]["seed"])
        for r in saved
    ) == sorted((s, b, seed) for s in ("logistic", "svm") for b in (1, 3) for seed in (0, 1))
    for record in saved:
        option = {"logistic": "max_iter", "svm": "epochs"}[record["config"]["model"]["name"]]
        assert record["config"]["model"][option] == record["config"]["budget"]
        assert record["meta"]["experiment"] == "study"
        assert set(record["scalars"]) == {"accuracy", "train_accuracy"}


def test_results_record_the_projects_own_repository(project, swept):
    workdir, _ = swept
    head = git(project, "rev-parse", "HEAD")
    for record in records(workdir / "results"):
        state = record["meta"]["git"]
        assert state["repository"] == "own" and state["commit"] == head  # the study's, no other
        assert state["dirty"] is False, state["changed"]


def test_dry_run_lists_what_would_run_and_runs_nothing(project, swept):
    workdir, _ = swept
    before = mtimes(workdir / "results")
    output = run(
        project, workdir, "-cp", "experiment", "budget=1,3,10", "seed=0,1",
        "hydra.sweeper.dry_run=true", "-m",
    )  # fmt: skip
    assert "dry run: 12 jobs, 4 would run, 8 would be skipped" in output
    assert output.count("run (no result)") == 4 and output.count("skip (up to date)") == 8
    assert mtimes(workdir / "results") == before


def test_rerun_skips_every_job(project, swept):
    workdir, _ = swept
    before = mtimes(workdir / "results")
    output = run(project, workdir, "-cp", "experiment", *SMALL, "-m")
    assert "8 jobs: 8 skipped (up to date), 0 ran, 0 failed" in output
    assert mtimes(workdir / "results") == before


def test_one_job_without_m_must_give_every_swept_key(project, swept, tmp_path):
    """``seed`` has a default, so ``settings=svm budget=3`` is a complete config; run without
    ``-m`` it would still be no job of the sweep: its result named ``budget=3.pkl`` beside
    the sweep's ``budget=3,seed=0.pkl``, one more "sweep" for the figure. Refused, saying
    what to add; with every swept key it is the sweep's job, found current."""
    output = run(project, tmp_path, "-cp", "experiment", "settings=svm", "budget=3", check=False)
    assert "refused: this config tree is a sweep over settings, budget, seed" in output, output
    assert "(one job without -m needs seed=<value> too)" in output
    assert not (tmp_path / "results").exists()
    workdir, _ = swept
    before = mtimes(workdir / "results")
    one = ("-cp", "experiment", "settings=svm", "budget=3", "seed=0")
    output = run(project, workdir, *one)
    assert "up to date, not rerun:" in output and "settings=svm/budget=3,seed=0.pkl" in output
    assert mtimes(workdir / "results") == before


def test_an_override_replacing_a_settings_model_is_refused_before_any_job(project, tmp_path):
    """``model=svm`` on the command line would win over settings/logistic.yaml's ``- /model:
    logistic``: SVM results filed and drawn as logistic's. Refused, naming the file."""
    output = run(project, tmp_path, "-cp", "experiment", *SMALL, "model=svm", "-m", check=False)
    assert "sweep refused before running any job" in output, output
    assert (
        "settings=logistic chooses model 'logistic' (experiment/settings/logistic.yaml), but "
        "the override model=svm replaces it with 'svm'"
    ) in output
    assert "in 4 job(s)" in output  # svm's own setting keeps its model
    assert not (tmp_path / "results").exists()


def test_a_key_of_another_option_of_the_group_is_refused(project, tmp_path):
    """``model.max_iter`` is logistic's option; with the SVM chosen nothing reads it."""
    output = run(
        project, tmp_path, "-cp", "experiment", "settings=svm", *SMALL, "+model.max_iter=5",
        "-m", check=False,
    )  # fmt: skip
    assert "key 'model.max_iter' is not a task key (model.epochs, model.lam, model.name)" in (
        output
    ), output
    assert "model=svm chose config/model/svm.yaml, which does not have it" in output
    assert not (tmp_path / "results").exists()


def test_an_option_set_across_the_settings_with_plus_plus_is_checked_per_setting(project, tmp_path):
    """As its README says: ``++model.l2=0.01`` reaches every setting's model; the SVM, whose
    model has no l2, is refused, naming its file; with logistic alone the jobs run."""
    across = ("-cp", "experiment", *SMALL, "++model.l2=0.01", "hydra.sweeper.dry_run=true")
    output = run(project, tmp_path, *across, "-m", check=False)
    assert "model=svm chose config/model/svm.yaml, which does not have it" in output, output
    assert "in 4 job(s)" in output
    output = run(project, tmp_path, *across, "settings=logistic", "-m")
    assert "dry run: 4 jobs, 4 would run" in output


def test_killed_sweep_resumes_running_only_the_missing_jobs(project, tmp_path):
    # Bigger data and budgets: jobs long enough (about half a second) to kill the sweep
    # between them.
    arguments = ("-cp", "experiment", "budget=1000,2000", "seed=0,1,2,3", "data.n_train=20000")
    process = subprocess.Popen(
        command(project, tmp_path, *arguments, "-m"),
        cwd=tmp_path,
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while len(result_files(tmp_path / "results")) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = mtimes(tmp_path / "results")
    assert 3 <= len(finished) < 16, "kill the sweep in the middle"

    output = run(project, tmp_path, *arguments, "-m")
    ran = 16 - len(finished)
    assert f"16 jobs: {len(finished)} skipped (up to date), {ran} ran, 0 failed" in output
    after = mtimes(tmp_path / "results")
    assert len(after) == 16 and all(after[path] == finished[path] for path in finished)
    leftovers = [*(tmp_path / "results").rglob("*.tmp"), *(tmp_path / "results").rglob(".*.lock")]
    assert not leftovers, "leftovers of the killed writer (the rerun takes over its lock file)"


def test_launcher_local_runs_the_jobs_in_worker_processes(project, tmp_path):
    output = run(
        project, tmp_path, "-cp", "experiment", "launcher=local", "hydra.launcher.n_jobs=2",
        *SMALL, "-m",
    )  # fmt: skip
    assert "on 2 joblib workers" in output
    assert "8 jobs: 0 skipped (up to date), 8 ran, 0 failed" in output
    saved = records(tmp_path / "results")
    assert len(saved) == 8 and len({r["meta"]["host"] for r in saved}) == 1
    # The same numbers as in-process jobs: seeded.
    in_process = tmp_path / "in-process"
    in_process.mkdir()
    run(project, in_process, "-cp", "experiment", *SMALL, "-m")
    assert sorted(map(job_and_scalars, saved)) == sorted(
        map(job_and_scalars, records(in_process / "results"))
    )


def job_and_scalars(record: dict) -> tuple:
    config = record["config"]
    return config["model"]["name"], config["budget"], config["seed"], record["scalars"]


def test_the_search_maximizes_the_objective(project, tmp_path):
    output = run(
        project, tmp_path, "-cp", "experiment", "search=logistic",
        "hydra.sweeper.search.optim.budget=8", "hydra.sweeper.search.optim.num_workers=4", "-m",
    )  # fmt: skip
    assert "Search NGOpt maximizing accuracy, budget 8" in output
    directory = tmp_path / "results" / "search=logistic"
    values = [r["result"]["accuracy"] for r in records(directory)]
    assert len(values) == 8 and max(values) > min(values)
    progress = yaml.safe_load((directory / "progress.yaml").read_text())
    assert progress["best_evaluated"]["value"] == max(values)
    assert f"Best evaluated (maximizing accuracy): {max(values)!r}" in output
    tuned = (directory / "logistic-tuned.yaml").read_text()
    assert f"maximizing accuracy: {max(values)!r}" in tuned


@pytest.mark.parametrize("sweeper", ["nevergrad", "optuna"])
def test_the_plain_trees_ad_hoc_search_maximizes_too(project, sweeper, tmp_path):
    """``hydra/sweeper=nevergrad`` (or ``optuna``) on the plain tree, as the docs show it:
    the project's own sweeper config selects the engine's search, which takes the
    experiment's direction (Hydra's stock sweepers would minimize accuracy, silently)."""
    budget = {"nevergrad": "hydra.sweeper.optim.budget=4", "optuna": "hydra.sweeper.n_trials=4"}
    output = run(
        project, tmp_path, f"hydra/sweeper={sweeper}", "model=logistic",
        "model.learning_rate=tag(log, interval(0.001, 1))", budget[sweeper], "-m",
    )  # fmt: skip
    assert "maximizing accuracy" in output
    assert "Best evaluated (maximizing accuracy)" in output


def test_the_generic_figure_and_table_are_drawn_from_its_results(project, swept, tmp_path):
    workdir, _ = swept
    out = tmp_path / "plots"
    for arguments in (
        ["plot", str(workdir / "results"), "x=budget", "y=accuracy", "logx=true"],
        ["table", str(workdir / "results"), "x=budget", "y=[accuracy,train_accuracy]"],
        ["plot", str(workdir / "results"), "--spec", str(project / "plots/specs/accuracy.yaml")],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "optsweep.cli", *arguments, "--out", str(out)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} == {
        "accuracy-budget.pdf",
        "accuracy-budget.png",
        "summary-budget.csv",
        "summary-budget.md",
        "summary-budget.tex",
        "accuracy.pdf",
        "accuracy.png",
    }
    table = (out / "summary-budget.md").read_text()
    assert "| logistic | 1 | 2 |" in table and "| svm | 3 | 2 |" in table
