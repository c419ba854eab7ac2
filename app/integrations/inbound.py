"""Inbound webhooks: a per-workspace secret URL that takes JSON from n8n, Zapier, Make and the like and
creates or updates a contact.

The URL is BASE_URL/api/v1/hooks/inbound/<token>, the token `secrets.token_urlsafe(32)` (256 bits): it is
looked up by its SHA-256 (`token_hash`) and kept encrypted (`token_encrypted`) so that an admin can copy the
URL again; regenerating it makes the old one stop working at once. The hook's field map says where each
contact field is in the body: a path of keys and list indexes, "email", "data.email", "contact.first_name",
"fields[0].value". Custom fields are mapped as "custom:<key>".

`receive` answers a call, in this order: an unknown or inactive token 404 (the same answer for both; an
unknown one is logged to the app's log only, since it names no workspace), over the hook's rate limit 429, a body over
MAX_BODY_BYTES 413, not JSON or not a JSON object 400, no e-mail address after mapping 422, a contact the
CRM refuses 422 with its fields; else the contact is created (201) or updated (200) with the CRM's
services (source "webhook", which publish contact.created / contact.updated), the hook's tags are added
(tag.added), and a line is written on the contact's timeline. Every call to a known hook is logged as an
InboundCall (status, outcome, the first 2 KB of the body, contact, IP); refusals for the rate limit are
logged once a minute per hook, so a runaway sender cannot fill the log.
"""
from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core import audit, crypto
from app.core.db import utcnow
from app.core.errors import ValidationError
from app.core.pagination import paginate
from app.core.tenancy import scoped
from app.core.validation import text_value
from app.extensions import db
from app.integrations.models import InboundCall, InboundHook
from app.pages.elements import CONTACT_FIELDS

log = logging.getLogger(__name__)

URL_PATH = "/api/v1/hooks/inbound/"
MAX_BODY_BYTES = 256 * 1024
EXCERPT_BYTES = 2048
DEFAULT_RATE_LIMIT = "60 per minute"  # INBOUND_RATE_LIMIT's default (app/config.py)
MAX_TAGS = 20
MAX_MAP_ROWS = 30
MAX_PATH_LENGTH = 200
MAX_TOKEN_LENGTH = 100  # token_urlsafe(32) is 43 characters; anything much longer is not one of ours
# A path: keys separated by dots, each key optionally followed by list indexes: data.items[0].email
_KEY = r"[^.\[\]\s]+"
PATH_PATTERN = re.compile(rf"^{_KEY}(?:\[\d{{1,4}}\])*(?:\.{_KEY}(?:\[\d{{1,4}}\])*)*$")
_STEP = re.compile(rf"({_KEY})|\[(\d+)\]")


# ---- the hooks --------------------------------------------------------------------------------------------

def hooks_page(account, page_number: int, page_size: int = 20):
    query = scoped(InboundHook, account).order_by(InboundHook.created_at.desc(), InboundHook.id)
    return paginate(query, page_number, page_size)


def field_choices(account) -> list[tuple[str, str]]:
    """(target, label) of what a path can fill: the contact's fields, then the workspace's custom fields."""
    from app.crm.services.custom_fields import fields_of

    return [*CONTACT_FIELDS.items(),
            *((f"custom:{definition.key}", definition.label) for definition in fields_of(account))]


def clean(account, data: dict) -> dict:
    """The hook's values from plain data: name, field_map ({target: path} or [(target, path)]), tags (a list
    or a comma-separated string), is_active. Every error names its field; the map must say where the e-mail is."""
    errors: dict[str, str] = {}
    values: dict = {}
    try:
        values["name"] = text_value(data, "name", "name", 120, required=True)
    except ValidationError as error:
        errors.update(error.fields)
    values["field_map"] = _clean_map(account, data.get("field_map") or {}, errors)
    values["tags"] = _clean_tags(data.get("tags"), errors)
    values["is_active"] = bool(data.get("is_active", True))
    if errors:
        raise ValidationError(next(iter(errors.values())), fields=errors)
    return values


def _clean_map(account, raw, errors: dict) -> dict:
    pairs = list(raw.items()) if isinstance(raw, dict) else list(raw)
    allowed = dict(field_choices(account))
    field_map: dict[str, str] = {}
    for target, path in pairs:
        target, path = (target or "").strip(), (path or "").strip()
        if not target and not path:
            continue
        if target not in allowed:
            errors.setdefault("field_map", f"“{target or '(none)'}” is not a contact field: choose one from the list.")
        elif not path:
            errors.setdefault("field_map", f"Say where the {allowed[target].lower()} is in the body, e.g. "
                                           f"“{target if ':' not in target else 'data.value'}”.")
        elif len(path) > MAX_PATH_LENGTH or not PATH_PATTERN.match(path):
            errors.setdefault("field_map", f"“{path[:60]}” is not a path: keys separated by dots, list items "
                                           f"by their index, e.g. “data.email” or “fields[0].value”.")
        elif target in field_map:
            errors.setdefault("field_map", f"The {allowed[target].lower()} is mapped twice: keep one row.")
        else:
            field_map[target] = path
    if len(field_map) > MAX_MAP_ROWS:
        errors.setdefault("field_map", f"At most {MAX_MAP_ROWS} fields.")
    if "field_map" not in errors and "email" not in field_map:
        errors["field_map"] = "Map the e-mail: contacts are found and created by their e-mail address."
    return field_map


def _clean_tags(raw, errors: dict) -> list[str]:
    if raw in (None, ""):
        return []
    names = raw.split(",") if isinstance(raw, str) else list(raw) if isinstance(raw, list | tuple) else None
    if names is None:
        errors["tags"] = "Tags are a list of names."
        return []
    tags: list[str] = []
    for name in names:
        name = str(name).strip()
        if not name:
            continue
        if len(name) > 50 or "\x00" in name:
            errors.setdefault("tags", f"A tag has at most 50 characters (“{name[:20]}…” has {len(name)}).")
        elif name.lower() not in {tag.lower() for tag in tags}:
            tags.append(name)
    if len(tags) > MAX_TAGS:
        errors.setdefault("tags", f"At most {MAX_TAGS} tags.")
    return tags


def _new_token(hook: InboundHook) -> str:
    token = secrets.token_urlsafe(32)
    hook.token_hash, hook.token_encrypted = crypto.digest(token), crypto.encrypt(token)
    return token


def create_hook(account, data: dict, actor=None) -> InboundHook:
    values = clean(account, data)
    hook = InboundHook(account_id=account.id, created_by_id=getattr(actor, "id", None), **values)
    _new_token(hook)
    db.session.add(hook)
    db.session.flush()
    audit.record("inbound_hook.created", hook, f"Inbound webhook “{hook.name}” created", account=account, user=actor)
    db.session.commit()
    return hook


def update_hook(account, hook: InboundHook, data: dict, actor=None) -> InboundHook:
    values = clean(account, data)
    for name, value in values.items():
        setattr(hook, name, value)
    audit.record("inbound_hook.updated", hook, f"Inbound webhook “{hook.name}” updated", account=account, user=actor)
    db.session.commit()
    return hook


def regenerate(account, hook: InboundHook, actor=None) -> InboundHook:
    """A new secret URL; the old one answers 404 from now on."""
    _new_token(hook)
    audit.record("inbound_hook.regenerated", hook, f"Inbound webhook “{hook.name}”: new URL", account=account,
                 user=actor)
    db.session.commit()
    return hook


def delete_hook(account, hook: InboundHook, actor=None) -> None:
    audit.record("inbound_hook.deleted", hook, f"Inbound webhook “{hook.name}” deleted", account=account, user=actor)
    db.session.delete(hook)  # its calls go with it (ON DELETE CASCADE)
    db.session.commit()


def url_of(hook: InboundHook) -> str:
    """The hook's secret URL (for its admins' eyes only: never logged)."""
    base = (current_app.config.get("BASE_URL") or "").rstrip("/")
    return f"{base}{URL_PATH}{crypto.decrypt(hook.token_encrypted)}"


def calls_page(account, hook: InboundHook, page_number: int, page_size: int = 20):
    query = (scoped(InboundCall, account).where(InboundCall.hook_id == hook.id)
             .order_by(InboundCall.created_at.desc(), InboundCall.id))
    return paginate(query, page_number, page_size)


def last_calls(account, hook: InboundHook, limit: int = 3) -> list[InboundCall]:
    """The latest calls with a body, for the "test it" panel of the edit page."""
    query = (scoped(InboundCall, account).where(InboundCall.hook_id == hook.id, InboundCall.body_excerpt != "")
             .order_by(InboundCall.created_at.desc(), InboundCall.id).limit(limit))
    return list(db.session.execute(query).scalars())


def sample_body(hook: InboundHook) -> str:
    """A JSON body that fills every mapped field: the curl example of the hook's page."""
    example = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "phone": "+15555550123",
               "street": "12 Analytical Row", "city": "London", "region": "", "postal_code": "N1 9GU",
               "country": "GB"}
    body: dict = {}
    for target, path in (hook.field_map or {}).items():
        try:
            _place(body, path, example.get(target, "value"))
        except (ValueError, TypeError):
            continue
    return json.dumps(body)


def curl_example(hook: InboundHook) -> str:
    """A shell command that sends the hook a body filling every mapped field (single quotes escaped)."""
    def quoted(text: str) -> str:
        return "'" + text.replace("'", "'\\''") + "'"

    return (f"curl -X POST {quoted(url_of(hook))} -H 'Content-Type: application/json' "
            f"-d {quoted(sample_body(hook))}")


def _place(body: dict, path: str, value) -> None:
    steps = _steps(path)
    node = body
    for index, (step, following) in enumerate(zip(steps, [*steps[1:], None], strict=True)):
        last = index == len(steps) - 1
        empty = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            if not isinstance(node, list):
                raise TypeError
            while len(node) <= step:
                node.append({} if not last else None)
            if last:
                node[step] = value
            else:
                if not isinstance(node[step], dict | list):
                    node[step] = empty
                node = node[step]
        else:
            if not isinstance(node, dict):
                raise TypeError
            if last:
                node[step] = value
            else:
                node = node.setdefault(step, empty)


@dataclass
class Preview:
    """What a field map takes from a body: the "test it" panel."""

    problem: str | None = None  # the body is not a JSON object (or was cut at 2 KB in the log)
    rows: list = field(default_factory=list)  # (label, path, value | None when the body does not have it)
    outcome: str = ""  # what a call with this body would do


def preview(account, pairs, text: str) -> Preview:
    """Apply the map (pairs of (contact field, path), as the form has them) to a JSON text."""
    labels = dict(field_choices(account))
    body, problem = _parse((text or "").encode("utf-8", errors="replace"))
    if problem:
        if len((text or "").encode()) >= EXCERPT_BYTES:
            problem += " (The log keeps the first 2 KB of each body, so a longer one cannot be read here.)"
        return Preview(problem=problem)
    result = Preview()
    email = None
    for target, path in pairs:
        target, path = (target or "").strip(), (path or "").strip()
        if not target or not path:
            continue
        try:
            value = resolve(body, path)
            value = None if value is _MISSING else _scalar(value, path)
        except ValueError:
            value = None
        except ValidationError as error:
            value = f"({error.message})"
        result.rows.append((labels.get(target, target), path, None if value in (None, "") else str(value)))
        if target == "email" and isinstance(value, str) and value.strip():
            email = value.strip()
    result.outcome = (f"A call with this body creates or updates the contact {email}." if email else
                      "A call with this body would be refused (422): the map finds no e-mail address in it.")
    return result


# ---- receiving --------------------------------------------------------------------------------------------

def _steps(path: str) -> list[str | int]:
    if not PATH_PATTERN.match(path or ""):
        raise ValueError(path)
    return [int(index) if index else key for key, index in _STEP.findall(path)]


_MISSING = object()


def resolve(body, path: str):
    """The value at `path` in the JSON body, or _MISSING."""
    node = body
    for step in _steps(path):
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return _MISSING
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return _MISSING
            node = node[step]
    return node


def _scalar(value, path: str):
    """A contact field's value from a JSON value: text as is, numbers as text, a list of scalars joined."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return value  # a checkbox custom field takes it as it is
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str | int | float) and not isinstance(item, bool)
                                       for item in value):
        return ", ".join(str(item) for item in value)
    raise ValidationError(f"“{path}” is {'a list' if isinstance(value, list) else 'an object'} in the body, "
                          "not a value: map a path that leads to text.")


@dataclass
class Answer:
    status: int
    body: dict = field(default_factory=dict)  # the JSON answered
    message: str = ""  # for refusals: the reason (the view wraps it in the app's JSON error)
    fields: dict = field(default_factory=dict)


def find_hook(token: str) -> InboundHook | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return db.session.execute(select(InboundHook).where(InboundHook.token_hash == crypto.digest(token))
                              ).scalar_one_or_none()


def _within_rate_limit(hook: InboundHook) -> tuple[bool, bool]:
    """(allowed, log the refusal): per hook, INBOUND_RATE_LIMIT (60 a minute), in the rate limiter's storage;
    a refusal is logged once a minute. When the storage cannot be reached the call is let through."""
    from limits import parse

    from app.extensions import limiter

    if not limiter.enabled:
        return True, False
    try:
        limit = parse(current_app.config.get("INBOUND_RATE_LIMIT") or DEFAULT_RATE_LIMIT)
        if limiter.limiter.hit(limit, "inbound-hook", str(hook.id)):
            return True, False
        return False, limiter.limiter.hit(parse("1/minute"), "inbound-hook-refusal-log", str(hook.id))
    except Exception:
        log.warning("inbound webhook: the rate limiter's storage failed; the call is let through", exc_info=True)
        return True, False


def receive(token: str, read_body, content_length: int | None, ip: str | None) -> Answer:
    """Answer one call of an inbound hook's URL. `read_body(limit)` returns up to `limit` bytes of the body."""
    hook = find_hook(token)
    not_found = Answer(404, message="No inbound webhook at this address.")
    if hook is None:
        # No workspace to log it in. The token itself is a secret: never logged.
        log.info("inbound webhook: call for an unknown hook from %s", ip)
        return not_found
    allowed, log_refusal = _within_rate_limit(hook)
    if not hook.is_active:
        # The same answer as an unknown token (a token's state is not revealed), logged in the workspace.
        if allowed or log_refusal:
            _log(hook, not_found, read_body(EXCERPT_BYTES) if (content_length or 0) <= MAX_BODY_BYTES else b"",
                 ip, outcome="refused: the webhook is inactive")
            db.session.commit()
        return not_found
    if not allowed:
        answer = Answer(429, message="Too many calls: this webhook takes "
                                     f"{current_app.config.get('INBOUND_RATE_LIMIT') or DEFAULT_RATE_LIMIT}. "
                                     "Wait a minute, then send again.")
        if log_refusal:
            _log(hook, answer, b"", ip, outcome="refused: rate limit reached (further refusals this minute "
                                                "are not logged)")
            db.session.commit()
        return answer
    if content_length is not None and content_length > MAX_BODY_BYTES:
        raw, too_large = b"", True
    else:
        raw = read_body(MAX_BODY_BYTES + 1)
        too_large = len(raw) > MAX_BODY_BYTES
    if too_large:
        return _refuse(hook, Answer(413, message=f"The body is larger than {MAX_BODY_BYTES // 1024} KB."), raw, ip)
    body, problem = _parse(raw)
    if problem:
        return _refuse(hook, Answer(400, message=problem), raw, ip)
    try:
        return _save(hook, body, raw, ip)
    except ValidationError as error:
        db.session.rollback()
        hook = db.session.get(InboundHook, hook.id)
        return _refuse(hook, Answer(422, message=error.message, fields=error.fields), raw, ip)


def _parse(raw: bytes):
    """(the JSON object, None) or (None, why not)."""
    if not raw.strip():
        return None, "The body is empty: send a JSON object, e.g. {\"email\": \"ada@example.com\"}."
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "The body is not UTF-8 text: send JSON encoded in UTF-8."
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"The body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
    except RecursionError:
        return None, "The body is not valid JSON: it is nested too deeply."
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        return None, f"The body is not valid JSON: {str(error)[:120]}"
    if not isinstance(body, dict):
        kind = {list: "a list", str: "a string", bool: "true or false", type(None): "null"}.get(type(body), "a number")
        return None, f"The body must be a JSON object ({{...}}), not {kind}."
    return body, None


def _answers(hook: InboundHook, body: dict) -> dict:
    answers = {}
    for target, path in (hook.field_map or {}).items():
        try:
            value = resolve(body, path)
        except ValueError:
            continue  # a stored path that is not one (never saved through `clean`)
        if value is _MISSING:
            continue
        value = _scalar(value, path)
        if isinstance(value, str):
            value = value.replace("\x00", "").strip()
        if value not in (None, ""):
            answers[target] = value
    return answers


def _save(hook: InboundHook, body: dict, raw: bytes, ip: str | None) -> Answer:
    from app.auth.models import Account
    from app.crm.services import contacts, tags, timeline
    from app.site.submissions import contact_data

    account = db.session.get(Account, hook.account_id)
    answers = _answers(hook, body)
    if not answers.get("email"):
        path = (hook.field_map or {}).get("email", "email")
        raise ValidationError(f"No e-mail address: the field map reads it from “{path}”, which the body does not "
                              "have (or is empty).", field="email")
    if not isinstance(answers["email"], str):
        raise ValidationError("The e-mail address must be text.", field="email")
    data, _unmapped = contact_data(account, answers)
    try:
        contact, created = contacts.upsert(account, data, source="webhook")  # commits; publishes contact.*
    except IntegrityError:  # the same new e-mail sent twice at once: the other call created it
        db.session.rollback()
        contact, created = contacts.upsert(account, data, source="webhook")
    hook = db.session.get(InboundHook, hook.id)
    added = []
    for name in hook.tags or []:
        tag = tags.get_or_create(account, name)
        if tags.tag_contact(account, contact, tag):
            added.append(tag)
    timeline.add(account, contact.id, "webhook.received",
                 f"{'Created' if created else 'Updated'} by the inbound webhook “{hook.name}”", obj=hook,
                 details={"hook_id": str(hook.id), "fields": sorted(answers)})
    hook.last_received_at = utcnow()
    answer = Answer(201 if created else 200, body={"contact_id": str(contact.id), "created": created})
    _log(hook, answer, raw, ip, outcome="contact created" if created else "contact updated", contact_id=contact.id)
    db.session.commit()
    for tag in added:
        tags.publish_tag_change(account, contact.id, tag, True)
    return answer


def _refuse(hook: InboundHook, answer: Answer, raw: bytes, ip: str | None) -> Answer:
    _log(hook, answer, raw, ip, outcome=f"refused: {answer.message}")
    hook.last_received_at = utcnow()
    db.session.commit()
    return answer


def _log(hook: InboundHook, answer: Answer, raw: bytes, ip: str | None, outcome: str, contact_id=None) -> None:
    db.session.add(InboundCall(account_id=hook.account_id, hook_id=hook.id, source="inbound",
                               status_code=answer.status, outcome=outcome[:300], body_excerpt=excerpt(raw),
                               contact_id=contact_id, ip_address=(ip or "")[:45] or None))


def excerpt(raw: bytes) -> str:
    """The first 2 KB of a body, as text (bytes that are not UTF-8 shown as �; NUL removed: PostgreSQL text
    cannot hold it)."""
    return raw[:EXCERPT_BYTES].decode("utf-8", errors="replace").replace("\x00", "")
