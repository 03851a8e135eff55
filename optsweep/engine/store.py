"""The result store: where a job's result goes, whether it is current, save, load one, load many.

One file per job, a plain pickle of a dict with three parts:
- ``config``: the job config as the experiment records it (resolved, plain containers);
- ``result``: what the experiment's task computed;
- ``meta``: provenance (``optsweep.engine.provenance``) and where the file was written.

``pickle.load(open(f, "rb"))`` and ``pandas.read_pickle(f)`` return that dict, with no need
of this project (numpy must be installed). After the pickle's STOP opcode, which ends what
``pickle.load`` reads, comes a trailer line:
``OPTSWEEP-RESULT 3 <sha256 of pickle and fingerprint> <pickle length> <fingerprint>\n``. The
fingerprint digests the recorded config and the code version (which covers the sources of the
result's own classes too), so whether a result is current is decided from the trailer, after
the checksum, without unpickling; a result whose class is gone is stale, not skipped forever.
Reading checks the trailer and the checksum
before unpickling, so an empty, truncated, corrupt or foreign file is named and refused; then
it unpickles with an allow-list of classes (numpy arrays and scalars, a few builtins and
standard types, and the experiment's ``result_types``), so even a crafted file cannot make the
loader run code. A job's record is read back by that same reader before it is saved: a value
no reader would read (a class not declared) fails the job instead (``UnreadableResult``). A
reader of any experiment's results (``ResultReader()``: reports, exports) does not know their
types: it builds numpy's and a few builtins, and an inert ``StandIn`` for any other class,
never importing its module. Never load results from untrusted sources all the same: share the
CSV or Parquet export instead.

Files of formats 1 and 2 (a header line *before* the pickle: not plain pickles) are still
read, and ``python -m optsweep.engine.convert <dir>`` rewrites them as format 3.
"""

import hashlib
import io
import os
import pickle
import re
import stat
import warnings
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from optsweep.engine.errors import InvalidJobConfig
from optsweep.engine.files import HeldLock, write_atomically
from optsweep.engine.keys import result_groups
from optsweep.engine.provenance import code_version

if TYPE_CHECKING:
    from optsweep.engine.experiment import Experiment

SUFFIX = ".pkl"
MAGIC = b"OPTSWEEP-RESULT"
FORMAT_VERSION = 3
_HEADER_FIELDS = {b"1": 4, b"2": 5}  # format version -> fields of its header line (before)
_TRAILER = MAGIC + b" 3 "  # how format 3's trailer line (after the pickle) begins
# Longest file name built from overrides; longer ones are shortened with a hash.
_MAX_NAME = 200
# Overrides that say where or how a job runs or is reported, not what it computes.
_NOT_IDENTIFYING = ("output", "launcher", "tracker")

# (module, name) pairs any result pickle may refer to: numpy arrays and scalars.
NUMPY_TYPES = frozenset(
    {
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.numeric", "_frombuffer"),
    }
)

Status = Literal["missing", "damaged", "stale", "current"]


class ResultFileError(Exception):
    """A file in a results directory that is not a readable result; names file and reason."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


# The reasons of a damaged result file (``verified_payload``), which its sweep's rerun replaces.
_DAMAGED = ("empty file", "cut short", "truncated", "corrupt")


def advice(error: Exception) -> str:
    """How to go on from ``error`` where a reading command stops at it: a damaged result is
    computed again by a rerun of its sweep; anything else is said as it is."""
    if not isinstance(error, ResultFileError) or not error.reason.startswith(_DAMAGED):
        return ""
    return (
        "\n  it is no usable result: run its sweep again, which computes that job anew and "
        "replaces the file (or move the file out of the results directory)"
    )


# The reason a ``ForeignFile`` gives.
FOREIGN = "not a result file written by this project"


class ForeignFile(ResultFileError):
    """A file among the results that is no result at all (a table or notes a user saved there):
    reading commands name it and skip it, and nothing writes over it."""


class UnreadableResult(TypeError):
    """A job's result that its experiment's readers would refuse (a class that is neither
    numpy's nor one of the experiment's ``result_types``): it is not saved."""


class NoResults(Exception):
    """A results directory that is missing or holds no results."""

    @classmethod
    def of(cls, directory: str | Path) -> "NoResults":
        path = Path(directory)
        if path.exists() and not path.is_dir():
            return cls(f"{directory} is a file, not a results directory")
        where = f"no results in {directory}" if path.is_dir() else f"{directory} does not exist"
        return cls(
            f"{where}: run `python task.py -cp experiment -m` (or `make sweep`) to produce them"
        )


def identifying_overrides(overrides: list[str]) -> list[str]:
    """The overrides that say what a job computes: sorted, without ``+``/``~`` prefixes;
    ``output.*`` (where results go), ``launcher`` (where jobs run) and ``tracker`` (where
    runs are logged) left out."""
    bare = (override.lstrip("+~") for override in overrides)
    return sorted(
        override
        for override in bare
        if override.split("=", 1)[0].split(".", 1)[0] not in _NOT_IDENTIFYING
    )


class NotAResultFile(InvalidJobConfig):
    """A job's result path holds something that is not a result: a sweep never writes over it."""


def refuse_foreign(path: Path) -> None:
    """Raise ``NotAResultFile`` if ``path`` exists and is not a result file (readable or
    damaged): a sweep that wrote there would destroy a file it did not make."""
    if not os.path.lexists(path):
        return
    try:
        with _open_regular(path) as file:
            head: bytes | None = file.read(32)
    except NotADirectoryError:  # the write check names a blocked path
        return
    except ForeignFile as error:
        raise NotAResultFile(
            f"result path {path} is {error.reason.removeprefix(FOREIGN + ': ')}: refusing to "
            "write over it "
            "(move it away, or choose another output.file or output.dir)"
        ) from None
    except ResultFileError as error:
        raise NotAResultFile(f"result path {path} cannot be read: {error.reason}") from None
    if head == b"":
        return  # an empty file (a copy cut short, a touch): nothing to lose, the job replaces it
    if head is None or not (head.startswith(MAGIC) or _begins_a_record(head)):
        what = "a directory" if head is None else "a file that is not a result"
        raise NotAResultFile(
            f"result path {path} is {what}: refusing to write over it "
            "(move it away, or choose another output.file or output.dir)"
        )


def written_by_another(path: Path, experiment: str) -> str | None:
    """The experiment that wrote the (stale) result at ``path``, if not ``experiment``: a
    sweep never writes over another experiment's result. Unpickles with inert stand-ins; only
    called for files that are not current, so up-to-date sweeps read nothing."""
    try:
        record = ResultReader().load(path)
    except ResultFileError:
        return None  # damaged: this experiment's own stale file, rewritten as before
    writer = record["meta"].get("experiment")
    return writer if writer not in (None, experiment) else None


def _begins_a_record(head: bytes) -> bool:
    """Whether ``head`` begins a pickle of a result record (``{"config": ...``), as format 3
    files do, even a damaged one."""
    return head.startswith(b"\x80") and b"\x8c\x06config" in head


def canonical_overrides(overrides: list[str], config: Any) -> list[str]:
    """``overrides`` with each ``key=value`` whose key is a value of the job's resolved
    ``config`` rewritten as ``key=<that value>`` in one canonical spelling, so that equivalent
    overrides (``eta=0.1``, ``eta=0.10``, ``eta=1e-1``, ``maxfun=${budget}``) name one file.
    Group choices (``settings=tnc``, ``method=tnc``), deletions and keys absent from ``config``
    keep their text."""
    canonical = []
    for override in overrides:
        key, equals, text = override.partition("=")
        value = _lookup(config, key.lstrip("+~")) if equals and config is not None else _ABSENT
        if value is _ABSENT or isinstance(value, Mapping):
            canonical.append(override)
        else:
            canonical.append(f"{key}={_spelling(value)}")
    return canonical


_ABSENT = object()


def _lookup(config: Any, dotted: str) -> Any:
    node = config
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return _ABSENT
    return node


def _spelling(value: Any) -> str:
    """One spelling per value, readable in a file name: ``0.1``, ``10``, ``true``, ``null``,
    ``[-0.5,-0.5]``; a string that would read as another type is quoted (``'10'``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if _reads_as_other_type(value) else value
    if isinstance(value, Sequence):
        return "[" + ",".join(map(_spelling, value)) + "]"
    return str(value)


def _reads_as_other_type(text: str) -> bool:
    """Whether Hydra's override grammar would read ``text``, unquoted, as no string."""
    if not text or text.lower() in ("true", "false", "null"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("/", "%2F").replace(os.sep, "%2F")


# A number in a result file's name: a value after '=', ',' or '[' (``maxfun=10``, ``[1.0,1.0]``).
_NUMBER_IN_NAME = re.compile(r"(?<=[=,\[])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?=[,\].]|$)")


def numbers_as_floats(name: str) -> str:
    """A result file's name (or path) with every number spelt as a float: two names that are
    equal this way differ only in a value written as an int in one and as a float in the
    other (``x0=[1,1]``, ``x0=[1.0,1.0]``)."""
    return _NUMBER_IN_NAME.sub(lambda number: repr(float(number.group())), name)


def default_result_path(
    output_dir: str | Path, overrides: list[str], groups: tuple[str, ...] = ()
) -> Path:
    """``<output_dir>/<group choice>/<other overrides>.pkl``, unique for each job of a sweep.

    Every job of a Hydra sweep differs from the others in its overrides, so naming the file by
    all of them (sorted, ``output.*`` left out) can never make two jobs share it. The choice of
    the first of ``groups`` that the job overrides becomes the directory, so each setting's
    results sit together.
    """
    relevant = identifying_overrides(overrides)
    chosen = {o.split("=")[0]: o for o in relevant}
    directory = next((chosen[g] for g in groups if g in chosen), "")
    rest = [o for o in relevant if o != directory]
    name = _escape(",".join(rest)) or "defaults"
    if len(name) > _MAX_NAME:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        name = f"{name[: _MAX_NAME - 17]}-{digest}"
    return Path(output_dir) / _escape(directory or "no-group") / f"{name}{SUFFIX}"


def _canonical(value: Any) -> str:
    """A text that two values share only if they are equal and of the same types (dicts in
    any order)."""
    if isinstance(value, dict):
        items = (f"{_canonical(k)}:{_canonical(v)}" for k, v in value.items())
        return "{" + ",".join(sorted(items)) + "}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[" + ",".join(map(_canonical, value)) + "]"
    return f"{type(value).__name__}:{value!r}"


def fingerprint(config: dict, code: str | None) -> str:
    """What a result was computed from: its recorded config and the code version, digested."""
    return hashlib.sha256(f"{code}\0{_canonical(config)}".encode()).hexdigest()


def _open_regular(path: str | Path):
    """``path`` opened for reading if it is a regular file (through symlinks), without ever
    blocking: a FIFO, socket or device is refused before anything is read from it. Raises
    ``ForeignFile`` for what is no file at all (not a regular file, a dangling symlink, a
    directory) and ``ResultFileError`` if it cannot be opened."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        if os.path.islink(path):
            raise ForeignFile(path, f"{FOREIGN}: a symlink to nothing (dangling)") from None
        raise ResultFileError(path, "cannot read: no such file") from None
    except IsADirectoryError:
        raise ForeignFile(path, f"{FOREIGN}: a directory") from None
    except OSError as error:
        raise ResultFileError(path, f"cannot read: {error.strerror}") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        kind = (
            "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, socket or device)"
        )
        raise ForeignFile(path, f"{FOREIGN}: {kind}")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def read_regular(path: str | Path) -> bytes:
    """The bytes of the regular file ``path``; ``ResultFileError`` (``ForeignFile`` for what is
    no regular file) names it otherwise."""
    with _open_regular(path) as file:
        try:
            return file.read()
        except OSError as error:
            raise ResultFileError(path, f"cannot read: {error.strerror}") from None


def _digest(payload: bytes, label: bytes) -> bytes:
    return hashlib.sha256(payload + b"\0" + label).hexdigest().encode()


def _with_trailer(payload: bytes, label: str) -> bytes:
    """``payload`` (a pickle) followed by its format 3 trailer line."""
    tag = label.encode()
    return payload + b"%s%s %d %s\n" % (_TRAILER, _digest(payload, tag), len(payload), tag)


def encode(record: dict, label: str = "-") -> bytes:
    """A result file's bytes: the pickled record, then its trailer (checksum, length,
    ``label``: the fingerprint)."""
    return _with_trailer(pickle.dumps(record, protocol=5), label)


def plain_pickle(data: bytes, path: str | Path) -> bytes:
    """A format 1 or 2 file's bytes rewritten as format 3 (the same pickle, verified), for
    ``optsweep.engine.convert``; format 3 bytes are returned as they are."""
    payload, label = verified_payload(data, path)
    if not data.startswith(MAGIC + b" "):
        return data
    return _with_trailer(payload, label or "-")


def verified_payload(data: bytes, path: str | Path) -> tuple[bytes, str | None]:
    """The pickle in ``data`` (the bytes of ``path``) and the fingerprint it was saved with
    (None if unknown: format 1), once trailer or header and checksum are verified; else
    ``ResultFileError``."""
    if not data:
        raise ResultFileError(path, "empty file")
    if data.startswith(MAGIC + b" "):
        return _verified_header_first(data, path)
    start = data.rfind(_TRAILER)
    if start < 0:
        if _begins_a_record(data[:32]):
            raise ResultFileError(path, "cut short: a result's pickle without its trailer")
        raise ForeignFile(path, f"{FOREIGN} (no OPTSWEEP-RESULT trailer)")
    fields = data[start:].split(b" ")
    if not data.endswith(b"\n") or len(fields) != 5 or not fields[3].isdigit():
        raise ResultFileError(path, "truncated: its trailer line is cut short")
    digest, length, tag = fields[2], int(fields[3]), fields[4].rstrip(b"\n")
    if length != start:
        raise ResultFileError(path, f"truncated or damaged: {start} of {length} pickle bytes")
    payload = data[:start]
    if _digest(payload, tag) != digest:
        raise ResultFileError(path, "corrupt: checksum mismatch")
    label = tag.decode()
    return payload, None if label == "-" else label


def _verified_header_first(data: bytes, path: str | Path) -> tuple[bytes, str | None]:
    """``verified_payload`` of a format 1 or 2 file (header line, then the pickle)."""
    header, newline, payload = data.partition(b"\n")
    fields = header.split(b" ")
    if not newline or len(fields) < 4:
        raise ResultFileError(path, "damaged: its OPTSWEEP-RESULT header line is cut short")
    if _HEADER_FIELDS.get(fields[1]) != len(fields):
        raise ResultFileError(path, f"result format {fields[1].decode()!r} is not supported")
    if len(payload) != int(fields[3]):
        raise ResultFileError(path, f"truncated: {len(payload)} of {int(fields[3])} payload bytes")
    if hashlib.sha256(payload).hexdigest().encode() != fields[2]:
        raise ResultFileError(path, "corrupt: checksum mismatch")
    return payload, fields[4].decode() if len(fields) > 4 else None


# Classes a generic reader may build as they are besides numpy's: builtins pickled by reference
# that run no code of the file's choosing.
SAFE_TYPES = frozenset(
    {
        ("builtins", "complex"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "bytearray"),
        ("builtins", "range"),
        ("builtins", "slice"),
        ("collections", "OrderedDict"),
        ("datetime", "date"),
        ("datetime", "datetime"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("decimal", "Decimal"),
        ("fractions", "Fraction"),
        ("pathlib", "PosixPath"),
        ("pathlib", "PurePosixPath"),
        ("pathlib", "PureWindowsPath"),
    }
)


class StandIn(dict):
    """An inert stand-in for an instance of a class the reader does not import (a result's own
    type, such as scipy's ``OptimizeResult``). The entries of a dict subclass become its
    entries; other state (``__setstate__``) and constructor arguments are stored, not run.
    Entries and state read as attributes (``result.fun``). ``type(stand_in).original`` is the
    ``module.name`` of the class it stands in for."""

    original = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> "StandIn":
        self = super().__new__(cls)
        object.__setattr__(self, "_args", (args, kwargs))  # what the pickle called it with
        object.__setattr__(self, "_state", None)
        return self

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()  # the arguments are stored, never interpreted

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            state = {**(state[0] or {}), **state[1]}  # (__dict__, __slots__ values)
        object.__setattr__(self, "_state", state)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self:
            return self[name]
        state = object.__getattribute__(self, "_state")
        if isinstance(state, dict) and name in state:
            return state[name]
        raise AttributeError(f"stand-in for {type(self).original} has no {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __repr__(self) -> str:
        return f"<stand-in for {type(self).original}: {dict.__repr__(self)}>"

    def __reduce__(self):  # copied or pickled again as a stand-in, never as the original
        args = object.__getattribute__(self, "_args")
        state = object.__getattribute__(self, "_state")
        return (_rebuild_stand_in, (type(self).original, dict(self), args, state))


_STAND_INS: dict[str, type[StandIn]] = {}


def stand_in_class(original: str) -> type[StandIn]:
    """The ``StandIn`` subclass for the class called ``original`` (``module.name``)."""
    if original not in _STAND_INS:
        name = original.rsplit(".", 1)[-1]
        _STAND_INS[original] = type(name, (StandIn,), {"original": original})
    return _STAND_INS[original]


def _rebuild_stand_in(original: str, items: dict, args: tuple, state: Any) -> StandIn:
    stand_in = stand_in_class(original)(*args[0], **args[1])
    stand_in.update(items)
    object.__setattr__(stand_in, "_state", state)
    return stand_in


class RefusedClass(pickle.UnpicklingError):
    """A pickle refers to a class its reader does not build."""

    def __init__(self, module: str, name: str):
        super().__init__(f"refers to {module}.{name}, which result files never contain")
        self.module, self.name = module, name


class _AllowListUnpickler(pickle.Unpickler):
    """Builds only the ``allowed`` classes; any other class is refused, or, with
    ``stand_ins``, replaced by an inert ``StandIn`` (its module is never imported)."""

    def __init__(
        self, file: io.BytesIO, allowed: frozenset[tuple[str, str]], stand_ins: bool = False
    ):
        super().__init__(file)
        self.allowed, self.stand_ins = allowed, stand_ins

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.allowed:
            return super().find_class(module, name)
        if self.stand_ins:
            return stand_in_class(f"{module}.{name}")
        raise RefusedClass(module, name)


class ResultReader:
    """Reads result files: verified trailer and checksum first, then an allow-list unpickler
    (see the module docstring). With no arguments it reads any experiment's results: numpy's
    classes and a few builtins are built, every other class becomes a ``StandIn``, so no code
    from the file runs and no module it names is imported. ``ResultStore`` reads one
    experiment's files with its real result types."""

    @property
    def code(self) -> str:
        """Which code the rows of a results index depend on (``ResultIndex``): for a generic
        reader, none but its own (the index's name digests that)."""
        return "any experiment"

    def __init__(
        self, allowed: frozenset[tuple[str, str]] = NUMPY_TYPES | SAFE_TYPES, stand_ins=True
    ):
        self.allowed, self.stand_ins = allowed, stand_ins

    def _check(self, record: dict, path: str | Path) -> None:
        """Raise ``ResultFileError`` if ``record`` is not one this reader reads."""

    def _unpickle(self, payload: bytes, path: str | Path) -> dict:
        try:
            unpickler = _AllowListUnpickler(io.BytesIO(payload), self.allowed, self.stand_ins)
            record = unpickler.load()
        except Exception as error:
            raise ResultFileError(path, f"refused to unpickle: {error}") from None
        if not isinstance(record, dict) or not {"config", "result", "meta"} <= set(record):
            raise ResultFileError(path, "not a result record (needs config, result, meta)")
        self._check(record, path)
        return record

    def load(self, path: str | Path) -> dict:
        """Read one result file; ``ResultFileError`` names the file and what is wrong."""
        payload, _ = verified_payload(read_regular(path), path)
        return self._unpickle(payload, path)

    def load_all(self, directory: str | Path, on_error: str = "raise") -> list[tuple[Path, dict]]:
        """Every result under ``directory`` as ``(path, record)``, in a stable order.

        A file that is not a readable result raises ``ResultFileError`` (``on_error="raise"``,
        the default: a figure must not silently miss a point) or is skipped with a warning that
        names it (``on_error="warn"``, for exploring in a notebook). A foreign file (no result
        at all) is always named and skipped. A missing or empty directory raises ``NoResults``.
        """
        files = result_files(directory) if Path(directory).is_dir() else []
        if not files:
            raise NoResults.of(directory)
        loaded = []
        for path in files:
            try:
                loaded.append((path, self.load(path)))
            except ForeignFile as error:  # not ours: named, skipped, left as it is
                warnings.warn(f"skipped {error}", stacklevel=2)
            except ResultFileError as error:
                if on_error != "warn":
                    raise
                warnings.warn(f"skipped {error}", stacklevel=2)
        return loaded


class ResultStore(ResultReader):
    """The result files of one experiment (see the module docstring): its own result types
    are built as they are, any other class is refused."""

    def __init__(self, experiment: "Experiment"):
        super().__init__(
            NUMPY_TYPES | SAFE_TYPES | frozenset(experiment.result_types), stand_ins=False
        )
        self.experiment = experiment

    @cached_property
    def code(self) -> str:
        """The experiment's code version (``provenance.code_version``)."""
        return code_version(self.experiment)

    def path(self, output: Any, overrides: list[str], config: Any = None) -> Path:
        """Where a job's result goes, from its ``output`` config (resolved, or a DictConfig):
        ``output.file`` if set, else ``default_result_path`` of its overrides, spelled as the
        job's resolved ``config`` (a dict or DictConfig) says (``canonical_overrides``)."""
        # Absolute from the start (a relative output.dir is the working directory's when the
        # sweep starts), so that a task changing its directory moves no result elsewhere.
        if output["file"] is not None:
            return Path(output["file"]).absolute()
        named = canonical_overrides(overrides, config)
        return default_result_path(output["dir"], named, result_groups(self.experiment)).absolute()

    def save(self, path: Path, record: dict, lock: HeldLock | None = None) -> None:
        """Write ``record`` to ``path`` atomically; ``lock``: the caller's
        ``files.job_lock(path)``, through which it is written."""
        label = fingerprint(record["config"], record["meta"].get("code"))
        data = encode(record, label)
        self._refuse_unreadable(data, path)
        if lock is None:
            write_atomically(path, data)
        else:
            assert lock.path == path, (lock.path, path)
            lock.commit(data)

    def _refuse_unreadable(self, data: bytes, path: Path) -> None:
        """Raise ``UnreadableResult`` unless this store reads ``data`` back (every value a job
        saves is one its readers read: the same allow-list decides both)."""
        try:
            _AllowListUnpickler(io.BytesIO(data), self.allowed).load()
        except RefusedClass as refused:
            module = refused.module
            move = ""
            if module == "__main__":  # no other process can import it from there
                move = "move the class from the script run (__main__) to a module and "
                module = "your_module"
            raise UnreadableResult(
                f"the result holds a {refused.module}.{refused.name}, which this experiment's "
                "result files do not hold, so it was not saved: return plain values "
                f"(numbers, strings, lists, dicts, numpy arrays), or {move}declare the class: "
                f"Experiment(name={self.experiment.name!r}, "
                f"result_types={{({module!r}, {refused.name!r})}})"
            ) from None
        except Exception as error:  # a class whose instances do not unpickle as pickled
            raise UnreadableResult(
                f"the result does not unpickle as it was pickled ({type(error).__name__}: "
                f"{error}), so it was not saved"
            ) from error

    def _check(self, record: dict, path: str | Path) -> None:
        written_by = record["meta"].get("experiment", self.experiment.name)
        if written_by != self.experiment.name:
            raise ResultFileError(
                path, f"a result of experiment {written_by!r}, not of {self.experiment.name!r}"
            )

    def current(self, path: Path, config: dict) -> dict | None:
        """The record at ``path`` if it was computed from ``config`` by the current code.
        The saved fingerprint decides before anything is unpickled (format 1 files, which
        have none, are compared after unpickling)."""
        try:
            payload, label = verified_payload(read_regular(path), path)
            if label is not None and label != fingerprint(config, self.code):
                return None
            record = self._unpickle(payload, path)
        except ResultFileError:
            return None
        if label is None and (
            record["config"] != config or record["meta"].get("code") != self.code
        ):
            return None
        return record

    def status(self, path: Path, config: dict) -> Status:
        """Whether the result at ``path`` is missing, damaged (no result this engine can
        read: truncated, its checksum wrong), stale (another config or code version) or
        current; unpickles nothing (except format 1 files). What a saved result
        holds its readers read (``save``), and the code version covers its classes' sources,
        so a result whose class is gone is stale here as it is unreadable to them."""
        if not path.exists():
            return "missing"
        try:
            _, label = verified_payload(read_regular(path), path)
        except ResultFileError:
            return "damaged"
        if label is None:
            return "current" if self.current(path, config) is not None else "stale"
        return "current" if label == fingerprint(config, self.code) else "stale"


def is_result_name(name: str) -> bool:
    """Whether a file called ``name`` is a result (not a temporary or hidden file)."""
    return name.endswith(SUFFIX) and not name.startswith(".")


def walk_results(directory: str | Path) -> Iterator[tuple[Path, os.stat_result | None]]:
    """The one rule for which paths under ``directory`` are results, shared by the sweep and
    every reader (``result_files``, the index): every entry with a result's name
    (``is_result_name``) that is not a directory, found by walking ``directory`` and following
    symlinked directories (each real directory once, so a link loop ends), with its status
    (through symlinks; None for a dangling symlink). Entries that are no regular file are
    listed too: reading one names and skips it (``ForeignFile``) without opening it."""
    for path, status in walk_result_paths(directory):
        yield Path(path), status


def walk_result_paths(directory: str | Path) -> Iterator[tuple[str, os.stat_result | None]]:
    """``walk_results`` with each path as a string (what the results index keys its rows
    by: building thousands of ``Path`` objects cost more than listing the files)."""
    seen: set[tuple[int, int]] = set()
    pending = [str(Path(directory))]
    while pending:
        current = pending.pop()
        try:
            status = os.stat(current)
        except OSError:
            continue
        if (status.st_dev, status.st_ino) in seen:
            continue
        seen.add((status.st_dev, status.st_ino))
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                is_directory = entry.is_dir()  # through a symlink too
            except OSError:
                is_directory = False
            if is_directory:
                pending.append(entry.path)
            elif is_result_name(entry.name):
                try:
                    yield entry.path, entry.stat()
                except OSError:  # a dangling symlink
                    yield entry.path, None


def result_files(directory: str | Path) -> list[Path]:
    """All result files under ``directory`` (``walk_results``), in a stable order."""
    return sorted(path for path, _ in walk_results(directory))
