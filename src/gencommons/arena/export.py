"""``gencommons arena export OUT/``: the shareable preference dataset, with a dataset card and a manifest.

Only voted battles of users who opted in to sharing are written; users who deleted their data are gone
from the database, so they are gone from every export made after the deletion. No user id, no IP hash
is written. Layout (loads with ``datasets.load_dataset("parquet", data_files="OUT/data/*.parquet")``)::

    OUT/data/train-00000-of-00001.parquet   one row per voted battle
    OUT/README.md                           the dataset card (Hugging Face YAML header + what, how, consent)
    OUT/manifest.json                       lineage: the database (without password), counts, config
"""

from __future__ import annotations

import os
from typing import Any

from gencommons.arena.config import CONSENT_VERSION, ArenaConfig

LICENSE = "cc-by-4.0"
COLUMNS = (
    "battle_id: a random id (not linked to any user)",
    "mode: battle (anonymous), side_by_side (chosen models) or single",
    "model_a, model_b: the two models (shown to the voter only after the vote in anonymous battles)",
    "winner: model_a, model_b, tie or tie (bothbad) (Chatbot Arena's vocabulary)",
    "conversation_a, conversation_b: JSON lists of {role, content} messages, each model's side",
    "turns: number of user prompts",
    "language, category: when detected (null otherwise)",
    "started_at, voted_at: UTC timestamps",
    "excluded_from_ratings, flags: vote-quality checks (votes are flagged, never deleted)",
)


def export_dataset(cfg: ArenaConfig, out: str, *, overwrite: bool = False) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sqlalchemy import func, select

    from gencommons.arena import store
    from gencommons.arena.db import Battle, Deletion, User, Vote, make_engine, safe_url, sessions, upgrade
    from gencommons.lineage.atomic import atomic_dir
    from gencommons.lineage.hashing import content_id, file_sha256
    from gencommons.lineage.manifest import new_manifest, write_manifest

    upgrade(cfg.database)
    engine = make_engine(cfg.database)
    try:
        with sessions(engine)() as s:
            rows = store.export_rows(s)
            voted = s.scalar(select(func.count()).select_from(Vote)) or 0
            deleted = s.scalar(select(func.count()).select_from(Deletion)) or 0
            sharing = (
                s.scalar(select(func.count()).select_from(User).where(User.share_prompts.is_(True))) or 0
            )
            first = s.scalar(select(func.min(Battle.created_at)))
            last = s.scalar(select(func.max(Battle.created_at)))
    finally:
        engine.dispose()
    schema = pa.schema(
        [
            ("battle_id", pa.string()),
            ("mode", pa.string()),
            ("model_a", pa.string()),
            ("model_b", pa.string()),
            ("winner", pa.string()),
            ("conversation_a", pa.string()),
            ("conversation_b", pa.string()),
            ("turns", pa.int32()),
            ("language", pa.string()),
            ("category", pa.string()),
            ("started_at", pa.timestamp("us", tz="UTC")),
            ("voted_at", pa.timestamp("us", tz="UTC")),
            ("excluded_from_ratings", pa.bool_()),
            ("flags", pa.string()),
        ]
    )
    for r in rows:
        r["started_at"] = store.as_utc(r["started_at"])
        r["voted_at"] = store.as_utc(r["voted_at"])
    pii_counts = _scrub_rows(rows)
    table = pa.Table.from_pylist(rows, schema=schema)
    counts = {
        "battles": len(rows),
        "votes_in_database": voted,
        "not_shared": voted - len(rows),
        "users_sharing": sharing,
        "deleted_users": deleted,
        "models": len({m for r in rows for m in (r["model_a"], r["model_b"]) if m}),
    }
    counts |= {f"pii_{k}": v for k, v in pii_counts.items()}
    languages = sorted({r["language"] for r in rows if r["language"]})
    with atomic_dir(out, overwrite=overwrite) as tmp:
        os.makedirs(os.path.join(tmp, "data"))
        pq.write_table(table, os.path.join(tmp, "data", "train-00000-of-00001.parquet"), compression="zstd")
        with open(os.path.join(tmp, "README.md"), "w", encoding="utf-8") as fh:
            fh.write(_card(cfg, rows, counts, languages, first, last))
        files = []
        for root, _, fs in os.walk(tmp):
            for f in fs:
                p = os.path.join(root, f)
                files.append((os.path.relpath(p, tmp), file_sha256(p)))
        manifest = new_manifest(
            "feedback-export",
            content_id=content_id(files),
            inputs=[{"database": safe_url(cfg.database)}],
            config={"consent_version": CONSENT_VERSION, "license": LICENSE},
            counts=counts,
            licenses={"output": LICENSE},
            files=[{"path": f, "sha256": h} for f, h in sorted(files)],
        )
        write_manifest(tmp, manifest)
    return manifest


def _scrub_rows(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Scrub PII from every message of every exported conversation (in place); the counts per kind."""
    import json

    from gencommons.arena.scrub import scrub

    convs = [(r, side, json.loads(r[side])) for r in rows for side in ("conversation_a", "conversation_b")]
    texts = [m["content"] for _, _, conv in convs for m in conv]
    cleaned, counts = scrub(texts) if texts else ([], {})
    it = iter(cleaned)
    for r, side, conv in convs:
        for m in conv:
            m["content"] = next(it)
        r[side] = json.dumps(conv, ensure_ascii=False)
    return counts


def _card(
    cfg: ArenaConfig,
    rows: list[dict[str, Any]],
    counts: dict[str, int],
    languages: list[str],
    first: Any,
    last: Any,
) -> str:
    n = counts["battles"]
    size = "n<1K" if n < 1_000 else "1K<n<10K" if n < 10_000 else "10K<n<100K" if n < 100_000 else "100K<n<1M"
    winners: dict[str, int] = {}
    for r in rows:
        winners[r["winner"]] = winners.get(r["winner"], 0) + 1
    lang_yaml = "".join(f"- {lang}\n" for lang in languages) or "- multilingual\n"
    lines = [
        "---",
        f"license: {LICENSE}",
        "language:",
        lang_yaml.rstrip("\n"),
        f"size_categories:\n- {size}",
        "task_categories:\n- text-generation",
        "tags:\n- preference\n- human-feedback\n- arena\n- gencommons",
        "configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/*.parquet",
        "---",
        "",
        f"# {cfg.title}: pairwise human preferences",
        "",
        f"{n:,} voted battles between {counts['models']} models, collected by a gencommons arena "
        f"between {first:%Y-%m-%d} and {last:%Y-%m-%d}."
        if n
        else "No voted battles were shared yet.",
        "",
        "## Collection method",
        "",
        "A person types a prompt; two models answer side by side; in anonymous battles (`mode: battle`) the",
        "names are hidden until the person votes A better, B better, tie, or both bad. Pairs are sampled",
        (
            "uniformly among active models. Answers are generated with the arena's settings "
            f"(max_tokens {cfg.max_tokens}, temperature {cfg.temperature})."
        ),
        "",
        "## Consent and privacy",
        "",
        f"Every voter accepted the arena's terms (version {CONSENT_VERSION}) and only voters who opted in to",
        "sharing are included. No user id, IP address or IP hash is in this dataset. Voters can delete",
        (
            "their data at any time; a deletion applies to every release made after it "
            f"({counts['deleted_users']} voter(s) had deleted their data when this one was made). "
            f"{counts['not_shared']:,} further votes exist from voters who did not opt in; they count in the"
        ),
        "leaderboard but are not released. Prompts and answers are as typed and generated: they may",
        "contain personal data that voters wrote themselves.",
        "",
        "## Personal data removed",
        "",
        "Every prompt and answer went through gencommons' PII scrubber (`gencommons.arena.scrub`): "
        + ", ".join(f"{counts.get('pii_' + k, 0):,} {k}" for k in ("email", "phone", "ip", "address", "name"))
        + " replaced by placeholders such as `<EMAIL>` and `<NAME>`. Names are found only where the text says "
        'they are names ("my name is", "Dear", titles); others may remain.',
        "",
        "## Contents",
        "",
        *[f"- `{c}`" for c in COLUMNS],
        "",
        "Votes: " + (", ".join(f"{k} {v:,}" for k, v in sorted(winners.items())) or "none") + ".",
        "",
        "## Licence",
        "",
        f"The dataset is released under {LICENSE.upper()}. Model answers may carry the terms of the models",
        "that produced them.",
        "",
    ]
    return "\n".join(lines)
