"""Provider connections: choosing a provider, its form (made from the adapter's fields), the connection's page
(status, usage, test, credentials, sending channel, contact sync with its log, test SMS with the sent list).

Wrong credentials on "Connect": the connection is stored with the status "failed" and the provider's answer, and
the person lands on its page, where the answer shows above the credentials form to correct (secret inputs are
never filled back, so keeping the connection saves typing the other fields again)."""
from flask import abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.core.errors import ServiceError
from app.core.forms import ActionForm, apply_error, checked_action, flashed_refusal
from app.core.pagination import paginate, parse_page_args
from app.core.roles import role_required
from app.core.tenancy import current_account, get_or_404
from app.core.web import redirect_to, render
from app.extensions import db
from app.integrations import bp, callbacks, connections, sync
from app.integrations.forms import (
    CONNECTION_NAME_FIELD,
    connection_clears,
    connection_form,
    connection_values,
    field_map_values,
    sms_test_form,
    sync_settings_form,
)
from app.integrations.models import SYNC_STATUSES, Connection, SmsMessage
from app.integrations.providers.base import ProviderError

TEMPLATE = "integrations/connections/detail.html"
STATUS_KINDS = {"connected": "success", "failed": "danger", "untested": "warning"}
SYNC_STATUS_KINDS = {"synced": "success", "failed": "danger", "queued": "accent", "skipped": ""}
SMS_STATUS_KINDS = {"delivered": "success", "sent": "accent", "queued": "", "undelivered": "danger",
                    "failed": "danger"}


def _connection(connection_id) -> Connection:
    return get_or_404(Connection, connection_id)


def _flash_test(connection: Connection, ok: bool, saved: str = "") -> None:
    if ok:
        flash(f"{saved}Connected: {connection.status_message}", "success")
    else:
        flash(f"{saved}The test failed: {connection.status_message}", "error")


# ---- connecting a provider ----------------------------------------------------------------------------------

@bp.route("/integrations/connections/new")
@role_required("admin")
def connection_new():
    return render("integrations/connections/new.html", offered=connections.offered(),
                  kind_labels=connections.KIND_LABELS)


@bp.route("/integrations/connections/new/<provider>", methods=["GET", "POST"])
@role_required("admin")
def connection_create(provider):
    cls = connections.provider_class(provider)
    if cls is None:
        abort(404)
    form = connection_form(cls, bind=request.method == "POST")
    if request.method == "POST" and form.validate_on_submit():
        try:
            connection = connections.create(current_account(), current_user, cls.key, connection_values(form, cls),
                                            name=form[CONNECTION_NAME_FIELD].data)
        except ServiceError as error:
            if "name" in error.fields:
                error.fields[CONNECTION_NAME_FIELD] = error.fields.pop("name")
            apply_error(form, error)
        else:
            _flash_test(connection, connections.test(connection), saved="Saved. ")
            return redirect_to(url_for("integrations.connection_detail", connection_id=connection.id))
    return render("integrations/connections/form.html", status=422 if request.method == "POST" else 200,
                  form=form, provider=cls, kind_labels=connections.KIND_LABELS)


# ---- a connection's page ------------------------------------------------------------------------------------

def _detail_context(connection: Connection, **overrides) -> dict:
    account = current_account()
    cls = connections.provider_class(connection.provider)
    context = dict(connection=connection, provider=cls, provider_name=cls.name if cls else connection.provider,
                   action_form=ActionForm(),
                   usage=connections.usage(connection, 30, account=account), status_kinds=STATUS_KINDS,
                   kind_labels=connections.KIND_LABELS, status_labels=connections.STATUS_LABELS,
                   edit_form=connection_form(cls, connection) if cls is not None else None,
                   can_send=bool(cls and cls.can_send_email and connection.kind == "email"),
                   can_sync=bool(cls and cls.has_lists), is_sms=connection.kind == "sms")
    if cls is not None and connection.provider == "sendgrid":
        context["events_url"] = callbacks.sendgrid_events_url(connection)
        context["events_key_set"] = bool((connection.settings or {}).get("event_webhook_public_key"))
    if cls is not None and connection.kind == "sms":
        context["status_url"] = callbacks.sms_status_url(connection)
    if context["can_sync"]:
        context.update(_sync_context(connection))
    if context["is_sms"]:
        page_number, page_size = parse_page_args(request.args, page_field="sms_page")
        context.update(sms_form=sms_test_form(), sms_status_kinds=SMS_STATUS_KINDS, sms_page=paginate(
            select(SmsMessage).where(SmsMessage.account_id == connection.account_id,
                                     SmsMessage.connection_id == connection.id)
            .order_by(SmsMessage.created_at.desc(), SmsMessage.id), page_number, page_size))
    context.update(overrides)
    return context


def _sync_context(connection: Connection, lists=None, lists_error=None, lists_loaded=False) -> dict:
    account = current_account()
    fields = sync.contact_fields(account)
    status = request.args.get("sync_status") or ""
    status = status if status in SYNC_STATUSES else ""
    page_number, page_size = parse_page_args(request.args, page_field="sync_page")
    return dict(contact_fields=fields, sync_form=sync_settings_form(connection, lists, fields),
                lists_loaded=lists_loaded, lists_error=lists_error, sync_status=status,
                sync_statuses=SYNC_STATUSES, sync_status_kinds=SYNC_STATUS_KINDS,
                sync_status_options=[(value, value.capitalize()) for value in SYNC_STATUSES],
                sync_counts=sync.status_counts(connection), sync_job=sync.latest_sync_all(connection),
                sync_events=sync.SYNC_EVENTS,
                sync_records=paginate(sync.records_query(connection, status or None), page_number, page_size))


@bp.route("/integrations/connections/<uuid:connection_id>")
@role_required("admin")
def connection_detail(connection_id):
    return render(TEMPLATE, **_detail_context(_connection(connection_id)))


@bp.route("/integrations/connections/<uuid:connection_id>/test", methods=["POST"])
@role_required("admin")
def connection_test(connection_id):
    connection = _connection(connection_id)
    checked_action()
    if connections.provider_class(connection.provider) is None:
        flash("This provider is not available any more.", "error")
    else:
        _flash_test(connection, connections.test(connection))
    return redirect_to(url_for("integrations.connection_detail", connection_id=connection.id))


@bp.route("/integrations/connections/<uuid:connection_id>/edit", methods=["POST"])
@role_required("admin")
def connection_edit(connection_id):
    connection = _connection(connection_id)
    cls = connections.provider_class(connection.provider)
    if cls is None:
        abort(404)
    form = connection_form(cls, connection, bind=True)
    if form.validate_on_submit():
        try:
            changed = connections.update(current_account(), current_user, connection, connection_values(form, cls),
                                         name=form[CONNECTION_NAME_FIELD].data, clear=connection_clears(form, cls))
        except ServiceError as error:
            if "name" in error.fields:
                error.fields[CONNECTION_NAME_FIELD] = error.fields.pop("name")
            apply_error(form, error)
        else:
            if changed:
                _flash_test(connection, connections.test(connection), saved="Saved. ")
            else:
                flash("Saved.", "success")
            return redirect_to(url_for("integrations.connection_detail", connection_id=connection.id))
    return render(TEMPLATE, status=422, **_detail_context(connection, edit_form=form))


@bp.route("/integrations/connections/<uuid:connection_id>/delete", methods=["POST"])
@role_required("admin")
def connection_delete(connection_id):
    connection = _connection(connection_id)
    checked_action()
    name = connection.name
    connections.delete(current_account(), current_user, connection)
    flash(f"Connection “{name}” deleted.", "success")
    return redirect_to(url_for("integrations.index"))


@bp.route("/integrations/connections/<uuid:connection_id>/sending", methods=["POST"])
@role_required("admin")
def connection_sending(connection_id):
    connection = _connection(connection_id)
    checked_action()
    use = request.form.get("use") == "1"
    with flashed_refusal():
        connections.set_sending_channel(current_account(), connection if use else None, user=current_user)
        flash(f"The workspace's e-mail now goes through {connection.name}." if use else
              "The workspace's e-mail goes through the app's own mail server again.", "success")
    return redirect_to(url_for("integrations.connection_detail", connection_id=connection.id))


# ---- contact sync -------------------------------------------------------------------------------------------

def _live_lists(connection: Connection):
    """(the provider's lists, None) or (None, what the provider answered)."""
    if connection.status != "connected":
        return None, "Test the connection first: the lists are fetched from the provider once it is connected."
    try:
        return connections.lists(connection), None
    except ProviderError as error:
        return None, f"The lists could not be fetched: {error.message}"


@bp.route("/integrations/connections/<uuid:connection_id>/sync", methods=["GET", "POST"])
@role_required("admin")
def connection_sync(connection_id):
    """GET: the sync settings with the provider's lists fetched now (the connection's page asks for this block
    once it has loaded, so the page never waits on the provider). POST: save them."""
    connection = _connection(connection_id)
    cls = connections.provider_class(connection.provider)
    if cls is None or not cls.has_lists:
        abort(404)
    available, lists_error = _live_lists(connection)
    if request.method == "GET":
        context = _detail_context(connection, **_sync_context(connection, available, lists_error, True))
        return render(TEMPLATE, block="sync_settings", **context)
    fields = sync.contact_fields(current_account())
    form = sync_settings_form(connection, available, fields, bind=True)
    if form.validate_on_submit():
        try:
            sync.save_settings(current_account(), current_user, connection, list_ids=form.lists.data,
                               sync_events=form.events.data, field_map=field_map_values(form, fields),
                               tags=form.tags.data or "", available=available)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash("Sync settings saved.", "success")
            return redirect_to(url_for("integrations.connection_detail", connection_id=connection.id) + "#sync")
    context = _detail_context(connection, **_sync_context(connection, available, lists_error, True))
    context["sync_form"] = form
    return render(TEMPLATE, block="sync_settings", status=422, **context)


@bp.route("/integrations/connections/<uuid:connection_id>/sync-all", methods=["POST"])
@role_required("admin")
def connection_sync_all(connection_id):
    connection = _connection(connection_id)
    checked_action()
    with flashed_refusal():
        sync.start_sync_all(current_account(), current_user, connection)
        flash("Syncing every contact with an e-mail address: the progress shows below.", "success")
    return redirect_to(url_for("integrations.connection_detail", connection_id=connection.id) + "#sync")


# ---- SMS ----------------------------------------------------------------------------------------------------

@bp.route("/integrations/connections/<uuid:connection_id>/sms", methods=["POST"])
@role_required("admin")
def connection_test_sms(connection_id):
    connection = _connection(connection_id)
    if connection.kind != "sms":
        abort(404)
    form = sms_test_form(bind=True)
    if form.validate_on_submit():
        from app.integrations import sms  # being written beside this module; imported when used

        try:
            message = sms.send(current_account(), connection, form.to.data.strip(), form.body.data)
        except ServiceError as error:
            apply_error(form, error)
        except ProviderError as error:
            db.session.commit()  # the call's record
            form.form_errors.append(f"Not sent: {error.message}")
        else:
            if message.status == "failed":
                form.form_errors.append(f"Not sent: {message.error or 'the provider refused it.'}")
            else:
                flash(f"Test SMS to {message.to} {'queued' if message.status == 'queued' else message.status}: "
                      "its status shows in the list below.", "success")
                return redirect_to(url_for("integrations.connection_detail", connection_id=connection.id) + "#sms")
    if not form.errors and not form.form_errors:
        form.form_errors.append("Check the number and the message.")
    return render(TEMPLATE, status=422, **_detail_context(connection, sms_form=form))
