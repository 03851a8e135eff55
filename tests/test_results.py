"""Result files: collision-free names, atomic writes."""

import pytest

from optsweep.results import default_result_path, load_result, save_result


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
