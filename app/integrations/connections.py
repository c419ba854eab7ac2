"""Provider connections: the adapter of a connection, and every call to a provider recorded.

`adapter_for(connection)` builds the provider's adapter with the decrypted credentials; `call(connection,
operation, fn)` runs `fn(adapter)` and records the call (usage figures, last use, last error), whatever the
outcome. Every call to a provider goes through `call`.

The rest is the connections' life: `create` / `update` / `delete` (fields checked against the adapter's
`fields`, secrets encrypted, audited), `test` (the status a person sees), `set_sending_channel`, `lists`, and the
usage and health figures of the connection page and the overview (`usage`, `figures`, `totals`).
"""
import json
import logging
import time
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import and_, case, func, select

from app.core import audit, crypto, dates
from app.core.crypto import DecryptionError
from app.core.db import utcnow
from app.core.errors import NotFoundError, ValidationError
from app.core.tenancy import scoped
from app.extensions import db
from app.integrations import providers
from app.integrations.models import CONNECTION_KINDS, Connection, ProviderCall
from app.integrations.providers.base import Field, ListInfo, Provider, ProviderError

log = logging.getLogger(__name__)


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

    The record is added to the session and committed with the caller's work (or by `commit=True` callers).
    Credentials the adapter renewed on the way (`adapter.updated_credentials`: AWeber's expired access token
    refreshed) replace the stored ones in the same session, whether the call then succeeded or not, so the next
    call uses them (a refresh token the provider rotated is not lost)."""
    started = time.monotonic()
    record = ProviderCall(account_id=connection.account_id, connection_id=connection.id, operation=operation,
                          ok=False)
    adapter = None
    try:
        adapter = adapter_for(connection)
        result = fn(adapter)
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
        renewed = getattr(adapter, "updated_credentials", None)
        if renewed:
            store_credentials(connection, {**credentials(connection), **renewed})


# ---- the providers on offer -------------------------------------------------------------------------------

KIND_LABELS = {"email": "E-mail", "sms": "SMS"}
STATUS_LABELS = {"untested": "Not tested", "connected": "Connected", "failed": "Failed"}
NAME_MAX = 120
TEXT_MAX = 500
SECRET_MAX = 4000
NUMBER_MAX = 10**9


def provider_class(key: str | None) -> type[Provider] | None:
    """The registered adapter class of this key, or None (an unknown key, or a provider whose module is gone)."""
    return providers.REGISTRY.get(key or "")


def offered() -> dict[str, list[type[Provider]]]:
    """The registered adapters by kind ({"email": [...], "sms": [...]}), each by name."""
    return {kind: providers.of_kind(kind) for kind in CONNECTION_KINDS}


# ---- the values of a connection's form ----------------------------------------------------------------------

def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _bool_value(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "y", "yes", "on")


def _field_value(field: Field, raw):
    """The clean value of one field (raises ValidationError naming it); None for an optional blank."""
    label = field.label
    if field.kind == "bool":
        return _bool_value(raw) if not _is_blank(raw) else False
    if _is_blank(raw):
        if field.default not in ("", None):
            raw = field.default
        elif field.required:
            raise ValidationError(f"Enter the {label}.", field=field.key)
        else:
            return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ValidationError(f"The {label} must be text.", field=field.key)
    text = str(raw) if field.secret or field.kind == "password" else str(raw).strip()
    if field.secret:
        text = text.strip()  # pasted keys come with a space or a new line more often than not
    if "\x00" in text:
        raise ValidationError(f"The {label} contains a NUL character.", field=field.key)
    if len(text) > (SECRET_MAX if field.secret else TEXT_MAX):
        raise ValidationError(f"The {label} is too long.", field=field.key)
    if field.kind == "number":
        if not text.isdigit():
            raise ValidationError(f"The {label} must be a whole number.", field=field.key)
        number = int(text)
        if number > NUMBER_MAX:
            raise ValidationError(f"The {label} is too large.", field=field.key)
        return number
    if field.kind == "select":
        allowed = [value for value, _ in field.choices]
        if text not in allowed:
            names = ", ".join(name for _, name in field.choices)
            raise ValidationError(f"Choose the {label} from: {names}.", field=field.key)
        return text
    if field.kind == "email":
        try:
            return validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValidationError(f"Enter a valid e-mail address ({exc}).", field=field.key) from exc
    return text


def clean_values(cls: type[Provider], values: dict, stored_secrets: dict | None = None,
                 clear=()) -> tuple[dict, dict]:
    """Check every field of the adapter; returns (settings, secrets). With `stored_secrets` (an edit), a
    blank secret field keeps the stored value, unless its key is in `clear` (only optional secrets may be
    cleared; a value typed in the field replaces the stored one either way). Unknown keys are refused; every
    error is reported at once."""
    values = dict(values or {})
    known = {field.key for field in cls.fields}
    unknown = sorted(set(values) - known)
    errors: dict = {}
    for key in unknown:
        errors[key] = f"{cls.name} has no field “{key}”."
    clear = set(clear or ())
    for field in cls.fields:
        if field.key in clear and (field.required or not field.secret):
            errors[field.key] = f"The {field.label} cannot be cleared" + (
                ": it is required." if field.required else ": leave it blank instead.")
    for key in sorted(clear - known):
        errors[key] = f"{cls.name} has no field “{key}”."
    settings: dict = {}
    secrets: dict = {}
    for field in cls.fields:
        raw = values.get(field.key)
        if (field.secret and stored_secrets is not None and _is_blank(raw) and stored_secrets.get(field.key)
                and field.key not in clear):
            secrets[field.key] = stored_secrets[field.key]
            continue
        try:
            value = _field_value(field, raw)
        except ValidationError as error:
            errors.update(error.fields)
            continue
        if value is None:
            continue
        (secrets if field.secret else settings)[field.key] = value
    for key, message in cls.settings_errors(settings).items():
        errors.setdefault(key, message)
    if errors:
        raise ValidationError("Some fields are not valid.", fields=errors)
    return settings, secrets


def _clean_name(name, cls: type[Provider]) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if "\x00" in name:
        raise ValidationError("The name contains a NUL character.", field="name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"The name has at most {NAME_MAX} characters.", field="name")
    return name or cls.name


# ---- create, update, delete, test ---------------------------------------------------------------------------

def create(account, user, provider_key: str, values: dict, name: str | None = None) -> Connection:
    """A new connection to the provider `provider_key` with the values of its fields (checked; secrets
    encrypted), status "untested". ValidationError for an unknown provider or any bad field."""
    cls = provider_class(provider_key)
    if cls is None:
        raise ValidationError("Choose a provider from the list.", field="provider")
    errors = {}
    try:
        name = _clean_name(name, cls)
    except ValidationError as error:
        errors.update(error.fields)
    try:
        settings, secrets = clean_values(cls, values)
    except ValidationError as error:
        errors.update(error.fields)
    if errors:
        raise ValidationError("Some fields are not valid.", fields=errors)
    connection = Connection(account_id=account.id, kind=cls.kind, provider=cls.key, name=name, settings=settings,
                            status="untested", status_message="", created_by_id=user.id if user else None)
    store_credentials(connection, secrets)
    db.session.add(connection)
    db.session.flush()
    audit.record("integration.connected", connection, f"{cls.name} connection “{name}” added", account=account,
                 user=user, details={"provider": cls.key})
    db.session.commit()
    return connection


def update(account, user, connection: Connection, values: dict, name: str | None = None, clear=()) -> bool:
    """Change the name and the fields; a blank secret field keeps the stored value, unless it is an optional
    secret named in `clear` (the form's "Clear" box), which is removed. Changing the credentials or settings
    resets the status to "untested". Returns True when the credentials or settings changed."""
    cls = provider_class(connection.provider)
    if cls is None:
        raise ValidationError("This provider is no longer available; delete the connection.")
    errors = {}
    try:
        new_name = _clean_name(name if name is not None else connection.name, cls)
    except ValidationError as error:
        errors.update(error.fields)
    try:
        stored = credentials(connection)
    except DecryptionError:
        stored = {}  # unreadable with the current keys: the secrets must be entered again
    try:
        settings, secrets = clean_values(cls, values, stored_secrets=stored, clear=clear)
    except ValidationError as error:
        errors.update(error.fields)
    if errors:
        raise ValidationError("Some fields are not valid.", fields=errors)
    before = dict(connection.settings or {})
    changed_keys = sorted({key for key in set(settings) | set(before) if settings.get(key) != before.get(key)}
                          | {key for key in set(secrets) | set(stored) if secrets.get(key) != stored.get(key)})
    changed = bool(changed_keys)
    connection.name = new_name
    if changed:
        connection.settings = settings
        store_credentials(connection, secrets)
        connection.status, connection.status_message = "untested", ""
    audit.record("integration.updated", connection, f"Connection “{new_name}” updated", account=account, user=user,
                 details={"credentials_changed": changed, "fields": changed_keys})
    db.session.commit()
    return changed


def delete(account, user, connection: Connection) -> None:
    """Remove the connection, its call log, sync log and SMS (the database cascades)."""
    audit.record("integration.deleted", connection, f"Connection “{connection.name}” deleted", account=account,
                 user=user, details={"provider": connection.provider})
    db.session.delete(connection)
    db.session.commit()


def test(connection: Connection) -> bool:
    """Check the credentials with the provider (adapter.check() through `call`): "connected" with what check()
    said, or "failed" with what the provider answered. The call's record is committed either way; returns
    whether it worked."""
    try:
        said = call(connection, "check", lambda adapter: adapter.check())
    except ProviderError as error:
        ok, message = False, error.message
    except DecryptionError:
        log.warning("connection credentials unreadable", extra={"connection": str(connection.id)})
        ok, message = False, "The stored credentials cannot be read with the current keys; enter them again."
    except Exception as exc:  # an adapter's bug must not leave the connection "connected" nor answer a 500
        log.exception("connection check failed", extra={"connection": str(connection.id),
                                                         "provider": connection.provider})
        ok = False
        message = ("This provider is not available." if isinstance(exc, KeyError)
                   else f"The check failed ({type(exc).__name__}).")
        connection.last_error, connection.last_error_at = message, utcnow()
    else:
        ok, message = True, (str(said or "").strip() or "Connected.")
    connection.status = "connected" if ok else "failed"
    connection.status_message = message[:500]
    connection.last_checked_at = utcnow()
    db.session.commit()
    return ok


def set_sending_channel(account, connection: Connection | None, user=None) -> None:
    """Make `connection` the workspace's sending channel (None: back to the app's own mail server). Only a
    connected e-mail connection whose adapter can send e-mail qualifies; one per workspace."""
    if connection is not None:
        if connection.account_id != account.id:
            raise NotFoundError("Not found.")
        cls = provider_class(connection.provider)
        if connection.kind != "email" or cls is None or not cls.can_send_email:
            raise ValidationError(f"{connection.name} cannot send the workspace's e-mail.")
        if connection.status != "connected":
            raise ValidationError("Test the connection first: only a connected provider can send the e-mail.")
    current = db.session.execute(select(Connection).where(
        Connection.account_id == account.id, Connection.is_sending_channel.is_(True))).scalars().all()
    for other in current:
        if connection is None or other.id != connection.id:
            other.is_sending_channel = False
    db.session.flush()  # the partial unique index: at most one per workspace
    if connection is not None:
        connection.is_sending_channel = True
        audit.record("integration.sending_channel", connection, f"E-mail sent through “{connection.name}”",
                     account=account, user=user)
    elif current:
        audit.record("integration.sending_channel", None, "E-mail sent through the app's own mail server",
                     account=account, user=user)
    db.session.commit()


def sending_channel(account) -> Connection | None:
    """The workspace's chosen sending connection (whatever its status), or None."""
    return db.session.execute(select(Connection).where(
        Connection.account_id == account.id, Connection.is_sending_channel.is_(True))).scalar_one_or_none()


def lists(connection: Connection) -> list[ListInfo]:
    """The provider's lists (audiences, forms...), live; the call is recorded and committed. ProviderError
    says what the provider answered."""
    try:
        return list(call(connection, "lists", lambda adapter: adapter.lists()))
    finally:
        db.session.commit()


# ---- usage and health ---------------------------------------------------------------------------------------

@dataclass
class Usage:
    days: int
    calls: int = 0
    failures: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    series: list = dc_field(default_factory=list)  # [(date, calls, failures)], oldest first, every day

    @property
    def successes(self) -> int:
        return self.calls - self.failures

    @property
    def peak(self) -> int:
        return max((calls for _, calls, _ in self.series), default=0)


def _day_starts(account, days: int) -> list[tuple[date, datetime]]:
    """The last `days` days of the account's time zone (today included), with the UTC moment each begins."""
    zone_name = getattr(account, "timezone", None)
    today = dates.today(zone_name)
    return [(day, dates.start_of_day(day, zone_name))
            for day in (today - timedelta(days=offset) for offset in range(days - 1, -1, -1))]


def usage(connection: Connection, days: int = 30, account=None) -> Usage:
    """Calls, failures and the last error of the last `days` days, and a per-day series in the workspace's
    time zone (one query: a count per day, read by the (connection, created_at) index)."""
    from app.auth.models import Account

    account = account or db.session.get(Account, connection.account_id)
    starts = _day_starts(account, days)
    bounds = [start for _, start in starts] + [dates.end_of_today(account.timezone)]
    columns = []
    for begin, end in zip(bounds, bounds[1:]):
        in_day = and_(ProviderCall.created_at >= begin, ProviderCall.created_at < end)
        columns.append(func.coalesce(func.sum(case((in_day, 1), else_=0)), 0))
        columns.append(func.coalesce(func.sum(case((and_(in_day, ProviderCall.ok.is_(False)), 1), else_=0)), 0))
    row = db.session.execute(select(*columns).where(
        ProviderCall.connection_id == connection.id, ProviderCall.account_id == connection.account_id,
        ProviderCall.created_at >= bounds[0], ProviderCall.created_at < bounds[-1])).one()
    series = [(day, int(row[2 * i]), int(row[2 * i + 1])) for i, (day, _) in enumerate(starts)]
    last = db.session.execute(select(ProviderCall.error, ProviderCall.created_at).where(
        ProviderCall.connection_id == connection.id, ProviderCall.ok.is_(False),
        ProviderCall.created_at >= bounds[0]).order_by(ProviderCall.created_at.desc()).limit(1)).first()
    return Usage(days=days, calls=sum(c for _, c, _ in series), failures=sum(f for _, _, f in series),
                 last_error=(last.error or "Failed (no reason given).") if last else None,
                 last_error_at=last.created_at if last else None, series=series)


@dataclass
class ConnectionFigures:
    connection: Connection
    calls: int = 0
    failures: int = 0

    @property
    def adapter(self) -> type[Provider] | None:
        return provider_class(self.connection.provider)


def figures(account, connections: list[Connection], days: int = 30) -> list[ConnectionFigures]:
    """Calls and failures of the last `days` days for each of these connections (one grouped query)."""
    since = utcnow() - timedelta(days=days)
    ids = [connection.id for connection in connections]
    counts = {}
    if ids:
        counts = {connection_id: (calls, failures) for connection_id, calls, failures in db.session.execute(
            select(ProviderCall.connection_id, func.count(),
                   func.coalesce(func.sum(case((ProviderCall.ok.is_(False), 1), else_=0)), 0))
            .where(ProviderCall.account_id == account.id, ProviderCall.connection_id.in_(ids),
                   ProviderCall.created_at >= since)
            .group_by(ProviderCall.connection_id))}
    return [ConnectionFigures(connection, *(int(n) for n in counts.get(connection.id, (0, 0))))
            for connection in connections]


def connections_query(account):
    """The workspace's connections, e-mail first, then by name."""
    return scoped(Connection, account).order_by(Connection.kind, func.lower(Connection.name), Connection.id)


@dataclass
class Totals:
    connections: int = 0
    connected: int = 0
    failing: int = 0
    calls: int = 0
    failures: int = 0

    @property
    def failure_rate(self) -> float | None:
        return self.failures / self.calls if self.calls else None


def totals(account, days: int = 30) -> Totals:
    """The workspace's connections counted by state, and all their calls and failures over `days` days."""
    by_status = dict(db.session.execute(select(Connection.status, func.count()).where(
        Connection.account_id == account.id).group_by(Connection.status)).all())
    since = utcnow() - timedelta(days=days)
    calls, failures = db.session.execute(select(
        func.count(), func.coalesce(func.sum(case((ProviderCall.ok.is_(False), 1), else_=0)), 0)).where(
        ProviderCall.account_id == account.id, ProviderCall.created_at >= since)).one()
    return Totals(connections=sum(by_status.values()), connected=by_status.get("connected", 0),
                  failing=by_status.get("failed", 0), calls=int(calls), failures=int(failures))


@dataclass
class WebhookHealth:
    """Outgoing webhook deliveries of the last days: messages delivered, failed (given up) and still being
    tried; the success rate is delivered / (delivered + failed), None before any message is settled."""

    days: int
    endpoints: int = 0
    active_endpoints: int = 0
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    attempts: int = 0  # HTTP requests made (retries included), when the webhooks module counts them
    failed_attempts: int = 0

    @property
    def messages(self) -> int:
        return self.delivered + self.failed + self.pending

    @property
    def success_rate(self) -> float | None:
        settled = self.delivered + self.failed
        return self.delivered / settled if settled else None


def webhook_health(account, days: int = 30) -> WebhookHealth:
    """The webhook delivery figures of the overview (test events left out): `webhooks.delivery_stats`, the
    outgoing webhooks' own count, when that module is installed; else counted here from the messages."""
    from app.integrations.models import WebhookEndpoint, WebhookMessage

    endpoints = dict(db.session.execute(select(WebhookEndpoint.is_active, func.count()).where(
        WebhookEndpoint.account_id == account.id).group_by(WebhookEndpoint.is_active)).all())
    health = WebhookHealth(days=days, endpoints=sum(endpoints.values()), active_endpoints=endpoints.get(True, 0))
    try:
        from app.integrations import webhooks

        stats = webhooks.delivery_stats(account, days)
    except (ImportError, AttributeError):
        stats = None
    if stats is not None:
        health.delivered, health.failed = stats.get("delivered", 0), stats.get("failed", 0)
        health.pending = stats.get("waiting", 0)
        health.attempts, health.failed_attempts = stats.get("attempts", 0), stats.get("failed_attempts", 0)
        return health
    since = utcnow() - timedelta(days=days)
    by_status = dict(db.session.execute(select(WebhookMessage.status, func.count()).where(
        WebhookMessage.account_id == account.id, WebhookMessage.created_at >= since,
        WebhookMessage.is_test.is_(False)).group_by(WebhookMessage.status)).all())
    health.delivered, health.failed = by_status.get("delivered", 0), by_status.get("failed", 0)
    health.pending = by_status.get("pending", 0) + by_status.get("retrying", 0)
    return health
