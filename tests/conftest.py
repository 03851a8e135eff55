"""Shared helpers: run the real task.py in a subprocess, with every output in a temporary dir."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A test run started in the background by a script (``cmd &``, nohup) inherits Ctrl-C ignored,
# and so would every sweep it starts, which keeps ignoring it as a sweep started so must
# (test_a_sweep_started_with_ctrl_c_ignored_keeps_ignoring_it): the tests that press Ctrl-C
# would find it ignored. Their sweeps get it as from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


QUADRATIC = ROOT / "tests" / "quadratic"


def task_command(
    *arguments: str, workdir: Path, results: Path | None = None, script: Path = ROOT / "task.py"
) -> list[str]:
    """``python task.py ARGUMENTS`` with results in ``results`` (default ``workdir/results``)
    and Hydra's logs in ``workdir``."""
    return [
        sys.executable,
        str(script),
        *arguments,
        f"output.dir={results or workdir / 'results'}",
        f"hydra.run.dir={workdir}/run",
        f"hydra.sweep.dir={workdir}/multirun",
    ]


def start_task(
    *arguments: str, workdir: Path, extra_environment: dict | None = None
) -> subprocess.Popen:
    """``python task.py ARGUMENTS`` started in ``workdir`` in its own session (a signal to
    its process group reaches its workers), stdout and stderr piped as text."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}
    environment.update(extra_environment or {})
    return subprocess.Popen(
        task_command(*arguments, workdir=workdir),
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        start_new_session=True,
    )


def stop_task(process: subprocess.Popen, stop: int) -> str:
    """Stop the started task as a user does: SIGINT to its process group (Ctrl-C), another
    signal to the task alone (a scheduler's SIGTERM). Its stderr, once it exited 128+signal."""
    if stop == signal.SIGINT:
        os.killpg(process.pid, stop)
    else:
        process.send_signal(stop)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + stop, stderr
    return stderr


def run_task(
    *arguments: str,
    workdir: Path,
    results: Path | None = None,
    check: bool = True,
    script: Path = ROOT / "task.py",
) -> subprocess.CompletedProcess:
    """``python task.py ARGUMENTS`` started in ``workdir`` (not the project root).

    Results go to ``results`` (default ``workdir/results``), Hydra's logs to ``workdir``.
    ``.output`` of the returned process is its stdout and stderr together. ``script``: another
    experiment's task file (its directory is put on PYTHONPATH, for launchers' workers).
    """
    command = task_command(*arguments, workdir=workdir, results=results, script=script)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}
    if script != ROOT / "task.py":
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(script.parent), environment.get("PYTHONPATH")])
        )
    completed = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, env=environment, timeout=600
    )
    completed.output = completed.stdout + completed.stderr  # type: ignore[attr-defined]
    if check and completed.returncode != 0:
        pytest.fail(f"{' '.join(arguments)} exited {completed.returncode}:\n{completed.stderr}")
    return completed


@pytest.fixture(scope="session")
def full_sweep(tmp_path_factory) -> Path:
    """The results directory of one full experiment sweep (shared: treat as read-only)."""
    workdir = tmp_path_factory.mktemp("full-sweep")
    run_task("-cp", "experiment", "-m", workdir=workdir)
    return workdir / "results"


def pytest_collection_modifyitems(config, items):
    """Tests that use the SLURM test cluster are marked ``slurm``: ``make test-local`` (pytest
    ``-m "not slurm"``) runs every other test, with no cluster and no root.

    ``make test`` runs the tests on several pytest-xdist workers (``--dist loadgroup``): the
    SLURM tests all on one (the cluster is one node, which one test's jobs may fill, and one
    worker starts it if none runs), every other test file's on one worker, so that a module's
    fixture (a search, a sweep) is made once."""
    for item in items:
        parameters = getattr(getattr(item, "callspec", None), "params", {})
        if "slurm_cluster" in getattr(item, "fixturenames", ()) or "slurm" in parameters.values():
            item.add_marker(pytest.mark.slurm)  # asks for the cluster, or a launcher=slurm case
            item.add_marker(pytest.mark.xdist_group("slurm"))
        else:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def _sinfo_works() -> bool:
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running SLURM cluster: the one SLURM_CONF names, or one this fixture starts (and
    stops). Skips, saying why, only if none can be started."""
    if os.environ.get("SLURM_CONF") and _sinfo_works():
        yield
        return
    script = ROOT / "scripts" / "slurm-cluster"
    started = subprocess.run([str(script), "up"], capture_output=True, text=True)
    if started.returncode != 0:
        pytest.skip(f"no SLURM cluster could be started: {started.stderr.strip()}")
    saved = dict(os.environ)
    for assignment in started.stdout.split()[1:]:  # "export SLURM_CONF=... PATH=..."
        key, value = assignment.split("=", 1)
        os.environ[key] = value.replace("$PATH", saved.get("PATH", ""))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        subprocess.run([str(script), "down"], capture_output=True)


def search_trace(directory: Path) -> list[tuple[int, str, dict]]:
    """A search's ``trace.csv``: (evaluation number, value as written, parameters) rows."""
    import csv
    import json

    with open(directory / "trace.csv", newline="") as file:
        return [
            (int(row["evaluation"]), row["value"], json.loads(row["params"]))
            for row in csv.DictReader(file)
        ]


def evaluations_in_worker_logs(workdir: Path) -> int:
    """Evaluations a search's pool workers ran (each logs one ``#<number>`` line)."""
    logs = (workdir / "multirun" / "workers").glob("*/*.log")
    return sum(path.read_text().count("\t#") for path in logs)


def wait_for_results(process: subprocess.Popen, directory: Path, count: int) -> None:
    """Until ``directory`` holds ``count`` result files, while ``process`` runs."""
    from optsweep.report.table import result_files

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if directory.exists() and len(result_files(directory)) >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)


def slurm_tasks_end(workdir: Path, seconds: float = 60) -> bool:
    """Whether every SLURM task of the sweeps run in ``workdir`` left the queue in time."""
    from optsweep.engine.slurm import queued_tasks

    arrays = {p.name.split("_")[0] for p in workdir.glob("multirun/.submitit/*")}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not {task.split("_")[0] for task in queued_tasks()} & arrays:
            return True
        time.sleep(0.5)
    return False


@pytest.fixture
def project_copy(tmp_path):
    """The project's files (tracked, or new and not ignored), copied: ``python
    <copy>/task.py`` imports the copy's optsweep and sweeper plugin (the script's directory
    comes first on sys.path)."""
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    copy = tmp_path / "project"
    for name in tracked:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


def small_project(
    root: Path, task: str, config: str = "", files: dict[str, str] | None = None
) -> Path:
    """A small experiment project in ``root``: ``task.py`` (``task``), ``config/task.yaml``
    choosing the engine's sweeper, then ``config``'s keys, and ``files`` ({path relative to
    the project: text})."""
    (root / "config").mkdir(parents=True)
    defaults = "defaults:\n  - override hydra/sweeper: checked_experiment\n  - _self_\n"
    (root / "config" / "task.yaml").write_text(defaults + textwrap.dedent(config))
    (root / "task.py").write_text(task)
    for name, text in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def run_in(root: Path, *arguments) -> tuple[int, str]:
    """``python ARGUMENTS`` in ``root``: its exit status and its output (stdout, then
    stderr)."""
    completed = subprocess.run(
        [sys.executable, *map(str, arguments)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return completed.returncode, completed.stdout + completed.stderr
