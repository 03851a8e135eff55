"""``optsweep new DIR [--name NAME]``: write a working project for a new experiment."""

import argparse
import sys
from pathlib import Path

from optsweep.scaffold import ProjectExists, new_project


def add_parser(subparsers) -> None:
    command = subparsers.add_parser(
        "new",
        help="a working project for a new experiment",
        description=__doc__.splitlines()[0].replace("``", "") if __doc__ else None,
    )
    command.add_argument("directory", type=Path, metavar="DIR", help="a new or empty directory")
    command.add_argument(
        "--name", default=None, help="the experiment's name (default: the directory's name)"
    )
    command.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    try:
        written = new_project(arguments.directory, arguments.name)
    except (ProjectExists, ValueError) as error:
        print(f"optsweep new: {error}", file=sys.stderr)
        return 1
    directory = arguments.directory
    name = arguments.name if arguments.name is not None else directory.resolve().name
    print(f"wrote {len(written)} files into {directory}/: experiment {name!r}")
    print(f"  cd {directory}")
    print("  make sweep    # the whole sweep into results/, and its figure in plots/")
    print("  make test     # the project's tests (make help: the other targets)")
    return 0
