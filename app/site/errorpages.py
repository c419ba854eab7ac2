"""The site blueprint's error pages: on the site host (or a custom domain) the site's own, plain pages
(a cached 404 for unknown addresses); on the app host (the export views of this blueprint) the app's.
Like the app's handlers (app/core/errorpages.py), they discard what a failed request left in the session."""
import logging

from werkzeug.exceptions import HTTPException, InternalServerError

from app.core.errorpages import as_http_exception, render_error
from app.core.errors import ServiceError
from app.extensions import db
from app.site import bp, serving
from app.site.views import entry_response, site_error, site_kind

log = logging.getLogger(__name__)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    if not site_kind():
        return render_error(error.code or 500)
    if error.code == 404:
        return entry_response(serving.not_found_entry())
    custom = error.description if error.description != type(error).description else None
    return site_error(error.code or 500, custom if error.code != 429 else None)


@bp.errorhandler(InternalServerError)
@bp.errorhandler(Exception)
def server_error(error):
    original = getattr(error, "original_exception", None) or error
    if isinstance(original, ServiceError):
        db.session.rollback()
        return http_error(as_http_exception(original))
    if isinstance(original, HTTPException) and not isinstance(original, InternalServerError):
        return http_error(original)
    log.error("site error", exc_info=original)
    db.session.rollback()
    if not site_kind():
        return render_error(500)
    return site_error(500)
