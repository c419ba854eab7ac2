"""One row of the file checked as the contact form checks it.

The rules are those of `services.contacts` (same helpers, same limits, same messages; custom fields by
`custom_fields.clean_value`, so dates within the range of `core.dates`), without its per-row queries: the
account's custom fields and members are loaded once by `RowParser`. `tests/crm/test_imports.py` checks that
both agree on the same input. A bad row raises `RowError` with every reason, each after the name of its column.
"""
import re
from functools import lru_cache

from app.auth.services import members, normalize_email
from app.core.errors import ValidationError
from app.core.validation import choice_value, text_value
from app.crm.models import CONTACT_SOURCES
from app.crm.services import contacts, custom_fields
from app.crm.services.imports.mapping import IGNORE, comparable
from app.crm.services.phones import normalize_phone

MAX_TAGS = 20
# Same limits and labels as services.contacts.
TEXT_FIELDS = {"street": ("street", 200), "city": ("city", 100), "region": ("region", 100),
               "postal_code": ("postal code", 20)}
COUNTRY_ALIASES = {
    "USA": "US", "U.S.": "US", "U.S.A.": "US", "United States of America": "US", "America": "US", "UK": "GB",
    "U.K.": "GB", "Great Britain": "GB", "England": "GB", "Scotland": "GB", "Wales": "GB",
    "Northern Ireland": "GB", "Holland": "NL", "Nederland": "NL", "Deutschland": "DE", "España": "ES",
    "Italia": "IT", "Schweiz": "CH", "Suisse": "CH", "Österreich": "AT", "Belgique": "BE", "België": "BE",
    "South Korea": "KR", "Korea": "KR", "Russia": "RU", "Czech Republic": "CZ", "Czechia": "CZ", "UAE": "AE",
    "Brasil": "BR", "México": "MX", "Viet Nam": "VN", "Türkiye": "TR", "Turkey": "TR", "Ivory Coast": "CI",
}


class RowError(Exception):
    """A row that cannot be imported; the message gives every reason."""


def parse_tag_names(raw) -> list[str]:
    """Tag names from "a, b; c" (each 1-50 characters, at most MAX_TAGS, duplicates dropped)."""
    names = []
    for part in re.split(r"[,;]", raw or ""):
        name = part.strip()
        if not name:
            continue
        if len(name) > 50:
            raise ValidationError(f"A tag name has at most 50 characters (“{name[:20]}…”).", field="tags")
        if name.lower() not in {n.lower() for n in names}:
            names.append(name)
    if len(names) > MAX_TAGS:
        raise ValidationError(f"Add at most {MAX_TAGS} tags.", field="tags")
    return names


@lru_cache(maxsize=1)
def _country_names() -> dict:
    from phonenumbers.geodata.locale import LOCALE_DATA

    names = {}
    for code, by_language in LOCALE_DATA.items():
        if len(code) != 2 or not code.isalpha():
            continue
        for language in ("aa", "de", "es", "fr", "it", "nl", "pt", "sv", "pl"):  # "aa" holds the English name
            name = by_language.get(language)
            if name and not name.startswith("*"):
                names.setdefault(comparable(name), code)
    names.update({comparable(alias): code for alias, code in COUNTRY_ALIASES.items()})
    return names


def country_code(raw: str) -> str | None:
    """ISO code from "FR", "France", "United States"...; otherwise the service's validation message."""
    value = raw.strip()
    if not value:
        return None
    if len(value) != 2:
        value = _country_names().get(comparable(value), value)
    return contacts.clean_country(value)


class RowParser:
    """Checks rows of a file whose columns are `headers`, mapped by `mapping` ({header: target})."""

    def __init__(self, account, headers: list[str], mapping: dict):
        self.headers = list(headers)
        self.columns: dict[str, list[int]] = {}
        for index, header in enumerate(self.headers):
            target = (mapping or {}).get(header, IGNORE)
            if target != IGNORE:
                self.columns.setdefault(target, []).append(index)
        self.fields = {field.key: field for field in custom_fields.fields_of(account)}
        self.country = contacts.default_country(account)
        self.members = {}
        for user in members(account):
            self.members[user.email.lower()] = user.id
            if user.name:
                self.members.setdefault(user.name.strip().lower(), user.id)

    def _cell(self, row, target) -> tuple[str, str | None]:
        """The first non-empty value of the columns mapped to `target`, and its column's name."""
        for index in self.columns.get(target, ()):
            if index < len(row):
                value = row[index].strip()
                if value:
                    return value, self.headers[index]
        return "", None

    def parse(self, row: list[str]) -> dict:
        """{"values", "custom", "company", "tags"} of one row (the rules of services.contacts), or RowError
        with the reasons. `values` are contact columns; `company` a name; `tags` names."""
        errors: list[str] = []
        values: dict = {}

        def attempt(target, producer):
            raw, column = self._cell(row, target)
            if not raw:
                return None
            try:
                return producer(raw)
            except ValidationError as error:
                errors.append(f"{column}: {error.message}")
                return None

        for target, label in (("first_name", "first name"), ("last_name", "last name")):
            value = attempt(target, lambda raw, t=target, lab=label: text_value({t: raw}, t, lab, 80))
            if value:
                values[target] = value
        if not values.get("first_name") and not values.get("last_name"):
            full, column = self._cell(row, "full_name")
            if full:
                first, _, last = full.partition(" ")
                for name, part, label in (("first_name", first, "first name"), ("last_name", last, "last name")):
                    try:
                        part = text_value({name: part}, name, label, 80)
                    except ValidationError as error:
                        errors.append(f"{column}: {error.message}")
                        continue
                    if part:
                        values[name] = part
        email = attempt("email", normalize_email)
        if email:
            values["email"] = email
        country = attempt("country", country_code)
        if country:
            values["country"] = country
        phone = attempt("phone", lambda raw: self._phone(raw, country))
        if phone:
            values["phone"] = phone
        for target, (label, size) in TEXT_FIELDS.items():
            value = attempt(target, lambda raw, t=target, lab=label, sz=size: text_value({t: raw}, t, lab, sz))
            if value:
                values[target] = value
        source = attempt("source", lambda raw: choice_value({"source": raw.lower()}, "source", "source",
                                                            CONTACT_SOURCES))
        if source:
            values["source"] = source
        company = attempt("company", lambda raw: text_value({"company": raw}, "company", "company name", 160))
        owner = attempt("owner", self._owner)
        if owner:
            values["owner_id"] = owner
        custom = {}
        for key, field in self.fields.items():
            raw, column = self._cell(row, f"cf:{key}")
            if not raw:
                continue
            try:
                value = custom_fields.clean_value(field, raw)
            except ValidationError as error:
                errors.append(f"{column}: {error.message}")
                continue
            if value is not None:
                custom[key] = value
        tag_names = []
        for index in self.columns.get("tags", ()):
            try:
                tag_names += parse_tag_names(row[index] if index < len(row) else "")
            except ValidationError as error:
                errors.append(f"{self.headers[index]}: {error.message}")
        if errors:
            raise RowError("; ".join(errors))
        if not any(values.get(name) for name in ("first_name", "last_name", "email", "phone")):
            raise RowError("Enter at least a name, an e-mail or a phone number.")
        return {"values": values, "custom": custom, "company": company, "tags": tag_names}

    def _phone(self, raw: str, country: str | None):
        if country and country != self.country:
            try:  # a number written the local way of the row's own country
                return normalize_phone(raw, country)
            except ValidationError:
                pass
        return normalize_phone(raw, self.country)

    def _owner(self, raw: str):
        user_id = self.members.get(raw.strip().lower())
        if user_id is None:
            raise ValidationError("No member of this workspace has this e-mail or name.", field="owner_id")
        return user_id

    def missing_required(self, custom: dict) -> list[str]:
        """The messages of the required custom fields a new contact would lack."""
        return [f"{field.label} is required." for key, field in self.fields.items()
                if field.required and key not in custom]
