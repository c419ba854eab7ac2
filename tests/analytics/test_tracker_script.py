"""The tracker on published pages (static/site/track.js, app/site/serving.py): the script served at /_track.js
with a long cache, the tag every published page carries (funnel, step, page, variant, the ordered steps and
their addresses, Do-Not-Track, the endpoint), the CSP that lets it send, and static exports without it."""
import html
import re
import zipfile
from pathlib import Path

import pytest

from app.core import jobs
from app.extensions import db
from app.funnels import publishing, splittests
from app.site import export, serving
from tests.site.conftest import SITE, make_funnel, site_get

TRACK_JS = Path(__file__).resolve().parents[2] / "static" / "site" / "track.js"
TAG = re.compile(r'<script defer src="(/_track\.js\?v=[0-9a-f]{12})"((?: data-[a-z]+="[^"]*")+)></script>')


pytestmark = pytest.mark.usefixtures("empty_site_cache")


def tag_of(document: str) -> tuple[str, dict]:
    """(script URL, data attributes) of the page's tracker tag; fails when there is none or several."""
    found = TAG.findall(document)
    assert len(found) == 1, f"{len(found)} tracker tags"
    src, attributes = found[0]
    return src, {name: html.unescape(value) for name, value in re.findall(r'data-([a-z]+)="([^"]*)"', attributes)}


def test_the_script_is_small_and_served_with_a_long_cache(client, live):
    assert TRACK_JS.stat().st_size < 4096  # "a few KB": no build step, no dependencies
    src, _ = tag_of(site_get(client, "/free-guide/opt-in").text)
    response = site_get(client, src)
    assert response.status_code == 200
    assert response.data == TRACK_JS.read_bytes()
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert src.endswith("?v=" + serving.track_script()[1])
    again = site_get(client, src, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/_track.js").status_code == 404  # the app's host does not serve it


def test_every_published_page_carries_the_tag_with_its_ids(app, client, live):
    steps = live.steps
    urls = [publishing.public_url(step) for step in steps]
    for path, step in (("/free-guide/opt-in", steps[0]), ("/free-guide", steps[0]), ("/free-guide/thanks", steps[1])):
        document = site_get(client, path).text
        _, data = tag_of(document)
        assert data == {
            "endpoint": app.config["BASE_URL"].rstrip("/") + "/api/v1/analytics/track",
            "funnel": str(live.id), "step": str(step.id), "page": str(step.page.id), "variant": "",
            "steps": f"{steps[0].id},{steps[1].id}", "urls": ",".join(urls), "dnt": "0",
        }
        assert document.index("/_track.js") < document.rindex("</body>")  # at the end of the body
    assert urls == [f"{SITE}/free-guide/opt-in", f"{SITE}/free-guide/thanks"]


def test_the_tag_follows_the_step_order_and_a_custom_domain(client, owner):
    user, account = owner
    funnel = make_funnel(account, user, slug="domain-guide", domain="guide.example.org")
    publishing.publish_funnel(account, funnel, user)
    document = client.get("/thanks", base_url="http://guide.example.org").text
    _, data = tag_of(document)
    assert data["urls"] == "http://guide.example.org/opt-in,http://guide.example.org/thanks"
    assert data["steps"].split(",") == [str(step.id) for step in funnel.steps]


def test_do_not_track_comes_from_the_workspace_and_changes_served_pages_at_once(client, owner, live):
    _, account = owner
    assert tag_of(site_get(client, "/free-guide/opt-in").text)[1]["dnt"] == "0"
    account.analytics_respect_dnt = True
    db.session.commit()
    assert tag_of(site_get(client, "/free-guide/opt-in").text)[1]["dnt"] == "1"


def test_the_csp_lets_the_tracker_reach_the_endpoint(app, client, live):
    csp = site_get(client, "/free-guide/opt-in").headers["Content-Security-Policy"]
    connect = next(part.strip() for part in csp.split(";") if part.strip().startswith("connect-src"))
    origin = re.match(r"https?://[^/]+", app.config["BASE_URL"])[0]
    assert origin in connect.split()
    assert "script-src 'self'" in csp  # /_track.js is the site's own


def test_a_page_served_from_the_cache_still_costs_no_query(client, live, count_queries):
    first = site_get(client, "/free-guide/opt-in")
    assert count_queries(lambda: site_get(client, "/free-guide/opt-in")) == 0
    assert "/_track.js?v=" in first.text


def test_the_entry_is_built_with_two_queries(client, live, count_queries):
    # The tag's steps, addresses and Do-Not-Track come with the page itself (find_published's query); the
    # second is the page extras' (the funnel's tracking pixels, app/integrations/pixels.py). Once per cache fill.
    assert count_queries(lambda: site_get(client, "/free-guide/thanks")) == 2


def test_a_split_tests_variants_carry_their_page_and_variant(client, owner, live):
    user, account = owner
    step = live.steps[0]
    test = splittests.create_test(account, live, step, {"name": "Headline", "variants": [
        {"name": "Original", "weight": 50}, {"name": "B", "weight": 50}]}, user)
    by_page = {str(variant.page_id): str(variant.id) for variant in test.variants}
    seen = set()
    for number in range(40):
        client.set_cookie("lf_vid", f"00000000-0000-4000-8000-{number:012d}", domain="pages.example.com")
        _, data = tag_of(site_get(client, "/free-guide/opt-in").text)
        assert data["step"] == str(step.id)
        assert by_page[data["page"]] == data["variant"]  # the page shown, and the variant it is
        seen.add(data["variant"])
    assert seen == set(by_page.values())  # both variants were served


def test_static_exports_leave_the_tracker_out(owner, live):
    user, account = owner
    job = jobs.create_job(account, "funnel_export", "Static copy", user=user)
    result = export.write(str(job.id), live)
    with zipfile.ZipFile(result["path"]) as archive:
        documents = [archive.read(name).decode() for name in archive.namelist() if name.endswith(".html")]
    assert documents and not any("_track.js" in document or "data-endpoint" in document for document in documents)
