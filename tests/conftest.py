"""Shared helpers: run the real task.py in a subprocess, with every output in a temporary dir."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_task(*arguments: str, workdir: Path, results: Path | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """``python task.py ARGUMENTS`` started in ``workdir`` (not the project root).

    Results go to ``results`` (default ``workdir/results``), Hydra's logs to ``workdir``.
    ``.output`` of the returned process is its stdout and stderr together.
    """
    results = results or workdir / "results"
    command = [
        sys.executable, str(ROOT / "task.py"), *arguments,
        f"output.dir={results}",
        f"hydra.run.dir={workdir}/run", f"hydra.sweep.dir={workdir}/multirun",
    ]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HYDRA_")}
    completed = subprocess.run(command, cwd=workdir, capture_output=True, text=True,
                               env=environment, timeout=600)
    completed.output = completed.stdout + completed.stderr  # Hydra logs to stdout
    if check and completed.returncode != 0:
        pytest.fail(f"{' '.join(arguments)} exited {completed.returncode}:\n{completed.stderr}")
    return completed


@pytest.fixture(scope="session")
def full_sweep(tmp_path_factory) -> Path:
    """The results directory of one full experiment sweep (shared: treat as read-only)."""
    workdir = tmp_path_factory.mktemp("full-sweep")
    run_task("-cp", "experiment", "-m", workdir=workdir)
    return workdir / "results"
