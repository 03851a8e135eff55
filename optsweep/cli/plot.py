"""``optsweep plot [RESULTS] [KEY=VALUE ...] [--spec FILE ...] [--out DIR]``: figures.

A scalar ``y`` against a swept key ``x``, one line per setting (or ``hue``), aggregated over
the other swept keys (``agg=median``: interquartile band; ``agg=mean``: bootstrap confidence
interval). Writes ``<out>/<output>.pdf`` and ``.png``. Spec keys: ``optsweep.report.specs``;
a spec of ``kind: table`` given here is made too, in the same process.
"""

import argparse

from optsweep.cli._common import add_spec_arguments, run_specs


def add_parser(subparsers) -> None:
    command = subparsers.add_parser(
        "plot",
        help="a figure of any experiment's results",
        description=__doc__.splitlines()[0].replace("``", "") if __doc__ else None,
    )
    add_spec_arguments(command, "figure")
    command.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    return run_specs(arguments, "figure")
