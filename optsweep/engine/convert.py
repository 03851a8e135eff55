"""Rewrite result files of formats 1 and 2 as plain pickles (format 3).

    python -m optsweep.engine.convert [DIRECTORY ...]      (default: results)

Formats 1 and 2 put a header line before the pickle, so ``pickle.load`` cannot open them;
the sweep still reads them, and a result stays current across the conversion (the same pickle
and fingerprint). Each file is verified (checksum) and rewritten atomically; nothing is
unpickled. A file that is not a readable result is named and left as it is, and the command
then exits 1.
"""

import sys
from pathlib import Path

from optsweep.engine.files import write_atomically
from optsweep.engine.store import ResultFileError, plain_pickle, read_regular, result_files


def convert(directory: str | Path) -> tuple[int, int, list[ResultFileError]]:
    """(files converted, files already plain pickles, files refused or not rewritten) under
    ``directory``; read by the readers' rule (``store.read_regular``: what is no regular file
    is named, never opened in a way that blocks)."""
    converted, plain, refused = 0, 0, []
    for path in result_files(directory):
        try:
            data = read_regular(path)
            rewritten = plain_pickle(data, path)
        except ResultFileError as error:
            refused.append(error)
            continue
        if rewritten is data:
            plain += 1
            continue
        try:
            write_atomically(path, rewritten)
        except OSError as error:  # a read-only directory or file system, a full disk
            refused.append(ResultFileError(path, f"cannot be rewritten: {error.strerror}"))
            continue
        converted += 1
    return converted, plain, refused


def main(arguments: list[str]) -> int:
    status = 0
    for directory in arguments or ["results"]:
        if not Path(directory).is_dir():
            print(f"{directory}: no such directory", file=sys.stderr)
            status = 1
            continue
        converted, plain, refused = convert(directory)
        print(f"{directory}: {converted} converted, {plain} already plain pickles")
        for error in refused:
            print(f"  left as it is: {error}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
