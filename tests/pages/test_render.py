"""Rendering of the element tree: the builder canvas (edit) and the published page (publish)."""
import re

import pytest

from app.pages import tree as trees
from app.pages.elements import CONTENT, FIELDS, TYPES
from app.pages.render import RenderContext, render_element, render_tree, site_stylesheet


def column_id(tree: dict) -> str:
    return tree["children"][0]["children"][0]["children"][0]["id"]


def page_with(*elements: dict) -> dict:
    tree = trees.empty_page()
    for element in elements:
        tree, _ = trees.insert(tree, column_id(tree), 999, element)
    return tree


def form_with(*fields: dict, **props) -> dict:
    return trees.new_element("form", props=props or None, children=list(fields))


@pytest.fixture
def every_type():
    """A page holding one element of each of the 27 types."""
    fields = [trees.new_element(name) for name in FIELDS]
    elements = [trees.new_element(name) for name in CONTENT]
    elements.append(trees.new_element("container", children=[trees.new_element("headline")]))
    elements.append(form_with(*fields))
    elements.append(trees.starter_element("order_form"))
    elements.append(trees.new_element("offer_buttons"))
    tree = page_with(*elements)
    assert {node["type"] for node, _, _ in trees.walk(tree)} == set(TYPES) | {"page"}
    return tree


def test_every_type_renders_in_both_modes(every_type):
    edit = render_tree(every_type, "edit", RenderContext())
    publish = render_tree(every_type, "publish", RenderContext())
    for node, _, _ in trees.walk(every_type):
        if node["type"] == "page":
            continue
        assert f'data-element-id="{node["id"]}" data-type="{node["type"]}" tabindex="0"' in edit
        assert render_element(node, "edit") and render_element(node, "publish")
    assert "data-element-id" not in publish and "lf-el" not in publish and "lf-children" not in publish
    assert publish.count("<main") == 1 and "<section" in publish


def test_edit_mode_marks_containers_for_dragging(every_type):
    edit = render_tree(every_type, "edit")
    column = column_id(every_type)
    accepts = " ".join(TYPES["columns"].children)
    assert f'class="lf-col__body lf-children" data-parent-id="{column}" data-accepts="{accepts}"' in edit
    assert 'data-parent-id="root" data-accepts="section"' in edit
    assert 'aria-label="Headline: Your headline here"' in edit


def test_empty_container_shows_a_drop_hint():
    html = render_tree(trees.empty_page(), "edit")
    assert re.search(r'<div class="lf-col__body lf-children"[^>]*data-empty="Drop elements here"></div>', html)


def test_unknown_mode_is_refused(every_type):
    with pytest.raises(ValueError):
        render_tree(every_type, "preview")


def test_rich_text_is_sanitised_end_to_end():
    text = trees.new_element("text", props={"html": '<p onclick="x()">Hi <script>alert(1)</script>'
                                                    '<a href="javascript:alert(2)">link</a>'
                                                    '<img src=x onerror="alert(3)"><span style="width:expression(1)">'
                                                    '<strong>bold</strong></span></p>'})
    for mode in ("edit", "publish"):
        html = render_tree(page_with(text), mode)
        assert "<strong>bold</strong>" in html
        for bad in ("<script", "alert(1)", "onclick", "onerror", "javascript:", "expression("):
            assert bad not in html


def test_rich_text_is_sanitised_again_when_rendered():
    """A tree that skipped validation (an old snapshot, a hand-edited row) still renders no script."""
    text = trees.new_element("text")
    text["props"]["html"] = '<p>Hi <script>alert(1)</script><a href="javascript:alert(2)" onclick="x()">link</a></p>'
    tree = trees.empty_page()
    tree["children"][0]["children"][0]["children"][0]["children"].append(text)  # as stored, unchecked
    for mode in ("edit", "publish"):
        html = render_tree(tree, mode)
        assert "<p>Hi" in html and "link</a>" in html
        for bad in ("<script", "javascript:", "onclick"):
            assert bad not in html


def test_other_text_is_escaped():
    headline = trees.new_element("headline", props={"text": '<img src=x onerror="alert(1)">'})
    html = render_element(headline, "publish")
    assert "<img" not in html and "&lt;img" in html


def test_images_are_lazy_with_size_and_alt():
    image = trees.new_element("image", props={"alt": "A happy customer", "width": 640, "height": 360,
                                              "src": "https://cdn.example.com/a.png"})
    gallery = trees.new_element("image_gallery", props={"images": [
        {"src": "https://cdn.example.com/1.png", "alt": "One", "width": 400, "height": 300},
        {"src": "", "asset_id": "asset-2", "alt": "Two", "width": 400, "height": 300}]})
    ctx = RenderContext(asset_url=lambda asset_id: f"https://pages.example.com/_assets/{asset_id}.png")
    html = render_tree(page_with(image, gallery), "publish", ctx)
    images = re.findall(r"<img [^>]*>", html)
    assert len(images) == 3
    for tag in images:
        for attribute in ('alt="', 'width="', 'height="', 'loading="lazy"', 'decoding="async"'):
            assert attribute in tag
    assert 'src="https://cdn.example.com/a.png" alt="A happy customer" width="640" height="360"' in html
    assert 'src="https://pages.example.com/_assets/asset-2.png"' in html


def test_videos_embed_on_the_page_and_stay_a_placeholder_in_the_builder():
    youtube = trees.new_element("video", props={"url": "https://youtu.be/dQw4w9WgXcQ", "title": "Intro"})
    mp4 = trees.new_element("video", props={"url": "https://cdn.example.com/intro.mp4"})
    published = render_tree(page_with(youtube, mp4), "publish")
    assert '<iframe src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" title="Intro" loading="lazy"' in published
    assert 'allowfullscreen' in published
    assert '<video src="https://cdn.example.com/intro.mp4" controls preload="none"' in published
    edit = render_tree(page_with(youtube, mp4), "edit")
    assert "<iframe" not in edit and "<video" not in edit and "YouTube video: Intro" in edit


def test_buttons_resolve_their_links():
    to_next = trees.new_element("button", props={"action": "next_step"})
    to_step = trees.new_element("button", props={"action": "step", "step_id": "step-2"})
    to_url = trees.new_element("button", props={"action": "url", "url": "https://example.com/x", "new_tab": True})
    ctx = RenderContext(next_url="/launch/thanks", step_urls={"step-2": "/launch/offer"})
    html = render_tree(page_with(to_next, to_step, to_url), "publish", ctx)
    assert 'href="/launch/thanks"' in html
    assert 'href="/launch/offer"' in html
    assert 'href="https://example.com/x" target="_blank" rel="noopener"' in html
    pricing = render_element(trees.new_element("pricing_table"), "publish", ctx)
    assert pricing.count('href="/launch/thanks"') == 2


def test_a_submit_button_outside_the_form_submits_the_pages_form():
    field = trees.new_element("input_field")
    form = form_with(field)
    submit = trees.new_element("button", props={"action": "submit", "label": "Yes, send it"})
    html = render_tree(page_with(form, submit), "publish")
    assert f'type="submit" form="lf-form-{form["id"]}"' in html


def test_form_fields_have_labels_the_honeypot_and_the_hidden_fields():
    email = trees.new_element("input_field", props={"label": "E-mail", "maps_to": "email"})
    message = trees.new_element("textarea")
    choice = trees.new_element("dropdown", props={"options": ["Red", "Blue"]})
    interests = trees.new_element("checkbox_group", props={"options": ["SEO", "Ads"]})
    form = form_with(email, message, choice, interests, submit_label="Get the guide")
    ctx = RenderContext(form_action="/_forms", form_token_slots=True, page_id="page-1")
    html = render_element(form, "publish", ctx)
    assert ('<form class="lf-form" style="max-width:min(100%,560px);margin-left:auto;margin-right:auto" '
            f'id="lf-form-{form["id"]}" method="post" action="/_forms">') in html
    assert f'name="form_id" value="{form["id"]}"' in html
    assert 'name="page_id" value="page-1"' in html
    assert f'name="form_token" value="{{{{lf-form-token:{form["id"]}}}}}"' in html  # filled when served
    assert re.search(r'<input type="text" id="[^"]+" name="website" value="" tabindex="-1" autocomplete="off">', html)
    for field in (email, message, choice):
        assert f'<label for="f-{field["id"]}">' in html
        assert f'id="f-{field["id"]}" name="{field["id"]}"' in html
    assert f'<input type="email" id="f-{email["id"]}" name="{email["id"]}" required' in html
    assert 'maxlength="500"' in html and 'maxlength="5000"' in html and 'autocomplete="email"' in html
    assert "<fieldset" in html and "<legend>I am interested in" in html
    assert html.count(f'name="{interests["id"]}"') == 2
    assert '<option value="">Choose…</option><option>Red</option>' in html
    assert ">Get the guide</button>" in html


def test_form_keeps_what_the_visitor_typed_and_shows_the_errors():
    email = trees.new_element("input_field", props={"label": "E-mail", "maps_to": "email"})
    name = trees.new_element("input_field", props={"label": "Name", "maps_to": "first_name", "input_type": "text"})
    choice = trees.new_element("dropdown", props={"options": ["Red", "Blue"]})
    interests = trees.new_element("checkbox_group", props={"options": ["SEO", "Ads", "Email"]})
    form = form_with(email, name, choice, interests)
    ctx = RenderContext(
        form_values={form["id"]: {email["id"]: "not-an-email", name["id"]: 'Ann "<b>"', choice["id"]: "Blue",
                                  interests["id"]: ["SEO", "Email"]}},
        form_errors={form["id"]: {email["id"]: "Enter a valid e-mail address."}})
    html = render_tree(page_with(form), "publish", ctx)
    assert 'value="not-an-email"' in html and 'value="Ann &#34;&lt;b&gt;&#34;"' in html
    assert "<option selected>Blue</option>" in html
    assert 'value="SEO" checked' in html and 'value="Email" checked' in html and 'value="Ads">' in html
    error_id = f'f-{email["id"]}-error'
    assert f'aria-invalid="true" aria-describedby="{error_id}"' in html
    assert f'<p class="lf-field__error" id="{error_id}">Enter a valid e-mail address.</p>' in html
    assert 'role="alert"' in html and f'<a href="#f-{email["id"]}">Enter a valid e-mail address.</a>' in html
    clean = render_tree(page_with(form), "publish", RenderContext())
    assert 'role="alert"' not in clean and "aria-invalid" not in clean


def test_edit_mode_forms_do_not_submit():
    html = render_element(form_with(trees.new_element("input_field")), "edit", RenderContext(form_token_slots=True))
    assert "<form" not in html and 'type="submit"' not in html and 'name="website"' not in html


def test_hide_on_devices():
    headline = trees.new_element("headline")
    headline["hide_on"] = ["mobile", "desktop"]
    published = render_element(headline, "publish")
    assert 'class="lf-headline lf-h1 lf-hide-mobile lf-hide-desktop"' in published
    edit = render_element(headline, "edit")
    assert "lf-hidden-on-mobile lf-hidden-on-desktop lf-el" in edit and "lf-hide-" not in edit
    css = site_stylesheet()
    for device in ("mobile", "tablet", "desktop"):
        assert f".lf-hide-{device}" in css and f".lf-hidden-on-{device}" in css


def test_style_becomes_an_inline_style_from_known_keys_only():
    headline = trees.new_element("headline", style={"color": "#ff0000", "background": "#000000", "text_align": "left",
                                                    "font_size": 18, "padding_y": 8, "margin_y": 4, "border_width": 2,
                                                    "border_color": "#00ff00", "border_radius": 6, "width": 50,
                                                    "max_width": 600})
    html = render_element(headline, "publish")
    assert ('style="color:#ff0000;background-color:#000000;text-align:left;font-size:18px;font-weight:800;'
            'padding-top:8px;padding-bottom:8px;margin-top:4px;margin-bottom:4px;border:2px solid #00ff00;'
            'border-radius:6px;width:50%;max-width:min(100%,600px);margin-left:auto;margin-right:auto"') in html
    button = render_element(trees.new_element("button", style={"background": "#111111", "text_align": "left"}),
                            "publish")
    assert '<div class="lf-button" style="text-align:left">' in button
    assert 'style="color:#ffffff;background-color:#111111"' in button


def test_section_has_its_anchor_and_is_named_by_its_headline():
    section = trees.new_element("section", props={"anchor": "pricing"}, children=[
        trees.new_element("row", children=[trees.new_element("columns", children=[
            trees.new_element("headline", props={"text": "Simple pricing"})])])])
    html = render_element(section, "publish")
    assert '<section class="lf-section"' in html and 'id="pricing" aria-label="Simple pricing"' in html


def test_countdowns_carry_their_deadline_for_the_script():
    fixed = trees.new_element("countdown_timer", props={"deadline": "2030-01-02T03:04"})
    evergreen = trees.new_element("countdown_evergreen", props={"minutes": 90})
    past = trees.new_element("countdown_timer", props={"deadline": "2020-01-01T00:00", "expired_text": "Too late"})
    html = render_tree(page_with(fixed, evergreen, past), "publish")
    assert 'data-deadline="2030-01-02T03:04:00Z"' in html and "Ends on 2 January 2030 at 03:04 UTC." in html
    assert f'data-minutes="90" data-key="lf-eg-{evergreen["id"]}"' in html
    assert 'data-unit="h">01</span>' in html and 'data-unit="m">30</span>' in html
    assert '<p class="lf-countdown__expired">Too late</p>' in html


def test_progress_bar_social_proof_and_testimonial_are_accessible():
    html = render_tree(page_with(trees.new_element("progress_bar", props={"percent": 70}),
                                 trees.new_element("social_proof", props={"rating": 4}),
                                 trees.new_element("testimonial")), "publish")
    assert 'role="progressbar" aria-valuenow="70" aria-valuemin="0" aria-valuemax="100"' in html
    assert 'aria-label="Rated 4 out of 5"' in html
    assert re.search(r"<figure [^>]*><span class=\"lf-stars\".*<blockquote>.*</blockquote><figcaption>", html)


def test_a_page_of_150_elements_renders(every_type):
    tree = trees.empty_page()
    column = column_id(tree)
    for index in range(150):
        name = CONTENT[index % len(CONTENT)]
        tree, _ = trees.insert(tree, column, 999, trees.new_element(name))
    assert trees.count(tree) >= 150
    html = render_tree(tree, "publish", RenderContext())
    assert html.count('class="lf-headline') == len([i for i in range(150) if CONTENT[i % len(CONTENT)] == "headline"])
    assert render_tree(tree, "edit").count('tabindex="0"') == trees.count(tree)


def test_site_stylesheet_is_small_enough_to_inline():
    css = site_stylesheet()
    assert ".lf-page" in css and len(css.encode()) < 15_000


def test_columns_share_the_row_and_the_gap_is_kept():
    row = trees.new_element("row", props={"gap": 40}, children=[
        trees.new_element("columns", props={"span": 8}), trees.new_element("columns", props={"span": 4})])
    html = render_element(row, "publish")
    assert 'style="--lf-gap:40px"' in html
    assert 'class="lf-col lf-span-8"' in html and 'class="lf-col lf-span-4"' in html


def test_an_element_saved_without_a_newer_prop_renders_with_its_default():
    headline = trees.new_element("headline")
    del headline["props"]["level"]
    assert render_element(headline, "publish").startswith("<h1 ")
