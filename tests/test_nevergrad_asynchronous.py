"""Asynchronous nevergrad searches (``optim.asynchronous: true``): the sweeping process keeps
``num_workers`` evaluations in flight on real joblib pool workers (``launcher=local``) or on
the search's real SLURM array tasks (``launcher=slurm``), and asks real nevergrad for the
next point as each is told. One worker gives the batched search's evaluations; several
finish the budget with every point evaluated once; a stop, a killed worker and too many
failures keep what was told, and a rerun repeats no evaluation."""

import json
import os
import signal

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
from optsweep.report.table import result_files

SEARCH = "tnc"
KEY = "hydra.sweeper.search.optim"
POOL = ("launcher=local", "hydra.launcher.n_jobs=2")
ASYNCHRONOUS = (f"{KEY}.asynchronous=true",)


def budget(evaluations: int, workers: int) -> tuple[str, ...]:
    return (f"{KEY}.budget={evaluations}", f"{KEY}.num_workers={workers}")


def points(rows) -> list[str]:
    return [json.dumps(params, sort_keys=True) for *_, params in rows]


def search(workdir, *options, check=True):
    arguments = ("-cp", "experiment", f"search={SEARCH}", *options, "-m")
    return run_task(*arguments, workdir=workdir, check=check)


def test_one_asynchronous_worker_asks_the_batched_searchs_points(tmp_path):
    """One in flight: each point asked after the last was told, as a batch of one. NGOpt
    with one worker runs its optimizer in a thread, whose state pickles only if asked before
    its first ask, and whose restoring (nevergrad replays it) fails: a rerun says so and asks
    the same points again, found current."""
    (tmp_path / "batched").mkdir()
    (tmp_path / "asynchronous").mkdir()
    search(tmp_path / "batched", *budget(10, 1))
    completed = search(tmp_path / "asynchronous", *budget(10, 1), *ASYNCHRONOUS, *POOL)
    assert "1 in flight, each asked as one is told" in completed.output
    assert "Traceback" not in completed.output
    batched = search_trace(tmp_path / "batched" / "results" / f"search={SEARCH}")
    directory = tmp_path / "asynchronous" / "results" / f"search={SEARCH}"
    ours = search_trace(directory)
    assert len(ours) == 10 and ours == batched
    assert evaluations_in_worker_logs(tmp_path / "asynchronous") == 10
    results = {path: path.stat().st_mtime_ns for path in result_files(directory)}
    again = search(tmp_path / "asynchronous", *budget(10, 1), *ASYNCHRONOUS, *POOL)
    assert "the saved optimizer state in " in again.output and "cannot be restored" in again.output
    assert search_trace(directory) == ours
    assert {path: path.stat().st_mtime_ns for path in result_files(directory)} == results


def test_asynchronous_evaluations_cover_the_budget_once_on_both_workers(tmp_path):
    completed = search(tmp_path, *budget(16, 2), *ASYNCHRONOUS, *POOL)
    assert "Traceback" not in completed.output and "warn" not in completed.output.lower()
    directory = tmp_path / "results" / f"search={SEARCH}"
    rows = search_trace(directory)
    assert [number for number, *_ in rows] == list(range(16)) and all(v for _, v, _ in rows)
    assert len(set(points(rows))) == 16
    assert len(result_files(directory)) == 16
    workers = list((tmp_path / "multirun" / "workers").iterdir())
    assert len(workers) == 2, "both pool workers evaluate"
    assert evaluations_in_worker_logs(tmp_path) == 16
    best = min(rows, key=lambda row: float(row[1]))
    progress = yaml.safe_load((directory / "progress.yaml").read_text())
    assert progress["best_evaluated"]["value"] == float(best[1])
    assert progress["definition"]["asynchronous"] is True
    assert (directory / "tnc-tuned.yaml").exists()


def test_asynchronous_is_said_to_run_in_batches_off_the_pool(tmp_path):
    completed = search(tmp_path, *budget(4, 2), *ASYNCHRONOUS)
    assert "optim.asynchronous: evaluations are kept in flight on launcher=local" in (
        completed.output
    )
    assert "2 in flight" in completed.output  # the definition's pace, as asked
    assert len(search_trace(tmp_path / "results" / f"search={SEARCH}")) == 4


def test_a_typo_in_asynchronous_is_refused_before_any_evaluation(tmp_path):
    completed = search(tmp_path, f"{KEY}.asynchronous=maybe", *POOL, check=False)
    assert completed.returncode != 0
    assert f"{KEY} of search={SEARCH}" in completed.output and "asynchronous" in completed.output
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_stopped_asynchronous_search_is_resumed_repeating_no_evaluation(stop, tmp_path):
    """Ctrl-C or SIGTERM: exit 130 or 143 saying what was kept. The optimizer state lags the
    trace (saved at most every 0.5 s): the rerun tells the trace's evaluations beyond it again
    with no evaluation, asking for the same points, and evaluates only the rest."""
    arguments = ["-cp", "experiment", f"search={SEARCH}", *budget(40, 2), *ASYNCHRONOUS, *POOL]
    arguments.append("-m")
    lagging = {"OPTSWEEP_SAVE_INTERVAL": "0.5"}
    process = start_task(*arguments, workdir=tmp_path, extra_environment=lagging)
    directory = tmp_path / "results" / f"search={SEARCH}"
    wait_for_results(process, directory, 12)
    stderr = stop_task(process, stop)
    assert "Traceback" not in stderr, stderr
    told = search_trace(directory)
    assert 8 <= len(told) < 40, "stop the search in the middle"
    name = "SIGINT" if stop == signal.SIGINT else "SIGTERM"
    assert f"search stopped by {name}: {len(told)} of 40 evaluations recorded" in stderr
    before = evaluations_in_worker_logs(tmp_path)
    completed = run_task(*arguments, workdir=tmp_path)
    assert f"{len(told)} of 40 evaluations done" in completed.output
    assert "asked for other points" not in completed.output, "the replay differed"
    assert evaluations_in_worker_logs(tmp_path) - before <= 40 - len(told), (
        "an evaluation was repeated"
    )
    rows = search_trace(directory)
    assert rows[: len(told)] == told, "the told evaluations are kept as they were"
    assert [number for number, *_ in rows] == list(range(40))
    assert len(set(points(rows))) == 40 and len(result_files(directory)) == 40


def test_a_pool_worker_killed_during_an_asynchronous_search_costs_no_evaluation(tmp_path):
    """``kill -9`` of one worker: loky breaks the pool with every evaluation in flight; those
    run again on a new pool and the search ends with the whole budget told."""
    arguments = ["-cp", "experiment", f"search={SEARCH}", *budget(40, 2), *ASYNCHRONOUS, *POOL]
    process = start_task(*arguments, "-m", workdir=tmp_path)
    directory = tmp_path / "results" / f"search={SEARCH}"
    wait_for_results(process, directory, 4)
    (worker, *_) = (tmp_path / "multirun" / "workers").iterdir()
    os.kill(int(worker.name.removeprefix("pid-")), signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stderr
    assert "a joblib worker died; evaluating " in stdout + stderr
    rows = search_trace(directory)
    assert [number for number, *_ in rows] == list(range(40)) and all(v for _, v, _ in rows)
    assert len(set(points(rows))) == 40


FAILING = (
    "hydra/sweeper=nevergrad",
    "method=tnc",
    "x0=null",
    "x0_random.high=choice(1.0,-5.0)",  # high below low: the job is refused
    "hydra.sweeper.optim.budget=12",
    "hydra.sweeper.optim.num_workers=2",
    "hydra.sweeper.optim.asynchronous=true",
    "hydra/launcher=joblib",
    "hydra.launcher.n_jobs=2",
)


def test_asynchronous_failures_under_the_tolerated_rate_are_told_and_kept(tmp_path):
    completed = run_task(
        *FAILING, "hydra.sweeper.optim.max_failure_rate=0.9", "-m", workdir=tmp_path
    )
    rows = search_trace(tmp_path / "multirun" / "search")
    failed = [row for row in rows if not row[1]]
    assert len(rows) == 12
    assert 0 < len(failed) < 12 and all(p["x0_random.high"] == -5.0 for *_, p in failed)
    assert f"{len(failed)} of 12 evaluations failed (tolerated" in completed.output


def test_asynchronous_failures_over_the_tolerated_rate_fail_the_search(tmp_path):
    """Past the rate no new point is asked; those in flight are told; exit non-zero, naming
    the failures, with no best point."""
    completed = run_task(
        *FAILING, "hydra.sweeper.optim.max_failure_rate=0.1", "-m", workdir=tmp_path, check=False
    )
    assert completed.returncode != 0
    assert "more than max_failure_rate=0.1 of the budget 12" in completed.output
    assert "{'x0_random.high': -5.0}: " in completed.output
    assert "Best parameters" not in completed.output and "Traceback" not in completed.output
    rows = search_trace(tmp_path / "multirun" / "search")
    assert 2 <= len(rows) < 12


# -- on SLURM: the sweeping process asks and tells, the search's array tasks evaluate ----------

SLURM = ("launcher=slurm",)


def test_one_asynchronous_slurm_worker_asks_the_batched_searchs_points(slurm_cluster, tmp_path):
    (tmp_path / "batched").mkdir()
    (tmp_path / "slurm").mkdir()
    search(tmp_path / "batched", *budget(8, 1))
    completed = search(tmp_path / "slurm", *budget(8, 1), *ASYNCHRONOUS, *SLURM)
    assert "1 in flight, each asked as one is told" in completed.output
    assert "Traceback" not in completed.output and "points at a time" not in completed.output
    assert completed.output.count("Search workers: SLURM job") == 1
    ours = search_trace(tmp_path / "slurm" / "results" / f"search={SEARCH}")
    assert ours == search_trace(tmp_path / "batched" / "results" / f"search={SEARCH}")
    assert evaluations_in_worker_logs(tmp_path / "slurm") == 8
    assert slurm_tasks_end(tmp_path / "slurm", 30), "the workers did not exit with the search"


def test_asynchronous_slurm_workers_cover_the_budget_and_a_stop_keeps_it(slurm_cluster, tmp_path):
    """Two array tasks, each evaluation put in the queue as one is told; SIGTERM (as
    ``scancel`` of the sweeping job sends it) in the middle cancels the workers, keeps every
    told evaluation, and the rerun evaluates only the rest."""
    arguments = ["-cp", "experiment", f"search={SEARCH}", *budget(40, 2), *ASYNCHRONOUS, *SLURM]
    arguments.append("-m")
    process = start_task(*arguments, workdir=tmp_path)
    directory = tmp_path / "results" / f"search={SEARCH}"
    wait_for_results(process, directory, 10)
    stderr = stop_task(process, signal.SIGTERM)
    assert "Traceback" not in stderr, stderr
    told = search_trace(directory)
    assert 6 <= len(told) < 40, "stop the search in the middle"
    assert f"search stopped by SIGTERM: {len(told)} of 40 evaluations recorded" in stderr
    assert slurm_tasks_end(tmp_path, 30), "the search's SLURM workers were not cancelled"
    before = evaluations_in_worker_logs(tmp_path)
    completed = run_task(*arguments, workdir=tmp_path)
    assert f"{len(told)} of 40 evaluations done" in completed.output
    assert evaluations_in_worker_logs(tmp_path) - before <= 40 - len(told) + 2
    rows = search_trace(directory)
    assert rows[: len(told)] == told, "the told evaluations are kept as they were"
    assert [number for number, *_ in rows] == list(range(40)) and all(v for _, v, _ in rows)
    assert len(set(points(rows))) == 40 and len(result_files(directory)) == 40
    workers = {p.name for p in (tmp_path / "multirun" / "workers").iterdir()}
    assert len(workers) >= 2 and all(name.startswith("task-") for name in workers), workers
    assert slurm_tasks_end(tmp_path, 30)
