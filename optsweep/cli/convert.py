"""``optsweep convert [DIR ...]``: rewrite result files of formats 1 and 2 as plain pickles."""

import argparse

from optsweep.engine import convert


def add_parser(subparsers) -> None:
    command = subparsers.add_parser(
        "convert",
        help="rewrite old result files as plain pickles",
        description=convert.__doc__.splitlines()[0] if convert.__doc__ else None,
    )
    command.add_argument("directories", nargs="*", metavar="DIR", help="default: results")
    command.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    return convert.main(arguments.directories)
