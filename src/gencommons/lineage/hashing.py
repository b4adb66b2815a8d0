"""Content hashing: sha256 of files, and a content id over a set of files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

CHUNK = 4 * 2**20


def file_sha256(path: str) -> str:
    """sha256 of a file's bytes (local path or fsspec URL), as ``sha256:<hex>``."""
    from gencommons.data.io.files import open_binary

    h = hashlib.sha256()
    with open_binary(path) as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def content_id(files: Iterable[tuple[str, str]]) -> str:
    """A stable id for a set of files: sha256 over sorted ``(relative path, file hash)`` pairs.

    Example:
        >>> content_id([("a.parquet", "sha256:00")]) == content_id([("a.parquet", "sha256:00")])
        True
    """
    h = hashlib.sha256()
    for rel, digest in sorted(files):
        h.update(f"{rel}\0{digest}\n".encode())
    return "sha256:" + h.hexdigest()


def config_hash(config: object) -> str:
    """sha256 of a JSON-able config, keys sorted."""
    import orjson

    return "sha256:" + hashlib.sha256(orjson.dumps(config, option=orjson.OPT_SORT_KEYS)).hexdigest()
