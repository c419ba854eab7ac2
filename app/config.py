"""Settings read from the environment (and from .env in development).

Every variable is listed with its meaning in .env.example. `Config` holds the defaults;
`create_app(config)` lets tests override any of them with a plain dict.
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = BASE_DIR / "instance"
DEVELOPMENT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _json(name: str) -> dict:
    import json

    value = os.environ.get(name)
    return json.loads(value) if value else {}


def load_config() -> dict:
    """Read the environment now (not at import), so tests and CLI see the current values."""
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'leadforge.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url[len("postgres://"):]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    redis_url = os.environ.get("REDIS_URL") or None
    debug = _bool("FLASK_DEBUG", False)
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY,
        "DEBUG": debug,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "RQ_QUEUE": os.environ.get("RQ_QUEUE", "leadforge"),
        # "rq" when Redis is configured, otherwise jobs run in a thread of the web process.
        "JOBS_MODE": os.environ.get("JOBS_MODE") or ("rq" if redis_url else "thread"),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "5 per minute"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", not debug),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", not debug),
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 16 * 1024 * 1024),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        # Published pages live on another origin than the app, so their scripts never run on the app's.
        "SITE_URL": os.environ.get("SITE_URL", "http://localhost:5000"),
        # Visitor forms on published pages: token lifetime (the static export's), rate limit per IP and page.
        "FORM_TOKEN_MAX_AGE": _int("FORM_TOKEN_MAX_AGE", 24 * 3600),
        "FORM_EXPORT_TOKEN_MAX_AGE": _int("FORM_EXPORT_TOKEN_MAX_AGE", 365 * 24 * 3600),
        "FORM_RATE_LIMIT": os.environ.get("FORM_RATE_LIMIT", "10 per minute"),
        # Tracked events a second from one IP address (POST /api/v1/analytics/track); 0 turns the limit off.
        "ANALYTICS_RATE_LIMIT": _int("ANALYTICS_RATE_LIMIT", 100),
        "SITE_CACHE_SIZE": _int("SITE_CACHE_SIZE", 512),  # published responses kept in each process
        # 0: every site request asks Redis for the cache version (unpublish is exact); > 0: seconds to reuse it.
        "SITE_VERSION_TTL": float(os.environ.get("SITE_VERSION_TTL") or 0),
        "ASSETS_DIR": os.environ.get("ASSETS_DIR") or str(INSTANCE_DIR / "assets"),
        "ASSET_MAX_BYTES": _int("ASSET_MAX_BYTES", 10 * 1024 * 1024),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL", False),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "Leadforge <no-reply@example.com>"),
        "MAIL_TIMEOUT": _int("MAIL_TIMEOUT", 10),
        "PASSWORD_RESET_MAX_AGE": _int("PASSWORD_RESET_MAX_AGE", 3600),
        "INVITATION_MAX_AGE_DAYS": _int("INVITATION_MAX_AGE_DAYS", 7),
        "EXPORTS_DIR": os.environ.get("EXPORTS_DIR") or str(INSTANCE_DIR / "exports"),
        "OUTBOX_DIR": os.environ.get("OUTBOX_DIR") or str(INSTANCE_DIR / "outbox"),
        "IMPORTS_DIR": os.environ.get("IMPORTS_DIR") or str(INSTANCE_DIR / "imports"),
        "IMPORT_MAX_BYTES": _int("IMPORT_MAX_BYTES", 2 * 1024 * 1024 * 1024),
        # Payments (app/orders/gateway.py). No secret key: the app runs and says payments are not configured.
        # STRIPE_API_BASE and STRIPE_JS_URL point at localstripe in development and tests.
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY") or None,
        "STRIPE_PUBLISHABLE_KEY": os.environ.get("STRIPE_PUBLISHABLE_KEY") or None,
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE") or "https://api.stripe.com",
        "STRIPE_JS_URL": os.environ.get("STRIPE_JS_URL") or "https://js.stripe.com/v3/",
        "STRIPE_TIMEOUT": _int("STRIPE_TIMEOUT", 20),
        # A checkout whose customer never paid shows as abandoned after this many minutes.
        "CHECKOUT_ABANDON_MINUTES": _int("CHECKOUT_ABANDON_MINUTES", 60),
        # Builder saves of one page by one person within this many minutes are one version (0: one each).
        "VERSION_COALESCE_MINUTES": _int("VERSION_COALESCE_MINUTES", 5),
        # Integrations (app/integrations). Keys that encrypt stored credentials and secrets: comma-separated
        # Fernet keys, the first encrypts, all decrypt (rotation: put the new key first, run `flask
        # integrations rotate-keys`, then drop the old one). Unset: one key derived from SECRET_KEY.
        "INTEGRATIONS_KEYS": os.environ.get("INTEGRATIONS_KEYS") or None,
        # Hosts that outgoing webhooks may reach over http:// and on private addresses (development only).
        "WEBHOOK_DEV_HOSTS": os.environ.get("WEBHOOK_DEV_HOSTS", "localhost,127.0.0.1" if debug else ""),
        "WEBHOOK_TIMEOUT": _int("WEBHOOK_TIMEOUT", 15),
        "PROVIDER_TIMEOUT": _int("PROVIDER_TIMEOUT", 10),
        # Calls a minute to one inbound webhook URL (per hook); more are answered 429.
        "INBOUND_RATE_LIMIT": os.environ.get("INBOUND_RATE_LIMIT", "60 per minute"),
        # Calls a minute to one provider callback address (SMS delivery reports, SendGrid's Event Webhook).
        "PROVIDER_CALLBACK_RATE_LIMIT": os.environ.get("PROVIDER_CALLBACK_RATE_LIMIT", "600 per minute"),
        # Provider API base URLs by adapter key, as JSON ({"sendgrid": "http://127.0.0.1:9000"}): tests and
        # staging point adapters at stand-ins; unset, each adapter uses the provider's documented URL.
        "PROVIDER_BASE_URLS": _json("PROVIDER_BASE_URLS"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        "LOG_FORMAT": os.environ.get("LOG_FORMAT") or ("text" if debug else "json"),
    }


def check_config(config) -> None:
    """Refuse to start a production app (not debug, not testing) with the public development key: anyone
    could sign its sessions, CSRF tokens and password-reset links."""
    if config.get("DEBUG") or config.get("TESTING"):
        return
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == DEVELOPMENT_SECRET_KEY:
        raise RuntimeError("SECRET_KEY is not set: set it to a long random string (see .env.example), "
                           "or set FLASK_DEBUG=1 for development.")
