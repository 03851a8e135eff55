"""A results directory that cannot be written: refused before launch when it can be seen then
(read-only, a file in the way); a disk that fills up during the sweep stops it from starting
more jobs, and the summary names the error once.

The full and the read-only file systems are real: a small tmpfs mounted in a private mount
namespace (``unshare``), gone when the sweep exits.
"""

import re
import shutil
import subprocess

import pytest

from conftest import task_command


def in_small_file_system(
    results, *arguments: str, workdir, options: str
) -> subprocess.CompletedProcess:
    """``python task.py ARGUMENTS`` with ``results`` a fresh tmpfs mounted with ``options``."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    results.mkdir()
    probe = subprocess.run(
        ["unshare", "--mount", "--map-root-user", "mount", "-t", "tmpfs", "tmpfs", str(results)],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private namespace: {probe.stderr.strip()}")
    command = task_command(*arguments, workdir=workdir, results=results)
    script = 'mount -t tmpfs -o "$0" tmpfs "$1" && shift && exec "$@"'
    completed = subprocess.run(
        ["unshare", "--mount", "--map-root-user", "sh", "-c", script, options, str(results)]
        + command,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    completed.output = completed.stdout + completed.stderr  # type: ignore[attr-defined]
    return completed


def test_a_read_only_results_directory_is_refused_before_launch(tmp_path):
    completed = in_small_file_system(
        tmp_path / "results",
        "-cp",
        "experiment",
        "settings=tnc",
        "-m",
        workdir=tmp_path,
        options="ro",
    )
    assert completed.returncode != 0
    assert "results cannot be written in" in completed.output
    assert "Read-only file system" in completed.output
    assert "#0 :" not in completed.output  # no job started


def test_a_file_in_the_way_of_the_results_directory_is_refused_before_launch(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory\n")
    command = task_command(
        "-cp", "experiment", "settings=tnc", "-m", workdir=tmp_path, results=blocker / "results"
    )
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert completed.returncode != 0
    assert "results cannot be written in" in completed.stdout + completed.stderr
    assert blocker.read_text() == "not a directory\n"


def test_a_full_disk_stops_the_sweep_and_names_the_error_once(tmp_path):
    # 48 KiB hold the write check's probe and a few results (a page each), not 45.
    completed = in_small_file_system(
        tmp_path / "results", "-cp", "experiment", "-m", workdir=tmp_path, options="size=48k"
    )
    assert completed.returncode != 0
    output = completed.output
    assert "No space left on device" in output
    summary = output[output.index("45 jobs:") :]
    counts = re.search(r"(\d+) ran, 1 failed, (\d+) not started", summary)
    assert counts is not None, summary
    ran, not_started = map(int, counts.groups())
    assert ran + 1 + not_started == 45
    assert summary.count("[Errno 28] No space left on device") == 2, summary  # failed; why not
    assert "jobs: JobNotRun: not started: job #" in summary
    assert "... and" in summary  # the not-started jobs are counted, not listed
    assert len(summary.splitlines()) < 20, summary
    # The jobs after the first failure did not start (no solver ran for them).
    assert output.count("\t#") == ran + 1, output
