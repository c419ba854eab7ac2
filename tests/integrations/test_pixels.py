"""Tracking pixels: strict ids, the workspace's and a funnel's (which wins), the tag and the CSP of the published
pages (exactly the providers' hosts, nothing for a page without pixels), the cache renewed when a pixel changes,
and the code preview showing what the pages get."""
import html
import re

import pytest
from sqlalchemy import select

from app.core.errors import ConflictError, ValidationError
from app.extensions import db
from app.funnels import publishing
from app.integrations import pixels
from app.integrations.models import TrackingPixel
from app.site import serving
from tests import factories
from tests.site.conftest import make_funnel, site_get

META, GA4, TIKTOK, PINTEREST, X = "123456789012345", "G-ABC123XYZ9", "C4ABCDEFGH1234567890", "2612345678901", "o1a2b"
TAG = re.compile(r'<script async src="/static/site/pixels\.js\?v=[0-9a-f]{12}"[^>]*></script>')


pytestmark = pytest.mark.usefixtures("empty_site_cache")


def add(account, provider, code, funnel=None, **data):
    return pixels.create_pixel(account, {"provider": provider, "pixel_code": code,
                                         "funnel_id": str(funnel.id) if funnel else None, **data})


def directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def baseline(app) -> dict[str, list[str]]:
    """The site's CSP for a page without extras."""
    with app.test_request_context():
        policy = dict(serving.security_headers())["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def added_sources(app, response) -> dict[str, set[str]]:
    base = baseline(app)
    return {name: set(sources) - set(base.get(name, [])) for name, sources in directives(response).items()
            if set(sources) - set(base.get(name, []))}


# ---- ids ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("provider, typed, stored", [
    ("facebook", " 123456789012345 ", "123456789012345"), ("facebook", "1234567890123456", "1234567890123456"),
    ("ga4", "g-abc123xyz9", "G-ABC123XYZ9"), ("tiktok", "c4abcdefgh1234567890", "C4ABCDEFGH1234567890"),
    ("pinterest", "2612345678901", "2612345678901"), ("x", "O1A2B", "o1a2b"), ("x", "abc123", "abc123"),
])
def test_ids_of_each_provider_are_accepted_as_the_provider_writes_them(owner, provider, typed, stored):
    assert add(owner[1], provider, typed).pixel_code == stored


@pytest.mark.parametrize("provider, bad", [
    ("facebook", "<script>alert(1)</script>"), ("facebook", '123456789012345"><script>alert(1)</script>'),
    ("facebook", "12345678901234"), ("facebook", "12345678901234567"), ("facebook", "1234567 89012345"),
    ("ga4", "G-ABC'onload='x"), ("ga4", "UA-12345-1"), ("ga4", "G-ABC 123"), ("ga4", "G-<b>"),
    ("tiktok", "C4ABCDEFGH123456789"), ("tiktok", "C4ABCDEFGH12345678<>"), ("tiktok", "C4ABCDEFGH-234567890"),
    ("pinterest", "261234567890"), ("pinterest", "2612345678901'"), ("x", "o1a2b3c"), ("x", "o1a\"b"),
    ("x", "javascript:alert(1)"), ("ga4", ""),
])
def test_an_id_with_script_quotes_brackets_or_spaces_is_refused(owner, provider, bad):
    with pytest.raises(ValidationError) as refused:
        add(owner[1], provider, bad)
    assert "pixel_code" in refused.value.fields
    assert db.session.execute(select(TrackingPixel)).first() is None


def test_the_form_says_what_an_id_looks_like_and_stores_nothing(client, owner, login):
    user, account = owner
    login(user, account)
    response = client.post("/integrations/pixels/new", data={
        "provider": "facebook", "pixel_code": '<script>alert("x")</script>', "is_active": "y"})
    assert response.status_code == 422
    assert "A Meta (Facebook) Pixel Pixel ID is 15 or 16 digits, like 123456789012345" in response.text
    assert "<script>alert" not in response.text  # what was typed comes back escaped
    assert db.session.execute(select(TrackingPixel)).first() is None
    unknown = client.post("/integrations/pixels/new", data={"provider": "myspace", "pixel_code": "1"})
    assert unknown.status_code == 422 and "Choose a provider" in unknown.text


def test_one_pixel_per_provider_for_the_workspace_and_for_each_funnel(owner, live):
    account = owner[1]
    add(account, "facebook", META)
    with pytest.raises(ConflictError):
        add(account, "facebook", "999999999999999")
    add(account, "facebook", "999999999999999", live)  # the funnel's own
    with pytest.raises(ConflictError):
        add(account, "facebook", "888888888888888", live)


def test_another_workspaces_funnel_is_refused(owner):
    other_user = factories.make_user("other@example.com")
    other_account = factories.make_account(other_user, "Other")
    theirs = make_funnel(other_account, other_user, slug="theirs")
    with pytest.raises(ValidationError) as refused:
        add(owner[1], "facebook", META, theirs)
    assert "funnel_id" in refused.value.fields


# ---- the published pages ----------------------------------------------------------------------------------

def test_the_published_page_loads_the_pixels_and_its_csp_allows_exactly_their_hosts(app, client, owner, live):
    account = owner[1]
    for provider, code in (("facebook", META), ("ga4", GA4), ("tiktok", TIKTOK), ("pinterest", PINTEREST),
                           ("x", X)):
        add(account, provider, code)
    response = site_get(client, "/free-guide/opt-in")
    assert response.status_code == 200
    [tag] = TAG.findall(response.text)
    for name, code in (("facebook", META), ("ga4", GA4), ("tiktok", TIKTOK), ("pinterest", PINTEREST), ("x", X)):
        assert f'data-{name}="{code}"' in tag
    assert f'data-funnel="{live.id}"' in tag
    assert response.text.index(tag) < response.text.index("</head>")
    assert added_sources(app, response) == {
        "script-src": {"https://connect.facebook.net", "https://*.googletagmanager.com",
                       "https://analytics.tiktok.com", "https://s.pinimg.com", "https://static.ads-twitter.com"},
        "img-src": {"https://www.facebook.com", "https://*.google-analytics.com", "https://*.googletagmanager.com",
                    "https://analytics.tiktok.com", "https://ct.pinterest.com", "https://analytics.twitter.com",
                    "https://t.co"},
        "connect-src": {"https://connect.facebook.net", "https://www.facebook.com", "https://*.google-analytics.com",
                        "https://*.analytics.google.com", "https://*.googletagmanager.com",
                        "https://analytics.tiktok.com", "https://ct.pinterest.com", "https://static.ads-twitter.com",
                        "https://analytics.twitter.com", "https://ads-api.twitter.com"},
        "frame-src": {"https://ct.pinterest.com"},
    }
    # Nothing else of the policy moved: no inline scripts, the same other directives.
    policy = directives(response)
    assert "'unsafe-inline'" not in policy["script-src"] and policy["default-src"] == ["'none'"]
    assert {name for name in policy} == set(baseline(app))


def test_one_provider_adds_only_its_own_hosts(app, client, owner, live):
    add(owner[1], "ga4", GA4)
    response = site_get(client, "/free-guide/thanks")
    assert 'data-ga4="G-ABC123XYZ9"' in response.text and "data-facebook" not in response.text
    assert added_sources(app, response) == {
        "script-src": {"https://*.googletagmanager.com"},
        "img-src": {"https://*.google-analytics.com", "https://*.googletagmanager.com"},
        "connect-src": {"https://*.google-analytics.com", "https://*.analytics.google.com",
                        "https://*.googletagmanager.com"}}


def test_without_pixels_the_page_and_its_csp_are_as_before(app, client, owner, live):
    response = site_get(client, "/free-guide/opt-in")
    assert "pixels.js" not in response.text
    assert directives(response) == baseline(app)
    add(owner[1], "facebook", META, is_active=False)  # a paused pixel is no pixel
    response = site_get(client, "/free-guide/opt-in")
    assert "pixels.js" not in response.text and directives(response) == baseline(app)


def test_a_funnels_pixel_overrides_the_workspaces_for_its_provider(app, client, owner, live):
    user, account = owner
    other = make_funnel(account, user, slug="other-guide", name="Other guide")
    publishing.publish_funnel(account, other, user)
    add(account, "facebook", META)
    add(account, "ga4", GA4)
    add(account, "facebook", "999999999999999", live)
    ours = site_get(client, "/free-guide/opt-in").text
    assert 'data-facebook="999999999999999"' in ours and META not in ours and 'data-ga4="G-ABC123XYZ9"' in ours
    theirs = site_get(client, "/other-guide/opt-in").text
    assert f'data-facebook="{META}"' in theirs and "999999999999999" not in theirs
    # The funnel's pixel paused: the workspace's applies to it again.
    pixel = db.session.execute(select(TrackingPixel).where(TrackingPixel.funnel_id == live.id)).scalar_one()
    pixels.set_active(account, pixel, False)
    assert f'data-facebook="{META}"' in site_get(client, "/free-guide/opt-in").text


def test_changing_a_pixel_changes_the_served_page_at_once(app, client, owner, live):
    account = owner[1]
    pixel = add(account, "facebook", META)
    first = site_get(client, "/free-guide/thanks")
    assert site_get(client, "/free-guide/thanks").headers["ETag"] == first.headers["ETag"]  # cached
    pixels.update_pixel(account, pixel, {"provider": "facebook", "pixel_code": "999999999999999"})
    changed = site_get(client, "/free-guide/thanks")
    assert 'data-facebook="999999999999999"' in changed.text and META not in changed.text
    assert changed.headers["ETag"] != first.headers["ETag"]
    pixels.delete_pixel(account, db.session.get(TrackingPixel, pixel.id))
    gone = site_get(client, "/free-guide/thanks")
    assert "pixels.js" not in gone.text and directives(gone) == baseline(app)


def test_a_split_tested_step_gets_the_pixels_on_every_variant(app, owner, live):
    from app.funnels import splittests

    user, account = owner
    add(account, "tiktok", TIKTOK)
    test = splittests.create_test(account, live, live.steps[1], {
        "name": "Thanks", "variants": [{"name": "Original", "weight": 50}, {"name": "B", "weight": 50}]}, user)
    visitor = app.test_client(use_cookies=False)
    seen = set()
    for n in range(40):
        response = visitor.get("/free-guide/thanks", base_url="http://pages.example.com",
                               headers={"Cookie": f"lf_vid=00000000-0000-4000-8000-{n:012d}"})
        seen.add(re.search(r'data-variant="([^"]*)"', response.text)[1])
        assert f'data-tiktok="{TIKTOK}"' in response.text
        assert "https://analytics.tiktok.com" in response.headers["Content-Security-Policy"]
    assert seen == {str(variant.id) for variant in db.session.get(type(test), test.id).variants}


def test_the_currency_of_what_the_funnel_sells_is_in_the_tag(client, owner, live):
    from app.orders.models import StepOffer

    account = owner[1]
    add(account, "facebook", META)
    assert "data-currency" not in site_get(client, "/free-guide/opt-in").text  # it sells nothing
    _, price = factories.make_product(account, currency="eur")
    db.session.add(StepOffer(account_id=account.id, step_id=live.steps[1].id, price_id=price.id, role="main"))
    db.session.commit()  # an offer added renews the cache too
    assert 'data-currency="EUR"' in site_get(client, "/free-guide/opt-in").text


def test_the_script_is_served_by_the_site_host(client, owner, live):
    add(owner[1], "x", X)
    src = re.search(r'src="(/static/site/pixels\.js\?v=[0-9a-f]+)"', site_get(client, "/free-guide/opt-in").text)[1]
    with site_get(client, src) as script:
        assert script.status_code == 200 and script.mimetype in ("text/javascript", "application/javascript")
        assert b"static.ads-twitter.com/uwt.js" in script.data and b"connect.facebook.net" in script.data


# ---- the pages ----------------------------------------------------------------------------------------------

def test_the_preview_shows_exactly_what_the_published_pages_get(app, client, owner, login, live):
    user, account = owner
    add(account, "facebook", META)
    add(account, "pinterest", PINTEREST, live)
    [tag] = TAG.findall(site_get(client, "/free-guide/opt-in").text)
    login(user, account)
    page = client.get(f"/integrations/pixels?funnel={live.id}")
    assert page.status_code == 200
    shown = re.search(r'<pre class="code code-wrap" id="preview-html">(.*?)</pre>', page.text, re.S)[1]
    assert html.unescape(shown) == tag
    assert "<script async" not in page.text  # escaped, never run on the app's page
    assert "https://s.pinimg.com" in page.text and "https://connect.facebook.net" in page.text


def test_pixels_page_empty_state_and_the_add_edit_pause_remove_cycle(client, owner, login, live):
    user, account = owner
    login(user, account)
    page = client.get("/integrations/pixels")
    assert page.status_code == 200 and "No pixels yet" in page.text and "nothing is added" in page.text
    response = client.post("/integrations/pixels/new", data={"provider": "ga4", "pixel_code": "g-abc123xyz9",
                                                             "funnel_id": str(live.id), "is_active": "y"})
    assert response.status_code == 303
    pixel = db.session.execute(select(TrackingPixel)).scalar_one()
    assert (pixel.pixel_code, pixel.funnel_id, pixel.is_active) == ("G-ABC123XYZ9", live.id, True)
    assert "Only “Free guide”" in client.get(f"/integrations/pixels/{pixel.id}/edit").text
    assert client.post(f"/integrations/pixels/{pixel.id}/edit", data={
        "provider": "ga4", "pixel_code": "G-ZZZ999", "funnel_id": "", "is_active": "y"}).status_code == 303
    assert db.session.get(TrackingPixel, pixel.id).funnel_id is None
    assert client.post(f"/integrations/pixels/{pixel.id}/toggle").status_code == 303
    assert db.session.get(TrackingPixel, pixel.id).is_active is False
    pixel_id = pixel.id
    assert client.post(f"/integrations/pixels/{pixel_id}/delete").status_code == 303
    assert db.session.get(TrackingPixel, pixel_id) is None


def test_another_workspaces_pixel_is_404_and_only_admins_see_pixels(client, owner, login):
    user, account = owner
    pixel = add(account, "facebook", META)
    other_user = factories.make_user("other@example.com")
    login(other_user, factories.make_account(other_user, "Other"))
    for method, path in [("GET", f"/integrations/pixels/{pixel.id}/edit"),
                         ("POST", f"/integrations/pixels/{pixel.id}/edit"),
                         ("POST", f"/integrations/pixels/{pixel.id}/toggle"),
                         ("POST", f"/integrations/pixels/{pixel.id}/delete")]:
        assert client.open(path, method=method).status_code == 404, path
    assert db.session.get(TrackingPixel, pixel.id).is_active
    member = factories.add_member(account, "user", "user@example.com")
    login(member, account)
    assert client.get("/integrations/pixels").status_code == 403
