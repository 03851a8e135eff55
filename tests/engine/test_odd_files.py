"""One rule for what a result file is, shared by the sweep and every reader: symlinked
setting directories are followed by both (a link loop ends), a dangling ``*.pkl`` link, a
directory named ``notes.pkl`` and a FIFO named ``*.pkl`` are named and skipped by readers,
nothing ever blocks on a path that is not a regular file, and a link to a result beside it
is named as the second copy it is."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import QUADRATIC, run_task
from optsweep.report.table import results_frame

TASK = QUADRATIC / "task.py"


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("odd")
    run_task("-cp", "experiment", "-m", workdir=workdir, script=TASK)
    return workdir


@pytest.fixture
def results(swept, tmp_path):
    """A copy of the sweep's results whose setting 'unit' is a symlinked directory."""
    copy = tmp_path / "results"
    shutil.copytree(swept / "results", copy)
    shutil.move(copy / "settings=unit", tmp_path / "elsewhere")
    (copy / "settings=unit").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    return copy


def optsweep(*arguments, cwd):
    return subprocess.run(
        [sys.executable, "-m", "optsweep.cli", *map(str, arguments)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,  # a reader blocking on a FIFO fails here instead of hanging
    )


def test_a_symlinked_setting_is_read_by_every_reader_as_the_sweep_sees_it(results, tmp_path):
    rerun = run_task("-cp", "experiment", "-m", workdir=tmp_path, results=results, script=TASK)
    assert "6 jobs: 6 skipped (up to date), 0 ran, 0 failed" in rerun.output
    frame = results_frame(results)
    assert len(frame) == 6 and sorted(frame["setting"].unique()) == ["steep", "unit"]
    (results / "settings=unit" / "loop").symlink_to(results, target_is_directory=True)
    assert len(results_frame(results)) == 6  # the loop is walked once
    export = optsweep("export", results, "--out", tmp_path / "table.csv", cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    assert "wrote 6 rows" in export.stdout


def test_odd_entries_named_pkl_are_named_and_skipped_without_blocking(results, tmp_path):
    (results / "gone.pkl").symlink_to(tmp_path / "nothing-here.pkl")
    (results / "notes.pkl").mkdir()
    (results / "notes.pkl" / "readme.txt").write_text("a folder, not a result\n")
    os.mkfifo(results / "settings=steep" / "pipe.pkl")
    with pytest.warns(UserWarning) as warned:
        frame = results_frame(results)
    assert len(frame) == 6
    messages = "\n".join(str(w.message) for w in warned)
    assert "gone.pkl: not a result file written by this project: a symlink to nothing" in messages
    assert "pipe.pkl: not a result file written by this project: not a regular file" in messages
    assert "notes.pkl" not in messages  # a directory: walked into, holds no result
    figure = optsweep("plot", results, "x=budget", "y=f", "--out", tmp_path / "out", cwd=tmp_path)
    assert figure.returncode == 0, figure.stderr
    compare = optsweep("compare", results, results, cwd=tmp_path)
    assert compare.returncode == 0, compare.stdout + compare.stderr


def test_a_sweep_refuses_a_job_path_that_is_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "job.pkl"
    os.mkfifo(fifo)
    refused = run_task(
        "scale=unit", f"output.file={fifo}", workdir=tmp_path, script=TASK, check=False
    )
    assert refused.returncode != 0
    assert f"result path {fifo} is not a regular file" in refused.output


def test_a_link_to_a_result_beside_it_is_named_as_a_second_copy(results, tmp_path):
    """Counted twice, the result would be a repeat of itself: the figure is refused, and the
    message says which of the two is the link."""
    target = sorted((results / "settings=steep").glob("*.pkl"))[0]
    (results / "copy.pkl").symlink_to(target)
    figure = optsweep("plot", results, "x=budget", "y=f", "--out", tmp_path / "out", cwd=tmp_path)
    assert figure.returncode == 1
    assert "remove the stale ones (a link to a result is a second copy of it)" in figure.stderr
    assert f"{results / 'copy.pkl'} (a symbolic link to {target})" in figure.stderr
    assert not (tmp_path / "out").exists()
