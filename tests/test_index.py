"""The results index (optsweep.engine.index): results_frame through it always equals reading
every result file, after a sweep, a killed sweep, a file deleted or damaged by hand, two sweeps
writing at once, and with files of the earlier format."""

import hashlib
import os
import pickle
import signal
import subprocess
import time

import pandas as pd
import pytest

from conftest import run_task, task_command
from optsweep.engine.index import INDEX
from optsweep.engine.store import ResultFileError, ResultStore
from optsweep.report.table import READER, result_files, results_frame, rows_of
from rosenbrock import ROSENBROCK


def assert_index_is_the_files(results, on_error="raise"):
    """results_frame (through the index) equals the table of every file read afresh."""
    indexed = results_frame(results, on_error=on_error)
    direct = rows_of(READER.load_all(results, on_error=on_error))
    pd.testing.assert_frame_equal(indexed, direct, check_like=True)
    assert indexed.attrs["config_columns"] == direct.attrs["config_columns"]
    assert (results / INDEX).exists()
    return indexed


@pytest.fixture
def results(tmp_path):
    run_task("-cp", "experiment", "settings=tnc,lbfgsb", "maxfun=10,20,30", "-m", workdir=tmp_path)
    return tmp_path / "results"


def test_the_index_follows_new_deleted_and_damaged_files(results, tmp_path):
    assert len(assert_index_is_the_files(results)) == 6
    assert len(assert_index_is_the_files(results)) == 6  # read back from the index
    run_task("-cp", "experiment", "settings=tnc", "maxfun=40", "-m", workdir=tmp_path)
    assert len(assert_index_is_the_files(results)) == 7
    first, second = result_files(results)[:2]
    first.unlink()
    assert len(assert_index_is_the_files(results)) == 6
    second.write_bytes(second.read_bytes()[:100])  # damaged in place: its directory is unchanged
    with pytest.raises(ResultFileError, match="cut short") as raised:
        results_frame(results)
    assert raised.value.path == second
    with pytest.warns(UserWarning, match=f"skipped {second}"):
        frame = assert_index_is_the_files(results, on_error="warn")
    assert str(second) not in set(frame["path"]) and len(frame) == 5
    (results / INDEX).write_bytes(b"not parquet")  # a damaged index is rebuilt
    second.unlink()
    assert len(assert_index_is_the_files(results)) == 5


def test_a_file_changed_in_the_same_instant_is_not_missed(results):
    victim = result_files(results)[0]
    os.utime(victim)  # written just now: within the coarse file times of the index's writing
    before = victim.stat()
    assert_index_is_the_files(results)
    with open(victim, "r+b") as file:  # changed in place: same inode, same size
        file.seek(20)
        byte = file.read(1)
        file.seek(20)
        file.write(bytes([byte[0] ^ 1]))
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same time
    with pytest.raises(ResultFileError, match="corrupt") as raised:
        results_frame(results)
    assert raised.value.path == victim


def test_the_table_forgets_what_a_removed_or_rewritten_file_made_of_its_columns(results):
    """A result without a key (a plain run's ``seed``) makes that integer column floats, and
    one with a key no other has adds a column. Once that file is removed, or rewritten
    without them, the table is what a fresh read of the files gives (integers, no such
    column), not what the index held before."""
    store = ResultStore(ROSENBROCK)
    record = store.load(result_files(results)[0])
    odd = {**record, "config": {**record["config"], "extra": 3}}
    del odd["config"]["seed"]
    past = time.time_ns() - 10 * 10**9  # settled: the index keeps their rows as they are

    def settle():
        for path in result_files(results):
            os.utime(path, ns=(past, past))

    for change in ("removed", "rewritten"):
        store.save(results / "odd.pkl", odd)
        settle()
        shaped = assert_index_is_the_files(results)
        assert shaped["seed"].dtype.kind == "f" and "extra" in shaped
        if change == "removed":
            (results / "odd.pkl").unlink()
        else:
            store.save(results / "odd.pkl", record)
        table = assert_index_is_the_files(results)
        assert table["seed"].dtype.kind == "i" and "extra" not in table, change
        (results / "odd.pkl").unlink(missing_ok=True)


def test_results_of_the_earlier_format_are_indexed(results):
    victim = result_files(results)[0]
    record = ResultStore(ROSENBROCK).load(victim)  # the real types, pickled again
    payload = pickle.dumps(record, protocol=5)
    digest = hashlib.sha256(payload).hexdigest().encode()
    victim.write_bytes(b"OPTSWEEP-RESULT 2 %s %d -\n" % (digest, len(payload)) + payload)
    assert len(assert_index_is_the_files(results)) == 6


def test_the_index_after_a_killed_sweep_and_two_sweeps_at_once(tmp_path):
    slow = ("settings=nelder-mead", "x0=null", "x0_random.dim=1000", "maxfun=10,20,1000000000")
    process = subprocess.Popen(
        task_command("-cp", "experiment", *slow, "-m", workdir=tmp_path),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    results = tmp_path / "results"
    deadline = time.monotonic() + 120
    while not (results.exists() and len(result_files(results)) >= 2):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.2)
    assert len(assert_index_is_the_files(results)) == 2
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert len(assert_index_is_the_files(results)) == 2
    sweeps = [
        subprocess.Popen(
            task_command("-cp", "experiment", f"settings={setting}", "-m", workdir=tmp_path),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for setting in ("tnc", "lbfgsb")
    ]
    while any(sweep.poll() is None for sweep in sweeps):  # read while both write
        results_frame(results)
    assert [sweep.returncode for sweep in sweeps] == [0, 0]
    assert len(assert_index_is_the_files(results)) == 32


def test_the_index_reads_list_columns_back_as_arrow_writes_them():
    """The fast path for flat lists gives what ``to_pylist`` gives, value types included;
    lists with nulls inside, nested lists and other columns take ``to_pylist`` itself."""
    import pyarrow as pa

    from optsweep.engine.index import _python_values

    columns = [
        [[1.0, 2.5], None, []],
        [["tnc", "maxfun=10"], ["x"]],
        [[1, 2], [3]],
        [[True, False]],
        [[1, None], [2]],
        [[[1], [2]], None],
        [1, 2, None],
    ]
    for values in columns:
        whole = pa.array(values)
        column = pa.chunked_array([whole.slice(0, 1), whole.slice(1)])  # two chunks
        read = _python_values(column)
        assert read == column.to_pylist() == values
        types = [type(x) for row in read if isinstance(row, list) for x in row]
        assert types == [type(x) for row in values if isinstance(row, list) for x in row]


@pytest.mark.parametrize(
    "values",
    [
        [[1.5, -2.0], [], None, [3.25]],
        [["seed=1", "x0=null"], None, [], ["settings=tnc"]],
        [[True, False], [], None],
        [[1, 2, 3], [4], None, []],
    ],
)
def test_list_columns_read_back_as_arrow_gives_them(values):
    """The index's fast path for list columns gives what ``to_pylist`` gives: rows with no
    list (None), empty lists, sliced arrays and several chunks."""
    import pyarrow as pa

    from optsweep.engine.index import _python_values

    array = pa.array(values)
    column = pa.chunked_array([array, array.slice(1), array.slice(0, 2)])
    assert _python_values(column) == column.to_pylist()
    assert len(column.to_pylist()) == 2 * len(values) + 1
