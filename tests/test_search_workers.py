"""Searches on every launcher, nevergrad's and Optuna's: joblib's pool (``launcher=local``) and
SLURM (``launcher=slurm``, the real test cluster), their workers started once. The same trials
and results as in this process, whatever the number of workers; stopping on each launcher
keeps the finished evaluations and the rerun goes on from them."""

import csv
import os
import pickle
import signal
import subprocess
import time

import pytest
import yaml

from conftest import run_task, slurm_tasks_end, start_task, stop_task
from optsweep.report.table import load_result, result_files

SMALL = {
    "tnc": ("hydra.sweeper.search.optim.budget=8", "hydra.sweeper.search.optim.num_workers=2"),
    "tnc-optuna": (
        "hydra.sweeper.search.optuna.n_trials=8",
        "hydra.sweeper.search.optuna.num_workers=2",
    ),
}
LONG = {  # long enough to be stopped in the middle
    "tnc": ("hydra.sweeper.search.optim.budget=60", "hydra.sweeper.search.optim.num_workers=2"),
    "tnc-optuna": (
        "hydra.sweeper.search.optuna.n_trials=60",
        "hydra.sweeper.search.optuna.num_workers=2",
    ),
}


def trace(directory):
    with open(directory / "trace.csv", newline="") as file:
        return [(row["evaluation"], row["value"], row["params"]) for row in csv.DictReader(file)]


def evaluations_done(directory) -> int:
    try:
        return yaml.safe_load((directory / "progress.yaml").read_text())["evaluations"]
    except (FileNotFoundError, TypeError, KeyError):
        return 0


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    """{search: its results directory}, each search run in this process."""
    results = {}
    for search, small in SMALL.items():
        workdir = tmp_path_factory.mktemp(f"in-process-{search}")
        run_task("-cp", "experiment", f"search={search}", *small, "-m", workdir=workdir)
        results[search] = workdir / "results"
    return results


@pytest.fixture(params=["local", "slurm"], ids=["joblib", "slurm"])
def launcher(request):
    if request.param == "slurm":
        request.getfixturevalue("slurm_cluster")
    return request.param


@pytest.mark.parametrize("search", ["tnc", "tnc-optuna"])
def test_same_trials_and_results_on_every_launcher(search, launcher, in_process, tmp_path):
    arguments = ("-cp", "experiment", f"search={search}", f"launcher={launcher}", *SMALL[search])
    completed = run_task(*arguments, "-m", workdir=tmp_path)
    assert "Traceback" not in completed.output and "warn" not in completed.output.lower()
    directory = tmp_path / "results" / f"search={search}"
    reference = in_process[search] / f"search={search}"
    assert trace(directory) == trace(reference)
    files = result_files(tmp_path / "results")
    assert len(files) == 8
    for path in files:
        ours = load_result(path)
        theirs = load_result(in_process[search] / path.relative_to(tmp_path / "results"))
        for part in ("config", "result"):
            assert pickle.dumps(ours[part]) == pickle.dumps(theirs[part]), (path, part)
    # Started once: two workers served every evaluation, each logging to its own file.
    workers = sorted((tmp_path / "multirun" / "workers").iterdir())
    assert 1 <= len(workers) <= 2, workers
    logged = "".join(p.read_text() for w in workers for p in w.glob("*.log"))
    assert logged.count("\t#") == 8
    if launcher == "slurm":
        assert completed.output.count("Search workers: SLURM job") == 1
        assert slurm_tasks_end(tmp_path, 30), "the workers did not exit when the search ended"
    again = run_task(*arguments, "-m", workdir=tmp_path)
    assert again.output.count("\t#") == 0, "a finished search evaluated again"


def _wait_for_evaluations(process, directory, count: int) -> None:
    """Wait until the running search ``process`` has finished ``count`` evaluations (their
    result files written: its trace and progress are written at most every second)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and _results_in(directory) < count:
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)


def _results_in(directory) -> int:
    return len(result_files(directory)) if directory.exists() else 0


def _arrays(workdir) -> set[str]:
    """The SLURM job ids of the arrays the search in ``workdir`` submitted."""
    return {p.name.split("_")[0] for p in (workdir / "multirun" / ".submitit").glob("[0-9]*")}


def _start(arguments, workdir, extra_environment=None):
    return start_task(*arguments, workdir=workdir, extra_environment=extra_environment)


@pytest.mark.parametrize(
    ("where", "search", "stop"),
    [
        ("in-process", "tnc", signal.SIGINT),
        ("local", "tnc-optuna", signal.SIGTERM),
        ("local", "tnc", signal.SIGINT),
        ("slurm", "tnc", signal.SIGTERM),
    ],
)
def test_a_stopped_search_keeps_what_finished_and_the_rerun_goes_on(
    where, search, stop, request, tmp_path
):
    """Ctrl-C (SIGINT to the process group) or SIGTERM (to the sweeping process, as a
    scheduler sends it) in the middle of a search: a line says what was kept, exit 130 or
    143, no traceback; the workers stop; the rerun evaluates only what is missing."""
    if where == "slurm":
        request.getfixturevalue("slurm_cluster")
    arguments = ["-cp", "experiment", f"search={search}", *LONG[search], "-m"]
    if where != "in-process":
        arguments.insert(3, f"launcher={where}")
    process = _start(arguments, tmp_path)
    directory = tmp_path / "results" / f"search={search}"
    _wait_for_evaluations(process, directory, 6)
    stderr = stop_task(process, stop)
    done = evaluations_done(directory)
    assert 4 <= done < 60, "stop the search in the middle"
    name = "SIGINT" if stop == signal.SIGINT else "SIGTERM"
    assert f"search stopped by {name}: {done} of 60 evaluations recorded" in stderr
    assert "Traceback" not in stderr, stderr
    if where == "slurm":
        assert slurm_tasks_end(tmp_path, 30), "the search's SLURM workers were not cancelled"
    assert not list(directory.rglob(".*.lock")), "a stopped worker's lock file was left"
    finished = trace(directory)
    assert len(finished) == done
    completed = run_task(*arguments, workdir=tmp_path)
    rows = trace(directory)
    assert len(rows) == 60 and rows[:done] == finished
    assert completed.output.count("\t#") <= 60 - done + 2, "finished evaluations were repeated"


@pytest.mark.parametrize("search", ["tnc", "tnc-optuna"])
def test_a_search_stopped_in_process_goes_on_on_the_pool(search, tmp_path):
    """The launcher is not part of a search: one stopped in this process goes on with
    ``launcher=local`` and ends with the uninterrupted search's trials (a resumed nevergrad
    optimizer keeps the first run's constant overrides; the evaluations take this run's)."""
    arguments = ["-cp", "experiment", f"search={search}", *LONG[search], "-m"]
    (tmp_path / "whole").mkdir()
    run_task(*arguments, workdir=tmp_path / "whole")
    whole = trace(tmp_path / "whole" / "results" / f"search={search}")
    process = _start(arguments, tmp_path)
    directory = tmp_path / "results" / f"search={search}"
    _wait_for_evaluations(process, directory, 6)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    assert process.returncode == 143
    assert 4 <= evaluations_done(directory) < 60, "stop the search in the middle"
    completed = run_task(*arguments[:3], "launcher=local", *arguments[3:], workdir=tmp_path)
    assert "Resuming the search" in completed.output
    assert "launcher=local" not in completed.output.split("Best parameters:", 1)[1]
    assert trace(directory) == whole


def test_a_search_whose_slurm_workers_are_cancelled_fails_naming_them(slurm_cluster, tmp_path):
    """``scancel`` of the workers' array: the search stops with a non-zero exit, naming the
    tasks and how they ended; the finished evaluations are kept for the rerun."""
    budget = ("hydra.sweeper.search.optim.budget=400", "hydra.sweeper.search.optim.num_workers=2")
    arguments = ["-cp", "experiment", "search=tnc", "launcher=slurm", *budget, "-m"]
    process = _start(arguments, tmp_path)
    directory = tmp_path / "results" / "search=tnc"
    _wait_for_evaluations(process, directory, 4)
    arrays = _arrays(tmp_path)
    assert len(arrays) == 1, arrays
    subprocess.run(["scancel", *arrays], check=True)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    assert "every SLURM worker of the search ended before the search did" in stderr
    assert "CANCELLED" in stderr, stderr
    kept = evaluations_done(directory)
    assert kept >= 4 and len(trace(directory)) == kept


def test_slurm_workers_signalled_before_their_time_limit_are_replaced(slurm_cluster, tmp_path):
    """SLURM's signal before a task's time limit (``--signal=USR2@signal_delay_s``, sent here
    by ``scancel --signal``): each worker finishes its evaluation and exits, a new array
    replaces them at once, and the search ends with every evaluation a success."""
    budget = ("hydra.sweeper.search.optim.budget=300", "hydra.sweeper.search.optim.num_workers=2")
    arguments = ["-cp", "experiment", "search=tnc", "launcher=slurm", *budget, "-m"]
    process = _start(arguments, tmp_path)
    directory = tmp_path / "results" / "search=tnc"
    deadline = time.monotonic() + 240
    while (
        time.monotonic() < deadline and len(list((tmp_path / "multirun" / "workers").glob("*"))) < 2
    ):
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    (first,) = _arrays(tmp_path)
    subprocess.run(["scancel", "--signal=USR2", first], check=True)
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stderr
    assert "ended (exited at the signal of its time limit): replaced by SLURM job" in stdout
    arrays = _arrays(tmp_path)
    assert len(arrays) == 2, arrays
    saved = yaml.safe_load((directory / "progress.yaml").read_text())
    assert saved["evaluations"] == 300 and saved["failures"] == 0
    assert [int(row[0]) for row in trace(directory)] == list(range(300))
    assert slurm_tasks_end(tmp_path, 30)


def test_plain_tree_search_runs_its_evaluations_on_the_pool(tmp_path):
    """The plain tree's ad-hoc search with Hydra's joblib launcher: evaluated on the pool by
    the same path, with the same evaluations as in this process."""
    arguments = [
        "hydra/sweeper=nevergrad",
        "method=tnc",
        "method.options.eta=tag(log, interval(0.001, 1))",
        "hydra.sweeper.optim.budget=6",
        "hydra.sweeper.optim.num_workers=2",
        "-m",
    ]
    (tmp_path / "here").mkdir()
    (tmp_path / "pool").mkdir()
    run_task(*arguments, workdir=tmp_path / "here")
    completed = run_task(*arguments, "hydra/launcher=joblib", workdir=tmp_path / "pool")
    assert "Traceback" not in completed.output
    here = trace(tmp_path / "here" / "multirun" / "search")
    pool = trace(tmp_path / "pool" / "multirun" / "search")
    assert len(pool) == 6 and pool == here
    assert (tmp_path / "pool" / "multirun" / "workers").is_dir()


def _killed_in_the_middle(arguments, workdir, environment=None):
    """Start the search, SIGKILL the sweeping process alone once 4 evaluations are done."""
    process = _start(arguments, workdir, environment)
    directory = workdir / "results" / "search=tnc"
    _wait_for_evaluations(process, directory, 4)
    process.kill()
    process.communicate()
    return process, directory


def _group_gone(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_pool_workers_of_a_killed_search_exit_and_the_rerun_goes_on(tmp_path):
    """``kill -9`` of a search on launcher=local: its pool workers exit within seconds (no
    orphan computing on), and the rerun keeps every evaluation that had finished."""
    arguments = ["-cp", "experiment", "search=tnc", "launcher=local", *LONG["tnc"], "-m"]
    process, directory = _killed_in_the_middle(arguments, tmp_path)
    assert _group_gone(process.pid, 10), "pool workers outlived their search"
    finished = trace(directory)  # written at most every second: it may lag the results
    assert 2 <= len(finished) < 60
    saved = {p: p.stat().st_mtime_ns for p in result_files(directory)}
    assert len(saved) >= 4
    run_task(*arguments, workdir=tmp_path)
    rows = trace(directory)
    assert len(rows) == 60 and rows[: len(finished)] == finished
    assert all(p.stat().st_mtime_ns == ns for p, ns in saved.items()), "a result was recomputed"


def test_slurm_workers_of_a_killed_search_exit_without_its_heartbeat(slurm_cluster, tmp_path):
    """``kill -9`` of a search on launcher=slurm: nobody cancels the array, so the workers
    notice the missing heartbeat and exit ($OPTSWEEP_ORPHANED_AFTER: 3 s here, 120 s by
    default)."""
    arguments = ["-cp", "experiment", "search=tnc", "launcher=slurm", *LONG["tnc"], "-m"]
    environment = {"OPTSWEEP_ORPHANED_AFTER": "3"}
    _killed_in_the_middle(arguments, tmp_path, environment)
    assert slurm_tasks_end(tmp_path, 30), "SLURM workers outlived their search"


@pytest.mark.parametrize(
    ("options", "why"),
    [
        (
            ("launcher=local", "hydra.job.chdir=true"),
            "hydra.job.chdir or hydra.job.env_set is set, which only Hydra's launcher applies",
        ),
        (
            ("launcher=local", "hydra.launcher.backend=multiprocessing"),
            "only joblib's process pool (loky) and SLURM run a search's workers",
        ),
    ],
    ids=["chdir", "multiprocessing"],
)
def test_a_launcher_no_worker_can_serve_is_refused_before_any_evaluation(tmp_path, options, why):
    """Hydra's launcher would compose each evaluation in its worker without the experiment
    tree's engine config, failing every one: refused instead, saying why, nothing run."""
    completed = run_task(
        "-cp", "experiment", "search=tnc", *options, "-m", workdir=tmp_path, check=False
    )
    assert completed.returncode == 1, completed.output
    assert (
        f"search refused before any evaluation: search=tnc on launcher=local: {why}"
        in completed.output
    )
    assert "Traceback" not in completed.output
    assert not (tmp_path / "results").exists()


def test_a_pool_worker_killed_during_a_search_costs_no_evaluation(tmp_path):
    """``kill -9`` of one pool worker: loky breaks the pool and every evaluation in flight;
    those evaluated again on a new pool, so the search ends with every evaluation a success
    and the same trials as in this process."""
    arguments = ["-cp", "experiment", "search=tnc", "launcher=local", *LONG["tnc"], "-m"]
    process = _start(arguments, tmp_path)
    directory = tmp_path / "results" / "search=tnc"
    _wait_for_evaluations(process, directory, 4)
    workers = [p.name for p in (tmp_path / "multirun" / "workers").iterdir()]
    os.kill(int(workers[0].removeprefix("pid-")), signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stderr
    said = stdout + stderr
    assert "a joblib worker died" in said
    rows = trace(directory)
    assert len(rows) == 60 and all(value for _, value, _ in rows), rows
    (tmp_path / "here").mkdir()
    run_task("-cp", "experiment", "search=tnc", *LONG["tnc"], "-m", workdir=tmp_path / "here")
    assert rows == trace(tmp_path / "here" / "results" / "search=tnc")


def test_workers_killed_with_tasks_not_yet_sent_leave_no_traceback(monkeypatch):
    """A stop of a search on joblib's pool kills its workers (loky's shutdown with
    kill_workers) while tasks wait that no worker has been sent: loky's manager thread then
    looked up one it had dropped (KeyError, a traceback on stderr after the search's
    summary; a CI run met it). Every task is failed, and no thread raises."""
    import threading

    from joblib.externals.loky import get_reusable_executor

    from optsweep.engine.search.pool_workers import shut_down_killing

    raised = []
    monkeypatch.setattr(threading, "excepthook", lambda hooked: raised.append(hooked.exc_value))
    executor = get_reusable_executor(max_workers=1, reuse=False)
    executor.submit(time.sleep, 0).result()  # the worker is up
    waiting = [executor.submit(time.sleep, 5) for _ in range(6)]  # loky sends 2, queues 4
    time.sleep(0.5)
    clock = time.monotonic()
    shut_down_killing(executor, wait=True)
    assert time.monotonic() - clock < 4, "the running task was not killed"
    assert all(future.done() for future in waiting)
    assert all(future.exception() is not None for future in waiting)
    time.sleep(0.2)  # the manager thread's last steps
    assert raised == []
