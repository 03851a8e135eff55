"""``optsweep convert`` where it cannot write, or among entries that are no files: each file
it cannot rewrite is named with the reason in a line (exit 1, no traceback), and a FIFO named
``*.pkl`` is named and skipped without blocking."""

import hashlib
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RECORD = {"config": {"x": 1}, "result": {"f": 1.0}, "meta": {"code": "abc"}}


def format_2_file(path: Path) -> bytes:
    """A result file of format 2 (a header line before the pickle), as older versions wrote."""
    payload = pickle.dumps(RECORD, protocol=5)
    digest = hashlib.sha256(payload).hexdigest().encode()
    data = b"OPTSWEEP-RESULT 2 %s %d label\n" % (digest, len(payload)) + payload
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def convert_command(directory: Path) -> list[str]:
    return [sys.executable, "-m", "optsweep.cli", "convert", str(directory)]


def read_only_command(directory: Path, command: list[str]) -> list[str]:
    """``command`` run where ``directory`` cannot be written, even by root: a read-only bind
    mount in a mount namespace of its own (nothing outside the command sees it); as another
    user, the directory's permissions do."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return command
    if (
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode
    ):
        pytest.skip("root without mount namespaces: no way to make a directory read-only")
    mount = f'mount --bind -o ro {directory} {directory} && exec "$@"'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", mount, "sh", *command]


def test_convert_in_a_read_only_directory_names_each_file_in_a_line(tmp_path):
    results = tmp_path / "results"
    data = format_2_file(results / "settings=a" / "x.pkl")
    format_2_file(results / "settings=a" / "y.pkl")
    command = read_only_command(results / "settings=a", convert_command(results))
    converting = subprocess.run(command, capture_output=True, text=True, timeout=60)
    output = converting.stdout + converting.stderr
    assert converting.returncode == 1, output
    assert "Traceback" not in output
    assert f"{results}: 0 converted, 0 already plain pickles" in output
    for name in ("x.pkl", "y.pkl"):
        line = f"left as it is: {results / 'settings=a' / name}: cannot be rewritten: "
        assert line + "Read-only file system" in output or line + "Permission denied" in output
    assert (results / "settings=a" / "x.pkl").read_bytes() == data  # untouched
    (results / "settings=a").chmod(0o755)


def test_convert_names_a_fifo_and_converts_the_rest_without_blocking(tmp_path):
    results = tmp_path / "results"
    format_2_file(results / "x.pkl")
    os.mkfifo(results / "pipe.pkl")
    converting = subprocess.run(
        convert_command(results), capture_output=True, text=True, timeout=60
    )
    output = converting.stdout + converting.stderr
    assert converting.returncode == 1, output
    assert f"{results}: 1 converted, 0 already plain pickles" in output
    assert "pipe.pkl: not a result file written by this project: not a regular file" in output
    with open(results / "x.pkl", "rb") as file:
        assert pickle.load(file) == RECORD
