"""Accuracy and speed of the ``language`` step's backends (and two candidates it does not offer).

    .venv/bin/python bench/language_id.py                  # every backend that is installed
    .venv/bin/python bench/language_id.py --backends fasttext py3langid --limit 500

Test sets, all from ``shared/data/text`` (see its README for the caveats on labels):

* ``gutenberg``: all 7,761 chunks (en fr it es de); the PG ``Language:`` header is right for them.
* ``man-clean``: man-page chunks whose declared locale agrees with ``meta.py3langid`` (``nb`` with
  py3langid's ``no``). Half-translated pages drop out, but so do the pages py3langid gets wrong: this
  set favours py3langid.
* ``hand``: 84 man-page chunks labelled by reading them (table ``HAND`` below): 35 drawn (seeded) from
  the chunks where the declared locale and py3langid disagree, 49 from those where they agree; chunks
  mixing languages, and tables without words, were left out. The labels are the language of most of
  the text, often English in a page filed under another locale.
* ``web-clean``: trafilatura extractions whose ``<html lang>`` agrees with py3langid (favours it too).
* ``short``: ``man-clean`` cut to its first 200 characters (headlines, snippets, captions).

Accuracy is the share of documents whose top language is the label (no score threshold); ``kept@0.65``
is the share of gutenberg + man-clean documents whose top language is right and scores at least 0.65
(the step's default ``min_score``). Speed is documents per second through ``identify`` with
``prefix_chars=2000`` over every 8th document of gutenberg + man-clean (about 2,000 of 2,070 characters
on average), model already loaded; lingua runs on all cores, the others on one.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from gencommons.data.steps.language import _BACKENDS, identify, normalize_code

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "text"

# id suffix (after "debian-man:") -> language, judged by reading the whole chunk.
HAND = {
    # declared locale and py3langid disagree
    "da:man5/gshadow.5.gz:00": "en", "de:man8/useradd.8.gz:02": "en", "es:man7/iso_8859-14.7.gz:01": "es",
    "es:man7/iso_8859-15.7.gz:01": "es", "es:man7/iso_8859-2.7.gz:01": "es", "fi:man1/nm.1.gz:00": "en",
    "fr:man7/iso_8859-16.7.gz:01": "fr", "fr:man8/faillog.8.gz:00": "en", "fr:man8/grpck.8.gz:00": "en",
    "hr:man1/fuser.1.gz:00": "hr", "it:man7/iso_8859-15.7.gz:01": "en", "nl:man5/manpath.5.gz:01": "en",
    "pl:man1/pstops.1.gz:01": "en", "ru:man1/chage.1.gz:01": "en", "ru:man5/termcap.5.gz:02": "en",
    "sv:man8/groupadd.8.gz:00": "en", "sv:man8/lastlog.8.gz:01": "en", "sv:man8/pwck.8.gz:00": "en",
    "zh_CN:man3/memory.3tcl.gz:00": "en", "zh_CN:man3/option.3tk.gz:02": "zh",
    "zh_CN:man8/usermod.8.gz:00": "en", "zh_TW:man1/base64.1.gz:01": "zh", "zh_TW:man1/ecpg.1.gz:02": "zh",
    "zh_TW:man1/loadkeys.1.gz:01": "zh", "zh_TW:man1/localectl.1.gz:02": "zh",
    "zh_TW:man1/showkey.1.gz:00": "zh", "zh_TW:man1/systemd-firstboot.1.gz:02": "zh",
    "zh_TW:man1/systemd-notify.1.gz:01": "zh", "zh_TW:man1/texi2dvi.1.gz:00": "zh",
    "zh_TW:man5/keymaps.5.gz:02": "zh", "zh_TW:man7/alter_group.7.gz:00": "zh",
    "zh_TW:man7/lapack.7.gz:01": "en", "zh_TW:man7/signal.7.gz:02": "zh", "zh_TW:man8/losetup.8.gz:00": "zh",
    "zh_TW:man8/losetup.8.gz:01": "zh",
    # declared locale and py3langid agree
    "cs:man1/stty.1.gz:01": "cs", "cs:man1/wget.1.gz:00": "cs", "da:man1/grub-mknetdir.1.gz:00": "da",
    "da:man1/flex.1.gz:01": "da", "de:man7/systemd.special.7.gz:01": "de", "de:man7/iso_8859-3.7.gz:00": "de",
    "en:man5/shadow.5.gz:01": "en", "en:man1/lsb_release.1.gz:00": "en", "es:man1/mknod.1.gz:00": "es",
    "fi:man1/gzip.1.gz:00": "fi", "fr:man1/tail.1.gz:00": "fr", "fr:man8/adduser.8.gz:02": "fr",
    "hr:man1/killall.1.gz:01": "hr", "hr:man1/pstree.1.gz:00": "hr", "hu:man5/procmailex.5.gz:02": "hu",
    "id:man1/man.1.gz:01": "id", "it:man7/man.7.gz:02": "it", "ja:man8/blockdev.8.gz:01": "ja",
    "ja:man1/cp.1.gz:00": "ja", "ko:man1/fuser.1.gz:01": "ko", "ko:man1/whatis.1.gz:00": "ko",
    "mk:man1/cat.1.gz:00": "mk", "nb:man1/mkfifo.1.gz:00": "nb", "nb:man1/stdbuf.1.gz:00": "nb",
    "nb:man1/sha1sum.1.gz:00": "nb", "nl:man8/apt-secure.8.gz:00": "nl", "nl:man5/deb-md5sums.5.gz:00": "nl",
    "pl:man8/repquota.8.gz:01": "pl", "pl:man1/mcd.1.gz:01": "pl", "pt_BR:man4/cpuid.4.gz:01": "pt",
    "pt:man1/dpkg-statoverride.1.gz:01": "pt", "ro:man1/diff.1.gz:00": "ro", "ro:man1/fuser.1.gz:00": "ro",
    "ru:man7/vdso.7.gz:01": "ru", "ru:man7/user_namespaces.7.gz:02": "ru", "sl:man8/add-shell.8.gz:00": "sl",
    "sl:man8/run-parts.8.gz:01": "sl", "sr:man1/touch.1.gz:01": "sr", "sr:man1/csv2rec.1.gz:00": "sr",
    "sv:man5/manpath.5.gz:00": "sv", "sv:man1/vdir.1.gz:01": "sv", "tr:man1/hostname.1.gz:02": "tr",
    "tr:man1/gpasswd.1.gz:00": "tr", "uk:man8/useradd.8.gz:02": "uk", "uk:man8/blockdev.8.gz:01": "uk",
    "vi:man1/sdiff.1.gz:00": "vi", "vi:man1/ls.1.gz:02": "vi", "zh_CN:man2/read.2.gz:00": "zh",
    "zh_TW:man1/journalctl.1.gz:00": "zh",
}  # fmt: skip

# texts -> (languages, scores or None when the candidate has no probability-like score)
Detect = Callable[[list[str]], tuple[list[str | None], list[float] | None]]


def read(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def agrees(r: dict) -> bool:
    return r["lang"] is not None and normalize_code(r["lang"]) == normalize_code(r["meta"]["py3langid"] or "")


def test_sets(data: Path, limit: int | None) -> dict[str, list[tuple[str, str]]]:
    """name -> [(text, label)]."""
    gut, man = read(data / "gutenberg.jsonl.gz"), read(data / "debian-man.jsonl.gz")
    sets = {
        "gutenberg": [(r["text"], r["lang"]) for r in gut],
        "man-clean": [(r["text"], normalize_code(r["lang"])) for r in man if agrees(r)],
        "hand": [
            (r["text"], HAND[r["id"].split(":", 1)[1]]) for r in man if r["id"].split(":", 1)[1] in HAND
        ],
    }
    if (data / "web.jsonl.gz").exists():
        sets["web-clean"] = [
            (r["text"], normalize_code(r["lang"])) for r in read(data / "web.jsonl.gz") if agrees(r)
        ]
    sets["short"] = [(t[:200], lang) for t, lang in sets["man-clean"]]
    assert len(sets["hand"]) == len(HAND), "a hand-checked id is missing from debian-man.jsonl.gz"
    if limit:  # an even sample, so every language stays in
        sets = {k: v[:: max(1, len(v) // limit)] for k, v in sets.items()}
    return sets  # type: ignore[return-value]


def offered(name: str) -> Detect:
    def detect(texts: list[str]) -> tuple[list[str | None], list[float] | None]:
        return identify(pl.Series(texts, dtype=pl.String), backend=name, prefix_chars=2000)

    return detect


def cld2() -> Detect:
    """CLD2 (pycld2): fast, but 80 pseudo-languages and a percent instead of a probability."""
    import pycld2

    def detect(texts: list[str]) -> tuple[list[str | None], list[float] | None]:
        out: list[str | None] = []
        for t in texts:
            try:
                code = pycld2.detect(t[:2000])[2][0][1]
            except pycld2.error:  # invalid UTF-8 after the cut, control characters
                code = "un"
            out.append(None if code in ("un", "xxx") else normalize_code(code))
        return out, None

    return detect


def langdetect() -> Detect:
    """langdetect (Google's language-detection in pure Python): slow; random unless seeded."""
    import langdetect as ld

    ld.DetectorFactory.seed = 0

    def detect(texts: list[str]) -> tuple[list[str | None], list[float] | None]:
        out: list[str | None] = []
        for t in texts:
            try:
                out.append(normalize_code(ld.detect(t[:2000])))
            except ld.LangDetectException:  # no feature in the text
                out.append(None)
        return out, None

    return detect


CANDIDATES: dict[str, Callable[[], Detect]] = {
    **{name: (lambda name=name: offered(name)) for name in _BACKENDS},
    "cld2*": cld2,
    "langdetect*": langdetect,
}


def load(name: str) -> Detect | None:
    try:
        detect = CANDIDATES[name]()
        detect(["warm up: load the model before timing."])
    except ImportError as e:  # MissingDependencyError is an ImportError too
        print(f"skip {name}: {e}", file=sys.stderr)
        return None
    return detect


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    )


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="folder of gutenberg/debian-man/web .jsonl.gz"
    )
    ap.add_argument(
        "--backends", nargs="*", default=list(CANDIDATES), help="names; * = not offered by the step"
    )
    ap.add_argument("--limit", type=int, default=None, help="about this many documents per set (quick runs)")
    args = ap.parse_args(argv)

    sets = test_sets(args.data, args.limit)
    detectors = {name: d for name in args.backends if (d := load(name)) is not None}
    speed_texts = [t for t, _ in sets["gutenberg"] + sets["man-clean"]][::8]
    kept = ["kept@0.65", f"{len(sets['gutenberg']) + len(sets['man-clean']):,}", ""]
    kept_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    kept_per_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # "lang|backend" -> [kept, total]

    overall = [["set", "docs", "langs", *detectors]]
    per_lang: dict[str, dict[str, list[int]]] = {}  # set -> "lang|backend" -> [right, total]
    for set_name, docs in sets.items():
        texts, labels = [t for t, _ in docs], [lang for _, lang in docs]
        row = [set_name, f"{len(docs):,}", str(len(set(labels)))]
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for name, detect in detectors.items():
            got, scores = detect(texts)
            for want, g in zip(labels, got, strict=True):
                counts[f"{want}|{name}"][0] += want == g
                counts[f"{want}|{name}"][1] += 1
            row.append(f"{sum(w == g for w, g in zip(labels, got, strict=True)) / len(docs):.3f}")
            if set_name in ("gutenberg", "man-clean") and scores is not None:
                right = [w == g and s >= 0.65 for w, g, s in zip(labels, got, scores, strict=True)]
                kept_counts[name][0] += sum(right)
                kept_counts[name][1] += len(right)
                for want, ok in zip(labels, right, strict=True):
                    kept_per_lang[f"{want}|{name}"][0] += ok
                    kept_per_lang[f"{want}|{name}"][1] += 1
        overall.append(row)
        per_lang[set_name] = counts

    speed = ["docs/s", f"{len(speed_texts):,}", ""]
    for detect in detectors.values():
        t0 = time.perf_counter()
        detect(speed_texts)
        speed.append(f"{len(speed_texts) / (time.perf_counter() - t0):,.0f}")
    overall.append(speed)
    kept += [f"{kept_counts[d][0] / kept_counts[d][1]:.3f}" if kept_counts[d][1] else "-" for d in detectors]
    overall.append(kept)

    print("## Accuracy of the top language (no threshold), and speed\n")
    print(table(overall))
    tables = {**per_lang, "kept@0.65 of gutenberg + man-clean": kept_per_lang}
    for set_name in ("gutenberg", "man-clean", "hand", "kept@0.65 of gutenberg + man-clean"):
        counts = tables[set_name]
        if not counts:
            continue
        langs = sorted({k.split("|")[0] for k in counts})
        rows = [["lang", "docs", *detectors]]
        for lang in langs:
            n = max(counts[f"{lang}|{d}"][1] for d in detectors)
            shares = [
                f"{counts[f'{lang}|{d}'][0] / n:.3f}" if counts[f"{lang}|{d}"][1] else "-" for d in detectors
            ]
            rows.append([lang, str(n), *shares])
        print(f"\n## {set_name}: {'share' if 'kept' in set_name else 'accuracy'} per language\n")
        print(table(rows))


if __name__ == "__main__":
    main()
