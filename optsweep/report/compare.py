"""Compare two result sets job by job: do configs and values agree within a tolerance?

    optsweep compare MINE THEIRS [--rtol 1e-6] [--atol 1e-12]
    (python -m optsweep.report.compare: the same)

For any experiment's results; for example your results against the paper's, or one machine's
against another's. Jobs are matched by their file (the path under each directory, named by the
job's overrides). For each job present in both, the recorded configs must agree (floats within
the tolerance, everything else exactly), and so must the results' scalars
(``record["scalars"]``, or for older files the scalars derived from the result:
``optsweep.report.table.scalars_of``; for the example fun, nfev, nit, success, status, message)
and the result's ``x`` if it has one (the solution). Provenance (times, host, versions) is not
compared; differing code or package versions are reported as information.

Exit status: 0 when every job is in both sets and agrees; 1 otherwise (each difference is
listed); 2 when a directory is missing, holds no results or holds an unreadable one.
"""

import argparse
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optsweep.engine.store import NoResults, ResultFileError, advice
from optsweep.engine.trackers import flatten
from optsweep.report.table import load_results, scalars_of

_LISTED = 5  # differing keys listed per job


@dataclass(frozen=True)
class Tolerance:
    relative: float = 1e-6
    absolute: float = 1e-12

    def agree(self, mine: Any, theirs: Any) -> bool:
        """Numbers within the tolerance (nan equals nan), arrays element-wise, the rest
        exactly; an int and a float are compared as numbers, a bool only with a bool."""
        if isinstance(mine, bool) or isinstance(theirs, bool):
            return mine is theirs or (type(mine) is type(theirs) and mine == theirs)
        if _is_number(mine) and _is_number(theirs):
            if math.isnan(mine) or math.isnan(theirs):
                return math.isnan(mine) and math.isnan(theirs)
            return math.isclose(mine, theirs, rel_tol=self.relative, abs_tol=self.absolute)
        if isinstance(mine, (list, tuple, np.ndarray)) and isinstance(
            theirs, (list, tuple, np.ndarray)
        ):
            a, b = np.asarray(mine), np.asarray(theirs)
            if a.shape != b.shape:
                return False
            if a.dtype.kind in "fiu" and b.dtype.kind in "fiu":
                return bool(
                    np.allclose(a, b, rtol=self.relative, atol=self.absolute, equal_nan=True)
                )
            return all(self.agree(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True))
        return bool(mine == theirs)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _values(record: dict) -> dict[str, Any]:
    """What a job computed: its scalars, and the result's ``x`` if it has one."""
    result = record["result"]
    values = dict(scalars_of(record))
    solution = result.get("x") if isinstance(result, Mapping) else getattr(result, "x", None)
    if solution is not None:
        values["x"] = np.asarray(solution)
    return values


def differences(mine: dict, theirs: dict, tolerance: Tolerance) -> list[str]:
    """``key: mine vs theirs`` for each config key and value that disagrees."""
    found = []
    for part, left, right in (
        ("config", flatten(mine["config"]), flatten(theirs["config"])),
        ("result", _values(mine), _values(theirs)),
    ):
        for key in sorted(set(left) | set(right)):
            if key not in left or key not in right:
                found.append(f"{part} {key}: only in {'theirs' if key not in left else 'mine'}")
            elif not tolerance.agree(left[key], right[key]):
                found.append(f"{part} {key}: {_short(left[key])} vs {_short(right[key])}")
    return found


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."


def compare(mine: Path, theirs: Path, tolerance: Tolerance) -> tuple[list[str], bool]:
    """The report's lines and whether the two sets agree."""
    left = {path.relative_to(mine): record for path, record in load_results(mine)}
    right = {path.relative_to(theirs): record for path, record in load_results(theirs)}
    lines, agreeing = [], 0
    counts = {"differ": 0, f"only in {mine}": 0, f"only in {theirs}": 0}
    for job in sorted(set(left) | set(right)):
        if job not in right:
            lines.append(f"only in {mine}: {job}")
            counts[f"only in {mine}"] += 1
        elif job not in left:
            lines.append(f"only in {theirs}: {job}")
            counts[f"only in {theirs}"] += 1
        elif found := differences(left[job], right[job], tolerance):
            more = f"; and {len(found) - _LISTED} more" if len(found) > _LISTED else ""
            lines.append(f"differs: {job}: " + "; ".join(found[:_LISTED]) + more)
            counts["differ"] += 1
        else:
            agreeing += 1
    total = len(set(left) | set(right))
    mine_versions, theirs_versions = _versions(left.values()), _versions(right.values())
    if mine_versions != theirs_versions:
        # Which side has what, so that the note says what changed (python 3.11.7 in mine,
        # 3.12.3 in theirs), not a mixed list of both.
        lines.append(
            "note: made by different code or packages: "
            f"{mine} has {', '.join(sorted(mine_versions - theirs_versions)) or _none(theirs)}"
            f"; {theirs} has {', '.join(sorted(theirs_versions - mine_versions)) or _none(mine)}"
        )
    parts = ", ".join(f"{count} {what}" for what, count in counts.items() if count)
    lines.append(
        f"{total} jobs: {agreeing} agree within rtol={tolerance.relative:g}, "
        f"atol={tolerance.absolute:g}; {total - agreeing} do not" + (f" ({parts})" if parts else "")
    )
    return lines, agreeing == total


def _versions(records) -> set[str]:
    seen = set()
    for record in records:
        meta = record["meta"]
        seen.add(f"code {meta.get('code')}")
        seen.update(f"{name} {version}" for name, version in meta.get("versions", {}).items())
        seen.update(f"blas {library}" for library in meta.get("blas", []))
    return seen


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mine", type=Path)
    parser.add_argument("theirs", type=Path)
    parser.add_argument("--rtol", type=float, default=Tolerance.relative, help="relative")
    parser.add_argument("--atol", type=float, default=Tolerance.absolute, help="absolute")


def run(arguments: argparse.Namespace) -> int:
    """Exit status: 0 agree, 1 differ, 2 unreadable input."""
    try:
        lines, agree = compare(
            arguments.mine, arguments.theirs, Tolerance(arguments.rtol, arguments.atol)
        )
    except (NoResults, ResultFileError) as error:
        print(f"compare: {error}{advice(error)}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0 if agree else 1


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m optsweep.report.compare", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    sys.exit(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()


def _none(other: object) -> str:
    """What a side has that the ``other`` lacks, when that is nothing."""
    return f"no version that {other} lacks"
