"""Which column of the file goes into which contact field.

A new upload's mapping is the one remembered for the same set of headers (`ImportMapping`), else one
guessed from the column names of common exports (HubSpot, Salesforce, spreadsheets in several
languages) and the account's custom fields. Targets: a built-in field name, "cf:<key>" for a custom
field, or IGNORE.
"""
import hashlib
import re
import unicodedata

from app.core.tenancy import scoped
from app.crm.models import ImportMapping
from app.crm.services import custom_fields
from app.extensions import db

IGNORE = "ignore"
NAME_TARGETS = ("first_name", "last_name", "full_name", "email", "phone")

# (target, label) of the built-in fields a column can be imported into; custom fields are "cf:<key>".
FIELD_TARGETS = [
    ("first_name", "First name"), ("last_name", "Last name"), ("full_name", "Full name (split in first and last)"),
    ("email", "E-mail"), ("phone", "Phone"), ("company", "Company (by name)"),
    ("owner", "Owner (a team member's e-mail or name)"), ("source", "Source"), ("street", "Street"),
    ("city", "City"), ("region", "State / region"), ("postal_code", "Postal code"),
    ("country", "Country"), ("tags", "Tags (comma-separated)"),
]

# Column names of common exports (compared with `comparable`: lower-cased, without accents, spaces or punctuation).
KNOWN_COLUMNS = {
    "first_name": ["firstname", "first", "givenname", "fname", "forename", "prenom", "vorname", "nombre"],
    "last_name": ["lastname", "last", "surname", "familyname", "lname", "nom", "nachname", "apellido",
                  "apellidos"],
    "full_name": ["name", "fullname", "contactname", "contact", "nomcomplet"],
    "email": ["email", "emailaddress", "email1", "mail", "emails", "primaryemail", "workemail", "courriel",
              "businessemail", "personalemail"],
    "phone": ["phone", "phonenumber", "phone1", "telephone", "telephonenumber", "tel", "mobile", "mobilephone",
              "mobilephonenumber", "mobilenumber", "cell", "cellphone", "workphone", "homephone", "businessphone",
              "telefon", "telefono"],
    "company": ["company", "companyname", "accountname", "account", "organization", "organisation",
                "organizationname", "org", "employer", "associatedcompany", "firma", "entreprise", "societe"],
    "street": ["street", "streetaddress", "address", "address1", "addressline1", "mailingstreet", "billingstreet",
               "adresse", "strasse"],
    "city": ["city", "town", "mailingcity", "billingcity", "ville", "stadt", "ort", "ciudad"],
    "region": ["state", "region", "province", "stateregion", "stateprovince", "county", "mailingstate",
               "billingstate", "bundesland"],
    "postal_code": ["zip", "zipcode", "postalcode", "postcode", "zippostalcode", "mailingpostalcode",
                    "mailingzip", "billingpostalcode", "plz", "codepostal", "cp"],
    "country": ["country", "countryregion", "countrycode", "mailingcountry", "billingcountry", "pays", "land",
                "pais"],
    "tags": ["tags", "tag", "labels", "label", "lists", "lifecyclestage", "leadsource", "leadstatus"],
}
KNOWN_LOOKUP = {name: target for target, names in KNOWN_COLUMNS.items() for name in names}


def comparable(text: str) -> str:
    """A name as compared with known names: lower-case ASCII letters and digits only ("Prénom" -> "prenom")."""
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", text.lower())


def target_choices(account) -> list[tuple[str, str]]:
    """(value, label) of every field a column can be imported into, "ignore" first."""
    return ([(IGNORE, "Don't import")] + FIELD_TARGETS
            + [(f"cf:{field.key}", f"{field.label} (custom field)") for field in custom_fields.fields_of(account)])


def header_signature(headers: list[str]) -> str:
    """The same set of column names (any order or case) gives the same signature."""
    names = sorted({header.strip().lower() for header in headers})
    return hashlib.sha256("\x1f".join(names).encode()).hexdigest()


def auto_target(header: str, fields) -> str:
    name = comparable(header)
    for field in fields:
        if name and name in (comparable(field.key), comparable(field.label)):
            return f"cf:{field.key}"
    return KNOWN_LOOKUP.get(name, IGNORE)


def _remembered(account, headers: list[str]) -> ImportMapping | None:
    return db.session.execute(scoped(ImportMapping, account).where(
        ImportMapping.header_signature == header_signature(headers))).scalar_one_or_none()


def suggest_mapping(account, headers: list[str]) -> tuple[dict, bool]:
    """{header: target} for a new upload, and whether it is the mapping remembered for these headers."""
    fields = custom_fields.fields_of(account)
    valid = {value for value, _ in target_choices(account)}
    remembered = _remembered(account, headers)
    mapping = {}
    for header in headers:
        saved = remembered.mapping.get(header.strip().lower()) if remembered is not None else None
        mapping[header] = saved if saved in valid else auto_target(header, fields)
    return mapping, remembered is not None


def checked_mapping(account, headers: list[str], mapping: dict) -> tuple[dict, dict]:
    """({header: target} with every header, {form field: message}) for a mapping posted by the form:
    errors name "map_<column index>" or "mapping" (no column gives a contact a name, e-mail or phone)."""
    valid = {value for value, _ in target_choices(account)}
    errors, clean = {}, {}
    for index, header in enumerate(headers):
        target = mapping.get(header) or IGNORE
        if target not in valid:
            errors[f"map_{index}"] = "Choose a field from the list."
        clean[header] = target
    if not errors and not any(target in NAME_TARGETS for target in clean.values()):
        errors["mapping"] = "Match at least one column to the e-mail, the phone or a name: a contact needs one."
    return clean, errors


def remember(account, headers: list[str], mapping: dict) -> None:
    """Keep the mapping for the next file with the same columns (added to the session, not committed)."""
    stored = {header.strip().lower(): target for header, target in mapping.items()}
    row = _remembered(account, headers)
    if row is None:
        db.session.add(ImportMapping(account_id=account.id, header_signature=header_signature(headers),
                                     mapping=stored))
    else:
        row.mapping = stored
