"""Tokenize datasets and pack them into fixed-length training sequences, mixed by source weights.

Layout of a packed folder (``gencommons lm pack``)::

    index.json          seq_len, dtype, sources with tokens asked / packed / available, epochs, val sizes
    train.npy           uint16 (vocab <= 65,536) or uint32 tokens, shape [sequences, seq_len], memory-mapped
    train_source.bin    uint8, the source of each training sequence, in index.json's source order
    val/<n>.bin         the held-out token stream of source n (whole documents, EOS-separated)
    manifest.json       lineage: the datasets' and tokenizer's content ids, the config, licences

How it is made, deterministically for a seed:

1. Every document gets the tokenizer's ids plus EOS. A document goes to the validation split when a
   hash of its id falls below ``val_fraction`` — the split depends on the id only, not on the seed,
   the weights, the order or the other documents. Its source is the name given with the dataset (``web=PATH``), or
   else the value of its ``source`` column, or else the dataset folder's name.
2. Each source's training stream is cut into ``seq_len`` sequences (the tail shorter than ``seq_len``
   is not used). With total tokens T (``--tokens``; by default the largest T for which no source is
   repeated) a source of weight w gets ``round(w * T / seq_len)`` sequences; a source with fewer
   sequences than asked is repeated (its ``epochs`` in the index say by how much).
3. All sequences are shuffled together with the seed and written to ``train.npy``.

Source names come from the data, so files are named by number, never by source name.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gencommons.errors import UserError
from gencommons.lm.progress import progress_bar

SOURCE_FIELD = "source"
MAX_SOURCES = 255  # the source of a sequence is one byte


@dataclass
class SourceStats:
    documents: int = 0
    tokens: int = 0
    bytes: int = 0
    val_documents: int = 0
    val_tokens: int = 0
    val_bytes: int = 0
    datasets: set[str] = field(default_factory=set)
    file: int = 0  # streams/<file>.bin, val/<file>.bin


def parse_sources(specs: list[str]) -> list[tuple[str | None, str]]:
    """``["web=data/web", "data/books"]`` -> ``[("web", "data/web"), (None, "data/books")]``."""
    out: list[tuple[str | None, str]] = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if sep and name and not os.path.exists(spec):
            out.append((name, path))
        else:
            out.append((None, spec))
    return out


def parse_weights(specs: list[str]) -> dict[str, float]:
    """``["web=0.6", "code=0.4"]`` (or one ``"web=0.6,code=0.4"``) -> ``{"web": 0.6, "code": 0.4}``."""
    weights: dict[str, float] = {}
    for spec in (s for item in specs for s in item.split(",") if s.strip()):
        name, sep, value = spec.partition("=")
        try:
            w = float(value)
        except ValueError:
            w = -1.0
        if not sep or not name.strip() or not math.isfinite(w) or w < 0:
            raise UserError(f"--weight {spec!r}: expected NAME=WEIGHT with a weight >= 0, e.g. web=0.6.")
        weights[name.strip()] = w
    return weights


def _val_mask(ids: list[str], val_fraction: float) -> np.ndarray:
    """Documents whose id hashes below ``val_fraction``: the same split for every seed and mixture, so
    validation losses of different packs of the same datasets are comparable."""
    import xxhash

    if val_fraction <= 0:
        return np.zeros(len(ids), dtype=bool)
    h = np.fromiter((xxhash.xxh64_intdigest(i.encode()) for i in ids), dtype=np.uint64, count=len(ids))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53) < val_fraction


def pack(
    datasets: list[str],
    out: str,
    *,
    tokenizer: str,
    weights: dict[str, float] | None = None,
    seq_len: int = 512,
    tokens: int | None = None,
    val_fraction: float = 0.01,
    seed: int = 0,
    text_field: str = "text",
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Pack ``datasets`` into ``out`` (see the module docstring); returns the index."""
    from gencommons.lineage.atomic import atomic_dir, write_json_atomic
    from gencommons.lineage.hashing import content_id, file_sha256
    from gencommons.lineage.manifest import new_manifest, read_manifest, write_manifest
    from gencommons.lm.corpus import iter_batches, open_dataset
    from gencommons.lm.tokenizer import load_tokenizer

    if seq_len < 2:
        raise UserError(f"--seq-len {seq_len}: a training sequence needs at least 2 tokens.")
    if not 0 <= val_fraction < 1:
        raise UserError(f"--val-fraction {val_fraction}: must be in [0, 1).")
    if tokens is not None and tokens < seq_len:
        raise UserError(f"--tokens {tokens}: less than one sequence of --seq-len {seq_len}.")
    if not datasets:
        raise UserError("Give at least one dataset to pack.")
    tok = load_tokenizer(tokenizer)
    eos = tok.eos_token_id
    if eos is None:
        raise UserError(f"{tokenizer}: the tokenizer has no EOS token to separate documents.")
    vocab = len(tok)
    backend = tok.backend_tokenizer  # the Rust tokenizer: batch-parallel, no max-length warnings
    dtype = np.dtype(np.uint16 if vocab <= 2**16 else np.uint32)
    sources = [(name, open_dataset(path)) for name, path in parse_sources(datasets)]

    stats: dict[str, SourceStats] = {}
    with atomic_dir(out, overwrite=overwrite) as tmp:
        streams = os.path.join(tmp, "streams")
        os.makedirs(streams)
        os.makedirs(os.path.join(tmp, "val"))
        handles: dict[tuple[int, bool], Any] = {}
        bar = progress_bar(enabled=progress)
        with bar:
            task = bar.add_task("tokenizing", total=sum(len(ds.files) for _, ds in sources))
            for name, ds in sources:
                default = name or os.path.basename(os.path.normpath(ds.path)) or "data"
                last_file = None
                for f, t in iter_batches(ds, text_field=text_field, extra=(SOURCE_FIELD,)):
                    if last_file is not None and f != last_file:
                        bar.advance(task)
                    last_file = f
                    texts = t.column("text").to_pylist()
                    ids = t.column("id").to_pylist()
                    if name is None and SOURCE_FIELD in t.column_names:
                        srcs = [s or default for s in t.column(SOURCE_FIELD).to_pylist()]
                    else:
                        srcs = [default] * len(texts)
                    is_val = _val_mask(ids, val_fraction)
                    encoded = [e.ids for e in backend.encode_batch(texts, add_special_tokens=False)]
                    for text, src, val, ids_ in zip(texts, srcs, is_val, encoded, strict=True):
                        st = stats.get(src)
                        if st is None:
                            if len(stats) >= MAX_SOURCES:
                                raise UserError(f"More than {MAX_SOURCES} sources; group them first.")
                            st = stats[src] = SourceStats(file=len(stats))
                        st.datasets.add(ds.path)
                        arr = np.asarray([*ids_, eos], dtype=dtype)
                        key = (st.file, bool(val))
                        if key not in handles:
                            sub = "val" if val else "streams"
                            handles[key] = open(os.path.join(tmp, sub, f"{st.file}.bin"), "wb")  # noqa: SIM115
                        handles[key].write(arr.tobytes())
                        nbytes = len(text.encode("utf-8"))
                        if val:
                            st.val_documents += 1
                            st.val_tokens += arr.size
                            st.val_bytes += nbytes
                        else:
                            st.documents += 1
                            st.tokens += arr.size
                            st.bytes += nbytes
                bar.advance(task)
        for h in handles.values():
            h.close()
        if not stats:
            raise UserError(f"No text to pack in {', '.join(ds.path for _, ds in sources)} (empty datasets).")

        plan = _plan(stats, weights, seq_len, tokens)
        names = list(plan)
        total = sum(p["sequences"] for p in plan.values())
        order = np.random.default_rng(seed).permutation(total)
        src_of = np.repeat(np.arange(len(names), dtype=np.uint8), [plan[n]["sequences"] for n in names])[
            order
        ]
        local = np.concatenate([np.arange(plan[n]["sequences"]) for n in names])[order]
        train = np.lib.format.open_memmap(
            os.path.join(tmp, "train.npy"), mode="w+", dtype=dtype, shape=(total, seq_len)
        )
        for i, n in enumerate(names):
            avail = plan[n]["available_sequences"]
            rows = np.flatnonzero(src_of == i)
            if not rows.size:
                continue
            stream = np.memmap(os.path.join(streams, f"{stats[n].file}.bin"), dtype=dtype, mode="r")
            train[rows] = stream[: avail * seq_len].reshape(avail, seq_len)[local[rows] % avail]
            del stream
        train.flush()
        del train
        src_of.tofile(os.path.join(tmp, "train_source.bin"))
        for f in os.listdir(streams):
            os.unlink(os.path.join(streams, f))
        os.rmdir(streams)

        index: dict[str, Any] = {
            "format": 1,
            "seq_len": seq_len,
            "dtype": dtype.name,
            "vocab_size": vocab,
            "eos_token_id": eos,
            "seed": seed,
            "val_fraction": val_fraction,
            "train": {"sequences": total, "tokens": total * seq_len},
            "sources": {
                n: {
                    **plan[n],
                    "documents": stats[n].documents,
                    "bytes": stats[n].bytes,
                    "val": {
                        "file": f"val/{stats[n].file}.bin" if stats[n].val_tokens else None,
                        "documents": stats[n].val_documents,
                        "tokens": stats[n].val_tokens,
                        "bytes": stats[n].val_bytes,
                    },
                    "datasets": sorted(stats[n].datasets),
                }
                for n in names
            },
        }
        write_json_atomic(os.path.join(tmp, "index.json"), index)
        files = []
        for root, _, fs in os.walk(tmp):
            for f in fs:
                rel = os.path.relpath(os.path.join(root, f), tmp)
                files.append((rel, file_sha256(os.path.join(root, f))))
        tok_manifest = _manifest_or_none(tokenizer, read_manifest)
        licenses: dict[str, int] = {}
        for _, ds in sources:
            for k, v in ds.licenses.items():
                licenses[k] = licenses.get(k, 0) + v
        write_manifest(
            tmp,
            new_manifest(
                "packed-dataset",
                content_id=content_id(files),
                inputs=[
                    *(
                        {"path": os.path.abspath(ds.path), "content_id": ds.content_id, "source": n}
                        for n, ds in sources
                    ),
                    {
                        "path": os.path.abspath(tokenizer),
                        "content_id": (tok_manifest or {}).get("content_id"),
                        "role": "tokenizer",
                    },
                ],
                config={
                    "datasets": datasets,
                    "weights": weights,
                    "seq_len": seq_len,
                    "tokens": tokens,
                    "val_fraction": val_fraction,
                    "seed": seed,
                    "text_field": text_field,
                },
                counts={"sequences": total, "tokens": total * seq_len},
                licenses={"inputs": licenses},
                files=[{"path": f, "sha256": h} for f, h in sorted(files)],
            ),
        )
    return index


def _plan(
    stats: dict[str, SourceStats], weights: dict[str, float] | None, seq_len: int, tokens: int | None
) -> dict[str, dict[str, Any]]:
    avail = {n: s.tokens // seq_len for n, s in stats.items()}
    if weights:
        unknown = sorted(set(weights) - set(stats))
        if unknown:
            raise UserError(
                f"--weight names unknown source(s) {', '.join(unknown)}; the sources are: {', '.join(sorted(stats))}."
            )
        missing = sorted(set(stats) - set(weights))
        if missing:
            raise UserError(
                f"No --weight for source(s) {', '.join(missing)}: give every source a weight (0 leaves it out)."
            )
        if sum(weights.values()) <= 0:
            raise UserError("The --weight values sum to 0.")
        w = {n: weights[n] / sum(weights.values()) for n in stats}
        w = {n: x if x >= 1e-12 else 0.0 for n, x in w.items()}  # a share below 1e-12 is no share
    else:  # the natural mixture: every source as it is
        if not sum(avail.values()):
            raise UserError(
                f"Nothing to pack: no source has --seq-len {seq_len} training tokens "
                f"({', '.join(f'{n}: {s.tokens:,}' for n, s in stats.items())}); lower --seq-len."
            )
        w = {n: avail[n] / sum(avail.values()) for n in stats}
    empty = [n for n in stats if w[n] > 0 and avail[n] == 0]
    if empty:
        raise UserError(
            f"Source(s) {', '.join(empty)} have fewer than --seq-len {seq_len} training tokens "
            f"({', '.join(f'{n}: {stats[n].tokens:,}' for n in empty)}); lower --seq-len or give them weight 0."
        )
    if tokens is None:  # the largest mixture that repeats no source
        tokens = min(int(avail[n] * seq_len / w[n]) for n in stats if w[n] > 0)
    plan: dict[str, dict[str, Any]] = {}
    for n in sorted(stats):
        asked = w[n] * tokens
        seqs = round(asked / seq_len)
        plan[n] = {
            "weight": w[n],
            "tokens_available": stats[n].tokens,
            "available_sequences": avail[n],
            "tokens_asked": round(asked),
            "sequences": seqs,
            "tokens_packed": seqs * seq_len,
            "epochs": seqs / avail[n] if avail[n] else 0.0,
        }
    if sum(p["sequences"] for p in plan.values()) == 0:
        raise UserError(f"Nothing to pack: fewer than {seq_len} tokens in total; lower --seq-len.")
    return plan


def _manifest_or_none(path: str, read: Any) -> dict[str, Any] | None:
    try:
        return dict(read(path))
    except UserError:
        return None


class Packed:
    """A packed folder, opened read-only: ``train`` [sequences, seq_len], ``train_source``, ``val``."""

    def __init__(self, path: str):
        from gencommons.lineage.atomic import read_json

        index_path = os.path.join(path, "index.json")
        if not os.path.exists(index_path):
            raise UserError(
                f"{path}: not a packed dataset (no index.json); make one with `gencommons lm pack`."
            )
        self.path = path
        self.index: dict[str, Any] = read_json(index_path)
        self.seq_len = int(self.index["seq_len"])
        self.dtype = np.dtype(self.index["dtype"])
        self.sources = list(self.index["sources"])
        self.train = np.load(os.path.join(path, "train.npy"), mmap_mode="r")
        self.train_source = np.fromfile(os.path.join(path, "train_source.bin"), dtype=np.uint8)
        if self.train.shape[0] != self.train_source.size or self.train.shape[1] != self.seq_len:
            raise UserError(f"{path}: train.npy and train_source.bin disagree with index.json (damaged?).")

    def val(self, source: str) -> np.ndarray:
        """The held-out token stream of ``source`` (empty when it has none)."""
        rel = self.index["sources"][source]["val"]["file"]
        if not rel:
            return np.zeros(0, dtype=self.dtype)
        return np.memmap(os.path.join(self.path, rel), dtype=self.dtype, mode="r")
