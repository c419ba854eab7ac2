"""Custom contact fields defined by admins, and the validation of their values."""
import re
from datetime import date
from urllib.parse import urlsplit

from sqlalchemy import func, select

from app.core import audit
from app.core.dates import RANGE_TEXT, in_range
from app.core.errors import ValidationError
from app.core.tenancy import scoped
from app.core.validation import choice_value, text_value
from app.crm.models import CUSTOM_FIELD_TYPES, CustomField
from app.extensions import db

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


def fields_of(account) -> list[CustomField]:
    return list(db.session.execute(
        scoped(CustomField, account).order_by(CustomField.position, CustomField.label)).scalars())


def _key_from_label(label: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or "field"
    return ("f_" + key if not key[0].isalpha() else key)[:50]


def create(account, data: dict) -> CustomField:
    label = text_value(data, "label", "label", 80, required=True)
    field_type = choice_value(data, "field_type", "type", CUSTOM_FIELD_TYPES, default="text")
    key = (text_value(data, "key", "key", 50) or _key_from_label(label)).lower()
    if not KEY_PATTERN.match(key):
        raise ValidationError("Use lower-case letters, digits and _; start with a letter.", field="key")
    if db.session.execute(scoped(CustomField, account).where(CustomField.key == key)).first():
        raise ValidationError("A field with this key exists already.", field="key")
    options = _options(data.get("options"), field_type)
    position = db.session.execute(
        select(func.coalesce(func.max(CustomField.position), 0)).where(CustomField.account_id == account.id)
    ).scalar_one() + 1
    field = CustomField(account_id=account.id, key=key, label=label, field_type=field_type, options=options,
                        required=bool(data.get("required")), position=position)
    db.session.add(field)
    db.session.flush()
    audit.record("custom_field.created", field, f"Custom field “{label}” ({field_type}) created", account=account)
    db.session.commit()
    return field


def update(account, field: CustomField, data: dict) -> CustomField:
    field.label = text_value(data, "label", "label", 80, required=True)
    field.options = _options(data.get("options"), field.field_type)
    field.required = bool(data.get("required"))
    audit.record("custom_field.updated", field, f"Custom field “{field.label}” changed", account=account)
    db.session.commit()
    return field


def delete(account, field: CustomField) -> None:
    """Deletes the definition; values stay in the contacts' data but are no longer shown."""
    audit.record("custom_field.deleted", field, f"Custom field “{field.label}” deleted", account=account)
    db.session.delete(field)
    db.session.commit()


def _options(raw, field_type: str) -> list[str]:
    if field_type != "dropdown":
        return []
    if isinstance(raw, str):
        raw = [line for line in re.split(r"[\n,]", raw)]
    options = [str(o).strip() for o in (raw or []) if str(o).strip()]
    if not options:
        raise ValidationError("A dropdown needs at least one option (one a line).", field="options")
    if len(options) > 100 or any(len(o) > 80 for o in options):
        raise ValidationError("At most 100 options of 80 characters each.", field="options")
    return list(dict.fromkeys(options))


def clean_value(field: CustomField, raw):
    """The stored form of a value for this field, or ValidationError naming `cf_<key>`."""
    name = f"cf_{field.key}"
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if field.required:
            raise ValidationError(f"{field.label} is required.", field=name)
        return None
    if field.field_type == "checkbox":
        if isinstance(raw, bool):
            return raw
        value = str(raw).strip().lower()
        if value in ("1", "true", "yes", "y", "on"):
            return True
        if value in ("0", "false", "no", "n", "off"):
            return False
        raise ValidationError(f"{field.label} must be yes or no.", field=name)
    if field.field_type == "number":
        if isinstance(raw, bool):
            raise ValidationError(f"{field.label} must be a number.", field=name)
        try:
            number = float(str(raw).replace(",", "").strip())
        except ValueError as exc:
            raise ValidationError(f"{field.label} must be a number.", field=name) from exc
        if number != number or abs(number) > 1e15:
            raise ValidationError(f"{field.label} must be a number.", field=name)
        return int(number) if number.is_integer() else number
    text = str(raw).strip()
    if len(text) > 500:
        raise ValidationError(f"{field.label} has at most 500 characters.", field=name)
    if field.field_type == "date":
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValidationError(f"{field.label} must be a date (YYYY-MM-DD).", field=name) from None
        if not in_range(day):  # the range of every date the app stores (core.dates)
            raise ValidationError(f"{field.label} must be a date {RANGE_TEXT}.", field=name)
        return day.isoformat()
    if field.field_type == "url":
        parts = urlsplit(text if "://" in text else "https://" + text)
        if parts.scheme not in ("http", "https") or "." not in (parts.hostname or ""):
            raise ValidationError(f"{field.label} must be a web address.", field=name)
        return parts.geturl()
    if field.field_type == "dropdown" and text not in field.options:
        raise ValidationError(f"{field.label}: choose one of {', '.join(field.options)}.", field=name)
    return text


def clean_values(account, raw_values: dict, existing: dict | None = None, partial: bool = False) -> dict:
    """Validate every defined field's value from `raw_values` (keys without the cf_ prefix).

    partial: only the keys present are checked (API PATCH, imports); the others are kept."""
    values = dict(existing or {})
    errors = {}
    for field in fields_of(account):
        if partial and field.key not in raw_values:
            continue
        try:
            value = clean_value(field, raw_values.get(field.key))
        except ValidationError as error:
            errors.update(error.fields)
            continue
        if value is None:
            values.pop(field.key, None)
        else:
            values[field.key] = value
    if errors:
        raise ValidationError("Some custom fields are not valid.", fields=errors)
    return values
