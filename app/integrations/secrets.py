"""Re-encrypting every stored secret of integrations with the current key (`flask integrations rotate-keys`)."""
from sqlalchemy import select

from app.core import crypto
from app.extensions import db
from app.integrations.models import Connection, InboundHook, WebhookEndpoint

# (model, its encrypted columns)
ENCRYPTED = (
    (Connection, ("credentials_encrypted",)),
    (WebhookEndpoint, ("secret_encrypted", "previous_secret_encrypted")),
    (InboundHook, ("token_encrypted",)),
)


def rotate_all(batch_size: int = 500) -> int:
    """Encrypt every stored secret again with the first key of INTEGRATIONS_KEYS; returns how many values.

    Run it after putting a new key first; once it has run, the old key can be removed. A value none of the
    keys opens stops the run (DecryptionError) before anything of its batch is written."""
    rotated = 0
    for model, columns in ENCRYPTED:
        last_id = None
        while True:
            query = select(model).order_by(model.id).limit(batch_size)
            if last_id is not None:
                query = query.where(model.id > last_id)
            rows = db.session.execute(query).scalars().all()
            if not rows:
                break
            for row in rows:
                for column in columns:
                    value = getattr(row, column)
                    if value:
                        setattr(row, column, crypto.rotate(value))
                        rotated += 1
            db.session.commit()
            last_id = rows[-1].id
    return rotated
