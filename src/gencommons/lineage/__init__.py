"""Lineage: every artifact carries a manifest.json naming what it was made from."""
