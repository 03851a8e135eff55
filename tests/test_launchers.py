"""The experiment tree on Hydra's launchers: joblib on all cores, and SLURM through submitit on
a real single-node cluster (scripts/slurm-cluster). Same results, validation, resume, failure
summary and exit code as the in-process launcher; progress on a terminal."""

import os
import pickle
import pty
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, run_task, task_command
from optsweep.report.table import load_result, result_files

GRID = ("settings=tnc,lbfgsb", "maxfun=10,20,30")


@pytest.fixture(scope="session")
def in_process(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("in-process")
    run_task("-cp", "experiment", *GRID, "-m", workdir=workdir)
    return workdir / "results"


def assert_same_results(results, reference):
    files = result_files(results)
    assert [p.relative_to(results) for p in files] == [
        p.relative_to(reference) for p in result_files(reference)
    ]
    for path in files:
        ours, theirs = load_result(path), load_result(reference / path.relative_to(results))
        for part in ("config", "result"):
            assert pickle.dumps(ours[part]) == pickle.dumps(theirs[part]), (path, part)


@pytest.fixture(params=["local", "slurm"], ids=["joblib", "slurm"])
def launcher(request):
    """The launcher preset of the experiment tree (``launcher=...``) a test runs with."""
    if request.param == "slurm":
        request.getfixturevalue("slurm_cluster")
    return request.param


def test_same_results_and_resume_as_in_process(launcher, in_process, tmp_path):
    completed = run_task("-cp", "experiment", f"launcher={launcher}", *GRID, "-m", workdir=tmp_path)
    assert "6 jobs: 0 skipped (up to date), 6 ran, 0 failed" in completed.output
    assert "warn" not in completed.output.lower(), completed.output
    assert_same_results(tmp_path / "results", in_process)
    for path in result_files(tmp_path / "results"):  # the command that ran, not the worker's
        meta = load_result(path)["meta"]
        assert meta["argv"][0] == str(ROOT / "task.py") and meta["script"] == "task.py", path
        assert f"launcher={launcher}" in meta["argv"], meta["argv"]
    before = {p: p.stat().st_mtime_ns for p in result_files(tmp_path / "results")}
    completed = run_task(
        "-cp",
        "experiment",
        f"launcher={launcher}",
        *GRID,
        "maxfun=10,20,30,40",
        "-m",
        workdir=tmp_path,
    )
    assert "8 jobs: 6 skipped (up to date), 2 ran, 0 failed" in completed.output
    after = {p: p.stat().st_mtime_ns for p in result_files(tmp_path / "results")}
    assert all(after[p] == before[p] for p in before) and len(after) == 8


@pytest.mark.parametrize("stock", ["hydra.job.chdir=true", "hydra.sweeper.fast=false"])
def test_hydras_own_launcher_path_gives_the_same_results(stock, launcher, in_process, tmp_path):
    """A job that changes its working directory (or ``fast=false``) runs as one task of
    Hydra's launcher, which composes it in the worker: the experiment's configs get the
    engine's there too (before, every job failed: "Could not override 'output.dir'")."""
    completed = run_task(
        "-cp", "experiment", f"launcher={launcher}", stock, *GRID, "-m", workdir=tmp_path
    )
    assert "6 jobs: 0 skipped (up to date), 6 ran, 0 failed" in completed.output
    assert_same_results(tmp_path / "results", in_process)
    argv = {tuple(load_result(p)["meta"]["argv"]) for p in result_files(tmp_path / "results")}
    assert len(argv) == 1 and next(iter(argv))[0] == str(ROOT / "task.py"), argv


def test_partial_rerun_keeps_every_job_number(launcher, tmp_path):
    partial_rerun_keeps_every_job_number(tmp_path, f"launcher={launcher}")


def test_partial_rerun_keeps_every_job_number_in_process(tmp_path):
    partial_rerun_keeps_every_job_number(tmp_path)


def partial_rerun_keeps_every_job_number(tmp_path, *launcher):
    """A job's number (here: its file name) is its place in the whole sweep, also when the
    jobs before it are skipped, so no job writes over another's result."""
    sweep = (
        "-cp",
        "experiment",
        *launcher,
        "settings=tnc",
        "maxfun=10,20,30,40",
        "output.file=${output.dir}/n${hydra:job.num}.pkl",
        "-m",
    )
    run_task(*sweep, workdir=tmp_path)
    files = [tmp_path / "results" / f"n{number}.pkl" for number in range(4)]
    kept = {path: path.stat().st_mtime_ns for path in (files[0], files[3])}
    files[1].unlink()
    files[2].unlink()
    completed = run_task(*sweep, workdir=tmp_path)
    assert "4 jobs: 2 skipped (up to date), 2 ran, 0 failed" in completed.output
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items())
    budgets = [load_result(path)["config"]["method"]["options"]["maxfun"] for path in files]
    assert budgets == [10, 20, 30, 40]


def test_failing_job_gives_summary_and_non_zero_exit(launcher, tmp_path):
    completed = run_task(
        "-cp",
        "experiment",
        f"launcher={launcher}",
        "settings=tnc",
        "maxfun=20",
        "x0=[0.5,0.5],[1e200,1e200]",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode != 0
    assert "2 jobs: 0 skipped (up to date), 1 ran, 1 failed" in completed.output
    assert "NonFiniteObjective: TNC ended with f=inf" in completed.output
    (log,) = [line.split("log: ")[1] for line in completed.output.splitlines() if "log: " in line]
    assert os.path.exists(log)
    assert len(result_files(tmp_path / "results")) == 1


def test_a_failed_jobs_traceback_reaches_the_sweeping_process(launcher, tmp_path):
    """With HYDRA_FULL_ERROR=1, the summary's cause is the task's exception with the traceback
    of the worker or array task that raised it, not a bare RuntimeError."""
    command = task_command(
        "-cp",
        "experiment",
        f"launcher={launcher}",
        "settings=tnc",
        "maxfun=20",
        "x0=[1e200,1e200]",
        "-m",
        workdir=tmp_path,
    )
    environment = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    completed = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, env=environment, timeout=600
    )
    assert completed.returncode != 0
    output = completed.stdout + completed.stderr
    assert "The above exception was the direct cause of the following exception" in output
    cause = output.split("The above exception was the direct cause")[0]
    assert 'rosenbrock/solve.py", line' in cause and "raise NonFiniteObjective(" in cause
    assert "solve.NonFiniteObjective: TNC ended with f=inf" in cause


def test_bad_config_is_refused_before_anything_is_launched(launcher, tmp_path):
    completed = run_task(
        "-cp",
        "experiment",
        f"launcher={launcher}",
        "settings=tnc",
        "+method.options.etaa=1",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode != 0 and "has no option 'etaa'" in completed.output
    assert not (tmp_path / "results").exists()
    assert not list(tmp_path.rglob(".submitit"))


def test_slurm_preset_is_set_in_yaml_and_overridable(tmp_path):
    completed = run_task(
        "-cp",
        "experiment",
        "launcher=slurm",
        "settings=tnc",
        "hydra.launcher.partition=big",
        "hydra.launcher.timeout_min=7",
        "--cfg",
        "hydra",
        "-p",
        "hydra.launcher",
        workdir=tmp_path,
    )
    for line in (
        "partition: big",
        "timeout_min: 7",
        "cpus_per_task: 1",
        "mem_gb: 1",
        "array_parallelism: 64",
        "hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
    ):
        assert line in completed.stdout, completed.stdout


def run_in_terminal(arguments, workdir, interval="0.05"):
    """Run task.py with stdout and stderr on a pseudo-terminal, a progress line every
    ``interval`` seconds; return what it printed."""
    workdir.mkdir(parents=True, exist_ok=True)
    controller, terminal = pty.openpty()
    command = [
        sys.executable,
        str(ROOT / "task.py"),
        *arguments,
        f"output.dir={workdir / 'results'}",
        f"hydra.sweep.dir={workdir / 'multirun'}",
    ]
    # A line every 0.05 s, so that some fall mid-sweep however fast the machine is.
    environment = {**os.environ, "OPTSWEEP_PROGRESS_INTERVAL": interval}
    process = subprocess.Popen(
        command, cwd=workdir, stdout=terminal, stderr=terminal, env=environment
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait()
    os.close(controller)
    return process.returncode, b"".join(chunks).decode()


def test_progress_on_a_terminal_and_quiet_elsewhere(tmp_path):
    arguments = ("-cp", "experiment", "launcher=local", "maxfun=range(10,151,5)", "-m")
    code, output = run_in_terminal(arguments, tmp_path / "tty")
    assert code == 0
    lines = [line for line in output.splitlines() if line.startswith("[progress]")]
    assert lines, output[-2000:]
    assert all(" jobs done, " in line and " elapsed" in line for line in lines)
    assert any(" left" in line for line in lines)
    completed = run_task(*arguments, workdir=tmp_path)
    assert "[progress]" not in completed.output
    assert "87 jobs: 0 skipped (up to date), 87 ran, 0 failed" in completed.output


def test_progress_of_in_process_jobs_counts_the_ends_marked_in_memory(tmp_path):
    """Jobs run by the sweeping process mark their ends in its memory, not in files: the
    progress lines count them, no marker file is made, and the reporting thread, reading the
    marks while the jobs add to them (a line every millisecond here), prints no error. (Its
    copy of the marks is what keeps "Set changed size during iteration" away; at 87 jobs that
    race is too rare for this run to show it every time.)"""
    arguments = ("-cp", "experiment", "maxfun=range(10,151,5)", "-m")
    code, output = run_in_terminal(arguments, tmp_path / "tty", interval="0.001")
    assert code == 0, output[-2000:]
    assert "Exception in thread" not in output and "Traceback" not in output, output[-2000:]
    done = [
        int(line.split()[1].split("/")[0])
        for line in output.splitlines()
        if line.startswith("[progress]")
    ]
    assert any(0 < number < 87 for number in done), output[-2000:]
    assert "87 jobs: 0 skipped (up to date), 87 ran, 0 failed" in output
    assert not (tmp_path / "tty" / "multirun" / ".progress").exists()


def test_slurm_runs_chunks_in_at_most_max_array_size_tasks(slurm_cluster, in_process, tmp_path):
    completed = run_task(
        "-cp",
        "experiment",
        "launcher=slurm",
        *GRID,
        "hydra.sweeper.chunk_size=1",
        "hydra.sweeper.max_array_size=4",
        "-m",
        workdir=tmp_path,
    )
    assert "Submitted 6 jobs as 4 array tasks of SLURM job" in completed.output
    assert "6 jobs: 0 skipped (up to date), 6 ran, 0 failed" in completed.output
    assert_same_results(tmp_path / "results", in_process)
    # math libraries' thread pools are capped at the task's CPUs (no oversubscribed node)
    [script] = tmp_path.glob("multirun/.submitit/*/*_submission.sh")
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        assert (
            f"export {variable}=${{{variable}:-${{SLURM_CPUS_PER_TASK:-1}}}}" in script.read_text()
        )


def test_an_up_to_date_sweep_submits_nothing(launcher, in_process, tmp_path):
    shutil.copytree(in_process, tmp_path / "results")
    completed = run_task("-cp", "experiment", f"launcher={launcher}", *GRID, "-m", workdir=tmp_path)
    assert "6 jobs: 6 skipped (up to date), 0 ran, 0 failed" in completed.output
    assert not list(tmp_path.rglob(".submitit")) and not list(tmp_path.rglob("chunks"))


def test_slurm_runs_more_jobs_than_the_clusters_max_array_size(slurm_cluster, tmp_path):
    completed = run_task(
        "-cp",
        "experiment",
        "launcher=slurm",
        "settings=tnc",
        "maxfun=range(1,1202)",
        "-m",
        workdir=tmp_path,
    )
    assert "1201 jobs: 0 skipped (up to date), 1201 ran, 0 failed" in completed.output
    assert len(result_files(tmp_path / "results")) == 1201
