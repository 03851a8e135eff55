"""End-to-end: real sweeps of task.py in temporary directories, checked against scipy."""

import os
import pickle
import subprocess
import sys

import numpy as np
from scipy.optimize import minimize

from conftest import ROOT, run_task
from optsweep.engine.index import INDEX
from optsweep.report.table import load_result, result_files
from rosenbrock import problem
from rosenbrock.solve import given_options

SETTINGS = ("lbfgsb", "nelder-mead", "tnc")
BUDGETS = range(10, 151, 10)


def test_full_sweep_writes_one_result_per_job(full_sweep):
    files = result_files(full_sweep)
    assert len(files) == 45
    jobs = set()
    for path in files:
        record = load_result(path)
        assert set(record) == {"config", "result", "meta", "scalars"}
        assert record["scalars"]["fun"] == record["result"].fun
        assert record["meta"]["setting"] == record["meta"]["choices"]["settings"]
        jobs.add((record["meta"]["choices"]["settings"], record["config"]["maxfun"]))
    assert jobs == {(s, b) for s in SETTINGS for b in BUDGETS}


def test_full_sweep_leaves_no_lock_temporary_or_marker_file(full_sweep):
    """Each result is written through its job's lock file (renamed into place), and the jobs
    the sweeping process runs mark their end in its memory: nothing else is left."""
    readers = {".hydra", INDEX}  # Hydra's, and the results index other tests' reads write
    hidden = [path for path in full_sweep.parent.rglob(".*") if path.name not in readers]
    assert not hidden, hidden  # no .<name>.pkl.lock, .tmp, nor <sweep dir>/.progress/
    assert all(
        path.stat().st_mode & 0o777 == 0o666 & ~_umask() for path in result_files(full_sweep)
    )


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def test_each_result_equals_calling_scipy_directly(full_sweep):
    for path in result_files(full_sweep):
        record = load_result(path)
        config, recorded = record["config"], record["result"]
        jac = config["jac"]
        expected = minimize(
            problem.objective,
            np.array(config["x0"]),
            method=config["method"]["name"],
            options=given_options(config["method"]["options"]),
            **({} if jac is None else {"jac": jac}),
        )
        assert recorded.fun == expected.fun, path
        np.testing.assert_array_equal(recorded.x, expected.x)
        assert recorded.nfev == expected.nfev


def test_results_record_config_and_provenance(full_sweep):
    record = load_result(full_sweep / "settings=lbfgsb" / "maxfun=30.pkl")
    config, meta = record["config"], record["meta"]
    assert config["method"]["name"] == "L-BFGS-B"
    assert config["method"]["options"]["maxfun"] == 30
    assert config["method"]["options"]["eps"] == 1e-3
    assert config["jac"] == "2-point" and config["x0"] == [-0.5, -0.5] and config["seed"] == 0
    assert "EVALUATIONS EXCEEDS LIMIT" in record["result"].message  # the budget reached scipy
    assert len(meta["git"]["commit"]) == 40 and isinstance(meta["git"]["dirty"], bool)
    assert set(meta["versions"]) >= {"python", "numpy", "scipy", "hydra-core", "optsweep"}
    assert all(meta["versions"].values())
    # The BLAS that computed it, as threadpoolctl finds it in the process that ran the job.
    import scipy.optimize  # noqa: F401  (loads scipy's BLAS, as the job did)
    from threadpoolctl import threadpool_info

    here = {i["architecture"] for i in threadpool_info() if i.get("user_api") == "blas"}
    assert meta["blas"] and all(library.startswith("openblas ") for library in meta["blas"])
    assert {library.rsplit(" ", 1)[1] for library in meta["blas"]} == here
    assert meta["script"] == "task.py"
    assert meta["host"] and meta["started"] and meta["wall_time"] > 0
    assert "settings=lbfgsb" in meta["overrides"] and "maxfun=30" in meta["overrides"]


def test_two_runs_of_one_command_give_identical_data(full_sweep, tmp_path):
    run_task("-cp", "experiment", "settings=tnc", "-m", workdir=tmp_path)
    again = result_files(tmp_path / "results")
    assert len(again) == 15
    for path in again:
        first = load_result(full_sweep / path.relative_to(tmp_path / "results"))
        second = load_result(path)
        for part in ("config", "result"):
            assert pickle.dumps(first[part]) == pickle.dumps(second[part]), (path, part)


def test_rerunning_one_setting_touches_only_its_results(full_sweep, tmp_path):
    results = tmp_path / "results"
    subprocess.run(["cp", "-a", str(full_sweep), str(results)], check=True)
    before = {p: p.stat().st_mtime_ns for p in result_files(results)}
    completed = run_task("-cp", "experiment", "settings=lbfgsb", "-m", workdir=tmp_path)
    assert "15 jobs: 15 skipped (up to date), 0 ran, 0 failed" in completed.output
    assert {p: p.stat().st_mtime_ns for p in result_files(results)} == before
    completed = run_task(
        "-cp", "experiment", "settings=lbfgsb", "output.overwrite=true", "-m", workdir=tmp_path
    )
    assert "15 jobs: 0 skipped (up to date), 15 ran, 0 failed" in completed.output
    after = {p: p.stat().st_mtime_ns for p in result_files(results)}
    assert after.keys() == before.keys()
    changed = {p.parent.name for p in after if after[p] != before[p]}
    assert changed == {"settings=lbfgsb"}
    assert sum(after[p] != before[p] for p in after) == 15


def test_one_off_override_sweeps_alongside(tmp_path):
    completed = run_task(
        "-cp",
        "experiment",
        "settings=tnc",
        "method.options.maxCGit=1,5,10",
        "maxfun=50,100",
        "-m",
        workdir=tmp_path,
    )
    files = result_files(tmp_path / "results")
    assert len(files) == 6, completed.stderr
    values = {
        (
            load_result(p)["config"]["method"]["options"]["maxCGit"],
            load_result(p)["config"]["maxfun"],
        )
        for p in files
    }
    assert values == {(c, b) for c in (1, 5, 10) for b in (50, 100)}


def test_plain_tree_runs_one_job_from_another_directory(tmp_path):
    completed = run_task("method=tnc", "method.options.eta=0.1", workdir=tmp_path)
    (path,) = result_files(tmp_path / "results")
    record = load_result(path)
    assert record["config"]["method"]["options"]["eta"] == 0.1
    assert record["config"]["method"]["name"] == "TNC"
    assert "warn" not in completed.stderr.lower(), completed.stderr
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()


def test_normal_sweep_prints_no_warning(tmp_path):
    completed = run_task(
        "-cp", "experiment", "settings=nelder-mead", "maxfun=10,20", "-m", workdir=tmp_path
    )
    assert "warn" not in (completed.stderr + completed.stdout).lower(), completed.stderr


def test_seeded_random_start_is_reproducible_and_recorded(tmp_path):
    starts = {}
    for seed, run in ((3, "a"), (3, "b"), (4, "c")):
        results = tmp_path / run
        run_task("method=bfgs", f"seed={seed}", workdir=tmp_path, results=results)
        (path,) = result_files(results)
        starts[run] = load_result(path)["config"]["x0"]
    assert starts["a"] == starts["b"] != starts["c"]
    assert starts["a"] == np.random.default_rng(3).uniform(-2, 2, size=2).tolist()


def test_output_path_collision_is_refused_before_any_job(tmp_path):
    completed = run_task(
        "-cp",
        "experiment",
        "settings=tnc",
        "maxfun=10,20",
        "seed=1,2",
        "output.file=${output.dir}/${method.name}-${maxfun}.pkl",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode != 0
    assert "would write the same result file" in completed.stderr
    assert "seed=1" in completed.stderr and "seed=2" in completed.stderr
    assert not (tmp_path / "results").exists()


def test_one_value_written_as_an_int_and_a_float_is_refused_and_named_by_a_figure(tmp_path):
    """x0=[1,1],[1.0,1.0] in one sweep: equal values, but two configs and two files; refused
    before any job. Written apart in two sweeps, a figure names them as one point written two
    ways (not as stale results), and a swept list no longer crashes its duplicate check."""
    arguments = ("-cp", "experiment", "settings=tnc", "maxfun=10", "seed=0")
    completed = run_task(*arguments, "x0=[1,1],[1.0,1.0]", "-m", workdir=tmp_path, check=False)
    assert completed.returncode != 0
    assert "2 jobs differ only in a number written as an int and as a float" in completed.stderr
    assert "x0=[1,1] " in completed.stderr and "x0=[1.0,1.0] " in completed.stderr
    assert not (tmp_path / "results").exists()
    for x0 in ("x0=[1,1]", "x0=[1.0,1.0]"):
        run_task(*arguments, x0, "-m", workdir=tmp_path)
    out = tmp_path / "out"
    figure = subprocess.run(
        [sys.executable, "-m", "optsweep.cli", "plot", str(tmp_path / "results")]
        + ["x=maxfun", "y=fun", f"--out={out}"],
        capture_output=True,
        text=True,
    )
    assert figure.returncode == 1, figure.stderr
    assert "Traceback" not in figure.stderr
    assert "one point written as an int and as a float" in figure.stderr
    assert "remove the stale ones" not in figure.stderr


def test_swept_seed_gets_its_own_files_by_default(tmp_path):
    run_task(
        "-cp",
        "experiment",
        "settings=tnc",
        "maxfun=10",
        "seed=1,2",
        "x0=null",
        "-m",
        workdir=tmp_path,
    )
    files = result_files(tmp_path / "results")
    assert len(files) == 2
    assert {load_result(p)["config"]["seed"] for p in files} == {1, 2}


def test_help_lists_groups_and_options(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(ROOT / "task.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "method: bfgs, cg, cobyla" in completed.stdout
    assert "seed: 0" in completed.stdout


def test_checking_and_skipping_up_to_date_jobs_does_not_import_scipy(tmp_path, monkeypatch):
    """Speed: a rerun with nothing to do must not pay for importing scipy.optimize."""
    sweep = ("-cp", "experiment", "settings=tnc", "maxfun=10,20", "-m")
    run_task(*sweep, workdir=tmp_path)
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")  # python -X importtime
    rerun = run_task(*sweep, workdir=tmp_path)
    assert "2 jobs: 2 skipped (up to date), 0 ran" in rerun.output
    assert [line for line in rerun.stderr.splitlines() if "scipy" in line] == []
    assert any(line.endswith(" numpy") for line in rerun.stderr.splitlines())  # it did record


def test_two_sweeps_of_the_same_jobs_share_them(tmp_path):
    """A second sweep started while the first runs puts off the jobs the first is running and
    runs the others: together they compute each job once, and both end with every result."""
    import time

    from conftest import task_command

    results = tmp_path / "results"
    arguments = ("-cp", "experiment", "settings=tnc", "x0=null", "x0_random.dim=300", "-m")

    def start(name):
        (tmp_path / name).mkdir()
        command = task_command(*arguments, workdir=tmp_path / name, results=results)
        return subprocess.Popen(
            command,
            cwd=tmp_path / name,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    first = start("first")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (results.exists() and result_files(results)):
        time.sleep(0.05)
    second = start("second")
    outputs = [process.communicate(timeout=600)[0] for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    ran = [int(output.split(" ran, ")[0].rsplit(" ", 1)[1]) for output in outputs]
    assert ran[1] > 0, outputs[1]  # the second computed some of them, not only waited
    assert ran[0] + ran[1] == 15, outputs  # and no job was computed twice
    assert len(result_files(results)) == 15
