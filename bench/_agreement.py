"""Which documents each tool kept, where they disagree, and which rule's numbers explain it.

* ``gencommons_decisions`` / ``datatrove_decisions``: kept ids and the drop reason of every other id,
  from gencommons' output and ``rejected/`` sink, and from datatrove's writer and per-filter exclusion
  writers (``filter_reason`` metadata).
* ``agreement``: the share of documents both tools keep or both drop; every disagreement grouped by
  (gencommons reason, datatrove filter:reason).
* ``rule_numbers`` / ``classify``: for a rule, the score column gencommons stores and the quantity
  datatrove's filter compares; a disagreement is *explained* when the two numbers fall on opposite
  sides of the rule's limit, each on the side of its tool's verdict.
* ``gencommons_scores``: every step's score columns for a few documents, steps chained as in a run.
"""

from __future__ import annotations

import gzip
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq


def gencommons_decisions(out: Path) -> tuple[set[str], dict[str, str]]:
    """(kept ids, dropped id -> reason) of a finished gencommons output folder: the files its
    manifest lists, and its ``rejected/`` sink (one row per dropped document, with ``reason``)."""
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    kept: set[str] = set()
    for f in manifest["files"]:
        kept.update(pq.read_table(out / f["path"], columns=["id"])["id"].to_pylist())
    dropped: dict[str, str] = {}
    for f in sorted((out / "rejected").glob("*.parquet")):
        t = pq.read_table(f, columns=["id", "reason"])
        dropped.update(zip(t["id"].to_pylist(), t["reason"].to_pylist(), strict=True))
    counts = manifest["counts"]
    if (len(kept), len(dropped)) != (counts["documents_out"], counts.get("rejected", len(dropped))):
        raise SystemExit(
            f"{out}: read {len(kept)} kept and {len(dropped)} rejected ids, but the manifest "
            f"counts {counts['documents_out']} and {counts.get('rejected')}"
        )
    return kept, dropped


def datatrove_decisions(out: Path) -> tuple[set[str], dict[str, str]]:
    """(kept ids, dropped id -> "<step>:<datatrove reason>") from its writer and exclusion writers."""
    kept: set[str] = set()
    for f in sorted((out / "kept").glob("*.jsonl.gz")):
        with gzip.open(f, "rb") as fh:
            kept.update(orjson.loads(line)["id"] for line in fh)
    dropped: dict[str, str] = {}
    for step_dir in sorted((out / "excluded").glob("*")):
        for f in sorted(step_dir.glob("*.jsonl.gz")):
            with gzip.open(f, "rb") as fh:
                for line in fh:
                    rec = orjson.loads(line)
                    reason = (rec.get("metadata") or {}).get("filter_reason") or "drop"
                    dropped[rec["id"]] = f"{step_dir.name}:{reason}"
    return kept, dropped


def agreement(
    ours: tuple[set[str], dict[str, str]], theirs: tuple[set[str], dict[str, str]], all_ids: set[str]
) -> dict[str, Any]:
    gk, gd = ours
    dk, dd = theirs
    assert not gk & set(gd), "gencommons both kept and dropped a document"
    assert not dk & set(dd), "datatrove both kept and dropped a document"
    missing = {"gencommons": len(all_ids - gk - set(gd)), "datatrove": len(all_ids - dk - set(dd))}
    pairs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for i in sorted(all_ids):
        if (i in gk) != (i in dk):
            pairs[(gd.get(i, "kept"), dd.get(i, "kept"))].append(i)
    n_dis = sum(len(v) for v in pairs.values())
    both_dropped = sorted(set(gd) & set(dd))
    other_reason = Counter((gd[i], dd[i]) for i in both_dropped if not same_reason(gd[i], dd[i]))
    return {
        "documents": len(all_ids),
        "kept_gencommons": len(gk),
        "kept_datatrove": len(dk),
        "kept_both": len(gk & dk),
        "disagree": n_dis,
        "agreement": 1 - n_dis / len(all_ids),
        "unaccounted": missing,
        "pairs": [
            {"gencommons": a, "datatrove": b, "count": len(ids), "examples": ids[:2], "ids": ids}
            for (a, b), ids in sorted(pairs.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ],
        "dropped_both": len(both_dropped),
        "dropped_both_same_reason": len(both_dropped) - sum(other_reason.values()),
        "dropped_both_other_reason": [
            {"gencommons": a, "datatrove": b, "count": n} for (a, b), n in other_reason.most_common()
        ],
        "reasons_gencommons": dict(Counter(gd.values()).most_common()),
        "reasons_datatrove": dict(Counter(dd.values()).most_common()),
    }


_DT_GOPHER = {
    "gopher_short_doc": "too_few_words",
    "gopher_long_doc": "too_many_words",
    "gopher_below_avg_threshold": "mean_word_length",
    "gopher_above_avg_threshold": "mean_word_length",
    "gopher_too_many_hashes": "hash_ratio",
    "gopher_too_many_ellipsis": "ellipsis_ratio",
    "gopher_too_many_bullets": "bullet_lines",
    "gopher_too_many_end_ellipsis": "ellipsis_lines",
    "gopher_below_alpha_threshold": "alpha_words",
    "gopher_enough_stop_words": "stop_words",
}


def as_gencommons_reason(reason: str) -> str:
    """A datatrove ``<step>:<reason>`` in gencommons' vocabulary (``length:*``: any length rule)."""
    step, _, why = reason.partition(":")
    if step == "gopher_quality":
        return f"{step}:{_DT_GOPHER.get(why, why)}"
    if step == "gopher_repetition":
        if why.startswith("duplicated_"):
            return f"{step}:dup_{why.split('_')[1]}_gram"
        return reason
    if step == "c4_badwords":
        return "c4_quality:bad_words"
    if step == "length":
        return "length:*"
    return reason


def same_reason(ours: str, theirs: str) -> bool:
    mapped = as_gencommons_reason(theirs)
    return ours.split(":")[0] == "length" if mapped == "length:*" else ours == mapped


def rule_numbers(rule: str) -> tuple[str, str, str, str, Any] | None:
    """For a gencommons reason: (its step, its score column, datatrove's step, datatrove's number,
    test(value, gencommons params of the step) -> True when the rule drops)."""
    step, _, r = rule.partition(":")
    gq = {
        "too_few_words": ("gopher_word_count", "non_symbol_words", lambda v, p: _lt(v, p["min_doc_words"])),
        "too_many_words": ("gopher_word_count", "non_symbol_words", lambda v, p: _gt(v, p["max_doc_words"])),
        "mean_word_length": (
            "gopher_mean_word_length",
            "mean_word_length",
            lambda v, p: _lt(v, p["min_avg_word_length"]) or _gt(v, p["max_avg_word_length"]),
        ),
        "hash_ratio": ("gopher_hash_ratio", "hash_ratio", lambda v, p: _gt(v, p["max_symbol_word_ratio"])),
        "ellipsis_ratio": (
            "gopher_ellipsis_ratio",
            "ellipsis_ratio",
            lambda v, p: _gt(v, p["max_symbol_word_ratio"]),
        ),
        "bullet_lines": (
            "gopher_bullet_lines_ratio",
            "bullet_lines_ratio",
            lambda v, p: _gt(v, p["max_bullet_lines_ratio"]),
        ),
        "ellipsis_lines": (
            "gopher_ellipsis_lines_ratio",
            "end_ellipsis_lines_ratio",
            lambda v, p: _gt(v, p["max_ellipsis_lines_ratio"]),
        ),
        "alpha_words": (
            "gopher_alpha_words_ratio",
            "alpha_words_ratio",
            lambda v, p: _lt(v, p["min_alpha_words_ratio"]),
        ),
        "stop_words": ("gopher_stop_words", "stop_words", lambda v, p: _lt(v, p["min_stop_words"])),
    }
    if step == "gopher_quality" and r in gq:
        col, key, test = gq[r]
        return step, col, step, key, test
    if step == "gopher_repetition":
        if r in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"):
            return step, f"gopher_{r}", step, r, lambda v, p: _gt(v, p[r])
        kind, n, _ = r.split("_")  # top_2_gram, dup_5_gram
        table = "top_n_grams" if kind == "top" else "dup_n_grams"
        return (
            step,
            f"gopher_{kind}_{n}_gram_char_frac",
            step,
            f"{kind}_{n}_gram_char_frac",
            lambda v, p: _gt(v, _ngram_limit(p[table], int(n))),
        )
    if step == "c4_quality":
        if r == "too_few_sentences":
            return step, "c4_sentences", step, "sentences", lambda v, p: _lt(v, p["min_num_sentences"])
        if r in ("lorem_ipsum", "curly_bracket"):
            return step, f"c4_{r}", step, r, lambda v, p: bool(v)
        if r == "bad_words":
            return step, "c4_bad_words", "c4_badwords", "bad_word", lambda v, p: bool(v)
    if step == "length":
        unit = "words" if r.endswith("words") else "chars"
        bound = ("min_" if r.startswith("too_few") else "max_") + unit
        cmp = _lt if r.startswith("too_few") else _gt
        return step, f"length_{unit}", step, unit, lambda v, p: cmp(v, p[bound])
    return None


def _lt(v: Any, limit: Any) -> bool:
    return limit is not None and v is not None and v < limit


def _gt(v: Any, limit: Any) -> bool:
    return limit is not None and v is not None and v > limit


def _ngram_limit(table: Any, n: int) -> Any:
    if isinstance(table, dict):
        return table.get(str(n), table.get(n))  # type: ignore[call-overload]
    return dict(table).get(n)


# Why a rule's number differs between the tools: the documented definitional differences
# (gencommons' step docstrings, datatrove 0.10's code). Shown only where the numbers confirm it.
CAUSES = {
    "gopher_quality": "token boundaries: gencommons' regex tokens vs spaCy's (list markers 'a.', 'and/or', "
    "'2(a)', '10km', contractions)",
    "gopher_repetition": "token boundaries (as for gopher_quality) change the n-grams",
    "c4_quality:too_few_sentences": "sentence ends: gencommons' regex vs spaCy's sentencizer (e.g. '?”—Does' "
    "is a break for gencommons only)",
    "c4_quality": "which lines survive C4's line rules",
    "length": "the word count of the text C4 left; the tools' C4 kept different lines",
}


def classify(
    agree: dict[str, Any], explained: dict[str, dict[str, Any]], steps: list[tuple[str, dict[str, Any]]]
) -> None:
    """Add to every disagreement pair: its rule, and how many of its docs the rule's numbers explain
    (the two tools' numbers fall on opposite sides of the limit, each on the side of its verdict)."""
    gparams = dict(steps)
    for pair in agree["pairs"]:
        ours, theirs = pair["gencommons"], pair["datatrove"]
        rule = ours if ours != "kept" else as_gencommons_reason(theirs)
        pair["rule"] = rule
        pair["explained"] = 0
        pair["numbers"] = {}
        for i in pair["ids"]:
            e = explained.get(i)
            if e is None:
                continue
            r = rule
            if r == "length:*":  # datatrove's lambda gives no reason: find the length rule its numbers break
                p = gparams["length"]
                dt = e["datatrove"]["length"]
                r = next(
                    (
                        c
                        for c in (
                            "length:too_few_chars",
                            "length:too_many_chars",
                            "length:too_few_words",
                            "length:too_many_words",
                        )
                        if (spec := rule_numbers(c)) and spec[4](dt.get(spec[3]), p)
                    ),
                    "length:too_few_words",
                )
                pair["rule"] = r
            spec = rule_numbers(r)
            if spec is None:
                continue
            gstep, gcol, dstep, dkey, test = spec
            gv = e["gencommons"].get(gstep, {}).get(gcol)
            dv = e["datatrove"].get(dstep, {}).get(dkey)
            p = gparams[gstep]
            g_drops, d_drops = test(gv, p), test(dv, p)
            if g_drops == (ours != "kept") and d_drops == (theirs != "kept"):
                pair["explained"] += 1
            pair["numbers"][i] = {"gencommons": gv, "datatrove": dv}
        step, _, r = pair["rule"].partition(":")
        pair["cause"] = (
            CAUSES.get(f"{step}:{r}") or CAUSES.get(f"{step}:{r.split('_')[0]}") or CAUSES.get(step, "")
        )


def limit_text(rule: str, steps: list[tuple[str, dict[str, Any]]]) -> str:
    """The threshold of a rule, for the report ("min_alpha_words_ratio 0.8")."""
    step, _, r = rule.partition(":")
    p = dict(steps).get(step, {})
    keys = {
        "too_few_words": ["min_doc_words" if step == "gopher_quality" else "min_words"],
        "too_many_words": ["max_doc_words" if step == "gopher_quality" else "max_words"],
        "mean_word_length": ["min_avg_word_length", "max_avg_word_length"],
        "hash_ratio": ["max_symbol_word_ratio"],
        "ellipsis_ratio": ["max_symbol_word_ratio"],
        "bullet_lines": ["max_bullet_lines_ratio"],
        "ellipsis_lines": ["max_ellipsis_lines_ratio"],
        "alpha_words": ["min_alpha_words_ratio"],
        "stop_words": ["min_stop_words"],
        "too_few_sentences": ["min_num_sentences"],
    }.get(r, [r] if r in p else [])
    if step == "gopher_repetition" and r.endswith("_gram"):
        kind, n, _ = r.split("_")
        return f"{kind}_n_grams[{n}] {_ngram_limit(p['top_n_grams' if kind == 'top' else 'dup_n_grams'], int(n))}"
    return ", ".join(f"{k} {p[k]}" for k in keys if k in p)


def gencommons_scores(
    docs: list[dict[str, str]], steps: list[tuple[str, dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """Every step's score columns and reason for each doc, steps chained as in the pipeline (C4's
    cleaned text feeds ``length``), nothing dropped on the way (like ``mode: annotate``)."""
    import pyarrow as pa

    from gencommons.data.step import steps as registry

    batch = pa.table(
        {"id": [d["id"] for d in docs], "text": pa.array([d["text"] for d in docs], pa.large_string())}
    )
    out: dict[str, dict[str, Any]] = {d["id"]: {} for d in docs}
    for name, p in steps:
        step = registry[name]
        params = step.params(**p)
        scores = step.measure(batch, params)
        if "text" in scores.columns:
            batch = batch.set_column(
                batch.column_names.index("text"), "text", scores["text"].to_arrow().cast(pa.large_string())
            )
            scores = scores.drop("text")
        reasons = scores.select(step.reason_expr(params)).to_series().to_list()
        rows = scores.to_dicts()
        for d, row, reason in zip(docs, rows, reasons, strict=True):
            out[d["id"]][name] = {"reason": reason, **{k: _round(v) for k, v in row.items()}}
    return out


def _round(v: Any) -> Any:
    return round(v, 4) if isinstance(v, float) else v
