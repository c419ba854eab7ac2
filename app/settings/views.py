"""Workspace settings, the team (members, invitations, roles) and API keys."""
from flask import abort, flash, request, session, url_for
from flask_login import current_user
from sqlalchemy import func
from sqlalchemy.orm import contains_eager, joinedload

from app.auth import services
from app.auth.forms import WorkspaceForm
from app.auth.models import ApiKey, Invitation, Membership, User
from app.core.errors import ServiceError
from app.core.forms import ActionForm, apply_error
from app.core.pagination import paginate, parse_page_args
from app.core.roles import can, role_required
from app.core.tenancy import current_account, current_membership, get_or_404, scoped
from app.core.web import redirect_to, render
from app.settings import bp
from app.settings.forms import AnalyticsPrivacyForm, ApiKeyForm, DeleteWorkspaceForm, InviteForm, RoleForm


@bp.route("/workspace", methods=["GET", "POST"])
@role_required("viewer")
def workspace():
    account = current_account()
    form = WorkspaceForm(obj=account)
    delete_form = DeleteWorkspaceForm(prefix="delete")
    if form.is_submitted():
        if not can("admin"):
            abort(403, description="Only admins and owners change workspace settings.")
        if form.validate():
            try:
                services.update_workspace(account, form.name.data, form.timezone.data, form.currency.data)
            except ServiceError as error:
                apply_error(form, error)
            else:
                flash("Workspace settings saved.", "success")
                return redirect_to(url_for("settings.workspace"))
        return render("settings/workspace.html", block="form", status=422, form=form, delete_form=delete_form,
                      privacy_form=_privacy_form(account))
    return render("settings/workspace.html", form=form, delete_form=delete_form, privacy_form=_privacy_form(account))


def _privacy_form(account) -> AnalyticsPrivacyForm:
    """The analytics privacy form as the workspace has it (not read from the request)."""
    return AnalyticsPrivacyForm(prefix="privacy", obj=account, formdata=None)


@bp.route("/workspace/analytics-privacy", methods=["POST"])
@role_required("admin")
def analytics_privacy():
    account = current_account()
    form = AnalyticsPrivacyForm(prefix="privacy", obj=account)
    if form.validate_on_submit():
        try:
            services.update_analytics_privacy(account, form.analytics_ip_mode.data, form.analytics_respect_dnt.data)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash("Analytics privacy settings saved.", "success")
            return redirect_to(url_for("settings.workspace"))
    return render("settings/workspace.html", block="privacy", status=422, privacy_form=form,
                  form=WorkspaceForm(obj=account, formdata=None), delete_form=DeleteWorkspaceForm(prefix="delete"))


@bp.route("/workspace/delete", methods=["POST"])
@role_required("owner")
def delete_workspace():
    account = current_account()
    form = WorkspaceForm(obj=account, formdata=None)
    delete_form = DeleteWorkspaceForm(prefix="delete")
    if delete_form.validate_on_submit():
        try:
            name = account.name
            services.delete_workspace(account, delete_form.confirm_name.data)
        except ServiceError as error:
            apply_error(delete_form, error)
        else:
            session.pop("account_id", None)
            flash(f"Workspace {name} and everything in it was deleted.", "success")
            return redirect_to(url_for("dashboard.index"))
    return render("settings/workspace.html", block="danger", status=422, form=form, delete_form=delete_form,
                  privacy_form=_privacy_form(account))


def _team_context(invite_form=None):
    account = current_account()
    members = paginate(scoped(Membership).join(Membership.user).options(contains_eager(Membership.user))
                       .order_by(func.lower(User.name), User.email, Membership.id), *parse_page_args(request.args))
    invitations = paginate(
        scoped(Invitation).where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .order_by(Invitation.created_at.desc(), Invitation.id),
        *parse_page_args(request.args, page_field="invitations_page"))
    return dict(account=account, members=members, invitations=invitations,
                invite_form=invite_form or InviteForm(), role_form=RoleForm(), action_form=ActionForm())


@bp.route("/team")
@role_required("viewer")
def team():
    return render("settings/team.html", **_team_context())


@bp.route("/team/invite", methods=["POST"])
@role_required("admin")
def invite():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitation, token = services.invite(current_account(), current_user, current_membership().role,
                                                form.email.data, form.role.data)
        except ServiceError as error:
            apply_error(form, error)
        else:
            _send_invitation(invitation, token)
            return redirect_to(url_for("settings.team"))
    return render("settings/team.html", block="invite_form", status=422, **_team_context(form))


def _send_invitation(invitation, token):
    # queued: a job sends it through the workspace's channel (the mail log shows how it went)
    services.send_invitation(invitation, token, url_for("auth.accept_invitation", token=token, _external=True))
    flash(f"Invitation sent to {invitation.email}.", "success")


@bp.route("/team/invitations/<uuid:invitation_id>/resend", methods=["POST"])
@role_required("admin")
def resend_invitation(invitation_id):
    old = get_or_404(Invitation, invitation_id)
    if ActionForm().validate_on_submit():
        try:
            invitation, token = services.invite(current_account(), current_user, current_membership().role,
                                                old.email, old.role)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            _send_invitation(invitation, token)
    return redirect_to(url_for("settings.team"))


@bp.route("/team/invitations/<uuid:invitation_id>/revoke", methods=["POST"])
@role_required("admin")
def revoke_invitation(invitation_id):
    invitation = get_or_404(Invitation, invitation_id)
    if ActionForm().validate_on_submit():
        try:
            services.revoke_invitation(invitation)
        except ServiceError as error:
            flash(error.message, "error")
        else:
            flash(f"Invitation of {invitation.email} withdrawn.", "success")
    return redirect_to(url_for("settings.team"))


@bp.route("/team/<uuid:member_id>/role", methods=["POST"])
@role_required("admin")
def change_role(member_id):
    membership = get_or_404(Membership, member_id)
    form = RoleForm()
    if form.validate_on_submit():
        try:
            services.change_role(current_membership(), membership, form.role.data)
        except ServiceError as error:
            flash(error.message, "error")
            return render("settings/team.html", status=error.status, **_team_context())
        flash(f"{membership.user.display_name} is now {membership.role}.", "success")
    return redirect_to(url_for("settings.team"))


@bp.route("/team/<uuid:member_id>/remove", methods=["POST"])
@role_required("admin")
def remove_member(member_id):
    membership = get_or_404(Membership, member_id)
    if ActionForm().validate_on_submit():
        name = membership.user.display_name
        try:
            services.remove_member(current_membership(), membership)
        except ServiceError as error:
            flash(error.message, "error")
            return render("settings/team.html", status=error.status, **_team_context())
        flash(f"{name} was removed from the workspace.", "success")
    return redirect_to(url_for("settings.team"))


def _api_keys_context(form=None, new_secret=None, new_key=None):
    keys = paginate(scoped(ApiKey).options(joinedload(ApiKey.user))
                    .order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id),
                    *parse_page_args(request.args))
    return dict(keys=keys, form=form or ApiKeyForm(), action_form=ActionForm(), new_secret=new_secret, new_key=new_key)


@bp.route("/api-keys")
@role_required("admin")
def api_keys():
    return render("settings/api_keys.html", **_api_keys_context())


@bp.route("/api-keys", methods=["POST"])
@role_required("admin")
def create_api_key():
    form = ApiKeyForm()
    if form.validate_on_submit():
        try:
            key, secret = services.create_api_key(current_account(), current_user, form.name.data)
        except ServiceError as error:
            apply_error(form, error)
        else:
            # The secret is shown in this response only: it is never stored in clear.
            return render("settings/api_keys.html", status=201, **_api_keys_context(new_secret=secret, new_key=key))
    return render("settings/api_keys.html", block="create_form", status=422, **_api_keys_context(form))


@bp.route("/api-keys/<uuid:api_key_id>/revoke", methods=["POST"])
@role_required("admin")
def revoke_api_key(api_key_id):
    key = get_or_404(ApiKey, api_key_id)
    if ActionForm().validate_on_submit():
        services.revoke_api_key(key)
        flash(f"API key {key.name} revoked. Requests with it now get 401.", "success")
    return redirect_to(url_for("settings.api_keys"))
