"""Atomic writes: write to a temporary name in the same folder, then rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import orjson


def write_bytes_atomic(path: str, data: bytes) -> None:
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the result is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path: str, obj: Any) -> None:
    write_bytes_atomic(path, orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


def read_json(path: str) -> Any:
    with open(path, "rb") as fh:
        return orjson.loads(fh.read())


@contextlib.contextmanager
def atomic_dir(out: str, *, overwrite: bool = False) -> Iterator[str]:
    """Build a folder under a temporary sibling name and move it to ``out`` only when the block succeeds.

    An interrupted or failed build leaves ``out`` as it was (nothing half-written). ``out`` may exist
    only when it is empty or ``overwrite`` is set; the old folder is then replaced.
    """
    from gencommons.errors import OutputConflictError

    out = os.path.abspath(out)
    if os.path.exists(out) and not overwrite and (not os.path.isdir(out) or os.listdir(out)):
        raise OutputConflictError(f"{out} exists and is not empty; choose another path or pass --overwrite.")
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".tmp-{os.path.basename(out)}-", dir=parent)
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if os.path.exists(out):
        old = tempfile.mkdtemp(prefix=f".old-{os.path.basename(out)}-", dir=parent)
        os.replace(out, os.path.join(old, "x"))
    os.replace(tmp, out)
    if old:
        shutil.rmtree(old, ignore_errors=True)
