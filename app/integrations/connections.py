"""Provider connections: the adapter of a connection, and every call to a provider recorded.

`adapter_for(connection)` builds the provider's adapter with the decrypted credentials; `call(connection,
operation, fn)` runs `fn(adapter)` and records the call (usage figures, last use, last error), whatever the
outcome. Every call to a provider goes through `call`.
"""
import json
import time

from flask import current_app

from app.core import crypto
from app.core.db import utcnow
from app.extensions import db
from app.integrations import providers
from app.integrations.models import Connection, ProviderCall
from app.integrations.providers.base import Provider, ProviderError


def credentials(connection: Connection) -> dict:
    """The connection's secret fields, decrypted (never rendered, never logged)."""
    if not connection.credentials_encrypted:
        return {}
    return json.loads(crypto.decrypt(connection.credentials_encrypted))


def store_credentials(connection: Connection, secrets: dict) -> None:
    """Encrypt the secret fields and keep their hints (last 4 characters) for the UI."""
    connection.credentials_encrypted = crypto.encrypt(json.dumps(secrets))
    connection.credential_hints = {key: crypto.hint(value) for key, value in secrets.items() if value}


def adapter_for(connection: Connection) -> Provider:
    cls = providers.get(connection.provider)
    config = current_app.config
    return cls(credentials(connection), dict(connection.settings or {}),
               base_url=(config.get("PROVIDER_BASE_URLS") or {}).get(cls.key),
               timeout=config.get("PROVIDER_TIMEOUT", 10))


def call(connection: Connection, operation: str, fn):
    """Run `fn(adapter)` against the connection's provider and record the call; ProviderError propagates.

    The record is added to the session and committed with the caller's work (or by `commit=True` callers)."""
    started = time.monotonic()
    record = ProviderCall(account_id=connection.account_id, connection_id=connection.id, operation=operation,
                          ok=False)
    try:
        result = fn(adapter_for(connection))
    except ProviderError as error:
        record.status_code, record.error = error.status_code, error.message[:500]
        connection.last_error, connection.last_error_at = error.message[:500], utcnow()
        raise
    else:
        record.ok = True
        return result
    finally:
        record.duration_ms = int((time.monotonic() - started) * 1000)
        connection.last_used_at = utcnow()
        db.session.add(record)
