"""Benchmark: the project's sweep against the same work done with benchopt, side by side.

    python bench/benchopt_bench.py [--jobs 45 450] [--repeats 5]

The benchopt side is the benchmark in bench/benchopt/: one solver per experiment/settings/ file
with the same scipy options, jac and start point, benchopt's `iteration` strategy with the
budgets 10, 20, ..., 150 as its stop values (one minimize call per run) and f, nfev, nit as
objective metrics; 450 runs are its 10 repetitions, as ours are `seed=range(0,10)`. benchopt
is installed by this script into its own environment, .cache/benchopt-venv (pinned below; numpy
and scipy at constraints.txt's versions), never into .venv.

For each size, each repeat runs, in turn, ours then benchopt's, each in a fresh directory (a
fresh results directory for ours; a fresh copy of bench/benchopt/, so a fresh cache, for
benchopt), with one worker on both sides (ours in process; `benchopt run --n-jobs=1`):
- sweep: `python task.py -cp experiment [seed=...] -m` against `benchopt run --no-plot`;
- cached rerun: the same command again after a full sweep (ours skips every job, benchopt
  reads its cache);
- sweep + figures: the sweep, then `make figures`'s work (one `optsweep plot` of the
  convergence, summary and landscape specs: PDF and PNG figures and a table), against
  `benchopt run` with its default report (an HTML page) and, in the same rounds, with
  `--no-html` (matplotlib PDFs).
Times are wall times of whole processes (ours for sweep + figures: the sum of its two); the
table gives the medians and the ratio of the medians, measured in the same run, against the
issue's goal (ours at most 0.5x benchopt's), and is written to bench/benchopt.md.

Then one more sweep of each side per size (not timed) is compared run by run: f, nfev and nit
of every (setting, budget, seed) must equal those of benchopt's (solver, stop value,
repetition), f exactly (same scipy and numpy builds, same inputs: the same floats, so any
difference means the runs are not the same work). That is the one check: if they differ, the
script exits non-zero naming the runs. Otherwise timings only.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy
import pandas as pd
import scipy
from results_bench import figures
from sweep_bench import ROOT, measure, sweep_command

from optsweep.report.table import results_frame

BENCHMARK = ROOT / "bench" / "benchopt"
VENV = ROOT / ".cache" / "benchopt-venv"
# 1.10.0: the newest release when this bench was written. It installs alongside
# constraints.txt's numpy, scipy, pandas and pyarrow; its `--output` takes a bare name or a
# path; and bench/benchopt/ subclasses its StoppingCriterion (init_stop_val,
# get_next_stop_val, check_convergence), which is not a stable API: hence the pin.
BENCHOPT = "benchopt==1.10.0"
RUNS_PER_SEED = 45  # 3 settings x 15 budgets
# Our result scalars and benchopt's objective metrics that hold the same numbers.
METRICS = {"fun": "objective_value", "nfev": "objective_nfev", "nit": "objective_nit"}


def pinned(name: str) -> str:
    """``name==version`` as constraints.txt pins it."""
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == name:
            return line.strip()
    sys.exit(f"constraints.txt pins no {name}")


def benchopt_environment() -> Path:
    """The benchopt command of .cache/benchopt-venv, made first if it is missing or was made
    for other pins (a failed install removes it)."""
    wanted = " ".join([BENCHOPT, pinned("numpy"), pinned("scipy")])
    marker = VENV / ".installed"
    if marker.exists() and marker.read_text() == wanted:
        return VENV / "bin" / "benchopt"
    shutil.rmtree(VENV, ignore_errors=True)
    print(f"installing {wanted} into {VENV.relative_to(ROOT)}", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        constraints = ["--disable-pip-version-check", "-c", str(ROOT / "constraints.txt")]
        subprocess.run([*pip, *constraints, BENCHOPT, "numpy", "scipy"], check=True)
    except subprocess.CalledProcessError as error:
        shutil.rmtree(VENV, ignore_errors=True)
        sys.exit(f"could not make {VENV}: {error}")
    marker.write_text(wanted)
    return VENV / "bin" / "benchopt"


def benchopt_versions() -> str:
    """benchopt's, numpy's and scipy's versions in benchopt's environment."""
    code = "import benchopt, numpy, scipy; print(benchopt.__version__, numpy.__version__, "
    code += "scipy.__version__)"
    output = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", code], check=True, capture_output=True, text=True
    )
    version, numpy_version, scipy_version = output.stdout.split()
    return f"benchopt {version}, numpy {numpy_version}, scipy {scipy_version}"


def isolate_benchopt(scratch: Path) -> None:
    """Runs read an empty benchopt config file of their own and no BENCHOPT_* variable, so
    that a user's settings (cache location, debug, timeout) do not change what is measured."""
    for name in [name for name in os.environ if name.startswith("BENCHOPT_")]:
        del os.environ[name]
    config = scratch / "benchopt.yml"
    config.touch(mode=0o600)  # benchopt warns about a config file others can read
    os.environ["BENCHOPT_CONFIG"] = str(config)


def fresh_benchmark(workdir: Path) -> Path:
    """A copy of bench/benchopt/ in ``workdir``: its cache and outputs start empty there, and
    nothing is written into the repository."""
    copy = workdir / "benchmark"
    ignore = shutil.ignore_patterns("__cache__", "outputs", "__pycache__")
    shutil.copytree(BENCHMARK, copy, ignore=ignore)
    return copy


def benchopt_command(
    benchopt: Path, benchmark: Path, jobs: int, output: str, *report: str
) -> list[str]:
    """`benchopt run` of ``jobs`` runs (jobs / 45 repetitions) in one worker, results in
    ``benchmark``/outputs/``output``.parquet, with the ``report`` flags (``--no-plot``: none)."""
    return [
        str(benchopt),
        "run",
        str(benchmark),
        "--n-jobs=1",
        f"--n-repetitions={jobs // RUNS_PER_SEED}",
        "--no-timeout",
        "--no-display",
        *report,
        f"--output={output}",
    ]


def wall(command: list[str]) -> float:
    """Wall seconds of one run of ``command`` (``sweep_bench.measure``: fails loudly)."""
    return measure(command)[0]


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def ours(jobs: int, what: str) -> Callable[[Path], float]:
    """Seconds of our side of row ``what`` in a fresh ``workdir``."""

    def run(workdir: Path) -> float:
        sweep = sweep_command(jobs, workdir)
        if what == "sweep":
            return wall(sweep)
        if what == "cached rerun":
            wall(sweep)
            return wall(sweep)
        return wall(sweep) + timed(lambda: figures(workdir / "results"))

    return run


ROWS = ("sweep", "cached rerun", "sweep + figures")
# benchopt's side of each row: its report flags, by the name the table gives them. "sweep +
# figures" times both of its reports, in the same rounds as ours.
BENCHOPT_SIDES = {
    "sweep": {"`--no-plot`": ["--no-plot"]},
    "cached rerun": {"`--no-plot`, its cache": ["--no-plot"]},
    "sweep + figures": {
        "HTML report (default)": ["--plot", "--html"],
        "PDF figures (`--no-html`)": ["--plot", "--no-html"],
    },
}


def theirs(benchopt: Path, jobs: int, what: str, report: list[str]) -> Callable[[Path], float]:
    """Seconds of benchopt's side of row ``what``, with the ``report`` flags, in a fresh
    ``workdir``."""

    def run(workdir: Path) -> float:
        benchmark = fresh_benchmark(workdir)
        sweep = benchopt_command(benchopt, benchmark, jobs, "sweep", *report)
        if what == "cached rerun":
            wall(sweep)
            return wall(benchopt_command(benchopt, benchmark, jobs, "rerun", *report))
        return wall(sweep)

    return run


def warm_up(benchopt: Path) -> None:
    """One untimed 45-run sweep of each side, so that neither side's first timed run is also
    the first to read its environment's files (benchopt's may be new)."""
    mine, other = ours(RUNS_PER_SEED, "sweep"), theirs(benchopt, RUNS_PER_SEED, "sweep", [])
    for run in (mine, other):
        with tempfile.TemporaryDirectory() as directory:
            run(Path(directory))


def side_by_side(runs: list[Callable[[Path], float]], repeats: int) -> list[float]:
    """The median of each of ``runs`` over ``repeats`` rounds, all in turn each round, each in
    a fresh directory (so that load from elsewhere falls on all alike)."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, its_times in zip(runs, times, strict=True):
            with tempfile.TemporaryDirectory() as directory:
                its_times.append(run(Path(directory)))
    return [statistics.median(its_times) for its_times in times]


def bench(benchopt: Path, jobs: int, repeats: int) -> list[dict]:
    rows = []
    for what in ROWS:
        sides = BENCHOPT_SIDES[what]
        runs = [theirs(benchopt, jobs, what, report) for report in sides.values()]
        mine, *others = side_by_side([ours(jobs, what), *runs], repeats)
        for side, other in zip(sides, others, strict=True):
            rows.append({"jobs": jobs, "what": what, "side": side, "ours": mine, "benchopt": other})
            print(
                f"{jobs} runs, {what}, {side}: {mine:.2f} s against {other:.2f} s", file=sys.stderr
            )
    return rows


# A run's key on our side (setting, budget, seed), and benchopt's columns that hold it.
KEYS = ["setting", "maxfun", "seed"]
# bench/benchopt/solvers/ name each solver as our settings file is named.
BENCHOPT_KEYS = {"solver_name": "setting", "stop_val": "maxfun", "idx_rep": "seed"}


def our_numbers(jobs: int, workdir: Path) -> pd.DataFrame:
    """KEYS, f, nfev and nit of each run of a fresh sweep."""
    wall(sweep_command(jobs, workdir))
    return results_frame(workdir / "results")[KEYS + list(METRICS)]


def benchopt_numbers(benchopt: Path, jobs: int, workdir: Path) -> pd.DataFrame:
    """KEYS, f, nfev and nit of each run of a fresh `benchopt run`, under our names."""
    benchmark = fresh_benchmark(workdir)
    wall(benchopt_command(benchopt, benchmark, jobs, "numbers", "--no-plot"))
    frame = pd.read_parquet(benchmark / "outputs" / "numbers.parquet")
    frame = frame.rename(columns={**BENCHOPT_KEYS, **{v: k for k, v in METRICS.items()}})
    return frame[KEYS + list(METRICS)]


def differences(benchopt: Path, jobs: int) -> list[str]:
    """The runs whose f, nfev or nit differ between the two sides, or that one side lacks or
    has twice."""
    with tempfile.TemporaryDirectory() as mine, tempfile.TemporaryDirectory() as other:
        sides = {"ours": our_numbers(jobs, Path(mine))}
        sides["benchopt"] = benchopt_numbers(benchopt, jobs, Path(other))
    differing = [
        f"{side} has {len(frame)} runs, {jobs} expected, {frame.duplicated(KEYS).sum()} twice"
        for side, frame in sides.items()
        if len(frame) != jobs or frame.duplicated(KEYS).any()
    ]
    merged = sides["ours"].merge(
        sides["benchopt"], how="outer", on=KEYS, suffixes=("", " benchopt"), indicator=True
    )
    for run in merged.to_dict("records"):
        name = " ".join(f"{key}={run[key]}" for key in KEYS)
        if run["_merge"] != "both":
            differing.append(
                f"{name}: only {'ours' if run['_merge'] == 'left_only' else 'benchopt'}"
            )
            continue
        # f too is compared exactly (==): the same builds given the same inputs give the same
        # floats, so any difference means the two did not do the same work.
        unequal = [
            f"{metric} {run[metric]!r} (ours) vs {run[metric + ' benchopt']!r} (benchopt)"
            for metric in METRICS
            if run[metric] != run[metric + " benchopt"]
        ]
        if unequal:
            differing.append(f"{name}: " + ", ".join(unequal))
    return differing


def table(rows: list[dict], repeats: int, versions: str, agreement: str) -> str:
    lines = [
        "# Against benchopt (`make bench`)",
        "",
        f"Medians of {repeats} runs, ours and benchopt's in turn, each in a fresh directory; "
        f"Python {platform.python_version()} on {os.cpu_count()} cores, one worker on each side. "
        f"benchopt's environment: {versions}; ours: numpy {numpy.__version__}, scipy "
        f"{scipy.__version__}. 'ours / benchopt' is the ratio of the two medians, measured in "
        "the same run; the goal is at most 0.5x. Sweep: `task.py -cp experiment -m` against "
        "`benchopt run --no-plot` of bench/benchopt/ (450 runs: `seed=range(0,10)` against 10 "
        "repetitions); cached rerun: the same command again; sweep + figures: the sweep and "
        "`make figures`'s work (PDF figures and a table) against `benchopt run` with its "
        "default HTML report, and with `--no-html` (matplotlib PDFs), timed in the same rounds "
        "as one measurement of ours.",
        "",
        f"Numbers: {agreement}",
        "",
        "| runs | what | benchopt's side | ours | benchopt | ours / benchopt | goal ≤ 0.5x |",
        "|---:|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        ratio = row["ours"] / row["benchopt"]
        lines.append(
            f"| {row['jobs']} | {row['what']} | {row['side']} | {row['ours']:.2f} s | "
            f"{row['benchopt']:.2f} s | {ratio:.2f}x | {'met' if ratio <= 0.5 else 'not met'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[45, 450])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "benchopt.md")
    arguments = parser.parse_args()
    benchopt = benchopt_environment()
    with tempfile.TemporaryDirectory() as scratch:
        isolate_benchopt(Path(scratch))
        warm_up(benchopt)
        rows = []
        for jobs in arguments.jobs:
            rows += bench(benchopt, jobs, arguments.repeats)
        differing = [d for jobs in arguments.jobs for d in differences(benchopt, jobs)]
        versions = benchopt_versions()
    runs = " and ".join(str(jobs) for jobs in arguments.jobs)
    agreement = (
        f"f, nfev and nit of every run agree ({runs} runs; f exactly)."
        if not differing
        else f"{len(differing)} runs differ (see the bench's output)."
    )
    text = table(rows, arguments.repeats, versions, agreement)
    arguments.out.write_text(text)
    print(text)
    if differing:
        sys.exit("f, nfev or nit differ from benchopt's:\n" + "\n".join(differing))


if __name__ == "__main__":
    main()
