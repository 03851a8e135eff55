"""Every value a job saves is one every reader reads, and the sweep skips exactly the results
its readers read.

A result holding a class its experiment's files do not hold (an ``argparse.Namespace``, a class of
the task script) fails its job, naming the class and how to declare it, and nothing is saved;
a ``Decimal`` table cell becomes a float; dates, paths, decimals and sets are read by every
reader. A saved
result whose class is gone (renamed in a module the experiment's code version does not cover)
is stale to the sweep, as it is unreadable to its readers, and is computed again.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from optsweep import Experiment
from optsweep.engine.store import ResultReader, ResultStore
from optsweep.report.table import results_frame

TASK = """
import argparse
import datetime
import decimal
import pathlib

import hydra

import shapes
from optsweep import Experiment


class Local:
    pass


VALUES = Experiment(name="values", objective="f", result_types={("shapes", "Point")})


@hydra.main(config_path="config", config_name="task")
@VALUES.task
def main(config: dict) -> dict:
    point = getattr(shapes, "Point", None)
    extra = {
        "plain": 1,
        "decimal": decimal.Decimal("1.5"),
        "date": datetime.date(2020, 1, 2),
        "set": {1, 2},
        "point": point(3) if point is not None else "no point",
        "path": pathlib.Path("a"),
        "namespace": argparse.Namespace(a=1),
        "local": Local(),
    }[config["kind"]]
    return {"f": 1.0, "extra": extra}


if __name__ == "__main__":
    main()
"""

SHAPES = """
class Point:
    def __init__(self, x):
        self.x = x
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "values"
    (root / "config").mkdir(parents=True)
    (root / "config" / "task.yaml").write_text(
        "defaults:\n  - override hydra/sweeper: checked_experiment\n  - _self_\nkind: plain\n"
    )
    (root / "task.py").write_text(TASK)
    (root / "shapes.py").write_text(SHAPES)
    return root


def sweep(project: Path, kinds: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(project / "task.py"), f"kind={kinds}", "-m"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


def saved(project: Path) -> list[str]:
    return sorted(p.stem for p in (project / "results").rglob("*.pkl"))


def test_a_value_no_reader_reads_fails_its_job_and_every_saved_value_is_read(project, monkeypatch):
    swept = sweep(project, "plain,decimal,date,set,point,path,namespace,local")
    output = swept.stdout + swept.stderr
    assert swept.returncode == 1, output
    assert "8 jobs: 0 skipped (up to date), 6 ran, 2 failed" in output
    assert "the result holds a argparse.Namespace" in output
    assert "result_types={('argparse', 'Namespace')}" in output
    assert "the result holds a __main__.Local" in output
    assert "move the class from the script run (__main__) to a module" in output
    assert saved(project) == [
        f"kind={k}" for k in sorted(["plain", "decimal", "date", "set", "point", "path"])
    ]
    monkeypatch.syspath_prepend(str(project))  # the experiment's reader imports shapes
    experiments = ResultStore(Experiment(name="values", result_types={("shapes", "Point")}))
    for reader in (ResultReader(), experiments):
        assert len(reader.load_all(project / "results")) == 6, reader
    frame = results_frame(project / "results").set_index("kind")
    assert frame.loc["decimal", "extra"] == 1.5  # a float cell, not a stand-in
    assert frame.loc["plain", "extra"] == 1
    again = sweep(project, "plain,decimal,date,set,point,path")
    assert "6 jobs: 6 skipped (up to date), 0 ran, 0 failed" in again.stdout + again.stderr


def test_a_result_whose_class_is_gone_is_stale_and_computed_again(project):
    first = sweep(project, "point")
    assert first.returncode == 0, first.stderr
    (project / "shapes.py").write_text(SHAPES.replace("class Point", "class Spot"))
    rerun = sweep(project, "point")  # shapes.py is no part of the code version: same fingerprint
    output = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, output
    assert "1 jobs: 0 skipped (up to date), 1 ran, 0 failed" in output
    ((_, record),) = ResultReader().load_all(project / "results")
    assert record["result"]["extra"] == "no point"


def test_a_decimal_scalar_of_the_experiment_is_a_float_cell(project):
    task = project / "task.py"
    task.write_text(
        task.read_text().replace(
            'objective="f",', 'objective="f", scalars=lambda r: {"f": r["f"], "x": r["extra"]},'
        )
    )
    swept = sweep(project, "decimal")
    assert swept.returncode == 0, swept.stderr
    assert results_frame(project / "results")["x"].tolist() == [1.5]
    refused = sweep(project, "set")
    output = refused.stdout + refused.stderr
    assert refused.returncode == 1, output
    assert "its scalars gave 'x' = a set, which is no table cell" in output
