"""Are a MinHash's hash values independent? gencommons, datasketch and rensa on pairs of known Jaccard.

    .venv/bin/python bench/minhash_hash_independence.py                # 20,000 pairs per Jaccard, ~1 minute
    .venv/bin/python bench/minhash_hash_independence.py --pairs 200    # smoke test

The LSH S-curve ``1 − (1 − J^r)^b`` holds when the ``b × r`` hash values of a signature agree
independently, each with probability J. ``minhash_seeds.py`` finds rensa's recall at Jaccard 0.8–0.9 a
little above the other tools' and its spread over seeds below what independent hash values allow;
this measures why, directly on signatures.

**Pairs**: token sets A and B of 300 random tokens in all, with ``|A ∩ B| = round(J · 300)`` (the rest
split between them), one fresh pair and one seed per trial (``--pairs`` trials per J in ``--jaccard``).

**Signatures**, 112 values as 14 bands × 8 rows: gencommons ``signatures`` (its compiled loop; the
tokens hashed to 64 bits first, as its tokenizer does), with its default ``hashing: minhash`` and with
``hashing: superminhash``, datasketch ``MinHash(seed=s).update_batch``,
rensa ``RMinHash.from_token_sets(..., s)``; and a prototype that is not in gencommons, one permutation
hashing with optimal densification (``one_permutation_sigs``), the classic variance-reduced scheme, to
see whether it would give rensa's steeper curve.

**Reported per tool and J**: the mean fraction of agreeing values (J if unbiased); its standard
deviation over pairs next to the binomial ``sqrt(J(1 − J)/112)`` that independent values give (lower
means negatively correlated values: a lower-variance Jaccard estimate); the probability that a band's
8 values all agree (theory J^8); the probability that any of the 14 bands agrees (the LSH recall of a
pair; theory ``1 − (1 − J^8)^14``). Writes ``bench/results/minhash_hash_independence.md`` and ``.json`` (``-unionN`` added for
``--union N`` other than 300).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import xxhash

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
BANDS, ROWS = 14, 8


def token_pair(j: float, rng: random.Random, n: int = 300) -> tuple[list[str], list[str], float]:
    inter = round(j * n)
    only = (n - inter) // 2
    toks = [f"t{rng.getrandbits(60)}" for _ in range(inter + 2 * only)]
    a = toks[:inter] + toks[inter : inter + only]
    b = toks[:inter] + toks[inter + only :]
    return a, b, inter / (inter + 2 * only)


def gencommons_sigs(
    a: list[str], b: list[str], seed: int, hashing: str = "minhash"
) -> tuple[np.ndarray, np.ndarray]:
    from gencommons.data.dedup.minhash import MinhashParams, signatures

    p = MinhashParams(num_perm=BANDS * ROWS, bands=BANDS, rows=ROWS, seed=seed, hashing=hashing)
    hashes = np.array([xxhash.xxh3_64_intdigest(t.encode()) for t in a + b], dtype=np.uint64)
    sig = signatures(hashes, np.array([0, len(a), len(a) + len(b)], dtype=np.int64), p)
    return sig[0], sig[1]


def datasketch_sigs(a: list[str], b: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    from datasketch import MinHash

    out = []
    for toks in (a, b):
        m = MinHash(num_perm=BANDS * ROWS, seed=seed)
        m.update_batch([t.encode() for t in toks])
        out.append(m.hashvalues)
    return out[0], out[1]


def rensa_sigs(a: list[str], b: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    from rensa import RMinHash

    ma, mb = RMinHash.from_token_sets([a, b], BANDS * ROWS, seed)
    return np.array(ma.digest()), np.array(mb.digest())


def one_permutation_sigs(a: list[str], b: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A prototype, not in gencommons: one permutation hashing (Li, Owen and Zhang 2012) with optimal
    densification (Shrivastava 2017). Each token is hashed once; the top bits pick one of 112 bins, the
    bin keeps its smallest value; an empty bin copies the value of the first non-empty bin of a probe
    sequence that depends on the bin and the seed only (the same for every document). Is it the
    variance-reduced scheme that would give gencommons rensa's steeper curve?"""
    k = BANDS * ROWS
    rng = np.random.default_rng(seed)
    mult = rng.integers(1, 2**63, size=2, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    add = rng.integers(0, 2**63, size=2, dtype=np.uint64)
    probes = rng.integers(0, k, size=(k, 4 * k))  # probe t of bin i: a seeded hash of (i, t)
    out = []
    for toks in (a, b):
        x = np.array([xxhash.xxh3_64_intdigest(t.encode()) for t in toks], dtype=np.uint64)
        with np.errstate(over="ignore"):
            top = (mult[0] * x + add[0]) >> np.uint64(32)
            value = (mult[1] * x + add[1]) >> np.uint64(32)
        bins = ((top * np.uint64(k)) >> np.uint64(32)).astype(np.int64)
        sig = np.full(k, 2**32, dtype=np.uint64)
        np.minimum.at(sig, bins, value)
        full = sig < 2**32
        empty = np.flatnonzero(~full)
        if len(empty) and full.any():
            hit = full[probes[empty]]  # (empty bins, probes): is the probed bin non-empty?
            assert hit.any(axis=1).all(), "no non-empty bin among the probes"
            sig[empty] = sig[probes[empty, hit.argmax(axis=1)]]
        out.append(sig)
    return out[0], out[1]


def gencommons_superminhash_sigs(a: list[str], b: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    return gencommons_sigs(a, b, seed, "superminhash")


TOOLS = {
    "gencommons": gencommons_sigs,
    "gencommons, hashing: superminhash": gencommons_superminhash_sigs,
    "datasketch": datasketch_sigs,
    "rensa": rensa_sigs,
    "one permutation (prototype)": one_permutation_sigs,
}


def measure(j_target: float, pairs: int, seed: int, union: int = 300) -> dict[str, dict[str, float]]:
    rng = random.Random(f"{seed}:{j_target}")
    agree: dict[str, list[np.ndarray]] = {t: [] for t in TOOLS}
    j = j_target
    for trial in range(pairs):
        a, b, j = token_pair(j_target, rng, union)
        for tool, sigs in TOOLS.items():
            sa, sb = sigs(a, b, seed * 1_000_003 + trial)
            agree[tool].append((np.asarray(sa) == np.asarray(sb)).reshape(BANDS, ROWS))
    out: dict[str, dict[str, float]] = {
        "theory": {
            "jaccard": j,
            "row": j,
            "row_sd": math.sqrt(j * (1 - j) / (BANDS * ROWS)),
            "band": j**ROWS,
            "any_band": 1 - (1 - j**ROWS) ** BANDS,
        }
    }
    for tool, eqs in agree.items():
        e = np.stack(eqs)  # (pairs, bands, rows)
        frac = e.mean(axis=(1, 2))
        band = e.all(axis=2)
        out[tool] = {
            "jaccard": j,
            "row": float(frac.mean()),
            "row_sd": float(frac.std(ddof=1)),
            "band": float(band.mean()),
            "any_band": float(band.any(axis=1).mean()),
            "any_band_se": float(band.any(axis=1).std(ddof=1) / math.sqrt(len(frac))),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20_000, help="pairs (and seeds) per Jaccard")
    ap.add_argument("--jaccard", type=float, nargs="+", default=[0.5, 0.7, 0.85])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--union", type=int, default=300, help="tokens in A ∪ B (fewer than 112: sparse pairs)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    results = {str(j): measure(j, args.pairs, args.seed, args.union) for j in args.jaccard}
    lines = [
        "# MinHash: are the hash values of a signature independent?",
        "",
        (
            f"{time.strftime('%Y-%m-%d %H:%M:%S')} · {args.pairs:,} pairs per Jaccard, each with its own seed · "
            f"{args.union} tokens in A ∪ B · "
            f"{BANDS} bands × {ROWS} rows · datasketch {version('datasketch')}, rensa {version('rensa')}, "
            f"Python {sys.version.split()[0]}"
        ),
        "",
        (
            "agree: mean fraction of the 112 values that agree (J if unbiased); sd over pairs: its spread, next to "
            "the binomial spread of independent values (theory row); band: P(all 8 rows of a band agree), theory "
            "J^8; any band: P(a pair shares a bucket), theory 1 − (1 − J^8)^14, ± its standard error."
        ),
        "",
        "| J | tool | agree | sd over pairs | sd / binomial | band | any band |",
        "|--:|---|--:|--:|--:|--:|--:|",
    ]
    for res in results.values():
        th = res["theory"]
        for tool, r in res.items():
            se = f" ± {r['any_band_se']:.4f}" if "any_band_se" in r else ""
            lines.append(
                f"| {r['jaccard']:.3f} | {tool} | {r['row']:.4f} | {r['row_sd']:.4f} | "
                f"{r['row_sd'] / th['row_sd']:.2f} | {r['band']:.4f} | {r['any_band']:.4f}{se} |"
            )
    lines += [
        "",
        (
            f"{time.perf_counter() - t0:.0f} s. An sd / binomial near 1 means independent values (the S-curve "
            "holds); below 1, negatively correlated values: a lower-variance Jaccard estimate, and a steeper "
            "LSH curve than 1 − (1 − J^r)^b."
        ),
    ]
    RESULTS.mkdir(exist_ok=True)
    name = "minhash_hash_independence" + ("" if args.union == 300 else f"-union{args.union}")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
