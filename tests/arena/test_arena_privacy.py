"""Privacy primitives: IP hashes rotate and never reveal the address; CSRF; the admin password hash."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from gencommons.arena.privacy import (
    check_csrf,
    csrf_token,
    hash_password,
    ip_hash,
    load_secret,
    new_user_id,
    verify_password,
)

SECRET = b"s" * 32
DAY = 86_400.0


def test_ip_hash_is_stable_within_a_period_and_rotates() -> None:
    t = 1_800_000_000.0 - (1_800_000_000.0 % DAY)  # start of a day
    h = ip_hash(SECRET, "203.0.113.7", now=t)
    assert h == ip_hash(SECRET, "203.0.113.7", now=t + DAY - 1)
    assert h != ip_hash(SECRET, "203.0.113.7", now=t + DAY)  # the next day: another salt
    assert h != ip_hash(SECRET, "203.0.113.8", now=t)
    assert h != ip_hash(b"other secret" * 3, "203.0.113.7", now=t)
    assert "203.0.113.7" not in (h or "")
    assert ip_hash(SECRET, None) is None


@given(ip=st.ip_addresses().map(str))
def test_ip_hash_never_contains_the_address(ip: str) -> None:
    h = ip_hash(SECRET, ip, now=0)
    assert h is not None
    assert len(h) == 32
    assert ip not in h


def test_csrf_is_bound_to_the_session() -> None:
    tok = csrf_token(SECRET, "user-1")
    assert check_csrf(SECRET, "user-1", tok)
    assert not check_csrf(SECRET, "user-2", tok)
    assert not check_csrf(SECRET, "user-1", None)
    assert not check_csrf(SECRET, "user-1", tok[:-1] + ("0" if tok[-1] != "0" else "1"))


def test_password_hash() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert not verify_password("x", "garbage")
    assert hash_password("a") != hash_password("a")  # salted


def test_secret_file_is_created_private_and_reused(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ARENA_TEST_SECRET", raising=False)
    path = tmp_path / "secret"
    key = load_secret("ARENA_TEST_SECRET", str(path))
    assert len(key) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_secret("ARENA_TEST_SECRET", str(path)) == key
    monkeypatch.setenv("ARENA_TEST_SECRET", "from-env")
    assert load_secret("ARENA_TEST_SECRET", str(path)) == b"from-env"


def test_user_ids_are_random_128_bit() -> None:
    ids = {new_user_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 for i in ids)
