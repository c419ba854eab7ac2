"""Leadforge: the application factory."""
import logging

from dotenv import load_dotenv
from flask import Flask, g, request, session
from flask_login import current_user

from app.config import INSTANCE_DIR, check_config, load_config
from app.extensions import csrf, db, htmx, limiter, login_manager, migrate

log = logging.getLogger(__name__)


def create_app(config: dict | None = None) -> Flask:
    load_dotenv()
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), template_folder="../templates",
                static_folder="../static")
    app.config.update(load_config())
    app.config.update(config or {})
    check_config(app.config)
    INSTANCE_DIR.mkdir(exist_ok=True)

    from app.core.logging import configure_logging

    configure_logging(app)
    _init_extensions(app)
    _register_blueprints(app)
    _register_request_hooks(app)
    _register_templates(app)
    from app.core.errorpages import register_error_handlers

    register_error_handlers(app)
    from app.site.serving import install as install_site

    install_site(app)  # published pages: host dispatch in front of Flask (app/site/serving.py)
    from app.analytics.tracking import install as install_tracking

    install_tracking(app)  # POST /api/v1/analytics/track answered in front of both (app/analytics/tracking.py)
    _load_tasks()
    from app.core import schedule

    schedule.init_app(app)  # without Redis, the web process runs the schedules (app/core/schedule.py)
    from app.cli import register_cli

    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    from app.core.db import engine_options

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config["SQLALCHEMY_DATABASE_URI"],
                                                             app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Log in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    from app.analytics import models as analytics_models  # noqa: F401
    from app.assets import models as asset_models  # noqa: F401
    from app.auth.models import User
    from app.core import models  # noqa: F401 (register the core tables)
    from app.crm import models as crm_models  # noqa: F401
    from app.funnels import models as funnel_models  # noqa: F401
    from app.integrations import models as integration_models  # noqa: F401
    from app.orders import models as order_models  # noqa: F401

    @login_manager.user_loader
    def load_user(session_id):
        import uuid

        user_id, _, fingerprint = (session_id or "").partition(":")
        try:
            user = db.session.get(User, uuid.UUID(user_id))
        except ValueError:
            return None
        return user if user is not None and user.session_fingerprint == fingerprint else None


def _register_blueprints(app: Flask) -> None:
    from app.analytics import bp as analytics_bp
    from app.api import bp as api_bp
    from app.api import docs_bp
    from app.assets import bp as assets_bp
    from app.auth import bp as auth_bp
    from app.builder import bp as builder_bp
    from app.crm import bp as crm_bp
    from app.dashboard import bp as dashboard_bp
    from app.funnels import bp as funnels_bp
    from app.integrations import bp as integrations_bp
    from app.orders import bp as orders_bp
    from app.settings import bp as settings_bp
    from app.site import bp as site_bp

    csrf.exempt(api_bp)  # machines authenticate with API keys, not cookies
    for blueprint in (auth_bp, dashboard_bp, crm_bp, funnels_bp, builder_bp, assets_bp, orders_bp, analytics_bp,
                      integrations_bp, site_bp, settings_bp, api_bp, docs_bp):
        app.register_blueprint(blueprint)


def _load_tasks() -> None:
    """Import every domain's tasks.py: the schedules they register (app.core.schedule) and the events they
    subscribe to are then known in every process, the worker's included."""
    import importlib
    from pathlib import Path

    for tasks_file in sorted(Path(__file__).parent.glob("*/tasks.py")):
        importlib.import_module(f"app.{tasks_file.parent.name}.tasks")


def _register_request_hooks(app: Flask) -> None:
    from app.auth.services import memberships_of, pick_membership
    from app.core.tenancy import set_current
    from app.core.web import assign_request_id, refuse_nul_characters

    @app.before_request
    def load_request_state():
        assign_request_id()
        refuse_nul_characters()
        set_current(None, None, None)
        if request.blueprint == "api" or not current_user.is_authenticated:
            return
        # One query gives the current workspace and the switcher's list.
        g.memberships = memberships_of(current_user)
        membership = pick_membership(g.memberships, session.get("account_id"))
        account_id = str(membership.account_id) if membership else None
        if session.get("account_id") != account_id:
            session["account_id"] = account_id
        set_current(membership.account if membership else None, membership, current_user._get_current_object())

    @app.after_request
    def add_headers(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if app.config["BASE_URL"].startswith("https://"):
            # Browsers then refuse plain http for the app's host for a year (the site's hosts are not included).
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if not request.path.startswith("/static/"):
            # No inline styles or scripts on the app's pages (docs/architecture.md, "The UI's shared pieces"):
            # the documents that show people's own styles (the builder, previews, published pages) and
            # the file routes set a policy of their own first.
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                "script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
        return response


def _register_templates(app: Flask) -> None:
    from app.core.formatting import register_filters
    from app.core.roles import can
    from app.core.tenancy import current_account, current_membership

    register_filters(app)
    app.jinja_env.add_extension("jinja2.ext.do")
    # The UI macros (components/macros.html) are globals, so that a block rendered alone for an
    # htmx swap can use them as well as the whole page.
    macros = app.jinja_env.get_template("components/macros.html").module
    for name in dir(macros):
        if not name.startswith("_"):
            app.jinja_env.globals[name] = getattr(macros, name)

    @app.context_processor
    def shell_context():
        def workspaces():
            return g.get("memberships", [])

        return {"can": can, "current_account": current_account(), "current_membership": current_membership(),
                "workspaces": workspaces}
