"""The published site serving a step with a running split test: a variant per visitor, by weight, sticky by
the lf_vid cookie (set when missing), Vary: Cookie and an ETag per variant, the variant's id in its
document for the tracker, variant pages never at an address of their own, and the cache forgetting the
split when the test ends."""
import random
import re
import uuid

import pytest

from app.builder import services as builder
from app.extensions import db
from app.funnels import publishing, splittests
from app.funnels.models import Page, SplitTest
from app.pages import tree as trees
from app.site import serving
from tests.site.conftest import SITE
from tests.site.test_submissions import hidden_inputs

COOKIE = re.compile(r"^lf_vid=([0-9a-f-]{36}); Max-Age=63072000; Path=/; SameSite=Lax$")


@pytest.fixture
def visitor(app):
    """A browser that does not keep cookies: each request says itself which visitor it is."""
    return app.test_client(use_cookies=False)


def get(visitor, path="/free-guide/thanks", vid=None, **headers):
    if vid is not None:
        headers["Cookie"] = f"other=1; lf_vid={vid}; theme=dark"
    return visitor.get(path, base_url=SITE, headers=headers)


def marked(account, user, page: Page, text: str) -> None:
    """The variant page says `text` (a headline), published."""
    column = next(node for node, _, _ in trees.walk(page.tree) if node["type"] == "columns")
    tree, _ = trees.insert(page.tree, column["id"], 0, trees.new_element("headline", props={"text": text}))
    builder.save_tree(account, page, tree, user)
    publishing.publish_page(account, page, user)


def start(owner, funnel, weights=(50, 50), step=1, name="Thanks test"):
    user, account = owner
    names = ["Original"] + [f"Variant {chr(66 + i)}" for i in range(len(weights) - 1)]
    test = splittests.create_test(account, funnel, funnel.steps[step], {
        "name": name, "variants": [{"name": n, "weight": w} for n, w in zip(names, weights)]}, user)
    for variant in test.variants[1:]:
        marked(account, user, variant.page, f"Welcome from {variant.name}")
    return db.session.get(SplitTest, test.id)


def which(response, test: SplitTest) -> str:
    """The name of the variant a response is."""
    found = [variant.name for variant in test.variants[1:] if f"Welcome from {variant.name}" in response.text]
    return found[0] if found else "Original"


def test_a_visitor_keeps_their_variant(visitor, owner, live):
    test = start(owner, live)
    seen = {}
    for _ in range(12):
        vid = str(uuid.uuid4())
        first = get(visitor, vid=vid)
        assert first.status_code == 200 and "Set-Cookie" not in first.headers
        seen[vid] = which(first, test)
        for _ in range(3):
            assert which(get(visitor, vid=vid), test) == seen[vid]
    assert set(seen.values()) <= {"Original", "Variant B"}


def test_a_new_visitor_gets_a_cookie_and_then_the_same_variant(visitor, owner, live):
    test = start(owner, live)
    first = get(visitor)
    cookie = COOKIE.match(first.headers["Set-Cookie"])
    assert cookie, first.headers["Set-Cookie"]
    vid = cookie[1]
    assert str(uuid.UUID(vid)) == vid
    for _ in range(3):
        again = get(visitor, vid=vid)
        assert "Set-Cookie" not in again.headers and which(again, test) == which(first, test)
    # The pick is the service's: a hash of the test and the visitor.
    entry = app_cache_entry(live)
    assert which(first, test) == ["Original", "Variant B"][serving.pick(entry.split, vid)]


def app_cache_entry(funnel, path="/free-guide/thanks"):
    from flask import current_app

    cache = current_app.extensions["site_cache"]
    return cache.get(("site", path), cache.version())


@pytest.mark.parametrize("bad", ["", "not-a-uuid", "12345", "lf_vid", "g" * 36])
def test_a_cookie_that_is_not_a_uuid_is_replaced(visitor, owner, live, bad):
    start(owner, live)
    response = visitor.get("/free-guide/thanks", base_url=SITE, headers={"Cookie": f"lf_vid={bad}"})
    assert response.status_code == 200 and COOKIE.match(response.headers["Set-Cookie"])


def test_the_cookie_is_secure_on_https(visitor, owner, live):
    start(owner, live)
    response = visitor.get("/free-guide/thanks", base_url="https://pages.example.com")
    assert response.headers["Set-Cookie"].endswith("; SameSite=Lax; Secure")


def test_visitors_are_split_by_weight(visitor, owner, live):
    """2,000 visitors, 70/30: each variant gets its share give or take chance (5 standard deviations)."""
    test = start(owner, live, weights=(70, 30))
    generator = random.Random(20260207)
    counts = {"Original": 0, "Variant B": 0}
    for _ in range(2000):
        vid = str(uuid.UUID(int=generator.getrandbits(128), version=4))
        counts[which(get(visitor, vid=vid), test)] += 1
    assert sum(counts.values()) == 2000
    assert abs(counts["Original"] - 1400) < 5 * (2000 * 0.7 * 0.3) ** 0.5, counts  # ±102


def test_three_variants_and_the_pick_function(owner, live):
    """serving.pick against the weights directly: 20/30/50 over 30,000 ids, and stable for one id."""
    test = start(owner, live, weights=(20, 30, 50))
    split = serving.Split(test_id=str(test.id), bounds=(20, 50, 100), entries=(None, None, None),
                          variant_ids=("a", "b", "c"))
    generator = random.Random(7)
    counts = [0, 0, 0]
    for _ in range(30000):
        counts[serving.pick(split, str(uuid.UUID(int=generator.getrandbits(128), version=4)))] += 1
    for count, share in zip(counts, (0.2, 0.3, 0.5)):
        assert abs(count / 30000 - share) < 0.015, counts
    vid = str(uuid.uuid4())
    assert len({serving.pick(split, vid) for _ in range(20)}) == 1
    assert 0 <= serving.bucket(str(test.id), vid) < 100
    other = serving.Split(test_id=str(uuid.uuid4()), bounds=split.bounds, entries=split.entries,
                          variant_ids=split.variant_ids)
    # Another test re-draws the visitors (a visitor in B of one test is not B of every test).
    changed = sum(serving.pick(split, v) != serving.pick(other, v) for v in (str(uuid.uuid4()) for _ in range(500)))
    assert changed > 100


def test_each_variant_document_carries_its_variant_id(visitor, owner, live):
    test = start(owner, live)
    by_name = {variant.name: str(variant.id) for variant in test.variants}
    seen = set()
    for _ in range(60):
        response = get(visitor, vid=str(uuid.uuid4()))
        name = which(response, test)
        assert f'data-variant="{by_name[name]}"' in response.text
        seen.add(name)
    assert seen == {"Original", "Variant B"}


def test_variant_responses_vary_by_cookie_and_have_their_own_etags(visitor, owner, live):
    test = start(owner, live)
    etags = {}
    for _ in range(60):
        vid = str(uuid.uuid4())
        response = get(visitor, vid=vid, **{"Accept-Encoding": "gzip"})
        assert "Cookie" in response.headers["Vary"] and "Accept-Encoding" in response.headers["Vary"]
        assert response.headers["Cache-Control"] == serving.PAGE_CACHE_CONTROL
        plain = get(visitor, vid=vid)
        assert plain.headers["Vary"] == "Accept-Encoding, Cookie"
        etags.setdefault(which(plain, test), set()).add(plain.headers["ETag"])
        revalidated = get(visitor, vid=vid, **{"If-None-Match": plain.headers["ETag"]})
        assert revalidated.status_code == 304 and "Cookie" in revalidated.headers["Vary"]
    assert len(etags) == 2 and all(len(tags) == 1 for tags in etags.values())
    assert etags["Original"] != etags["Variant B"]
    control = db.session.get(Page, live.steps[1].page.id)
    assert f'"{control.published_etag}"' not in etags["Original"]  # not the plain page's either


def test_the_split_is_served_from_memory(visitor, owner, live, count_queries):
    start(owner, live)
    get(visitor, vid=str(uuid.uuid4()))  # fills the cache
    assert count_queries(lambda: [get(visitor, vid=str(uuid.uuid4())) for _ in range(10)]) == 0


def test_a_step_without_a_test_is_served_as_before(visitor, owner, live):
    start(owner, live)  # on the thank-you step only
    get(visitor, "/free-guide/opt-in")  # (a cache miss is answered by Flask, which adds Vary: Cookie itself)
    response = get(visitor, "/free-guide/opt-in")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert app_cache_entry(live, "/free-guide/opt-in").split is None


def test_a_variant_page_has_no_address_of_its_own(visitor, owner, live):
    """The step's address is the step's page (or its split); a variant page is never served alone, and once
    the test ends the step's own page is back."""
    test = start(owner, live)
    variant_page = test.variants[1].page
    assert variant_page.is_published
    user, account = owner
    splittests.end_test(account, test, user)
    for _ in range(20):
        response = get(visitor, vid=str(uuid.uuid4()))
        assert "Welcome from Variant B" not in response.text and "Set-Cookie" not in response.headers


def test_the_cache_forgets_the_split_when_the_test_ends(visitor, owner, live):
    user, account = owner
    test = start(owner, live, weights=(1, 99))
    b_visitor = next(vid for vid in (str(uuid.uuid4()) for _ in range(100))
                     if which(get(visitor, vid=vid), test) == "Variant B")
    assert which(get(visitor, vid=b_visitor), test) == "Variant B"  # cached now
    splittests.end_test(account, test, user)
    response = get(visitor, vid=b_visitor)
    assert which(response, test) == "Original"
    assert app_cache_entry(live).split is None and "Set-Cookie" not in get(visitor).headers


def test_the_cache_forgets_when_a_test_starts(visitor, owner, live):
    get(visitor, vid=str(uuid.uuid4()))
    assert app_cache_entry(live).split is None  # cached without a split
    start(owner, live, weights=(1, 99))
    names = {which(get(visitor, vid=str(uuid.uuid4())), db.session.get(SplitTest, _test_id(live)))
             for _ in range(30)}
    assert "Variant B" in names


def _test_id(funnel):
    return db.session.execute(db.select(SplitTest.id).where(SplitTest.funnel_id == funnel.id)).scalar_one()


def test_the_cache_forgets_when_the_weights_change(visitor, owner, live):
    test = start(owner, live, weights=(99, 1))
    # Visitors placed in [1, 99) for this test: the original's under 99/1, variant B's under 1/99 (chosen, so
    # that the test cannot fail by chance).
    vids = [vid for vid in (str(uuid.uuid4()) for _ in range(200)) if 1 <= serving.bucket(str(test.id), vid) < 99][:5]
    assert all(which(get(visitor, vid=vid), test) == "Original" for vid in vids)
    test.variants[0].weight, test.variants[1].weight = 1, 99
    db.session.commit()
    assert all(which(get(visitor, vid=vid), test) == "Variant B" for vid in vids)


def test_an_unpublished_variant_is_left_out_until_published(visitor, owner, live):
    user, account = owner
    test = start(owner, live)
    publishing.unpublish_page(account, test.variants[1].page, user)
    assert all(which(get(visitor, vid=str(uuid.uuid4())), test) == "Original" for _ in range(20))


def test_a_form_on_a_variant_page_posts_to_that_page(visitor, owner, live):
    """The opt-in step split: the variant's form has its own page id and token, and the visitor goes on to the
    next step."""
    test = start(owner, live, step=0, name="Opt-in test")
    for _ in range(40):
        vid = str(uuid.uuid4())
        response = get(visitor, "/free-guide/opt-in", vid=vid)
        if which(response, test) == "Variant B":
            break
    hidden = hidden_inputs(response.text)
    assert hidden["page_id"] == str(test.variants[1].page_id)
    form = next(node for node, _, _ in trees.walk(test.variants[1].page.tree) if node["type"] == "form")
    email = next(child["id"] for child in form["children"] if child["props"].get("maps_to") == "email")
    name = next(child["id"] for child in form["children"] if child["props"].get("maps_to") == "first_name")
    posted = visitor.post(f"/_forms/{hidden['page_id']}", base_url=SITE, data={
        "form_id": hidden["form_id"], "page_id": hidden["page_id"], "form_token": hidden["form_token"],
        "website": "", email: "ada@example.com", name: "Ada"})
    assert posted.status_code == 303 and posted.headers["Location"].endswith("/free-guide/thanks")
