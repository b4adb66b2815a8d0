"""``gencommons arena prompts OUT/``: the prompts of consenting users as dated, de-duplicated evaluation
sets per language and category.

Prompts typed into the arena after a model's training cut-off cannot be in its training data, so each
set records its date range (``first_seen`` per prompt, ``collected_until`` for the set): a later
contamination check (``gencommons data contamination``) can test any corpus against prompts newer than
its crawl. Only users who opted in to sharing count; prompts are PII-scrubbed (``scrub.py``);
duplicates (same text after lower-casing and collapsing white space) are kept once, with their count.

Layout::

    OUT/<language>/<category>.jsonl   {"id", "prompt", "language", "category", "first_seen", "times_asked"}
    OUT/README.md                     what, when, how many per set
    OUT/manifest.json
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from typing import Any

from gencommons.arena.config import ArenaConfig


def _key(text: str) -> str:
    return hashlib.sha256(re.sub(r"\s+", " ", text.strip().lower()).encode()).hexdigest()[:16]


def export_prompts(
    cfg: ArenaConfig, out: str, *, since: dt.date | None = None, overwrite: bool = False
) -> dict[str, Any]:
    from sqlalchemy import select

    from gencommons.arena import store
    from gencommons.arena.db import Battle, Turn, User, make_engine, sessions, upgrade
    from gencommons.arena.scrub import scrub
    from gencommons.lineage.atomic import atomic_dir
    from gencommons.lineage.hashing import content_id, file_sha256
    from gencommons.lineage.manifest import new_manifest, write_manifest

    upgrade(cfg.database)
    engine = make_engine(cfg.database)
    try:
        with sessions(engine)() as s:
            q = (
                select(Turn.prompt, Turn.created_at, Battle.language, Battle.category)
                .join(Battle, Battle.id == Turn.battle_id)
                .join(User, User.id == Battle.user_id)
                .where(User.share_prompts.is_(True))
                .order_by(Turn.created_at)
            )
            rows = s.execute(q).all()
    finally:
        engine.dispose()
    if since is not None:
        rows = [r for r in rows if store.as_utc(r[1]).date() >= since]
    cleaned, pii = scrub([r[0] for r in rows]) if rows else ([], {})
    sets: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for (_, created, language, category), prompt in zip(rows, cleaned, strict=True):
        lang, cat = language or "unknown", category or "other"
        key = _key(prompt)
        entry = sets.setdefault((lang, cat), {}).get(key)
        if entry is None:
            sets[(lang, cat)][key] = {
                "id": key,
                "prompt": prompt,
                "language": lang,
                "category": cat,
                "first_seen": store.as_utc(created).date().isoformat(),
                "times_asked": 1,
            }
        else:
            entry["times_asked"] += 1
    until = max((store.as_utc(r[1]) for r in rows), default=None)
    counts = {f"{lang}/{cat}": len(items) for (lang, cat), items in sorted(sets.items())}
    with atomic_dir(out, overwrite=overwrite) as tmp:
        files = []
        for (lang, cat), items in sorted(sets.items()):
            folder = os.path.join(tmp, _safe(lang))
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, f"{_safe(cat)}.jsonl")
            with open(path, "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in items.values())
        with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as fh:
            fh.write(
                "# Arena prompts: dated evaluation sets\n\n"
                f"Prompts typed into the arena by voters who opted in to sharing, up to "
                f"{until:%Y-%m-%d %H:%M} UTC, PII-scrubbed ({', '.join(f'{v} {k}' for k, v in pii.items())} "
                "replaced), de-duplicated per set. A prompt first seen after a model's training data was "
                "collected cannot be in it: use `first_seen` to pick the prompts that are fresh for the "
                "model you evaluate.\n\n| language/category | prompts |\n|---|--:|\n"
                + "".join(f"| {k} | {v} |\n" for k, v in counts.items())
                if until
                else "# Arena prompts\n\nNo shared prompts yet.\n"
            )
        for root, _, fs in os.walk(tmp):
            for f in fs:
                files.append(
                    (os.path.relpath(os.path.join(root, f), tmp), file_sha256(os.path.join(root, f)))
                )
        manifest = new_manifest(
            "eval-prompts",
            content_id=content_id(files),
            config={
                "since": since.isoformat() if since else None,
                "collected_until": until.isoformat() if until else None,
            },
            counts={
                "prompts": sum(counts.values()),
                "sets": len(counts),
                **{f"pii_{k}": v for k, v in pii.items()},
            },
            sets=counts,
            files=[{"path": f, "sha256": h} for f, h in sorted(files)],
        )
        write_manifest(tmp, manifest)
    return manifest


def _safe(name: str) -> str:
    """A file name from a language or category (they come from data)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:32] or "unknown"
