"""Styled error pages (HTML) and JSON errors for /api/; a 500 is logged with its request id.

`register_error_handlers` is the one set of handlers: the app's, and a blueprint's with a look of its own
(the published site: app/site/errorpages.py), which passes the function that draws its pages."""
import logging

from flask import g, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, default_exceptions

from app.core.errors import NotFoundError, ServiceError
from app.core.web import json_error
from app.extensions import db

log = logging.getLogger(__name__)

TITLES = {
    400: ("Bad request", "The request could not be understood. Reload the page and try again."),
    401: ("Log in required", "Log in to continue."),
    403: ("Not allowed", "Your role in this workspace does not allow this."),
    404: ("Page not found", "There is nothing here. It may have been deleted, or the link is wrong."),
    405: ("Not allowed", "This address does not accept that kind of request."),
    410: ("Gone", "This is no longer available."),
    413: ("Too large", "That upload is larger than allowed."),
    422: ("Could not process", "Some of what was sent is not valid."),
    429: ("Slow down", "Too many attempts in a short time. Wait a minute and try again."),
    500: ("Something went wrong", "We hit an error on our side and have logged it. Please try again."),
}


def _is_api() -> bool:
    return request.path.startswith("/api/")


def render_error(status: int, description: str | None = None):
    title, default_message = TITLES.get(status, ("Error", "Something went wrong."))
    if _is_api():
        return json_error(status, description or default_message)
    message = description or default_message
    body = render_template("errors/error.html", status=status, title=title, message=message,
                           request_id=g.get("request_id"))
    return body, status


def as_http_exception(error: ServiceError) -> HTTPException:
    """The HTTP error a service error stands for when no view turned it into a form message: its status,
    and its message (a plain "not found" keeps the page's own wording)."""
    exception = default_exceptions.get(error.status, InternalServerError)
    return exception() if isinstance(error, NotFoundError) else exception(description=error.message)


def custom_description(error: HTTPException) -> str | None:
    """What the code that raised the error said, or None for the class's generic wording."""
    return error.description if error.description != type(error).description else None


def register_error_handlers(target, render=render_error, log_message: str = "unhandled error") -> None:
    """The error handlers of the app, or of a blueprint (`target`) whose pages `render(status, description)`
    draws: refused operations no view answered rolled back and shown with their status, CSRF failures, HTTP
    errors (a 405 naming the allowed methods) and unhandled errors (rolled back, logged with
    `log_message`, a 500)."""
    @target.errorhandler(ServiceError)
    def service_error(error: ServiceError):
        # The one place a refused operation that no view answered is rolled back: nothing half-written.
        db.session.rollback()
        return http_error(as_http_exception(error))

    @target.errorhandler(CSRFError)
    def csrf_error(error):
        return render(400, "The form expired or was sent from elsewhere (missing CSRF token). "
                           "Reload the page and try again.")

    @target.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        response = make_response(render(error.code or 500, custom_description(error)))
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
        return response

    @target.errorhandler(InternalServerError)
    @target.errorhandler(Exception)
    def server_error(error):
        original = getattr(error, "original_exception", None) or error
        if isinstance(original, ServiceError):
            return service_error(original)
        if isinstance(original, HTTPException) and not isinstance(original, InternalServerError):
            return http_error(original)
        log.error(log_message, exc_info=original)
        try:
            db.session.rollback()
        except Exception:
            pass
        return make_response(render(500, None))
