"""Validating plain data in services: one value at a time (`text_value`, `choice_value`, `as_uuid`,
`row_of_account`), or a whole record with `FieldErrors`, which reports every field's error at once.

Each validator returns the clean value or raises `ValidationError` naming the field, so that a form shows
the message next to it and the API answers 422 with `fields`.
"""
import uuid

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


def uuid_or_none(value) -> uuid.UUID | None:
    """A UUID from a query, form or JSON value; None for anything else (a lenient filter or link)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def as_uuid(value, field: str, label: str) -> uuid.UUID | None:
    """A UUID, None when empty, a 422 naming the field for anything else."""
    if value in (None, ""):
        return None
    found = uuid_or_none(value)
    if found is None:
        raise ValidationError(f"Choose a {label} from the list.", field=field)
    return found


def row_of_account(model, account, value, field: str, label: str):
    """The account's row with this id, or a 422 naming the field (another account's id included)."""
    row_id = as_uuid(value, field, label)
    if row_id is None:
        return None
    row = db.session.execute(scoped(model, account).where(model.id == row_id)).scalar_one_or_none()
    if row is None or getattr(row, "deleted_at", None) is not None:
        raise ValidationError(f"That {label} does not exist in this workspace.", field=field)
    return row


def get_live(model, account, object_id):
    """The account's row (not soft-deleted) or NotFoundError."""
    row_id = as_uuid(object_id, "id", "record")
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
