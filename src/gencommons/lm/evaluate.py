"""Held-out loss, perplexity and bits per byte, per source (``gencommons lm eval MODEL DATASET``).

A source's held-out text is one token stream (documents with EOS between them). It is scored in
windows of the model's context that overlap by one token, so every token but the first is predicted
exactly once with all the context its window holds.

    loss = NLL / predicted tokens (nats)      perplexity = exp(loss)
    bits per byte = NLL / ln 2 / UTF-8 bytes of the text (tokenizer-independent; comparable across
                    tokenizers and with other reports)

DATASET is a packed folder (its validation split, with byte counts recorded at packing) or a curated
dataset (Parquet/JSONL, tokenized here with the model's tokenizer, grouped by its ``source`` column).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from gencommons.errors import UserError


def stream_loss(
    model: Any,
    tokens: np.ndarray,
    seq_len: int,
    batch_size: int,
    device: Any,
    precision: str = "fp32",
    *,
    max_tokens: int = 0,
) -> tuple[float, int]:
    """Summed NLL (nats) and the number of predicted tokens over ``tokens`` (the first ``max_tokens``)."""
    import torch
    import torch.nn.functional as F

    from gencommons.lm.train import autocast

    if max_tokens:
        tokens = tokens[:max_tokens]
    n = len(tokens)
    if n < 2:
        return 0.0, 0
    stride = seq_len - 1
    starts = list(range(0, n - 1, stride))
    nll, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for i in range(0, len(starts), batch_size):
            windows = [
                np.asarray(tokens[s : s + seq_len], dtype=np.int64) for s in starts[i : i + batch_size]
            ]
            width = max(len(w) for w in windows)
            ids = np.zeros((len(windows), width), dtype=np.int64)
            mask = np.zeros((len(windows), width), dtype=np.int64)
            for r, w in enumerate(windows):
                ids[r, : len(w)] = w
                mask[r, : len(w)] = 1
            x = torch.from_numpy(ids).to(device)
            m = torch.from_numpy(mask).to(device)
            with autocast(precision, device):
                logits = model(input_ids=x, attention_mask=m).logits
            loss = F.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]).float(), x[:, 1:].reshape(-1), reduction="none"
            )
            valid = m[:, 1:].reshape(-1).bool()
            nll += float(loss[valid].double().sum())
            count += int(valid.sum())
    model.train(was_training)
    return nll, count


def summarize(nll: float, tokens: int, nbytes: int) -> dict[str, Any]:
    loss = nll / tokens if tokens else float("nan")
    return {
        "tokens": tokens,
        "bytes": nbytes,
        "loss": loss,
        "perplexity": math.exp(loss) if tokens and loss < 700 else float("inf"),
        "bits_per_byte": nll / math.log(2) / nbytes if nbytes else float("nan"),
    }


def evaluate(
    model_path: str,
    dataset: str,
    *,
    batch_size: int = 8,
    max_documents: int | None = None,
    device: str = "auto",
    text_field: str = "text",
) -> dict[str, Any]:
    """Per-source and overall loss, perplexity and bits per byte of ``model_path`` on ``dataset``."""
    from gencommons.lm.train import pick_device, pick_precision

    model, tok = load_model(model_path)
    dev = pick_device(device)
    model.to(dev)
    precision = pick_precision("auto", dev)
    seq_len = int(model.config.max_position_embeddings)
    streams = _streams(dataset, tok, max_documents=max_documents, text_field=text_field)
    if not streams:
        raise UserError(f"{dataset}: no held-out text to evaluate on.")
    results: dict[str, Any] = {}
    tot_nll, tot_tok, tot_bytes = 0.0, 0, 0
    for source, (tokens, nbytes) in sorted(streams.items()):
        nll, n = stream_loss(model, tokens, seq_len, batch_size, dev, precision)
        results[source] = summarize(nll, n, nbytes)
        tot_nll, tot_tok, tot_bytes = tot_nll + nll, tot_tok + n, tot_bytes + nbytes
    return {
        "model": os.path.abspath(model_path),
        "dataset": os.path.abspath(dataset),
        "context": seq_len,
        "sources": results,
        "all": summarize(tot_nll, tot_tok, tot_bytes),
    }


def load_model(path: str) -> tuple[Any, Any]:
    """A causal LM and its tokenizer from a Hugging Face folder; errors name the folder."""
    from transformers import AutoModelForCausalLM

    from gencommons.lm.tokenizer import load_tokenizer

    if not os.path.exists(os.path.join(path, "config.json")):
        raise UserError(f"{path}: not a Hugging Face model folder (no config.json); is training finished?")
    try:
        model = AutoModelForCausalLM.from_pretrained(path)
    except (OSError, ValueError, RuntimeError) as e:
        raise UserError(f"{path}: the model does not load ({e}).") from e
    return model, load_tokenizer(path)


def _streams(
    dataset: str, tok: Any, *, max_documents: int | None, text_field: str
) -> dict[str, tuple[np.ndarray, int]]:
    if os.path.exists(os.path.join(dataset, "index.json")):
        from gencommons.lm.pack import Packed

        packed = Packed(dataset)
        if packed.index["vocab_size"] > len(tok):
            raise UserError(f"{dataset} was packed with a larger vocabulary than the model's tokenizer.")
        return {
            s: (packed.val(s), int(packed.index["sources"][s]["val"]["bytes"]))
            for s in packed.sources
            if packed.index["sources"][s]["val"]["tokens"]
        }
    from gencommons.lm.corpus import iter_batches, open_dataset

    ds = open_dataset(dataset)
    eos = tok.eos_token_id
    parts: dict[str, list[np.ndarray]] = {}
    nbytes: dict[str, int] = {}
    seen = 0
    default = os.path.basename(os.path.normpath(dataset))
    for _, t in iter_batches(ds, text_field=text_field, extra=("source",)):
        texts = t.column("text").to_pylist()
        srcs = t.column("source").to_pylist() if "source" in t.column_names else [default] * len(texts)
        if max_documents is not None:
            texts, srcs = texts[: max_documents - seen], srcs[: max_documents - seen]
        encoded = tok.backend_tokenizer.encode_batch(texts, add_special_tokens=False)
        for text, src, enc in zip(texts, srcs, encoded, strict=True):
            src = src or default
            ids = enc.ids + ([eos] if eos is not None else [])
            parts.setdefault(src, []).append(np.asarray(ids, dtype=np.int64))
            nbytes[src] = nbytes.get(src, 0) + len(text.encode("utf-8"))
        seen += len(texts)
        if max_documents is not None and seen >= max_documents:
            break
    return {s: (np.concatenate(p), nbytes[s]) for s, p in parts.items()}
