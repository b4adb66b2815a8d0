"""One interface to a model: a local Hugging Face folder or any OpenAI-compatible endpoint."""
