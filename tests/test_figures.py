"""The example's figures and tables from small real sweeps: the plotted data equals the results.

The convergence figure and the summary table are generic specs (plots/specs/), drawn by
``optsweep plot``; the landscape is the example's own script, on the generic helpers, drawn
alone or by ``optsweep plot`` through its spec of kind script.
"""

import shutil
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from conftest import ROOT, run_task
from optsweep.engine.store import ResultStore
from optsweep.report import render, specs
from optsweep.report.figures import load_spec
from optsweep.report.precision import shown
from optsweep.report.sweepdata import UnusableResults, sweep_results
from plots import landscape
from rosenbrock import ROSENBROCK, problem

BUDGETS = (10, 20, 30)
SPECS = ROOT / "plots" / "specs"
STORE = ResultStore(ROSENBROCK)  # the example's own reader: real OptimizeResult objects


@pytest.fixture(scope="module")
def one_seed(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("one-seed")
    run_task("-cp", "experiment", f"maxfun={','.join(map(str, BUDGETS))}", "-m", workdir=workdir)
    return workdir / "results"


@pytest.fixture(scope="module")
def three_seeds(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("three-seeds")
    run_task(
        "-cp",
        "experiment",
        "settings=tnc,lbfgsb",
        "maxfun=10,20",
        "seed=0,1,2",
        "x0=null",
        "-m",
        workdir=workdir,
    )
    return workdir / "results"


def recorded(results):
    """{(setting, maxfun, seed): record}, read straight from the files."""
    return {
        (r["meta"]["choices"]["settings"], r["config"]["maxfun"], r["config"]["seed"]): r
        for _, r in STORE.load_all(results)
    }


def spec(name, *overrides):
    return specs.load(SPECS / f"{name}.yaml", list(overrides))


def optsweep(results, out, *arguments):
    """``optsweep plot RESULTS --out OUT ARGUMENTS`` (a spec of kind table is made too)."""
    return subprocess.run(
        [sys.executable, "-m", "optsweep.cli", "plot", str(results), "--out", str(out), *arguments],
        capture_output=True,
        text=True,
    )


def landscape_script(results, out, *overrides):
    command = [sys.executable, str(ROOT / "plots" / "landscape.py")]
    return subprocess.run(
        [*command, "--results", str(results), "--out", str(out), *overrides],
        capture_output=True,
        text=True,
    )


def convergence(*overrides):
    return ("--spec", str(SPECS / "convergence.yaml"), *overrides)


def summary(*overrides):
    return ("--spec", str(SPECS / "summary.yaml"), *overrides)


def test_results_record_the_iterates(one_seed):
    for record in recorded(one_seed).values():
        iterates = record["result"].iterates
        assert iterates.shape[1] == 2 and len(iterates) >= 2
        assert iterates[0].tolist() == record["config"]["x0"]


def test_convergence_lines_are_the_results(one_seed):
    convergence_spec = spec("convergence")
    figure = render.draw(render.select(one_seed, convergence_spec), convergence_spec)
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    records = recorded(one_seed)
    assert set(lines) == {"Nelder-Mead", "TNC", "L-BFGS-B (2-point)"}
    for setting in ("nelder-mead", "tnc", "lbfgsb"):
        line = lines[convergence_spec.labels[setting]]
        assert line.get_xdata().tolist() == list(BUDGETS)
        funs = [records[setting, b, 0]["result"].fun for b in BUDGETS]
        assert line.get_ydata().tolist() == shown(funs).tolist()  # at the stated precision
        np.testing.assert_allclose(line.get_ydata(), funs, rtol=1e-5)
    axes = figure.axes[0]
    assert axes.get_yscale() == "log"
    assert "budget" in axes.get_xlabel() and "f(x" in axes.get_ylabel()
    assert not [c for c in axes.collections if isinstance(c, PolyCollection)], "one seed: no band"


def test_convergence_with_seeds_draws_median_and_interquartile_band(three_seeds):
    convergence_spec = spec("convergence", "extra_overrides=[x0=null]")
    figure = render.draw(render.select(three_seeds, convergence_spec), convergence_spec)
    records = recorded(three_seeds)
    axes = figure.axes[0]
    lines = {line.get_label(): line for line in axes.get_lines()}
    bands = [c for c in axes.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    assert axes.get_legend().get_title().get_text() == "median, IQR over seed"
    for setting in ("tnc", "lbfgsb"):
        values = np.array(
            [[records[setting, b, s]["result"].fun for s in (0, 1, 2)] for b in (10, 20)]
        )
        assert (
            lines[convergence_spec.labels[setting]].get_ydata().tolist()
            == shown(np.median(values, axis=1)).tolist()
        )
    band_y = np.concatenate([p.vertices[:, 1] for b in bands for p in b.get_paths()])
    for setting in ("tnc", "lbfgsb"):
        for budget in (10, 20):
            fun = [records[setting, budget, s]["result"].fun for s in (0, 1, 2)]
            assert np.isclose(band_y, np.percentile(fun, 25)).any()
            assert np.isclose(band_y, np.percentile(fun, 75)).any()


def test_landscape_paths_are_the_recorded_iterates(one_seed):
    landscape_spec = load_spec("landscape", ["budget=30"], ROOT)
    frame = sweep_results(one_seed, "maxfun", values=[30]).frame
    figure = landscape.draw(frame, landscape_spec)
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    for setting, record in ((s, r) for (s, b, _), r in recorded(one_seed).items() if b == 30):
        line = lines[landscape_spec.labels[setting]]
        expected = np.vstack([record["result"].iterates, record["result"].x])
        drawn = np.column_stack([line.get_xdata(), line.get_ydata()])
        np.testing.assert_array_equal(drawn, shown(expected))
        np.testing.assert_allclose(drawn, expected, rtol=1e-5, atol=1e-12)
    assert lines["minimum (1, 1)"].get_xydata().tolist() == [[1.0, 1.0]]
    assert lines["start $x_0$"].get_xydata().tolist() == [[-0.5, -0.5]]


def test_landscape_contours_are_the_runs_objective():
    """The landscape draws with its own numpy formula (not importing scipy.optimize): it is
    the objective the runs minimize, exactly, on the figure's grid."""
    grid = np.stack(np.meshgrid(np.linspace(-1.5, 1.5, 400), np.linspace(-1.0, 1.5, 400)))
    np.testing.assert_array_equal(landscape.rosenbrock(grid), problem.objective(grid))


def test_summary_table_is_the_results(three_seeds, tmp_path):
    summary_spec = spec("summary", "x_values=null", "extra_overrides=[x0=null]")
    table = render.summary_table(render.select(three_seeds, summary_spec), summary_spec)
    records = recorded(three_seeds)
    assert len(table) == 4
    for row in table.itertuples():
        setting = {"TNC": "tnc", "L-BFGS-B (2-point)": "lbfgsb"}[row.setting]
        fun = [records[setting, row.budget, s]["result"].fun for s in (0, 1, 2)]
        nfev = [records[setting, row.budget, s]["result"].nfev for s in (0, 1, 2)]
        success = [records[setting, row.budget, s]["result"].success for s in (0, 1, 2)]
        expected = shown([np.median(fun), np.percentile(fun, 25), np.percentile(fun, 75)])
        assert (row.seeds, row.nfev_median) == (3, np.median(nfev))
        assert [row.f_median, row.f_q25, row.f_q75] == expected.tolist()
        assert row.success_rate == shown([np.mean(success)])[0]
    completed = optsweep(
        three_seeds, tmp_path, *summary("x_values=null", "extra_overrides=[x0=null]")
    )
    assert completed.returncode == 0, completed.stderr
    csv = (tmp_path / "summary.csv").read_text().splitlines()
    assert len(csv) == 5 and csv[0] == (
        "setting,budget,seeds,f_median,f_q25,f_q75,nfev_median,nit_median,success_rate"
    )
    assert "| TNC | 20 | 3 |" in (tmp_path / "summary.md").read_text()
    tex = (tmp_path / "summary.tex").read_text()
    assert tex.startswith(r"\begin{tabular}{lrrlrrr}") and tex.count(r"\\") == 5


def test_the_committed_summary_format_is_kept(one_seed, tmp_path):
    """One seed: each cell is the value itself, formatted as the spec says."""
    completed = optsweep(one_seed, tmp_path, *summary("x_values=[10,30]"))
    assert completed.returncode == 0, completed.stderr
    records = recorded(one_seed)
    md = (tmp_path / "summary.md").read_text().splitlines()
    assert md[0] == (
        "| setting | budget | seeds | f(x_opt): median [q25, q75] | nfev (median) "
        "| nit (median) | success |"
    )
    tnc = records["tnc", 30, 0]["result"]
    fun = shown([tnc.fun])[0]
    expected = f"| TNC | 30 | 1 | {fun:.2e} | {tnc.nfev:g} | {tnc.nit:g} | {tnc.success:.0%} |"
    assert expected in md
    assert r"setting & budget & seeds & $f(x_\mathrm{opt})$ & nfev & nit & success \\" in (
        (tmp_path / "summary.tex").read_text()
    )


def landscape_at(budget: int, directory) -> list[str]:
    """``--spec`` of a spec file in ``directory`` that is the landscape's at ``budget`` (a
    variant spec, as a user writes one: it extends the project's)."""
    variant = directory / f"landscape-{budget}.yaml"
    variant.write_text(f"extends: {SPECS / 'landscape.yaml'}\nbudget: {budget}\n")
    return ["--spec", str(variant)]


def test_figures_and_tables_write_identical_bytes_in_one_process(one_seed, tmp_path):
    """``make figures``'s one process (generic specs and the landscape script's) writes the
    bytes that the landscape script run alone writes, and the same bytes every time."""
    every = [*convergence(), *summary("x_values=null"), *landscape_at(30, tmp_path)]
    for out in ("a", "b"):
        completed = optsweep(one_seed, tmp_path / out, *every)
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.count("wrote") == 7
    assert landscape_script(one_seed, tmp_path / "alone", "budget=30").returncode == 0
    for name in ("convergence.png", "convergence.pdf", "landscape.png", "landscape.pdf"):
        a, b = (tmp_path / d / name for d in ("a", "b"))
        assert a.read_bytes() == b.read_bytes(), f"{name} differs between runs"
    for name in ("landscape.png", "landscape.pdf"):
        alone = (tmp_path / "alone" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() == alone, f"{name}: not the script's bytes"
    assert (tmp_path / "a" / "convergence.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "a" / "summary.csv").read_bytes() == (
        tmp_path / "b" / "summary.csv"
    ).read_bytes()


def test_a_refused_script_spec_or_generic_spec_writes_none_of_the_set(one_seed, tmp_path):
    """One process, one rule: the landscape refused (no results at its default budget 150)
    writes neither it nor the convergence figure; a refused generic spec, no landscape."""
    completed = optsweep(
        one_seed, tmp_path, *convergence(), "--spec", str(SPECS / "landscape.yaml")
    )
    assert completed.returncode == 1, completed.stderr
    assert "no results at maxfun=150 (the results have 10, 20, 30)" in completed.stderr
    completed = optsweep(
        one_seed, tmp_path, *landscape_at(30, tmp_path), *convergence("x_values=[10,40]")
    )
    assert completed.returncode == 1 and "missing lbfgsb maxfun=40" in completed.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["landscape-30.yaml"]


def test_a_script_that_takes_the_table_is_given_the_one_read_for_every_spec(one_seed, tmp_path):
    """A script's ``make(..., frame=None)`` is given the table the generic specs use (read
    once); a script without that parameter is called as before and reads for itself."""
    (tmp_path / "rows.py").write_text(
        "def make(results, spec, out, frame=None):\n"
        "    return {out / 'rows.txt': str(None if frame is None else len(frame)).encode()}\n"
        "def outputs(spec, out):\n"
        "    return [out / 'rows.txt']\n"
    )
    (tmp_path / "rows.yaml").write_text("kind: script\nscript: rows.py\n")
    out = tmp_path / "out"
    completed = optsweep(one_seed, out, "--spec", str(tmp_path / "rows.yaml"))
    assert completed.returncode == 0, completed.stderr
    assert (out / "rows.txt").read_text() == str(len(recorded(one_seed)))


def test_a_script_spec_without_its_script_or_functions_or_with_a_misspelt_key(one_seed, tmp_path):
    (tmp_path / "gone.yaml").write_text("kind: script\nscript: gone.py\n")
    (tmp_path / "half.py").write_text("def outputs(spec, out):\n    return []\n")
    (tmp_path / "half.yaml").write_text("kind: script\nscript: half.py\n")
    (tmp_path / "bare.yaml").write_text("kind: script\n")
    out = tmp_path / "out"
    for spec, expected in (
        ("gone.yaml", f"script: no file {tmp_path / 'gone.py'}"),
        ("half.yaml", f"{tmp_path / 'half.py'}: a figure script defines make(...)"),
        ("bare.yaml", "a spec of kind script needs a file with script: <its .py>"),
    ):
        completed = optsweep(one_seed, out, *convergence(), "--spec", str(tmp_path / spec))
        assert completed.returncode == 2, completed.stderr
        assert f"optsweep: bad spec: {tmp_path / spec}" in completed.stderr or spec == "half.yaml"
        assert expected in completed.stderr and "Traceback" not in completed.stderr
    completed = optsweep(one_seed, out, *landscape_at(30, tmp_path), "budgett=3")
    assert completed.returncode == 2 and "budgett" in completed.stderr
    assert not out.exists()


def test_incomplete_grid_is_refused_and_old_outputs_kept(one_seed, tmp_path):
    assert optsweep(one_seed, tmp_path, *convergence(), *summary()).returncode != 0  # no 50
    assert optsweep(one_seed, tmp_path, *convergence()).returncode == 0
    before = {path: path.read_bytes() for path in tmp_path.glob("convergence.*")}
    completed = optsweep(one_seed, tmp_path, *convergence("x_values=[10,20,40]"))
    assert completed.returncode == 1
    assert "incomplete results: missing lbfgsb maxfun=40" in completed.stderr
    assert "`python task.py -cp experiment settings=lbfgsb maxfun=40 -m`" in completed.stderr
    assert "left as they were (not made from these results)" in completed.stderr
    assert {path: path.read_bytes() for path in tmp_path.glob("convergence.*")} == before
    assert len(before) == 2
    assert not list(tmp_path.glob("summary.*")), "a refused spec set writes none of its files"


def test_a_budget_without_results_is_refused_naming_the_budgets_found(one_seed, tmp_path):
    completed = landscape_script(one_seed, tmp_path, "budget=100")
    assert completed.returncode != 0 and "Traceback" not in completed.stderr
    assert "no results at maxfun=100 (the results have 10, 20, 30)" in completed.stderr


def test_unknown_setting_misspelt_key_and_missing_results_are_refused(one_seed, tmp_path):
    completed = optsweep(one_seed, tmp_path, *summary("order=[tnc,powell]"))
    assert completed.returncode == 1 and "no results for setting(s) powell" in completed.stderr
    completed = landscape_script(tmp_path / "empty", tmp_path)
    assert completed.returncode != 0 and "empty does not exist" in completed.stderr
    completed = optsweep(tmp_path / "empty", tmp_path, *convergence())
    assert completed.returncode == 1 and "empty does not exist" in completed.stderr
    completed = landscape_script(one_seed, tmp_path, "budgett=3")
    assert completed.returncode != 0 and "budgett" in completed.stderr
    completed = optsweep(one_seed, tmp_path, *convergence("logyy=true"))
    assert completed.returncode == 2 and "logyy" in completed.stderr
    completed = optsweep(one_seed, tmp_path, *convergence("logy=maybe"))
    assert completed.returncode == 2 and "logy" in completed.stderr
    assert not list(tmp_path.iterdir())


def test_mixed_configs_in_one_setting_are_refused(project_copy, tmp_path):
    script = project_copy / "task.py"  # a copy of the project, whose sweep tree is edited
    run_task(
        "-cp", "experiment", "settings=tnc", "maxfun=10,20", "-m", workdir=tmp_path, script=script
    )
    task = project_copy / "experiment" / "task.yaml"
    task.write_text(task.read_text().replace("x0: [-0.5, -0.5]", "x0: [0.5, 0.5]"))
    run_task(
        "-cp", "experiment", "settings=tnc", "maxfun=20", "-m", workdir=tmp_path, script=script
    )
    with pytest.raises(UnusableResults, match="setting 'tnc' mix configs: x0 takes"):
        sweep_results(tmp_path / "results", "maxfun")
    completed = optsweep(tmp_path / "results", tmp_path, *convergence())
    assert completed.returncode == 1 and "mix configs" in completed.stderr


def test_with_seeds_a_start_may_vary_between_seeds_but_an_option_not_within_one(
    project_copy, tmp_path
):
    """x0 drawn from each seed differs between seeds: one sweep. An eta changed for one seed's
    second budget mixes two experiments within that seed: refused, naming the option."""
    script = project_copy / "task.py"
    sweep = ("-cp", "experiment", "settings=tnc", "maxfun=10,20", "seed=0,1", "x0=null", "-m")
    run_task(*sweep, workdir=tmp_path, script=script)
    swept = sweep_results(tmp_path / "results", "maxfun", extra_overrides=["x0=null"])
    assert len(swept.frame) == 4 and swept.over == ["seed"]
    settings = project_copy / "experiment" / "settings" / "tnc.yaml"
    settings.write_text(settings.read_text().replace("eta: 0.5", "eta: 0.3"))
    rerun = ("-cp", "experiment", "settings=tnc", "maxfun=20", "seed=1", "x0=null", "-m")
    run_task(*rerun, workdir=tmp_path, script=script)
    with pytest.raises(
        UnusableResults, match="'tnc' mix configs: method.options.eta takes 0.5, 0.3"
    ):
        sweep_results(tmp_path / "results", "maxfun", extra_overrides=["x0=null"])


def test_one_off_runs_do_not_enter_the_figure(one_seed, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(one_seed, results)
    run_task(
        "-cp",
        "experiment",
        "settings=tnc",
        "maxfun=10",
        "method.options.maxCGit=1,5",
        "-m",
        workdir=tmp_path,
    )
    assert len(sweep_results(results, "maxfun").frame) == 9
    assert len(sweep_results(one_seed, "maxfun").frame) == 9
    chosen = sweep_results(
        results, "maxfun", swept=["settings", "maxfun", "method.options.maxCGit"]
    )
    assert sorted(chosen.frame["method.options.maxCGit"]) == [1, 5]  # the one-off, when asked


def perturbed_copy(results, destination, relative: float):
    """A copy of ``results`` with every objective value and iterate scaled by 1 + relative,
    written through the store (valid, current files), as another machine's results might be."""
    shutil.copytree(results, destination)
    for path, record in STORE.load_all(destination):
        result = record["result"]
        result.fun = result.fun * (1 + relative)
        result.iterates = result.iterates * (1 + relative)
        result.x = result.x * (1 + relative)
        record["scalars"] = STORE.experiment.scalars_of(result)  # what that machine recorded
        STORE.save(path, record)
    return destination


def outputs_of(results, out):
    every = [*convergence(), *summary("x_values=null"), *landscape_at(30, out.parent)]
    completed = optsweep(results, out, *every)
    assert completed.returncode == 0, completed.stderr
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())}


def test_results_agreeing_to_the_stated_precision_give_identical_figures_and_tables(
    one_seed, tmp_path
):
    reference = outputs_of(one_seed, tmp_path / "reference")
    assert len(reference) == 7  # 2 figures x (pdf, png) + csv, md, tex
    close = perturbed_copy(one_seed, tmp_path / "close", 1e-10)
    assert outputs_of(close, tmp_path / "close-out") == reference
    far = perturbed_copy(one_seed, tmp_path / "far", 1e-3)
    different = outputs_of(far, tmp_path / "far-out")
    assert different["summary.csv"] != reference["summary.csv"]
    assert different["convergence.pdf"] != reference["convergence.pdf"]


def test_overrides_go_to_the_specs_that_have_their_key(one_seed, tmp_path):
    """Drawn together, ``budget=`` is the landscape's and ``x_values=`` the convergence
    figure's; a key that no spec has is named."""
    landscape_spec = ("--spec", str(SPECS / "landscape.yaml"))
    completed = optsweep(one_seed, tmp_path, *convergence(), *landscape_spec, "budget=30")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.count("wrote") == 4
    completed = optsweep(
        one_seed, tmp_path, *convergence(), *landscape_spec, "budget=20", "x_values=[10,20]"
    )
    assert completed.returncode == 0, completed.stderr
    completed = optsweep(one_seed, tmp_path, *convergence(), *landscape_spec, "logyy=true")
    assert completed.returncode == 2 and "logyy" in completed.stderr


def test_make_figures_spec_paths_relative_to_the_project(one_seed, tmp_path):
    """As the Makefile names them: relative to the working directory."""
    completed = subprocess.run(
        [sys.executable, "-m", "optsweep.cli", "plot", str(one_seed), "--out", str(tmp_path)]
        + ["--spec", "plots/specs/convergence.yaml", "--spec", "plots/specs/landscape.yaml"]
        + ["budget=30"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "convergence.pdf",
        "convergence.png",
        "landscape.pdf",
        "landscape.png",
    ]


def test_a_spec_file_that_is_not_yaml_is_named_with_its_line(one_seed, tmp_path):
    """A duplicate key or an unclosed bracket in a spec says the file, the line and what YAML
    found, as a config file's does; it said "while constructing a mapping" alone."""
    (tmp_path / "twice.yaml").write_text("kind: figure\nx: budget\nx: seed\ny: f\n")
    (tmp_path / "open.yaml").write_text("kind: figure\nx_values: [10, 20\ny: f\n")
    out = tmp_path / "out"
    for spec, expected in (
        ("twice.yaml", "twice.yaml:3:1: YAML syntax error: found duplicate key x"),
        ("open.yaml", "open.yaml:3:2: YAML syntax error: did not find expected ',' or ']'"),
    ):
        completed = optsweep(one_seed, out, "--spec", str(tmp_path / spec))
        assert completed.returncode == 2, completed.stderr
        assert f"optsweep: bad spec: {tmp_path / expected}" in completed.stderr
        assert "Traceback" not in completed.stderr
    assert not out.exists()
