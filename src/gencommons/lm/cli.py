"""``gencommons lm``: train tokenizers, pack datasets, train and evaluate small language models.

Heavy imports (torch, transformers) happen inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
tokenizer_app = typer.Typer(no_args_is_help=True)
app.add_typer(tokenizer_app, name="tokenizer", help="Train byte-level BPE tokenizers (Hugging Face format).")
