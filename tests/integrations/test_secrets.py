"""Secrets at rest: encrypted with the configured keys, readable after a key rotation, never in the clear."""
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from app.core import crypto
from app.extensions import db
from app.integrations.models import Connection
from app.integrations.secrets import rotate_all
from tests import factories

OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def test_a_secret_is_stored_encrypted_and_read_back(app):
    token = crypto.encrypt("SG.very-secret-key")
    assert "very-secret" not in token
    assert crypto.decrypt(token) == "SG.very-secret-key"
    assert crypto.hint("SG.very-secret-key") == "••••-key"


def test_rotating_keys_re_encrypts_every_stored_secret(app, monkeypatch):
    account = factories.make_account(factories.make_user("owner@example.com"))
    monkeypatch.setitem(app.config, "INTEGRATIONS_KEYS", OLD_KEY)
    connection = Connection(account_id=account.id, kind="email", provider="sendgrid", name="SendGrid",
                            credentials_encrypted=crypto.encrypt('{"api_key": "SG.old"}'))
    db.session.add(connection)
    db.session.commit()
    stored = db.session.execute(text("select credentials_encrypted from integration_connections")).scalar()
    assert "SG.old" not in stored

    monkeypatch.setitem(app.config, "INTEGRATIONS_KEYS", f"{NEW_KEY},{OLD_KEY}")  # the new key first
    assert rotate_all() == 1

    monkeypatch.setitem(app.config, "INTEGRATIONS_KEYS", NEW_KEY)  # the old key removed
    db.session.expire_all()
    assert crypto.decrypt(db.session.get(Connection, connection.id).credentials_encrypted) == '{"api_key": "SG.old"}'


def test_a_secret_no_key_opens_is_an_error_not_garbage(app, monkeypatch):
    monkeypatch.setitem(app.config, "INTEGRATIONS_KEYS", OLD_KEY)
    token = crypto.encrypt("secret")
    monkeypatch.setitem(app.config, "INTEGRATIONS_KEYS", NEW_KEY)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)
