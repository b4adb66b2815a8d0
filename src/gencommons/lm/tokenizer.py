"""Byte-level BPE tokenizers trained with the ``tokenizers`` library, saved in Hugging Face format.

The result loads with ``transformers.AutoTokenizer.from_pretrained(folder)``; its ``manifest.json``
names the dataset it was trained on (content id) and the training parameters.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from gencommons.errors import UserError
from gencommons.lm.corpus import iter_texts, open_dataset

EOS = "<|endoftext|>"
PAD = "<|pad|>"
CHAT_TOKENS = ["<|im_start|>", "<|im_end|>"]
SPECIAL_TOKENS = [EOS, PAD, *CHAT_TOKENS]
BYTE_ALPHABET = 256
MIN_VOCAB = BYTE_ALPHABET + len(SPECIAL_TOKENS)
MAX_VOCAB = 2**32 - 1


def train_tokenizer(
    dataset: str,
    out: str,
    *,
    vocab_size: int = 8192,
    min_frequency: int = 2,
    text_field: str = "text",
    max_documents: int | None = None,
    model_max_length: int = 2048,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train a byte-level BPE tokenizer on ``dataset`` and save it to ``out``; returns its manifest."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from gencommons.backends.chat_template import DEFAULT_CHAT_TEMPLATE
    from gencommons.lineage.atomic import atomic_dir
    from gencommons.lineage.hashing import content_id, file_sha256
    from gencommons.lineage.manifest import new_manifest, write_manifest

    if not MIN_VOCAB <= vocab_size <= MAX_VOCAB:
        raise UserError(
            f"--vocab-size {vocab_size} is out of range: a byte-level BPE needs at least {MIN_VOCAB} "
            f"({BYTE_ALPHABET} bytes + {len(SPECIAL_TOKENS)} special tokens)."
        )
    ds = open_dataset(dataset)
    stats = {"documents": 0, "characters": 0}

    def texts() -> Iterator[list[str]]:
        for _, batch in iter_texts(ds, text_field=text_field):
            if max_documents is not None:
                batch = batch[: max(0, max_documents - stats["documents"])]
            if not batch:
                return
            stats["documents"] += len(batch)
            stats["characters"] += sum(len(t) for t in batch)
            yield batch

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts(), trainer=trainer)
    if stats["documents"] == 0:
        raise UserError(f"{dataset}: the dataset has no non-empty {text_field!r} texts to train on.")

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, pad_token=PAD, model_max_length=model_max_length
    )
    fast.add_special_tokens({"additional_special_tokens": CHAT_TOKENS})
    fast.chat_template = DEFAULT_CHAT_TEMPLATE
    with atomic_dir(out, overwrite=overwrite) as tmp:
        fast.save_pretrained(tmp)
        files = [(f, file_sha256(os.path.join(tmp, f))) for f in sorted(os.listdir(tmp))]
        manifest = new_manifest(
            "tokenizer",
            content_id=content_id(files),
            inputs=[{"path": os.path.abspath(dataset), "content_id": ds.content_id}],
            config={
                "type": "byte-level BPE",
                "vocab_size": vocab_size,
                "min_frequency": min_frequency,
                "text_field": text_field,
                "max_documents": max_documents,
                "model_max_length": model_max_length,
            },
            counts={**stats, "vocab_size": tok.get_vocab_size()},
            licenses={"inputs": ds.licenses},
            files=[{"path": f, "sha256": h} for f, h in files],
        )
        write_manifest(tmp, manifest)
    return manifest


def load_tokenizer(path: str) -> Any:
    """``AutoTokenizer.from_pretrained(path)`` with an error that names the folder."""
    from transformers import AutoTokenizer

    if not os.path.isdir(path):
        raise UserError(f"{path}: no tokenizer folder here (train one with `gencommons lm tokenizer train`).")
    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not a loadable Hugging Face tokenizer ({e}).") from e
