"""Input paths: local files through the standard library, every other URL through fsspec.

A local path, or a ``file://`` URL, is opened, listed and sized with ``open``, ``glob`` and ``os``;
anything else (``s3://``, ``gs://``, ``https://``, ``memory://``...) goes to fsspec, imported only then.
Local files behave as fsspec's ``LocalFileSystem`` would serve them (absolute paths; ``*`` and ``?``
match hidden names; ``**`` matches any depth), which ``tests/data/io/test_files.py`` checks against
fsspec itself.

Why not fsspec for local files too: importing it costs every process that reads ~4 MB of resident
memory (it brings asyncio and concurrent.futures), for calls the standard library makes itself. On the
MinHash benchmark (32,880 documents, one worker) that was 3 % of the whole run's peak.
"""

from __future__ import annotations

import glob
import os
from typing import IO, Any

LOCAL_PROTOCOLS = ("file://", "local://")


def is_local(path: str) -> bool:
    """Whether ``path`` names a file on this machine (a plain path or a ``file://`` URL)."""
    return "://" not in path or path.startswith(LOCAL_PROTOCOLS)


def local_path(path: str) -> str:
    """The absolute path of a local path or ``file://`` URL."""
    for prefix in LOCAL_PROTOCOLS:
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    return os.path.abspath(os.path.expanduser(path))


def open_binary(path: str) -> IO[bytes]:
    """Open a local path or URL for reading bytes (no decompression). FileNotFoundError if missing."""
    if is_local(path):
        return open(local_path(path), "rb")
    import fsspec

    fh: IO[bytes] = fsspec.open(path, "rb").open()
    return fh


class LocalFiles:
    """The few listing calls input expansion makes, on local files, named as fsspec names them."""

    protocol = "file"

    @staticmethod
    def _strip_protocol(path: str) -> str:
        return local_path(path)

    @staticmethod
    def glob(pattern: str) -> list[str]:
        return [os.path.abspath(p) for p in glob.glob(pattern, recursive=True, include_hidden=True)]

    @staticmethod
    def find(folder: str) -> list[str]:
        """Every file below ``folder``, at any depth."""
        return [os.path.join(d, f) for d, _, names in os.walk(folder) for f in names]

    @staticmethod
    def isdir(path: str) -> bool:
        return os.path.isdir(path)

    @staticmethod
    def exists(path: str) -> bool:
        return os.path.exists(path)

    @staticmethod
    def size(path: str) -> int:
        return os.path.getsize(path)

    @staticmethod
    def unstrip_protocol(path: str) -> str:
        return path


def filesystem(path: str) -> Any:
    """An object with fsspec's listing calls for ``path``: ``LocalFiles``, or fsspec's filesystem."""
    if is_local(path):
        return LocalFiles()
    import fsspec

    fs, _ = fsspec.core.url_to_fs(path)
    return fs
