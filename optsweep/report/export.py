"""Export the results table as CSV: safe to share, unlike the pickles.

    python -m optsweep.report.export [--results DIR] [--out FILE]

One row per job, the columns of ``optsweep.report.table.results_frame`` (config keys, result fields,
provenance); lists such as ``x0`` are written as JSON.
"""

import argparse
import json
import sys
from pathlib import Path

from optsweep.engine.files import write_atomically
from optsweep.engine.paths import PROJECT_ROOT
from optsweep.engine.store import NoResults, ResultFileError
from optsweep.report.table import results_frame


def export_csv(results: Path, out: Path) -> int:
    """Write the table of ``results`` to ``out`` atomically; return the number of rows."""
    frame = results_frame(results)
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, (list, tuple, dict))).any():
            frame[column] = frame[column].map(json.dumps)
    frame = frame.sort_values("path").reset_index(drop=True)
    write_atomically(out, frame.to_csv(index=False).encode())
    return len(frame)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=PROJECT_ROOT / "results")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results" / "results.csv")
    arguments = parser.parse_args(argv)
    try:
        rows = export_csv(arguments.results, arguments.out)
    except (NoResults, ResultFileError) as error:
        sys.exit(f"export failed: {error}")
    print(f"wrote {rows} rows to {arguments.out}")


if __name__ == "__main__":
    main()
