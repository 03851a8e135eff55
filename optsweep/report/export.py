"""Export the results table as CSV and Parquet: safe to share, unlike the pickles.

    python -m optsweep.report.export [--results DIR] [--out FILE.csv]

One row per job, the columns of ``optsweep.report.table.results_frame`` (config keys, result
fields, provenance), sorted by result path. The CSV writes lists such as ``x0`` as JSON; the
Parquet file (beside it, ``FILE.parquet``) keeps them as lists and keeps every column's type,
so ``pandas.read_parquet`` (or any Arrow reader: R, Julia, DuckDB) gets the table back without
this project. A column whose values mix types that Parquet cannot hold in one column is
written as JSON text there too.
"""

import argparse
import io
import json
import sys
from pathlib import Path

import pandas as pd

from optsweep.engine.files import write_atomically
from optsweep.engine.paths import project_root
from optsweep.engine.store import NoResults, ResultFileError
from optsweep.report.table import results_frame


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


def export(results: Path, out: Path) -> int:
    """Write the table of ``results`` to ``out`` (CSV) and beside it as Parquet, atomically;
    return the number of rows."""
    frame = results_frame(results).sort_values("path").reset_index(drop=True)
    write_atomically(out.with_suffix(".parquet"), parquet_bytes(frame))
    text = frame.copy()
    for column in text.columns:
        if _has_containers(text[column]):
            text[column] = _as_json(text[column])
    write_atomically(out, text.to_csv(index=False).encode())
    return len(frame)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=project_root() / "results")
    parser.add_argument("--out", type=Path, default=project_root() / "results" / "results.csv")
    arguments = parser.parse_args(argv)
    try:
        rows = export(arguments.results, arguments.out)
    except (NoResults, ResultFileError) as error:
        sys.exit(f"export failed: {error}")
    print(f"wrote {rows} rows to {arguments.out} and {arguments.out.with_suffix('.parquet')}")


if __name__ == "__main__":
    main()
