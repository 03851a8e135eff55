"""Benchmark: the launchers against the in-process sweep, measured side by side in one run.

    python bench/launcher_bench.py [--jobs 45 450 4500] [--repeats 3]

For each size (45 = the experiment sweep; larger sizes add `seed=range(...)`), each repeat runs,
in turn, each in a fresh results directory:
- in-process: `python task.py -cp experiment seed=... -m` (the baseline);
- `launcher=local` with 1 worker and with one worker per core (how it scales with cores);
- `launcher=slurm`, if a SLURM cluster answers (`sinfo`; `make slurm-up` starts the test one);
- for 45 jobs, once: the tutorial's SLURM setup (`hydra.sweeper.fast=false`: Hydra's
  submitit launcher, one array task per job).
The table gives medians of wall time and each one's ratio to the in-process median, and is
written to bench/launchers.md. Timings only: no assertions (this is not a test).
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from sweep_bench import ROOT, measure, sweep_command


def slurm_answers() -> bool:
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def variants(jobs: int, slurm: bool) -> dict[str, tuple[str, ...]]:
    """{row name: extra overrides} measured at every repeat."""
    cores = os.cpu_count() or 1
    rows = {
        "in-process": (),
        "launcher=local, 1 worker": ("launcher=local", "hydra.launcher.n_jobs=1"),
        f"launcher=local, {cores} workers": ("launcher=local", f"hydra.launcher.n_jobs={cores}"),
    }
    if slurm:
        rows["launcher=slurm"] = ("launcher=slurm",)
    return rows


def run_once(jobs: int, extra: tuple[str, ...]) -> float:
    with tempfile.TemporaryDirectory() as directory:
        wall, *_ = measure(sweep_command(jobs, Path(directory), *extra))
    return wall


def bench(jobs: int, repeats: int, slurm: bool) -> list[tuple[int, str, float, int]]:
    """(jobs, row, median wall, runs) for every variant, repeats interleaved."""
    walls: dict[str, list[float]] = {name: [] for name in variants(jobs, slurm)}
    for _ in range(repeats):
        for name, extra in variants(jobs, slurm).items():
            walls[name].append(run_once(jobs, extra))
    rows = [(jobs, name, statistics.median(times), len(times)) for name, times in walls.items()]
    if slurm and jobs == 45:
        stock = ("launcher=slurm", "hydra.sweeper.fast=false")
        rows.append((jobs, "tutorial's SLURM setup (one task a job)", run_once(jobs, stock), 1))
    return rows


def table(rows: list[tuple[int, str, float, int]], repeats: int, slurm: bool) -> str:
    baseline = {jobs: wall for jobs, name, wall, _ in rows if name == "in-process"}
    lines = [
        f"Medians of {repeats} interleaved runs (the tutorial's setup: one run); Python "
        f"{platform.python_version()} on {os.cpu_count()} cores. 'vs in-process' is the wall "
        "time over the in-process sweep's, measured in the same run."
        + ("" if slurm else " No SLURM cluster answered: no SLURM rows (`make slurm-up`)."),
        "",
        "| jobs | launcher | wall time | vs in-process |",
        "|---:|---|---:|---:|",
    ]
    for jobs, name, wall, _ in rows:
        lines.append(f"| {jobs} | {name} | {wall:.2f} s | {wall / baseline[jobs]:.2f}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[45, 450, 4500])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "launchers.md")
    arguments = parser.parse_args()
    slurm = slurm_answers()
    rows = []
    for jobs in arguments.jobs:
        rows += bench(jobs, arguments.repeats, slurm)
        print(f"{jobs} jobs done", file=sys.stderr)
    text = "# Launcher benchmark (`make bench`)\n\n" + table(rows, arguments.repeats, slurm)
    arguments.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
