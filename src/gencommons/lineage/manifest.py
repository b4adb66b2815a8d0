"""The manifest that travels with every artifact: what went in, how it was made, what came out.

``manifest.json`` fields (all artifacts): ``kind``, ``content_id`` (hash over the artifact's files),
``created_at``, ``gencommons_version``, ``git_commit``, ``inputs`` (paths with their hashes or content
ids), ``config`` (the full resolved config), ``licenses`` and ``files``. Kinds add their own fields
(a dataset adds ``steps`` with per-step statistics and ``counts``).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from typing import Any

from gencommons import __version__
from gencommons.errors import UserError
from gencommons.lineage.atomic import read_json, write_json_atomic

MANIFEST = "manifest.json"


def git_commit() -> str | None:
    """The commit of the gencommons checkout this code runs from, or None for an installed wheel."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(
            ["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    ).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def new_manifest(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "gencommons_version": __version__,
        "git_commit": git_commit(),
        **fields,
    }


def write_manifest(folder: str, manifest: dict[str, Any]) -> str:
    path = os.path.join(folder, MANIFEST)
    write_json_atomic(path, manifest)
    return path


def read_manifest(path: str) -> dict[str, Any]:
    """Read ``path`` (a manifest file or a folder holding one)."""
    if os.path.isdir(path):
        path = os.path.join(path, MANIFEST)
    if not os.path.exists(path):
        raise UserError(f"No manifest at {path}: is this a gencommons artifact?")
    data = read_json(path)
    if not isinstance(data, dict) or "kind" not in data:
        raise UserError(f"{path} is not a gencommons manifest (no 'kind').")
    return data
