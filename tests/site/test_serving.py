"""The published site: host dispatch, caching headers, CSP, 404s, going offline at once."""
import pytest

from app.funnels import publishing
from app.funnels import services as funnels
from tests.factories import login as log_in
from tests.site.conftest import SITE, make_funnel, site_get


def test_published_page_on_the_site_host(client, live):
    response = site_get(client, "/free-guide/thanks")
    assert response.status_code == 200
    assert response.mimetype == "text/html" and response.mimetype_params["charset"] == "utf-8"
    assert "Thank you!" in response.text
    # The stored document plus the tracker's tag (added when the entry is built): an ETag of its own.
    assert response.headers["ETag"] == f'"{publishing.etag_of(response.data)}"'
    assert response.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    csp = response.headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'unsafe-inline'",
                      "frame-src https://www.youtube-nocookie.com https://player.vimeo.com", "form-action 'self'",
                      "base-uri 'none'", "frame-ancestors 'none'", "img-src https: data: 'self'"):
        assert directive in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    assert "Set-Cookie" not in response.headers


def test_304_on_if_none_match_and_from_the_cache(client, live):
    first = site_get(client, "/free-guide/thanks")
    again = site_get(client, "/free-guide/thanks", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    other = site_get(client, "/free-guide/thanks", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.data == first.data


def test_served_from_memory_without_database_work(client, live, count_queries):
    site_get(client, "/free-guide/thanks")  # fills the cache
    assert count_queries(lambda: site_get(client, "/free-guide/thanks")) == 0
    assert count_queries(lambda: site_get(client, "/free-guide/thanks/")) == 0


def test_gzip_when_asked(client, live):
    import gzip

    plain = site_get(client, "/free-guide/opt-in")
    zipped = site_get(client, "/free-guide/opt-in", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] != plain.headers["ETag"]


def test_head(client, live):
    response = client.head("/free-guide/thanks", base_url=SITE)
    assert response.status_code == 200 and response.data == b""
    assert int(response.headers["Content-Length"]) > 1000


def test_unknown_addresses_share_one_cached_404(app, client, live):
    cache = app.extensions["site_cache"]
    cache.clear()
    assert site_get(client, "/free-guide/thanks").status_code == 200
    for n in range(30):
        response = site_get(client, f"/free-guide/no-such-step-{n}")
        assert response.status_code == 404 and "Page not found" in response.text
    assert len(cache) == 2  # the live page and the one 404, not 30 more entries
    assert site_get(client, "/free-guide/thanks").status_code == 200


def test_head_gives_the_length_of_the_body_it_stands_for(app, client, live):
    for cached in (False, True):  # answered by Flask (a cache miss), then by the dispatcher
        if not cached:
            app.extensions["site_cache"].clear()
        head = client.head("/free-guide/thanks", base_url=SITE, headers={"Accept-Encoding": "gzip"})
        get = client.get("/free-guide/thanks", base_url=SITE, headers={"Accept-Encoding": "gzip"})
        assert head.headers["Content-Encoding"] == get.headers["Content-Encoding"] == "gzip"
        assert int(head.headers["Content-Length"]) == len(get.data), cached


def test_funnel_address_is_its_first_step(client, live):
    response = site_get(client, "/free-guide")
    assert response.status_code == 200 and "Get the free guide" in response.text


def test_form_page_has_a_fresh_token_and_no_source(client, live):
    response = site_get(client, "/free-guide/opt-in")
    assert "{{lf-form-token" not in response.text and "lf-source" not in response.text
    assert 'name="form_token" value="' in response.text


def test_not_served_on_the_app_host(client, live, owner):
    assert client.get("/free-guide/thanks").status_code == 404
    assert client.get("/_site/free-guide/thanks").status_code == 404
    log_in(client, owner[0], owner[1])
    assert client.get("/free-guide/thanks").status_code == 404  # logged in too


def test_app_pages_are_not_served_on_the_site_host(client, owner, live):
    log_in(client, owner[0], owner[1])
    for path in ("/login", "/contacts", "/funnels", "/", "/api/v1/contacts", "/static/css/app.css", "/_site/x"):
        response = site_get(client, path)
        assert response.status_code == 404, path
        assert "Page not found" in response.text and "lf-error" in response.text  # the site's own 404
    assert client.post("/login", base_url=SITE, data={"email": "x"}).status_code == 404


@pytest.mark.parametrize("path", ["/nope/opt-in", "/free-guide/nope", "/free-guide/opt-in/extra", "/",
                                  "/FREE-GUIDE/opt-in", "/favicon.ico"])
def test_unknown_addresses_are_the_site_404(client, live, path):
    response = site_get(client, path)
    assert response.status_code == 404
    assert "This page does not exist" in response.text
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "<script" not in response.text


def test_unpublish_takes_it_offline_at_once_even_when_cached(client, live, owner):
    user, account = owner
    assert site_get(client, "/free-guide/thanks").status_code == 200
    assert site_get(client, "/free-guide/thanks").status_code == 200  # from the cache now
    publishing.unpublish_page(account, live.steps[1].page, user)
    assert site_get(client, "/free-guide/thanks").status_code == 404
    assert site_get(client, "/free-guide/opt-in").status_code == 200


def test_another_process_sees_the_unpublish_at_once(client, live, owner, app):
    """Another worker: its own cache, warm; the version in Redis tells it to look again."""
    from app.site.cache import SiteCache

    user, account = owner
    cache = app.extensions["site_cache"]
    other = SiteCache(app.config["REDIS_URL"])
    site_get(client, "/free-guide/thanks")
    key = ("site", "/free-guide/thanks")
    entry = cache.get(key, cache.version())
    other.put(key, entry)
    assert other.get(key, other.version()) is entry
    publishing.unpublish_page(account, live.steps[1].page, user)
    assert other.get(key, other.version()) is None
    other.close()


def test_archived_deleted_and_unpublished_funnels_are_404(client, live, owner):
    user, account = owner
    site_get(client, "/free-guide/thanks")
    funnels.set_status(account, live, "archived", user)  # no event: the commit itself invalidates
    assert site_get(client, "/free-guide/thanks").status_code == 404
    funnels.set_status(account, live, "published", user)
    assert site_get(client, "/free-guide/thanks").status_code == 200
    funnels.soft_delete(account, live, user)
    assert site_get(client, "/free-guide/thanks").status_code == 404
    assert site_get(client, "/free-guide").status_code == 404


def test_step_slug_change_moves_the_page(client, live, owner):
    user, account = owner
    assert site_get(client, "/free-guide/thanks").status_code == 200
    funnels.update_step(account, live, live.steps[1], {"slug": "merci"}, user)
    assert site_get(client, "/free-guide/thanks").status_code == 404
    assert site_get(client, "/free-guide/merci").status_code == 200


def test_custom_domain(client, owner):
    user, account = owner
    funnel = make_funnel(account, user, domain="offers.example.com")
    publishing.publish_funnel(account, funnel, user)
    first = client.get("/", base_url="http://offers.example.com")
    assert first.status_code == 200 and "Get the free guide" in first.text
    assert client.get("/thanks", base_url="http://offers.example.com").status_code == 200
    assert client.get("/free-guide/thanks", base_url="http://offers.example.com").status_code == 404
    assert client.get("/login", base_url="http://offers.example.com").status_code == 404
    assert site_get(client, "/free-guide/thanks").status_code == 200  # on SITE_URL as well
    funnels.update_funnel(account, funnel, {"custom_domain": ""}, user)
    gone = client.get("/", base_url="http://offers.example.com")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]  # no longer a site host: the app


def test_site_script_and_robots(client, live):
    script = site_get(client, "/_site.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert "immutable" in script.headers["Cache-Control"]
    assert site_get(client, "/robots.txt").text.startswith("User-agent: *")
    assert client.get("/_site.js").status_code == 404  # the app host has no such file


def test_a_nul_character_is_a_site_400_not_a_500(client, live):
    response = client.post("/_forms/00000000-0000-0000-0000-000000000000", base_url=SITE, data={"form_id": "a\x00"})
    assert response.status_code == 400 and "NUL character" in response.text and "lf-error" in response.text


def test_assets_are_served_on_the_site_host_only(client, owner):
    import io

    from PIL import Image
    from werkzeug.datastructures import FileStorage

    from app.assets import services as assets

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, "PNG")
    user, account = owner
    image = assets.upload(account, FileStorage(io.BytesIO(buffer.getvalue()), filename="a.png"), actor=user)
    with site_get(client, f"/_assets/{image.storage_key}") as response:
        assert response.status_code == 200 and response.mimetype == "image/png"
    assert site_get(client, "/_assets/../../etc/passwd").status_code == 404
    with site_get(client, "/static/img/placeholder.svg") as response:
        assert response.status_code == 200
    assert site_get(client, "/static/js/app.js").status_code == 404  # only the site's own static files


def test_version_ttl_reuses_the_answer_but_not_after_an_own_invalidate(app):
    from app.site.cache import SiteCache

    cache = SiteCache(app.config["REDIS_URL"], version_ttl=60)
    first = cache.version()
    app.extensions["site_cache"].invalidate()  # another process
    assert cache.version() == first  # reused for up to 60 s: the documented trade-off
    cache.invalidate()  # this process
    assert cache.version() != first
    cache.close()


def test_funnel_slug_change_and_step_delete_take_effect_at_once(client, live, owner):
    user, account = owner
    assert site_get(client, "/free-guide/thanks").status_code == 200
    funnels.update_funnel(account, live, {"slug": "new-guide"}, user)  # no event: the commit invalidates
    assert site_get(client, "/free-guide/thanks").status_code == 404
    assert site_get(client, "/new-guide/thanks").status_code == 200
    funnels.delete_step(account, live, live.steps[1], user)
    assert site_get(client, "/new-guide/thanks").status_code == 404


def test_an_unhandled_error_on_the_site_is_the_sites_500_from_the_apps_handlers(app, client, live, monkeypatch,
                                                                                 caplog):
    """The site's errors go through app/core/errorpages.py (rolled back, logged) and keep the site's look."""
    import logging

    from app.site import serving

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr(serving, "entry_for", boom)
    with caplog.at_level(logging.ERROR):
        response = site_get(client, "/free-guide/not-cached-yet")
    assert response.status_code == 500
    assert "lf-error" in response.text and "kaboom" not in response.text
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]  # the site's CSP
    assert "site error" in caplog.text and "kaboom" in caplog.text
