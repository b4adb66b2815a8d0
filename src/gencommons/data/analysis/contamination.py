"""``gencommons data contamination``: how much of each evaluation example occurs in a training corpus.

**Method** (GPT-3, Brown et al. 2020, Appendix C; lm-evaluation-harness's decontamination): an example
is the concatenation of its ``fields``; text is split into lowercased ``\\w+`` words (``tokens.py``);
its word n-grams (``n = 13`` by default) are looked up among the n-grams of every corpus document, by
64-bit hashes in one streaming pass (false match probability ~ corpus n-grams × eval n-grams / 2^64).
Per example:

* ``fraction``: share of its distinct n-grams found in the corpus;
* ``longest_span_words``: the longest span of the example (in normalized words, at least ``n``) that
  occurs verbatim in one corpus document, with its text and that document's id. Exact: every matching
  n-gram is kept with its position in the document, and a span is a run of consecutive example
  positions ``i`` matched at consecutive document positions ``p`` (the same diagonal ``p − i`` of the
  same document);
* ``matching_documents``: how many corpus documents hold at least one of its n-grams, and the first
  ``max_docs`` ids;
* ``contaminated``: ``fraction > threshold`` (0 by default: any shared n-gram flags, as GPT-3 did).

An example with fewer than ``n`` words has no n-gram: it is reported ``too_short`` and never flagged
(count it with ``gencommons data count`` instead). The per-benchmark rate is contaminated / examples.
Memory: the eval n-grams (8 B each plus the example map) and one batch of the corpus.

**Parallel.** Each part of the corpus (``parallel.py``) is one task, locally or on Ray; the parts'
results are merged in part order (found n-grams by union, document counts by sum, document ids and
the longest span as the first part to find them), so every executor gives the same report.

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

from gencommons.data.analysis.dataset import AnalysisDataset, Part, iter_tables, open_dataset
from gencommons.data.analysis.parallel import Parallel, parts_of, report, run_tasks
from gencommons.data.analysis.tokens import WORD, word_ngram_positions
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
    """The n-grams of a list of examples: ``hashes`` (sorted, distinct), each example's n-gram indices
    into ``hashes`` in text order (position i = the n-gram starting at word i), and two inverse maps
    (CSR): the examples holding hash h are ``owner_ex[owner_ptr[h]:owner_ptr[h+1]]`` (once each), its
    occurrences are ``(occ_ex, occ_pos)[occ_ptr[h]:occ_ptr[h+1]]`` (example, position)."""

    n: int
    examples: list[EvalExample]
    hashes: np.ndarray
    per_example: list[np.ndarray]
    owner_ptr: np.ndarray
    owner_ex: np.ndarray
    occ_ptr: np.ndarray
    occ_ex: np.ndarray
    occ_pos: np.ndarray

    def lookup(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask of the hashes that are eval n-grams, their indices into ``hashes``)."""
        if not len(self.hashes):
            return np.zeros(len(h), bool), np.zeros(0, np.int64)
        i = np.searchsorted(self.hashes, h)
        i[i == len(self.hashes)] = 0
        hit = self.hashes[i] == h
        return hit, i[hit]


def eval_ngrams(examples: list[EvalExample], n: int) -> EvalNgrams:
    h, doc, pos = word_ngram_positions(pl.Series([e.text for e in examples], dtype=pl.String), n)
    hashes = np.unique(h)
    idx = np.searchsorted(hashes, h)
    bounds = np.searchsorted(doc, np.arange(len(examples) + 1))
    per = [idx[bounds[e] : bounds[e + 1]] for e in range(len(examples))]  # text order: runs need positions
    pairs = np.unique(np.stack([idx, doc]), axis=1) if len(idx) else np.zeros((2, 0), np.int64)
    owner_ptr = np.searchsorted(pairs[0], np.arange(len(hashes) + 1))
    order = np.argsort(idx, kind="stable")
    occ_ptr = np.searchsorted(idx[order], np.arange(len(hashes) + 1))
    return EvalNgrams(
        n, examples, hashes, per, owner_ptr, pairs[1].astype(np.int64), occ_ptr, doc[order], pos[order]
    )


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


def longest_spans(
    ev: EvalNgrams, hi: np.ndarray, doc: np.ndarray, pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The longest verbatim match per example among matched corpus n-grams.

    ``hi``, ``doc``, ``pos``: for each corpus n-gram that is an eval n-gram, its index into
    ``ev.hashes``, its document and its position there. Returns ``(examples, runs, starts, docs)``:
    for each example with a match, the longest run of consecutive n-grams (``run + n − 1`` words)
    matched at consecutive positions of one document, where it starts in the example, and the document
    (the first such run in (document, position) order).
    """
    counts = ev.occ_ptr[hi + 1] - ev.occ_ptr[hi]
    total = int(counts.sum())
    if not total:
        z = np.zeros(0, np.int64)
        return z, z, z, z
    row = np.repeat(np.arange(len(hi)), counts)
    first = np.repeat(ev.occ_ptr[hi] - (np.cumsum(counts) - counts), counts)
    at = first + np.arange(total)
    e, i = ev.occ_ex[at], ev.occ_pos[at]
    d, diag = doc[row], pos[row] - i
    o = np.lexsort((i, diag, d, e))
    e, d, diag, i = e[o], d[o], diag[o], i[o]
    brk = np.ones(total, bool)
    brk[1:] = (e[1:] != e[:-1]) | (d[1:] != d[:-1]) | (diag[1:] != diag[:-1]) | (i[1:] != i[:-1] + 1)
    starts = np.flatnonzero(brk)
    runs = np.diff(np.append(starts, total))
    re_, rd, ri, rp = e[starts], d[starts], i[starts], diag[starts] + i[starts]
    best = np.lexsort((ri, rp, rd, -runs, re_))  # per example: longest, then first document and place
    keep = best[np.r_[True, re_[best][1:] != re_[best][:-1]]]
    return re_[keep], runs[keep], ri[keep], rd[keep]


def _check_part(
    task: tuple[AnalysisDataset, Part, tuple[str, ...], tuple[str, ...], str, int, int, int],
) -> dict[str, Any]:
    """One task: the eval n-grams found in one part of the corpus, documents per example, longest spans."""
    ds, part, evals, fields, id_field, n, max_docs, batch_rows = task
    ev = load_eval_ngrams(evals, fields=fields, id_field=id_field, n=n)
    found: list[np.ndarray] = []
    n_docs = np.zeros(len(ev.examples), dtype=np.int64)
    doc_ids: dict[int, list[str]] = {}
    span_run = np.zeros(len(ev.examples), np.int64)
    span_start = np.zeros(len(ev.examples), np.int64)
    span_doc: dict[int, str] = {}
    done = 0
    for t in iter_tables(ds, columns=["id", "text"], batch_rows=batch_rows, part=part):
        h, doc, pos = word_ngram_positions(t["text"], n)
        hit, idx = ev.lookup(h)
        if len(idx):
            found.append(np.unique(idx))
            if "id" in t.column_names:
                ids = [str(x) for x in t["id"].to_pylist()]
            elif part.first_row >= 0:
                ids = [str(part.first_row + done + k) for k in range(t.num_rows)]
            else:
                ids = [f"{os.path.basename(part.file)}:{done + k}" for k in range(t.num_rows)]
            pairs = np.unique(np.stack([idx, doc[hit]]), axis=1)  # (hash, doc) once each
            ex_doc = set()
            for hi, d in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
                for e in ev.owner_ex[ev.owner_ptr[hi] : ev.owner_ptr[hi + 1]].tolist():
                    ex_doc.add((e, d))
            for e, d in sorted(ex_doc):
                n_docs[e] += 1
                lst = doc_ids.setdefault(e, [])
                if len(lst) < max_docs:
                    lst.append(ids[d])
            for e, run, start, d in zip(
                *(a.tolist() for a in longest_spans(ev, idx, doc[hit], pos[hit])), strict=True
            ):
                if run > span_run[e]:
                    span_run[e], span_start[e], span_doc[e] = run, start, ids[d]
        done += t.num_rows
        report(t.num_rows)
    hits = np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
    return {
        "docs_read": done,
        "found": hits,
        "n_docs": n_docs,
        "doc_ids": doc_ids,
        "span": (span_run, span_start, span_doc),
    }


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
    where: Parallel | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The contamination report of ``evals`` in ``dataset`` (see the module docstring), JSON-ready,
    computed on the executor of ``where`` (default: in this process)."""
    t0 = time.perf_counter()
    if n < 1:
        raise UserError(f"n must be >= 1, got {n}.")
    evals = [os.path.abspath(p) for p in evals]
    ev = load_eval_ngrams(evals, fields=fields, id_field=id_field, n=n)  # bad eval files fail here
    ds = open_dataset(dataset)
    tasks = [(ds, p, tuple(evals), tuple(fields), id_field, n, max_docs, batch_rows) for p in parts_of(ds)]
    found = np.zeros(len(ev.hashes), dtype=bool)
    n_docs = np.zeros(len(ev.examples), dtype=np.int64)
    doc_ids: list[list[str]] = [[] for _ in ev.examples]
    span_run = np.zeros(len(ev.examples), np.int64)
    span_start = np.zeros(len(ev.examples), np.int64)
    span_doc: list[str | None] = [None] * len(ev.examples)
    done = 0
    for part in run_tasks(_check_part, tasks, where or Parallel(), progress=progress):
        done += part["docs_read"]
        found[part["found"]] = True
        n_docs += part["n_docs"]
        for e, lst in part["doc_ids"].items():
            doc_ids[e].extend(lst[: max_docs - len(doc_ids[e])])
        runs, starts, docs = part["span"]
        for e in np.flatnonzero(runs > span_run).tolist():
            span_run[e], span_start[e], span_doc[e] = runs[e], starts[e], docs[e]
    records = []
    words_of = pl.Series([e.text for e in ev.examples]).str.extract_all(WORD).to_list()
    for e, ex in enumerate(ev.examples):
        seq = ev.per_example[e]
        words = [w.lower() for w in (words_of[e] or [])]
        rec: dict[str, Any] = {"benchmark": ex.benchmark, "id": ex.id, "words": len(words), "ngrams": 0}
        if not len(seq):
            rec.update(too_short=True, fraction=None, found=0, longest_span_words=0, longest_span="")
            rec.update(longest_span_document=None)
            rec.update(matching_documents=0, document_ids=[], contaminated=False)
            records.append(rec)
            continue
        distinct = np.unique(seq)
        frac = float(found[distinct].mean())
        start, run = int(span_start[e]), int(span_run[e])
        span = run + n - 1 if run else 0
        rec.update(
            too_short=False,
            ngrams=len(distinct),
            found=int(found[distinct].sum()),
            fraction=frac,
            longest_span_words=span,
            longest_span=" ".join(words[start : start + span]) if run else "",
            longest_span_document=span_doc[e],
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
        "evals": evals,
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
