"""The export: only shared voted battles, loadable by Hugging Face datasets, with a card and a manifest."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from gencommons.arena import store
from gencommons.arena.config import ArenaConfig
from gencommons.arena.db import make_engine, sessions, upgrade
from gencommons.arena.export import export_dataset


def test_export_loads_with_datasets_and_has_a_card(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    upgrade(url)
    engine = make_engine(url)
    with sessions(engine)() as s:
        store.sync_models(s, [("m1", "x", None), ("m2", "y", None)])
        for i, share in enumerate([True, True, False, True]):
            user = f"u{i}"
            store.create_user(s, user, consent_version="1", share_prompts=share)
            battle, turn = store.create_battle(
                s,
                user_id=user,
                mode="battle",
                model_a="m1",
                model_b="m2",
                ip_hash="secret-hash",
                prompt=f"q{i} <b>é</b>",
            )
            store.save_answer(s, turn.id, "a", f"answer a{i}: write to jane@example.org", "done")
            store.save_answer(s, turn.id, "b", f"answer b{i}", "done")
            store.record_vote(
                s, battle, ["model_a", "model_b", "tie", "tie (bothbad)"][i], ip_hash="secret-hash"
            )
        store.delete_user(s, "u3")
    engine.dispose()

    m = export_dataset(ArenaConfig(database=url), str(tmp_path / "out"))
    assert m["kind"] == "feedback-export"
    assert {k: v for k, v in m["counts"].items() if not k.startswith("pii_")} == {
        "battles": 2,
        "votes_in_database": 3,
        "not_shared": 1,
        "users_sharing": 2,
        "deleted_users": 1,
        "models": 2,
    }
    assert m["counts"]["pii_email"] == 2
    from datasets import load_dataset

    ds = load_dataset("parquet", data_files=str(tmp_path / "out" / "data" / "*.parquet"), split="train")
    assert ds.num_rows == 2
    assert sorted(ds["winner"]) == ["model_a", "model_b"]
    conv = json.loads(ds[0]["conversation_a"])
    assert conv[0] == {"role": "user", "content": "q0 <b>é</b>"}
    assert conv[1] == {"role": "assistant", "content": "answer a0: write to <EMAIL>"}
    raw = (tmp_path / "out" / "data" / "train-00000-of-00001.parquet").read_bytes()
    assert b"secret-hash" not in raw
    assert b"u0" not in raw  # no user ids
    card = (tmp_path / "out" / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["license"] == "cc-by-4.0"
    assert header["size_categories"] == ["n<1K"]
    assert "1 voter(s) had deleted their data" in card
    assert "2 email" in card
    assert "1 further votes exist from voters who did not opt in" in card
