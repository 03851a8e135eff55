"""Result files on disk: atomic writes, integrity checks, safe reading, per-job locks.

File format: a header line
``OPTSWEEP-RESULT 2 <sha256 of payload> <payload length> <fingerprint>\\n``, then the payload, a
pickle. The fingerprint is an opaque label the writer chooses (``results.py``: a digest of the
recorded config and code version), so whether a result is current can be decided from the
header, after the checksum, without unpickling (format 1 files, without it, are still read).
Reading checks the header and the checksum before unpickling, so an empty, truncated, corrupt
or foreign file is named and refused; then it unpickles with an allow-list of classes (numpy
arrays and scalars, scipy's ``OptimizeResult``), so even a crafted file cannot make the loader
run code. Never load results from untrusted sources all the same:
share the CSV export instead (``python -m optsweep.export``).
"""

import fcntl
import hashlib
import io
import os
import pickle
import tempfile
from contextlib import contextmanager
from pathlib import Path

MAGIC = b"OPTSWEEP-RESULT"
FORMAT_VERSION = 2
_HEADER_FIELDS = {b"1": 4, b"2": 5}  # format version -> fields in its header line
STALE_SUFFIX = ".stale"

# (module, name) pairs a result pickle may refer to; anything else is refused.
_ALLOWED_GLOBALS = {
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.numeric", "_frombuffer"),
    ("scipy.optimize._optimize", "OptimizeResult"),
    ("scipy.optimize._lbfgsb_py", "LbfgsInvHessProduct"),
}


class ResultFileError(Exception):
    """A file in a results directory that is not a readable result; names file and reason."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refers to {module}.{name}, which result files never contain"
            )
        return super().find_class(module, name)


def encode(record, fingerprint: str = "-") -> bytes:
    payload = pickle.dumps(record, protocol=5)
    digest = hashlib.sha256(payload).hexdigest()
    return b"%s %d %s %d %s\n" % (MAGIC, FORMAT_VERSION, digest.encode(), len(payload),
                                  fingerprint.encode()) + payload


def verified_payload(data: bytes, path) -> tuple[bytes, str | None]:
    """The payload of ``data`` (the bytes of ``path``) and the fingerprint its header gives
    (None in format 1), once header and checksum are verified; else ``ResultFileError``."""
    if not data:
        raise ResultFileError(path, "empty file")
    header, newline, payload = data.partition(b"\n")
    fields = header.split(b" ")
    if fields[0] != MAGIC or not newline or len(fields) < 4:
        raise ResultFileError(path, "not a result file written by this project (no header)")
    if _HEADER_FIELDS.get(fields[1]) != len(fields):
        raise ResultFileError(path, f"result format {fields[1].decode()!r} is not supported")
    if len(payload) != int(fields[3]):
        raise ResultFileError(
            path, f"truncated: {len(payload)} of {int(fields[3])} payload bytes"
        )
    if hashlib.sha256(payload).hexdigest().encode() != fields[2]:
        raise ResultFileError(path, "corrupt: checksum mismatch")
    return payload, fields[4].decode() if len(fields) > 4 else None


def decode(data: bytes, path) -> dict:
    """The record in ``data`` (the bytes of ``path``), or ``ResultFileError`` saying why not."""
    payload, _ = verified_payload(data, path)
    return unpickle_record(payload, path)


def unpickle_record(payload: bytes, path) -> dict:
    """The record in a payload ``verified_payload`` returned, read with the allow-list."""
    try:
        record = _AllowListUnpickler(io.BytesIO(payload)).load()
    except Exception as error:
        raise ResultFileError(path, f"refused to unpickle: {error}") from None
    if not isinstance(record, dict) or not {"config", "result", "meta"} <= set(record):
        raise ResultFileError(path, "not a result record (needs config, result, meta)")
    return record


def write_atomically(path: Path, data: bytes, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half.

    ``exclusive``: the caller holds ``job_lock(path)``, so the temporary file can have a fixed
    name (``.<name>.tmp``): a killed writer's leftover is simply overwritten next time.

    The bytes go to a temporary file in the same directory, are synced to disk, then renamed
    over ``path``; a crash at any point leaves any older file at ``path`` intact. (The
    directory is not synced: after a power loss the rename may be lost, and the job is then
    simply missing and reruns; a killed process loses nothing.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if exclusive:
        temporary = str(path.parent / f".{path.name}.tmp")
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    else:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def move_aside(path: Path) -> Path | None:
    """Rename an existing result to ``<name>.stale`` so no reader takes it as current."""
    stale = path.with_name(path.name + STALE_SUFFIX)
    try:
        os.replace(path, stale)
    except FileNotFoundError:
        return None
    return stale


@contextmanager
def job_lock(path: Path):
    """Hold an exclusive lock on the job whose result is ``path`` (waits for a holder).

    Two sweeps running the same job one after the other see each other's result; the lock is
    released by the kernel if the process dies, so a killed sweep never blocks the next.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
