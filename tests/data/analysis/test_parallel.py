"""The analysis commands in parallel: the parts of a dataset read every row once, in order; stats,
contamination and the index give the same answers in one process, on a local process pool and as tasks
on a real local Ray cluster; a stale index is refused."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gencommons.cli import app
from gencommons.data.analysis.contamination import check_contamination
from gencommons.data.analysis.dataset import iter_tables, open_dataset, split
from gencommons.data.analysis.index import NgramIndex, build_index
from gencommons.data.analysis.parallel import Parallel, parts_of
from gencommons.data.analysis.stats import compute_stats
from gencommons.errors import UserError

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def small_groups(records: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test corpus in three Parquet files of 10-row row groups (many parts), the last without ids."""
    root = tmp_path_factory.mktemp("groups")
    rows = [{"id": r["id"], "text": r["text"], "source": r.get("source")} for r in records]
    third = len(rows) // 3
    for k, part in enumerate((rows[:third], rows[third : 2 * third], rows[2 * third :])):
        t = pa.Table.from_pylist(part)
        pq.write_table(t.drop(["id"]) if k == 2 else t, root / f"p{k}.parquet", row_group_size=10)
    return root


def _no_seconds(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _no_seconds(v) for k, v in x.items() if k != "seconds"}
    if isinstance(x, list):
        return [_no_seconds(v) for v in x]
    return x


@settings(max_examples=40, deadline=None)
@given(
    groups=st.lists(st.lists(st.integers(1, 30), min_size=0, max_size=6), min_size=1, max_size=4),
    parts=st.integers(1, 20),
)
def test_parts_read_every_row_once_in_order(
    tmp_path_factory: pytest.TempPathFactory, groups: list[list[int]], parts: int
) -> None:
    root = tmp_path_factory.mktemp("split")
    n = 0
    for f, sizes in enumerate(groups):
        w = pq.ParquetWriter(root / f"f{f}.parquet", pa.schema([("id", pa.string()), ("text", pa.string())]))
        for g in sizes:
            w.write_table(pa.table({"id": [str(n + i) for i in range(g)], "text": ["x"] * g}))
            n += g
        w.close()
    ds = open_dataset(str(root))
    got: list[str] = []
    for p in split(ds, parts):
        assert p.first_row == len(got)
        got += [x for t in iter_tables(ds, part=p) for x in t["id"].to_pylist()]
    assert got == [str(i) for i in range(n)]


def test_stats_are_the_same_on_every_executor(ray_cluster: None, small_groups: Path) -> None:
    ds = open_dataset(str(small_groups))
    assert len(parts_of(ds)) >= 12
    one = compute_stats(str(small_groups))
    pool = compute_stats(str(small_groups), where=Parallel(workers=2))
    on_ray = compute_stats(str(small_groups), where=Parallel(executor="ray", workers=2))
    assert _no_seconds(pool) == _no_seconds(one)
    assert _no_seconds(on_ray) == _no_seconds(one)
    rows = pq.read_table(small_groups).num_rows
    assert one["documents"] == rows
    texts = pq.read_table(small_groups)["text"].to_pylist()
    assert one["words"] == sum(len(re.findall(r"\w+", t)) for t in texts)


def test_contamination_is_the_same_on_ray(ray_cluster: None, small_groups: Path, tmp_path: Path) -> None:
    texts = pq.read_table(small_groups)["text"].to_pylist()
    evals = [
        {"id": f"e{i}", "question": " ".join(texts[i * 37].split()[5:40]), "answer": "nothing at all"}
        for i in range(len(texts) // 37)
    ]
    evals.append({"id": "clean", "question": "zebra " * 20, "answer": "quagga"})
    evals.append({"id": "last", "question": " ".join(texts[-1].split()[:40]), "answer": ""})
    ev = tmp_path / "ev.jsonl"
    ev.write_text("".join(json.dumps(e) + "\n" for e in evals))
    one = check_contamination(str(small_groups), [str(ev)], n=8, batch_rows=25)
    on_ray = check_contamination(
        str(small_groups), [str(ev)], n=8, batch_rows=25, where=Parallel(executor="ray", workers=2)
    )
    assert _no_seconds(on_ray) == _no_seconds(one)
    got = {x["id"]: x for x in one["examples"]}
    assert not got["clean"]["contaminated"]
    assert sum(x["contaminated"] for x in one["examples"]) >= len(evals) - 1
    # a row without an id column is named by its row number in the dataset
    assert str(len(texts) - 1) in got["last"]["document_ids"]


def test_index_built_on_ray_answers_like_one_index(
    ray_cluster: None, small_groups: Path, tmp_path: Path
) -> None:
    a = build_index(str(small_groups), str(tmp_path / "one"))
    b = build_index(str(small_groups), str(tmp_path / "ray"), where=Parallel(executor="ray", workers=2))
    c = build_index(str(small_groups), str(tmp_path / "pool"), where=Parallel(workers=2))
    assert len(a["shards"]) == 1
    assert len(b["shards"]) >= 2
    assert a["units"] == b["units"] == c["units"]
    assert a["documents"] == b["documents"]
    ia, ib, ic = (NgramIndex(str(tmp_path / x)) for x in ("one", "ray", "pool"))
    for phrase in ("the", "of the", "manual page", "Project Gutenberg", "zebra quagga", "e"):
        assert ia.count(phrase) == ib.count(phrase) == ic.count(phrase)
        ta, _ = ia.search(phrase, limit=5)
        tb, hb = ib.search(phrase, limit=5)
        assert ta == tb
        assert {(h.doc_id, h.offset) for h in hb} <= {
            (h.doc_id, h.offset) for h in ia.search(phrase, limit=10**6)[1]
        }


def test_stale_index_is_refused(small_groups: Path, tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "a.parquet").write_bytes((small_groups / "p0.parquet").read_bytes())
    build_index(str(ds))
    assert NgramIndex(str(ds / "index")).stale is None
    before = NgramIndex(str(ds / "index")).count("the")
    (ds / "b.parquet").write_bytes((small_groups / "p1.parquet").read_bytes())
    with pytest.raises(UserError, match=r"stale: .*b\.parquet.*--overwrite"):
        NgramIndex(str(ds / "index"))
    ix = NgramIndex(str(ds / "index"), allow_stale=True)
    assert ix.stale
    assert ix.count("the") == before
    r = CliRunner().invoke(app, ["data", "count", "the", "--index", str(ds)])
    assert r.exit_code != 0
    assert isinstance(r.exception, UserError)  # printed by `gencommons` as "Error: ..."
    assert "stale" in str(r.exception)
    r = CliRunner().invoke(app, ["data", "count", "the", "--index", str(ds), "--allow-stale", "--json"])
    assert r.exit_code == 0, r.output
    os.remove(ds / "b.parquet")
    assert NgramIndex(str(ds / "index")).stale is None


def test_pipeline_dataset_is_stale_by_content_id(dataset_dir: Path, tmp_path: Path) -> None:
    import shutil

    ds = tmp_path / "copy"
    shutil.copytree(dataset_dir, ds)
    build_index(str(ds), str(tmp_path / "ix"))
    assert NgramIndex(str(tmp_path / "ix")).stale is None
    os.utime(ds / "data" / "part-00000-0000.parquet")  # touched, same content: not stale
    assert NgramIndex(str(tmp_path / "ix")).stale is None
    m = json.loads((ds / "manifest.json").read_text())
    m["content_id"] = "sha256:other"
    (ds / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(UserError, match="content id sha256:other"):
        NgramIndex(str(tmp_path / "ix"))


def test_cli_stats_on_ray_and_a_bad_executor(ray_cluster: None, small_groups: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app,
        [
            "data",
            "stats",
            str(small_groups),
            "-o",
            str(tmp_path / "s"),
            "--executor",
            "ray",
            "--workers",
            "2",
        ],
    )
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "s" / "stats.json").read_text())
    assert s["documents"] == pq.read_table(small_groups).num_rows
    r = CliRunner().invoke(
        app, ["data", "stats", str(small_groups), "-o", str(tmp_path / "t"), "--executor", "rya"]
    )
    assert r.exit_code != 0
    assert isinstance(r.exception, UserError)
    assert "Unknown executor 'rya'" in str(r.exception)
    assert "'ray'" in str(r.exception)
