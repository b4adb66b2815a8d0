"""Input paths: local files are listed and opened as fsspec's LocalFileSystem would, URLs still go
through fsspec, and a local run never imports it."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import fsspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gencommons.data.io.files import LocalFiles, filesystem, is_local, local_path, open_binary
from gencommons.data.pipeline import Pipeline
from gencommons.lineage.hashing import file_sha256

NAMES = st.sampled_from(["a", "b", ".h", "x.jsonl", ".y.jsonl", "z.jsonl.gz", "p.parquet", "[c].jsonl"])
TREES = st.lists(st.lists(NAMES, min_size=1, max_size=4), min_size=1, max_size=12)
PATTERNS = [
    "*",
    "*.jsonl",
    "**",
    "**/*.jsonl",
    "**/*.jsonl.gz",
    "*/*",
    "a/**/*.jsonl",
    "?.jsonl",
    "[xz]*",
    "**/b/*",
    ".*",
]


def _make_tree(root: Path, paths: list[list[str]]) -> None:
    for parts in paths:
        *dirs, name = parts
        folder = root.joinpath(*dirs)
        if any(p.is_file() for p in [folder, *folder.parents] if p != root and root in p.parents):
            continue  # a file already holds this name
        if (folder / name).is_dir():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"data " + "/".join(parts).encode())


def _add_links(root: Path) -> None:
    """A link to a folder, a link back up the tree (a loop), and a link to a file."""
    folders = sorted(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    if folders:
        (root / "dirlink").symlink_to(folders[0], target_is_directory=True)
        (folders[-1] / "loop").symlink_to(root, target_is_directory=True)
    if files:
        (root / "filelink.jsonl").symlink_to(files[0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=TREES, links=st.booleans())
def test_local_listing_equals_fsspec(
    tmp_path_factory: pytest.TempPathFactory, tree: list[list[str]], links: bool
) -> None:
    """The reference is fsspec itself, on the same random tree: globs (hidden names and ``**``
    included), recursive finds, sizes, and path normalisation; with links, folders reached through
    a link are not searched (a loop lists nothing twice), a linked file is listed."""
    root = tmp_path_factory.mktemp("tree")
    _make_tree(root, tree)
    if links:
        _add_links(root)
    ref, _ = fsspec.core.url_to_fs(str(root))
    local = LocalFiles()
    for pattern in PATTERNS:
        full = f"{root}/{pattern}"
        assert sorted(local.glob(local._strip_protocol(full))) == sorted(
            ref.glob(ref._strip_protocol(full))
        ), pattern
    # fsspec's find also lists a link to a folder (as a file, not searched); the expansion skips folders
    ref_files = [p for p in ref.find(str(root)) if not os.path.isdir(p)]
    assert sorted(local.find(str(root))) == sorted(ref_files)
    for p in ref_files:
        assert local.size(p) == ref.size(p)
        assert local.isdir(p) is False
        assert local.exists(p)
    assert local._strip_protocol(f"file://{root}/") == ref._strip_protocol(f"file://{root}/")


def test_is_local_and_local_path(tmp_path: Path) -> None:
    assert is_local("data/x.jsonl")
    assert is_local(f"file://{tmp_path}")
    assert is_local("/abs/x")
    assert not is_local("s3://bucket/x.jsonl")
    assert not is_local("memory://x")
    assert local_path(f"file://{tmp_path}/a/../b") == str(tmp_path / "b")
    assert local_path("rel/x") == os.path.join(os.getcwd(), "rel", "x")
    assert isinstance(filesystem(str(tmp_path)), LocalFiles)
    assert not isinstance(filesystem("memory://somewhere"), LocalFiles)


def test_open_binary_reads_local_paths_file_urls_and_fsspec_urls(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"\x00local\xff")
    for path in (str(tmp_path / "a.bin"), f"file://{tmp_path}/a.bin"):
        with open_binary(path) as fh:
            assert fh.read() == b"\x00local\xff"
    with fsspec.open("memory://gc-files/b.bin", "wb") as fh:
        fh.write(b"in memory")
    with open_binary("memory://gc-files/b.bin") as fh:
        assert fh.read() == b"in memory"
    with pytest.raises(FileNotFoundError):
        open_binary(str(tmp_path / "missing"))
    assert file_sha256("memory://gc-files/b.bin") == file_sha256(_copy(tmp_path, b"in memory"))


def _copy(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "copy.bin"
    path.write_bytes(data)
    return str(path)


def test_a_pipeline_reads_an_fsspec_url(tmp_path: Path) -> None:
    """Input from a real fsspec filesystem (in-memory): expanded by glob, read, hashed, counted."""
    rows = [{"id": f"d{i}", "text": f"document number {i}"} for i in range(30)]
    for part in range(3):
        with fsspec.open(f"memory://gc-pipe/in/part{part}.jsonl.gz", "wb") as fh:
            fh.write(gzip.compress("".join(json.dumps(r) + "\n" for r in rows[part::3]).encode()))
    cfg = {
        "input": {"path": "memory://gc-pipe/in/*.jsonl.gz"},
        "steps": [],
        "output": {"path": str(tmp_path / "out")},
        "executor": {"kind": "local", "workers": 1},
    }
    m = Pipeline.from_dict(cfg).run().manifest
    assert m["counts"]["documents_in"] == m["counts"]["documents_out"] == 30
    paths = [i["path"] for i in m["inputs"]]  # as fsspec spells them: memory:///gc-pipe/...
    assert [p.replace("memory:///", "memory://") for p in paths] == [
        f"memory://gc-pipe/in/part{p}.jsonl.gz" for p in range(3)
    ]


def test_a_local_minhash_run_imports_neither_fsspec_nor_numpy_random_nor_yaml(tmp_path: Path) -> None:
    """Each costs every process that reads local files ~4, ~2.4 and ~0.9 MB resident (``files.py``,
    ``dedup/_seeded.py``); a single worker needs no process pool either."""
    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        "".join(json.dumps({"id": i, "text": f"words of doc {i % 7} " * 9}) + "\n" for i in range(50))
    )
    cfg = {
        "input": {"path": str(docs)},
        "steps": ["minhash_dedup"],
        "output": {"path": str(tmp_path / "out")},
        "executor": {"kind": "local", "workers": 1},
    }
    code = (
        "import json, sys\n"
        "from gencommons.data.pipeline import Pipeline\n"
        f"r = Pipeline.from_dict(json.loads({json.dumps(json.dumps(cfg))})).run()\n"
        "print(r.manifest['counts']['documents_out'])\n"
        "print(*[m in sys.modules for m in ('fsspec', 'numpy.random', 'yaml', 'multiprocessing')])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["7", "False", "False", "False", "False"]
