"""CRM routes of the JSON API: contacts (with upsert by e-mail and tags), companies and deals.

Contact fields are named as in the contact form. Bodies are checked for their types here (a wrong type is a
422 naming the field, never a 500); the services check the values. Reading needs the viewer role, writing
the user role; another workspace's ids are simply not found (404).
"""

from flask import jsonify
from sqlalchemy.orm import selectinload

from app.api.base import (
    BLANK,
    NO_NUL,
    NOT_BLANK,
    STORED_DATE_PATTERN,
    ApiError,
    api_route,
    id_or_none,
    iso,
    list_response,
    query_filters,
    query_param,
    read_body,
)
from app.api.openapi import SCHEMAS, error_response, json_response, list_of, ref
from app.core.tenancy import current_account, current_actor, get_or_404
from app.core.validation import get_live, text_value
from app.crm.models import COMPANY_SIZES, CONTACT_SOURCES, DEAL_STATUSES, Company, Contact, Deal, Tag
from app.crm.services import companies, contacts, deals
from app.extensions import db


def _text(max_length: int, nullable: bool = True, **extra) -> dict:
    return {"type": ["string", "null"] if nullable else "string", "maxLength": max_length, "pattern": NO_NUL, **extra}


def _id(description: str) -> dict:
    return {"type": ["string", "null"], "format": "uuid", "description": description}


TIMESTAMPS = {"created_at": {"type": "string", "format": "date-time"},
              "updated_at": {"type": "string", "format": "date-time"}}
TAG_NAMES = {"type": "array", "maxItems": 50, "description": "Tag names; a tag that does not exist is created.",
             "items": {"type": "string", "maxLength": 50, "pattern": NOT_BLANK}}
CONTACT_FIELDS = {
    "first_name": _text(80), "last_name": _text(80),
    "email": {"type": ["string", "null"], "format": "email", "maxLength": 254,
              "description": "Unique in the workspace (case-insensitive)."},
    "phone": {"type": ["string", "null"], "maxLength": 40, "pattern": NO_NUL,
              "description": "A valid phone number in any common notation, stored in E.164 (+14155550123). "
                             "Without a +, it is read in the workspace's country."},
    "company_id": _id("A company of the workspace."), "owner_id": _id("The user id of a member of the workspace."),
    "source": {"type": ["string", "null"], "enum": [*CONTACT_SOURCES, None]},
    "street": _text(200), "city": _text(100), "region": _text(100), "postal_code": _text(20),
    "country": {"type": ["string", "null"], "pattern": "^([A-Za-z]{2})?$", "description": "ISO 3166-1 alpha-2."},
    "custom_fields": {"type": "object", "description": "Values of the workspace's custom fields, by key.",
                      "additionalProperties": {"type": ["string", "number", "boolean", "null"], "maxLength": 500,
                                               "pattern": NO_NUL}},
    "tags": TAG_NAMES,
}
NAMED = [("first_name", {"type": "string", "pattern": NOT_BLANK}),
         ("last_name", {"type": "string", "pattern": NOT_BLANK}),
         ("email", {"type": "string"}), ("phone", {"type": "string", "pattern": NOT_BLANK})]
EMPTY = {"anyOf": [{"type": "null"}, {"type": "string", "pattern": BLANK}]}
TAG = {"type": "object", "required": ["id", "name", "color"], "properties": {
    "id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}, "color": {"type": "string"}}}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_ID = {"type": ["string", "null"], "format": "uuid"}

SCHEMAS.update({
    "Tag": TAG,
    "TagAdd": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "maxLength": 50, "pattern": NOT_BLANK}}},
    "Contact": {"type": "object", "required": ["id", "first_name", "last_name", "email", "phone", "company_id",
                                               "owner_id", "source", "custom_fields", "tags", "created_at",
                                               "updated_at"],
                "properties": {"id": {"type": "string", "format": "uuid"},
                               "first_name": {"type": "string"}, "last_name": {"type": "string"},
                               "email": NULLABLE_STRING, "phone": NULLABLE_STRING, "company_id": NULLABLE_ID,
                               "owner_id": NULLABLE_ID, "source": {"type": "string", "enum": list(CONTACT_SOURCES)},
                               "street": NULLABLE_STRING, "city": NULLABLE_STRING, "region": NULLABLE_STRING,
                               "postal_code": NULLABLE_STRING, "country": NULLABLE_STRING,
                               "custom_fields": {"type": "object"}, "tags": {"type": "array", "items": ref("Tag")},
                               **TIMESTAMPS}},
    "ContactList": list_of("#/components/schemas/Contact"),
    "ContactCreate": {"type": "object", "properties": CONTACT_FIELDS,
                      "description": "At least a first or last name, an e-mail or a phone number.",
                      "anyOf": [{"required": [name], "properties": {name: schema}} for name, schema in NAMED]},
    "ContactUpdate": {"type": "object", "properties": CONTACT_FIELDS,
                      "description": "Only the fields sent change. `tags`, when sent, become the contact's tags. "
                                     "The contact keeps at least a name, an e-mail or a phone number.",
                      "not": {"required": [name for name, _ in NAMED],
                              "properties": {name: EMPTY for name, _ in NAMED}}},
    "ContactUpsert": {"type": "object", "required": ["email"],
                      "description": "Matched by e-mail: the contact is updated (only the fields sent; `tags` are "
                                     "added) or created.",
                      "properties": {**CONTACT_FIELDS, "email": {"type": "string", "format": "email",
                                                                 "maxLength": 254}}},
    "Company": {"type": "object", "required": ["id", "name", "domain", "tags", "created_at", "updated_at"],
                "properties": {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string"},
                               "domain": NULLABLE_STRING, "industry": NULLABLE_STRING, "size": NULLABLE_STRING,
                               "phone": NULLABLE_STRING, "owner_id": NULLABLE_ID, "parent_id": NULLABLE_ID,
                               "tags": {"type": "array", "items": ref("Tag")}, **TIMESTAMPS}},
    "CompanyList": list_of("#/components/schemas/Company"),
})
COMPANY_FIELDS = {
    "name": {"type": "string", "maxLength": 160, "pattern": NOT_BLANK},
    "domain": {"type": ["string", "null"], "maxLength": 253,
               "pattern": "^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$",
               "description": "Unique in the workspace, e.g. example.com."},
    "industry": _text(80), "size": {"type": ["string", "null"], "enum": [*COMPANY_SIZES, None]},
    "phone": CONTACT_FIELDS["phone"], "owner_id": CONTACT_FIELDS["owner_id"],
    "parent_id": _id("The parent company (never the company itself or one of its descendants)."),
}
DEAL_FIELDS = {
    "title": {"type": "string", "maxLength": 160, "pattern": NOT_BLANK},
    "value_cents": {"type": "integer", "minimum": 0, "maximum": 10 ** 14, "description": "The value in cents."},
    "contact_id": _id("A contact of the workspace."), "company_id": _id("A company of the workspace."),
    "owner_id": CONTACT_FIELDS["owner_id"],
    "expected_close_date": {"type": ["string", "null"], "format": "date", "pattern": STORED_DATE_PATTERN,
                            "description": "A date between 1900 and 2199."},
}
SCHEMAS.update({
    "CompanyCreate": {"type": "object", "required": ["name"], "properties": COMPANY_FIELDS},
    "CompanyUpdate": {"type": "object", "properties": COMPANY_FIELDS, "description": "Only the fields sent change."},
    "Deal": {"type": "object", "required": ["id", "title", "value_cents", "currency", "pipeline_id", "stage_id",
                                            "status", "created_at", "updated_at"],
             "properties": {"id": {"type": "string", "format": "uuid"}, "title": {"type": "string"},
                            "value_cents": {"type": "integer"}, "currency": {"type": "string"},
                            "pipeline_id": {"type": "string", "format": "uuid"},
                            "stage_id": {"type": "string", "format": "uuid"}, "stage": {"type": "string"},
                            "status": {"type": "string", "enum": list(DEAL_STATUSES)},
                            "lost_reason": NULLABLE_STRING, "contact_id": NULLABLE_ID, "company_id": NULLABLE_ID,
                            "owner_id": NULLABLE_ID,
                            "expected_close_date": {"type": ["string", "null"], "format": "date"},
                            "closed_at": {"type": ["string", "null"], "format": "date-time"}, **TIMESTAMPS}},
    "DealList": list_of("#/components/schemas/Deal"),
    "DealCreate": {"type": "object", "required": ["title"],
                   "description": "Put in `stage_id`, or in the first stage of `pipeline_id`, or of the first "
                                  "pipeline.",
                   "properties": {**DEAL_FIELDS, "pipeline_id": _id("A pipeline of the workspace."),
                                  "stage_id": _id("A stage (of `pipeline_id`, when both are sent).")}},
    "DealUpdate": {"type": "object", "description": "Only the fields sent change; `status` lost needs a `lost_reason`. "
                                                    "Move a deal to another stage with POST /deals/{deal_id}/move.",
                   "properties": {**DEAL_FIELDS, "status": {"type": "string", "enum": list(DEAL_STATUSES)},
                                  "lost_reason": _text(255)},
                   "anyOf": [{"properties": {"status": {"enum": ["open", "won", "abandoned"]}}},
                             {"required": ["status", "lost_reason"], "properties": {
                                 "status": {"const": "lost"},
                                 "lost_reason": {"type": "string", "maxLength": 255, "pattern": NOT_BLANK}}}]},
    "DealMove": {"type": "object", "required": ["stage_id"], "properties": {
        "stage_id": {"type": "string", "format": "uuid", "description": "A stage of the deal's pipeline."}}},
})


NOT_FOUND = error_response("No such record in the key's workspace.")
DUPLICATE = error_response("Another contact has this e-mail: the message and `fields.email` give its id.")


UUID_PARAM = {"type": "string", "format": "uuid"}
DATE_PARAM = {"type": "string", "format": "date"}


# The fields each operation reads from its body, with their JSON kinds (app.api.base.check_types). Its schema
# lists the same fields: json_body() refuses any other (tests/api/test_crm_api.py compares the two).
CONTACT_TYPES = {**{name: "text" for name in contacts.FIELDS}, "custom_fields": "values", "tags": "names"}
COMPANY_TYPES = {"name": "text", "domain": "text", "industry": "text", "size": "text", "phone": "text",
                 "owner_id": "text", "parent_id": "text"}
DEAL_TYPES = {"title": "text", "value_cents": "integer", "contact_id": "text", "company_id": "text",
              "owner_id": "text", "expected_close_date": "text"}
DEAL_CREATE_TYPES = {**DEAL_TYPES, "pipeline_id": "text", "stage_id": "text"}
DEAL_UPDATE_TYPES = {**DEAL_TYPES, "status": "text", "lost_reason": "text"}
DEAL_MOVE_TYPES = {"stage_id": "string"}
TAG_ADD_TYPES = {"name": "string"}
BODY_TYPES = {"ContactCreate": CONTACT_TYPES, "ContactUpdate": CONTACT_TYPES, "ContactUpsert": CONTACT_TYPES,
              "TagAdd": TAG_ADD_TYPES, "CompanyCreate": COMPANY_TYPES, "CompanyUpdate": COMPANY_TYPES,
              "DealCreate": DEAL_CREATE_TYPES, "DealUpdate": DEAL_UPDATE_TYPES, "DealMove": DEAL_MOVE_TYPES}


# ---- serialization ------------------------------------------------------------------------------------

def tag_json(tag: Tag) -> dict:
    return {"id": str(tag.id), "name": tag.name, "color": tag.color}


def contact_json(contact: Contact) -> dict:
    data = {name: getattr(contact, name) for name in ("first_name", "last_name", "email", "phone", "source", "street",
                                                        "city", "region", "postal_code", "country")}
    return {"id": str(contact.id), **data, "company_id": id_or_none(contact.company_id),
            "owner_id": id_or_none(contact.owner_id),
            "custom_fields": contact.custom_fields or {}, "tags": [tag_json(tag) for tag in contact.tags],
            "created_at": iso(contact.created_at), "updated_at": iso(contact.updated_at)}


def company_json(company: Company) -> dict:
    return {"id": str(company.id), "name": company.name, "domain": company.domain, "industry": company.industry,
            "size": company.size, "phone": company.phone, "owner_id": id_or_none(company.owner_id),
            "parent_id": id_or_none(company.parent_id), "tags": [tag_json(tag) for tag in company.tags],
            "created_at": iso(company.created_at), "updated_at": iso(company.updated_at)}


def deal_json(deal: Deal) -> dict:
    return {"id": str(deal.id), "title": deal.title, "value_cents": deal.value_cents, "currency": deal.currency,
            "pipeline_id": str(deal.pipeline_id), "stage_id": str(deal.stage_id), "stage": deal.stage.name,
            "status": deal.status, "lost_reason": deal.lost_reason, "contact_id": id_or_none(deal.contact_id),
            "company_id": id_or_none(deal.company_id), "owner_id": id_or_none(deal.owner_id),
            "expected_close_date": iso(deal.expected_close_date), "closed_at": iso(deal.closed_at),
            "created_at": iso(deal.created_at), "updated_at": iso(deal.updated_at)}


# ---- contacts -----------------------------------------------------------------------------------------

CONTACT_FILTERS = {"tag": "uuid", "owner": "owner", "company": "uuid", "source": CONTACT_SOURCES,
                   "created_from": "date", "created_to": "date", "sort": tuple(contacts.SORTS)}
CONTACT_PARAMS = [
    query_param("tag", UUID_PARAM, "Contacts with this tag (id)."),
    query_param("owner", {"anyOf": [UUID_PARAM, {"type": "string", "enum": ["none"]}]},
           "Contacts of this owner (user id), or `none` for contacts without one."),
    query_param("company", UUID_PARAM, "Contacts of this company (id)."),
    query_param("source", {"type": "string", "enum": list(CONTACT_SOURCES)}, "Contacts from this source."),
    query_param("created_from", DATE_PARAM, "Created on or after this day (the workspace's time zone)."),
    query_param("created_to", DATE_PARAM, "Created on or before this day (the workspace's time zone)."),
    query_param("sort", {"type": "string", "enum": list(contacts.SORTS), "default": "-created"}, "The order."),
]


def _contact_filters() -> dict:
    filters = query_filters(CONTACT_FILTERS)
    # Days outside what the time-zone arithmetic can represent bound nothing: no contact is that old or new.
    if filters.get("created_from", "9") < "1900":
        filters.pop("created_from")
    if filters.get("created_to", "0") > "9000":
        filters.pop("created_to")
    return filters


def _live_contact(contact_id) -> Contact:
    return get_live(Contact, current_account(), contact_id)


def _tag_names(data: dict) -> list[str] | None:
    if "tags" not in data:
        return None
    return list(dict.fromkeys(text_value({"tags": name}, "tags", "tag name", 50, required=True)
                              for name in data["tags"]))


def _duplicate(error: contacts.DuplicateContact):
    existing = error.existing
    message = f"{existing.name} already has this e-mail (contact {existing.id})."
    return ApiError(409, message, {"email": message})


@api_route("/contacts", summary="List contacts (search with q, filter, sort)", paginated=True, tag="Contacts",
           params=CONTACT_PARAMS, responses={200: json_response("A page of contacts.", "ContactList")})
def list_contacts():
    account = current_account()
    filters = _contact_filters()
    sort = filters.pop("sort", None)

    def query_for(values):
        return contacts.sorted_query(contacts.filtered(account, values), sort).options(selectinload(Contact.tags))

    return jsonify(list_response(query_for(filters), contact_json, lambda _, q: query_for({**filters, "q": q})))


@api_route("/contacts", methods=("POST",), summary="Create a contact", role="user", tag="Contacts",
           body=ref("ContactCreate"), responses={201: json_response("The contact.", "Contact"), 409: DUPLICATE})
def create_contact():
    data = read_body(CONTACT_TYPES)
    _tag_names(data)
    try:
        contact = contacts.create(current_account(), data, current_actor(),
                                  source=None if data.get("source") else "api")
    except contacts.DuplicateContact as error:
        raise _duplicate(error) from error
    return jsonify(contact_json(contact)), 201


@api_route("/contacts/upsert", methods=("POST",), summary="Create or update a contact matched by e-mail",
           role="user", tag="Contacts", body=ref("ContactUpsert"),
           responses={201: json_response("Created: the contact.", "Contact"),
                      200: json_response("Updated: the contact.", "Contact")})
def upsert_contact():
    data = read_body(CONTACT_TYPES)
    if not isinstance(data.get("email"), str) or not data["email"].strip():
        raise ApiError(422, "Send the e-mail to match the contact by.", {"email": "Enter an e-mail address."})
    names = _tag_names(data) or []
    account, actor = current_account(), current_actor()
    contact, created = contacts.upsert(account, data, actor, source=data.get("source") or "api")
    if not created:
        for name in names:
            contacts.add_tag(account, contact, name, actor)
    db.session.refresh(contact)
    return jsonify(contact_json(contact)), 201 if created else 200


@api_route("/contacts/<uuid:contact_id>", summary="Get a contact", tag="Contacts",
           responses={200: json_response("The contact.", "Contact"), 404: NOT_FOUND})
def get_contact(contact_id):
    return jsonify(contact_json(_live_contact(contact_id)))


@api_route("/contacts/<uuid:contact_id>", methods=("PATCH",), summary="Change a contact", role="user",
           tag="Contacts", body=ref("ContactUpdate"),
           responses={200: json_response("The contact.", "Contact"), 404: NOT_FOUND, 409: DUPLICATE})
def update_contact(contact_id):
    contact = _live_contact(contact_id)
    data = read_body(CONTACT_TYPES)
    names = _tag_names(data)
    account, actor = current_account(), current_actor()
    fields = {key: value for key, value in data.items() if key != "tags"}
    try:
        contacts.update(account, contact, fields, actor, partial=True)
    except contacts.DuplicateContact as error:
        raise _duplicate(error) from error
    if names is not None:
        wanted = {name.lower() for name in names}
        for tag in [tag for tag in contact.tags if tag.name.lower() not in wanted]:
            contacts.remove_tag(account, contact, tag, actor)
        have = {tag.name.lower() for tag in contact.tags}
        for name in names:
            if name.lower() not in have:
                contacts.add_tag(account, contact, name, actor)
    db.session.refresh(contact)
    return jsonify(contact_json(contact))


@api_route("/contacts/<uuid:contact_id>", methods=("DELETE",), summary="Delete a contact (restorable for 30 days)",
           role="user", tag="Contacts", responses={204: {"description": "Deleted."}, 404: NOT_FOUND})
def delete_contact(contact_id):
    contacts.soft_delete(current_account(), _live_contact(contact_id), current_actor())
    return "", 204


@api_route("/contacts/<uuid:contact_id>/tags", methods=("POST",), summary="Tag a contact (the tag is created if new)",
           role="user", tag="Contacts", body=ref("TagAdd"),
           responses={200: json_response("The contact with its tags.", "Contact"), 404: NOT_FOUND})
def add_contact_tag(contact_id):
    contact = _live_contact(contact_id)
    data = read_body(TAG_ADD_TYPES)
    contacts.add_tag(current_account(), contact, data.get("name") or "", current_actor())
    db.session.refresh(contact)
    return jsonify(contact_json(contact))


@api_route("/contacts/<uuid:contact_id>/tags/<uuid:tag_id>", methods=("DELETE",), summary="Remove a tag from a contact",
           role="user", tag="Contacts", responses={204: {"description": "Removed (or the contact did not have it)."},
                                                   404: NOT_FOUND})
def remove_contact_tag(contact_id, tag_id):
    contact = _live_contact(contact_id)
    contacts.remove_tag(current_account(), contact, get_or_404(Tag, tag_id), current_actor())
    return "", 204


# ---- companies -----------------------------------------------------------------------------------------

COMPANY_FILTERS = {"industry": "text", "size": COMPANY_SIZES}


@api_route("/companies", summary="List companies (search name and domain with q)", paginated=True, tag="Companies",
           params=[query_param("industry", {"type": "string", "maxLength": 80, "pattern": NO_NUL}, "This industry."),
                   query_param("size", {"type": "string", "enum": list(COMPANY_SIZES)}, "This size category.")],
           responses={200: json_response("A page of companies.", "CompanyList")})
def list_companies():
    account = current_account()
    filters = query_filters(COMPANY_FILTERS)

    def query_for(values):
        return companies.filtered(account, values).options(selectinload(Company.tags))

    return jsonify(list_response(query_for(filters), company_json, lambda _, q: query_for({**filters, "q": q})))


@api_route("/companies", methods=("POST",), summary="Create a company", role="user", tag="Companies",
           body=ref("CompanyCreate"), responses={
               201: json_response("The company.", "Company"), 409: error_response("Another company has this domain.")})
def create_company():
    company = companies.create(current_account(), read_body(COMPANY_TYPES), current_actor())
    return jsonify(company_json(company)), 201


@api_route("/companies/<uuid:company_id>", summary="Get a company", tag="Companies",
           responses={200: json_response("The company.", "Company"), 404: NOT_FOUND})
def get_company(company_id):
    return jsonify(company_json(get_live(Company, current_account(), company_id)))


@api_route("/companies/<uuid:company_id>", methods=("PATCH",), summary="Change a company", role="user",
           tag="Companies", body=ref("CompanyUpdate"), responses={
               200: json_response("The company.", "Company"), 404: NOT_FOUND,
               409: error_response("Another company has this domain.")})
def update_company(company_id):
    company = get_live(Company, current_account(), company_id)
    companies.update(current_account(), company, read_body(COMPANY_TYPES), current_actor(), partial=True)
    db.session.refresh(company)
    return jsonify(company_json(company))


# ---- deals ---------------------------------------------------------------------------------------------

DEAL_FILTERS = {"pipeline_id": "uuid", "stage_id": "uuid", "status": DEAL_STATUSES, "owner": "uuid",
                "contact_id": "uuid", "company_id": "uuid"}


@api_route("/deals", summary="List deals (search titles with q), newest first", paginated=True, tag="Deals",
           params=[query_param("pipeline_id", UUID_PARAM, "Deals of this pipeline."),
                   query_param("stage_id", UUID_PARAM, "Deals in this stage."),
                   query_param("status", {"type": "string", "enum": list(DEAL_STATUSES)}, "Deals with this status."),
                   query_param("owner", UUID_PARAM, "Deals of this owner (user id)."),
                   query_param("contact_id", UUID_PARAM, "Deals of this contact."),
                   query_param("company_id", UUID_PARAM, "Deals of this company.")],
           responses={200: json_response("A page of deals.", "DealList")})
def list_deals():
    account = current_account()
    filters = query_filters(DEAL_FILTERS)

    def query_for(values):
        return deals.filtered(account, values).options(selectinload(Deal.stage))

    return jsonify(list_response(query_for(filters), deal_json, lambda _, q: query_for({**filters, "q": q})))


@api_route("/deals", methods=("POST",), summary="Create a deal", role="user", tag="Deals", body=ref("DealCreate"),
           responses={201: json_response("The deal.", "Deal")})
def create_deal():
    data = read_body(DEAL_CREATE_TYPES)
    deal = deals.create(current_account(), data, current_actor(), cents_in_api=True)
    return jsonify(deal_json(deal)), 201


@api_route("/deals/<uuid:deal_id>", summary="Get a deal", tag="Deals",
           responses={200: json_response("The deal.", "Deal"), 404: NOT_FOUND})
def get_deal(deal_id):
    return jsonify(deal_json(get_or_404(Deal, deal_id)))


@api_route("/deals/<uuid:deal_id>", methods=("PATCH",), summary="Change a deal (and mark it won, lost...)",
           role="user", tag="Deals", body=ref("DealUpdate"),
           responses={200: json_response("The deal.", "Deal"), 404: NOT_FOUND})
def update_deal(deal_id):
    deal = get_or_404(Deal, deal_id)
    data = read_body(DEAL_UPDATE_TYPES)
    status, reason = data.pop("status", None), data.pop("lost_reason", None)
    if status is not None:
        if status not in DEAL_STATUSES:
            raise ApiError(422, f"Choose one of: {', '.join(DEAL_STATUSES)}.",
                           {"status": f"Choose one of: {', '.join(DEAL_STATUSES)}."})
        if status == "lost" and not (reason or "").strip():
            raise ApiError(422, "Say why the deal was lost.", {"lost_reason": "Say why the deal was lost."})
        if reason is not None and len(reason.strip()) > 255:
            raise ApiError(422, "The reason has at most 255 characters.",
                           {"lost_reason": "The reason has at most 255 characters."})
    account, actor = current_account(), current_actor()
    deals.update(account, deal, data, actor, partial=True, cents_in_api=True)
    if status is not None:
        deals.set_status(account, deal, status, reason, actor)
    db.session.refresh(deal)
    return jsonify(deal_json(deal))


@api_route("/deals/<uuid:deal_id>/move", methods=("POST",), summary="Move a deal to another stage of its pipeline",
           role="user", tag="Deals", body=ref("DealMove"),
           responses={200: json_response("The deal.", "Deal"), 404: NOT_FOUND})
def move_deal(deal_id):
    deal = get_or_404(Deal, deal_id)
    data = read_body(DEAL_MOVE_TYPES)
    deals.move(current_account(), deal, data.get("stage_id"), actor=current_actor())
    db.session.refresh(deal)
    return jsonify(deal_json(deal))
