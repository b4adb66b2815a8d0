"""The near-duplicate benchmark corpus: real documents, injected near-duplicates, and the ground truth.

Used by ``minhash_quality.py`` and ``minhash_vs_peers.py`` (same function, same seed, same data):

    corpus = build_corpus(originals=4000, seed=0)             # ~11k documents in 8 .jsonl.gz files
    corpus = build_corpus(originals=4000, seed=0, repeat=3)   # the same, 3 times over (ids "<id>#1" ...)

**Originals.** A seeded sample of documents of at least 100 words from ``shared/data/text/*.jsonl.gz``
(Gutenberg, web pages, Debian man pages and copyright files; about 30 languages), drawn in a seeded
random order and accepted only if their true Jaccard similarity (below) to every original accepted
before is under ``NATURAL_MAX_J`` (0.2). The sources hold natural near-duplicates (licence texts,
translated man pages); without this, a tool that finds them would be charged with false positives.

**Variants.** Each original gets 1, 1, 2 or 3 variants (uniformly), each made independently from the
original by one edit drawn uniformly from 22 kinds:

* ``insert``, ``delete``, ``substitute``, ``reorder`` at rates 2, 5, 10, 15, 20 %: ``round(rate × words)``
  words (at least 1) inserted after / deleted / replaced at distinct random positions; ``reorder``
  swaps ``round(rate × words / 2)`` disjoint pairs of adjacent words, so that ``rate`` of the words
  move. Inserted and substituted words are drawn from the words of all originals (so by frequency).
* ``boilerplate``: a header or a footer paragraph (one of ``BOILERPLATE``, 25–60 words) added.
* ``exact``: an identical copy.

Words are the ``\\w+`` runs of the text; edits replace those runs and keep everything between them,
so line breaks and punctuation survive. A **ground-truth cluster** is an original with its variants;
every pair of documents in one cluster is a true pair, every other pair is not.

**True Jaccard** of two documents: ``|A ∩ B| / |A ∪ B|`` of their sets of word 5-grams, words being the
``\\w+`` runs of the lowercased text (each 5-gram stored as its xxh3-64 hash; a collision among a few
thousand shingles is a 1e-13 event). It is computed exactly for every true pair, and for any other pair a
tool reports.

**Files.** Documents are shuffled (seeded) and dealt round-robin into ``files`` gzip'd JSONL files
(``id, text, source, license, lang``) under ``bench/results/scratch/minhash/``; ``truth.parquet`` has
one row per base document (``id, cluster, role, edit, rate, words``), ``pairs.parquet`` every true
pair (``a, b, jaccard, kind``) with ``kind`` = ``original-variant`` or ``variant-variant`` and
``single`` = the cluster has one variant (the pair can only be found through its own LSH collision).
With ``repeat = R`` the files hold the corpus R times, ids of copy r > 0 suffixed ``#r``: a copy joins
its base document's cluster, so the truth is still ``truth.parquet`` read through ``base_id``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import random
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import xxhash

BENCH = Path(__file__).resolve().parent
DATA = BENCH.parent.parent / "shared" / "data" / "text"
WORK = BENCH / "results" / "scratch" / "minhash"

WORD_RE = re.compile(r"\w+")
N_GRAM = 5
MIN_WORDS = 100
NATURAL_MAX_J = 0.2
RATES = (0.02, 0.05, 0.10, 0.15, 0.20)
EDITS = ("insert", "delete", "substitute", "reorder")
KINDS: tuple[tuple[str, float | None], ...] = (
    *((e, r) for e in EDITS for r in RATES),
    ("boilerplate", None),
    ("exact", None),
)
VARIANTS_PER_ORIGINAL = (1, 1, 2, 3)  # drawn uniformly: half the clusters are a single pair
ORIGINALS = 4000  # the default sample: ~11,000 documents with their variants
VERSION = 1  # bump when the generator changes, so cached corpora are rebuilt

# Header/footer paragraphs of the kind web pages and package files repeat (written for this benchmark).
BOILERPLATE = (
    (
        "This website uses cookies to improve your experience. By continuing to browse the site you agree to "
        "our use of cookies. Read our privacy policy and terms of use to find out more about how we handle "
        "your personal data."
    ),
    (
        "Home | About us | News | Events | Contact | Sitemap. Follow us on social media for the latest updates "
        "and subscribe to our newsletter to receive weekly news straight to your inbox."
    ),
    (
        "Copyright 2024 All rights reserved. No part of this page may be reproduced without the written "
        "permission of the publisher. Trademarks are the property of their respective owners."
    ),
    (
        "Skip to main content. You are here: Home > Library > Documents. Print this page, share it by email or "
        "download it as a PDF file. Last updated on the date shown below."
    ),
    (
        "Was this article helpful? Yes No. Tell us how we can improve this page. Your feedback is anonymous "
        "and will be used only to improve our documentation and support services."
    ),
    (
        "Sign in to your account or create a new one to save your favourite articles, leave comments and get "
        "personalised recommendations. Forgot your password? Reset it here in less than a minute."
    ),
    (
        "This document is distributed in the hope that it will be useful, but without any warranty; without "
        "even the implied warranty of merchantability or fitness for a particular purpose. See the licence "
        "for more details."
    ),
    (
        "Advertisement. Continue reading below. Related articles: the ten most popular stories of the week, "
        "editor's picks and what our readers are talking about right now."
    ),
    (
        "Report a problem with this page. Please include the address of the page and a short description of "
        "what went wrong, and our team will look into it as soon as possible."
    ),
    (
        "Download our free app for your phone or tablet and read all our content offline, anywhere, at any "
        "time. Available for all major platforms, no registration needed."
    ),
    (
        "Posted in General. Tagged news, updates, community, announcements. Leave a comment below; comments "
        "are moderated and will appear after approval by the editors."
    ),
    (
        "Table of contents. Introduction. Background. Main part. Discussion. Conclusion. References. Appendix. "
        "Index. About the authors. Acknowledgements and further reading."
    ),
)


def words_of(text: str) -> list[str]:
    return WORD_RE.findall(text.lower())


def shingle_hashes(text: str, n: int = N_GRAM) -> np.ndarray:
    """Sorted unique xxh3-64 hashes of the word n-grams of ``text`` (lowercased ``\\w+`` runs)."""
    w = words_of(text)
    h = xxhash.xxh3_64_intdigest
    grams = (
        {h(" ".join(w[i : i + n]).encode("utf-8", "surrogatepass")) for i in range(max(1, len(w) - n + 1))}
        if w
        else set()
    )
    return np.array(sorted(grams), dtype=np.uint64)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """True Jaccard similarity of two sorted unique hash arrays."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def base_id(doc_id: str) -> str:
    """The id in ``truth.parquet`` of a document of a repeated corpus: ``"mq00012.1#3"`` -> ``"mq00012.1"``."""
    return doc_id.split("#", 1)[0]


@dataclass(frozen=True)
class Corpus:
    folder: Path  # the .jsonl.gz files
    docs: int  # documents in the files (all copies)
    base_docs: int  # documents of one copy
    clusters: int
    repeat: int
    truth: Path  # truth.parquet (one copy)
    pairs: Path  # pairs.parquet (one copy)
    files: int

    def texts(self) -> dict[str, str]:
        """Base id -> text, for computing the true Jaccard of pairs a tool reports."""
        out: dict[str, str] = {}
        for f in sorted(self.folder.glob("*.jsonl.gz")):
            with gzip.open(f, "rb") as fh:
                for line in fh:
                    rec = orjson.loads(line)
                    if "#" not in rec["id"]:
                        out[rec["id"]] = rec["text"]
        return out


# ---------------------------------------------------------------- edits


def _split(text: str) -> tuple[list[str], list[str]]:
    """``text`` = seps[0] + words[0] + seps[1] + ... + words[n-1] + seps[n]."""
    words, seps, pos = [], [], 0
    for m in WORD_RE.finditer(text):
        seps.append(text[pos : m.start()])
        words.append(m.group())
        pos = m.end()
    seps.append(text[pos:])
    return words, seps


def _join(words: list[str | None], seps: list[str | None]) -> str:
    out = [seps[0] or ""]
    for w, s in zip(words, seps[1:], strict=True):
        if w is not None:
            out.append(w)
        if s is not None:
            out.append(s)
    return "".join(out)


def make_variant(text: str, edit: str, rate: float | None, rng: random.Random, vocab: list[str]) -> str:
    """One near-duplicate of ``text`` (see the module docstring for the edits)."""
    if edit == "exact":
        return text
    if edit == "boilerplate":
        bp = rng.choice(BOILERPLATE)
        return f"{bp}\n\n{text}" if rng.random() < 0.5 else f"{text}\n\n{bp}"
    assert rate is not None
    words: list[str | None]
    w, s = _split(text)
    words, seps = list(w), list(s)
    n = len(words)
    if edit == "reorder":
        k = max(1, round(rate * n / 2))
        for i in rng.sample(range(0, n - 1, 2), min(k, n // 2)):  # disjoint pairs (i, i+1)
            words[i], words[i + 1] = words[i + 1], words[i]
        return _join(words, seps)
    k = max(1, round(rate * n))
    positions = rng.sample(range(n), k)
    for i in positions:
        if edit == "substitute":
            new = rng.choice(vocab)
            while new == (words[i] or "").lower():
                new = rng.choice(vocab)
            words[i] = new
        elif edit == "insert":
            words[i] = f"{words[i]} {rng.choice(vocab)}"
        elif edit == "delete":
            words[i] = None
            # drop the separator after the word (before it, for the last word) so no gap is left
            if i < n - 1:
                seps[i + 1] = None
            else:
                seps[i] = None
        else:
            raise ValueError(f"unknown edit {edit!r}")
    return _join(words, seps)


# ---------------------------------------------------------------- originals


def _candidates(seed: int) -> list[dict[str, str]]:
    sources = sorted(DATA.glob("*.jsonl.gz"))
    if not sources:
        raise SystemExit(f"no corpus at {DATA}/*.jsonl.gz (shared/ must sit beside the repository)")
    docs = []
    for src in sources:
        with gzip.open(src, "rb") as fh:
            for line in fh:
                rec = orjson.loads(line)
                text = rec.get("text") or ""
                if len(WORD_RE.findall(text)) >= MIN_WORDS:
                    docs.append(
                        {
                            "text": text,
                            "source": rec.get("source") or src.name.split(".")[0],
                            "license": rec.get("license"),
                            "lang": rec.get("lang"),
                        }
                    )
    random.Random(seed).shuffle(docs)
    return docs


def _sample_originals(n: int, seed: int) -> tuple[list[dict[str, str]], list[np.ndarray], int]:
    """n originals with pairwise true Jaccard < NATURAL_MAX_J; also the number of candidates rejected."""
    postings: dict[int, list[int]] = {}
    chosen: list[dict[str, str]] = []
    sigs: list[np.ndarray] = []
    rejected = 0
    for doc in _candidates(seed):
        if len(chosen) == n:
            break
        sh = shingle_hashes(doc["text"])
        shared: Counter[int] = Counter()
        for h in sh.tolist():
            shared.update(postings.get(h, ()))
        if any(k / (len(sh) + len(sigs[j]) - k) >= NATURAL_MAX_J for j, k in shared.items()):
            rejected += 1
            continue
        for h in sh.tolist():
            postings.setdefault(h, []).append(len(chosen))
        chosen.append(doc)
        sigs.append(sh)
    if len(chosen) < n:
        raise SystemExit(f"only {len(chosen)} usable originals in {DATA}, {n} asked")
    return chosen, sigs, rejected


# ---------------------------------------------------------------- the corpus


def build_corpus(*, originals: int = ORIGINALS, seed: int = 0, repeat: int = 1, files: int = 8) -> Corpus:
    """Build (or reuse, if its inputs are unchanged) the benchmark corpus and its ground truth."""
    sources = sorted(DATA.glob("*.jsonl.gz"))
    key = hashlib.sha256(
        json.dumps(
            [[p.name, p.stat().st_size] for p in sources] + [originals, seed, repeat, files, VERSION]
        ).encode()
    ).hexdigest()[:12]
    folder = WORK / f"corpus-{originals}-seed{seed}" / (f"x{repeat}-{files}files" if repeat > 1 else "base")
    stamp = folder / "corpus.json"
    if stamp.exists() and json.loads(stamp.read_text())["key"] == key:
        meta = json.loads(stamp.read_text())
        return _corpus(folder, meta)
    if repeat > 1:  # a repeated corpus copies the base one, so that both hold the same documents
        base = build_corpus(originals=originals, seed=seed, repeat=1, files=files)
        docs = []
        for f in sorted(base.folder.glob("*.jsonl.gz")):
            with gzip.open(f, "rb") as fh:
                docs.extend(orjson.loads(line) for line in fh)
        docs.sort(key=lambda d: d["id"])
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name in ("truth.parquet", "pairs.parquet"):
            shutil.copyfile(base.folder / name, folder / name)
        rng = random.Random(seed + 1)
        copies = []
        for r in range(repeat):
            for d in docs:
                copies.append(dict(d, id=d["id"] if r == 0 else f"{d['id']}#{r}"))
        rng.shuffle(copies)
        _write(folder, copies, files)
        meta = {"key": key, "docs": len(copies), "base_docs": base.base_docs, "clusters": base.clusters}
        meta |= {"repeat": repeat, "files": files}
        stamp.write_text(json.dumps(meta))
        return _corpus(folder, meta)

    rng = random.Random(seed)
    chosen, sigs, natural_rejected = _sample_originals(originals, seed)
    vocab = [w for d in chosen for w in words_of(d["text"])]
    docs: list[dict[str, object]] = []
    truth: list[dict[str, object]] = []
    pairs: list[dict[str, object]] = []
    for c, (orig, sh) in enumerate(zip(chosen, sigs, strict=True)):
        members = [(f"mq{c:05d}.0", orig["text"], "original", None, None, sh)]
        for j in range(1, rng.choice(VARIANTS_PER_ORIGINAL) + 1):
            edit, rate = rng.choice(KINDS)
            text = make_variant(orig["text"], edit, rate, rng, vocab)
            members.append((f"mq{c:05d}.{j}", text, "variant", edit, rate, shingle_hashes(text)))
        for doc_id, text, role, edit, rate, _ in members:
            docs.append({"id": doc_id, "text": text} | {k: orig[k] for k in ("source", "license", "lang")})
            truth.append(
                {"id": doc_id, "cluster": c, "role": role, "edit": edit, "rate": rate}
                | {"words": len(WORD_RE.findall(text)), "source": orig["source"], "lang": orig["lang"]}
            )
        single = len(members) == 2
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                pairs.append(
                    {
                        "a": members[a][0],
                        "b": members[b][0],
                        "jaccard": jaccard(members[a][5], members[b][5]),
                        "kind": "original-variant" if a == 0 else "variant-variant",
                        "edit": members[b][3] if a == 0 else None,
                        "rate": members[b][4] if a == 0 else None,
                        "single": single,
                    }
                )
    rng.shuffle(docs)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _write(folder, docs, files)
    pl.DataFrame(truth).write_parquet(folder / "truth.parquet")
    pl.DataFrame(pairs, schema_overrides={"rate": pl.Float64, "edit": pl.String}).write_parquet(
        folder / "pairs.parquet"
    )
    meta = {"key": key, "docs": len(docs), "base_docs": len(docs), "clusters": originals, "repeat": 1}
    meta |= {"files": files, "natural_near_duplicates_skipped": natural_rejected}
    stamp.write_text(json.dumps(meta))
    return _corpus(folder, meta)


def _write(folder: Path, docs: list[dict[str, object]], files: int) -> None:
    with contextlib.ExitStack() as stack:
        outs = [
            stack.enter_context(gzip.open(folder / f"part-{i:02d}.jsonl.gz", "wb", compresslevel=6))
            for i in range(files)
        ]
        for i, d in enumerate(docs):
            outs[i % files].write(orjson.dumps(d, option=orjson.OPT_APPEND_NEWLINE))


def _corpus(folder: Path, meta: dict[str, int]) -> Corpus:
    return Corpus(
        folder=folder,
        docs=meta["docs"],
        base_docs=meta["base_docs"],
        clusters=meta["clusters"],
        repeat=meta["repeat"],
        truth=folder / "truth.parquet",
        pairs=folder / "pairs.parquet",
        files=meta["files"],
    )
