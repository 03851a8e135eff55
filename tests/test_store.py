"""The result store: collision-free names, atomic writes, currency checks."""

import hashlib
import pickle
from dataclasses import replace

import pytest

from optsweep.engine import convert
from optsweep.engine.provenance import code_version
from optsweep.engine.store import ResultStore, default_result_path, fingerprint
from rosenbrock import ROSENBROCK


class FixedCode(ResultStore):
    """A store whose code version is ``code`` (the real one hashes the experiment's files)."""

    def __init__(self, code: str):
        super().__init__(ROSENBROCK)
        self.__dict__["code"] = code


STORE = FixedCode("abc")


def test_default_path_names_every_override_but_output(tmp_path):
    path = default_result_path(
        tmp_path,
        ["settings=tnc", "maxfun=10", "output.dir=/x/y", "+seed=2"],
        ("settings", "method"),
    )
    assert path == tmp_path / "settings=tnc" / "maxfun=10,seed=2.pkl"


def test_default_path_escapes_slashes_and_bounds_length(tmp_path):
    groups = ("settings", "method")
    path = default_result_path(tmp_path, ["method=tnc", "tag=a/b"], groups)
    assert path.parent == tmp_path / "method=tnc" and path.name == "tag=a%2Fb.pkl"
    long = default_result_path(
        tmp_path, ["method=tnc", "x0=[" + ",".join(["1.5"] * 200) + "]"], groups
    )
    other = default_result_path(
        tmp_path, ["method=tnc", "x0=[" + ",".join(["1.5"] * 201) + "]"], groups
    )
    assert len(long.name) <= 210 and long != other


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot pickle")


def test_failed_write_keeps_the_older_result_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "r.pkl"
    first = {"config": {"a": 1}, "result": [1.0], "meta": {}}
    STORE.save(path, first)
    with pytest.raises(RuntimeError):
        STORE.save(path, {"config": {"a": 2}, "result": ["x" * 100_000, Unpicklable()], "meta": {}})
    assert STORE.load(path) == first
    assert [p.name for p in tmp_path.iterdir()] == ["r.pkl"]


RECORD = {
    "config": {"method": {"name": "tnc", "options": {"maxfun": 10}}, "x0": [0.5, -1.0]},
    "result": [1.0],
    "meta": {"code": "abc"},
}


def test_currency_is_decided_by_config_and_code_from_the_trailer(tmp_path):
    path = tmp_path / "r.pkl"
    STORE.save(path, RECORD)
    config = RECORD["config"]
    reordered = {"x0": [0.5, -1.0], "method": {"options": {"maxfun": 10}, "name": "tnc"}}
    assert STORE.status(path, config) == STORE.status(path, reordered) == "current"
    assert STORE.current(path, config) == RECORD
    assert FixedCode("other code").status(path, config) == "stale"
    assert STORE.status(path, {**config, "x0": [0.5, -1.5]}) == "stale"
    assert STORE.status(path, {**config, "x0": (0.5, -1.0)}) == "stale"  # types count too
    assert STORE.status(tmp_path / "missing.pkl", config) == "missing"
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF  # one flipped pickle byte: the checksum no longer matches
    path.write_bytes(bytes(data))
    assert STORE.status(path, config) == "damaged" and STORE.current(path, config) is None


def test_result_files_are_plain_pickles_that_pickle_and_pandas_open(tmp_path):
    import pandas

    path = tmp_path / "r.pkl"
    STORE.save(path, RECORD)
    with open(path, "rb") as file:
        assert pickle.load(file) == RECORD
    assert pandas.read_pickle(path) == RECORD
    assert path.read_bytes().endswith(b"\n") and b"OPTSWEEP-RESULT 3 " in path.read_bytes()


def test_format_2_results_are_read_current_and_converted_to_plain_pickles(tmp_path):
    path = tmp_path / "settings=tnc" / "old.pkl"
    path.parent.mkdir()
    payload = pickle.dumps(RECORD, protocol=5)
    label = fingerprint(RECORD["config"], STORE.code).encode()
    digest = hashlib.sha256(payload).hexdigest().encode()
    path.write_bytes(b"OPTSWEEP-RESULT 2 %s %d %s\n" % (digest, len(payload), label) + payload)
    (tmp_path / "settings=tnc" / "foreign.pkl").write_bytes(b"not a result")
    assert STORE.load(path) == RECORD
    assert STORE.status(path, RECORD["config"]) == "current"
    assert convert.main([str(tmp_path)]) == 1  # the foreign file is named and left
    with open(path, "rb") as file:
        assert pickle.load(file) == RECORD
    assert STORE.status(path, RECORD["config"]) == "current"
    assert (tmp_path / "settings=tnc" / "foreign.pkl").read_bytes() == b"not a result"
    assert convert.convert(tmp_path)[:2] == (0, 1)  # converting again changes nothing


def test_format_1_results_are_still_read_and_checked_by_content(tmp_path):
    path = tmp_path / "old.pkl"
    payload = pickle.dumps(RECORD, protocol=5)
    path.write_bytes(
        b"OPTSWEEP-RESULT 1 %s %d\n" % (hashlib.sha256(payload).hexdigest().encode(), len(payload))
        + payload
    )
    assert STORE.load(path) == RECORD
    assert STORE.status(path, RECORD["config"]) == "current"
    assert FixedCode("other code").status(path, RECORD["config"]) == "stale"


def test_code_version_follows_the_declared_code_and_packages(tmp_path):
    (tmp_path / "objective.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "report.py").write_text("print('a figure')\n")
    experiment = replace(ROSENBROCK, code=(str(tmp_path / "objective.py"),))
    before = code_version(experiment)
    (tmp_path / "report.py").write_text("print('another figure')\n")
    assert code_version(replace(experiment)) == before, "undeclared files do not count"
    (tmp_path / "objective.py").write_text("def f(x):\n    return 2 * x\n")
    assert code_version(replace(experiment)) != before
    assert code_version(replace(experiment, packages=("numpy",))) != code_version(
        replace(experiment, packages=("numpy", "scipy"))
    )
