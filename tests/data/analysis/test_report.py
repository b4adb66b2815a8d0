"""The HTML report: self-contained (no external resources), data escaped, renders in headless Chromium
with every image decoded and the section headings present."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gencommons.data.analysis.report import render_report, write_report
from gencommons.data.analysis.stats import compute_stats

HEADINGS = [
    "Overview",
    "Document lengths",
    "Language",
    "Source",
    "License",
    "Top domains",
    "Duplicates and pipeline steps",
    "Top n-grams",
]


@pytest.fixture(scope="module")
def report(dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    j, h = write_report(compute_stats(str(dataset_dir)), str(out))
    assert json.loads(Path(j).read_text())["documents"] > 0
    return Path(h)


def test_self_contained_and_escaped(report: Path, tmp_path: Path) -> None:
    page = report.read_text()
    for h in HEADINGS:
        assert f">{h}</h2>" in page
    assert "http://" not in page.replace("http://www.w3", "")
    assert "<script" not in page
    assert page.count("data:image/png;base64,") >= 6
    hostile = "<script>alert(1)</script>"
    pq.write_table(
        pa.table({"id": ["x"], "text": [hostile + " " + hostile], "source": [hostile]}),
        tmp_path / "h.parquet",
    )
    html = render_report(compute_stats(str(tmp_path / "h.parquet")))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "No manifest.json" in html


@pytest.mark.slow
def test_renders_in_chromium(report: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            page = browser.new_page()
            failed: list[str] = []
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(report.as_uri())
            heads = page.locator("h2").all_inner_texts()
            assert all(h in heads for h in HEADINGS), heads
            sizes = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
            )
            assert len(sizes) >= 6
            assert all(c and w > 50 and h > 50 for c, w, h in sizes), sizes
            assert not failed
        finally:
            browser.close()
