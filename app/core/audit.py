"""The audit log: one helper records who did what to which object."""
from flask import has_request_context, request

from app.core.models import AuditEvent
from app.core.tenancy import current_account, current_actor
from app.extensions import db


def record(action: str, obj=None, summary: str = "", details: dict | None = None,
           account=None, user=None) -> AuditEvent:
    """Add an audit event to the session (committed with the change it describes).

    action: a dotted verb such as "member.role_changed"; obj: the model instance acted on.
    The account is the one given, else the object's, else the current request's.
    """
    if account is not None:
        account_id = account.id
    elif getattr(obj, "account_id", None) is not None:
        account_id = obj.account_id
    else:
        account_id = current_account().id
    if user is None and has_request_context():
        user = current_actor()
    event = AuditEvent(
        account_id=account_id,
        user_id=user.id if user is not None else None,
        action=action,
        object_type=type(obj).__name__ if obj is not None else None,
        object_id=str(obj.id) if obj is not None and getattr(obj, "id", None) else None,
        summary=summary[:255],
        details=details or {},
        ip_address=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event
