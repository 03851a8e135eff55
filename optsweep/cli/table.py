"""``optsweep table [RESULTS] [KEY=VALUE ...] [--spec FILE ...] [--out DIR]``: summary tables.

Per line (setting, or ``hue``) and value of ``x``, the ``columns``' scalars aggregated across
the other swept keys. Writes ``<out>/<output>.csv``, ``.md`` and ``.tex``. Spec keys:
``optsweep.report.specs``.
"""

import argparse

from optsweep.cli._common import add_spec_arguments, run_specs


def add_parser(subparsers) -> None:
    command = subparsers.add_parser(
        "table",
        help="a summary table (CSV, Markdown, LaTeX)",
        description=__doc__.splitlines()[0].replace("``", "") if __doc__ else None,
    )
    add_spec_arguments(command, "table")
    command.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    return run_specs(arguments, "table")
