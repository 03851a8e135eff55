"""Optuna searches, with real Optuna and real Hydra runs: a search file's study in its storage,
its outputs (as a nevergrad search's), resume after SIGKILL, reproducibility, the failure
policy, refused definitions and the plain tree's hydra/sweeper=optuna."""

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from importlib import metadata

import optuna
import pytest
import yaml

from conftest import QUADRATIC, ROOT, run_task, task_command
from optsweep.report.table import load_result, load_results, result_files

SEARCH = "tnc-optuna"
SMALL = ("hydra.sweeper.search.optuna.n_trials=8", "hydra.sweeper.search.optuna.num_workers=4")
SPACE = {"method.options.eta", "method.options.stepmx"}


def trace(directory):
    with open(directory / "trace.csv", newline="") as file:
        return [
            (int(row["evaluation"]), row["value"], json.loads(row["params"]), row["path"])
            for row in csv.DictReader(file)
        ]


def progress(directory):
    return yaml.safe_load((directory / "progress.yaml").read_text())


def study_of(directory):
    """The search's study, opened with Optuna's own API from what progress.yaml says."""
    study = progress(directory)["study"]
    return optuna.load_study(study_name=study["name"], storage=study["storage"])


@pytest.fixture(scope="module")
def tnc_study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("optuna")
    completed = run_task("-cp", "experiment", f"search={SEARCH}", *SMALL, "-m", workdir=workdir)
    return workdir / "results", completed.output


def test_a_search_file_records_every_evaluation_like_a_sweep_job(tnc_study):
    results, output = tnc_study
    directory = results / f"search={SEARCH}"
    rows = trace(directory)
    assert [number for number, *_ in rows] == list(range(8))
    assert all(set(params) == SPACE for _, _, params, _ in rows)
    records = {str(path): record for path, record in load_results(results)}
    assert len(records) == 8 and {path for *_, path in rows} == set(records)
    for _, value, params, path in rows:
        record = records[path]
        assert record["result"].fun == float(value)
        assert record["config"]["method"]["name"] == "TNC"
        assert record["config"]["method"]["options"]["maxfun"] == 100
        assert record["config"]["method"]["options"]["eta"] == params["method.options.eta"]
        assert record["meta"]["choices"]["search"] == SEARCH
    assert output.count("\t#") == 8 and "warn" not in output.lower()


def test_progress_and_tuned_settings_hold_the_best_evaluated_point(tnc_study, tmp_path):
    results, output = tnc_study
    directory = results / f"search={SEARCH}"
    saved = progress(directory)
    assert saved["evaluations"] == saved["budget"] == 8 and saved["failures"] == 0
    values = [float(value) for _, value, _, _ in trace(directory)]
    best = saved["best_evaluated"]
    assert best["value"] == min(values)
    assert load_result(best["path"])["result"].fun == best["value"]
    assert saved["definition"]["optimizer"] == "optuna TPESampler"
    assert saved["versions"]["optuna"] == metadata.version("optuna")
    header = (directory / f"{SEARCH}-tuned.yaml").read_text().splitlines()[3]
    assert f"optuna TPESampler of optuna {metadata.version('optuna')}, seed 0;" in header
    assert "recommendation" not in saved and not (directory / "optimizer.state").exists()
    assert f"Best evaluated (minimizing the task's value): {best['value']!r}" in output
    assert output.strip().splitlines()[-1].split("] ", 1)[1].startswith("Best parameters: ")
    tuned = yaml.safe_load((directory / f"{SEARCH}-tuned.yaml").read_text())
    assert tuned["defaults"] == ["tnc"]
    assert tuned["method"]["options"] == {k.rsplit(".", 1)[1]: v for k, v in best["params"].items()}
    tree = tmp_path / "experiment"
    shutil.copytree(ROOT / "experiment", tree)
    shutil.copy(directory / f"{SEARCH}-tuned.yaml", tree / "settings")
    run_task("-cp", str(tree), f"settings={SEARCH}-tuned", "maxfun=100", "-m", workdir=tmp_path)
    (path,) = result_files(tmp_path / "results")
    assert load_result(path)["result"].fun == best["value"]


def test_the_study_opens_with_optunas_api_and_matches_the_trace(tnc_study):
    results, _ = tnc_study
    directory = results / f"search={SEARCH}"
    # In SQLite's WAL mode (kept by the file).
    with sqlite3.connect(directory / "study.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchall() == [("wal",)]
    assert progress(directory)["study"]["storage"] == f"sqlite:///{directory / 'study.db'}"
    study = study_of(directory)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    trials = study.get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 8
    assert [(t.number, repr(t.value), t.params, t.user_attrs["path"]) for t in trials] == trace(
        directory
    )
    assert study.best_trial.value == progress(directory)["best_evaluated"]["value"]
    assert study.user_attrs["optsweep"] == progress(directory)["definition"]


def test_the_same_search_file_and_seed_give_the_same_trials(tnc_study, tmp_path):
    results, _ = tnc_study
    run_task("-cp", "experiment", f"search={SEARCH}", *SMALL, "-m", workdir=tmp_path)
    first, second = (d / f"search={SEARCH}" for d in (results, tmp_path / "results"))
    assert [row[:3] for row in trace(first)] == [row[:3] for row in trace(second)]
    assert progress(first)["study"]["name"] == progress(second)["study"]["name"]


def test_rerunning_a_finished_search_evaluates_nothing(tnc_study, tmp_path):
    results, _ = tnc_study
    shutil.copytree(results, tmp_path / "results")
    before = {p: p.stat().st_mtime_ns for p in result_files(tmp_path / "results")}
    completed = run_task("-cp", "experiment", f"search={SEARCH}", *SMALL, "-m", workdir=tmp_path)
    assert "8 of 8 evaluations done" in completed.output
    assert "Launching" not in completed.output
    assert {p: p.stat().st_mtime_ns for p in result_files(tmp_path / "results")} == before


def test_a_larger_budget_continues_the_study_and_a_changed_one_starts_another(tnc_study, tmp_path):
    results, _ = tnc_study
    shutil.copytree(results, tmp_path / "results")
    directory = tmp_path / "results" / f"search={SEARCH}"
    finished = trace(directory)
    more = ("hydra.sweeper.search.optuna.n_trials=10", "hydra.sweeper.search.optuna.num_workers=4")
    completed = run_task("-cp", "experiment", f"search={SEARCH}", *more, "-m", workdir=tmp_path)
    assert "8 of 10 evaluations done" in completed.output
    assert completed.output.count("\t#") == 2 and trace(directory)[:8] == finished
    name = progress(directory)["study"]["name"]
    reseeded = (*SMALL, "hydra.sweeper.search.optuna.seed=1")
    run_task("-cp", "experiment", f"search={SEARCH}", *reseeded, "-m", workdir=tmp_path)
    assert progress(directory)["study"]["name"] != name
    assert progress(directory)["definition"]["seed"] == 1 and len(trace(directory)) == 8
    storage = f"sqlite:///{directory / 'study.db'}"
    names = optuna.get_all_study_names(storage)
    assert len(names) == 2 and name in names  # the old study is kept, under its own name
    assert len(optuna.load_study(study_name=name, storage=storage).trials) == 10


def test_a_killed_search_resumes_without_repeating_a_finished_trial(tmp_path):
    """SIGKILL while a batch runs: its trials are RUNNING in the study. The rerun evaluates
    them (a result already written is found, not computed again) and the rest, never a
    finished trial, and ends with the trials one uninterrupted run gives."""
    budget = (
        "hydra.sweeper.search.optuna.n_trials=24",
        "hydra.sweeper.search.optuna.num_workers=4",
    )
    command = task_command("-cp", "experiment", f"search={SEARCH}", *budget, "-m", workdir=tmp_path)
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    directory = tmp_path / "results" / f"search={SEARCH}"

    def in_a_batch() -> bool:  # 1 to 3 of a batch's 4 results written, after a whole batch
        written = len(result_files(tmp_path / "results")) if directory.exists() else 0
        return written > 4 and written % 4 != 0

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not in_a_batch():
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # What the study holds (the kill may come while a batch is being told: then it holds
    # more finished trials than progress.yaml says).
    trials = study_of(directory).get_trials()
    finished = [
        (t.number, repr(t.value), t.params, t.user_attrs["path"])
        for t in trials
        if t.state.name == "COMPLETE"
    ]
    done = len(finished)
    running = [t.number for t in trials if t.state.name == "RUNNING"]
    assert 4 <= done < 24, "kill the search in the middle"
    assert running, "kill the search while a batch runs"
    assert len(trials) == done + len(running)
    written = {p: p.stat().st_mtime_ns for p in result_files(tmp_path / "results")}
    completed = run_task("-cp", "experiment", f"search={SEARCH}", *budget, "-m", workdir=tmp_path)
    assert f"{done} of 24 evaluations done" in completed.output
    assert f"{len(running)} trials left running by a stopped search" in completed.output
    assert completed.output.count("\t#") == 24 - done, "finished trials were run again"
    rows = trace(directory)
    assert [number for number, *_ in rows] == list(range(24)) and rows[:done] == finished
    assert all(p.stat().st_mtime_ns == ns for p, ns in written.items()), "a result was recomputed"
    trials = study_of(directory).get_trials()
    assert len(trials) == 24 and all(t.state.name == "COMPLETE" for t in trials)
    assert sorted(t.number for t in trials if "resumed" in t.user_attrs) == running
    uninterrupted = tmp_path / "uninterrupted"
    uninterrupted.mkdir()
    run_task("-cp", "experiment", f"search={SEARCH}", *budget, "-m", workdir=uninterrupted)
    again = trace(uninterrupted / "results" / f"search={SEARCH}")
    assert [row[:3] for row in again] == [row[:3] for row in rows]


@pytest.mark.parametrize(
    ("storage", "where"),
    [
        pytest.param("journal", "study.journal", id="journal"),
        pytest.param("sqlite:///{tmp}/elsewhere.db", None, id="rdb-url"),
    ],
)
def test_the_study_lives_in_the_storage_asked_for(tmp_path, storage, where):
    storage = storage.format(tmp=tmp_path)
    run_task(
        "-cp",
        "experiment",
        f"search={SEARCH}",
        "hydra.sweeper.search.optuna.n_trials=3",
        f"hydra.sweeper.search.optuna.storage='{storage}'",
        "-m",
        workdir=tmp_path,
    )
    directory = tmp_path / "results" / f"search={SEARCH}"
    assert not (directory / "study.db").exists()
    said = progress(directory)["study"]
    if where is None:
        assert said["storage"] == storage and (tmp_path / "elsewhere.db").exists()
        opened = optuna.storages.RDBStorage(storage)
    else:
        assert said["storage"] == str(directory / where) and said["kind"] == "journal"
        opened = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(said["storage"])
        )
    study = optuna.load_study(study_name=said["name"], storage=opened)
    assert [t.value for t in study.trials] == [float(v) for _, v, _, _ in trace(directory)]


SAMPLED = (
    "hydra/sweeper=optuna",
    "hydra/sweeper/sampler=random",
    "method=tnc",
    "x0=null",
    "hydra.sweeper.n_trials=8",
    "hydra.sweeper.n_jobs=2",
)


def test_a_search_keeps_going_past_tolerated_failures(tmp_path):
    completed = run_task(
        *SAMPLED,
        "x0_random.high=choice(1.0,-5.0)",  # high below low: the job is refused
        "hydra.sweeper.max_failure_rate=0.9",
        "-m",
        workdir=tmp_path,
    )
    directory = tmp_path / "multirun" / "search"
    failed = [row for row in trace(directory) if not row[1]]
    assert 0 < len(failed) < 8 and all(p["x0_random.high"] == -5.0 for _, _, p, _ in failed)
    said = f"{len(failed)} of 8 evaluations failed (tolerated: max_failure_rate=0.9 of the budget)"
    assert said in completed.output
    (best,) = [line for line in completed.output.splitlines() if "Best parameters:" in line]
    assert "x0_random.high=1.0" in best
    states = [t.state.name for t in study_of(directory).get_trials()]
    assert states.count("FAIL") == len(failed) and states.count("COMPLETE") == 8 - len(failed)
    errors = [
        t.user_attrs["error"] for t in study_of(directory).get_trials() if t.state.name == "FAIL"
    ]
    assert all("x0_random" in error for error in errors), errors


def test_a_search_with_too_many_failures_exits_non_zero(tmp_path):
    completed = run_task(
        *SAMPLED,
        "x0_random.high=choice(1.0,-5.0)",
        "hydra.sweeper.max_failure_rate=0.1",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode != 0
    assert "more than max_failure_rate=0.1 of the budget 8" in completed.output
    assert "{'x0_random.high': -5.0}: " in completed.output
    assert "Best parameters" not in completed.output
    assert progress(tmp_path / "multirun" / "search")["evaluations"] < 8  # stopped early


def test_a_search_where_nothing_succeeds_exits_non_zero_without_a_best(tmp_path):
    completed = run_task(
        *SAMPLED,
        "x0_random.high=choice(-5.0,-6.0)",
        "hydra.sweeper.max_failure_rate=1.0",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode != 0
    assert "all 8 evaluations failed; no best point" in completed.output
    assert "Best parameters" not in completed.output


def test_a_non_finite_value_is_a_failed_trial(tmp_path):
    """The quadratic experiment diverges to nan at a large rate: the trial is told FAIL."""
    completed = run_task(
        "hydra/sweeper=checked_optuna",
        "scale=unit",
        "steps=2000",
        "rate=choice(0.1,3.0)",
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.sampler.seed=0",  # its sampler group's default seed is null: random
        "hydra.sweeper.max_failure_rate=1.0",
        "-m",
        workdir=tmp_path,
        script=QUADRATIC / "task.py",
    )
    directory = tmp_path / "multirun" / "search"
    failed = [row for row in trace(directory) if not row[1]]
    assert failed and all(p == {"rate": 3.0} for _, _, p, _ in failed)
    errors = {t.user_attrs["error"] for t in study_of(directory).trials if t.state.name == "FAIL"}
    assert errors == {"NonFiniteValue: the task's value is nan: not a finite value, not saved"}, (
        completed.output[-2000:]
    )


KEY = "hydra.sweeper.search.optuna"


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        pytest.param(
            f"{KEY}.sampler=NoSuch", f"{KEY}.sampler=NoSuch: no such sampler", id="sampler"
        ),
        pytest.param(f"{KEY}.sampler=GridSampler", "a grid is a sweep", id="grid"),
        pytest.param(
            f"+{KEY}.sampler_options.no_such=1", "cannot be made: TypeError", id="sampler-options"
        ),
        pytest.param(
            f"{KEY}.n_trials=0", f"{KEY}.n_trials=0: trials, an integer >= 1", id="budget"
        ),
        pytest.param(f"{KEY}.num_workers=0", f"{KEY}.num_workers=0: trials asked", id="workers"),
        pytest.param(
            f"{KEY}.max_failure_rate=2", f"{KEY}.max_failure_rate=2.0: a share", id="rate"
        ),
        pytest.param(
            f"{KEY}.storage=nowhere", f"{KEY}.storage=nowhere: null (SQLite", id="storage"
        ),
        pytest.param(
            f"+{KEY}.direction=maximize",
            f"{KEY}.direction=maximize, but experiment 'rosenbrock' declares direction='minimize'",
            id="direction",
        ),
        pytest.param(
            "+hydra.sweeper.search.optim.budget=4", "gives both optim and optuna", id="both"
        ),
        pytest.param(
            "+hydra.sweeper.search.params.seed='interval(1'",
            "hydra.sweeper.search.params.seed: 'seed=interval(1' is not Hydra's override grammar",
            id="unparsable-param",
        ),
        pytest.param(
            "+hydra.sweeper.search.params.seed='interval(1, 1)'",
            "interval(1.0, 1.0): the lower bound must be below the upper",
            id="empty-interval",
        ),
        pytest.param(
            "+hydra.sweeper.search.params.seed='tag(log, interval(0, 1))'",
            "a log interval starts above 0",
            id="log-from-0",
        ),
        pytest.param(
            "method.options.stepmxx=interval(1, 2)",
            "'method.options.stepmxx=interval(1, 2)' cannot be searched (the config has no key "
            "method.options.stepmxx; did you mean method.options.stepmx?)",
            id="misspelt-param",
        ),
        pytest.param(
            "+maxfnu=3",
            f"the config of search={SEARCH}: top-level key 'maxfnu' is not a task key",
            id="unread-key",
        ),
        pytest.param(
            "maxfun=???",
            f"the config of search={SEARCH}: maxfun has no value (???), which every evaluation "
            "would fail on",
            id="missing-variable",
        ),
        pytest.param(
            "+hydra.sweeper.search.params.seed='glob(*)'",
            "hydra.sweeper.search.params.seed: 'seed=glob(*)' cannot be searched",
            id="unsupported-param",
        ),
    ],
)
def test_a_meaningless_definition_is_refused_before_any_evaluation(tmp_path, setting, said):
    refused = run_task(
        "-cp", "experiment", f"search={SEARCH}", setting, "-m", workdir=tmp_path, check=False
    )
    assert refused.returncode != 0
    assert "search refused before any evaluation" in refused.output and said in refused.output
    assert "Launching" not in refused.output and "Traceback" not in refused.output
    assert "Error" not in refused.output.split("search refused", 1)[0]  # no line before it
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        pytest.param(
            "hydra.sweeper.sampler._target_=os.system",
            "not a sampler of optuna.samplers",
            id="target",
        ),
        pytest.param(
            "hydra.sweeper.custom_search_space=mine.space",
            "hydra.sweeper.custom_search_space=mine.space: not supported",
            id="custom-space",
        ),
        pytest.param(
            "hydra.sweeper.direction=[minimize,maximize]", "hydra.sweeper.direction=", id="two"
        ),
        pytest.param(
            "method.options.etaa=interval(0.01, 1)",
            "the config has no key method.options.etaa; did you mean method.options.eta?",
            id="misspelt-param",
        ),
    ],
)
def test_a_meaningless_plain_tree_search_is_refused(tmp_path, setting, said):
    refused = run_task(
        "hydra/sweeper=optuna",
        "method=tnc",
        "method.options.eta=interval(0.01, 1)",
        setting,
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert refused.returncode != 0
    assert "search refused before any evaluation" in refused.output and said in refused.output
    assert "Launching" not in refused.output


def test_the_plain_tree_runs_hydra_optunas_keys_as_a_checked_search(tmp_path):
    completed = run_task(
        "hydra/sweeper=optuna",
        "method=lbfgsb",
        "method.options.eps=tag(log, interval(1e-8, 1e-1))",
        "method.options.maxcor=int(interval(2, 30))",
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.n_jobs=3",
        "-m",
        workdir=tmp_path,
    )
    last = completed.stdout.strip().splitlines()[-1]
    assert "Best parameters: " in last and "method.options.maxcor=" in last
    assert "warn" not in completed.output.lower()
    assert len(result_files(tmp_path / "results")) == 6
    directory = tmp_path / "multirun" / "search"
    maxcor = [params["method.options.maxcor"] for _, _, params, _ in trace(directory)]
    assert len(maxcor) == 6 and all(isinstance(v, int) and 2 <= v <= 30 for v in maxcor)
    saved = progress(directory)
    assert saved["definition"]["seed"] == 0 and saved["definition"]["num_workers"] == 3
    assert saved["study"]["name"].startswith("search-")
    assert len(study_of(directory).trials) == 6
