"""Readers and writers: JSONL (.gz/.zst), Parquet, WARC (HTML to main text), folders of text files.

Readers register by format name in ``reading.readers``; writers in ``writing.writers``.
"""
