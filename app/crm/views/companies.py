"""Companies: list with search and filters, detail with contacts and children, edit."""
from flask import flash, request, url_for
from flask_login import current_user
from sqlalchemy import func
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from app.core.errors import ServiceError
from app.core.forms import apply_error
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404, scoped
from app.core.validation import get_live, uuid_or_none
from app.core.web import redirect_to, render, wants_fragment
from app.crm import bp
from app.crm.forms import TagForm, chosen_company, company_form
from app.crm.models import COMPANY_SIZES, Company, Contact, Deal, Tag
from app.crm.services import companies as service
from app.crm.services.phones import format_phone
from app.crm.views.notes import add_note, delete_note, edit_note, note_on, notes_panel
from app.extensions import db

PICKER_LIMIT = 20


def _industries(account) -> list[str]:
    return list(db.session.execute(
        scoped(Company, account).with_only_columns(Company.industry).distinct()
        .where(Company.deleted_at.is_(None), Company.industry.is_not(None)).order_by(Company.industry)).scalars())


def _live_company(company_id) -> Company:
    """The account's company, not deleted (404 otherwise)."""
    return get_live(Company, current_account(), company_id)


def _filters() -> dict:
    return {key: (request.args.get(key) or "").strip()[:200] for key in ("q", "industry", "size")}


@bp.route("/companies")
@role_required("viewer")
def companies():
    account = current_account()
    filters = _filters()
    query = service.filtered(account, filters).options(joinedload(Company.owner), joinedload(Company.parent))
    results = paginate(query, *parse_page_args(request.args))
    counts = {}
    if results.items:
        counts = dict(db.session.execute(
            scoped(Contact, account).with_only_columns(Contact.company_id, func.count())
            .where(Contact.company_id.in_([c.id for c in results.items]), Contact.deleted_at.is_(None))
            .group_by(Contact.company_id)).all())
    return render("crm/companies/list.html", block="results", results=results, filters=filters,
                  filtered=any(filters.values()), counts=counts,
                  industries=[(industry, industry) for industry in _industries(account)],
                  sizes=[(size, f"{size} employees") for size in COMPANY_SIZES])


@bp.route("/companies/options")
@role_required("viewer")
def company_options():
    """<option>s for a company picker: the current choice, then up to 20 companies matching `q`."""
    account = current_account()
    q = (request.args.get("q") or "").strip()[:100]
    selected = request.args.get("parent_id") or request.args.get("company_id") or ""
    excluded_id = uuid_or_none(request.args.get("exclude"))
    query = service.filtered(account, {"q": q}).limit(PICKER_LIMIT)
    if excluded_id:
        query = query.where(Company.id != excluded_id)
    matches = list(db.session.execute(query).scalars())
    current = chosen_company(selected, exclude=excluded_id)
    options = list(current)
    options += [SelectChoice(str(c.id), c.name) for c in matches if not current or str(c.id) != current[0].value]
    chosen = (str(matches[0].id) if q and matches else (current[0].value if current else ""))
    return render("crm/deals/_options.html", options=options, chosen=chosen,
                  empty_label=request.args.get("empty") or "— None —", q=q, found=len(matches))


@bp.route("/companies/new", methods=["GET", "POST"])
@role_required("user")
def company_new():
    account = current_account()
    form = company_form(account, parent_id=request.args.get("parent_id", ""))
    if form.validate_on_submit():
        try:
            company = service.create(account, form.service_data(), actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"Company {company.name} created.", "success")
            return redirect_to(url_for("crm.company_detail", company_id=company.id))
    status = 422 if form.is_submitted() else 200
    return render("crm/companies/form.html", block="form", status=status, form=form, company=None,
                  industries=_industries(account))


@bp.route("/companies/<uuid:company_id>/edit", methods=["GET", "POST"])
@role_required("user")
def company_edit(company_id):
    account = current_account()
    company = _live_company(company_id)
    form = company_form(account, company)
    if form.validate_on_submit():
        try:
            service.update(account, company, form.service_data(), actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash("Company saved.", "success")
            return redirect_to(url_for("crm.company_detail", company_id=company.id))
    status = 422 if form.is_submitted() else 200
    return render("crm/companies/form.html", block="form", status=status, form=form,
                  company=db.session.get(Company, company.id), industries=_industries(account))


@bp.route("/companies/<uuid:company_id>/delete", methods=["POST"])
@role_required("user")
def company_delete(company_id):
    company = _live_company(company_id)
    name = company.name
    service.delete(current_account(), company, actor=current_user)
    flash(f"Company {name} deleted. Its contacts and child companies were unlinked.", "success")
    return redirect_to(url_for("crm.companies"))


def _detail_context(company, notes=None, tag_form=None):
    account = current_account()
    contacts = paginate(scoped(Contact, account).where(Contact.company_id == company.id, Contact.deleted_at.is_(None))
                        .options(joinedload(Contact.owner))
                        .order_by(func.lower(Contact.first_name), func.lower(Contact.last_name), Contact.id),
                        *parse_page_args(request.args, page_field="contacts_page"))
    children = paginate(scoped(Company, account).where(Company.parent_id == company.id, Company.deleted_at.is_(None))
                        .order_by(func.lower(Company.name), Company.id),
                        *parse_page_args(request.args, page_field="children_page"))
    deals = paginate(scoped(Deal, account).where(Deal.company_id == company.id)
                     .options(joinedload(Deal.stage), joinedload(Deal.contact))
                     .order_by(Deal.status != "open", Deal.created_at.desc(), Deal.id),
                     *parse_page_args(request.args, page_field="deals_page"))
    parent = company.parent if company.parent_id and company.parent and company.parent.deleted_at is None else None
    return dict(company=company, parent=parent, contacts=contacts, children=children, deals=deals,
                notes=notes or notes_panel(company), activity_context={"company_id": company.id},
                phone=format_phone(company.phone), tag_form=tag_form or TagForm(formdata=None),
                tag_names=_tag_names(account))


def _page(company):
    """The company's page drawn again with a status (a refusal on it)."""
    def page(status, **extra):
        return render("crm/companies/detail.html", status=status, **_detail_context(company, **extra))
    return page


def _tag_names(account) -> list[str]:
    return list(db.session.execute(scoped(Tag, account).with_only_columns(Tag.name).order_by(func.lower(Tag.name))
                                   .limit(1000)).scalars())


def _tags_response(company, form=None, status=200):
    if not wants_fragment():
        if status == 200:
            return redirect_to(url_for("crm.company_detail", company_id=company.id))
        return _page(company)(status, tag_form=form)
    return render("crm/companies/detail.html", block="tags", status=status, company=company,
                  tag_form=form or TagForm(formdata=None), tag_names=_tag_names(current_account()))


@bp.route("/companies/<uuid:company_id>/tags", methods=["POST"])
@role_required("user")
def company_tag_add(company_id):
    company = _live_company(company_id)
    form = TagForm()
    if form.validate_on_submit():
        try:
            service.add_tag(current_account(), company, form.name.data or "", actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            return _tags_response(company)
    return _tags_response(company, form, 422)


@bp.route("/companies/<uuid:company_id>/tags/<uuid:tag_id>/remove", methods=["POST"])
@role_required("user")
def company_tag_remove(company_id, tag_id):
    company = _live_company(company_id)
    service.remove_tag(current_account(), company, get_or_404(Tag, tag_id), actor=current_user)
    return _tags_response(company)


@bp.route("/companies/<uuid:company_id>")
@role_required("viewer")
def company_detail(company_id):
    company = _live_company(company_id)
    return render("crm/companies/detail.html", **_detail_context(company))


# ---- notes (app/crm/views/notes.py) --------------------------------------------------------------

@bp.route("/companies/<uuid:company_id>/notes", methods=["POST"])
@role_required("user")
def company_note_add(company_id):
    company = _live_company(company_id)
    return add_note(company, _page(company))


@bp.route("/companies/notes/<uuid:note_id>/edit", methods=["POST"])
@role_required("user")
def company_note_edit(note_id):
    note = note_on(note_id, Company)
    company = _live_company(note.company_id)
    return edit_note(company, note, _page(company))


@bp.route("/companies/notes/<uuid:note_id>/delete", methods=["POST"])
@role_required("user")
def company_note_delete(note_id):
    note = note_on(note_id, Company)
    return delete_note(_live_company(note.company_id), note)
