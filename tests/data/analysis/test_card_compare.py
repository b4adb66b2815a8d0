"""The dataset card (YAML header the Hub reads, sections, unknowns said when there is no manifest,
Croissant JSON-LD) and the comparison of two datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from gencommons.data.analysis.card import build_card, size_category
from gencommons.data.analysis.compare import compare_stats, render_compare
from gencommons.data.analysis.stats import compute_stats


def _header(readme: str) -> dict:
    assert readme.startswith("---\n")
    return yaml.safe_load(readme.split("---\n")[1])


def test_card_from_manifest(dataset_dir: Path) -> None:
    readme, meta = build_card(str(dataset_dir))
    h = _header(readme)
    assert h["size_categories"] == ["n<1K"]
    assert "en" in h["language"]
    assert h["task_categories"] == ["text-generation"]
    assert set(h["source_datasets"]) == {"gutenberg", "debian-man"}
    assert h["license"] == "mit"  # the manifest's output licences
    for section in ("## Sources and licences", "## Processing steps", "## Statistics",
                    "## Evaluation contamination", "## Known limitations"):  # fmt: skip
        assert section in readme
    assert "| exact_dedup | filter |" in readme
    assert meta["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert meta["@type"] == "sc:Dataset"
    names = {f["name"] for f in meta["recordSet"][0]["field"]}
    assert {"id", "text", "source", "license"} <= names
    objs = [d for d in meta["distribution"] if d["@type"] == "cr:FileObject"]
    assert len(objs) == 2
    assert all(len(d["sha256"]) == 64 for d in objs)
    json.dumps(meta)


def test_card_without_manifest(dataset_dir: Path, tmp_path: Path) -> None:
    t = pq.read_table(dataset_dir / "data").select(["id", "text"])
    copies = t.slice(0, 3)  # the same texts again, one with other spacing
    copies = copies.set_column(
        1,
        "text",
        [[" " + copies["text"][0].as_py().replace(" ", "\t ") + "  ", *copies["text"].to_pylist()[1:]]],
    )
    pq.write_table(pa.concat_tables([t, copies]), tmp_path / "x.parquet")
    readme, meta = build_card(str(tmp_path))
    norm = [" ".join(x.lower().split()) for x in t["text"].to_pylist()]
    assert f"{len(norm) - len(set(norm)) + 3:,} documents (" in readme
    assert "repeat the text of an earlier one" in readme
    h = _header(readme)
    assert h["license"] == "unknown"
    assert h["source_datasets"] == ["unknown"]
    assert "Processing is unknown (no manifest)." in readme
    assert "Licences are unknown." in readme
    assert meta["license"] == "unknown"
    assert size_category(5_000) == "1K<n<10K"


def test_card_reports_contamination(dataset_dir: Path, tmp_path: Path) -> None:
    import shutil

    ds = tmp_path / "ds"
    shutil.copytree(dataset_dir, ds)
    (ds / "contamination").mkdir()
    (ds / "contamination" / "contamination.json").write_text(
        json.dumps({"n": 13, "benchmarks": {"qa": {"examples": 4, "contaminated": 1, "rate": 0.25}}})
    )
    readme, _ = build_card(str(ds))
    assert "| qa | 4 | 1 | 25.0% |" in readme


def test_compare(dataset_dir: Path, tmp_path: Path) -> None:
    t = pq.read_table(dataset_dir / "data")
    pq.write_table(t.slice(0, 60), tmp_path / "b.parquet")  # B: the Gutenberg part only
    a, b = compute_stats(str(dataset_dir)), compute_stats(str(tmp_path / "b.parquet"))
    d = compare_stats(a, b)
    assert d["overview"]["documents"] == {"a": t.num_rows, "b": 60, "change": (60 - t.num_rows) / t.num_rows}
    src = {r["key"]: r for r in d["categories"]["source"]}
    assert src["gutenberg"]["share_b"] == 1.0
    assert src["debian-man"]["b"] == 0
    html = render_compare(a, b, d)
    assert 'class="down"' in html
    assert html.count("data:image/png;base64,") >= 3
