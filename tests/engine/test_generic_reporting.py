"""Reporting for any experiment: table, figures, summary tables, export and compare of the
quadratic experiment (tests/quadratic/), which optsweep.report knows nothing of; and the
reporting never imports the example (or the result's own classes)."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from conftest import QUADRATIC, ROOT, run_task
from optsweep.engine.store import ResultStore, StandIn, UnreadableResult, encode
from optsweep.report import render, specs
from optsweep.report.precision import shown
from optsweep.report.sweepdata import UnusableResults
from optsweep.report.table import load_result, result_files, results_frame

sys.path.append(str(QUADRATIC))  # after the repository: its task.py must not shadow ours
from quadratic import QUADRATIC as EXPERIMENT  # noqa: E402

STORE = ResultStore(EXPERIMENT)  # the experiment's own writer, for edited copies
SEEDS = (0, 1, 2)
# Two tests read the example's results too; with the example deleted they are skipped.
needs_example = pytest.mark.skipif(
    not (ROOT / "rosenbrock").is_dir(), reason="reads the example's results (deleted)"
)
BUDGETS = (1, 2, 3)


@pytest.fixture(scope="module")
def quadratic(tmp_path_factory):
    """Every setting (steep, unit) x budget 1..3 x seed 0..2: 18 jobs."""
    workdir = tmp_path_factory.mktemp("quadratic")
    seeds = ",".join(map(str, SEEDS))
    run_task(
        "-cp", "experiment", f"seed={seeds}", "-m", workdir=workdir, script=QUADRATIC / "task.py"
    )
    return workdir / "results"


def values(results):
    """{(setting, budget, seed): f}, read by the experiment's own store."""
    return {
        (r["meta"]["choices"]["settings"], r["config"]["budget"], r["config"]["seed"]): r["result"][
            "f"
        ]
        for _, r in STORE.load_all(results)
    }


def optsweep(*arguments, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "optsweep.cli", *map(str, arguments)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


@needs_example
def test_reporting_never_imports_the_example_nor_the_results_classes(full_sweep):
    """Reading the example's results (scipy's OptimizeResult inside) with the generic reader
    imports neither rosenbrock nor scipy: the result's classes become inert stand-ins."""
    code = (
        "import sys; from pathlib import Path\n"
        "import optsweep.report.table, optsweep.report.sweepdata, optsweep.report.render\n"
        "import optsweep.report.figures, optsweep.report.export, optsweep.report.compare\n"
        "import optsweep.cli.plot, optsweep.cli.table, optsweep.cli.export, optsweep.cli.compare\n"
        f"frame = optsweep.report.table.results_frame(Path({str(full_sweep)!r}))\n"
        "result = optsweep.report.table.load_result(frame['path'][0])['result']\n"
        "print(len(frame), type(result).original, sorted(m.split('.')[0] for m in sys.modules"
        " if m.split('.')[0] in ('rosenbrock', 'scipy', 'quadratic', 'plots')))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert completed.stdout.strip() == "45 scipy.optimize._optimize.OptimizeResult []"


def test_the_table_of_another_experiment(quadratic):
    frame = results_frame(quadratic)
    assert len(frame) == 18
    assert {"steps", "budget", "seed", "scale.factor", "start", "f", "setting", "overrides"} <= set(
        frame.columns
    )
    assert "x" not in frame.columns  # an array is no scalar
    assert set(frame["setting"]) == {"steep", "unit"}
    assert frame.attrs["config_columns"] == sorted(
        c
        for c in frame.columns
        if c.split(".")[0] in {"budget", "dim", "rate", "scale", "seed", "start", "steps"}
    )
    expected = values(quadratic)
    for row in frame.itertuples():
        assert row.f == expected[row.setting, row.budget, row.seed]
    assert set(frame["meta.experiment"]) == {"quadratic"}


def test_recorded_scalars_and_setting_come_first(quadratic, tmp_path):
    """Records that carry ``scalars`` and ``meta["setting"]`` (as the engine now writes them)
    are shown by those, not by what is derived from the result."""
    results = tmp_path / "results"
    shutil.copytree(quadratic, results)
    path = result_files(results)[0]
    record = STORE.load(path)
    record["scalars"] = {"f": 0.25, "steps_taken": 7}
    record["meta"]["setting"] = "custom"
    STORE.save(path, record)
    frame = results_frame(results).set_index("path")
    assert frame.loc[str(path), ["f", "steps_taken", "setting"]].tolist() == [0.25, 7, "custom"]
    assert frame["steps_taken"].isna().sum() == 17


def test_an_unknown_class_is_read_as_an_inert_stand_in(tmp_path):
    """A generic reader builds no class it does not know: os.system in a crafted file is a
    stand-in that ran nothing (the experiment's own store refuses the file)."""
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    path = tmp_path / "results" / "x.pkl"
    crafted = {"config": {}, "result": {"f": 1.0, "bad": Exploit()}, "meta": {"overrides": []}}
    with pytest.raises(UnreadableResult, match="the result holds a posix.system"):
        STORE.save(path, crafted)  # the store never writes what its readers refuse
    assert not path.exists() and not marker.exists()
    path.parent.mkdir()
    path.write_bytes(encode(crafted))  # crafted by hand
    record = load_result(path)
    assert isinstance(record["result"]["bad"], StandIn) and not marker.exists()
    assert record["result"]["bad"]._args == ((f"touch {marker}",), {})
    assert results_frame(tmp_path / "results")["f"].tolist() == [1.0]
    assert not marker.exists()


def spec(*overrides, kind="figure"):
    return specs.load(None, list(overrides), kind)


def test_median_figure_with_interquartile_band(quadratic, tmp_path):
    figure_spec = spec("x=budget", "y=f", "logy=true")
    sweep = render.select(quadratic, figure_spec)
    assert (sweep.along, sweep.over, sweep.hue_key) == ("budget", ["seed"], "settings")
    axes = render.draw(sweep, figure_spec).axes[0]
    lines = {line.get_label(): line for line in axes.get_lines()}
    expected = values(quadratic)
    for setting in ("steep", "unit"):
        f = np.array([[expected[setting, b, s] for s in SEEDS] for b in BUDGETS])
        assert lines[setting].get_xdata().tolist() == list(BUDGETS)
        assert lines[setting].get_ydata().tolist() == shown(np.median(f, axis=1)).tolist()
    bands = [c for c in axes.collections if isinstance(c, PolyCollection)]
    band_y = np.concatenate([p.vertices[:, 1] for b in bands for p in b.get_paths()])
    f = [expected["unit", 2, s] for s in SEEDS]
    assert (
        np.isclose(band_y, np.percentile(f, 25)).any()
        and np.isclose(band_y, np.percentile(f, 75)).any()
    )
    assert axes.get_yscale() == "log" and axes.get_xlabel() == "budget"
    completed = optsweep("plot", quadratic, "x=budget", "y=f", "logy=true", "--out", tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "f-budget.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "f-budget.png").read_bytes().startswith(b"\x89PNG")


def test_mean_figure_with_a_seeded_bootstrap_interval(quadratic, tmp_path):
    figure_spec = spec("x=budget", "y=f", "agg=mean", "ci=0.9", "bootstrap=500", "seed=3")
    drawn = render.lines(render.select(quadratic, figure_spec), figure_spec)
    expected = values(quadratic)
    for setting in ("steep", "unit"):
        x, mean, low, high, counts = drawn[setting]
        f = np.array([[expected[setting, b, s] for s in SEEDS] for b in BUDGETS])
        assert mean.tolist() == shown(f.mean(axis=1)).tolist() and counts == [3, 3, 3]
        for point, row in enumerate(f):
            resampled = row[np.random.default_rng(3).integers(0, 3, size=(500, 3))].mean(axis=1)
            assert [low[point], high[point]] == shown(np.quantile(resampled, [0.05, 0.95])).tolist()
            assert row.min() <= low[point] <= mean[point] <= high[point] <= row.max()
    axes = render.draw(render.select(quadratic, figure_spec), figure_spec).axes[0]
    assert axes.get_legend().get_title().get_text() == "mean, 90% CI over seed"
    made = [
        optsweep(
            "plot",
            quadratic,
            "x=budget",
            "y=f",
            "agg=mean",
            "bootstrap=20",  # few resamples: the interval depends on the seed
            f"seed={seed}",
            "--out",
            tmp_path / out,
        )
        for out, seed in (("a", 0), ("b", 0), ("c", 1))
    ]
    assert [m.returncode for m in made] == [0, 0, 0], made[0].stderr
    pdf = [(tmp_path / out / "f-budget.pdf").read_bytes() for out in "abc"]
    assert pdf[0] == pdf[1] != pdf[2]  # reproducible; another bootstrap seed, another band


def test_a_line_per_swept_key_and_wall_time_on_x(quadratic):
    by_seed = spec("x=budget", "y=f", "hue=seed", "where={setting: unit}")
    sweep = render.select(quadratic, by_seed)
    assert (sweep.order, sweep.over) == ([0, 1, 2], ["settings"])
    assert set(sweep.frame["setting"]) == {"unit"}
    with pytest.raises(
        UnusableResults,
        match=r"each line of hue=seed would aggregate the "
        r"results of several settings \(steep, unit\) as if they were repeats",
    ):
        render.select(quadratic, spec("x=budget", "y=f", "hue=seed"))
    timed = spec("x=meta.wall_time", "along=budget", "y=f", "logx=true")
    sweep = render.select(quadratic, timed)
    frame = results_frame(quadratic)
    x, *_ = render.lines(sweep, timed)["unit"]
    rows = frame[frame["setting"] == "unit"]
    assert x.tolist() == shown(rows.groupby("budget")["meta.wall_time"].median()).tolist()


def test_without_results_the_commands_read_the_projects_and_a_table_takes_one_y(
    quadratic, tmp_path
):
    project = quadratic.parent  # results/ of the working directory's project
    completed = optsweep("plot", "x=budget", "y=f", "--out", tmp_path, cwd=project)
    assert completed.returncode == 0, completed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f-budget.pdf", "f-budget.png"]
    one = optsweep("table", "x=budget", "y=f", "--out", tmp_path / "one", cwd=project)
    listed = optsweep("table", "x=budget", "y=[f]", "--out", tmp_path / "listed", cwd=project)
    assert one.returncode == 0 == listed.returncode, one.stderr + listed.stderr
    for name in ("summary-budget.csv", "summary-budget.md", "summary-budget.tex"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "listed" / name).read_bytes()


def test_summary_table_of_another_experiment(quadratic, tmp_path):
    completed = optsweep(
        "table", quadratic, "x=budget", "y=[f,steps]", "count_header=seeds", "--out", tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    table = pd.read_csv(tmp_path / "summary-budget.csv")
    assert list(table.columns) == [
        "setting",
        "budget",
        "seeds",
        "f_median",
        "f_q25",
        "f_q75",
        "steps_median",
        "steps_q25",
        "steps_q75",
    ]
    expected = values(quadratic)
    assert len(table) == 6
    for row in table.itertuples():
        f = [expected[row.setting, row.budget, s] for s in SEEDS]
        assert row.seeds == 3 and row.steps_median == row.budget
        stats = shown([np.median(f), *np.percentile(f, [25, 75])])
        assert [row.f_median, row.f_q25, row.f_q75] == [float(f"{v:.6g}") for v in stats]
    md = (tmp_path / "summary-budget.md").read_text().splitlines()
    # The headers say what the brackets hold.
    assert md[0] == (
        "| setting | budget | seeds | f: median [q25, q75] | steps: median [q25, q75] |"
    )
    assert len(md) == 8
    f = shown([np.median([expected["unit", 1, s] for s in SEEDS])])[0]
    assert md[5].startswith(f"| unit | 1 | 3 | {f:.6g} [")
    tex = (tmp_path / "summary-budget.tex").read_text()
    assert tex.startswith(r"\begin{tabular}{lrrll}") and tex.count(r"\\") == 7
    means = optsweep("table", quadratic, "x=budget", "y=f", "agg=mean", "--out", tmp_path / "m")
    assert means.returncode == 0, means.stderr
    header = (tmp_path / "m" / "summary-budget.md").read_text().splitlines()[0]
    assert header == "| setting | budget | n | f: mean [95% CI] |"


@pytest.mark.parametrize(
    "name, beside", [("table.csv", "table.parquet"), ("table.parquet", "table.csv")]
)
def test_export_by_the_suffix_of_out(quadratic, tmp_path, name, beside):
    completed = optsweep("export", quadratic, "--out", tmp_path / name)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "table.parquet").read_bytes().startswith(b"PAR1")
    assert (tmp_path / "table.csv").read_text().startswith(("budget,", "dim,"))
    parquet = pd.read_parquet(tmp_path / "table.parquet")
    csv = pd.read_csv(tmp_path / "table.csv", float_precision="round_trip")
    frame = results_frame(quadratic).sort_values("path").reset_index(drop=True)
    assert parquet["f"].tolist() == frame["f"].tolist() == csv["f"].tolist()
    assert list(parquet["start"][0]) == frame["start"][0]  # a list, not text
    assert optsweep("export", quadratic, "--out", tmp_path / "table.txt").returncode == 2
    assert not (tmp_path / "table.txt").exists()


def test_compare_another_experiment(quadratic, tmp_path):
    theirs = tmp_path / "theirs"
    shutil.copytree(quadratic, theirs)
    assert optsweep("compare", quadratic, theirs).returncode == 0
    path = theirs / "settings=unit" / "budget=2,seed=1.pkl"
    record = STORE.load(path)
    record["result"]["f"] *= 1 + 1e-3
    record["result"]["x"] = record["result"]["x"] * 2
    record["scalars"] = EXPERIMENT.scalars_of(record["result"])  # as that machine recorded them
    STORE.save(path, record)
    completed = optsweep("compare", quadratic, theirs)
    assert completed.returncode == 1
    (line,) = [line for line in completed.stdout.splitlines() if line.startswith("differs")]
    assert line.startswith("differs: settings=unit/budget=2,seed=1.pkl: result f: ")
    assert "result x: " in line and "18 jobs: 17 agree" in completed.stdout
    assert optsweep("compare", quadratic, tmp_path / "nowhere").returncode == 2
    alias = [sys.executable, "-m", "optsweep.report.compare", str(quadratic), str(theirs)]
    assert subprocess.run(alias, capture_output=True).returncode == 1


def test_an_incomplete_grid_writes_nothing_and_keeps_the_outputs(quadratic, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(quadratic, results)
    out = tmp_path / "out"
    figure = ("x=budget", "y=f")
    assert optsweep("plot", results, *figure, "--out", out).returncode == 0
    before = {path: path.read_bytes() for path in out.iterdir()}
    (results / "settings=steep" / "budget=3,seed=1.pkl").unlink()
    completed = optsweep("plot", results, *figure, "--out", out)
    assert completed.returncode == 1
    assert "incomplete results: missing steep budget=3 seed=1" in completed.stderr
    assert (
        "`python task.py -cp experiment settings=steep budget=3 seed=0,1,2 -m`" in completed.stderr
    )
    assert (
        f"left as they were (not made from these results): {out / 'f-budget.pdf'}"
        in completed.stderr
    )
    assert {path: path.read_bytes() for path in out.iterdir()} == before
    assert len(before) == 2
    # Without that point the grid is complete again.
    assert optsweep("plot", results, *figure, "x_values=[1,2]", "--out", out).returncode == 0
    assert {path: path.read_bytes() for path in out.iterdir()} != before


def test_results_of_two_code_versions_are_not_drawn_together(quadratic, tmp_path):
    """One setting rerun after a code change (its results record another ``meta.code``): a
    figure would compare the old code's results with the new one's. Refused, naming both
    versions and what to run."""
    results = tmp_path / "results"
    shutil.copytree(quadratic, results)
    old = {record["meta"]["code"] for _, record in STORE.load_all(results)}
    assert len(old) == 1
    for path, record in STORE.load_all(results / "settings=unit"):
        record["meta"]["code"] = "0123456789abcdef"  # as a rerun after an edit records it
        STORE.save(path, record)
    completed = optsweep("plot", results, "x=budget", "y=f", "--out", tmp_path / "out")
    assert completed.returncode == 1
    assert "the results were computed by 2 versions of the experiment's code" in completed.stderr
    assert "0123456789abcdef (9 results, e.g. " in completed.stderr
    assert f"{old.pop()} (9 results, e.g. " in completed.stderr
    assert "rerun the sweep, which reruns the stale ones" in completed.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@needs_example
def test_results_of_two_experiments_are_not_mixed(quadratic, full_sweep, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(quadratic, results)
    shutil.copytree(full_sweep / "settings=tnc", results / "settings=tnc")
    frame = results_frame(results)
    assert len(frame) == 18 + 15
    completed = optsweep("plot", results, "x=budget", "y=f", "--out", tmp_path / "out")
    assert completed.returncode == 0, completed.stderr  # the example's jobs sweep no budget
    for path, record in STORE.load_all(results / "settings=unit"):
        record["meta"]["experiment"] = "other"  # as if another experiment wrote there
        STORE.save(path, record)
    completed = optsweep("plot", results, "x=budget", "y=f", "--out", tmp_path / "out")
    assert completed.returncode == 1
    assert "holds results of several experiments (other, quadratic)" in completed.stderr
    unit = sorted(str(p) for p in (results / "settings=unit").glob("*.pkl"))
    assert f"9 of 'other': {unit[0]}, {unit[1]} and 7 more" in completed.stderr  # which they are


@pytest.mark.parametrize("blocked", ["a-directory", "unwritable"])
def test_an_export_that_cannot_write_writes_nothing_and_says_why(quadratic, tmp_path, blocked):
    if blocked == "a-directory":
        out = tmp_path / "results.csv"
        out.mkdir()
        reason = "it is a directory"
    else:
        out = Path("/proc/optsweep-no-such-dir/results.csv")  # even root cannot create it
        reason = "cannot write /proc/optsweep-no-such-dir/results.parquet"
    completed = optsweep("export", quadratic, "--out", out, cwd=tmp_path)
    assert completed.returncode == 1
    assert "export failed, nothing written:" in completed.stderr and reason in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not out.with_suffix(".parquet").exists()


def test_a_figure_or_table_of_a_column_that_is_not_finite_is_refused_naming_the_results(
    quadratic, tmp_path
):
    """A result whose y is NaN (written before the engine refused such jobs, or a scalar
    other than the objective) would drop out of its line silently: refused, naming it."""
    results = tmp_path / "results"
    shutil.copytree(quadratic, results)
    store = ResultStore(EXPERIMENT)
    (path, *_) = sorted(result_files(results))
    record = store.load(path)
    record["scalars"]["f"] = float("nan")
    store.save(path, record)
    with pytest.raises(UnusableResults, match=r"f is not a finite number in 1 result\(s\)"):
        render.lines(render.select(results, spec("x=budget", "y=f")), spec("x=budget", "y=f"))
    completed = optsweep("plot", results, "x=budget", "y=f", "--out", tmp_path / "out")
    assert completed.returncode == 1 and f"nan ({path})" in completed.stderr
    # A table's median would leave it out too, while its count of results has it.
    completed = optsweep("table", results, "x=budget", "y=f", "--out", tmp_path / "out")
    assert completed.returncode == 1 and f"nan ({path})" in completed.stderr
    assert "which the table would leave out" in completed.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("typo", "said"),
    [
        (
            "x=budgte",
            "x=budgte: no job of {results} swept 'budgte' and no result has it; did you mean "
            "'budget'? (swept there: budget, seed, settings)",
        ),
        ("y=ff", "no column 'ff' in the results; did you mean 'f'?"),
        ("hue=setings", "hue=setings: no job of {results} swept 'setings'"),
        (
            "order=[steep,unti]",
            "no results for setting(s) unti (the results have steep, unit); 'unti': did you "
            "mean 'unit'?",
        ),
        (
            "labels={steep: Steep, unti: Unit}",
            "labels: 'unti' names no line here; did you mean 'unit'? (its line would be shown "
            "as 'unit'; the lines are steep, unit)",
        ),
    ],
    ids=["x", "y", "hue", "order", "labels"],
)
def test_a_misspelt_key_to_draw_is_named_with_the_closest(quadratic, tmp_path, typo, said):
    """Not "run a sweep over budgte", nor a complaint about x for a misspelt hue."""
    keys = {"x": "x=budget", "y": "y=f", "hue": "hue=setting", "labels": "labels={}"}
    keys[typo.split("=")[0]] = typo
    for command in ("plot", "table"):
        completed = optsweep(command, quadratic, *keys.values(), "--out", tmp_path)
        assert completed.returncode == 1, completed.stderr
        assert said.format(results=quadratic) in completed.stderr
        assert "python task.py" not in completed.stderr
    assert not list(tmp_path.iterdir())


def test_from_a_directory_in_no_project_a_spec_draws_its_own_projects_results(quadratic, tmp_path):
    """``optsweep plot --spec study/plots/specs/f.yaml`` from study's parent: study's
    results, into study's plots/ (not ./results, which does not exist)."""
    study = tmp_path / "study"
    shutil.copytree(quadratic, study / "results")
    (study / ".project-root").touch()
    (study / "plots" / "specs").mkdir(parents=True)
    spec_file = study / "plots" / "specs" / "f.yaml"
    spec_file.write_text("kind: figure\nx: budget\ny: f\noutput: f\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    completed = optsweep("plot", "--spec", spec_file, cwd=elsewhere)
    assert completed.returncode == 0, completed.stderr
    assert sorted(p.name for p in (study / "plots").glob("f.*")) == ["f.pdf", "f.png"]
    assert list(elsewhere.iterdir()) == []


def test_where_takes_a_list_of_values(quadratic, tmp_path):
    """``where={seed: [0, 1]}``: the rows of either seed (a list of values matched nothing)."""
    completed = optsweep(
        "table", quadratic, "x=budget", "y=f", "where={seed: [0, 1]}", "--out", tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    table = pd.read_csv(tmp_path / "summary-budget.csv")
    assert len(table) == 6 and set(table["n"]) == {2}
    expected = values(quadratic)
    for row in table.itertuples():
        f = [expected[row.setting, row.budget, s] for s in (0, 1)]
        assert row.f_median == float(f"{shown([np.median(f)])[0]:.6g}")


def test_an_out_that_is_a_file_is_refused_before_anything_is_made(quadratic, tmp_path):
    """``--out plots/f.png`` (a file given for the directory): a line, not a traceback."""
    existing = tmp_path / "f.png"
    existing.write_bytes(b"mine")
    for out in (existing, existing / "sub"):
        for command in ("plot", "table"):
            completed = optsweep(command, quadratic, "x=budget", "y=f", "--out", out)
            assert completed.returncode == 2, completed.stderr
            assert f"--out {out}: not a directory" in completed.stderr
            assert "Traceback" not in completed.stderr
    assert existing.read_bytes() == b"mine"
    # A file's name that is not there yet: not made as a directory, the spec's output named.
    named = tmp_path / "plots" / "f.png"
    completed = optsweep("plot", quadratic, "x=budget", "y=f", "--out", named)
    assert completed.returncode == 2, completed.stderr
    assert "f.png looks like a file's name, but --out names the directory" in completed.stderr
    assert f"give --out {named.parent}, and the spec's output=f names the files" in (
        completed.stderr
    )
    assert not named.exists() and not named.parent.exists()


def test_a_result_without_the_swept_key_leaves_the_advice_in_integers(quadratic, tmp_path):
    """A plain run's result has no budget: pandas makes the column floats, and the advice
    asked for ``budget=2.0``, which the sweep refuses. It says ``budget=2``."""
    results = tmp_path / "results"
    shutil.copytree(quadratic, results)
    (first, second, *_) = sorted(result_files(results))
    record = STORE.load(first)
    del record["config"]["budget"]
    record["meta"]["overrides"] = []
    STORE.save(results / "plain.pkl", record)
    assert results_frame(results)["budget"].dtype.kind == "f"
    second.unlink()
    completed = optsweep("table", results, "x=budget", "y=f", "--out", tmp_path / "out")
    assert completed.returncode == 1
    assert "incomplete results: missing" in completed.stderr
    assert "budget=1 " in completed.stderr and "budget=1.0" not in completed.stderr


def test_results_whose_code_changed_since_are_refused_unless_allowed(tmp_path):
    """Every result of a sweep, then an edit of the experiment's code: a figure would show what
    the old code computed. Refused naming the file, made with allow_stale=true (a warning says
    so); the same results copied out of their project are not checked."""
    project = tmp_path / "quadratic"
    shutil.copytree(QUADRATIC, project, ignore=shutil.ignore_patterns("__pycache__"))
    results = project / "results"
    run_task("-cp", "experiment", "seed=0", "-m", workdir=project, script=project / "task.py")
    figure = ("x=budget", "y=f", "--out", tmp_path / "out")
    assert optsweep("plot", results, *figure).returncode == 0
    recorded = results_frame(results)["meta.code_files"].iloc[0]
    assert sorted(entry.split(" ")[1] for entry in recorded) == ["quadratic.py", "task.py"]

    with (project / "quadratic.py").open("a") as code:
        code.write("# an edit\n")
    written = {path: path.read_bytes() for path in (tmp_path / "out").iterdir()}
    for command in ("plot", "table"):
        completed = optsweep(command, results, *figure)
        assert completed.returncode == 1, completed.stderr
        assert (
            f"the results in {results} are stale: their code has changed since "
            "(quadratic.py (edited)); rerun the sweep" in completed.stderr
        )
        assert "allow_stale=true" in completed.stderr
    assert {path: path.read_bytes() for path in (tmp_path / "out").iterdir()} == written

    allowed = optsweep("plot", results, *figure, "allow_stale=true")
    assert allowed.returncode == 0, allowed.stderr
    assert "optsweep: warning: the results in" in allowed.stderr
    assert "(quadratic.py (edited)); drawn anyway" in allowed.stderr
    copied = tmp_path / "copied"
    shutil.copytree(results, copied)
    elsewhere = optsweep("plot", copied, *figure)
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert "stale" not in elsewhere.stderr
    # The rerun computes every result again, by the code as it is now: current again.
    rerun = run_task(
        "-cp", "experiment", "seed=0", "-m", workdir=project, script=project / "task.py"
    )
    assert "0 skipped (up to date), 6 ran" in rerun.output
    assert optsweep("plot", results, *figure).returncode == 0


def test_an_incomplete_grid_names_the_missing_points_in_numeric_order(tmp_path):
    """Integers swept past 9: the missing points and the command to run list them by value
    (2, 10), not as text (10, 2), which numpy's integers in the table used to give."""
    run_task(
        "-cp",
        "experiment",
        "budget=1,2,10",
        "seed=0",
        "-m",
        workdir=tmp_path,
        script=QUADRATIC / "task.py",
    )
    results = tmp_path / "results"
    for budget in (2, 10):
        (results / "settings=steep" / f"budget={budget},seed=0.pkl").unlink()
    completed = optsweep("plot", results, "x=budget", "y=f", "--out", tmp_path / "out")
    assert completed.returncode == 1
    assert "missing steep budget=2 seed=0, steep budget=10 seed=0;" in completed.stderr
    assert "settings=steep budget=2,10 seed=0 -m`" in completed.stderr


def test_the_commands_a_refusal_suggests_name_the_projects_own_task_file(tmp_path):
    """A project whose entry point is train.py: a refusal's command runs train.py (the task
    file the results record, ``meta.script``), not task.py."""
    project = tmp_path / "quadratic"
    shutil.copytree(QUADRATIC, project, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(project / "task.py", project / "train.py")
    run_task("-cp", "experiment", "seed=0", "-m", workdir=project, script=project / "train.py")
    results = project / "results"
    assert {r["meta"]["script"] for _, r in STORE.load_all(results)} == {"train.py"}
    (results / "settings=steep" / "budget=2,seed=0.pkl").unlink()
    completed = optsweep("plot", results, "x=budget", "y=f", "--out", tmp_path / "out")
    assert completed.returncode == 1
    assert "run `python train.py -cp experiment settings=steep budget=2 seed=0 -m`" in (
        completed.stderr
    )


def test_slips_in_where_and_y_are_named_with_what_was_meant(quadratic, tmp_path):
    """where={setting:unit} (YAML's one key, for want of a space), a value close to one the
    results have, and several y for one figure: each a line saying what to write."""
    out = ("--out", tmp_path / "out")
    spaced = optsweep("plot", quadratic, "x=budget", "y=f", "where={setting:unit}", *out)
    assert spaced.returncode == 1, spaced.stderr
    assert "write 'where={setting: unit}', with a space after the colon" in spaced.stderr
    typo = optsweep("plot", quadratic, "x=budget", "y=f", "where={setting: unti}", *out)
    assert typo.returncode == 1, typo.stderr
    assert "where: no result has setting='unti'; did you mean 'unit'?" in typo.stderr
    several = optsweep("plot", quadratic, "x=budget", "y=[f,iterations]", *out)
    assert several.returncode == 2, several.stderr
    assert "y: a figure draws one y (y=fun); several are a table's columns" in several.stderr
    assert "Traceback" not in spaced.stderr + typo.stderr + several.stderr
    assert not (tmp_path / "out").exists()


def test_an_export_of_mixed_results_writes_every_row_and_says_what_is_mixed(quadratic, tmp_path):
    """An export is every row (unlike a figure, it refuses nothing), but rows of another
    experiment or code version among the results are said, with the column that tells them
    apart."""
    results = tmp_path / "results"
    shutil.copytree(quadratic, results)
    for path, record in STORE.load_all(results / "settings=unit"):
        record["meta"]["experiment"] = "other"
        record["meta"]["code"] = "0123456789abcdef"
        STORE.save(path, record)
    completed = optsweep("export", results, "--out", tmp_path / "table.csv")
    assert completed.returncode == 0, completed.stderr
    assert "wrote 18 rows" in completed.stdout
    assert (
        "optsweep: warning: the results hold rows of 2 experiments (other: 9, quadratic: 9)"
        in completed.stderr
        or "optsweep: warning: the results hold rows of 2 experiments (quadratic: 9, other: 9)"
        in completed.stderr
    )
    assert "the meta.experiment column tells them apart" in completed.stderr
    assert "rows of 2 code versions" in completed.stderr
    clean = optsweep("export", quadratic, "--out", tmp_path / "clean.csv")
    assert clean.returncode == 0 and "warning" not in clean.stderr, clean.stderr


def test_labels_of_lines_a_figure_does_not_draw_are_no_typo(quadratic, tmp_path):
    """One set of labels shared by specs that draw different lines: only the drawn lines
    need theirs."""
    completed = optsweep(
        "plot",
        quadratic,
        "x=budget",
        "y=f",
        "where={setting: unit}",
        "labels={unit: Unit, steep: Steep, other: Other}",
        "--out",
        tmp_path,
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize(
    ("column", "said"),
    [
        (
            "{y: f, stats: [rate]}",
            "stats rate of 'f': rate is the share of true values, but f holds other values",
        ),
        ("{y: f, format: .2q}", "columns[0].format='.2q': Unknown format code 'q'"),
    ],
    ids=["rate-of-numbers", "format"],
)
def test_a_table_column_that_would_show_nonsense_is_refused(quadratic, tmp_path, column, said):
    completed = optsweep(
        "table", quadratic, "x=budget", f"columns=[{column}]", "--out", tmp_path / "out"
    )
    assert completed.returncode != 0
    assert said in completed.stderr and "Traceback" not in completed.stderr
    assert not (tmp_path / "out").exists()


def test_a_table_whose_columns_share_a_name_is_refused(quadratic, tmp_path):
    """The count's header n beside a swept key n: the key's values were overwritten."""
    completed = optsweep(
        "table", quadratic, "x=budget", "y=[f]", "count_header=budget", "--out", tmp_path / "o"
    )
    assert completed.returncode != 0
    assert "the table would have several columns named 'budget'" in completed.stderr
    assert not (tmp_path / "o").exists()
