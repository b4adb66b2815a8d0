"""datatrove side of ``filters_vs_datatrove.py``: run its filters on the benchmark corpus, print a JSON line.

Runs with the python of ``bench/.venv-datatrove`` (datatrove is never installed into the project's
venv), one process per measured run:

    bench/.venv-datatrove/bin/python bench/_datatrove_driver.py --input DIR --output DIR \
        --workers 2 --params '{"gopher_quality": {...}, ...}'

The pipeline is JsonlReader -> the filters named in ``--params``, in that order -> JsonlWriter, under
``LocalPipelineExecutor(tasks=workers, workers=workers)``. Each filter writes what it drops to
``<output>/excluded/<step>/`` (its exclusion writer: datatrove stores its drop reason in the
``filter_reason`` metadata field), so the harness can tell which rule dropped each document.

``c4_badwords`` is datatrove's ``C4BadWordsFilter``. It downloads its word list on first use; there
is no network here, so ``--bad-words-file`` seeds datatrove's asset cache (under ``$HF_HOME``) with
the list instead, at the path and with the completion marker its downloader would leave, and
datatrove's own code then reads it as usual.

``--tokenizer spacy`` is datatrove's own choice for English: ``spacy.blank("en")`` plus the rule-based
``sentencizer``. Both ship inside the ``spacy`` wheel, so nothing is downloaded; it is what a datatrove
user gets with ``language="en"``. ``--tokenizer regex`` swaps in a plain regular-expression tokenizer
(``\\w+`` and runs of punctuation) to show how much of datatrove's time is spaCy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time


def make_regex_tokenizer():  # type: ignore[no-untyped-def]
    """A datatrove WordTokenizer with no model: words are ``\\w+`` or runs of other non-space characters."""
    import re

    import regex
    from datatrove.utils.text import TERMINAL_PUNCTUATION
    from datatrove.utils.word_tokenizers import WordTokenizer, simple_span_tokenize, strip_strings

    word_re = re.compile(r"\w+|[^\w\s]+")
    # the same sentence regex as datatrove's WhitespaceTokenizer
    sent_re = regex.compile(
        rf"(?:(?:\p{{Lu}}\.)|.)+?[{re.escape(''.join(TERMINAL_PUNCTUATION))}\n]+[\"'”]?", regex.UNICODE
    )

    class RegexTokenizer(WordTokenizer):
        def word_tokenize(self, text: str) -> list[str]:
            return word_re.findall(text)

        def sent_tokenize(self, text: str) -> list[str]:
            return strip_strings(sent_re.findall(text))

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return list(simple_span_tokenize(text, self.sent_tokenize(text)))

        def __reduce__(self):  # type: ignore[no-untyped-def]
            # rebuilt in each worker instead of pickling compiled patterns
            return (make_regex_tokenizer, ())

    return RegexTokenizer("en")


class WordCount:
    """The ``length`` rule of gencommons: whitespace-separated words of the stripped text."""

    def __init__(self, min_words: int, max_words: int | None, min_chars: int, max_chars: int | None):
        self.min_words, self.max_words = min_words, max_words
        self.min_chars, self.max_chars = min_chars, max_chars

    def __call__(self, doc) -> bool:  # type: ignore[no-untyped-def]
        text = doc.text.strip()
        n_chars = len(text)
        if n_chars < self.min_chars or (self.max_chars is not None and n_chars > self.max_chars):
            return False
        n_words = len(text.split())
        return not (n_words < self.min_words or (self.max_words is not None and n_words > self.max_words))


def seed_bad_words(path: str) -> None:
    """Put ``path`` where ``C4BadWordsFilter`` looks for its downloaded English list."""
    import shutil

    from datatrove.io import cached_assets_path
    from datatrove.pipeline.filters.c4_filters import _EN_BADWORDS_URL
    from fsspec.core import strip_protocol

    folder = cached_assets_path(library_name="datatrove", namespace="filters", subfolder="c4_badwords")
    local = os.path.join(folder, strip_protocol(_EN_BADWORDS_URL).replace("/", "_"))
    shutil.copyfile(path, local)
    open(f"{local}.completed", "a").close()


def build_pipeline(args: argparse.Namespace, params: dict[str, dict]) -> list:  # type: ignore[type-arg]
    from datatrove.pipeline.filters import (
        C4BadWordsFilter,
        C4QualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LambdaFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    language = make_regex_tokenizer() if args.tokenizer == "regex" else "en"

    def excluded(step: str) -> JsonlWriter:
        return JsonlWriter(os.path.join(args.output, "excluded", step), output_filename="${rank}.jsonl.gz")

    pipeline: list = [  # type: ignore[type-arg]
        JsonlReader(args.input, glob_pattern="*.jsonl.gz", text_key="text", id_key="id", add_file_path=False)
    ]
    for step, p in params.items():
        if step == "gopher_quality":
            pipeline.append(GopherQualityFilter(**p, language=language, exclusion_writer=excluded(step)))
        elif step == "gopher_repetition":
            p = dict(p)
            p["top_n_grams"] = tuple(tuple(x) for x in p["top_n_grams"])
            p["dup_n_grams"] = tuple(tuple(x) for x in p["dup_n_grams"])
            pipeline.append(GopherRepetitionFilter(**p, language=language, exclusion_writer=excluded(step)))
        elif step == "c4_quality":
            pipeline.append(C4QualityFilter(**p, language=language, exclusion_writer=excluded(step)))
        elif step == "c4_badwords":
            pipeline.append(C4BadWordsFilter(**p, exclusion_writer=excluded(step)))
        elif step == "length":
            pipeline.append(LambdaFilter(WordCount(**p), exclusion_writer=excluded(step)))
        else:
            raise SystemExit(f"_datatrove_driver: no datatrove equivalent for step {step!r}")
    pipeline.append(JsonlWriter(os.path.join(args.output, "kept"), output_filename="${rank}.jsonl.gz"))
    return pipeline


def explain(path: str, args: argparse.Namespace, params: dict[str, dict]) -> None:  # type: ignore[type-arg]
    """Print {id: {step: {reason, numbers}}} for the docs in ``path``: each filter's own verdict (its
    ``filter`` method) and the quantities its rules compare, computed as its code computes them. The
    filters are chained like the pipeline (C4's cleaned text feeds the length rule) but nothing is
    dropped on the way, so every step's numbers are there."""
    from datatrove.data import Document
    from datatrove.pipeline.filters.base_filter import get_filter_result
    from datatrove.pipeline.filters.c4_filters import (
        CITATION_REGEX,
        ELLIPSIS,
        END_PUNCTUATION,
        POLICY_SUBSTRINGS,
    )
    from datatrove.pipeline.filters.gopher_quality_filter import STOP_WORDS
    from datatrove.pipeline.filters.gopher_repetition_filter import (
        find_all_duplicate,
        find_duplicates,
        find_top_duplicate,
        get_n_grams,
    )
    from datatrove.utils.text import PUNCTUATION_SET, split_into_sentences, split_into_words

    pipeline = build_pipeline(args, params)[1:-1]
    language = make_regex_tokenizer() if args.tokenizer == "regex" else "en"
    out: dict[str, dict] = {}  # type: ignore[type-arg]
    with open(path, "rb") as fh:
        docs = [json.loads(line) for line in fh]
    for d in docs:
        doc = Document(text=d["text"], id=d["id"])
        per: dict[str, dict] = {}  # type: ignore[type-arg]
        for step, flt in zip(params, pipeline, strict=True):
            text = doc.text
            nums: dict[str, object] = {}
            if step == "gopher_quality":
                words = split_into_words(text, language)
                nsw = [w for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
                nums = {
                    "words": len(words),
                    "non_symbol_words": len(nsw),
                    "mean_word_length": round(sum(map(len, nsw)) / len(nsw), 4) if nsw else None,
                    "hash_ratio": round(text.count("#") / len(words), 4) if words else None,
                    "ellipsis_ratio": round((text.count("...") + text.count("…")) / len(words), 4)
                    if words
                    else None,
                    "alpha_words_ratio": round(
                        sum(any(c.isalpha() for c in w) for w in words) / len(words), 4
                    )
                    if words
                    else None,
                    "stop_words": len(set(STOP_WORDS) & set(words)),
                }
                lines = text.splitlines()
                if lines:
                    nums["bullet_lines_ratio"] = round(
                        sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines), 4
                    )
                    nums["end_ellipsis_lines_ratio"] = round(
                        sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines), 4
                    )
            elif step == "gopher_repetition" and text:
                paras = re.split(r"\n{2,}", text.strip())
                n_dup, c_dup = find_duplicates(paras)
                nums["dup_para_frac"] = round(n_dup / len(paras), 4)
                nums["dup_para_char_frac"] = round(c_dup / len(text), 4)
                lines = re.split("\n+", text)
                n_dup, c_dup = find_duplicates(lines)
                nums["dup_line_frac"] = round(n_dup / len(lines), 4)
                nums["dup_line_char_frac"] = round(c_dup / len(text), 4)
                words = split_into_words(text, language)
                for n, _ in params[step]["top_n_grams"]:
                    grams = get_n_grams(words, n)
                    if grams:
                        nums[f"top_{n}_gram_char_frac"] = round(find_top_duplicate(grams) / len(text), 4)
                for n, _ in params[step]["dup_n_grams"]:
                    nums[f"dup_{n}_gram_char_frac"] = round(find_all_duplicate(words, n) / len(text), 4)
            elif step == "c4_quality":
                # C4QualityFilter.filter's loop, counting instead of returning at the first page rule
                p = params[step]
                kept = sentences = 0
                lorem = curly = False
                for line in text.splitlines():
                    line = line.strip()
                    words = line.split()
                    if p["max_word_length"] != -1 and any(len(w) > p["max_word_length"] for w in words):
                        continue
                    if p["remove_citations"]:
                        line = CITATION_REGEX.sub("", line)
                    if p["filter_no_terminal_punct"] and (
                        not line.endswith(END_PUNCTUATION) or line.endswith(ELLIPSIS)
                    ):
                        continue
                    if len(words) < p["min_words_per_line"]:
                        continue
                    low = line.lower()
                    lorem |= p["filter_lorem_ipsum"] and "lorem ipsum" in low
                    if p["filter_javascript"] and "javascript" in low:
                        continue
                    curly |= p["filter_curly_bracket"] and "{" in line
                    if p["filter_policy"] and any(x in low for x in POLICY_SUBSTRINGS):
                        continue
                    kept += 1
                    sentences += len(split_into_sentences(line, language))
                nums = {
                    "lines": len(text.splitlines()),
                    "lines_kept": kept,
                    "sentences": sentences,
                    "lorem_ipsum": lorem,
                    "curly_bracket": curly,
                }
            elif step == "c4_badwords":
                found = flt._get_badwords(doc.metadata.get("language", flt.default_language)).search(
                    text.lower()
                )
                nums = {"bad_word": found.group(0).strip() if found else None}
            elif step == "length":
                nums = {"chars": len(text.strip()), "words": len(text.strip().split())}
            keep, reason = get_filter_result(flt.filter(doc))  # C4 replaces doc.text when it keeps
            per[step] = {"reason": None if keep else f"{step}:{reason or 'drop'}", **nums}
        out[d["id"]] = per
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--tokenizer", choices=("spacy", "regex"), default="spacy")
    ap.add_argument("--params", required=True, help="JSON: {step: {datatrove kwargs}} in pipeline order")
    ap.add_argument("--explain", help="JSONL of docs: print each filter's verdict and numbers, run nothing")
    ap.add_argument("--bad-words-file", help="the English bad-words list for C4BadWordsFilter (see above)")
    args = ap.parse_args()
    params = json.loads(args.params)
    if args.bad_words_file:
        seed_bad_words(args.bad_words_file)
    if args.explain:
        explain(args.explain, args, params)
        return

    t_import = time.perf_counter()
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.utils.logging import logger

    logger.remove()  # datatrove logs every task to stderr; its logging_dir keeps the logs
    pipeline = build_pipeline(args, params)
    t0 = time.perf_counter()
    executor = LocalPipelineExecutor(
        pipeline,
        tasks=args.workers,
        workers=args.workers,
        logging_dir=os.path.join(args.output, "logs"),
        skip_completed=False,
    )
    stats = executor.run()
    seconds = time.perf_counter() - t0
    per_step = {}
    for s in stats.stats:
        per_step[s.name] = {k: v.total for k, v in s.stats.items()}
    reader = next(v for k, v in per_step.items() if "Jsonl" in k and "documents" in v)
    writer = [v for k, v in per_step.items() if "Jsonl" in k][-1]
    out = {
        "docs_in": int(reader["documents"]),
        "docs_out": int(writer.get("total", 0)),
        "seconds": seconds,
        "setup_seconds": t0 - t_import,
        "steps": per_step,
        "tasks": args.workers,
    }
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
