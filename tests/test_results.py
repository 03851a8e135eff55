"""Result files: collision-free names, atomic writes, currency checks."""

import hashlib
import pickle

import pytest

from optsweep.results import (
    default_result_path,
    is_current,
    load_result,
    save_result,
    stored_if_current,
)


def test_default_path_names_every_override_but_output(tmp_path):
    path = default_result_path(tmp_path, ["settings=tnc", "maxfun=10", "output.dir=/x/y",
                                          "+seed=2"])
    assert path == tmp_path / "settings=tnc" / "maxfun=10,seed=2.pkl"


def test_default_path_escapes_slashes_and_bounds_length(tmp_path):
    path = default_result_path(tmp_path, ["method=tnc", "tag=a/b"])
    assert path.parent == tmp_path / "method=tnc" and path.name == "tag=a%2Fb.pkl"
    long = default_result_path(tmp_path, ["method=tnc", "x0=[" + ",".join(["1.5"] * 200) + "]"])
    other = default_result_path(tmp_path, ["method=tnc", "x0=[" + ",".join(["1.5"] * 201) + "]"])
    assert len(long.name) <= 210 and long != other


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot pickle")


def test_failed_write_keeps_the_older_result_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "r.pkl"
    first = {"config": {"a": 1}, "result": [1.0], "meta": {}}
    save_result(path, first)
    with pytest.raises(RuntimeError):
        save_result(path, {"config": {"a": 2}, "result": ["x" * 100_000, Unpicklable()],
                           "meta": {}})
    assert load_result(path) == first
    assert [p.name for p in tmp_path.iterdir()] == ["r.pkl"]


RECORD = {"config": {"method": {"name": "tnc", "options": {"maxfun": 10}}, "x0": [0.5, -1.0]},
          "result": [1.0], "meta": {"code": "abc"}}


def test_currency_is_decided_by_config_and_code_from_the_header(tmp_path):
    path = tmp_path / "r.pkl"
    save_result(path, RECORD)
    config = RECORD["config"]
    reordered = {"x0": [0.5, -1.0], "method": {"options": {"maxfun": 10}, "name": "tnc"}}
    assert is_current(path, config, "abc") and is_current(path, reordered, "abc")
    assert stored_if_current(path, config, "abc") == RECORD
    assert not is_current(path, config, "other code")
    assert not is_current(path, {**config, "x0": [0.5, -1.5]}, "abc")
    assert not is_current(path, {**config, "x0": (0.5, -1.0)}, "abc")  # types count too
    assert not is_current(tmp_path / "missing.pkl", config, "abc")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # one flipped payload byte: the checksum no longer matches
    path.write_bytes(bytes(data))
    assert not is_current(path, config, "abc") and stored_if_current(path, config, "abc") is None


def test_format_1_results_are_still_read_and_checked_by_content(tmp_path):
    path = tmp_path / "old.pkl"
    payload = pickle.dumps(RECORD, protocol=5)
    path.write_bytes(b"OPTSWEEP-RESULT 1 %s %d\n" % (
        hashlib.sha256(payload).hexdigest().encode(), len(payload)) + payload)
    assert load_result(path) == RECORD
    assert is_current(path, RECORD["config"], "abc")
    assert not is_current(path, RECORD["config"], "other code")
