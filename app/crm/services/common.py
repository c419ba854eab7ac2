"""Validation shared by the CRM services."""
import uuid

import phonenumbers

from app.auth.models import Membership
from app.core.errors import NotFoundError, ValidationError
from app.core.tenancy import scoped
from app.extensions import db


def text_value(data: dict, field: str, label: str, max_length: int, required: bool = False) -> str | None:
    """A trimmed string (None when empty and not required)."""
    value = data.get(field)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"The {label} must be text.", field=field)
    value = value.strip()
    if "\x00" in value:
        raise ValidationError(f"The {label} contains a NUL character.", field=field)
    if not value:
        if required:
            raise ValidationError(f"Enter a {label}.", field=field)
        return None
    if len(value) > max_length:
        raise ValidationError(f"The {label} has at most {max_length} characters.", field=field)
    return value


def choice_value(data: dict, field: str, label: str, choices, default=None, required: bool = False):
    value = data.get(field)
    if value in (None, ""):
        if required and default is None:
            raise ValidationError(f"Choose a {label}.", field=field)
        return default
    if value not in choices:
        raise ValidationError(f"Choose a {label} from: {', '.join(choices)}.", field=field)
    return value


def normalize_phone(raw: str | None, default_country: str | None, field: str = "phone") -> str | None:
    """E.164 (+14155550123) from what a person typed, in the account's default country."""
    if raw is None or not str(raw).strip():
        return None
    raw = str(raw).strip()
    if len(raw) > 40:
        raise ValidationError("A phone number has at most 40 characters.", field=field)
    try:
        number = phonenumbers.parse(raw, (default_country or "US").upper())
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("Enter a valid phone number, e.g. +1 415 555 0123.", field=field) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("This is not a valid phone number for its country.", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str | None) -> str:
    if not e164:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def as_uuid(value, field: str, label: str):
    if value in (None, ""):
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as exc:
        raise ValidationError(f"Choose a {label} from the list.", field=field) from exc


def row_of_account(model, account, value, field: str, label: str):
    """The account's row with this id, or a 422 naming the field (another account's id included)."""
    row_id = as_uuid(value, field, label)
    if row_id is None:
        return None
    row = db.session.execute(scoped(model, account).where(model.id == row_id)).scalar_one_or_none()
    if row is None or getattr(row, "deleted_at", None) is not None:
        raise ValidationError(f"That {label} does not exist in this workspace.", field=field)
    return row


def member_user_id(account, value, field: str = "owner_id"):
    """A user id that belongs to a member of the account, or a 422."""
    user_id = as_uuid(value, field, "team member")
    if user_id is None:
        return None
    found = db.session.execute(
        scoped(Membership, account).where(Membership.user_id == user_id)).scalar_one_or_none()
    if found is None:
        raise ValidationError("Choose a member of this workspace.", field=field)
    return user_id


def get_live(model, account, object_id):
    """The account's row (not soft-deleted) or NotFoundError."""
    row_id = as_uuid(object_id, "id", "record") if not isinstance(object_id, uuid.UUID) else object_id
    row = db.session.execute(scoped(model, account).where(model.id == row_id)).scalar_one_or_none()
    if row is None or getattr(row, "deleted_at", None) is not None:
        raise NotFoundError("Not found.")
    return row


class FieldErrors:
    """Validates a record's fields one by one and reports every error at once.

        fields = FieldErrors(data, partial)
        fields.add("title", lambda: text_value(data, "title", "title", 160, required=True))
        values = fields.values_or_raise()

    partial (PATCH, imports): only the fields present in `data` are validated."""

    def __init__(self, data: dict, partial: bool = False):
        self.data, self.partial = data, partial
        self.values: dict = {}
        self.errors: dict = {}

    def add(self, name: str, producer, key: str | None = None) -> None:
        """values[name] = producer(); `key` is the input's name when it differs from the field's."""
        if self.partial and (key or name) not in self.data:
            return
        try:
            self.values[name] = producer()
        except ValidationError as error:
            self.errors.update(error.fields)

    def values_or_raise(self, message: str = "Some fields are not valid.") -> dict:
        if self.errors:
            raise ValidationError(message, fields=self.errors)
        return self.values
