"""Input paths: local files through the standard library, every other URL through fsspec.

A local path, or a ``file://`` URL, is opened, listed and sized with ``open``, ``os.walk`` and
``fnmatch``; anything else (``s3://``, ``gs://``, ``https://``, ``memory://``...) goes to fsspec,
imported only then. Local files behave as fsspec's ``LocalFileSystem`` would serve them (absolute
paths; ``*`` and ``?`` match hidden names; ``**`` matches any depth; folders reached through a link are
not searched), which ``tests/data/io/test_files.py`` checks against fsspec itself.

Why not fsspec for local files too: importing it costs every process that reads ~4 MB of resident
memory (it brings asyncio and concurrent.futures), for calls the standard library makes itself. On the
MinHash benchmark (32,880 documents, one worker) that was 3 % of the whole run's peak.
"""

from __future__ import annotations

import fnmatch
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
        """Paths matching ``pattern`` (``*``, ``?``, ``[...]`` within a name, ``**`` for any depth).

        Folders reached through a symbolic link are not searched, as fsspec and ``os.walk`` do not
        search them. (The standard library's ``glob`` follows them, and a link back up the tree made
        it list the same files over and over, exponentially in the number of folders.)"""
        prefix = _fixed_prefix(pattern)
        root = os.path.abspath(prefix or ".")
        segments = [s for s in pattern[len(prefix) :].replace(os.sep, "/").split("/") if s]
        depth = None if "**" in segments else len(segments)
        found = [root] if _matches([], segments) else []
        for folder, dirs, files in os.walk(root):
            rel = [] if folder == root else os.path.relpath(folder, root).split(os.sep)
            for name in dirs + files:
                if _matches([*rel, name], segments):
                    found.append(os.path.join(folder, name))
            if depth is not None and len(rel) + 1 >= depth:
                dirs[:] = []
        return found

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


def _fixed_prefix(pattern: str) -> str:
    """A glob pattern's path up to the last ``/`` before any ``*?[`` ("" when there is none)."""
    magic = min((i for i in (pattern.find(c) for c in "*?[") if i >= 0), default=len(pattern))
    head = pattern[:magic]
    return (head.rsplit("/", 1)[0] or "/") if "/" in head else ""


def _matches(parts: list[str], segments: list[str]) -> bool:
    """Whether path components match pattern segments (``**``: any number of components)."""
    if not segments:
        return not parts
    if segments[0] == "**":
        return any(_matches(parts[i:], segments[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], segments[0]) and _matches(parts[1:], segments[1:])


def filesystem(path: str) -> Any:
    """An object with fsspec's listing calls for ``path``: ``LocalFiles``, or fsspec's filesystem."""
    if is_local(path):
        return LocalFiles()
    import fsspec

    fs, _ = fsspec.core.url_to_fs(path)
    return fs
