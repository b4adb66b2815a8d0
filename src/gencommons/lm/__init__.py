"""Small language models: tokenizer training, packing, model presets, the training loop, evaluation."""
