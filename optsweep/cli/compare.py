"""``optsweep compare MINE THEIRS [--rtol R] [--atol A]``: do two result sets agree, job by job."""

from optsweep.report import compare


def add_parser(subparsers) -> None:
    command = subparsers.add_parser(
        "compare",
        help="do two result sets agree, job by job (exit 0, 1 if not, 2 if unreadable)",
        description=compare.__doc__.splitlines()[0] if compare.__doc__ else None,
    )
    compare.add_arguments(command)
    command.set_defaults(run=compare.run)
