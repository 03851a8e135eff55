"""Benchmark: the project's sweep against a plain loop and against stock Hydra composition.

    python bench/sweep_bench.py [--jobs 45 450 4500] [--repeats 5] [--stock-max-jobs 450]

For each size (45 = the experiment sweep; larger sizes add `seed=range(...)`), in one run:
- plain loop: bench/plain_loop.py, the same minimize calls without Hydra (the baseline);
- sweep: `python task.py -cp experiment seed=... -m` into a fresh results directory;
- rerun: the same command again (every job up to date, all skipped);
- dry run: `hydra.sweeper.dry_run=true` into a fresh results directory;
- stock: the sweep with `hydra.sweeper.fast=false` (stock Hydra composition and basic
  launcher, i.e. the tutorial's path), up to --stock-max-jobs jobs; it takes ~0.15 s a job,
  so above 45 jobs it runs once (its median is then that one run);
- Hydra's start (once per run of the script): bench/hydra_start.py, a Hydra app that does
  nothing, against which the rerun is also given ("beyond Hydra's start").
Each is a separate process, on one thread (BLAS and OpenMP threads set to 1, the same for
every row); the table reports the median wall time over --repeats runs, the
median CPU time (user + system: on a machine shared with other work, the wall time includes
waiting for a core), the per-job time beyond the plain loop, and the peak memory (max RSS) of
the slowest process, and is written to bench/results.md. Timings only: no assertions (this is
not a test).
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASK = str(ROOT / "task.py")
# Every measured process computes on one thread: numpy's BLAS would start a thread per core
# for these 2-D problems, whose waiting threads spin and turn any other load on the machine
# into noise (the plain loop of 450 jobs took 1.7 s in one run and 11 s in another).
ONE_THREAD = {
    **os.environ,
    **dict.fromkeys(("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"), "1"),
}


def measure(command: list[str]) -> tuple[float, float, float]:
    """(wall seconds, max RSS in MiB, CPU seconds) of one run of ``command``; fails loudly on
    error."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=ONE_THREAD,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark command failed: {' '.join(command)}\n{stderr}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def sweep_command(jobs: int, workdir: Path, *extra: str) -> list[str]:
    seeds = [] if jobs == 45 else [f"seed=range(0,{jobs // 45})"]
    return [
        sys.executable,
        TASK,
        "-cp",
        "experiment",
        *seeds,
        *extra,
        "-m",
        f"output.dir={workdir / 'results'}",
        f"hydra.sweep.dir={workdir / 'multirun'}",
    ]


def repeat(make_command, repeats: int, prepare=None) -> tuple[float, float, float]:
    """Median wall time, max RSS and median CPU time over ``repeats`` runs, each in a fresh
    directory."""
    walls, memory, cpus = [], 0.0, []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as directory:
            workdir = Path(directory)
            if prepare is not None:
                prepare(workdir)
            wall, rss, cpu = measure(make_command(workdir))
            walls.append(wall)
            memory = max(memory, rss)
            cpus.append(cpu)
    return statistics.median(walls), memory, statistics.median(cpus)


def row(what: str, measured: tuple[float, float, float]) -> dict:
    """A table row from ``repeat``'s (median wall time, peak memory, median CPU time)."""
    wall, rss, cpu = measured
    return {"what": what, "wall": wall, "rss": rss, "cpu": cpu}


def hydra_start(repeats: int) -> dict:
    """Python's and Hydra's own start: bench/hydra_start.py, a multirun of one empty job."""
    script = str(ROOT / "bench" / "hydra_start.py")
    return row(
        "Hydra's start",
        repeat(lambda w: [sys.executable, script, "-m", f"hydra.sweep.dir={w}"], repeats),
    )


def bench(jobs: int, repeats: int, stock_max_jobs: int) -> list[dict]:
    plain_command = [sys.executable, str(ROOT / "bench" / "plain_loop.py"), str(jobs)]
    rows = [row("plain loop", repeat(lambda w: plain_command, repeats))]
    plain = rows[0]["wall"]
    rows.append(row("sweep", repeat(lambda w: sweep_command(jobs, w), repeats)))
    full_sweep = lambda w: measure(sweep_command(jobs, w))  # noqa: E731
    rows.append(
        row(
            "rerun (all skipped)",
            repeat(lambda w: sweep_command(jobs, w), repeats, prepare=full_sweep),
        )
    )
    rows.append(
        row(
            "dry run",
            repeat(lambda w: sweep_command(jobs, w, "hydra.sweeper.dry_run=true"), repeats),
        )
    )
    if jobs <= stock_max_jobs:
        stock_runs = repeats if jobs <= 45 else 1
        stock = repeat(lambda w: sweep_command(jobs, w, "hydra.sweeper.fast=false"), stock_runs)
        rows.append(row("stock Hydra path", stock))
    for each in rows:
        each["jobs"] = jobs
        each["beyond"] = each["wall"] - plain
    return rows


def table(rows: list[dict], repeats: int, start: dict) -> str:
    lines = [
        f"Medians of {repeats} runs (the stock path above 45 jobs: one run); Python "
        f"{platform.python_version()} on {os.cpu_count()} cores. 'beyond plain' is wall time "
        "minus the plain loop's in the same run; 'vs stock' compares the sweep with the stock "
        "Hydra path, by wall time and by time beyond the plain loop (orchestration overhead); "
        "CPU time is user + system (the wall time also holds waiting for a core when the "
        "machine is shared); peak memory is the largest max RSS of a run. Hydra's own start "
        f"(bench/hydra_start.py, an app that does nothing): {start['wall']:.2f} s, "
        f"{start['cpu']:.2f} s CPU; each rerun is also given beyond it.",
        "",
        "| jobs | what | wall time | CPU time | beyond plain | per job beyond plain | "
        "ratio to plain | vs stock (wall) | vs stock (beyond plain) | peak memory |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    stock = {r["jobs"]: r["wall"] for r in rows if r["what"] == "stock Hydra path"}
    plain = {r["jobs"]: r["wall"] for r in rows if r["what"] == "plain loop"}
    for row in rows:
        jobs, versus, overhead = row["jobs"], "", ""
        if jobs in stock and row["what"] == "sweep":
            versus = f"{stock[jobs] / row['wall']:.1f}x faster"
            overhead = f"{(stock[jobs] - plain[jobs]) / row['beyond']:.1f}x less"
        what = row["what"]
        if what.startswith("rerun"):
            what += f" ({row['wall'] - start['wall']:.2f} s beyond Hydra's start)"
        lines.append(
            f"| {jobs} | {what} | {row['wall']:.2f} s | {row['cpu']:.2f} s | "
            f"{row['beyond']:.2f} s | "
            f"{row['beyond'] / jobs * 1000:.1f} ms | "
            f"{row['wall'] / plain[jobs]:.1f} | {versus} | {overhead} | {row['rss']:.0f} MiB |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[45, 450, 4500])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stock-max-jobs", type=int, default=450)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    arguments = parser.parse_args()
    rows = []
    start = hydra_start(arguments.repeats)
    for jobs in arguments.jobs:
        rows += bench(jobs, arguments.repeats, arguments.stock_max_jobs)
        print(f"{jobs} jobs done", file=sys.stderr)
    text = "# Sweep benchmark (`make bench`)\n\n" + table(rows, arguments.repeats, start)
    arguments.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
