"""Benchmark: searches on each launcher, nevergrad and Optuna side by side, in one run.

    python bench/search_bench.py [--evaluations 200] [--workers 2] [--repeats 3]

Each repeat runs, in turn, each in a fresh results directory, a search of TNC's eta and
stepmx (experiment/search/tnc.yaml for nevergrad, tnc-optuna.yaml for Optuna) with the same
budget and number of workers:
- in this process (the baseline of each optimizer);
- `launcher=local` with `--workers` pool workers, in batches and asynchronous (`--workers`
  evaluations in flight: Optuna's workers ask and tell the study themselves; nevergrad's
  sweeping process tells each evaluation as it comes back and asks the next at once);
- for Optuna, in this process and asynchronously with the study in a journal file
  (`storage: journal`) instead of SQLite, the default;
- `launcher=slurm`, if a SLURM cluster answers (`sinfo`; `make slurm-up` starts the test one),
  in batches and asynchronous (the sweeping process asks as each evaluation is told);
- once, for nevergrad: Hydra's own path, each evaluation composed from scratch by Hydra's basic
  launcher (what every search did before its evaluations were checked and run as a sweep's
  jobs; `hydra.job.chdir=true` selects it today).
Then once, in this process, nevergrad's search with 5 times the budget: its time over the
first's says whether the bookkeeping of a search grows with its length (linear: at most 5x).
The table gives medians of wall time, each one's ratio to the same optimizer's in-process
median, and the best value each search found. Every run of one optimizer must find the same
trials (values and parameters in trace.csv) as its first in-process run, or the bench fails:
a search is reproducible whatever the launcher. The asynchronous searches are the exception
(timing decides their trials): each of their runs must evaluate every trial once.
Timings otherwise: no other assertion.
"""

import argparse
import csv
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import yaml
from launcher_bench import slurm_answers
from sweep_bench import ROOT, TASK, measure

OPTIMIZERS = {
    "nevergrad (NGOpt)": ("tnc", "hydra.sweeper.search.optim.budget", "num_workers"),
    "Optuna (TPESampler)": ("tnc-optuna", "hydra.sweeper.search.optuna.n_trials", "num_workers"),
}
JOURNAL = "journal storage (study.journal)"
STOCK = "Hydra's basic launcher, each evaluation composed by Hydra"
LONGER = 5  # the scaling run's budget, in times the bench's


def search_command(search: str, budget: str, workers: str, n: int, k: int, workdir: Path, *extra):
    prefix = budget.rsplit(".", 1)[0]
    return [
        sys.executable,
        TASK,
        "-cp",
        "experiment",
        f"search={search}",
        f"{budget}={n}",
        f"{prefix}.{workers}={k}",
        *extra,
        "-m",
        f"output.dir={workdir / 'results'}",
        f"hydra.sweep.dir={workdir / 'multirun'}",
    ]


ASYNCHRONOUS_OPTUNA = "launcher=local, {workers} workers, asynchronous (the workers ask and tell)"
SLURM_ASYNCHRONOUS = "asynchronous (asked as each evaluation is told)"
ASYNCHRONOUS_NEVERGRAD = (
    "launcher=local, {workers} workers, asynchronous (asked as each evaluation is told)"
)


def variants(optimizer: str, workers: int, slurm: bool) -> dict[str, tuple[str, ...]]:
    pool = ("launcher=local", f"hydra.launcher.n_jobs={workers}")
    rows = {"in-process": (), f"launcher=local, {workers} workers": pool}
    _, budget, _ = OPTIMIZERS[optimizer]
    extra = (f"{budget.rsplit('.', 1)[0]}.asynchronous=true",)
    name = ASYNCHRONOUS_OPTUNA if optimizer.startswith("Optuna") else ASYNCHRONOUS_NEVERGRAD
    rows[name.format(workers=workers)] = (*pool, *extra)
    if optimizer.startswith("Optuna"):  # the study in a journal file instead of SQLite
        journal = (f"{budget.rsplit('.', 1)[0]}.storage=journal",)
        rows[f"in-process, {JOURNAL}"] = journal
        rows[f"{name.format(workers=workers)}, {JOURNAL}"] = (*pool, *extra, *journal)
    if slurm:
        rows[f"launcher=slurm, {workers} workers"] = ("launcher=slurm",)
        asynchronous = f"launcher=slurm, {workers} workers, {SLURM_ASYNCHRONOUS}"
        rows[asynchronous] = ("launcher=slurm", *extra)
    return rows


def run_once(optimizer: str, n: int, k: int, extra: tuple[str, ...]) -> tuple[float, list, float]:
    """(wall seconds, the trials of trace.csv, the best value) of one search."""
    search, budget, workers = OPTIMIZERS[optimizer]
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        wall, *_ = measure(search_command(search, budget, workers, n, k, workdir, *extra))
        state = workdir / "results" / f"search={search}"
        with open(state / "trace.csv", newline="") as file:
            trials = [(r["evaluation"], r["value"], r["params"]) for r in csv.DictReader(file)]
        progress = yaml.safe_load((state / "progress.yaml").read_text())
    return wall, trials, progress["best_evaluated"]["value"]


def bench(n: int, k: int, repeats: int, slurm: bool) -> list[dict]:
    rows = []
    for optimizer in OPTIMIZERS:
        walls: dict[str, list[float]] = {name: [] for name in variants(optimizer, k, slurm)}
        found: dict[str, list[float]] = {name: [] for name in walls}
        reference = None
        for _ in range(repeats):
            for name, extra in variants(optimizer, k, slurm).items():
                wall, trials, best = run_once(optimizer, n, k, extra)
                if "asynchronous" in name:  # its trials depend on timing: all of them, once
                    if [int(number) for number, *_ in trials] != list(range(n)):
                        sys.exit(f"{optimizer}, {name}: not {n} trials, each once")
                elif reference is None:
                    reference = trials
                elif trials != reference:
                    sys.exit(f"{optimizer}, {name}: other trials than in this process")
                walls[name].append(wall)
                found[name].append(best)
        baseline = statistics.median(walls["in-process"])
        for name, times in walls.items():
            wall = statistics.median(times)
            rows.append(
                {"optimizer": optimizer, "where": name, "wall": wall, "ratio": wall / baseline}
            )
            rows[-1].update(best=statistics.median(found[name]), runs=len(times))
        if optimizer.startswith("nevergrad"):
            wall, trials, best = run_once(optimizer, n, k, ("hydra.job.chdir=true",))
            if trials != reference:
                sys.exit(f"{optimizer}, {STOCK}: other trials than in this process")
            rows.append(
                {
                    "optimizer": optimizer,
                    "where": STOCK,
                    "wall": wall,
                    "ratio": wall / baseline,
                    "best": best,
                    "runs": 1,
                }
            )
        print(f"{optimizer} done", file=sys.stderr)
    return rows


def scaling(n: int, k: int, rows: list[dict]) -> dict:
    """nevergrad's in-process search of ``LONGER`` times ``n`` evaluations, against ``n``."""
    wall, _, found = run_once("nevergrad (NGOpt)", LONGER * n, k, ())
    base = next(r for r in rows if r["optimizer"].startswith("nevergrad") and r["runs"] > 1)
    return {"evaluations": LONGER * n, "wall": wall, "ratio": wall / base["wall"], "best": found}


def table(rows: list[dict], n: int, k: int, repeats: int, slurm: bool) -> str:
    lines = [
        f"A search of TNC's eta and stepmx, {n} evaluations asked {k} at a time. Medians of "
        f"{repeats} interleaved runs (Hydra's basic launcher: one run); Python "
        f"{platform.python_version()} on {os.cpu_count()} cores, every process on one BLAS "
        "thread. 'vs in-process' is the wall time over the same optimizer's in-process run, "
        "measured in the same run. Every run of an optimizer evaluated the same trials (the "
        "bench checks it), so each found the same best value, except the asynchronous "
        "searches: a point is asked as soon as a worker is free, so their trials depend on "
        "timing (the bench checks that each of the budget's trials was evaluated once); "
        "their best value is the median of their runs'. The journal rows' ratios are to "
        "the in-process search with the study in SQLite, the default."
        + ("" if slurm else " No SLURM cluster answered: no SLURM rows (`make slurm-up`)."),
        "",
        "| optimizer | where | wall time | vs in-process | best value found |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['optimizer']} | {r['where']} | {r['wall']:.2f} s | {r['ratio']:.2f}x | "
            f"{r['best']:.4g} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "searches.md")
    arguments = parser.parse_args()
    slurm = slurm_answers()
    n, k = arguments.evaluations, arguments.workers
    rows = bench(n, k, arguments.repeats, slurm)
    longer = scaling(n, k, rows)
    text = "# Search benchmark (`make bench`)\n\n" + table(rows, n, k, arguments.repeats, slurm)
    text += (
        f"\nWith {LONGER} times the budget ({longer['evaluations']} evaluations, nevergrad, in "
        f"this process, one run): {longer['wall']:.2f} s, {longer['ratio']:.2f}x the "
        f"{n}-evaluation search (best value found {longer['best']:.4g}). Linear would be at most "
        f"{LONGER}x: the optimizer state is pickled at most every second, not after every "
        "batch.\n"
    )
    arguments.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
