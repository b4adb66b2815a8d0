"""``gencommons data contamination``: how much of each evaluation example occurs in a training corpus.

**Method** (GPT-3, Brown et al. 2020, Appendix C; lm-evaluation-harness's decontamination): an example
is the concatenation of its ``fields``; text is split into lowercased ``\\w+`` words (``tokens.py``);
its word n-grams (``n = 13`` by default) are looked up among the n-grams of every corpus document, by
64-bit hashes in one streaming pass (false match probability ~ corpus n-grams × eval n-grams / 2^64).
Per example:

* ``fraction``: share of its distinct n-grams found in the corpus;
* ``longest_span_words``: the longest run of consecutive words of the example all of whose n-grams
  occur in the corpus (``run + n − 1`` words; an upper bound of the longest span found verbatim in one
  document, equal to it when the n-grams come from the same place), with its text;
* ``matching_documents``: how many corpus documents hold at least one of its n-grams, and the first
  ``max_docs`` ids;
* ``contaminated``: ``fraction > threshold`` (0 by default: any shared n-gram flags, as GPT-3 did).

An example with fewer than ``n`` words has no n-gram: it is reported ``too_short`` and never flagged
(count it with ``gencommons data count`` instead). The per-benchmark rate is contaminated / examples.
Memory: the eval n-grams (8 B each plus the example map) and one batch of the corpus.

``load_eval_ngrams`` is shared with the ``decontaminate`` pipeline step.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from gencommons.data.analysis.dataset import iter_tables, open_dataset
from gencommons.data.analysis.tokens import WORD, word_ngram_hashes
from gencommons.errors import UserError

DEFAULT_FIELDS = ("question", "answer")


@dataclass(frozen=True)
class EvalExample:
    benchmark: str
    id: str
    text: str


def _benchmark_name(path: str) -> str:
    name = os.path.basename(path)
    for ext in (".gz", ".zst", ".jsonl", ".json"):
        name = name.removesuffix(ext)
    return name


def _field_text(v: Any) -> str:
    if isinstance(v, list):
        return " ".join(_field_text(x) for x in v)
    return "" if v is None else str(v)


def load_eval_set(
    path: str, *, fields: tuple[str, ...] = DEFAULT_FIELDS, id_field: str = "id"
) -> list[EvalExample]:
    """The examples of one JSONL(.gz) eval file; each of ``fields`` must be in every record."""
    if not fields:
        raise UserError(
            "No eval fields given: name the fields that hold the example text (--fields question,answer)."
        )
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such eval file (expected JSONL with the fields {', '.join(fields)}).")
    opener: Any = gzip.open if path.endswith(".gz") else open
    bench = _benchmark_name(path)
    out = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{no}: not valid JSON ({e.msg}).") from None
            if not isinstance(rec, dict):
                raise UserError(f"{path}:{no}: expected a JSON object per line.")
            missing = [f for f in fields if f not in rec]
            if missing:
                raise UserError(
                    f"{path}:{no}: no field {', '.join(repr(m) for m in missing)} (the record has "
                    f"{', '.join(map(repr, rec)) or 'no fields'}). Choose the text fields with --fields."
                )
            ex_id = str(rec.get(id_field, f"{bench}:{no}"))
            out.append(EvalExample(bench, ex_id, "\n".join(_field_text(rec[f]) for f in fields)))
    if not out:
        raise UserError(f"{path}: no examples.")
    return out


@dataclass(frozen=True)
class EvalNgrams:
    """The n-grams of a list of examples: ``hashes`` (sorted, distinct), each example's distinct n-gram
    indices into ``hashes`` in text order, and the inverse map (CSR: ``owners`` of
    hash i are ``owner_ex[owner_ptr[i]:owner_ptr[i+1]]``)."""

    n: int
    examples: list[EvalExample]
    hashes: np.ndarray
    per_example: list[np.ndarray]
    owner_ptr: np.ndarray
    owner_ex: np.ndarray

    def lookup(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask of the hashes that are eval n-grams, their indices into ``hashes``)."""
        if not len(self.hashes):
            return np.zeros(len(h), bool), np.zeros(0, np.int64)
        i = np.searchsorted(self.hashes, h)
        i[i == len(self.hashes)] = 0
        hit = self.hashes[i] == h
        return hit, i[hit]


def eval_ngrams(examples: list[EvalExample], n: int) -> EvalNgrams:
    h, doc = word_ngram_hashes(pl.Series([e.text for e in examples], dtype=pl.String), n)
    hashes = np.unique(h)
    idx = np.searchsorted(hashes, h)
    bounds = np.searchsorted(doc, np.arange(len(examples) + 1))
    per = [idx[bounds[e] : bounds[e + 1]] for e in range(len(examples))]  # text order: runs need positions
    pairs = np.unique(np.stack([idx, doc]), axis=1) if len(idx) else np.zeros((2, 0), np.int64)
    owner_ptr = np.searchsorted(pairs[0], np.arange(len(hashes) + 1))
    return EvalNgrams(n, examples, hashes, per, owner_ptr, pairs[1].astype(np.int64))


def _stamp(path: str) -> tuple[str, int, int]:
    st = os.stat(path)
    return path, st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=4)
def _cached(
    stamps: tuple[tuple[str, int, int], ...], fields: tuple[str, ...], id_field: str, n: int
) -> EvalNgrams:
    examples = [e for path, _, _ in stamps for e in load_eval_set(path, fields=fields, id_field=id_field)]
    return eval_ngrams(examples, n)


def load_eval_ngrams(
    paths: list[str] | tuple[str, ...],
    *,
    fields: tuple[str, ...] = DEFAULT_FIELDS,
    id_field: str = "id",
    n: int = 13,
) -> EvalNgrams:
    """The n-grams of several eval files, read once per process (reloaded when a file changes)."""
    for p in paths:
        if not os.path.isfile(p):
            raise UserError(f"{p}: no such eval file.")
    return _cached(tuple(_stamp(p) for p in paths), tuple(fields), id_field, n)


def _longest_run(found: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of True."""
    best, cur = (0, 0), 0
    for i, f in enumerate(found.tolist()):
        cur = cur + 1 if f else 0
        if cur > best[1]:
            best = (i - cur + 1, cur)
    return best


def check_contamination(
    dataset: str,
    evals: list[str],
    *,
    fields: tuple[str, ...] = DEFAULT_FIELDS,
    id_field: str = "id",
    n: int = 13,
    threshold: float = 0.0,
    max_docs: int = 10,
    batch_rows: int = 2048,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The contamination report of ``evals`` in ``dataset`` (see the module docstring), JSON-ready."""
    t0 = time.perf_counter()
    if n < 1:
        raise UserError(f"n must be >= 1, got {n}.")
    ev = load_eval_ngrams(evals, fields=fields, id_field=id_field, n=n)
    ds = open_dataset(dataset)
    found = np.zeros(len(ev.hashes), dtype=bool)
    n_docs = np.zeros(len(ev.examples), dtype=np.int64)
    doc_ids: list[list[str]] = [[] for _ in ev.examples]
    done = 0
    for t in iter_tables(ds, columns=["id", "text"], batch_rows=batch_rows):
        h, doc = word_ngram_hashes(t["text"], n)
        hit, idx = ev.lookup(h)
        if len(idx):
            found[idx] = True
            pairs = np.unique(np.stack([idx, doc[hit]]), axis=1)  # (hash, doc) once each
            ex_doc = set()
            for hi, d in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
                for e in ev.owner_ex[ev.owner_ptr[hi] : ev.owner_ptr[hi + 1]].tolist():
                    ex_doc.add((e, d))
            ids = t["id"].to_pylist() if "id" in t.column_names else None
            for e, d in sorted(ex_doc):
                n_docs[e] += 1
                if len(doc_ids[e]) < max_docs:
                    doc_ids[e].append(str(ids[d]) if ids else f"{done + d}")
        done += t.num_rows
        if progress:
            progress(done, 0)
    records = []
    words_of = pl.Series([e.text for e in ev.examples]).str.extract_all(WORD).to_list()
    for e, ex in enumerate(ev.examples):
        seq = ev.per_example[e]
        words = [w.lower() for w in (words_of[e] or [])]
        rec: dict[str, Any] = {"benchmark": ex.benchmark, "id": ex.id, "words": len(words), "ngrams": 0}
        if not len(seq):
            rec.update(too_short=True, fraction=None, found=0, longest_span_words=0, longest_span="")
            rec.update(matching_documents=0, document_ids=[], contaminated=False)
            records.append(rec)
            continue
        hits = found[seq]
        distinct = np.unique(seq)
        frac = float(found[distinct].mean())
        start, run = _longest_run(hits)
        span = run + n - 1 if run else 0
        rec.update(
            too_short=False,
            ngrams=len(distinct),
            found=int(found[distinct].sum()),
            fraction=frac,
            longest_span_words=span,
            longest_span=" ".join(words[start : start + span]) if run else "",
            matching_documents=int(n_docs[e]),
            document_ids=doc_ids[e],
            contaminated=frac > threshold,
        )
        records.append(rec)
    benches: dict[str, dict[str, Any]] = {}
    for r in records:
        b = benches.setdefault(r["benchmark"], {"examples": 0, "contaminated": 0, "too_short": 0})
        b["examples"] += 1
        b["contaminated"] += int(r["contaminated"])
        b["too_short"] += int(r["too_short"])
    for b in benches.values():
        b["rate"] = b["contaminated"] / b["examples"]
    return {
        "dataset": dataset,
        "content_id": (ds.manifest or {}).get("content_id"),
        "evals": [os.path.abspath(p) for p in evals],
        "fields": list(fields),
        "n": n,
        "threshold": threshold,
        "documents": done,
        "benchmarks": benches,
        "examples": records,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def render_contamination(r: dict[str, Any], *, show: int = 200) -> str:
    """The report as a self-contained HTML page (contaminated examples first)."""
    from gencommons.data.analysis.report import esc, page, table

    body = [f"<h1>Contamination: {esc(os.path.basename(os.path.normpath(r['dataset'])))}</h1>"]
    body.append(
        f'<p class="note">{r["n"]}-gram overlap of lowercased \\w+ words, fields {esc(", ".join(r["fields"]))}; '
        f"an example is flagged when more than {r['threshold']:.0%} of its n-grams occur in the corpus "
        f"({r['documents']:,} documents).</p>"
    )
    body.append("<h2>Benchmarks</h2>")
    rows = [
        [k, v["examples"], v["contaminated"], v["rate"], v["too_short"]] for k, v in r["benchmarks"].items()
    ]
    body.append(
        table(["benchmark", "examples", "contaminated", "rate", f"shorter than {r['n']} words"], rows)
    )
    body.append("<h2>Examples</h2>")
    ex = sorted(r["examples"], key=lambda x: (not x["contaminated"], -(x["fraction"] or 0)))[:show]
    rows = [
        [
            x["benchmark"],
            x["id"],
            "yes" if x["contaminated"] else "no",
            x["fraction"],
            x["longest_span_words"],
            x["longest_span"][:300],
            x["matching_documents"],
            ", ".join(x["document_ids"][:3]),
        ]
        for x in ex
    ]
    body.append(
        table(
            ["benchmark", "id", "flag", "n-grams found", "longest span (words)", "span", "documents", "e.g."],
            rows,
        )
    )
    return page("Contamination report", body)
