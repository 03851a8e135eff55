"""Nevergrad searches: the plain one-liner, the experiment tree's search files, their outputs,
reproducibility, resume, and the NGOpt regression under the pinned numpy."""

import csv
import json
import os
import pickle
import shlex
import shutil
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import ROOT, run_task, task_command
from optsweep.report.figures import load_spec
from optsweep.report.table import load_result, load_results, result_files
from plots import search_trace

SMALL = ("hydra.sweeper.search.optim.budget=8", "hydra.sweeper.search.optim.num_workers=4")


def trace(directory):
    with open(directory / "trace.csv", newline="") as file:
        return [(row["evaluation"], row["value"], row["params"]) for row in csv.DictReader(file)]


def progress(directory):
    return yaml.safe_load((directory / "progress.yaml").read_text())


@pytest.fixture(scope="module")
def tnc_search(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("search")
    completed = run_task("-cp", "experiment", "search=tnc", *SMALL, "-m", workdir=workdir)
    return workdir / "results", completed.output


def test_plain_one_liner_ends_with_best_parameters(tmp_path):
    completed = run_task(
        "hydra/sweeper=nevergrad",
        "method=tnc",
        "method.options.eta=tag(log, interval(0.001, 1))",
        "hydra.sweeper.optim.budget=6",
        "hydra.sweeper.optim.num_workers=3",
        "-m",
        workdir=tmp_path,
    )
    last = completed.stdout.strip().splitlines()[-1]
    assert "Best parameters: " in last and "method.options.eta=" in last
    assert "warn" not in completed.output.lower()
    assert len(result_files(tmp_path / "results")) == 6


def test_search_records_every_evaluation_like_a_sweep_job(tnc_search):
    results, _ = tnc_search
    directory = results / "search=tnc"
    rows = trace(directory)
    assert [int(number) for number, _, _ in rows] == list(range(8))
    for _, _value, params in rows:
        params = yaml.safe_load(params)
        assert set(params) == {"method.options.eta", "method.options.stepmx"}
    records = [record for _, record in load_results(results)]
    assert len(records) == 8
    for record in records:
        assert record["config"]["method"]["name"] == "TNC"
        assert record["config"]["maxfun"] == 100
        assert record["config"]["method"]["options"]["maxfun"] == 100
        assert record["meta"]["choices"]["search"] == "tnc"
    recorded = sorted(float(r["result"].fun) for r in records)
    assert recorded == sorted(float(value) for _, value, _ in rows)


def test_the_results_table_tells_a_searchs_evaluations_from_the_sweeps_jobs(tnc_search, tmp_path):
    """An evaluation's setting is the one its search tunes (tnc): its ``search`` column says
    it is the search's, where a sweep's job of the same setting has none."""
    from optsweep.report.table import results_frame

    results = tmp_path / "results"
    shutil.copytree(tnc_search[0], results)
    run_task("-cp", "experiment", "settings=tnc", "maxfun=100", "-m", workdir=tmp_path)
    frame = results_frame(results)
    assert sorted(frame["setting"]) == ["tnc"] * 9
    assert frame["search"].tolist().count("tnc") == 8
    (job,) = frame[frame["search"].isna()]["path"]
    assert job == str(results / "settings=tnc" / "maxfun=100.pkl")


def test_progress_distinguishes_best_evaluated_from_recommendation(tnc_search):
    results, output = tnc_search
    saved = progress(results / "search=tnc")
    assert saved["evaluations"] == saved["budget"] == 8 and saved["failures"] == 0
    best = saved["best_evaluated"]
    values = [float(value) for _, value, _ in trace(results / "search=tnc")]
    assert best["value"] == min(values)
    assert load_result(best["path"])["result"].fun == best["value"]
    assert "params" in saved["recommendation"]
    assert saved["versions"]["nevergrad"] == metadata.version("nevergrad")
    assert saved["versions"]["optsweep"] == metadata.version("optsweep")
    lines = (results / "search=tnc" / "tnc-tuned.yaml").read_text().splitlines()
    # The command as it was run, without the overrides naming this machine's folders.
    assert lines[1] == (
        f"# Written by `python task.py -cp experiment search=tnc {' '.join(SMALL)} -m`: "
        "settings tnc"
    )
    header = lines[3]
    assert header.startswith(f"# (evaluation {best['evaluation']} of 8, NGOpt of nevergrad ")
    assert "seed 0; sweep variables: maxfun 100; code " in header
    assert f"Best evaluated (minimizing the task's value): {best['value']!r}" in output
    assert output.strip().splitlines()[-1].split("] ", 1)[1].startswith("Best parameters: ")


def test_same_search_file_and_seed_give_the_same_evaluations(tnc_search, tmp_path):
    results, _ = tnc_search
    run_task("-cp", "experiment", "search=tnc", *SMALL, "-m", workdir=tmp_path)
    assert trace(tmp_path / "results" / "search=tnc") == trace(results / "search=tnc")
    first, second = (progress(d / "search=tnc") for d in (results, tmp_path / "results"))
    assert first["best_evaluated"]["params"] == second["best_evaluated"]["params"]
    assert first["recommendation"] == second["recommendation"]


def test_tuned_settings_file_composes_and_reproduces_the_best_value(tnc_search, tmp_path):
    results, _ = tnc_search
    tree = tmp_path / "experiment"
    shutil.copytree(ROOT / "experiment", tree)
    shutil.copy(results / "search=tnc" / "tnc-tuned.yaml", tree / "settings")
    run_task("-cp", str(tree), "settings=tnc-tuned", "maxfun=100", "-m", workdir=tmp_path)
    (path,) = result_files(tmp_path / "results")
    best = progress(results / "search=tnc")["best_evaluated"]
    record = load_result(path)
    assert record["result"].fun == best["value"]
    assert record["config"]["method"]["options"]["eta"] == best["params"]["method.options.eta"]
    assert record["config"]["method"]["options"]["maxfun"] == 100  # mapped as in tnc.yaml


def test_rerunning_a_finished_search_evaluates_nothing(tnc_search, tmp_path):
    results, _ = tnc_search
    shutil.copytree(results, tmp_path / "results")
    before = {p: p.stat().st_mtime_ns for p in result_files(tmp_path / "results")}
    completed = run_task("-cp", "experiment", "search=tnc", *SMALL, "-m", workdir=tmp_path)
    assert "8 of 8 evaluations done" in completed.output
    assert "Launching" not in completed.output
    assert {p: p.stat().st_mtime_ns for p in result_files(tmp_path / "results")} == before


KILLED = (
    *("-cp", "experiment", "search=tnc", "hydra.sweeper.search.optim.budget=24"),
    *("hydra.sweeper.search.optim.num_workers=2", "-m"),
)


@pytest.fixture(scope="module")
def uninterrupted_trace(tmp_path_factory):
    """The trace of the killed test's search run to its end without a stop."""
    workdir = tmp_path_factory.mktemp("uninterrupted")
    run_task(*KILLED, workdir=workdir)
    return trace(workdir / "results" / "search=tnc")


@pytest.mark.parametrize(
    ("stop", "trace_edited"),
    [(signal.SIGKILL, False), (signal.SIGINT, False), (signal.SIGINT, True)],
    ids=["killed", "interrupted", "interrupted-trace-edited"],
)
def test_stopped_search_resumes_without_repeating_finished_evaluations(
    stop, trace_edited, uninterrupted_trace, tmp_path
):
    """Stopped in the middle, the search resumes and ends with the uninterrupted run's trace,
    rerunning no finished evaluation. kill -9: the files (written at most every second) lag
    the result files, whose evaluations are asked for again and found current. Ctrl-C: the
    trace is written at the stop, the optimizer state (written at a batch's end) lags it, and
    the rerun tells the restored optimizer the trace's later evaluations with no evaluation.
    If the trace does not hold the points the restored optimizer asks for (edited here),
    those are checked again: their results are found current, and the warning says so."""
    command = [sys.executable, str(ROOT / "task.py"), *KILLED]
    command += [f"output.dir={tmp_path / 'results'}", f"hydra.sweep.dir={tmp_path / 'a'}"]
    # The files are written at the first batch's end, then only at a stop: the state lags.
    environment = {**os.environ, "OPTSWEEP_SAVE_INTERVAL": "3600"}
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    directory = tmp_path / "results" / "search=tnc"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        directory.exists() and len(result_files(directory)) >= 6
    ):
        time.sleep(0.02)
    os.killpg(process.pid, stop)
    process.wait()
    done = progress(directory)["evaluations"]
    assert 2 <= done < 24, "stop the search in the middle"
    told = pickle.loads((directory / "optimizer.state").read_bytes())["told"]
    saved = {p: p.stat().st_mtime_ns for p in result_files(tmp_path / "results")}
    assert told == 2, "the state is written at the first batch's end"
    if stop == signal.SIGKILL:
        assert done == 2 and len(saved) >= 6, "the trace lags the result files"
    else:
        assert 4 <= done <= len(saved), "the trace is written at the stop, not the state"
    assert trace(directory) == uninterrupted_trace[:done]
    if trace_edited:  # a point the restored optimizer will not ask for
        text = (directory / "trace.csv").read_text().splitlines(keepends=True)
        eta = '""method.options.eta"": '  # as the CSV quotes the JSON
        text[1 + told] = text[1 + told].replace(f"{eta}0.", f"{eta}1.")
        (directory / "trace.csv").write_text("".join(text))
    completed = run_task(*KILLED, workdir=tmp_path)
    assert f"{done} of 24 evaluations done" in completed.output
    assert ("asked for other points" in completed.output) == trace_edited
    assert trace(directory) == uninterrupted_trace
    launched = completed.output.count("\t#")  # evaluations checked (run, or found current)
    assert launched == 24 - (told if trace_edited else done)
    after = {p: p.stat().st_mtime_ns for p in result_files(tmp_path / "results")}
    assert {p: after[p] for p in saved} == saved, "finished evaluations were repeated"


def test_search_trace_figure_data_is_the_trace(tnc_search):
    results, _ = tnc_search
    numbers, values = search_trace.read_trace(results, "tnc")
    figure = search_trace.draw(numbers, values, load_spec("search_trace", [], ROOT))
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    expected = [float(value) for _, value, _ in trace(results / "search=tnc")]
    assert lines["evaluation"].get_ydata().tolist() == expected
    assert lines["best so far"].get_ydata().tolist() == np.minimum.accumulate(expected).tolist()


def test_search_trace_script_writes_files(tnc_search, tmp_path):
    results, _ = tnc_search
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "plots" / "search_trace.py"),
            "--results",
            str(results),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"search-trace-tnc.pdf", "search-trace-tnc.png"}
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "plots" / "search_trace.py"),
            "--results",
            str(results),
            "--out",
            str(tmp_path),
            "search=lbfgsb",
        ],
        capture_output=True,
        text=True,
    )
    assert completed.returncode != 0 and "search=lbfgsb -m" in completed.stderr


def test_ngopt_reaches_its_metamodel_under_the_pinned_numpy(tmp_path):
    """Regression: nevergrad 1.0.12's NGOpt crashes under numpy 2.4+ once its metamodel
    starts (float() of a 1-element array, seen here with numpy 2.4.4). The shipped TNC search
    (NGOpt, two continuous parameters, budget 40, 4 workers) gets there: if numpy is unpinned
    to 2.4, this test fails."""
    completed = run_task("-cp", "experiment", "search=tnc", "-m", workdir=tmp_path)
    saved = progress(tmp_path / "results" / "search=tnc")
    assert saved["evaluations"] == 40 and saved["failures"] == 0
    assert "Best parameters: " in completed.output


def test_lbfgsb_search_tunes_an_integer_option(tmp_path):
    run_task("-cp", "experiment", "search=lbfgsb", *SMALL, "-m", workdir=tmp_path)
    directory = tmp_path / "results" / "search=lbfgsb"
    maxcor = [yaml.safe_load(params)["method.options.maxcor"] for _, _, params in trace(directory)]
    assert all(isinstance(value, int) and 2 <= value <= 30 for value in maxcor)
    tuned = yaml.safe_load((directory / "lbfgsb-tuned.yaml").read_text())
    assert tuned["defaults"] == ["lbfgsb"] and set(tuned["method"]["options"]) == {"eps", "maxcor"}


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the docs show Python 3.11's search")
def test_the_docs_ad_hoc_search_prints_what_they_show(tmp_path):
    """docs/searches.md's ad-hoc search: the command it shows prints the lines it shows."""
    text = (ROOT / "docs" / "searches.md").read_text()
    block = text.split("## Ad-hoc searches on the plain tree", 1)[1].split("```", 2)[1]
    command, *_, evaluated, best = block.strip().splitlines()
    arguments = shlex.split(command.removeprefix("$ python task.py "))
    completed = run_task(*arguments, workdir=tmp_path)
    printed = [line.split("][HYDRA] ", 1)[-1] for line in completed.stdout.splitlines()]
    said = evaluated.removeprefix("[HYDRA] ")  # an evaluated point: to the last digit
    assert any(line.startswith(said) for line in printed), completed.stdout[-2000:]
    # nevergrad's recommendation is its estimate, which differs between machines in its last
    # digits (0.5745918472465738 and 0.5745918471368167 on two CPUs, same packages).
    key, value = best.removeprefix("[HYDRA] Best parameters: ").split("=")
    recommended = [
        line.removeprefix("Best parameters: ").split()[0].split("=")
        for line in printed
        if line.startswith("Best parameters: ")
    ]
    assert len(recommended) == 1 and recommended[0][0] == key, completed.stdout[-2000:]
    assert float(recommended[0][1]) == pytest.approx(float(value), rel=1e-8)


@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=joblib"]], ids=["here", "joblib"])
def test_a_non_finite_value_is_a_failed_evaluation_of_a_nevergrad_search(tmp_path, launcher):
    """The quadratic experiment diverges to nan at a large rate: as for Optuna, the evaluation
    is a failure in the trace (its error says why) and counts against max_failure_rate, in
    this process and on the pool's workers."""
    from conftest import QUADRATIC

    arguments = ["hydra/sweeper=checked_nevergrad", "scale=unit", "steps=2000", *launcher]
    arguments += ["rate=choice(0.1,3.0)", "hydra.sweeper.optim.budget=6", "-m"]
    completed = run_task(
        *arguments,
        "hydra.sweeper.optim.max_failure_rate=1.0",
        workdir=tmp_path,
        script=QUADRATIC / "task.py",
    )
    directory = tmp_path / "multirun" / "search"
    with open(directory / "trace.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    failed = [row for row in rows if not row["value"]]
    assert failed and all(json.loads(row["params"]) == {"rate": 3.0} for row in failed)
    said = "NonFiniteValue: the task's value is nan: not a finite value, not saved"
    assert {row["error"] for row in failed} == {said}
    assert not any(Path(row["path"]).exists() for row in failed if row["path"]), "saved"
    assert progress(directory)["failures"] == len(failed)
    (tmp_path / "strict").mkdir()
    refused = run_task(
        *arguments,
        "hydra.sweeper.optim.max_failure_rate=0.0",
        workdir=tmp_path / "strict",
        script=QUADRATIC / "task.py",
        check=False,
    )
    assert refused.returncode != 0 and "evaluations failed" in refused.output, completed.output


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (
            ["method.options.eta=tag(log, interval(0, 1))"],
            "'method.options.eta=tag(log, interval(0, 1))' cannot be searched: tag(log, "
            "interval(0.0, ...)): a log interval starts above 0",
        ),
        (
            ["method.options.eta=interval(10, 0.001)"],
            "interval(10.0, 0.001): the lower bound must be below the upper",
        ),
        (["method.options.eta=glob(*)"], "glob(...) selects config keys"),
        (["method.options.eta=0.5"], "no search dimension: give a parameter a range"),
        (
            ["method.options.eta=interval(0.01, 1)", "hydra.sweeper.search.optim.optimizer=NGOptt"],
            "optim.optimizer=NGOptt: not one of nevergrad's optimizers; did you mean NGOpt?",
        ),
        (
            ["method.options.eta=interval(0.01, 1)", "+hydra.sweeper.search.optim.budjet=3"],
            "hydra.sweeper.search.optim of search=tnc: Key 'budjet' not in 'CheckedOptimConf'",
        ),
        (
            ["method.options.etaa=interval(0.01, 1)"],
            "'method.options.etaa=interval(0.01, 1)' cannot be searched: the config has no key "
            "method.options.etaa; did you mean method.options.eta?",
        ),
        (
            ["method.options.eta=interval(0.01, 1)", "nosuch.key=interval(0, 1)"],
            "the config has no key nosuch.key; to add it, write +nosuch.key",
        ),
        (
            ["method.options.eta=interval(0.01, 1)", "+maxfnu=3"],
            "the config of search=tnc: top-level key 'maxfnu' is not a task key (jac, method, "
            "seed, x0, x0_random, maxfun) and nothing uses it; did you mean 'maxfun'?\n"
            "    (from experiment/task.yaml, experiment/search/tnc.yaml, experiment/settings/"
            "tnc.yaml, config/method/tnc.yaml, command-line overrides)",
        ),
        (
            ["method.options.eta=interval(0.01, 1)", "maxfun=???"],
            "the config of search=tnc: maxfun has no value (???), which every evaluation would "
            "fail on: set it in the search file (maxfun: ...) or on the command line "
            "(maxfun=...)",
        ),
        (
            ["method.options.eta=interval(0.01, 1)", "settings=lbfgsb"],
            "search=tnc chooses settings 'tnc' (experiment/search/tnc.yaml), but the override "
            "settings=lbfgsb replaces it with 'lbfgsb'",
        ),
    ],
    ids=[
        "log-from-0",
        "reversed",
        "glob",
        "no-dimension",
        "optimizer",
        "misspelt-key",
        "misspelt-param",
        "absent-param",
        "unread-key",
        "missing-variable",
        "replaced-setting",
    ],
)
def test_a_nevergrad_search_that_cannot_run_is_refused_naming_it(arguments, said, tmp_path):
    """Ranges nevergrad would search as NaN (log from 0), or not at all, an optimizer or a
    key that does not exist: refused in one message before any evaluation, no traceback."""
    completed = run_task(
        *("-cp", "experiment", "search=tnc", "~hydra.sweeper.search.params", *arguments, "-m"),
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode == 1
    assert "search refused before any evaluation" in completed.stderr
    assert said in completed.stderr, completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("search", ["tnc", "tnc-optuna"])
def test_a_dry_run_of_a_search_says_what_it_would_do_and_runs_nothing(search, tmp_path):
    arguments = ("-cp", "experiment", f"search={search}", "hydra.sweeper.dry_run=true", "-m")
    completed = run_task(*arguments, workdir=tmp_path)
    last = completed.stdout.strip().splitlines()[-1]
    assert last.startswith(f"dry run: search={search} (")
    assert "0 of 40 evaluations done" in last and "it would evaluate 40 more" in last
    assert last.endswith("nothing was run")
    assert not (tmp_path / "results").exists()


def test_a_dry_run_of_a_finished_search_says_so_and_changes_nothing(tnc_search, tmp_path):
    shutil.copytree(tnc_search[0], tmp_path / "results")
    directory = tmp_path / "results" / "search=tnc"
    before = {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}
    arguments = ("-cp", "experiment", "search=tnc", *SMALL, "hydra.sweeper.dry_run=true", "-m")
    last = run_task(*arguments, workdir=tmp_path).stdout.strip().splitlines()[-1]
    assert "(nevergrad NGOpt, 4 a batch, seed 0): 8 of 8 evaluations done" in last
    assert "it would evaluate 0 more" in last and last.endswith("nothing was run")
    assert {p.name: p.stat().st_mtime_ns for p in directory.iterdir()} == before


@pytest.mark.parametrize(
    ("search", "held", "budget"),
    [
        ("tnc", "search", "hydra.sweeper.search.optim.budget=4"),
        ("tnc-optuna", "study", "hydra.sweeper.search.optuna.n_trials=4"),
    ],
)
def test_a_search_another_process_runs_is_waited_for_naming_that_process(
    search, held, budget, tmp_path
):
    """Two runs of one search take turns: the second waits for the first's lock, says which
    process holds it and that it runs this search, then runs the search to its end."""
    from optsweep.engine.files import job_lock

    target = tmp_path / "results" / f"search={search}" / held
    said = tmp_path / "output.txt"
    command = task_command("-cp", "experiment", f"search={search}", budget, "-m", workdir=tmp_path)
    with job_lock(target), open(said, "w") as output:  # this test process runs the search
        process = subprocess.Popen(command, cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "waiting for" not in said.read_text():
            assert process.poll() is None, said.read_text()
            time.sleep(0.2)
        assert process.poll() is None and not (target.parent / "trace.csv").exists()
    assert process.wait(timeout=300) == 0, said.read_text()
    text = said.read_text()
    assert f"waiting for {target}: process {os.getpid()} on " in text
    assert "is running this search" in text
    assert len(trace(target.parent)) == 4


@pytest.mark.parametrize(
    ("search", "block", "budget"),
    [("tnc", "optim", "budget=4"), ("tnc-optuna", "optuna", "n_trials=4")],
)
def test_another_definition_in_a_searchs_directory_sets_the_first_aside(
    search, block, budget, tmp_path
):
    """A search with another seed in the same directory moves the first one's trace,
    progress, state and tuned file to previous/<its id>/ (nothing lost, nothing mixed);
    the first definition run again takes them back and resumes: nothing is evaluated."""
    key = f"hydra.sweeper.search.{block}"
    arguments = ("-cp", "experiment", f"search={search}", f"{key}.{budget}")
    directory = tmp_path / "results" / f"search={search}"
    run_task(*arguments, f"{key}.seed=0", "-m", workdir=tmp_path)
    kept = (".pkl", ".db")  # result files and the study's storage are shared
    first = {p.name: p.read_bytes() for p in directory.iterdir() if p.suffix not in kept}
    assert f"{search}-tuned.yaml" in first and "trace.csv" in first
    other = run_task(*arguments, f"{key}.seed=1", "-m", workdir=tmp_path)
    assert "held another search (another definition, 4 evaluations)" in other.output
    (aside,) = (directory / "previous").iterdir()
    assert {p.name: p.read_bytes() for p in aside.iterdir()} == first
    assert trace(directory) != trace(aside) and progress(directory)["definition"]["seed"] == 1
    again = run_task(*arguments, f"{key}.seed=0", "-m", workdir=tmp_path)
    assert "restored from" in again.output and again.output.count("\t#") == 0
    assert {p.name: p.read_bytes() for p in directory.iterdir() if p.name in first} == first
    assert not aside.exists() and len(list((directory / "previous").iterdir())) == 1


def test_tuned_settings_file_sets_what_the_search_fixed_besides_its_setting(tmp_path):
    """A task key the search file sets (x0_random.dim: 3) or its command line gives
    (method.options.maxCGit=3) is in the tuned settings file, and named in its header: without
    them the file would not reproduce the best value."""
    tree = tmp_path / "experiment"
    shutil.copytree(ROOT / "experiment", tree)
    search = tree / "search" / "tnc.yaml"
    search.write_text(
        search.read_text().replace("maxfun: 100\n", "maxfun: 100\nx0_random:\n  dim: 3\n")
    )
    run_task(
        "-cp", str(tree), "search=tnc", *SMALL, "method.options.maxCGit=3", "-m", workdir=tmp_path
    )
    results = tmp_path / "results"
    tuned_file = results / "search=tnc" / "tnc-tuned.yaml"
    tuned = yaml.safe_load(tuned_file.read_text())
    assert tuned["x0_random"] == {"dim": 3} and tuned["method"]["options"]["maxCGit"] == 3
    assert set(tuned["method"]["options"]) == {"maxCGit", "eta", "stepmx"}
    assert (
        "# It also sets what the search fixed besides settings tnc: method.options.maxCGit=3, "
        "x0_random.dim=3.\n" in tuned_file.read_text()
    )
    best = progress(results / "search=tnc")["best_evaluated"]
    shutil.copy(tuned_file, tree / "settings")
    run_task("-cp", str(tree), "settings=tnc-tuned", "maxfun=100", "-m", workdir=tmp_path)
    (path,) = [p for p in result_files(results) if "search=tnc" not in str(p)]
    record = load_result(path)
    assert record["config"]["x0_random"]["dim"] == 3
    assert record["result"].fun == best["value"]


def test_a_tuned_sweep_variable_is_named_in_the_header_not_set_in_the_file(tmp_path):
    """A search that tunes maxfun, a sweep variable (the settings map it onto their
    options): the tuned file leaves it out, where every sweep's maxfun would override it
    silently, and its header gives the value found; the sweep variables it lists are the
    others (none here)."""
    run_task(
        "-cp",
        "experiment",
        "search=tnc",
        *SMALL,
        "+hydra.sweeper.search.params.maxfun='int(interval(10,100))'",
        "-m",
        workdir=tmp_path,
    )
    text = (tmp_path / "results" / "search=tnc" / "tnc-tuned.yaml").read_text()
    tuned = yaml.safe_load(text)
    assert "maxfun" not in tuned and set(tuned["method"]["options"]) == {"eta", "stepmx"}
    best = progress(tmp_path / "results" / "search=tnc")["best_evaluated"]
    header = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
    assert "The search also tuned the sweep variable(s) maxfun, which a sweep sets" in header
    assert f"The best was at maxfun={best['params']['maxfun']!r}" in header
    assert "sweep variables: maxfun" not in header


def test_a_sweep_variable_left_without_a_value_can_be_searched():
    """A search of the variable itself (``maxfun``, ``???`` until a search sets it) is no
    search of an absent key, as a misspelt one is (OmegaConf's select answers both alike)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from optsweep.engine.search.config_checks import absent_keys, missing_values

    config = OmegaConf.create({"maxfun": "???", "method": {"options": {"maxfun": "${maxfun}"}}})
    searched = OverridesParser.create().parse_overrides(
        ["maxfun=int(interval(10, 100))", "maxfnu=int(interval(10, 100))"]
    )
    assert absent_keys(searched, config) == {
        1: "the config has no key maxfnu; did you mean maxfun?"
    }
    assert missing_values(config, {"maxfun"}) is None
    assert "maxfun has no value (???)" in (missing_values(config, set()) or "")
