"""Companies: a unique domain per account, a parent company (never a cycle), tags."""
import re

from sqlalchemy import func, or_

from app.auth.services import member_user_id
from app.core import audit
from app.core.db import like_pattern, utcnow
from app.core.errors import ConflictError, ValidationError
from app.core.tenancy import scoped
from app.core.validation import FieldErrors, choice_value, row_of_account, text_value
from app.crm.models import COMPANY_SIZES, Company, Contact
from app.crm.services.phones import normalize_phone
from app.extensions import db

DOMAIN_PATTERN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def normalize_domain(raw) -> str | None:
    value = text_value({"domain": raw}, "domain", "domain", 253)
    if value is None:
        return None
    value = value.lower()
    value = re.sub(r"^[a-z]+://", "", value).split("/")[0].split(":")[0]
    value = value.removeprefix("www.")
    if not DOMAIN_PATTERN.match(value):
        raise ValidationError("Enter a domain like example.com.", field="domain")
    return value


def _clean(account, data: dict, company: Company | None, partial: bool) -> dict:
    from app.crm.services.contacts import default_country

    fields = FieldErrors(data, partial)
    attempt = fields.add
    attempt("name", lambda: text_value(data, "name", "company name", 160, required=True))
    attempt("domain", lambda: normalize_domain(data.get("domain")))
    attempt("industry", lambda: text_value(data, "industry", "industry", 80))
    attempt("size", lambda: choice_value(data, "size", "size", COMPANY_SIZES))
    attempt("phone", lambda: normalize_phone(data.get("phone"), default_country(account)))
    attempt("owner_id", lambda: member_user_id(account, data.get("owner_id")))
    attempt("parent_id", lambda: _parent_id(account, data.get("parent_id"), company))
    values = fields.values_or_raise()
    if values.get("domain"):
        query = scoped(Company, account).where(Company.domain == values["domain"], Company.deleted_at.is_(None))
        if company is not None:
            query = query.where(Company.id != company.id)
        existing = db.session.execute(query).scalar_one_or_none()
        if existing is not None:
            raise ConflictError(f"{existing.name} already has the domain {values['domain']}.", field="domain")
    return values


def _parent_id(account, raw, company: Company | None):
    parent = row_of_account(Company, account, raw, "parent_id", "parent company")
    if parent is None:
        return None
    if company is not None:
        ancestor, seen = parent, set()
        while ancestor is not None and ancestor.id not in seen:
            if ancestor.id == company.id:
                raise ValidationError("A company cannot be its own parent or ancestor.", field="parent_id")
            seen.add(ancestor.id)
            ancestor = ancestor.parent
    return parent.id


def create(account, data: dict, actor=None) -> Company:
    company = Company(account_id=account.id, **_clean(account, data, None, partial=False))
    db.session.add(company)
    db.session.flush()
    audit.record("company.created", company, f"Company {company.name} created", account=account, user=actor)
    db.session.commit()
    return company


def update(account, company: Company, data: dict, actor=None, partial: bool = False) -> Company:
    for name, value in _clean(account, data, company, partial).items():
        setattr(company, name, value)
    audit.record("company.updated", company, f"Company {company.name} updated", account=account, user=actor)
    db.session.commit()
    return company


def delete(account, company: Company, actor=None) -> None:
    """Soft delete; its contacts and child companies are unlinked."""
    company.deleted_at = utcnow()
    db.session.query(Contact).filter(Contact.company_id == company.id).update({"company_id": None})
    db.session.query(Company).filter(Company.parent_id == company.id).update({"parent_id": None})
    audit.record("company.deleted", company, f"Company {company.name} deleted", account=account, user=actor)
    db.session.commit()


def filtered(account, filters: dict):
    query = scoped(Company, account).where(Company.deleted_at.is_(None))
    q = (filters.get("q") or "").strip().lower()
    if q:
        like = like_pattern(q)
        query = query.where(or_(func.lower(Company.name).like(like, escape="\\"),
                                Company.domain.like(like, escape="\\")))
    for key, column in (("industry", Company.industry), ("size", Company.size)):
        if filters.get(key):
            query = query.where(column == filters[key])
    return query.order_by(func.lower(Company.name), Company.id)


def add_tag(account, company: Company, name: str, actor=None):
    from app.crm.services import tags

    tag = tags.get_or_create(account, name)
    if tag not in company.tags:
        company.tags.append(tag)
        audit.record("company.tagged", company, f"{company.name} tagged “{tag.name}”", account=account, user=actor)
    db.session.commit()
    return tag


def remove_tag(account, company: Company, tag, actor=None) -> None:
    if tag in company.tags:
        company.tags.remove(tag)
        audit.record("company.untagged", company, f"Tag “{tag.name}” removed from {company.name}",
                     account=account, user=actor)
    db.session.commit()
