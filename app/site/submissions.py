"""What visitors send with the forms of published pages: the anti-bot token, server-side validation
from the page's tree, duplicates, and the submission (contact upsert with the form's tags,
`form.submitted`). (The app's own Flask-WTF forms are the domains' forms.py; this is a service.)

Visitors have no session, so there is no CSRF token; a form carries instead a token minted by the site
when it caches the page: "<timestamp>.<HMAC(page id, form id, timestamp)>", valid FORM_TOKEN_MAX_AGE
(24 h). The static export's tokens start with "x" and live FORM_EXPORT_TOKEN_MAX_AGE (a static copy
cannot refresh them). A repeated submit within DUPLICATE_WINDOW (the same answers, or the same token and
e-mail) does nothing and lands on the same next page.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask import current_app

from app.core.dates import EARLIEST, LATEST, parse_date
from app.pages.elements import CONTACT_FIELDS
from app.pages.render import HONEYPOT_FIELD, INPUT_MAX_LENGTH, TEXTAREA_MAX_LENGTH

FIELD_TYPES = ("input_field", "textarea", "dropdown", "checkbox_group")
DEFAULT_MAX_AGE = 24 * 3600
DEFAULT_EXPORT_MAX_AGE = 365 * 24 * 3600
DUPLICATE_WINDOW = 600  # seconds
EXPORT_PREFIX = "x"


# ---- tokens -------------------------------------------------------------------------------------------

def _signature(page_id: str, form_id: str, stamp: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"leadforge-form|{page_id}|{form_id}|{stamp}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def mint_token(page_id, form_id: str, now: float | None = None, export: bool = False) -> str:
    stamp = f"{EXPORT_PREFIX if export else ''}{int(now if now is not None else time.time())}"
    return f"{stamp}.{_signature(str(page_id), form_id, stamp)}"


def check_token(token: str, page_id, form_id: str, now: float | None = None) -> str:
    """"ok", "expired" (genuine but too old: the visitor gets a fresh form) or "bad" (forged, malformed)."""
    stamp, _, signature = (token or "").partition(".")
    if not stamp or len(token) > 80 or not hmac.compare_digest(signature, _signature(str(page_id), form_id, stamp)):
        return "bad"
    export = stamp.startswith(EXPORT_PREFIX)
    try:
        minted = int(stamp[1:] if export else stamp)
    except ValueError:
        return "bad"
    config = current_app.config
    max_age = config.get("FORM_EXPORT_TOKEN_MAX_AGE" if export else "FORM_TOKEN_MAX_AGE") or \
        (DEFAULT_EXPORT_MAX_AGE if export else DEFAULT_MAX_AGE)
    age = (now if now is not None else time.time()) - minted
    if age < -300:
        return "bad"  # from the future
    return "expired" if age > int(max_age) else "ok"


# ---- validation ---------------------------------------------------------------------------------------

@dataclass
class Submission:
    form: dict  # the form element
    values: dict[str, object] = field(default_factory=dict)  # field element id -> str | list[str] (what was typed)
    errors: dict[str, str] = field(default_factory=dict)  # field element id (or "" for the form) -> message
    answers: dict[str, object] = field(default_factory=dict)  # maps_to -> clean value


def form_fields(form: dict) -> list[dict]:
    return [child for child in form.get("children") or [] if child.get("type") in FIELD_TYPES]


def _label(element: dict) -> str:
    props = element.get("props") or {}
    return props.get("label") or CONTACT_FIELDS.get(props.get("maps_to", ""), "This field")


def _limit(element: dict) -> int:
    return TEXTAREA_MAX_LENGTH if element["type"] == "textarea" else INPUT_MAX_LENGTH


def read(form: dict, posted) -> Submission:
    """What the visitor typed, checked against the form's fields (posted: a MultiDict)."""
    submission = Submission(form=form)
    for element in form_fields(form):
        props, key = element.get("props") or {}, element["id"]
        if element["type"] == "checkbox_group":
            raw = [value for value in posted.getlist(key) if isinstance(value, str)]
            submission.values[key] = raw
            error, value = _check_choices(element, raw)
        else:
            raw = posted.get(key, "")
            submission.values[key] = raw
            error, value = _check_text(element, raw)
        if error:
            submission.errors[key] = error
        elif value not in (None, "", []):
            submission.answers[props.get("maps_to") or key] = value
    return submission


def _check_text(element: dict, raw: str) -> tuple[str, object]:
    props, label = element.get("props") or {}, _label(element)
    value = raw.replace("\x00", "").strip()
    limit = _limit(element)
    if len(value) > limit:
        return f"{label} is too long: at most {limit:,} characters (this has {len(value):,}).", None
    if not value:
        return (f"{label} is required." if props.get("required") else ""), None
    if element["type"] == "dropdown":
        if value not in (props.get("options") or []):
            return f"{label}: choose one of the options.", None
        return "", value
    kind = props.get("input_type", "text") if element["type"] == "input_field" else "text"
    if props.get("maps_to") == "email" or kind == "email":
        if len(value) > 254:
            return "An e-mail address has at most 254 characters.", None
        try:
            return "", validate_email(value, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            return "Enter a valid e-mail address, like name@example.com.", None
    if kind == "number":
        try:
            float(value.replace(",", ""))
        except ValueError:
            return f"{label}: enter a number.", None
    if kind == "date":
        try:
            value = parse_date(value).isoformat()
        except ValueError:
            return f"{label}: enter a date between {EARLIEST.year} and {LATEST.year} (YYYY-MM-DD).", None
    if kind == "url" and not value.lower().startswith(("http://", "https://")):
        return f"{label}: enter a web address starting with https://.", None
    return "", value


def _check_choices(element: dict, raw: list[str]) -> tuple[str, object]:
    props, label = element.get("props") or {}, _label(element)
    options = props.get("options") or []
    if any(value not in options for value in raw):
        return f"{label}: choose among the options shown.", None
    if not raw and props.get("required"):
        return f"{label}: choose at least one.", None
    return "", [option for option in options if option in raw]


# ---- duplicates ---------------------------------------------------------------------------------------

_seen_local: dict[str, float] = {}
_seen_lock = threading.Lock()


def duplicate_keys(page_id, form_id: str, token: str, submission: Submission) -> list[str]:
    """A submission repeats an earlier one when it has the same answers (a double click, a resend),
    or the same token and e-mail (back, an edit, send again)."""
    def key(*parts) -> str:
        digest = hashlib.sha256(json.dumps([str(page_id), form_id, *parts], sort_keys=True).encode()).hexdigest()
        return f"leadforge:site:form:{digest}"

    keys = [key("answers", submission.values)]
    if submission.answers.get("email"):
        keys.append(key("token", token, submission.answers["email"]))
    return keys


def first_time(keys: list[str]) -> bool:
    """True unless one of the keys was seen within DUPLICATE_WINDOW; marks them all as seen."""
    if current_app.config.get("REDIS_URL"):
        from app.core.jobs import redis_connection

        try:
            with redis_connection().pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(key, "1", nx=True, ex=DUPLICATE_WINDOW)
                return all(pipe.execute())
        except Exception:  # Redis down: this process's memory
            pass
    now = time.monotonic()
    with _seen_lock:
        for old in [k for k, seen in _seen_local.items() if now - seen > DUPLICATE_WINDOW]:
            del _seen_local[old]
        fresh = not any(key in _seen_local for key in keys)
        for key in keys:
            _seen_local[key] = now
        return fresh


def forget(keys: list[str]) -> None:
    """The submission failed after `first_time`: let the visitor send it again."""
    if current_app.config.get("REDIS_URL"):
        from app.core.jobs import redis_connection

        try:
            redis_connection().delete(*keys)
        except Exception:
            pass
    with _seen_lock:
        for key in keys:
            _seen_local.pop(key, None)


def is_bot(posted) -> bool:
    return bool((posted.get(HONEYPOT_FIELD) or "").strip())


# ---- saving -------------------------------------------------------------------------------------------

def contact_data(account, answers: dict) -> tuple[dict, dict]:
    """(data for contacts.upsert, answers kept only in the event): contact fields, and custom:<key> for
    custom fields the account has; anything else stays in the event."""
    from app.crm.services.custom_fields import fields_of

    defined = {definition.key: definition for definition in fields_of(account)}
    data, custom, extra = {}, {}, {}
    for target, value in answers.items():
        if target in CONTACT_FIELDS:
            data[target] = ", ".join(value) if isinstance(value, list) else value
        elif target.startswith("custom:") and target[7:] in defined:
            definition = defined[target[7:]]
            if isinstance(value, list):
                value = ", ".join(value) if definition.field_type != "checkbox" else bool(value)
            custom[target[7:]] = value
        else:
            extra[target] = value
    if custom:
        data["custom_fields"] = custom
    return data, extra


def save(account, form: dict, submission: Submission, context: dict):
    """Upsert the contact (source "form"), add the form's tags, publish form.submitted. Returns the contact.
    A contact-level refusal (e.g. a custom field's rule) raises ValidationError naming the form's field."""
    from app.core import events
    from app.core.errors import ValidationError
    from app.crm.services import contacts, tags
    from app.extensions import db

    data, extra = contact_data(account, submission.answers)
    try:
        contact, created = contacts.upsert(account, data, source="form")
    except ValidationError as error:
        db.session.rollback()
        raise form_field_errors(error, form) from error
    added = []
    for name in (form.get("props") or {}).get("tags") or []:
        tag = tags.get_or_create(account, name)
        if tags.tag_contact(account, contact, tag):
            added.append(tag)
    db.session.commit()
    for tag in added:
        tags.publish_tag_change(account, contact.id, tag, True)
    events.publish("form.submitted", **context, contact_id=contact.id, created=created,
                   fields={**{k: v for k, v in submission.answers.items()}, **({"unmapped": extra} if extra else {})})
    return contact


def form_field_errors(error, form: dict):
    """The contact service's error, its fields renamed to the form's field ids."""
    from app.core.errors import ValidationError

    by_target = {}
    for element in form_fields(form):
        target = (element.get("props") or {}).get("maps_to", "")
        by_target[target] = element["id"]
        if target.startswith("custom:"):
            by_target["cf_" + target[7:]] = element["id"]
    fields = {}
    for name, message in (error.fields or {}).items():
        fields[by_target.get(name, "")] = message
    return ValidationError(error.message, fields=fields or {"": error.message})
