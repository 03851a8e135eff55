"""Export the results table as CSV and Parquet: safe to share, unlike the pickles.

    optsweep export [RESULTS] [--out FILE]      (python -m optsweep.report.export: the same)

One row per job, the columns of ``optsweep.report.table.results_frame`` (config keys, result
scalars, provenance), sorted by result path, for any experiment; ``path`` is relative to the
results directory. ``--out``'s suffix decides:
``x.csv`` writes CSV there and Parquet beside it (``x.parquet``); ``x.parquet`` writes Parquet
there and CSV beside it; default ``results/results.csv``. The CSV writes lists such as ``x0``
as JSON; the Parquet file keeps them as lists and keeps every column's type, so
``pandas.read_parquet`` (or any Arrow reader: R, Julia, DuckDB) gets the table back without
this project. A column whose values mix types that Parquet cannot hold in one column is
written as JSON text there too.
"""

import argparse
import io
import json
import sys
from pathlib import Path

import pandas as pd

from optsweep.engine.files import unwritable, write_atomically
from optsweep.engine.paths import project_root
from optsweep.engine.store import NoResults, ResultFileError, advice
from optsweep.report.table import results_frame

SUFFIXES = (".csv", ".parquet")


def _as_json(column: pd.Series) -> pd.Series:
    return column.map(lambda value: json.dumps(value, default=str))


def _has_containers(column: pd.Series) -> bool:
    return bool(column.map(lambda v: isinstance(v, (list, tuple, dict))).any())


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as a Parquet file; a column Arrow cannot type becomes JSON text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {}
    for name in frame.columns:
        try:
            columns[name] = pa.array(frame[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            columns[name] = pa.array(_as_json(frame[name]))
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as CSV, lists and mappings as JSON."""
    text = frame.copy()
    for column in text.columns:
        if _has_containers(text[column]):
            text[column] = _as_json(text[column])
    return text.to_csv(index=False).encode()


def targets(out: Path) -> tuple[Path, Path]:
    """(CSV path, Parquet path) for ``--out``: its suffix says which one it is; a name with
    neither suffix is refused (``ValueError``), so no file gets the other format's bytes."""
    if out.suffix not in SUFFIXES:
        raise ValueError(f"--out {out}: name a .csv or a .parquet file")
    return out.with_suffix(".csv"), out.with_suffix(".parquet")


def shared_paths(paths: pd.Series, results: Path) -> pd.Series:
    """Each result's path relative to the results directory (``settings=tnc/maxfun=10.pkl``),
    whatever the directory is called, where it lies or where the command ran: an export
    names no machine's folders (its rows still record their ``meta.host``)."""
    root = Path(results).resolve()

    def shared(path: str) -> str:
        resolved = Path(path).resolve()
        return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else path

    return paths.map(shared)


def export(results: Path, out: Path) -> int:
    """Write the table of ``results`` as CSV and Parquet (``targets(out)``), each atomically;
    return the number of rows."""
    csv, parquet = targets(out)
    frame = results_frame(results).sort_values("path").reset_index(drop=True)
    _say_what_is_mixed(frame, results)
    frame["path"] = shared_paths(frame["path"], results)
    made = {parquet: parquet_bytes(frame), csv: csv_bytes(frame)}
    for path in made:  # both checked before either is written: no half export
        blocked = _blocked(path)
        if blocked is not None:
            raise OSError(f"cannot write {path}: {blocked}")
    for path, data in made.items():
        write_atomically(path, data)
    return len(frame)


def _say_what_is_mixed(frame: pd.DataFrame, results: Path) -> None:
    """An export is every row, but says (a warning) what a figure would refuse: rows of
    several experiments, several code versions, results whose code or config has changed since
    (``staleness``), or jobs that failed and have no row (``failures``); the columns that tell
    them apart are named."""
    import warnings

    from optsweep.engine.failures import read_failures
    from optsweep.engine.paths import find_project
    from optsweep.report.staleness import changed_config_files, changed_files

    for column, what in (("meta.experiment", "experiments"), ("meta.code", "code versions")):
        if column in frame.columns:
            counts = frame[column].dropna().value_counts()
            if len(counts) > 1:
                listed = ", ".join(f"{value}: {count}" for value, count in counts.items())
                warnings.warn(
                    f"the results hold rows of {len(counts)} {what} ({listed}); the {column} "
                    "column tells them apart",
                    stacklevel=2,
                )
    if "meta.code" in frame.columns and frame["meta.code"].nunique() == 1:
        changed = changed_files(frame, find_project(results))
        if changed:
            warnings.warn(
                f"the results are stale: their code has changed since ({', '.join(changed[:5])})",
                stacklevel=2,
            )
    for project in dict.fromkeys((find_project(results), Path(results).absolute().parent)):
        if config := changed_config_files(frame, project):
            warnings.warn(
                f"the results are stale: their config has changed since ({', '.join(config[:5])})",
                stacklevel=2,
            )
            break
    failed = [r for r in read_failures(Path(results)) if not Path(r["result"]).exists()]
    if failed:
        named = "; ".join(
            f"[{' '.join(map(str, r['overrides']))}] {r.get('error', '')}" for r in failed[:3]
        )
        more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
        warnings.warn(
            f"{len(failed)} job(s) failed in their last run and have no row: {named}{more}",
            stacklevel=2,
        )


def _blocked(path: Path) -> str | None:
    """Why ``path`` cannot be written as an export file, or None."""
    if path.is_dir():
        return "it is a directory"
    if path.exists() and not path.is_file():
        return "it is not a regular file"
    return unwritable(path.parent)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results", nargs="?", type=Path, metavar="RESULTS", help="default: the project's results/"
    )
    parser.add_argument("--results", dest="results_option", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="FILE.csv or FILE.parquet (default results/results.csv)",
    )


def run(arguments: argparse.Namespace) -> int:
    default = project_root() / "results"  # the working directory's, from a shell
    results = arguments.results or arguments.results_option or default
    out = arguments.out if arguments.out is not None else results / "results.csv"
    try:
        csv, parquet = targets(out)
        rows = export(results, out)
    except ValueError as error:
        print(f"export: {error}", file=sys.stderr)
        return 2
    except (NoResults, ResultFileError) as error:
        print(f"export failed: {error}{advice(error)}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"export failed, nothing written: {error}", file=sys.stderr)
        return 1
    print(f"wrote {rows} rows to {csv} and {parquet}")
    return 0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m optsweep.report.export", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    sys.exit(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
