"""Helpers of the published-site tests: a funnel with an opt-in form and a thank-you page."""
import pytest

from app.funnels import services as funnels
from app.pages import tree as trees

SITE = "http://pages.example.com"


@pytest.fixture(autouse=True)
def _empty_site_cache(empty_site_cache):
    """Every site test starts and ends with an empty page cache (tests/conftest.py)."""


def opt_in_form(tags=("lead-magnet",), action="next_step", **props):
    return trees.new_element("form", props={"tags": list(tags), "action": action, "submit_label": "Send me the guide",
                                            **props}, children=[
        trees.new_element("input_field", props={"label": "Your e-mail", "maps_to": "email", "input_type": "email",
                                                "required": True}),
        trees.new_element("input_field", props={"label": "First name", "maps_to": "first_name", "input_type": "text",
                                                "required": True, "placeholder": ""}),
        trees.new_element("textarea", props={"label": "Your question", "maps_to": "custom:question",
                                             "required": False}),
        trees.new_element("dropdown", props={"label": "Team size", "maps_to": "custom:team_size", "required": False,
                                             "options": ["1-10", "11-50", "51+"]}),
        trees.new_element("checkbox_group", props={"label": "Interests", "maps_to": "custom:interests",
                                                   "required": False, "options": ["SEO", "Ads", "E-mail"]}),
    ])


def opt_in_tree(form=None):
    headline = trees.new_element("headline", props={"text": "Get the free guide"})
    tree = trees.empty_page()
    tree["children"] = [trees.section_with([headline, form or opt_in_form()])]
    return trees.validate(tree)


def thanks_tree():
    tree = trees.empty_page()
    tree["children"] = [trees.section_with([trees.new_element("headline", props={"text": "Thank you!"})])]
    return trees.validate(tree)


def make_funnel(account, owner, slug="free-guide", domain=None, form=None, name="Free guide"):
    return funnels.create_funnel(account, {"name": name, "slug": slug, "custom_domain": domain}, owner, steps=[
        {"name": "Opt-in", "slug": "opt-in", "page": {"tree": opt_in_tree(form), "title": "Free guide",
                                                      "seo_description": "The guide, free."}},
        {"name": "Thank you", "slug": "thanks", "step_type": "thank_you", "page": {"tree": thanks_tree()}},
    ])


def site_get(client, path, **kwargs):
    return client.get(path, base_url=SITE, **kwargs)


