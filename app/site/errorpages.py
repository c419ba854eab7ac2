"""The site blueprint's error pages: the app's handlers (app/core/errorpages.py: the same rollback, status
and logging) drawing the site's own plain pages on the site host or a custom domain (site/error.html
under the site's CSP; a cached 404 for unknown addresses), and the app's pages on the app host (the
export views of this blueprint)."""
from app.core.errorpages import register_error_handlers, render_error
from app.site import bp, serving
from app.site.views import entry_response, site_error, site_kind


def render_site_error(status: int, description: str | None = None):
    if not site_kind():
        return render_error(status, description)
    if status == 404:
        return entry_response(serving.not_found_entry())
    return site_error(status, description if status != 429 else None)  # a rate limit's wording is the site's


register_error_handlers(bp, render=render_site_error, log_message="site error")
