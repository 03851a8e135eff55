"""A sweep never writes over another experiment's result (an output.dir shared by mistake):
it is refused before any job runs, naming the files and the experiment that wrote them."""

import shutil

from conftest import QUADRATIC, run_task


def test_a_sweep_refuses_to_write_over_another_experiments_results(tmp_path):
    results = tmp_path / "shared-results"
    for workdir in ("one", "two"):
        (tmp_path / workdir).mkdir()
    run_task(
        "-cp",
        "experiment",
        "-m",
        workdir=tmp_path / "one",
        results=results,
        script=QUADRATIC / "task.py",
    )
    twin = tmp_path / "twin"
    shutil.copytree(QUADRATIC, twin, ignore=shutil.ignore_patterns("results", "__pycache__"))
    module = twin / "quadratic.py"
    module.write_text(module.read_text().replace('name="quadratic"', 'name="twin"'))
    before = {p: p.read_bytes() for p in results.rglob("*.pkl")}
    refused = run_task(
        "-cp",
        "experiment",
        "-m",
        workdir=tmp_path / "two",
        results=results,
        script=twin / "task.py",
        check=False,
    )
    assert refused.returncode != 0
    assert "6 job(s) of experiment 'twin' would write over another experiment's results" in (
        refused.output
    )
    assert "a result of experiment 'quadratic'" in refused.output
    assert {p: p.read_bytes() for p in results.rglob("*.pkl")} == before
