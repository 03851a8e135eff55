"""Files the engine writes (figures, tables, exports, the results index) respect the umask
like any program's, keep the mode of a file they replace, and a writer killed between writing
and renaming leaves no temporary file for good."""

import os
import socket
import stat
import subprocess
import sys

import pytest

from conftest import QUADRATIC, run_task
from optsweep.engine.files import write_atomically
from optsweep.report.table import results_frame

TASK = QUADRATIC / "task.py"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("written")
    run_task("-cp", "experiment", "-m", workdir=workdir, script=TASK)
    return workdir / "results"


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_reports_and_the_index_are_written_as_the_umask_says(results, tmp_path, umask, expected):
    out = tmp_path / "out"
    (results / ".results-index.parquet").unlink(missing_ok=True)  # made anew under this umask
    for arguments in (
        ["plot", results, "x=budget", "y=f", "--out", out],
        ["table", results, "x=budget", "y=f", "--out", out],
        ["export", results, "--out", out / "table.csv"],
    ):
        completed = subprocess.run(
            [sys.executable, "-m", "optsweep.cli", *map(str, arguments)],
            capture_output=True,
            text=True,
            preexec_fn=lambda: os.umask(umask),  # noqa: PLW1509  (a child's own umask)
        )
        assert completed.returncode == 0, completed.stderr
    written = sorted(out.iterdir()) + [results / ".results-index.parquet"]
    assert len(written) == 8  # pdf, png, csv, md, tex, table.csv, table.parquet, the index
    assert {path.name: mode(path) for path in written} == {p.name: expected for p in written}


def test_a_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "figure.pdf"
    write_atomically(path, b"first")
    path.chmod(0o640)
    write_atomically(path, b"second")
    assert path.read_bytes() == b"second" and mode(path) == 0o640


def test_a_dead_writers_temporary_file_is_removed_by_the_next_write(results):
    index = results / ".results-index.parquet"
    finished = subprocess.Popen(["true"])
    finished.wait()  # its pid now belongs to no process
    host = socket.gethostname()
    dead = results / f".{index.name}.{finished.pid}@{host}~abc123.tmp"
    living_writer = subprocess.Popen(["sleep", "30"])
    alive = results / f".{index.name}.{living_writer.pid}@{host}~def456.tmp"
    elsewhere = results / f".{index.name}.{finished.pid}@another-host~ghi789.tmp"
    try:
        for leftover in (dead, alive, elsewhere):
            leftover.write_bytes(b"half an index")
        index.unlink(missing_ok=True)  # the next read writes the index again
        assert len(results_frame(results)) == 6
        assert index.exists() and not dead.exists()
        assert alive.exists() and elsewhere.exists()  # a live writer's, another host's: kept
    finally:
        living_writer.kill()
        living_writer.wait()
        for leftover in (alive, elsewhere):
            leftover.unlink(missing_ok=True)


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_a_sweeps_results_are_written_as_the_umask_says_and_keep_a_replaced_mode(
    tmp_path, umask, expected
):
    command = [
        sys.executable,
        str(TASK),
        "-cp",
        "experiment",
        "-m",
        f"output.dir={tmp_path / 'results'}",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
    ]
    environment = {**os.environ, "PYTHONPATH": str(QUADRATIC)}

    def sweep(*extra: str) -> None:
        subprocess.run(
            [*command, *extra],
            check=True,
            capture_output=True,
            env=environment,
            preexec_fn=lambda: os.umask(umask),  # noqa: PLW1509  (a child's own umask)
        )

    sweep()
    written = sorted((tmp_path / "results").rglob("*.pkl"))
    assert len(written) == 6 and {mode(path) for path in written} == {expected}
    written[0].chmod(0o640)
    sweep("output.overwrite=true")
    assert mode(written[0]) == 0o640 and {mode(path) for path in written[1:]} == {expected}
    assert not list((tmp_path / "results").rglob("*.tmp"))
