"""Sign-up, log-in and out, password reset, profile, workspaces and invitations."""
from flask import abort, current_app, flash, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.auth import bp, services
from app.auth.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    JoinForm,
    LoginForm,
    ProfileForm,
    ResetPasswordForm,
    SignupForm,
    SwitchWorkspaceForm,
    WorkspaceForm,
)
from app.core.errors import ServiceError
from app.core.forms import ActionForm, apply_error
from app.core.security import TokenError
from app.core.web import redirect_to, render, safe_next_url
from app.extensions import limiter


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _email_key():
    return "email:" + (request.form.get("email") or "").strip().lower()


def _start_session(user, remember: bool = False, account_id=None) -> None:
    login_user(user, remember=remember)
    session.permanent = True
    membership = services.pick_membership(services.memberships_of(user), account_id or session.get("account_id"))
    session["account_id"] = str(membership.account_id) if membership else None


def _invalid(template, form, **context):
    """Re-render a form with its errors: 422 so htmx and tests can tell it failed."""
    return render(template, block="form", status=422, form=form, **context)


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect_to(url_for("dashboard.index"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = services.register(form.email.data, form.password.data, form.name.data, form.workspace_name.data)
        except ServiceError as error:
            apply_error(form, error)
        else:
            _start_session(user)
            flash("Welcome to Leadforge! Your workspace is ready.", "success")
            return redirect_to(url_for("dashboard.index"))
    if form.errors or form.form_errors:
        return _invalid("auth/signup.html", form)
    return render("auth/signup.html", form=form)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message="Too many login attempts from this address.")
@limiter.limit(_login_limit, methods=["POST"], key_func=_email_key,
               error_message="Too many login attempts for this e-mail.")
def login():
    if current_user.is_authenticated:
        return redirect_to(url_for("dashboard.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            _start_session(user, remember=form.remember.data)
            return redirect_to(safe_next_url(form.next.data, url_for("dashboard.index")))
        form.form_errors.append("The e-mail or password is not right.")
    if form.errors or form.form_errors:
        return _invalid("auth/login.html", form)
    return render("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    form = ActionForm()
    if form.validate_on_submit():
        logout_user()
        session.pop("account_id", None)
        flash("You are logged out.", "info")
    return redirect_to(url_for("auth.login"))


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=_email_key)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # queued: a job sends it, so a slow or failing mail server never slows this answer
        services.request_password_reset(
            form.email.data, lambda token: url_for("auth.reset_password", token=token, _external=True))
        return render("auth/forgot_password.html", form=form, sent_to=form.email.data)
    if form.errors:
        return _invalid("auth/forgot_password.html", form)
    return render("auth/forgot_password.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token):
    try:
        services.user_for_reset_token(token)
    except TokenError as error:
        return render("auth/link_problem.html", status=400, title="Reset link unusable", message=str(error),
                      action_url=url_for("auth.forgot_password"), action_label="Send a new link")
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except ServiceError as error:
            apply_error(form, error)
        else:
            logout_user()
            flash("Your password is changed. Log in with the new one.", "success")
            return redirect_to(url_for("auth.login"))
    if form.errors:
        return _invalid("auth/reset_password.html", form, token=token)
    return render("auth/reset_password.html", form=form, token=token)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    password_form = ChangePasswordForm(prefix="pw")
    if form.validate_on_submit():
        try:
            services.update_profile(current_user, form.name.data, form.timezone.data)
        except ServiceError as error:
            apply_error(form, error)
        else:
            flash("Profile saved.", "success")
            return redirect_to(url_for("auth.profile"))
    if form.errors:
        return render("auth/profile.html", block="profile_form", status=422, form=form, password_form=password_form)
    return render("auth/profile.html", form=form, password_form=password_form)


@bp.route("/profile/password", methods=["POST"])
@login_required
def change_password():
    form = ProfileForm(obj=current_user, formdata=None)
    password_form = ChangePasswordForm(prefix="pw")
    if password_form.validate_on_submit():
        try:
            services.change_password(current_user, password_form.current_password.data, password_form.new_password.data)
        except ServiceError as error:
            apply_error(password_form, error)
        else:
            login_user(current_user._get_current_object())  # this session stays; every other one ends
            flash("Password changed. You were logged out everywhere else.", "success")
            return redirect_to(url_for("auth.profile"))
    return render("auth/profile.html", block="password_form", status=422, form=form, password_form=password_form)


@bp.route("/workspaces/switch", methods=["POST"])
@login_required
def switch_workspace():
    form = SwitchWorkspaceForm()
    membership = services.membership_of(current_user, form.account_id.data) if form.validate_on_submit() else None
    if membership is None:
        abort(404)
    session["account_id"] = str(membership.account_id)
    flash(f"Switched to {membership.account.name}.", "info")
    return redirect_to(url_for("dashboard.index"))


@bp.route("/workspaces/new", methods=["GET", "POST"])
@login_required
def new_workspace():
    form = WorkspaceForm(timezone=current_user.timezone, currency="USD")
    if form.validate_on_submit():
        try:
            account = services.create_workspace(current_user, form.name.data, form.timezone.data, form.currency.data)
        except ServiceError as error:
            apply_error(form, error)
        else:
            session["account_id"] = str(account.id)
            flash(f"Workspace {account.name} created.", "success")
            return redirect_to(url_for("dashboard.index"))
    if form.errors:
        return _invalid("auth/new_workspace.html", form)
    return render("auth/new_workspace.html", form=form)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token):
    """Join a workspace: a logged-in invitee accepts; a new person sets a name and password."""
    try:
        invitation = services.invitation_for_token(token)
    except services.InvitationError as error:
        return render("auth/link_problem.html", status=410, title="Invitation unusable", message=str(error),
                      action_url=url_for("dashboard.index"), action_label="Go to Leadforge")
    existing = services.user_by_email(invitation.email)
    join_form, accept_form = JoinForm(), ActionForm()
    if current_user.is_authenticated and request.method == "POST" and accept_form.validate_on_submit():
        try:
            membership = services.accept_invitation(token, current_user)
        except ServiceError as error:
            return render("auth/link_problem.html", status=error.status, title="Not your invitation",
                          message=error.message, action_url=url_for("dashboard.index"), action_label="Back")
        session["account_id"] = str(membership.account_id)
        flash(f"You joined {invitation.account.name}.", "success")
        return redirect_to(url_for("dashboard.index"))
    if not current_user.is_authenticated and existing is None and join_form.validate_on_submit():
        try:
            user = services.register_from_invitation(token, join_form.name.data, join_form.password.data)
        except ServiceError as error:
            apply_error(join_form, error)
        else:
            _start_session(user, account_id=invitation.account_id)
            flash(f"Welcome! You joined {invitation.account.name}.", "success")
            return redirect_to(url_for("dashboard.index"))
    status = 422 if join_form.errors or join_form.form_errors else 200
    return render("auth/accept_invitation.html", status=status, invitation=invitation, existing=existing,
                  join_form=join_form, accept_form=accept_form)
