"""The builder's form: the page settings. It only carries the values (and the CSRF token): the service
(builder.services.update_settings) validates them, and app.core.forms.apply_error puts each message next
to its field. The ids keep the "ps-" prefix: the form is drawn inside the editor's document, beside the
element panel's fields."""
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from app.pages.history import TEXT_FIELDS

SLUG_MAX = 60
NO_IMAGE = SelectChoice("", "— None —")


def _text(label: str, name: str, maxlength: int, description: str, **render_kw) -> StringField:
    return StringField(label, id=f"ps-{name}", description=description,
                       render_kw={"maxlength": maxlength, "autocomplete": "off", **render_kw})


class PageSettingsForm(FlaskForm):
    title = _text("Page title", "title", TEXT_FIELDS["title"], "Shown in the browser tab when there is no SEO title.")
    slug = _text("Address (slug)", "slug", SLUG_MAX, "The last part of the page's address: letters a–z, digits and "
                 "dashes, e.g. free-guide.", spellcheck="false", autocapitalize="none")
    seo_title = _text("SEO title", "seo_title", TEXT_FIELDS["seo_title"],
                      "What search engines show as the link. About 60 characters fit.",
                      data_counter="ps-seo_title-count")
    seo_description = TextAreaField("SEO description", id="ps-seo_description",
                                    description="The line under the link in search results; about 155 characters "
                                                "show.",
                                    render_kw={"maxlength": TEXT_FIELDS["seo_description"], "rows": 3,
                                               "data_counter": "ps-seo_description-count"})
    og_image_id = SelectField("Social image", id="ps-og_image_id", validate_choice=False,
                              description="Shown when the page is shared (1200×630 works best).")
    favicon_id = SelectField("Favicon", id="ps-favicon_id", validate_choice=False,
                             description="The little icon of the browser tab (a square image).")

    FIELDS = ("title", "slug", "seo_title", "seo_description", "og_image_id", "favicon_id")
    COUNTED = ("seo_title", "seo_description")

    def offer_images(self, images) -> None:
        """The account's images as the choices of the social image and the favicon."""
        choices = [NO_IMAGE] + [SelectChoice(str(image.id), image.filename + (
            f" ({image.width}×{image.height})" if image.width else "")) for image in images]
        self.og_image_id.choices = self.favicon_id.choices = choices

    def service_data(self) -> dict:
        return {name: self[name].data or "" for name in self.FIELDS}


def settings_values(page) -> dict:
    """What the form shows of a saved page."""
    return {"title": page.title, "slug": page.step.slug, "seo_title": page.seo_title,
            "seo_description": page.seo_description, "og_image_id": str(page.og_image_id or ""),
            "favicon_id": str(page.favicon_id or "")}
