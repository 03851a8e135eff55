"""``optsweep``: the command-line tool, one subcommand per module of this package.

    optsweep new DIR            a working project for a new experiment
    optsweep plot RESULTS ...   a figure of any experiment's results
    optsweep table RESULTS ...  a summary table (CSV, Markdown, LaTeX)
    optsweep export RESULTS     the results table as CSV and Parquet
    optsweep compare A B        do two result sets agree, job by job
    optsweep convert DIR        rewrite old result files in the current format

Each module has ``add_parser(subparsers)``, which adds its subcommand and sets ``run``: a
function of the parsed arguments returning the exit status. Every subcommand is also a library
function that tests call.
"""

import argparse
import importlib
import sys
import warnings

# Subcommand modules of this package, in the order ``optsweep --help`` lists them.
COMMANDS = ("new", "plot", "table", "export", "compare", "convert")


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or of ``command`` alone (whose module alone is then
    imported: ``optsweep plot`` does not import what ``compare`` or ``new`` need)."""
    top = argparse.ArgumentParser(
        prog="optsweep", description="Reproducible Hydra experiment sweeps: the command line."
    )
    subparsers = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS if command is None else (command,):
        try:
            module = importlib.import_module(f"optsweep.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"optsweep.cli.{name}":
                raise
            continue  # not written yet
        module.add_parser(subparsers)
    return top


def _say_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as the command's own line (``optsweep: warning: skipped ...``), not Python's
    format with the source line that warned."""
    print(f"optsweep: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    shown, warnings.showwarning = warnings.showwarning, _say_warning
    try:
        return _main(argv)
    finally:
        warnings.showwarning = shown


def _main(argv: list[str] | None) -> int:
    words = sys.argv[1:] if argv is None else argv
    top = parser(words[0] if words and words[0] in COMMANDS else None)
    arguments, rest = top.parse_known_args(argv)
    # key=value overrides may also follow options (optsweep plot --spec a.yaml logy=true).
    if rest and isinstance(getattr(arguments, "overrides", None), list):
        if any(word.startswith("-") or "=" not in word for word in rest):
            top.error(f"unrecognized arguments: {' '.join(rest)}")
        arguments.overrides.extend(rest)
    elif rest:
        top.error(f"unrecognized arguments: {' '.join(rest)}")
    return int(arguments.run(arguments) or 0)


if __name__ == "__main__":
    sys.exit(main())
