"""Deduplication steps: exact (normalized-text hash); near-duplicate and substring dedup land here too."""
