"""Data curation: read corpora, filter, deduplicate, analyse and write them with a manifest."""
