"""PII scrubbing of everything the arena exports (prompts and answers).

Kinds, each replaced by a placeholder and counted:

* ``email``, ``phone``, ``ip`` — the data pipeline's ``pii`` step (``gencommons.data.steps.pii``), with
  every IP address redacted (``ip_scope: all``: a user's own address is personal even when private);
* ``address`` — a street address: a house number with a street word (Street, St., Avenue, Road, Lane,
  Drive, Boulevard, Way, Court, Place; rue, avenue, boulevard, place, chemin, allée, impasse; calle,
  avenida, plaza; Straße/Strasse, Weg, Platz, Allee, Gasse as a suffix or word), in either order;
* ``name`` — a person's name where the text says it is one: after "my name is", "I am"/"I'm"/"this is
  … speaking", "je m'appelle", "je suis", "ich heiße"/"ich bin", "me llamo"/"soy", "Dear", "Signed,",
  and a title (Mr, Mrs, Ms, Dr, Prof, M., Mme, Herr, Frau, Sr., Sra.): one to three capitalised words.
  Names without such a cue (``my wife Sarah``) are not detected: no NER model runs here.

Recall on the labelled sample ``tests/data/pii/labelled.jsonl`` (40 prompts written for this, 11 without
PII) is measured in ``tests/arena/test_scrub.py`` and reported in the issue note.
"""

from __future__ import annotations

import re

PLACEHOLDERS = {"address": "<ADDRESS>", "name": "<NAME>"}
_CAP = r"[A-ZÀ-ÖØ-ÞĀ-Ž][\w'’-]+"
_NAME = rf"{_CAP}(?:\s+{_CAP}){{0,2}}"
_STREET_WORDS = r"Street|St\.|Avenue|Ave\.?|Road|Rd\.?|Lane|Ln\.?|Drive|Dr\.?|Boulevard|Blvd\.?|Way|Court|Ct\.?|Place|Pl\.?"
ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:{_CAP}\s+){{0,3}}(?:{_STREET_WORDS})(?!\w)"  # 221B Baker Street
    r"|\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai|cours)"
    rf"\s+(?:(?:de|des|du|la|le|l'|d')\s*)*{_CAP}(?:\s+{_CAP}){{0,2}}"  # 12 rue des Lilas
    rf"|\b(?:Calle|Avenida|Av\.|Plaza|Paseo|Via|Viale|Piazza)\s+(?:{_CAP}\s+){{0,3}}\d{{1,4}}\b"  # Calle Mayor 10
    r"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm)\s+\d{1,4}[a-z]?\b"  # Hauptstraße 5
    rf"|\b{_CAP}\s+(?:Straße|Strasse|Weg|Platz|Allee)\s+\d{{1,4}}[a-z]?\b",
)
NAME_CUES = re.compile(
    r"(?:\b(?:my name is|name's|i am|i'm|i’m|this is|je m'appelle|je m’appelle|je suis|ich heiße|ich heisse|ich bin"
    r"|me llamo|soy|mi nombre es|dear|signed,?|regards,?|cordialement,?)\s+"
    r"|\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|M|Mme|Mlle|Herr|Frau|Sr|Sra|Srta)\.?\s+)"
    rf"(?P<name>(?:(?:Mr|Mrs|Ms|Miss|Dr|Prof|Mme|Mlle|Herr|Frau|Sr|Sra|Srta)\.?\s+)?{_NAME})",
    re.IGNORECASE,
)
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "prof", "m", "mme", "mlle", "herr", "frau", "sr", "sra", "srta"}
# words that follow "I am" / "je suis" / "soy" without being names
_NOT_NAMES = {
    "a",
    "an",
    "the",
    "not",
    "so",
    "very",
    "here",
    "trying",
    "looking",
    "writing",
    "going",
    "working",
    "sure",
    "un",
    "une",
    "le",
    "la",
    "très",
    "en",
    "ein",
    "eine",
    "der",
    "die",
    "das",
    "nicht",
    "sehr",
    "una",
    "el",
    "muy",
    "student",
    "engineer",
    "teacher",
    "developer",
    "doctor",
    "speaking",
}


def _names(text: str, counts: dict[str, int]) -> str:
    def replace(m: re.Match[str]) -> str:
        words = m.group("name").split()
        lead = 0
        while lead < len(words) and words[lead].rstrip(".").lower() in _TITLES:  # "Dear Mr. Thompson"
            lead += 1
        # a name is capitalised even when the cue is not: "i am Kenji", never "i am going"
        keep = []
        for w in words[lead:]:
            if not w[:1].isupper() or w.lower() in _NOT_NAMES:
                break
            keep.append(w)
        if not keep:
            return m.group(0)
        counts["name"] = counts.get("name", 0) + 1
        name = " ".join(keep)
        start = m.start("name") - m.start(0)
        if lead:
            start = m.group(0).index(name, start)
        head = m.group(0)[:start]
        rest = m.group(0)[start + len(name) :]
        return head + PLACEHOLDERS["name"] + rest

    return NAME_CUES.sub(replace, text)


def scrub(texts: list[str]) -> tuple[list[str], dict[str, int]]:
    """``texts`` with PII replaced, and the number of items of each kind replaced."""
    import pyarrow as pa

    from gencommons.data.steps.pii import PiiParams, pii

    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    out, found = pii.apply(table, PiiParams.model_validate({"ip_scope": "all"}))
    counts = {k: int(found.get(k, 0)) for k in ("email", "phone", "ip")} | {"address": 0, "name": 0}
    result = []
    for t in out["text"].to_pylist():
        t, n = ADDRESS.subn(PLACEHOLDERS["address"], t)
        counts["address"] += n
        result.append(_names(t, counts))
    return result, counts
