"""The engine end to end on the real test corpus: outputs, manifest, rejected sink, resume rules,
annotate mode and apply-thresholds."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from gencommons.data.pipeline import Pipeline, result_license
from gencommons.data.thresholds import apply_thresholds
from gencommons.errors import ConfigError, InputDataError, OutputConflictError, UserError
from gencommons.lineage.manifest import read_manifest


def _config(corpus: Path, out: Path, steps: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "input": [
            {"path": str(corpus / "gutenberg.jsonl.gz")},
            {"path": str(corpus / "debian-man.jsonl.gz")},
        ],
        "steps": steps,
        "output": {"path": str(out)},
        "executor": {"kind": "local", "workers": 1},
        **extra,
    }


def _read_all(out: Path) -> list[dict[str, Any]]:
    m = read_manifest(str(out))
    rows: list[dict[str, Any]] = []
    for f in m["files"]:
        rows.extend(pq.read_table(out / f["path"]).to_pylist())
    return rows


def _input_records(corpus: Path) -> list[dict[str, Any]]:
    recs = []
    for name in ("gutenberg", "debian-man"):
        with gzip.open(corpus / f"{name}.jsonl.gz", "rt", encoding="utf-8") as fh:
            recs.extend(json.loads(line) for line in fh)
    return recs


def test_run_keeps_every_document_and_metadata_without_steps(corpus_dir: Path, tmp_path: Path) -> None:
    result = Pipeline.from_dict(_config(corpus_dir, tmp_path / "out", [])).run()
    rows = _read_all(tmp_path / "out")
    src = _input_records(corpus_dir)
    assert [r["id"] for r in rows] == [r["id"] for r in src]
    assert [r["text"] for r in rows] == [r["text"] for r in src]
    assert [r["license"] for r in rows] == [r["license"] for r in src]
    assert {r["lang"] for r in rows} == {r["lang"] for r in src}
    m = result.manifest
    assert m["counts"]["documents_in"] == len(src) == m["counts"]["documents_out"]
    assert len(m["inputs"]) == 2
    assert all(i["sha256"].startswith("sha256:") for i in m["inputs"])
    assert sum(m["licenses"]["output"].values()) == len(src)


def test_filter_counts_reasons_and_writes_rejected_sink(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    m = Pipeline.from_dict(_config(corpus_dir, out, [{"length": {"min_words": 200}}])).run().manifest
    step = m["steps"][0]
    src = _input_records(corpus_dir)
    expected_drop = sum(1 for r in src if len(r["text"].split()) < 200)
    assert step["docs_in"] == len(src)
    assert step["dropped"] == {"length:too_few_words": expected_drop}
    assert step["docs_out"] == len(src) - expected_drop == m["counts"]["documents_out"]
    rejected = pq.read_table(out / "rejected").to_pylist()
    assert len(rejected) == expected_drop == m["counts"]["rejected"]
    assert {r["reason"] for r in rejected} == {"length:too_few_words"}
    assert all(r["license"] for r in rejected)


def test_license_defaults_from_config_and_survives(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"text": "one two three"}\n{"text": "four five six", "license": "MIT"}\n', encoding="utf-8"
    )
    cfg = {
        "input": {"path": str(src), "license": "CC-BY-4.0", "source": "notes"},
        "output": {"path": str(tmp_path / "out"), "format": "jsonl"},
        "executor": {"workers": 1},
    }
    m = Pipeline.from_dict(cfg).run().manifest
    assert m["licenses"]["output"] == {"CC-BY-4.0": 1, "MIT": 1}
    assert m["licenses"]["result"] == "CC-BY-4.0 AND MIT"
    with gzip.open(tmp_path / "out" / m["files"][0]["path"], "rt") as fh:
        rows = [json.loads(line) for line in fh]
    assert [(r["id"], r["license"], r["source"]) for r in rows] == [
        ("in.jsonl:1", "CC-BY-4.0", "notes"),
        ("in.jsonl:2", "MIT", "notes"),
    ]


def test_file_url_and_glob_inputs(corpus_dir: Path, tmp_path: Path) -> None:
    cfg = _config(corpus_dir, tmp_path / "out", [])
    cfg["input"] = {"path": f"file://{corpus_dir}/*.jsonl.gz"}
    m = Pipeline.from_dict(cfg).run().manifest
    assert m["counts"]["documents_in"] == len(_input_records(corpus_dir))


def test_rerun_is_already_complete_and_changed_config_refuses(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cfg = _config(corpus_dir, out, [{"length": {"min_words": 10}}])
    first = Pipeline.from_dict(cfg).run()
    again = Pipeline.from_dict(cfg).run()
    assert again.already_complete
    assert again.manifest["content_id"] == first.manifest["content_id"]
    changed = _config(corpus_dir, out, [{"length": {"min_words": 11}}])
    with pytest.raises(OutputConflictError, match=r"different config .*steps"):
        Pipeline.from_dict(changed).run()
    assert (
        Pipeline.from_dict(changed).run(overwrite=True).manifest["config"]["steps"][0]["length"]["min_words"]
        == 11
    )


def test_unfinished_work_of_other_config_refuses(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / ".gencommons").mkdir(parents=True)
    (out / ".gencommons" / "run.json").write_text('{"config_hash": "sha256:other", "config": {"steps": []}}')
    with pytest.raises(OutputConflictError, match="unfinished work of a different config"):
        Pipeline.from_dict(_config(corpus_dir, out, [])).run()


def test_foreign_nonempty_output_refuses(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(OutputConflictError, match="not a gencommons output"):
        Pipeline.from_dict(_config(corpus_dir, out, [])).run()
    assert (out / "precious.txt").read_text() == "keep me"


def test_bad_record_fails_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "fine"}\n{"text": broken}\n', encoding="utf-8")
    cfg = {"input": {"path": str(src)}, "output": {"path": str(tmp_path / "out")}, "executor": {"workers": 1}}
    with pytest.raises(InputDataError, match=r"in\.jsonl:2: malformed JSON"):
        Pipeline.from_dict(cfg).run()
    assert not list((tmp_path / "out").glob("*.parquet"))
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_quarantine_counts_and_keeps_bad_records(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"text": "fine"}\n{"text": broken}\n{"id": 3}\n{"text": "caf\xe9"}\n[1, 2]\n')
    cfg = {
        "input": {"path": str(src)},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 1},
        "on_error": "quarantine",
    }
    m = Pipeline.from_dict(cfg).run().manifest
    assert m["counts"]["documents_out"] == 1
    assert m["counts"]["quarantined"] == 4
    q = [
        json.loads(x) for f in (tmp_path / "out" / "quarantine").iterdir() for x in f.read_text().splitlines()
    ]
    assert [(r["line"], r["reason"]) for r in q] == [
        (2, "malformed_json"),
        (3, "missing_text"),
        (4, "invalid_utf8"),
        (5, "not_an_object"),
    ]


def test_exact_dedup_keeps_first_copy(corpus_dir: Path, tmp_path: Path) -> None:
    m = Pipeline.from_dict(_config(corpus_dir, tmp_path / "out", ["exact_dedup"])).run().manifest
    src = _input_records(corpus_dir)
    seen: set[str] = set()
    expected = []
    for r in src:
        key = " ".join(r["text"].casefold().split())
        if key not in seen:
            seen.add(key)
            expected.append(r["id"])
    assert len(expected) < len(src)  # the corpus has natural duplicates
    assert [r["id"] for r in _read_all(tmp_path / "out")] == expected
    assert m["steps"][0]["dropped"] == {"exact_dedup:duplicate": len(src) - len(expected)}


ANNOTATABLE = [{"length": {"min_words": 150}}, "exact_dedup", {"length": {"max_chars": 3000}}]


def test_annotate_then_apply_thresholds_equals_filter_run(corpus_dir: Path, tmp_path: Path) -> None:
    filtered = Pipeline.from_dict(_config(corpus_dir, tmp_path / "f", ANNOTATABLE[:2])).run().manifest
    annotated_steps = [
        {"length": {"min_words": 150, "mode": "annotate"}},
        {"exact_dedup": {"mode": "annotate"}},
    ]
    ann = Pipeline.from_dict(_config(corpus_dir, tmp_path / "a", annotated_steps)).run().manifest
    assert ann["counts"]["documents_out"] == ann["counts"]["documents_in"]  # annotate drops nothing
    rows = _read_all(tmp_path / "a")
    assert {"length_words", "length_reason", "exact_dedup_reason", "exact_dedup_hash"} <= set(rows[0])
    res = apply_thresholds(str(tmp_path / "a"), str(tmp_path / "t"))
    assert res["counts"]["documents_out"] == filtered["counts"]["documents_out"]
    kept = [r["id"] for r in pq.read_table(tmp_path / "t" / "data").to_pylist()]
    assert kept == [r["id"] for r in _read_all(tmp_path / "f")]
    # a new threshold is a query, not a re-run
    looser = apply_thresholds(
        str(tmp_path / "a"), str(tmp_path / "t2"), overrides={"length": {"min_words": 50}}
    )
    assert looser["counts"]["documents_out"] > res["counts"]["documents_out"]
    assert looser["inputs"][0]["content_id"] == ann["content_id"]


def test_apply_thresholds_rejects_unknown_or_non_threshold(corpus_dir: Path, tmp_path: Path) -> None:
    Pipeline.from_dict(_config(corpus_dir, tmp_path / "a", [{"length": {"mode": "annotate"}}])).run()
    with pytest.raises(ConfigError, match="no annotated step named gopher"):
        apply_thresholds(str(tmp_path / "a"), str(tmp_path / "t"), overrides={"gopher": {"x": 1}})
    with pytest.raises(ConfigError, match="has no parameter 'min_wrds'"):
        apply_thresholds(str(tmp_path / "a"), str(tmp_path / "t"), overrides={"length": {"min_wrds": 1}})


def test_parquet_output_loads_with_hf_datasets(corpus_dir: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "out"
    # two inputs with different metadata columns: the commit unifies the schema across files
    other = tmp_path / "extra.jsonl"
    other.write_text('{"id": "x1", "text": "a document from elsewhere", "rating": 4.5}\n', encoding="utf-8")
    cfg = _config(corpus_dir, out, [], output={"path": str(out), "shard_size": "100KB"})
    cfg["input"].append({"path": str(other), "license": "CC0-1.0"})
    m = Pipeline.from_dict(cfg).run().manifest
    assert len(m["files"]) > 2  # the target size cut the output into several files
    files = sorted(str(out / f["path"]) for f in m["files"])
    ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == m["counts"]["documents_out"]
    assert {"id", "text", "license", "rating"} <= set(ds.column_names)
    assert ds[ds.num_rows - 1]["rating"] == 4.5


def test_missing_path_is_a_config_error(tmp_path: Path) -> None:
    cfg = {"input": {"path": str(tmp_path / "nope.jsonl")}, "output": {"path": str(tmp_path / "out")}}
    with pytest.raises(ConfigError, match=r"input\[0\]\.path: no such file"):
        Pipeline.from_dict(cfg).run()


def test_empty_input_file_is_an_error_naming_it(tmp_path: Path) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_text("")
    cfg = {"input": {"path": str(src)}, "output": {"path": str(tmp_path / "out")}, "executor": {"workers": 1}}
    with pytest.raises(InputDataError, match=r"empty\.jsonl: the file is empty"):
        Pipeline.from_dict(cfg).run()


def test_result_license() -> None:
    assert result_license({}) == "NOASSERTION"
    assert result_license({"MIT": 2}) == "MIT"
    assert result_license({"MIT": 1, "GPL-2.0-only OR MIT": 1}) == "(GPL-2.0-only OR MIT) AND MIT"


def test_workdir_is_removed_after_commit(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    Pipeline.from_dict(_config(corpus_dir, out, ["exact_dedup"])).run()
    assert not (out / ".gencommons").exists()
    assert sorted(os.listdir(out)) == ["data", "manifest.json", "rejected"]
    assert sorted(os.listdir(out / "data")) == ["part-00000-0000.parquet", "part-00001-0000.parquet"]
    # the data folder reads as one table, without the rejected rows
    assert pq.read_table(out / "data").num_rows == read_manifest(str(out))["counts"]["documents_out"]
    shutil.rmtree(out)


def test_shard_plan_depends_on_files_only(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(100):
        (folder / f"{i:03d}.txt").write_text(f"document {i} " * 20)
    base = {"input": {"path": str(folder), "format": "text"}, "output": {"path": str(tmp_path / "o")}}
    plans = []
    for workers in (1, 2, 7):
        cfg = dict(base, executor={"workers": workers})
        shards = Pipeline.from_dict(cfg).plan_shards()
        plans.append([[f.path for f in s.files] for s in shards])
    assert plans[0] == plans[1] == plans[2]
    assert 16 <= len(plans[0]) <= 20  # small files are grouped, but into enough shards for parallelism
    assert [p for s in plans[0] for p in s] == sorted(str(p) for p in folder.iterdir())


def test_resource_plan_estimates_and_refuses(corpus_dir: Path, tmp_path: Path) -> None:
    from gencommons.data import resources

    cfg = _config(corpus_dir, tmp_path / "out", ["exact_dedup", "minhash_dedup"])
    plan = Pipeline.from_dict(cfg).resource_plan(workers=2)
    n = len(_input_records(corpus_dir))
    assert 0.5 * n <= plan.docs <= 2 * n  # the estimate of the document count is in the right range
    names = [e.stage for e in plan.stages]
    assert names == [
        "map 0",
        "exact_dedup · find duplicates",
        "map 1",
        "minhash_dedup · buckets",
        "minhash_dedup · clusters",
        "map 2 (output)",
    ]
    assert plan.peak_memory > 0
    assert plan.disk > 0
    # a machine too small for the plan: the run refuses with the estimate, and writes nothing
    tiny = resources.Plan(plan.docs, plan.text_bytes, [resources.Estimate("map 0", 1, 10**15, 1)], 1)
    with pytest.raises(UserError, match=r"will not fit: peak memory .* > .* of RAM(.|\n)*whole run"):
        resources.check_fits(tiny, str(tmp_path / "out"))


def test_apply_thresholds_refuses_set_dependent_global_steps(corpus_dir: Path, tmp_path: Path) -> None:
    steps = [{"length": {"mode": "annotate"}}, {"minhash_dedup": {"mode": "annotate"}}]
    ann = Pipeline.from_dict(_config(corpus_dir, tmp_path / "a", steps)).run().manifest
    assert ann["counts"]["documents_out"] == ann["counts"]["documents_in"]
    with pytest.raises(ConfigError, match="minhash_dedup ran in annotate mode, but its result depends"):
        apply_thresholds(str(tmp_path / "a"), str(tmp_path / "t"))


def test_resource_plan_covers_substring_dedup(corpus_dir: Path, tmp_path: Path) -> None:
    plan = Pipeline.from_dict(_config(corpus_dir, tmp_path / "out", ["substring_dedup"])).resource_plan(
        workers=1
    )
    assert [e.stage for e in plan.stages] == [
        "map 0",
        "substring_dedup · find repeated spans",
        "map 1 (output)",
    ]


def test_output_folder_with_glob_characters(corpus_dir: Path, tmp_path: Path) -> None:
    """An output folder named like a glob pattern (``[data]``, ``*``, ``?``) is a folder: the global
    steps find their own work files in it, and the result equals a run into a plain folder."""
    steps = ["exact_dedup", "minhash_dedup", {"substring_dedup": {"min_tokens": 20}}]
    plain = Pipeline.from_dict(_config(corpus_dir, tmp_path / "plain", steps)).run().manifest
    odd_out = tmp_path / "run [data]*?" / "out"
    odd = Pipeline.from_dict(_config(corpus_dir, odd_out, steps)).run().manifest
    timeless = [{k: v for k, v in s.items() if k != "seconds"} for s in plain["steps"]]
    assert [{k: v for k, v in s.items() if k != "seconds"} for s in odd["steps"]] == timeless
    assert [r["id"] for r in _read_all(odd_out)] == [r["id"] for r in _read_all(tmp_path / "plain")]
    assert 0 < odd["counts"]["documents_out"] < odd["counts"]["documents_in"]
