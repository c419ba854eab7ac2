"""Contacts: list with search, filters and segments, detail with timeline, edit, trash, bulk, export."""
import csv
import io
from datetime import timedelta

from flask import Response, flash, redirect, request, stream_with_context, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.auth.models import User
from app.core.db import utcnow
from app.core.errors import ServiceError, ValidationError
from app.core.forms import apply_error, refusal
from app.core.pagination import Page, paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404, scoped
from app.core.validation import get_live
from app.core.web import redirect_to, render, safe_next_url, wants_fragment
from app.crm import bp, hooks
from app.crm.forms import SOURCE_LABELS, SegmentForm, TagForm, company_choices, contact_form, member_choices
from app.crm.models import CONTACT_SOURCES, Contact, Deal, Segment, Tag
from app.crm.services import contacts, custom_fields, timeline
from app.crm.services.contacts import DuplicateContact
from app.crm.services.phones import format_phone
from app.crm.views.notes import CONTACT_CHANGED, add_note, delete_note, edit_note, note_of, notes_panel
from app.extensions import db

SORT_CHOICES = (("-created", "Newest first"), ("created", "Oldest first"), ("name", "Name A–Z"),
                ("-name", "Name Z–A"), ("-updated", "Recently updated"), ("updated", "Least recently updated"))
SORT_KEYS = {key for key, _ in SORT_CHOICES}
MORE_FILTERS = ("company", "source", "created_from", "created_to", "cf", "cf_value")  # folded by default
TIMELINE_PAGE_SIZE = 20
DEALS_SHOWN = 25
EXPORT_CHUNK = 500
CHOICE_LIMIT = 1000  # tags offered in selects


# ---- helpers -------------------------------------------------------------------------------------

def _plural(count: int, word: str = "contact") -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _tags(account) -> list[Tag]:
    return list(db.session.execute(scoped(Tag, account).order_by(func.lower(Tag.name)).limit(CHOICE_LIMIT)).scalars())


def _segments(account) -> list[Segment]:
    return list(db.session.execute(scoped(Segment, account).order_by(func.lower(Segment.name), Segment.id)).scalars())


def _filters(source, definitions) -> dict:
    """The filters of the request (what a segment stores). A yes/no custom field value is written the way
    it is stored (true/false), so that "yes" finds the contacts whose box is ticked."""
    filters = contacts.clean_filters(source)
    key = filters.get("cf")
    definition = next((d for d in definitions if d.key == key), None)
    if definition is not None and filters.get("cf_value"):
        try:
            value = custom_fields.clean_value(definition, filters["cf_value"])
        except ValidationError:
            value = None
        if isinstance(value, bool):
            filters["cf_value"] = "true" if value else "false"
        elif isinstance(value, (int, float)):
            filters["cf_value"] = str(value)
    return filters


def _sort(source) -> str:
    sort = source.get("sort") or "-created"
    return sort if sort in SORT_KEYS else "-created"


def _list_url(filters: dict, sort: str) -> str:
    args = dict(filters)
    if sort != "-created":
        args["sort"] = sort
    return url_for("crm.contacts", **args)


def _list_context(source, full: bool = True, **extra) -> dict:
    """Everything the list page (or, not `full`, its results block) shows for these filters."""
    account = current_account()
    definitions = custom_fields.fields_of(account)
    filters = _filters(source, definitions)
    sort = _sort(source)
    page_number, page_size = parse_page_args(source)
    filter_error = None
    try:
        query = contacts.sorted_query(contacts.filtered(account, filters), sort).options(
            selectinload(Contact.company), selectinload(Contact.owner), selectinload(Contact.tags))
        page = paginate(query, page_number, page_size)
    except ValidationError as error:
        filter_error = error
        page = Page(items=[], page=1, page_size=page_size, total=0)
    context = dict(
        filters=filters, sort=sort, page=page, filter_error=filter_error, definitions=definitions,
        segments=_segments(account), tags=_tags(account), members=member_choices(account),
        companies=company_choices(account) if full else [],
        sources=[(s, SOURCE_LABELS.get(s, s)) for s in CONTACT_SOURCES],
        sort_choices=SORT_CHOICES, more_filters_open=any(k in filters for k in MORE_FILTERS),
        list_url=_list_url(filters, sort), segment_form=SegmentForm(formdata=None), fmt_phone=format_phone,
        bulk_error=None, selected=set(), bulk_all=False)
    context.update(extra)
    return context


def _live_contact(contact_id) -> Contact:
    """The account's contact for a change: 404 for another account's and for one in the trash."""
    return get_live(Contact, current_account(), contact_id)


def _with_trigger(response, event: str = CONTACT_CHANGED):
    body, status, headers = response
    headers = dict(headers)
    headers["HX-Trigger"] = event
    return body, status, headers


# ---- list, segments ------------------------------------------------------------------------------

@bp.route("/contacts", endpoint="contacts")
@role_required("viewer")
def contacts_index():
    """The list page, always whole: the search box and the filters ask for /contacts/results instead."""
    context = _list_context(request.args)
    return render("crm/contacts/list.html", status=422 if context["filter_error"] else 200, oob_segments=False,
                  **context)


@bp.route("/contacts/results")
@role_required("viewer")
def contact_results():
    """The results of a search or a filter, swapped in by htmx, with the segment bar (out of band) and the
    address of the list it shows pushed into the browser's history; any other request is sent to that list."""
    if not wants_fragment():
        return redirect(url_for("crm.contacts", **request.args.to_dict()))
    context = _list_context(request.args, full=False)
    body, status, headers = render("crm/contacts/list.html", block="results",
                                   status=422 if context["filter_error"] else 200, oob_segments=True, **context)
    return body, status, {**headers, "HX-Push-Url": context["list_url"]}


@bp.route("/contacts/segments", methods=["POST"])
@role_required("user")
def contact_segment_save():
    account = current_account()
    form = SegmentForm()
    definitions = custom_fields.fields_of(account)
    filters = _filters(request.form, definitions)
    if form.validate_on_submit():
        try:
            segment = contacts.save_segment(account, form.name.data or "", filters, actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash(f"Segment “{segment.name}” saved: it is listed above the contacts.", "success")
            return redirect_to(_list_url(segment.filters, _sort(request.form)))
    return render("crm/contacts/list.html", block="results", status=422, oob_segments=False,
                  **_list_context(request.form, full=not wants_fragment(), segment_form=form))


@bp.route("/contacts/segments/<uuid:segment_id>/delete", methods=["POST"])
@role_required("user")
def contact_segment_delete(segment_id):
    segment = get_or_404(Segment, segment_id)
    name = segment.name
    contacts.delete_segment(current_account(), segment, actor=current_user)
    flash(f"Segment “{name}” deleted. Its contacts were not changed.", "success")
    return redirect_to(url_for("crm.contacts"))


# ---- bulk actions and export ---------------------------------------------------------------------

@bp.route("/contacts/bulk", methods=["POST"])
@role_required("user")
def contacts_bulk():
    account = current_account()
    form = request.form
    action = form.get("action") or ""
    definitions = custom_fields.fields_of(account)
    filters, sort = _filters(form, definitions), _sort(form)
    everything = form.get("scope") == "all"
    back = safe_next_url(form.get("next"), _list_url(filters, sort))
    with refusal() as refused:
        chosen = contacts.selection(account, filters, form.getlist("ids"), everything)
        if action == "export":
            return _csv_response(account, contacts.sorted_query(chosen, sort), definitions)
        ids = contacts.bulk_targets(chosen, action)
        if action == "delete" and form.get("confirmed") != "1":
            hidden = [(key, item) for key in form for item in form.getlist(key)
                      if key not in ("csrf_token", "confirmed")]
            return render("crm/contacts/bulk_confirm.html", count=len(ids), hidden=hidden, back=back,
                          restore_days=contacts.RESTORE_DAYS)
        value = {"add_tag": form.get("tag_name"), "remove_tag": form.get("tag_id"),
                 "assign_owner": form.get("owner_id")}.get(action)
        result = contacts.bulk(account, ids, action, value, actor=current_user)
    if refused:
        context = _list_context(form, bulk_error=refused.error.message, selected=set(form.getlist("ids")),
                                bulk_all=everything)
        return render("crm/contacts/list.html", status=422, oob_segments=False, **context)
    flash(_bulk_message(result), "success")
    return redirect_to(back)


def _bulk_message(result: contacts.BulkResult) -> str:
    changed, unchanged = result.changed, result.selected - result.changed
    if result.action == "add_tag":
        extra = f" ({_plural(unchanged)} had it already)" if unchanged else ""
        return f"Tag “{result.tag.name}” added to {_plural(changed)}{extra}."
    if result.action == "remove_tag":
        return f"Tag “{result.tag.name}” removed from {_plural(changed)}."
    if result.action == "assign_owner":
        if result.owner is not None:
            return f"{_plural(changed)} assigned to {result.owner.display_name}."
        return f"{_plural(changed)} now {'has' if changed == 1 else 'have'} no owner."
    return (f"{_plural(changed)} moved to the trash. You can restore {'it' if changed == 1 else 'them'} there for "
            f"{contacts.RESTORE_DAYS} days.")


@bp.route("/contacts/export")
@role_required("viewer")
def contacts_export():
    """Every contact matching the list's filters, as CSV (streamed: any size)."""
    account = current_account()
    definitions = custom_fields.fields_of(account)
    query = contacts.filtered(account, _filters(request.args, definitions))  # a bad filter: 422
    return _csv_response(account, contacts.sorted_query(query, _sort(request.args)), definitions)


EXPORT_COLUMNS = ("id", "first_name", "last_name", "email", "phone", "company", "company_domain", "owner_email",
                  "source", "street", "city", "region", "postal_code", "country", "tags", "created_at",
                  "updated_at")


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if text[:1] in ("=", "@", "\t", "\r") or (text[:1] in ("+", "-") and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _export_row(contact: Contact, definitions) -> list[str]:
    values = [contact.id, contact.first_name, contact.last_name, contact.email, contact.phone,
              contact.company.name if contact.company else None,
              contact.company.domain if contact.company else None,
              contact.owner.email if contact.owner else None, contact.source, contact.street, contact.city,
              contact.region, contact.postal_code, contact.country, "; ".join(t.name for t in contact.tags),
              contact.created_at.isoformat() if contact.created_at else None,
              contact.updated_at.isoformat() if contact.updated_at else None]
    values += [(contact.custom_fields or {}).get(d.key) for d in definitions]
    return [_cell(v) for v in values]


def _csv_response(account, query, definitions) -> Response:
    """Stream the contacts of `query` (a sorted SELECT of Contact) in chunks: memory stays flat."""
    ids = list(db.session.execute(query.with_only_columns(Contact.id)).scalars())
    account_id = account.id

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(list(EXPORT_COLUMNS) + [d.key for d in definitions])
        for start in range(0, len(ids), EXPORT_CHUNK):
            chunk = ids[start:start + EXPORT_CHUNK]
            rows = db.session.execute(
                select(Contact).where(Contact.account_id == account_id, Contact.id.in_(chunk))
                .options(selectinload(Contact.company), selectinload(Contact.owner), selectinload(Contact.tags))
            ).scalars().all()
            by_id = {row.id: row for row in rows}
            for contact_id in chunk:
                if contact_id in by_id:
                    writer.writerow(_export_row(by_id[contact_id], definitions))
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            del rows, by_id  # the session's identity map is weak: exported rows are freed
        yield buffer.getvalue()

    name = f"contacts-{utcnow():%Y-%m-%d}.csv"
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
                             "X-Export-Count": str(len(ids))})


# ---- trash ---------------------------------------------------------------------------------------

@bp.route("/contacts/trash")
@role_required("viewer")
def contacts_trash():
    account = current_account()
    query = (contacts.filtered(account, {}, deleted=True).options(selectinload(Contact.company))
             .order_by(Contact.deleted_at.desc(), Contact.id))
    page = paginate(query, *parse_page_args(request.args))
    return render("crm/contacts/trash.html", page=page, restore_days=contacts.RESTORE_DAYS,
                  restorable_after=utcnow() - timedelta(days=contacts.RESTORE_DAYS), timedelta=timedelta)


@bp.route("/contacts/<uuid:contact_id>/restore", methods=["POST"])
@role_required("user")
def contact_restore(contact_id):
    contact = get_or_404(Contact, contact_id)
    try:
        contacts.restore(current_account(), contact, actor=current_user)
    except ServiceError as error:
        flash(f"{contact.name} was not restored: {error.message}", "error")
    else:
        flash(f"{contact.name} is back in the contacts.", "success")
    return redirect_to(safe_next_url(request.form.get("next"), url_for("crm.contacts_trash")))


@bp.route("/contacts/<uuid:contact_id>/delete", methods=["POST"])
@role_required("user")
def contact_delete(contact_id):
    contact = _live_contact(contact_id)
    contacts.soft_delete(current_account(), contact, actor=current_user)
    flash(f"{contact.name} moved to the trash. You can restore it there for {contacts.RESTORE_DAYS} days.",
          "success")
    return redirect_to(url_for("crm.contacts"))


# ---- create and edit -----------------------------------------------------------------------------

def _contact_form(account, contact=None, **kwargs):
    return contact_form(account, custom_fields.fields_of(account), contact, **kwargs)


def _save(form, contact=None):
    """Create or update from the form; (contact, None) or (None, duplicate contact or None) on errors."""
    account = current_account()
    try:
        if contact is None:
            return contacts.create(account, form.service_data(), actor=current_user), None
        return contacts.update(account, contact, form.service_data(), actor=current_user), None
    except DuplicateContact as error:
        apply_error(form, error)
        return None, error.existing
    except ServiceError as error:
        apply_error(form, error)
        return None, None


@bp.route("/contacts/new", methods=["GET", "POST"])
@role_required("user")
def contact_new():
    account = current_account()
    form = _contact_form(account, owner_id=str(current_user.id))
    duplicate = None
    if form.is_submitted():
        if form.validate():
            contact, duplicate = _save(form)
            if contact is not None:
                flash(f"Contact {contact.name} created.", "success")
                return redirect_to(url_for("crm.contact_detail", contact_id=contact.id))
        return render("crm/contacts/form.html", block="form", status=422, form=form, contact=None,
                      duplicate=duplicate, country=contacts.default_country(account))
    return render("crm/contacts/form.html", form=form, contact=None, duplicate=None,
                  country=contacts.default_country(account))


@bp.route("/contacts/<uuid:contact_id>/edit", methods=["GET", "POST"])
@role_required("user")
def contact_edit(contact_id):
    account = current_account()
    contact = _live_contact(contact_id)
    form = _contact_form(account, contact)
    duplicate = None
    if form.is_submitted():
        if form.validate():
            saved, duplicate = _save(form, contact)
            if saved is not None:
                flash(f"Contact {saved.name} saved.", "success")
                return redirect_to(url_for("crm.contact_detail", contact_id=saved.id))
        return render("crm/contacts/form.html", block="form", status=422, form=form, contact=contact,
                      duplicate=duplicate, country=contacts.default_country(account))
    return render("crm/contacts/form.html", form=form, contact=contact, duplicate=None,
                  country=contacts.default_country(account))


# ---- the contact page ----------------------------------------------------------------------------

def _timeline(account, contact, page_number: int):
    page = timeline.page(account, contact.id, page_number, TIMELINE_PAGE_SIZE)
    actor_ids = {entry.actor_id for entry in page.items if entry.actor_id}
    if actor_ids:  # one query for the people; each entry's .actor then comes from the identity map
        db.session.execute(select(User).where(User.id.in_(actor_ids))).scalars().all()
    return page


def _detail_context(contact, **extra) -> dict:
    account = current_account()
    deals = list(db.session.execute(
        scoped(Deal).where(Deal.contact_id == contact.id).options(selectinload(Deal.stage))
        .order_by(Deal.created_at.desc(), Deal.id).limit(DEALS_SHOWN + 1)).scalars())
    context = dict(
        contact=contact, definitions=custom_fields.fields_of(account), deals=deals[:DEALS_SHOWN],
        more_deals=len(deals) > DEALS_SHOWN, timeline_page=_timeline(account, contact, 1),
        tag_form=TagForm(formdata=None), tag_names=[t.name for t in _tags(account)], fmt_phone=format_phone,
        source_labels=SOURCE_LABELS, activity_context={"contact_id": contact.id},
        restore_days=contacts.RESTORE_DAYS, contact_links=hooks.links_for_contact(account, contact))
    context.update(extra)
    if "notes" not in context:
        context["notes"] = notes_panel(contact)
    return context


def _page(contact):
    """The contact's page drawn again with a status (a refusal on it)."""
    def page(status, **extra):
        return render("crm/contacts/detail.html", status=status, **_detail_context(contact, **extra))
    return page


@bp.route("/contacts/<uuid:contact_id>")
@role_required("viewer")
def contact_detail(contact_id):
    contact = get_or_404(Contact, contact_id)
    return render("crm/contacts/detail.html", **_detail_context(contact))


@bp.route("/contacts/<uuid:contact_id>/timeline")
@role_required("viewer")
def contact_timeline(contact_id):
    contact = get_or_404(Contact, contact_id)
    page_number, _ = parse_page_args(request.args)
    return render("crm/contacts/timeline.html", block="entries", contact=contact,
                  timeline_page=_timeline(current_account(), contact, page_number))


def _tags_response(contact, form=None, status=200):
    if not wants_fragment():
        if status == 200:
            return redirect_to(url_for("crm.contact_detail", contact_id=contact.id))
        return _page(contact)(status, tag_form=form)
    response = render("crm/contacts/detail.html", block="tags", status=status, contact=contact,
                      tag_form=form or TagForm(formdata=None), tag_names=[t.name for t in _tags(current_account())])
    return _with_trigger(response) if status == 200 else response


@bp.route("/contacts/<uuid:contact_id>/tags", methods=["POST"])
@role_required("user")
def contact_tag_add(contact_id):
    contact = _live_contact(contact_id)
    form = TagForm()
    if form.validate_on_submit():
        try:
            contacts.add_tag(current_account(), contact, form.name.data or "", actor=current_user)
        except ServiceError as error:
            apply_error(form, error)
        else:
            return _tags_response(contact)
    return _tags_response(contact, form, 422)


@bp.route("/contacts/<uuid:contact_id>/tags/<uuid:tag_id>/remove", methods=["POST"])
@role_required("user")
def contact_tag_remove(contact_id, tag_id):
    contact = _live_contact(contact_id)
    tag = get_or_404(Tag, tag_id)
    contacts.remove_tag(current_account(), contact, tag, actor=current_user)
    return _tags_response(contact)


# ---- notes (app/crm/views/notes.py) --------------------------------------------------------------

@bp.route("/contacts/<uuid:contact_id>/notes", methods=["POST"])
@role_required("user")
def contact_note_create(contact_id):
    contact = _live_contact(contact_id)
    return add_note(contact, _page(contact))


@bp.route("/contacts/<uuid:contact_id>/notes/<uuid:note_id>", methods=["POST"])
@role_required("user")
def contact_note_update(contact_id, note_id):
    contact = _live_contact(contact_id)
    return edit_note(contact, note_of(contact, note_id), _page(contact))


@bp.route("/contacts/<uuid:contact_id>/notes/<uuid:note_id>/delete", methods=["POST"])
@role_required("user")
def contact_note_delete(contact_id, note_id):
    contact = _live_contact(contact_id)
    return delete_note(contact, note_of(contact, note_id))
