"""Benchmark: reading results, through the results index and by reading every file.

    python bench/results_bench.py [--jobs 45 450 4500] [--repeats 5]

For each size, one sweep (`seed=range(...)` beyond 45 jobs) fills a fresh results directory;
then, in this process, medians over --repeats of:
- pickle loop: `pickle.load` of every result file (what a notebook without this project does);
- results_frame, no index: the first call (the index deleted before each);
- results_frame: a later call (the index up to date, files older than its 2 s window);
and, in a subprocess, what `make figures` runs (one `optsweep plot` of the convergence, summary
and landscape specs) into a temporary directory, against one Python process that imports
matplotlib and pandas and writes one PDF (the figures' baseline), the two in turn. Written to
bench/results-reading.md. Timings only: no assertions.
"""

import argparse
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sweep_bench import ROOT, measure, sweep_command

from optsweep.engine.index import INDEX, RACY_NS
from optsweep.report.table import result_files, results_frame


def median_time(action, repeats: int, before=None) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def settled_then(measurement):
    """``measurement()`` once the files are older than the index's two-second window for
    coarse file times (``optsweep.engine.index.RACY_NS``), which right after a sweep makes
    every call read its newest files again."""
    time.sleep(RACY_NS / 1e9 + 0.5)
    return measurement()


def pickle_loop(results: Path) -> None:
    for path in result_files(results):
        with open(path, "rb") as file:
            pickle.load(file)


def figures(results: Path) -> None:
    with tempfile.TemporaryDirectory() as out:
        specs = ROOT / "plots" / "specs"
        plot = [sys.executable, "-m", "optsweep.cli", "plot", str(results), f"--out={out}"]
        for name in ("convergence", "summary", "landscape"):  # make figures: one process
            plot += ["--spec", str(specs / f"{name}.yaml")]
        measure(plot)


# The figures' baseline: one Python process that imports matplotlib and pandas and writes
# one PDF, the least any figure script costs.
ONE_PDF = """
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas
figure, axes = plt.subplots()
axes.plot(pandas.Series([1.0, 2.0, 3.0]))
figure.savefig(sys.argv[1])
"""


def one_pdf() -> None:
    with tempfile.TemporaryDirectory() as out:
        measure([sys.executable, "-c", ONE_PDF, str(Path(out) / "one.pdf")])


def alternated(first, second, repeats: int) -> tuple[float, float]:
    """Median times of ``first`` and of ``second``, run in turn ``repeats`` times each: this
    machine's speed drifts by a third within minutes, which runs in a row would measure."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for action, measured in zip((first, second), times, strict=True):
            start = time.perf_counter()
            action()
            measured.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def bench(jobs: int, repeats: int, workdir: Path) -> dict[str, float]:
    measure(sweep_command(jobs, workdir))
    results = workdir / "results"
    drop_index = lambda: (results / INDEX).unlink(missing_ok=True)  # noqa: E731
    times = {
        "pickle loop": median_time(lambda: pickle_loop(results), repeats),
        "results_frame, no index": median_time(lambda: results_frame(results), repeats, drop_index),
        "results_frame": settled_then(lambda: median_time(lambda: results_frame(results), repeats)),
    }
    figures_time, pdf_time = alternated(lambda: figures(results), one_pdf, repeats)
    return {**times, "make figures": figures_time, "one process writing one PDF": pdf_time}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[45, 450, 4500])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results-reading.md")
    arguments = parser.parse_args()
    rows = {}
    for jobs in arguments.jobs:
        with tempfile.TemporaryDirectory() as directory:
            rows[jobs] = bench(jobs, arguments.repeats, Path(directory))
        print(f"{jobs} results done", file=sys.stderr)
    lines = [
        "# Reading results (`make bench`)",
        "",
        f"Medians of {arguments.repeats} runs in one process (`make figures` and its "
        "baseline: each a new process, the two in turn); Python "
        f"{platform.python_version()} on {os.cpu_count()} cores. 'vs pickle loop' is the time "
        "over the pickle loop's for the same results, measured in the same run; `make "
        "figures` is compared with one Python process that imports matplotlib and pandas and "
        "writes one PDF, measured in the same run.",
        "",
        "| results | what | time | vs pickle loop |",
        "|---:|---|---:|---:|",
    ]
    for jobs, times in rows.items():
        for what, seconds in times.items():
            if what == "make figures":  # against the baseline measured in the same run
                ratio = f"{seconds / times['one process writing one PDF']:.2f}x one PDF"
            elif what == "one process writing one PDF":
                ratio = ""
            else:
                ratio = f"{seconds / times['pickle loop']:.2f}x"
            lines.append(f"| {jobs} | {what} | {seconds * 1000:.0f} ms | {ratio} |")
    smallest, largest = min(rows), max(rows)
    lines += [
        "",
        f"`make figures` with {largest} results takes "
        f"{rows[largest]['make figures'] / rows[smallest]['make figures']:.2f}x its time with "
        f"{smallest}.",
    ]
    text = "\n".join(lines) + "\n"
    arguments.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
