"""tracker=mlflow and tracker=wandb: one run per job that runs, on every launcher, read back
with MLflow's client and from W&B's offline run files; nothing new on an up-to-date rerun; a
failed job logged as failed; a search's evaluations logged; neither library imported without a
tracker."""

import json
import os
import signal
import struct
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_task, task_command
from optsweep.report.table import result_files

SWEEP = ("-cp", "experiment", "settings=tnc", "maxfun=10,20")


@pytest.fixture(params=["in-process", "local", "slurm"], ids=["in-process", "joblib", "slurm"])
def launcher(request) -> tuple[str, ...]:
    if request.param == "slurm":
        request.getfixturevalue("slurm_cluster")
    return () if request.param == "in-process" else (f"launcher={request.param}",)


def mlflow_runs(store):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("rosenbrock")
    assert experiment is not None
    return client.search_runs([experiment.experiment_id], max_results=1000)


def test_mlflow_one_run_per_job_and_none_on_rerun(launcher, tmp_path):
    store = tmp_path / "mlflow.db"
    arguments = (*SWEEP, *launcher, "tracker=mlflow", f"tracker.uri=sqlite:///{store}", "-m")
    completed = run_task(*arguments, workdir=tmp_path)
    assert "2 ran, 0 failed" in completed.output
    runs = sorted(mlflow_runs(store), key=lambda run: int(run.data.params["method.options.maxfun"]))
    assert [run.info.status for run in runs] == ["FINISHED", "FINISHED"]
    assert [run.data.params["method.options.maxfun"] for run in runs] == ["10", "20"]
    for run in runs:
        assert run.data.params["method.name"] == "TNC"
        assert run.data.params["method.options.eta"] == "0.5"
        assert {"fun", "nfev", "nit", "success", "wall_time"} <= set(run.data.metrics)
        assert run.data.metrics["nfev"] > 0
        assert run.data.tags["choice.settings"] == "tnc"
        assert run.data.tags["sweep"].endswith("multirun") or "multirun" in run.data.tags["sweep"]
        assert run.data.tags["result"].endswith(".pkl")
        assert len(run.data.tags["code"]) > 8
        assert "tracker" not in " ".join(run.data.params)  # where runs go is no param
    rerun = run_task(*arguments, workdir=tmp_path)
    assert "2 skipped (up to date)" in rerun.output
    assert len(mlflow_runs(store)) == 2


def test_mlflow_failed_job_is_logged_as_failed_with_its_error(tmp_path):
    store = tmp_path / "mlflow.db"
    completed = run_task(
        "-cp",
        "experiment",
        "settings=tnc",
        "maxfun=20",
        "x0=[0.5,0.5],[1e200,1e200]",
        "tracker=mlflow",
        f"tracker.uri=sqlite:///{store}",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode != 0
    runs = {run.info.status: run for run in mlflow_runs(store)}
    assert set(runs) == {"FINISHED", "FAILED"}
    failed = runs["FAILED"]
    assert failed.data.tags["error"].startswith("NonFiniteObjective: TNC ended with f=inf")
    assert failed.data.params["x0"] == "[1e+200, 1e+200]"
    assert not failed.data.metrics


def test_mlflow_logs_each_evaluation_of_a_search(tmp_path):
    store = tmp_path / "mlflow.db"
    run_task(
        "-cp",
        "experiment",
        "search=tnc",
        "hydra.sweeper.search.optim.budget=4",
        "hydra.sweeper.search.optim.num_workers=2",
        "tracker=mlflow",
        f"tracker.uri=sqlite:///{store}",
        "-m",
        workdir=tmp_path,
    )
    runs = mlflow_runs(store)
    assert len(runs) == 4
    etas = {run.data.params["method.options.eta"] for run in runs}
    assert len(etas) == 4  # the searched parameter, one value per evaluation
    assert all("fun" in run.data.metrics for run in runs)


_BLOCK, _HEADER = 32768, 7  # LevelDB's log format, which W&B's run files use


def wandb_records(path):
    """The protobuf records of an offline W&B run file (``run-<id>.wandb``), as ``wandb sync``
    reads them: LevelDB log blocks after a ``:W&B`` header."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    ident, magic, _ = struct.unpack("<4sHB", data[:_HEADER])
    assert ident == b":W&B" and magic == 0xBEE1, path
    records, offset, pending = [], _HEADER, b""
    while offset + _HEADER <= len(data):
        room = _BLOCK - offset % _BLOCK
        if room < _HEADER:  # a block's tail too short for a header is padding
            offset += room
            continue
        _, length, kind = struct.unpack("<IHB", data[offset : offset + _HEADER])
        pending += data[offset + _HEADER : offset + _HEADER + length]
        offset += _HEADER + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def wandb_runs(directory):
    """(config, summary, exit code, group) of each offline run under ``directory/wandb``."""
    runs = []
    for run_file in sorted((directory / "wandb").glob("offline-run-*/run-*.wandb")):
        config, summary, exit_code, group = {}, {}, None, None
        for record in wandb_records(run_file):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                group = record.run.run_group
                config.update({u.key: json.loads(u.value_json) for u in record.run.config.update})
            elif kind == "config":
                config.update({u.key: json.loads(u.value_json) for u in record.config.update})
            elif kind == "summary":
                summary.update(
                    {u.key: json.loads(u.value_json) for u in record.summary.update if u.key}
                )
            elif kind == "exit":
                exit_code = record.exit.exit_code
        runs.append((config, summary, exit_code, group))
    return runs


def test_wandb_offline_one_run_per_job_and_none_on_rerun(launcher, tmp_path):
    arguments = (*SWEEP, *launcher, "tracker=wandb", f"tracker.dir={tmp_path}", "-m")
    run_task(*arguments, workdir=tmp_path)
    runs = wandb_runs(tmp_path)
    assert len(runs) == 2
    assert sorted(config["method.options.maxfun"] for config, *_ in runs) == ["10", "20"]
    assert len({group for *_, group in runs}) == 1 and "multirun" in runs[0][3]  # one sweep
    for config, summary, exit_code, _ in runs:
        assert config["method.name"] == "TNC"
        assert {"fun", "nfev", "nit", "success", "wall_time"} <= set(summary)
        assert summary["nfev"] > 0
        assert summary["tag.choice.settings"] == "tnc"
        assert exit_code == 0
    run_task(*arguments, workdir=tmp_path)
    assert len(wandb_runs(tmp_path)) == 2


def test_wandb_failed_job_is_logged_with_exit_code(tmp_path):
    completed = run_task(
        "-cp",
        "experiment",
        "settings=tnc",
        "maxfun=20",
        "x0=[1e200,1e200]",
        "tracker=wandb",
        f"tracker.dir={tmp_path}",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode != 0
    ((config, summary, exit_code, _),) = wandb_runs(tmp_path)
    assert exit_code == 1
    assert summary["tag.error"].startswith("NonFiniteObjective")
    assert config["x0"] == "[1e+200, 1e+200]"


def test_no_tracker_imports_neither_library(tmp_path):
    command = task_command("-cp", "experiment", "settings=tnc", "maxfun=10", "-m", workdir=tmp_path)
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", *command[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in completed.stderr.splitlines()
        if "|" in line
    }
    assert "mlflow" not in imported and "wandb" not in imported
    assert "numpy" in imported  # the import log is real


@pytest.mark.parametrize("tracker", ["mlflow", "wandb"])
@pytest.mark.parametrize("arguments", [("-m",), ()], ids=["sweep", "plain-run"])
def test_a_tracker_whose_package_is_missing_refuses_the_command_before_any_job(
    tmp_path, tracker, arguments
):
    """Asked for tracking in an environment without the tracker's package (the trackers
    extra not installed: here made unimportable in the process): refused before any job,
    saying what to install, exit 1; before, every job ran untracked and the exit was 0."""
    command = task_command(
        "-cp",
        "experiment",
        "settings=tnc",
        "maxfun=10",
        f"tracker={tracker}",
        *arguments,
        workdir=tmp_path,
    )
    hiding = (
        f"import runpy, sys; sys.modules[{tracker!r}] = None; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    completed = subprocess.run(
        [sys.executable, "-c", hiding, *command[1:]], cwd=tmp_path, capture_output=True, text=True
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert (
        f"refused: tracker={tracker} logs through {tracker}, which is not installed in this "
        "environment: install the trackers extra"
    ) in completed.stderr
    assert not (tmp_path / "results").exists(), "a job ran"


def test_the_default_mlflow_store_is_inside_the_project(monkeypatch):
    from optsweep.engine.trackers.mlflow_runs import default_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert default_uri() == f"sqlite:///{ROOT}/mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert default_uri() == "http://127.0.0.1:5000"


def test_a_killed_sweep_rerun_logs_each_job_once(tmp_path):
    store = tmp_path / "mlflow.db"
    command = task_command(
        "-cp",
        "experiment",
        "-m",
        "tracker=mlflow",
        f"tracker.uri=sqlite:///{store}",
        workdir=tmp_path,
    )
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while len(result_files(tmp_path / "results")) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = len(result_files(tmp_path / "results"))
    assert 8 <= finished < 45, "kill the sweep in the middle"
    completed = run_task(
        "-cp",
        "experiment",
        "-m",
        "tracker=mlflow",
        f"tracker.uri=sqlite:///{store}",
        workdir=tmp_path,
    )
    assert f"45 jobs: {finished} skipped (up to date)" in completed.output
    runs = mlflow_runs(store)
    names = [run.info.run_name for run in runs if run.info.status == "FINISHED"]
    # Each job once; at most the one job the kill cut short is missing its run (its result
    # was written, its run not yet logged, or left RUNNING: the rerun marks that one KILLED).
    assert len(names) == len(set(names)) and 44 <= len(names) <= 45
    statuses = [run.info.status for run in runs]
    assert "RUNNING" not in statuses and statuses.count("KILLED") <= 1


def test_a_run_left_running_by_a_dead_process_is_marked_killed(tmp_path):
    from mlflow.tracking import MlflowClient

    store = tmp_path / "mlflow.db"
    arguments = ("-cp", "experiment", "settings=tnc", "maxfun=10", "tracker=mlflow")
    run_task(*arguments, f"tracker.uri=sqlite:///{store}", "-m", workdir=tmp_path)
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("rosenbrock")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = __import__("socket").gethostname()
    tags = {"logged_by.host": host, "logged_by.pid": str(dead.pid)}
    orphan = client.create_run(experiment.experiment_id, run_name="cut short", tags=tags)
    alive = client.create_run(
        experiment.experiment_id, tags={**tags, "logged_by.pid": str(os.getpid())}
    )
    run_task(*arguments, "maxfun=20", f"tracker.uri=sqlite:///{store}", "-m", workdir=tmp_path)
    assert client.get_run(orphan.info.run_id).info.status == "KILLED"
    assert client.get_run(alive.info.run_id).info.status == "RUNNING"  # a live process's
