"""Phone numbers as the CRM stores (E.164) and shows them (international format)."""
import phonenumbers

from app.core.errors import ValidationError


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
