"""``optsweep export [RESULTS] [--out FILE]``: the results table as CSV and Parquet."""

from optsweep.report import export


def add_parser(subparsers) -> None:
    command = subparsers.add_parser(
        "export",
        help="the results table as CSV and Parquet",
        description=export.__doc__.splitlines()[0] if export.__doc__ else None,
    )
    export.add_arguments(command)
    command.set_defaults(run=export.run)
