"""Asynchronous Optuna searches (``asynchronous: true``): on ``launcher=local`` real joblib
pool workers ask for, evaluate and tell their own trials through the study's real SQLite
storage; on ``launcher=slurm`` (the real test cluster) the sweeping process asks a trial as
each is told, the search's array tasks evaluating them. One worker gives the batched
search's trials; several finish the budget with every trial evaluated once; a stop, a killed
worker and too many failures keep what the study holds."""

import json
import os
import re
import signal
import time

import optuna
import pytest
import yaml

from conftest import (
    evaluations_in_worker_logs,
    run_task,
    search_trace,
    slurm_tasks_end,
    start_task,
    stop_task,
    wait_for_results,
)
from optsweep.engine.search.pool_workers import DIED_TWICE
from optsweep.report.table import result_files

SEARCH = "tnc-optuna"
KEY = "hydra.sweeper.search.optuna"
POOL = ("launcher=local", "hydra.launcher.n_jobs=2")


def budget(trials: int, workers: int) -> tuple[str, ...]:
    return (f"{KEY}.n_trials={trials}", f"{KEY}.num_workers={workers}")


ASYNCHRONOUS = (f"{KEY}.asynchronous=true",)


def progress(directory):
    return yaml.safe_load((directory / "progress.yaml").read_text())


def trials_of(directory):
    said = progress(directory)["study"]
    return optuna.load_study(study_name=said["name"], storage=said["storage"]).get_trials()


def search(workdir, *options, check=True):
    arguments = ("-cp", "experiment", f"search={SEARCH}", *options, "-m")
    return run_task(*arguments, workdir=workdir, check=check)


def test_one_asynchronous_worker_asks_the_batched_searchs_trials(tmp_path):
    (tmp_path / "batched").mkdir()
    (tmp_path / "asynchronous").mkdir()
    search(tmp_path / "batched", *budget(10, 1))
    completed = search(tmp_path / "asynchronous", *budget(10, 1), *ASYNCHRONOUS, *POOL)
    assert "1 in flight, asked and told by the workers" in completed.output
    assert "Traceback" not in completed.output
    batched = search_trace(tmp_path / "batched" / "results" / f"search={SEARCH}")
    ours = search_trace(tmp_path / "asynchronous" / "results" / f"search={SEARCH}")
    assert len(ours) == 10 and ours == batched
    assert evaluations_in_worker_logs(tmp_path / "asynchronous") == 10


def test_asynchronous_workers_evaluate_each_trial_of_the_budget_once(tmp_path):
    completed = search(tmp_path, *budget(16, 2), *ASYNCHRONOUS, *POOL)
    assert "Traceback" not in completed.output and "warn" not in completed.output.lower()
    directory = tmp_path / "results" / f"search={SEARCH}"
    rows = search_trace(directory)
    assert [number for number, *_ in rows] == list(range(16)) and all(v for _, v, _ in rows)
    assert len({json.dumps(p, sort_keys=True) for *_, p in rows}) == 16
    trials = trials_of(directory)
    assert len(trials) == 16 and all(t.state.name == "COMPLETE" for t in trials)
    assert {t.user_attrs["path"] for t in trials} == {str(p) for p in result_files(directory)}
    workers = list((tmp_path / "multirun" / "workers").iterdir())
    assert len(workers) == 2, "both pool workers ask and evaluate trials"
    assert evaluations_in_worker_logs(tmp_path) == 16
    best = min(rows, key=lambda row: float(row[1]))
    assert progress(directory)["best_evaluated"]["value"] == float(best[1])
    again = search(tmp_path, *budget(16, 2), *ASYNCHRONOUS, *POOL)
    assert (
        "16 of 16 evaluations done" in again.output and evaluations_in_worker_logs(tmp_path) == 16
    )


def test_asynchronous_is_said_to_run_in_batches_off_the_pool(tmp_path):
    completed = search(tmp_path, *budget(4, 2), *ASYNCHRONOUS)
    assert f"{KEY}.asynchronous: trials are kept in flight on launcher=local" in completed.output
    assert len(search_trace(tmp_path / "results" / f"search={SEARCH}")) == 4


def _start(arguments, workdir):
    return start_task(*arguments, workdir=workdir)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_stopped_asynchronous_search_keeps_its_told_trials_and_the_rerun_goes_on(stop, tmp_path):
    """Ctrl-C (to the process group) or SIGTERM (to the sweeping process): exit 130 or 143,
    a line says what was kept, the trials in flight stay RUNNING, and the rerun evaluates them
    and the rest, never a told trial again."""
    arguments = ["-cp", "experiment", f"search={SEARCH}", *budget(40, 2), *ASYNCHRONOUS, *POOL]
    arguments.append("-m")
    process = _start(arguments, tmp_path)
    directory = tmp_path / "results" / f"search={SEARCH}"
    wait_for_results(process, directory, 6)
    stderr = stop_task(process, stop)
    assert "Traceback" not in stderr, stderr
    trials = trials_of(directory)
    told = {t.number: t.value for t in trials if t.state.name == "COMPLETE"}
    running = sorted(t.number for t in trials if t.state.name == "RUNNING")
    assert 4 <= len(told) < 40, "stop the search in the middle"
    name = "SIGINT" if stop == signal.SIGINT else "SIGTERM"
    assert f"search stopped by {name}: {len(told)} of 40 evaluations recorded" in stderr
    assert {number for number, *_ in search_trace(directory)} == set(told)
    before = evaluations_in_worker_logs(tmp_path)
    completed = run_task(*arguments, workdir=tmp_path)
    assert f"{len(told)} of 40 evaluations done" in completed.output
    assert evaluations_in_worker_logs(tmp_path) - before <= 40 - len(told), (
        "a told trial was evaluated again"
    )
    trials = trials_of(directory)
    assert len(trials) == 40 and all(t.state.name == "COMPLETE" for t in trials)
    assert all(t.value == told[t.number] for t in trials if t.number in told)
    assert sorted(t.number for t in trials if "resumed" in t.user_attrs) == running
    assert [number for number, *_ in search_trace(directory)] == list(range(40))


@pytest.mark.parametrize("running", [2, 0], ids=["inside-trials", "between-trials"])
def test_a_pool_worker_killed_during_an_asynchronous_search_costs_no_trial(running, tmp_path):
    """``kill -9`` of pool workers: loky breaks the pool with every trial in flight; those left
    RUNNING are evaluated again on a new pool (killed inside a trial), or none is (killed
    between two), and the search ends with every trial told once, saying which case it was."""
    arguments = ["-cp", "experiment", f"search={SEARCH}", *budget(40, 2), *ASYNCHRONOUS, *POOL]
    process = _start([*arguments, "-m"], tmp_path)
    directory = tmp_path / "results" / f"search={SEARCH}"
    wait_for_results(process, directory, 4)
    caught = _kill_workers_with(running, tmp_path / "multirun" / "workers", directory)
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stderr
    said = re.search(r"a joblib worker died; evaluating trials ([\d, ]+) again", stdout + stderr)
    if running:
        assert said, stdout + stderr
        assert 1 <= len(set(said[1].split(", ")) & set(map(str, caught))) <= 2
    else:
        assert not said and "no trial was left running: going on on a new pool" in stdout + stderr
    rows = search_trace(directory)
    assert [number for number, *_ in rows] == list(range(40)) and all(v for _, v, _ in rows)
    trials = trials_of(directory)
    assert len(trials) == 40 and all(t.state.name == "COMPLETE" for t in trials)
    assert any("resumed" in t.user_attrs for t in trials) == bool(running)


def _kill_workers_with(running: int, workers, directory) -> list[int]:
    """Stop both pool workers (SIGSTOP) until the study holds ``running`` RUNNING trials, then
    ``kill -9`` one (two running: its trial is surely left RUNNING) or both (none running:
    killed between two trials). Their numbers."""
    caught, _ = _kill_workers_when(
        lambda numbers: len(numbers) == running, workers, directory, both=not running
    )
    return caught


def _kill_workers_when(wanted, workers, directory, *, both, old=frozenset()):
    """Stop the two pool workers (SIGSTOP; those not in ``old``, by pid) until the trials the
    study holds RUNNING are ``wanted``, then ``kill -9`` one, or ``both``. Trials take
    milliseconds, and the workers run only between two looks: tried until caught. The RUNNING
    trials' numbers and the workers' pids."""
    deadline = time.monotonic() + 60
    while True:
        pids = [int(p.name.removeprefix("pid-")) for p in workers.iterdir()]
        if len(pids := [pid for pid in pids if pid not in old]) == 2:
            break
        assert time.monotonic() < deadline, "the two pool workers never started"
        time.sleep(0.001)
    while time.monotonic() < deadline:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        caught = [t.number for t in trials_of(directory) if t.state.name == "RUNNING"]
        if wanted(caught):
            os.kill(pids[0], signal.SIGKILL)
            os.kill(pids[1], signal.SIGKILL if both else signal.SIGCONT)
            return caught, set(pids)
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.005)
    raise AssertionError("never caught the pool workers with the trials wanted running")


def test_a_trial_in_flight_at_two_deaths_fails_naming_it(tmp_path):
    """Both workers killed inside two trials, then the new pool's killed while it evaluates
    one of them again: that trial is told FAIL, saying it died twice, the search says so and
    goes on (one failure of 40 is tolerated)."""
    arguments = ["-cp", "experiment", f"search={SEARCH}", *budget(40, 2), *ASYNCHRONOUS, *POOL]
    process = _start([*arguments, "-m"], tmp_path)
    directory = tmp_path / "results" / f"search={SEARCH}"
    workers = tmp_path / "multirun" / "workers"
    wait_for_results(process, directory, 4)
    first, killed = _kill_workers_when(lambda n: len(n) == 2, workers, directory, both=True)
    second, _ = _kill_workers_when(
        lambda n: bool(set(n) & set(first)), workers, directory, both=True, old=killed
    )
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stderr
    twice = sorted(set(first) & set(second))
    said = ", ".join(map(str, twice))
    assert f"a joblib worker died again; trials {said} failed: {DIED_TWICE}" in stdout + stderr
    trials = trials_of(directory)
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert [t.number for t in failed] == twice and len(trials) == 40
    assert all(t.user_attrs["error"] == f"ChunkDied: {DIED_TWICE}" for t in failed)
    assert f"{len(twice)} of 40 evaluations failed (tolerated" in stdout + stderr


FAILING = (
    "hydra/sweeper=optuna",
    "hydra/sweeper/sampler=random",
    "hydra.sweeper.sampler.seed=0",
    "method=tnc",
    "x0=null",
    "x0_random.high=choice(1.0,-5.0)",  # high below low: the job is refused
    "hydra.sweeper.n_trials=12",
    "hydra.sweeper.n_jobs=2",
    "hydra.sweeper.asynchronous=true",
    "hydra/launcher=joblib",
    "hydra.launcher.n_jobs=2",
)


def test_asynchronous_failures_under_the_tolerated_rate_are_told_and_kept(tmp_path):
    completed = run_task(*FAILING, "hydra.sweeper.max_failure_rate=0.9", "-m", workdir=tmp_path)
    directory = tmp_path / "multirun" / "search"
    failed = [row for row in search_trace(directory) if not row[1]]
    assert 0 < len(failed) < 12 and all(p["x0_random.high"] == -5.0 for *_, p in failed)
    assert f"{len(failed)} of 12 evaluations failed (tolerated" in completed.output
    states = [t.state.name for t in trials_of(directory)]
    assert states.count("FAIL") == len(failed) and states.count("COMPLETE") == 12 - len(failed)


def test_asynchronous_failures_over_the_tolerated_rate_fail_the_search(tmp_path):
    """Past the rate, no new trial is handed out; those in flight are told; exit non-zero,
    naming the failures, with no best point and no trial left RUNNING."""
    completed = run_task(
        *FAILING, "hydra.sweeper.max_failure_rate=0.1", "-m", workdir=tmp_path, check=False
    )
    assert completed.returncode != 0
    assert "more than max_failure_rate=0.1 of the budget 12" in completed.output
    assert "{'x0_random.high': -5.0}: " in completed.output
    assert "Best parameters" not in completed.output and "Traceback" not in completed.output
    directory = tmp_path / "multirun" / "search"
    trials = trials_of(directory)
    assert len(trials) < 12 and all(t.state.is_finished() for t in trials)
    assert len(search_trace(directory)) == len(trials)


# -- on SLURM: the sweeping process asks and tells, the search's array tasks evaluate ----------

SLURM = ("launcher=slurm",)


def test_one_asynchronous_slurm_worker_asks_the_batched_searchs_trials(slurm_cluster, tmp_path):
    (tmp_path / "batched").mkdir()
    (tmp_path / "slurm").mkdir()
    search(tmp_path / "batched", *budget(8, 1))
    completed = search(tmp_path / "slurm", *budget(8, 1), *ASYNCHRONOUS, *SLURM)
    assert "1 in flight, each asked as one is told" in completed.output
    assert "Traceback" not in completed.output and "at a time" not in completed.output
    assert completed.output.count("Search workers: SLURM job") == 1
    ours = search_trace(tmp_path / "slurm" / "results" / f"search={SEARCH}")
    assert ours == search_trace(tmp_path / "batched" / "results" / f"search={SEARCH}")
    assert evaluations_in_worker_logs(tmp_path / "slurm") == 8
    assert slurm_tasks_end(tmp_path / "slurm", 30), "the workers did not exit with the search"


def test_asynchronous_slurm_trials_cover_the_budget_and_a_stop_keeps_them(slurm_cluster, tmp_path):
    """SIGTERM (as ``scancel`` of the sweeping job sends it) in the middle: the workers are
    cancelled, the trials in flight stay RUNNING, and the rerun evaluates them and the rest,
    never a told trial again."""
    arguments = ["-cp", "experiment", f"search={SEARCH}", *budget(40, 2), *ASYNCHRONOUS, *SLURM]
    arguments.append("-m")
    process = _start(arguments, tmp_path)
    directory = tmp_path / "results" / f"search={SEARCH}"
    wait_for_results(process, directory, 8)
    stderr = stop_task(process, signal.SIGTERM)
    assert "Traceback" not in stderr, stderr
    assert slurm_tasks_end(tmp_path, 30), "the search's SLURM workers were not cancelled"
    trials = trials_of(directory)
    told = {t.number: t.value for t in trials if t.state.name == "COMPLETE"}
    running = sorted(t.number for t in trials if t.state.name == "RUNNING")
    assert 4 <= len(told) < 40, "stop the search in the middle"
    assert f"search stopped by SIGTERM: {len(told)} of 40 evaluations recorded" in stderr
    completed = run_task(*arguments, workdir=tmp_path)
    assert f"{len(told)} of 40 evaluations done" in completed.output
    trials = trials_of(directory)
    assert len(trials) == 40 and all(t.state.name == "COMPLETE" for t in trials)
    assert all(t.value == told[t.number] for t in trials if t.number in told)
    assert sorted(t.number for t in trials if "resumed" in t.user_attrs) == running
    assert [number for number, *_ in search_trace(directory)] == list(range(40))
    assert len({json.dumps(p, sort_keys=True) for *_, p in search_trace(directory)}) == 40
    assert slurm_tasks_end(tmp_path, 30)
