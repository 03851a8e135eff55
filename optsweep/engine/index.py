"""A results directory's table, kept in a derived index so it loads without reading every file.

``ResultIndex.frame(directory)`` is the table of every result under ``directory`` (one row per
file, built by the caller's ``rows`` function from loaded records). It is kept in
``<directory>/.results-index.parquet`` with each row's file size, modification time and inode.
On each call every result file is listed and compared with its row: unchanged files keep their
row, new or changed ones (written again, replaced, edited by hand) are read, removed ones are
dropped, and the index is rewritten if anything changed; a missing, damaged or outdated index
(other table code or code version) is rebuilt from the files. A file changed within
``RACY_NS`` of the index's writing is read again next time (file times are coarse, so a second
write in the same instant would otherwise look unchanged).

The files stay the source of truth: the index never holds a row its file does not give, and
files that are not readable results are reported on every call (``on_error`` as in
``ResultStore.load_all``). The index is Parquet (lists as Arrow lists; columns Arrow cannot
hold exactly, such as mixed types, as JSON text; both restored on reading), written
atomically, so concurrent sweeps and readers never see half an index; it is never needed:
deleting it only costs one full read.
"""

import io
import json
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from optsweep.engine.files import write_atomically
from optsweep.engine.store import (
    FOREIGN,
    NoResults,
    ResultFileError,
    ResultReader,
    read_regular,
    walk_result_paths,
)

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

INDEX = ".results-index.parquet"
FORMAT = 1
RACY_NS = 2_000_000_000  # file times are coarse: a file this close to the index is read again
_FILE_COLUMNS = ("_size", "_mtime_ns", "_inode")


def source_version(*functions: Callable) -> str:
    """A digest of the files defining ``functions``: an index built by other code is rebuilt."""
    import hashlib
    import inspect

    digest = hashlib.sha256()
    for function in functions:
        source = inspect.getsourcefile(function)
        digest.update(Path(source).read_bytes() if source else repr(function).encode())
    return digest.hexdigest()[:16]


def _stack(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The rows of ``parts`` in one frame, column by column (a key some rows lack is NaN in
    them, as ``pandas.json_normalize`` leaves it), with the column types that building it in one
    piece would give."""
    if not parts:
        return pd.DataFrame()
    columns = list(dict.fromkeys(column for part in parts for column in part.columns))
    stacked = {
        column: pd.concat(
            [
                part[column] if column in part else pd.Series([float("nan")] * len(part))
                for part in parts
            ],
            ignore_index=True,
        )
        for column in columns
    }
    return pd.DataFrame(stacked).infer_objects()


def _listing(root: Path) -> dict[str, tuple[int, int, int]]:
    """{path: (size, modification time, inode)} of the result files under ``root``: the paths
    ``store.walk_result_paths`` gives, the rule the sweep and every reader share. A dangling
    symlink gets (-1, -1, -1): it is read (and named) every time."""
    return {
        path: (status.st_size, status.st_mtime_ns, status.st_ino) if status else (-1, -1, -1)
        for path, status in walk_result_paths(root)
    }


def _has_containers(column: pd.Series) -> bool:
    return bool(column.map(lambda v: isinstance(v, (list, tuple, dict))).any())


def _lists(values: list) -> list:
    return [list(v) if isinstance(v, tuple) else v for v in values]


def _encode(frame: pd.DataFrame, meta: dict) -> bytes:
    """``frame`` as Parquet bytes. Columns of lists or tuples of one type are Arrow lists;
    columns Arrow cannot hold exactly (mixed types, dicts) are JSON text; the metadata names
    them, and which held tuples."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns, list_columns, json_columns, tuple_columns = {}, [], [], []
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object and _has_containers(column):
            if column.map(lambda v: isinstance(v, tuple)).any():
                tuple_columns.append(name)
            values = _lists(column.tolist())
            try:
                native = pa.array(values)
                exact = json.dumps(native.to_pylist()) == json.dumps(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
                exact = False
            if exact:
                list_columns.append(name)
                columns[name] = native
                continue
        else:
            try:
                columns[name] = pa.array(column, from_pandas=True)
                continue
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
                pass
        json_columns.append(name)
        columns[name] = pa.array([json.dumps(v) for v in _lists(column.tolist())])
    table = pa.table(columns) if columns else pa.table({})
    meta = {
        **meta,
        "columns": list(frame.columns),
        "list_columns": list_columns,
        "json_columns": json_columns,
        "tuple_columns": tuple_columns,
    }
    table = table.replace_schema_metadata({b"optsweep": json.dumps(meta).encode()})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _python_values(column: "pa.ChunkedArray") -> list:
    """``column.to_pylist()``, faster for a column of flat lists without nulls inside them
    (``x0``, ``overrides``): each chunk's values made Python objects in one ``tolist``, and
    each row a slice of them at its offsets (``to_pylist`` builds every value through Arrow's
    scalars, most of the cost of reading the index)."""
    import pyarrow as pa

    kind = column.type
    if not pa.types.is_list(kind) and not pa.types.is_large_list(kind):
        return column.to_pylist()
    inner = kind.value_type
    flat = pa.types.is_integer(inner) or pa.types.is_floating(inner)
    flat = flat or pa.types.is_boolean(inner) or pa.types.is_string(inner)
    if not flat or any(chunk.flatten().null_count for chunk in column.chunks):
        return column.to_pylist()
    rows: list = []
    for chunk in column.chunks:
        values = chunk.values.to_numpy(zero_copy_only=False).tolist()
        offsets = chunk.offsets.to_numpy().tolist()  # into values, the chunk's slice included
        valid = chunk.is_valid().to_pylist() if chunk.null_count else [True] * len(chunk)
        rows += [
            values[start:end] if present else None
            for start, end, present in zip(offsets, offsets[1:], valid, strict=False)
        ]
    return rows


def _decode(path: Path) -> tuple[pd.DataFrame, dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Read as the readers read a result (no FIFO opened to block), and through ParquetFile:
    # read_table's dataset layer costs as much again for one small file.
    table = pq.ParquetFile(pa.BufferReader(read_regular(path))).read()
    meta = json.loads(table.schema.metadata[b"optsweep"])
    special = set(meta["list_columns"]) | set(meta["json_columns"])
    frame = table.drop_columns(list(special)).to_pandas()
    for name in special:
        values = _python_values(table.column(name))
        if name in meta["json_columns"]:
            values = [json.loads(text) for text in values]
        if name in meta["tuple_columns"]:
            values = [tuple(v) if isinstance(v, list) else v for v in values]
        frame[name] = pd.Series(values, index=frame.index, dtype=object)
    return frame[meta["columns"]], meta


def _leaving_shaped(cached: pd.DataFrame, keep: set[str]) -> bool:
    """Whether the rows of ``cached`` that leave the table (their files removed or changed)
    may have shaped the columns of those that stay, so that the staying rows alone would not
    give the table a fresh read of their files gives: a column only the leaving rows filled
    (a fresh read has no such column), or a float column whose staying values are all whole
    numbers where a leaving row had a gap or a fraction (integers in the files, made floats
    by the leaving rows). Then the table is read afresh from the files; else the staying rows
    are kept as they are, and the table stays independent of the files it held before."""
    staying = cached["path"].isin(keep)
    for name in cached.columns:
        column = cached[name]
        kept, leaving = column[staying], column[~staying]
        if kept.isna().all():
            return True
        if column.dtype.kind == "f":
            present = kept.dropna()
            whole = bool((present == present.round()).all())
            if whole and bool((leaving.isna() | (leaving != leaving.round())).any()):
                return True
    return False


class ResultIndex:
    """The table of a results directory (see the module docstring). ``rows`` builds the
    table's rows from ``[(path, record), ...]`` (one row each, in that order); ``name``
    tells indexes of different tables apart."""

    def __init__(
        self,
        store: ResultReader,
        rows: Callable[[list[tuple[Path, dict]]], pd.DataFrame],
        name: str,
    ):
        self.store, self.rows, self.name = store, rows, name

    def frame(self, directory: str | Path, on_error: str = "raise") -> pd.DataFrame:
        """The table of ``directory``; ``frame.attrs["config_columns"]`` as ``rows`` set it."""
        root = Path(directory)
        files = _listing(root) if root.is_dir() else {}
        if not files:
            raise NoResults.of(directory)
        cached, meta = self._read(root)
        frame, meta = self._update(root, files, cached, meta)
        self._report(meta["refused"], on_error)
        frame = frame.drop(columns=[c for c in _FILE_COLUMNS if c in frame])
        frame.attrs["config_columns"] = meta["config_columns"]
        return frame

    def _read(self, root: Path) -> tuple[pd.DataFrame | None, dict]:
        try:
            frame, meta = _decode(root / INDEX)
        except Exception:  # missing, damaged, or written by another version: rebuilt
            return None, {}
        if meta.get("format") != FORMAT or meta.get("table") != self.name:
            return None, {}
        if meta.get("code") != self.store.code:  # rows may depend on the code's result types
            return None, {}
        return frame, meta

    def _update(
        self,
        root: Path,
        files: dict[str, tuple[int, int, int]],
        cached: pd.DataFrame | None,
        meta: dict,
    ) -> tuple[pd.DataFrame, dict]:
        """The table brought up to date with ``files`` ({path: (size, time, inode)}; see the
        module docstring)."""
        written_ns = time.time_ns()
        settled = meta.get("written_ns", 0) - RACY_NS
        known: dict[str, tuple] = {}
        if cached is not None and not cached.empty:
            columns = zip(*(cached[c] for c in _FILE_COLUMNS), strict=True)
            known = {path: tuple(key) for path, key in zip(cached["path"], columns, strict=True)}
        keep: set[str] = set()
        load: list[tuple[Path, tuple[int, int, int]]] = []
        for path, key in files.items():
            if known.get(path) == key and key[1] < settled:
                keep.add(path)
            else:
                load.append((Path(path), key))
        if not load and len(keep) == len(known) and cached is not None and not meta["refused"]:
            return cached, meta  # nothing new, changed or removed
        if cached is not None and len(keep) < len(known) and _leaving_shaped(cached, keep):
            keep, load = set(), [(Path(path), key) for path, key in files.items()]
        loaded: list[tuple[Path, dict]] = []
        keys: list[tuple[int, int, int]] = []
        refused = []
        for file, key in load:
            try:
                loaded.append((file, self.store.load(file)))
                keys.append(key)
            except ResultFileError as error:
                refused.append([str(error.path), error.reason])
        parts, configs = [], set(meta.get("config_columns", []))
        if keep:
            assert cached is not None
            parts.append(cached[cached["path"].isin(keep)])
        if loaded:
            fresh = self.rows(loaded)
            for column, values in zip(_FILE_COLUMNS, zip(*keys, strict=True), strict=True):
                fresh[column] = list(values)
            configs |= set(fresh.attrs.get("config_columns", []))
            parts.append(fresh)
        frame = _stack(parts)
        if not frame.empty:  # in the order of the files, as reading them all gives
            order = {str(path): number for number, path in enumerate(sorted(map(Path, files)))}
            frame = frame.sort_values("path", key=lambda paths: paths.map(order))
            frame = frame.reset_index(drop=True)
        meta = {
            "format": FORMAT,
            "table": self.name,
            "code": self.store.code,
            "written_ns": written_ns,
            "refused": refused,
            "config_columns": sorted(c for c in configs if c in frame.columns),
        }
        try:
            write_atomically(root / INDEX, _encode(frame, meta))
        except OSError as error:  # a read-only results directory: the table is still right
            log.debug("results index not written: %s", error)
        return frame, meta

    @staticmethod
    def _report(refused: list[list[str]], on_error: str) -> None:
        for path, reason in refused:
            if on_error != "warn" and not reason.startswith(FOREIGN):  # a foreign file: skipped
                raise ResultFileError(path, reason)
            warnings.warn(f"skipped {ResultFileError(path, reason)}", stacklevel=4)
