"""Privacy and security primitives: pseudonymous ids, IP hashing with a rotating salt, the signing key,
CSRF tokens and the admin password hash. All standard library plus ``itsdangerous``.

* A user is a random 128-bit id in a signed cookie; nothing ties it to a person.
* An IP address is stored only as ``HMAC-SHA256(salt_d, ip)`` where ``salt_d = HMAC(secret, day number //
  rotation)``: the same address hashes the same within one period (so rate limits and vote-quality checks
  can group by it) and differently after; salts are derived, never stored, so old hashes cannot be
  reversed by trying all 2^32 IPv4 addresses unless the secret leaks.
* CSRF: every form carries a token derived from the session (``HMAC(secret, "csrf" + user)``; before
  consent, from a random visitor id in a SameSite=Strict cookie, so that no other site can post a
  consent for a visitor), checked on every POST (double submit is not needed: the cookies are SameSite
  and HttpOnly).
* The admin password is compared against a scrypt hash (n=2^14, r=8, p=1, 16-byte salt).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time


def new_user_id() -> str:
    return secrets.token_hex(16)


def load_secret(env_name: str, path: str) -> bytes:
    """The signing key: from the environment, else from ``path`` (created with 32 random bytes, mode 0600)."""
    value = os.environ.get(env_name)
    if value:
        return value.encode()
    if os.path.exists(path):
        with open(path, "rb") as fh:
            return fh.read().strip()
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def ip_hash(secret: bytes, ip: str | None, *, rotation_days: int = 1, now: float | None = None) -> str | None:
    if not ip:
        return None
    period = int((now if now is not None else time.time()) // 86_400) // rotation_days
    salt = hmac.new(secret, f"ip-salt:{period}".encode(), hashlib.sha256).digest()
    return hmac.new(salt, ip.encode(), hashlib.sha256).hexdigest()[:32]


def csrf_token(secret: bytes, session: str) -> str:
    return hmac.new(secret, f"csrf:{session}".encode(), hashlib.sha256).hexdigest()


def check_csrf(secret: bytes, session: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(secret, session), str(token))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, salt_b64, _ = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    return hmac.compare_digest(hash_password(password, salt=base64.b64decode(salt_b64)), stored)
