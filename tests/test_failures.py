"""Failing jobs, killed runs, resumes, concurrent sweeps, broken result files, searches."""

import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas
import pytest

from conftest import ROOT, run_task
from optsweep.engine.files import write_atomically
from optsweep.engine.store import MAGIC, ResultFileError, ResultStore, encode
from optsweep.report.export import export
from optsweep.report.table import NoResults, load_results, result_files, results_frame
from rosenbrock import ROSENBROCK

TEXT = {"capture_output": True, "text": True}


def mtimes(results):
    return {p: p.stat().st_mtime_ns for p in result_files(results)}


def test_failing_jobs_leave_the_others_and_exit_non_zero_with_a_summary(tmp_path):
    completed = run_task(
        "-cp",
        "experiment",
        "settings=tnc",
        "maxfun=20,40",
        "x0=[0.5,0.5],[1e200,1e200]",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode != 0
    assert "4 jobs: 0 skipped (up to date), 2 ran, 2 failed" in completed.output
    # One error, two jobs: named once, with each job's log.
    assert "2 jobs: NonFiniteObjective: TNC ended with f=inf" in completed.output
    assert completed.output.count("NonFiniteObjective: TNC ended with f=inf") == 1
    logs = [line.split("log: ")[1] for line in completed.output.splitlines() if "log: " in line]
    assert len(logs) == 2 and all(os.path.exists(log) for log in logs)
    files = result_files(tmp_path / "results")
    assert len(files) == 2
    assert all(
        record["config"]["x0"] == [0.5, 0.5] for _, record in load_results(tmp_path / "results")
    )
    assert "Failed jobs (the other results were saved):" in completed.output


def test_a_sweep_whose_every_job_failed_says_no_result_was_saved(tmp_path):
    completed = run_task(
        "-cp",
        "experiment",
        "settings=tnc",
        "maxfun=20,40",
        "x0=[1e200,1e200]",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode != 0
    assert "2 jobs: 0 skipped (up to date), 0 ran, 2 failed" in completed.output
    assert "Failed jobs (no result was saved):" in completed.output
    assert "the other results were saved" not in completed.output
    assert result_files(tmp_path / "results") == []


def test_a_raising_job_is_reported_with_its_exception(tmp_path):
    completed = run_task(
        "-cp",
        "experiment",
        "settings=nelder-mead",
        "maxfun=20",
        "method.options.initial_simplex=null,[[0,0]]",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode != 0
    assert "1 ran, 1 failed" in completed.output
    assert (
        "[settings=nelder-mead maxfun=20 method.options.initial_simplex=[[0,0]]" in completed.output
    )
    assert "ValueError" in completed.output


def test_a_failed_job_moves_its_older_result_aside(tmp_path):
    tree = tmp_path / "experiment"
    shutil.copytree(ROOT / "experiment", tree)
    run_task("-cp", str(tree), "settings=nelder-mead", "maxfun=20", "-m", workdir=tmp_path)
    (path,) = result_files(tmp_path / "results")
    settings = tree / "settings" / "nelder-mead.yaml"
    settings.write_text(settings.read_text() + "    initial_simplex: [[0, 0]]\n")
    completed = run_task(
        "-cp", str(tree), "settings=nelder-mead", "maxfun=20", "-m", workdir=tmp_path, check=False
    )
    assert completed.returncode != 0 and "1 failed" in completed.output
    assert not path.exists()
    assert path.with_name(path.name + ".stale").exists()
    assert "moved aside" in completed.output
    with pytest.raises(NoResults):
        load_results(tmp_path / "results")


def test_killed_sweep_keeps_finished_results_and_resumes(tmp_path):
    command = [
        sys.executable,
        str(ROOT / "task.py"),
        "-cp",
        "experiment",
        "-m",
        f"output.dir={tmp_path / 'results'}",
        f"hydra.sweep.dir={tmp_path / 'a'}",
    ]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(result_files(tmp_path / "results")) < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = mtimes(tmp_path / "results")
    assert 8 <= len(finished) < 45, "kill the sweep in the middle"
    load_results(tmp_path / "results")  # every finished result loads (raises otherwise)

    completed = run_task("-cp", "experiment", "-m", workdir=tmp_path)
    assert (
        f"45 jobs: {len(finished)} skipped (up to date), {45 - len(finished)} ran, "
        "0 failed" in completed.output
    )
    after = mtimes(tmp_path / "results")
    assert len(after) == 45
    assert all(after[p] == finished[p] for p in finished)
    leftovers = [*(tmp_path / "results").rglob("*.tmp"), *(tmp_path / "results").rglob(".*.lock")]
    assert not leftovers, "leftovers of the killed writer (the rerun takes over its lock file)"


def test_changing_a_setting_reruns_exactly_that_setting(tmp_path):
    tree = tmp_path / "experiment"
    shutil.copytree(ROOT / "experiment", tree)
    arguments = ("-cp", str(tree), "maxfun=30,60", "-m")
    run_task(*arguments, workdir=tmp_path)
    before = mtimes(tmp_path / "results")
    settings = tree / "settings" / "tnc.yaml"
    settings.write_text(settings.read_text().replace("eta: 0.5", "eta: 0.3"))
    completed = run_task(*arguments, workdir=tmp_path)
    assert "6 jobs: 4 skipped (up to date), 2 ran, 0 failed" in completed.output
    after = mtimes(tmp_path / "results")
    assert {p.parent.name for p in after if after[p] != before[p]} == {"settings=tnc"}
    assert all(
        record["config"]["method"]["options"]["eta"] == 0.3
        for path, record in load_results(tmp_path / "results")
        if path.parent.name == "settings=tnc"
    )


def test_two_sweeps_started_together_get_own_run_dirs_and_valid_results(tmp_path):
    command = [
        sys.executable,
        str(ROOT / "task.py"),
        "-cp",
        "experiment",
        "settings=tnc",
        "-m",
        f"output.dir={tmp_path / 'results'}",
        f"hydra.sweep.dir={tmp_path}/multirun/${{run_id:}}",
    ]
    processes = [
        subprocess.Popen(
            command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    # Each job ran once, in one sweep or the other; the other says so instead of "ran".
    ran = [int(re.search(r"(\d+) ran", output).group(1)) for output in outputs]
    assert sum(ran) == 15, outputs
    run_dirs = list((tmp_path / "multirun").glob("*/*"))
    assert len(run_dirs) == 2 and all((d / "multirun.yaml").exists() for d in run_dirs)
    assert len(load_results(tmp_path / "results")) == 15
    leftovers = [p.name for p in (tmp_path / "results").rglob("*") if p.is_file()]
    assert not [name for name in leftovers if not name.endswith(".pkl")], leftovers


@pytest.fixture
def small_results(tmp_path):
    run_task("-cp", "experiment", "settings=tnc", "maxfun=20,40", "-m", workdir=tmp_path)
    return tmp_path / "results"


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (pickle.dumps({"config": {}, "result": {}, "meta": {}}), "cut short"),
        ("truncate", "truncated"),
        ("cut", "cut short: a result's pickle without its trailer"),
        ("flip", "corrupt: checksum mismatch"),
    ],
    ids=["empty", "record-pickle-without-trailer", "truncated", "cut-in-pickle", "corrupt"],
)
def test_broken_result_file_is_named_with_its_problem(small_results, content, reason):
    (victim, other) = result_files(small_results)
    data = victim.read_bytes()
    if content == "truncate":
        content = data[: len(data) - 40]
    elif content == "cut":
        content = data[: len(data) // 2]
    elif content == "flip":
        content = data[:-10] + bytes([data[-10] ^ 1]) + data[-9:]
    victim.write_bytes(content)
    with pytest.raises(ResultFileError, match=reason) as raised:
        load_results(small_results)
    assert raised.value.path == victim
    with pytest.warns(UserWarning, match=f"skipped {victim}: {reason}"):
        frame = results_frame(small_results, on_error="warn")
    assert frame["path"].tolist() == [str(other)]


def test_crafted_pickle_cannot_run_code(small_results, tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    victim = result_files(small_results)[0]
    write_atomically(victim, encode({"config": {}, "result": Exploit(), "meta": {}}))
    assert MAGIC in victim.read_bytes()[-200:]
    with pytest.raises(ResultFileError, match="refused to unpickle: refers to"):
        ResultStore(ROSENBROCK).load_all(small_results)  # the experiment's store: refused
    stand_in = load_results(small_results)[0][1]["result"]  # a generic reader: inert
    assert type(stand_in).original == "posix.system" and not marker.exists()


def test_missing_or_empty_results_directory_names_the_command(tmp_path):
    for directory in (tmp_path / "missing", tmp_path):
        with pytest.raises(NoResults, match="run `python task.py -cp experiment -m`"):
            results_frame(directory)


@pytest.mark.parametrize(
    "content",
    [b"hello, world\n", pickle.dumps(pandas.DataFrame({"a": [1, 2]}))],
    ids=["text", "dataframe-pickle"],
)
def test_a_foreign_file_among_the_results_is_named_and_skipped(small_results, content):
    foreign = small_results / "mine.pkl"
    foreign.write_bytes(content)
    for on_error in ("raise", "warn"):
        with pytest.warns(UserWarning, match=f"skipped {foreign}: not a result file"):
            frame = results_frame(small_results, on_error=on_error)
        assert len(frame) == 2
        with pytest.warns(UserWarning, match=f"skipped {foreign}"):
            assert len(load_results(small_results, on_error=on_error)) == 2
    assert foreign.read_bytes() == content


def figure_script(small_results, out):
    """``optsweep plot`` of the example's convergence spec."""
    spec = ROOT / "plots" / "specs" / "convergence.yaml"
    return [
        sys.executable,
        "-m",
        "optsweep.cli",
        "plot",
        str(small_results),
        "--spec",
        str(spec),
    ] + [
        "--out",
        str(out),
    ]


def test_a_damaged_result_refuses_the_figure_and_keeps_the_old_one(small_results, tmp_path):
    script = figure_script(small_results, tmp_path / "figures")
    subprocess.run(script, check=True, capture_output=True)
    figures = [tmp_path / "figures" / f"convergence.{suffix}" for suffix in ("pdf", "png")]
    before = [path.read_bytes() for path in figures]
    victim = result_files(small_results)[0]
    victim.write_bytes(victim.read_bytes()[:-40])
    completed = subprocess.run(script, capture_output=True, text=True)
    assert completed.returncode != 0
    assert f"{victim}: truncated" in completed.stderr
    assert "run its sweep again, which computes that job anew and replaces" in completed.stderr
    assert "left as they were (not made from these results)" in completed.stderr
    assert [path.read_bytes() for path in figures] == before


@pytest.mark.parametrize("damage", ["empty", "truncate", "cut", "flip"])
def test_the_rerun_computes_a_damaged_result_again_and_replaces_it(small_results, damage):
    """As the reading commands say: an empty, cut or corrupt result (a copy cut short) is no
    result; the same sweep computes that job again, and the rest are up to date."""
    victim, _ = result_files(small_results)

    def victims_result() -> tuple:
        result = dict(load_results(small_results))[victim]["result"]
        return float(result["fun"]), int(result["nfev"])

    good = victims_result()
    data = victim.read_bytes()
    victim.write_bytes(
        {
            "empty": b"",
            "truncate": data[: len(data) - 40],
            "cut": data[: len(data) // 2],
            "flip": data[:-10] + bytes([data[-10] ^ 1]) + data[-9:],
        }[damage]
    )
    dry = run_task(
        "-cp",
        "experiment",
        "settings=tnc",
        "maxfun=20,40",
        "hydra.sweeper.dry_run=true",
        "-m",
        workdir=small_results.parent,
    )
    assert dry.output.count("run (damaged result)") == 1, dry.output  # not "stale"
    completed = run_task(
        "-cp", "experiment", "settings=tnc", "maxfun=20,40", "-m", workdir=small_results.parent
    )
    assert "2 jobs: 1 skipped (up to date), 1 ran, 0 failed" in completed.output
    assert victims_result() == good


def test_a_foreign_file_keeps_the_figure_drawn_from_the_results(small_results, tmp_path):
    script = figure_script(small_results, tmp_path / "figures")
    subprocess.run(script, check=True, capture_output=True)
    (small_results / "mine.pkl").write_bytes(pickle.dumps(pandas.DataFrame({"a": [1]})))
    completed = subprocess.run(script, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert f"skipped {small_results / 'mine.pkl'}: not a result file" in completed.stderr
    assert (tmp_path / "figures" / "convergence.pdf").exists()
    table = [sys.executable, "-m", "optsweep.cli", "table", str(small_results), "x=maxfun"]
    completed = subprocess.run([*table, "y=fun", "--out", str(tmp_path / "table")], **TEXT)
    assert completed.returncode == 0, completed.stderr
    said = f"optsweep: warning: skipped {small_results / 'mine.pkl'}: not a result file"
    assert completed.stderr.startswith(said) and "UserWarning" not in completed.stderr


def test_csv_export_has_one_row_per_result(small_results, tmp_path):
    out = tmp_path / "table.csv"
    assert export(small_results, out) == 2
    lines = out.read_text().splitlines()
    assert len(lines) == 3
    header = lines[0].split(",")
    assert {
        "method.name",
        "method.options.maxfun",
        "fun",
        "nfev",
        "meta.git.commit",
        "meta.versions.scipy",
    } <= set(header)


def test_parquet_export_opens_without_the_project_with_types_kept(full_sweep, tmp_path):
    out = tmp_path / "table.csv"
    assert export(full_sweep, out) == 45
    table = pandas.read_parquet(out.with_suffix(".parquet"))
    frame = results_frame(full_sweep).sort_values("path").reset_index(drop=True)
    assert list(table.columns) == list(frame.columns)
    assert table["path"].tolist() == [  # relative to the results: no machine's folders
        Path(path).relative_to(full_sweep).as_posix() for path in frame["path"]
    ]
    assert table["path"][0] == "settings=lbfgsb/maxfun=10.pkl"
    assert table["fun"].tolist() == frame["fun"].tolist()  # floats, at full precision
    assert table["method.options.maxfun"].dropna().tolist() == (
        frame["method.options.maxfun"].dropna().tolist()
    )
    assert list(table["x0"][0]) == [-0.5, -0.5]  # a list, not text
    assert set(table["method.name"]) == {"L-BFGS-B", "Nelder-Mead", "TNC"}


SEARCH = (
    "hydra/sweeper=nevergrad",
    "method=tnc",
    "x0=null",
    "hydra.sweeper.optim.budget=8",
    "hydra.sweeper.optim.num_workers=2",
    "hydra.sweeper.optim.optimizer=RandomSearch",
)


def test_search_keeps_going_past_some_failures(tmp_path):
    completed = run_task(
        *SEARCH,
        "x0_random.high=choice(1.0,nan)",
        "hydra.sweeper.optim.max_failure_rate=0.9",
        "-m",
        workdir=tmp_path,
    )
    (best,) = [line for line in completed.output.splitlines() if "Best parameters:" in line]
    assert "x0_random.high=1.0" in best
    assert "Warning:" not in completed.output  # no Python warning
    # The tolerated failures are said on the console, each named (issue 21).
    said = re.search(
        r"(\d) of 8 evaluations failed \(tolerated: max_failure_rate=0.9 of the budget\)",
        completed.output,
    )
    assert said is not None and 0 < int(said.group(1)) < 8
    assert completed.output.count("{'x0_random.high': nan}: ") == int(said.group(1))


def test_search_where_nothing_succeeds_exits_non_zero_without_a_best(tmp_path):
    completed = run_task(
        *SEARCH,
        "x0_random.high=choice(nan,-5.0)",
        "hydra.sweeper.optim.max_failure_rate=1.0",
        "-m",
        workdir=tmp_path,
        check=False,
    )
    assert completed.returncode != 0
    assert "all 8 evaluations failed; no best point" in completed.output
    assert "Best parameters" not in completed.output
    assert not (tmp_path / "results").exists()


def test_search_with_too_many_failures_exits_non_zero(tmp_path):
    """Past the tolerated rate the search stops, non-zero; rerun, it stops again at once,
    evaluating nothing more (it ran one batch more every time before)."""
    arguments = (
        *SEARCH,
        "x0_random.high=choice(1.0,nan)",
        "hydra.sweeper.optim.max_failure_rate=0.1",
        f"hydra.sweeper.state_dir={tmp_path / 'state'}",
        "-m",
    )
    completed = run_task(*arguments, workdir=tmp_path, check=False)
    assert completed.returncode != 0
    assert "more than max_failure_rate=0.1" in completed.output
    assert "Best parameters" not in completed.output
    (logs,) = re.findall(r"the evaluations' logs \(with tracebacks\): (\S+)", completed.output)
    assert any(Path(logs).glob("*.log"))
    trace = (tmp_path / "state" / "trace.csv").read_text()
    again = run_task(*arguments, workdir=tmp_path, check=False)
    assert again.returncode != 0
    assert "this run evaluated nothing more" in again.output
    assert "\t#" not in again.output
    assert (tmp_path / "state" / "trace.csv").read_text() == trace


def test_a_job_whose_value_is_not_finite_fails_and_saves_nothing(tmp_path):
    """A grid job whose value (the experiment's objective) is NaN fails like a raising one:
    the command exits non-zero naming it, no result is saved for it (and an older one is
    moved aside), the other jobs' results are kept. The engine checks it for any experiment
    (the quadratic diverges at rate 3.0; it raises nothing itself)."""
    from conftest import QUADRATIC

    results = tmp_path / "results"
    arguments = ["-cp", "experiment", "settings=unit", "budget=2000", "rate=0.1,3.0", "-m"]
    completed = run_task(*arguments, workdir=tmp_path, script=QUADRATIC / "task.py", check=False)
    assert completed.returncode == 1, completed.output
    assert "2 jobs: 0 skipped (up to date), 1 ran, 1 failed" in completed.output
    assert "NonFiniteValue: the task's value is nan: not a finite value, not saved" in (
        completed.output
    )
    (kept,) = result_files(results)
    assert "rate=0.1" in kept.name
