"""Where a funnel lives: the rules of its slug, its steps' slugs and its custom domain (normalised, refused,
taken, reserved) and the search for a free one. The public addresses made of them are
app.funnels.publishing's; the site (app.site.serving) matches requests with the same patterns."""
import re
import unicodedata
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from sqlalchemy import select

from app.core.errors import ConflictError, ValidationError
from app.extensions import db
from app.funnels.models import Funnel

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 60
RESERVED_SLUGS = {"static", "assets", "api", "_", "site", "favicon.ico", "robots.txt", "f"}
DOMAIN_PATTERN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class AddressTaken(ConflictError):
    """A slug or domain another funnel (or step) already uses, or a reserved one: a conflict with what exists
    (409 in the API; the forms show it next to the field like any other error)."""


# ---- slugs --------------------------------------------------------------------------------------------

def slugify(text: str) -> str:
    """"Été 2026 Offer!" -> "ete-2026-offer": accents dropped, lower case, dashes."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:SLUG_MAX].strip("-")


def clean_slug(raw, field: str = "slug", fallback: str = "") -> str:
    """A typed slug normalised (spaces, capitals and accents fixed); refused when nothing usable is left."""
    if raw is not None and not isinstance(raw, str):
        raise ValidationError("The slug must be text.", field=field)
    raw = (raw or "").strip()
    if len(raw) > SLUG_MAX * 2:
        raise ValidationError(f"A slug has at most {SLUG_MAX} characters.", field=field)
    slug = slugify(raw) if raw else slugify(fallback)
    if not slug:
        raise ValidationError("Use letters a–z, digits and dashes in the slug (e.g. free-guide).", field=field)
    if slug in RESERVED_SLUGS:
        raise AddressTaken(f"“{slug}” is reserved: choose another slug.", field=field)
    return slug


def typed_or_named_slug(raw, name: str, base: str) -> str:
    """A typed slug (normalised, or refused with a message); with none typed, one made from the name, or
    `base` when the name gives nothing usable (e.g. a name in Japanese) or a reserved word."""
    if raw is not None and (not isinstance(raw, str) or raw.strip()):
        return clean_slug(raw)
    made = slugify(name or "")
    return made if made and made not in RESERVED_SLUGS else base


def funnel_slug_taken(slug: str, exclude_id=None) -> bool:
    query = select(Funnel.id).where(Funnel.slug == slug, Funnel.deleted_at.is_(None))
    if exclude_id is not None:
        query = query.where(Funnel.id != exclude_id)
    return db.session.execute(query.limit(1)).first() is not None


def free_funnel_slug(base: str) -> str:
    """`base`, or base-2, base-3... the first one no funnel uses (for clones and templates)."""
    base = base[:SLUG_MAX - 4].strip("-") or "funnel"
    slug, number = base, 1
    while funnel_slug_taken(slug):
        number += 1
        slug = f"{base}-{number}"
    return slug


def step_slug_taken(funnel: Funnel, slug: str, exclude_id=None) -> bool:
    return any(step.slug == slug and step.id != exclude_id for step in funnel.steps)


def free_step_slug(funnel: Funnel, base: str) -> str:
    base = base[:SLUG_MAX - 4].strip("-") or "step"
    slug, number = base, 1
    while step_slug_taken(funnel, slug):
        number += 1
        slug = f"{base}-{number}"
    return slug


# ---- custom domains -----------------------------------------------------------------------------------

def clean_domain(raw) -> str | None:
    """A typed domain normalised (no scheme, lower case), None for none; ValidationError when it is not one."""
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise ValidationError("The domain must be text.", field="custom_domain")
    domain = raw.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not domain:
        return None
    if not DOMAIN_PATTERN.match(domain):
        raise ValidationError("Enter a domain name like offers.example.com (no path, no port).",
                              field="custom_domain")
    return domain


def own_hosts() -> set[str]:
    """The app's and the site's own host names, which no funnel may take as its domain."""
    if not has_app_context():
        return set()
    hosts = {(urlsplit(current_app.config.get(key) or "").hostname or "").lower() for key in ("BASE_URL", "SITE_URL")}
    return hosts - {""}
