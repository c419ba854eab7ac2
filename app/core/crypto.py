"""Encrypting secrets at rest (provider credentials, webhook secrets, inbound tokens).

Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) with the keys of INTEGRATIONS_KEYS: the first
encrypts, every one decrypts, so a key is rotated by putting a new one first, re-encrypting the stored
values (`rotate`), then removing the old key. Without INTEGRATIONS_KEYS one key is derived from SECRET_KEY.
"""
import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class DecryptionError(Exception):
    """A stored secret that none of the configured keys opens (a key was removed too early)."""


def encrypt(plain: str) -> str:
    return _fernet(*_config()).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(*_config()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("a stored secret could not be decrypted with the configured keys") from exc


def rotate(token: str) -> str:
    """The same secret encrypted with the current (first) key."""
    try:
        return _fernet(*_config()).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("a stored secret could not be decrypted with the configured keys") from exc


def digest(value: str) -> str:
    """SHA-256 hex of a secret, to look it up without storing it in the clear."""
    return hashlib.sha256(value.encode()).hexdigest()


def hint(secret: str) -> str:
    """What the UI may show of a secret: its last 4 characters."""
    return "••••" + secret[-4:] if len(secret) > 4 else "••••"


def _config() -> tuple[str | None, str]:
    return current_app.config.get("INTEGRATIONS_KEYS"), current_app.config["SECRET_KEY"]


@lru_cache(maxsize=8)
def _fernet(keys: str | None, secret_key: str) -> MultiFernet:
    if keys:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()])
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"leadforge-integrations",
                   info=b"secrets at rest").derive(secret_key.encode())
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])
