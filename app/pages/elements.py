"""The element types of the page builder: what each one holds, where it may go, and its defaults.

A page's tree is one JSON document:

    {"id": "root", "type": "page", "props": {}, "style": {...}, "children": [section, ...]}

and every element is ``{"id", "type", "props", "style", "hide_on", "children"}``. Sections hold rows,
rows hold columns (type ``columns``: one column each), columns hold content elements, containers and
forms; a form holds its fields. `app.pages.tree.validate` checks a whole tree against this registry
before anything is saved.
"""
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit

from app.core.errors import ValidationError
from app.core.sanitize import sanitize_rich_text

DEVICES = ("mobile", "tablet", "desktop")
MAX_DEPTH = 8  # page > section > row > column > container > container > form > field
MAX_ELEMENTS = 2000
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{2,39}$")
COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
CONTACT_FIELDS = {
    "email": "E-mail", "first_name": "First name", "last_name": "Last name", "phone": "Phone",
    "street": "Street", "city": "City", "region": "Region", "postal_code": "Postal code", "country": "Country",
}


# ---- property kinds: each turns a posted value into a clean one or raises ValueError -------------------

@dataclass(frozen=True)
class Prop:
    kind: str  # text, rich, url, image, color, choice, int, bool, datetime, list, items
    label: str
    default: object = ""
    required: bool = False
    max_length: int = 300
    choices: tuple = ()
    minimum: int = 0
    maximum: int = 10_000
    item: dict | None = None  # for "items": the Prop of each key of one item
    max_items: int = 24
    help: str = ""


def _text(prop: Prop, value) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError("must be text")
    value = value.strip()
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    if len(value) > prop.max_length:
        raise ValueError(f"has at most {prop.max_length:,} characters")
    return value


def clean_url(value: str, allow_relative: bool = True) -> str:
    """http(s), mailto, tel, an in-page #anchor or a site path; never javascript: or data:."""
    value = (value or "").strip()
    if not value:
        return ""
    if any(ch.isspace() for ch in value) or any(ord(ch) < 32 for ch in value):
        raise ValueError("must be a web address without spaces")
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.netloc:
            raise ValueError("must be a full web address, e.g. https://example.com")
        return value
    if scheme in ("mailto", "tel") and parts.path:
        return value
    in_site = value.startswith("/") and not value.startswith("//") or value.startswith("#")
    if not scheme and allow_relative and in_site:
        return value
    raise ValueError("must start with https://, http://, mailto:, tel:, / or #")


def _clean_prop(prop: Prop, value):
    kind = prop.kind
    if kind == "text":
        return _text(prop, value)
    if kind == "rich":
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError("must be text")
        if len(value) > prop.max_length:
            raise ValueError(f"has at most {prop.max_length:,} characters")
        return sanitized(value)
    if kind in ("url", "image"):
        return clean_url(_text(Prop("text", prop.label, max_length=2000), value))
    if kind == "color":
        value = _text(Prop("text", prop.label, max_length=7), value)
        if value and not COLOR_PATTERN.match(value):
            raise ValueError("must be a colour like #1a2b3c")
        return value.lower()
    if kind == "choice":
        if value not in prop.choices:
            raise ValueError(f"must be one of: {', '.join(map(str, prop.choices))}")
        return value
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError("must be a whole number")
        try:
            number = int(str(value).strip()) if isinstance(value, str) else int(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
            raise ValueError("must be a whole number") from None
        if isinstance(value, float) and value != number:
            raise ValueError("must be a whole number")
        if not prop.minimum <= number <= prop.maximum:
            raise ValueError(f"must be between {prop.minimum:,} and {prop.maximum:,}")
        return number
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "on", "1", 1):
            return True
        if value in ("false", "off", "0", 0, "", None):
            return False
        raise ValueError("must be true or false")
    if kind == "datetime":
        value = _text(Prop("text", prop.label, max_length=40), value)
        if not value:
            return ""
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be a date and time like 2026-12-31T18:00") from None
        return moment.isoformat(timespec="minutes")
    if kind == "list":  # a list of short strings (options, features, tag names)
        if isinstance(value, str):
            value = [line for line in value.splitlines()]
        if not isinstance(value, list):
            raise ValueError("must be a list")
        items = [_text(Prop("text", prop.label, max_length=prop.max_length), item) for item in value]
        items = [item for item in items if item]
        if len(items) > prop.max_items:
            raise ValueError(f"has at most {prop.max_items} entries")
        return items
    if kind == "items":  # a list of small records (gallery images, plans, ...)
        if not isinstance(value, list):
            raise ValueError("must be a list")
        if len(value) > prop.max_items:
            raise ValueError(f"has at most {prop.max_items} entries")
        cleaned = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise ValueError(f"entry {index + 1} must be an object")
            unknown = set(item) - set(prop.item)
            if unknown:
                raise ValueError(f"entry {index + 1} has unknown keys: {', '.join(sorted(unknown))}")
            cleaned.append({key: _clean_prop(sub, item.get(key, sub.default)) for key, sub in prop.item.items()})
        return cleaned
    raise AssertionError(f"unknown prop kind {kind}")


@lru_cache(maxsize=2048)
def sanitized(html: str) -> str:
    """Rich text through bleach, on save and again on render. bleach is slow and pure: a page
    re-validated or re-rendered at each edit sanitises each unchanged text once."""
    return sanitize_rich_text(html)


# ---- style: the same keys for every element -----------------------------------------------------------

STYLE = {
    "color": Prop("color", "Text colour"),
    "background": Prop("color", "Background"),
    "text_align": Prop("choice", "Alignment", choices=("", "left", "center", "right")),
    "font_size": Prop("int", "Font size (px)", minimum=8, maximum=120),
    "font_weight": Prop("choice", "Weight", choices=("", "400", "600", "700", "800")),
    "padding_y": Prop("int", "Padding top and bottom (px)", minimum=0, maximum=240),
    "padding_x": Prop("int", "Padding left and right (px)", minimum=0, maximum=240),
    "margin_y": Prop("int", "Space above and below (px)", minimum=0, maximum=240),
    "border_width": Prop("int", "Border width (px)", minimum=0, maximum=20),
    "border_color": Prop("color", "Border colour"),
    "border_radius": Prop("int", "Corner radius (px)", minimum=0, maximum=100),
    "width": Prop("int", "Width (%)", minimum=10, maximum=100),
    "max_width": Prop("int", "Largest width (px)", minimum=100, maximum=2400),
}


# ---- the registry -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ElementType:
    name: str
    label: str
    group: str  # basic, media, forms, advanced, layout
    description: str
    props: dict = field(default_factory=dict)
    children: tuple = ()  # the types this element may hold (empty: a leaf)
    default_style: dict = field(default_factory=dict)
    icon: str = "square"

    @property
    def is_container(self) -> bool:
        return bool(self.children)


LABEL = Prop("text", "Label", "Your e-mail", max_length=120)
MAPS_TO_HELP = "The contact field this answer fills; custom:<key> for a custom field."
SUBMIT_ACTIONS = ("next_step", "step", "url")
BUTTON_ACTIONS = ("next_step", "step", "url", "submit")
IMAGE_ITEM = {"src": Prop("image", "Image"), "alt": Prop("text", "Alt text"),
              "width": Prop("int", "Width", 0, minimum=0, maximum=4000),
              "height": Prop("int", "Height", 0, minimum=0, maximum=4000),
              "asset_id": Prop("text", "Asset", max_length=36)}
PLAN_ITEM = {"name": Prop("text", "Plan", "Starter", max_length=60),
             "price": Prop("text", "Price", "$49", max_length=30),
             "period": Prop("text", "Period", "one-time", max_length=30),
             "features": Prop("list", "Features", [], max_length=120, max_items=12),
             "button_label": Prop("text", "Button", "Get started", max_length=60),
             "highlighted": Prop("bool", "Highlighted", False)}

CONTENT = ("headline", "subheadline", "text", "button", "divider", "spacer", "image", "video", "gif",
           "image_gallery", "countdown_timer", "countdown_evergreen", "progress_bar", "social_proof",
           "testimonial", "pricing_table")
FIELDS = ("input_field", "textarea", "dropdown", "checkbox_group")
FORM_TYPES = ("form", "order_form")  # elements that hold fields and post them (an order form also takes payment)
COMMERCE = ("offer_buttons",)


def _types() -> dict[str, ElementType]:
    button_props = {
        "label": Prop("text", "Label", "Get instant access", required=True, max_length=120),
        "action": Prop("choice", "When clicked", "next_step", choices=BUTTON_ACTIONS,
                       help="Go to the next step, a chosen step, a web address, or submit the form it is in."),
        "url": Prop("url", "Web address"),
        "step_id": Prop("text", "Step", max_length=36),
        "new_tab": Prop("bool", "Open in a new tab", False),
        "size": Prop("choice", "Size", "large", choices=("small", "medium", "large")),
    }
    field_common = {
        "label": LABEL,
        "maps_to": Prop("text", "Saves to", "email", required=True, max_length=60, help=MAPS_TO_HELP),
        "required": Prop("bool", "Required", True),
    }
    types = [
        # basic
        ElementType("headline", "Headline", "basic", "The big promise at the top.", {
            "text": Prop("text", "Text", "Your headline here", required=True, max_length=300),
            "level": Prop("choice", "Level", "h1", choices=("h1", "h2", "h3")),
        }, default_style={"font_size": 44, "font_weight": "800", "text_align": "center"}, icon="heading"),
        ElementType("subheadline", "Subheadline", "basic", "A line that supports the headline.", {
            "text": Prop("text", "Text", "A supporting line that says who it is for", required=True, max_length=500),
        }, default_style={"font_size": 22, "text_align": "center"}, icon="subheading"),
        ElementType("text", "Text", "basic", "Paragraphs with bold, italics, lists and links.", {
            "html": Prop("rich", "Text", "<p>Write your copy here.</p>", required=True, max_length=20_000),
        }, icon="text"),
        ElementType("button", "Button", "basic", "A call to action.", button_props,
                    default_style={"text_align": "center", "background": "#2563eb", "color": "#ffffff"},
                    icon="button"),
        ElementType("divider", "Divider", "basic", "A horizontal line.", {
            "line_style": Prop("choice", "Line", "solid", choices=("solid", "dashed", "dotted")),
            "thickness": Prop("int", "Thickness (px)", 1, minimum=1, maximum=20),
        }, icon="divider"),
        ElementType("spacer", "Spacer", "basic", "Empty vertical space.", {
            "height": Prop("int", "Height (px)", 40, minimum=4, maximum=400),
        }, icon="spacer"),
        # media
        ElementType("image", "Image", "media", "A picture from the asset library or a web address.", {
            "src": Prop("image", "Image", "/static/img/placeholder.svg"),
            "asset_id": Prop("text", "Asset", max_length=36),
            "alt": Prop("text", "Alt text", "", max_length=300,
                        help="What the image shows, for screen readers and search engines."),
            "width": Prop("int", "Width (px)", 800, minimum=0, maximum=4000),
            "height": Prop("int", "Height (px)", 450, minimum=0, maximum=4000),
            "link": Prop("url", "Link"),
        }, default_style={"text_align": "center"}, icon="image"),
        ElementType("video", "Video", "media", "YouTube, Vimeo or an MP4 file.", {
            "url": Prop("url", "Video address", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", required=True,
                        help="A YouTube or Vimeo link, or the address of an .mp4 file."),
            "title": Prop("text", "Title (for screen readers)", "Video", max_length=200),
        }, icon="video"),
        ElementType("gif", "GIF", "media", "An animated GIF.", {
            "src": Prop("image", "GIF", "/static/img/placeholder.svg"),
            "asset_id": Prop("text", "Asset", max_length=36),
            "alt": Prop("text", "Alt text", "", max_length=300),
            "width": Prop("int", "Width (px)", 480, minimum=0, maximum=4000),
            "height": Prop("int", "Height (px)", 270, minimum=0, maximum=4000),
        }, default_style={"text_align": "center"}, icon="gif"),
        ElementType("image_gallery", "Image gallery", "media", "A grid of pictures.", {
            "images": Prop("items", "Images", [], item=IMAGE_ITEM, max_items=24),
            "columns": Prop("int", "Columns", 3, minimum=1, maximum=6),
        }, icon="gallery"),
        # forms
        ElementType("form", "Form", "forms", "Captures a lead: fields and a submit button.", {
            "submit_label": Prop("text", "Button label", "Send me the guide", required=True, max_length=120),
            "tags": Prop("list", "Tags to add to the contact", [], max_length=50, max_items=10),
            "action": Prop("choice", "After submitting", "next_step", choices=SUBMIT_ACTIONS),
            "step_id": Prop("text", "Step", max_length=36),
            "url": Prop("url", "Web address"),
        }, children=FIELDS, default_style={"max_width": 560}, icon="form"),
        ElementType("order_form", "Order form", "forms",
                    "Sells the step's products: customer fields, order bumps, a coupon, the card and a summary.", {
            "submit_label": Prop("text", "Button label", "Complete my order", required=True, max_length=120),
            "tags": Prop("list", "Tags to add to the customer", [], max_length=50, max_items=10),
            "card_label": Prop("text", "Card label", "Card details", required=True, max_length=60),
        }, children=FIELDS, default_style={"max_width": 560}, icon="cart"),
        ElementType("offer_buttons", "One-click offer", "forms",
                    "The yes and no of an upsell or downsell: yes charges the card saved at checkout.", {
            "accept_label": Prop("text", "Yes button", "Yes, add this to my order", required=True, max_length=120),
            "decline_label": Prop("text", "No link", "No thanks", required=True, max_length=120),
        }, default_style={"text_align": "center"}, icon="cart"),
        ElementType("input_field", "Input field", "forms", "One line: e-mail, name, phone...", {
            **field_common,
            "input_type": Prop("choice", "Type", "email", choices=("text", "email", "tel", "number", "date", "url")),
            "placeholder": Prop("text", "Placeholder", "you@example.com", max_length=120),
        }, icon="input"),
        ElementType("textarea", "Text area", "forms", "A longer answer.", {
            **field_common, "label": Prop("text", "Label", "Your message", max_length=120),
            "maps_to": Prop("text", "Saves to", "custom:message", required=True, max_length=60, help=MAPS_TO_HELP),
            "required": Prop("bool", "Required", False),
            "placeholder": Prop("text", "Placeholder", "", max_length=120),
            "rows": Prop("int", "Rows", 4, minimum=2, maximum=20),
        }, icon="textarea"),
        ElementType("dropdown", "Dropdown", "forms", "One choice from a list.", {
            **field_common, "label": Prop("text", "Label", "Choose one", max_length=120),
            "maps_to": Prop("text", "Saves to", "custom:choice", required=True, max_length=60, help=MAPS_TO_HELP),
            "options": Prop("list", "Options (one a line)", ["Option A", "Option B"], max_length=120, max_items=50),
        }, icon="dropdown"),
        ElementType("checkbox_group", "Checkboxes", "forms", "Several choices.", {
            **field_common, "label": Prop("text", "Label", "I am interested in", max_length=120),
            "maps_to": Prop("text", "Saves to", "custom:interests", required=True, max_length=60, help=MAPS_TO_HELP),
            "required": Prop("bool", "Required", False),
            "options": Prop("list", "Options (one a line)", ["Option A", "Option B"], max_length=120, max_items=50),
        }, icon="checkbox"),
        # advanced
        ElementType("countdown_timer", "Countdown", "advanced", "Counts down to a fixed date and time.", {
            "deadline": Prop("datetime", "Ends at (UTC)", "2026-12-31T23:59", required=True),
            "expired_text": Prop("text", "When it is over", "This offer has ended.", max_length=200),
        }, default_style={"text_align": "center"}, icon="clock"),
        ElementType("countdown_evergreen", "Evergreen countdown", "advanced",
                    "Counts down from each visitor's first visit.", {
                        "minutes": Prop("int", "Minutes from the first visit", 15, minimum=1, maximum=43_200),
                        "expired_text": Prop("text", "When it is over", "This offer has ended.", max_length=200),
                    }, default_style={"text_align": "center"}, icon="clock"),
        ElementType("progress_bar", "Progress bar", "advanced", "Shows how far along the visitor is.", {
            "percent": Prop("int", "Percent", 50, minimum=0, maximum=100),
            "label": Prop("text", "Label", "Almost there: 50% complete", max_length=120),
            "bar_color": Prop("color", "Bar colour", "#2563eb"),
        }, icon="progress"),
        ElementType("social_proof", "Social proof", "advanced", "A short line of numbers people trust.", {
            "text": Prop("text", "Text", "Join 12,000+ marketers who already use it", required=True, max_length=200),
            "rating": Prop("int", "Stars (0 for none)", 5, minimum=0, maximum=5),
        }, default_style={"text_align": "center"}, icon="users"),
        ElementType("testimonial", "Testimonial", "advanced", "A quote from a happy customer.", {
            "quote": Prop("text", "Quote", "This changed how we get leads.", required=True, max_length=1000),
            "author": Prop("text", "Name", "Alex Morgan", max_length=120),
            "role": Prop("text", "Role", "Founder, Brightside", max_length=120),
            "avatar": Prop("image", "Photo"),
            "rating": Prop("int", "Stars (0 for none)", 5, minimum=0, maximum=5),
        }, icon="quote"),
        ElementType("pricing_table", "Pricing table", "advanced", "Plans side by side.", {
            "plans": Prop("items", "Plans", [
                {"name": "Starter", "price": "$29", "period": "per month", "features": ["1 funnel", "Email support"],
                 "button_label": "Start", "highlighted": False},
                {"name": "Pro", "price": "$79", "period": "per month",
                 "features": ["Unlimited funnels", "Priority support"], "button_label": "Go Pro",
                 "highlighted": True}], item=PLAN_ITEM, max_items=4),
        }, icon="pricing"),
        # layout
        ElementType("section", "Section", "layout", "A full-width band of the page.", {
            "full_width": Prop("bool", "Content spans the full width", False),
            "anchor": Prop("text", "Anchor name (for #links)", max_length=40),
        }, children=("row",), default_style={"padding_y": 64, "padding_x": 16}, icon="section"),
        ElementType("row", "Row", "layout", "Columns side by side.", {
            "gap": Prop("int", "Gap between columns (px)", 24, minimum=0, maximum=120),
        }, children=("columns",), icon="row"),
        ElementType("columns", "Column", "layout", "One column of a row.", {
            "span": Prop("int", "Share of the row (1-12)", 12, minimum=1, maximum=12),
        }, children=CONTENT + COMMERCE + ("container",) + FORM_TYPES, icon="columns"),
        ElementType("container", "Container", "layout", "A box that groups elements.", {},
                    children=CONTENT + COMMERCE + ("container",) + FORM_TYPES,
                    default_style={"padding_y": 24, "padding_x": 24, "border_radius": 12}, icon="container"),
    ]
    return {element_type.name: element_type for element_type in types}


TYPES = _types()
PAGE = ElementType("page", "Page", "layout", "The page.", {
    "accent": Prop("color", "Accent (buttons, plans, progress)", "#2563eb"),
    "accent_text": Prop("color", "Text on the accent", "#ffffff"),
}, children=("section",), default_style={"background": "#ffffff", "color": "#111827"})
GROUPS = {"basic": "Basic", "media": "Media", "forms": "Forms", "advanced": "Advanced", "layout": "Layout"}


def element_type(name: str) -> ElementType:
    if name == "page":
        return PAGE
    return TYPES[name]


def library() -> list[tuple[str, list[ElementType]]]:
    """The element library, by group, as the builder's side bar shows it."""
    return [(label, [t for t in TYPES.values() if t.group == group]) for group, label in GROUPS.items()]


def clean_props(type_name: str, props, element_id: str = "") -> dict:
    """Every prop of the type, cleaned; unknown keys and bad values are refused (422)."""
    spec = element_type(type_name)
    if not isinstance(props, dict):
        raise ValidationError(f"The {spec.label.lower()}'s properties must be an object.", field=element_id or "props")
    unknown = set(props) - set(spec.props)
    if unknown:
        raise ValidationError(f"The {spec.label.lower()} has no property {', '.join(sorted(unknown))}.",
                              field=element_id or "props")
    cleaned = {}
    for key, prop in spec.props.items():
        value = props.get(key, prop.default)
        try:
            cleaned[key] = _clean_prop(prop, value)
        except ValueError as error:
            raise ValidationError(f"{spec.label}: {prop.label.lower()} {error}.", field=element_id or key) from None
        if prop.required and cleaned[key] in ("", [], None):
            raise ValidationError(f"{spec.label}: enter the {prop.label.lower()}.", field=element_id or key)
    return cleaned


def clean_style(style, element_id: str = "", label: str = "element") -> dict:
    """Only known style keys with valid values; empty values are left out."""
    if style is None:
        return {}
    if not isinstance(style, dict):
        raise ValidationError(f"The {label}'s style must be an object.", field=element_id or "style")
    unknown = set(style) - set(STYLE)
    if unknown:
        raise ValidationError(f"There is no style {', '.join(sorted(unknown))}.", field=element_id or "style")
    cleaned = {}
    for key, value in style.items():
        if value in ("", None):
            continue
        try:
            cleaned[key] = _clean_prop(STYLE[key], value)
        except ValueError as error:
            raise ValidationError(f"{STYLE[key].label} {error}.", field=element_id or key) from None
    return {key: value for key, value in cleaned.items() if value != ""}


def clean_hide_on(value, element_id: str = "") -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or any(device not in DEVICES for device in value):
        raise ValidationError(f"Hide on takes a list of: {', '.join(DEVICES)}.", field=element_id or "hide_on")
    return [device for device in DEVICES if device in value]


def video_embed(url: str) -> dict | None:
    """{"kind": "youtube"|"vimeo"|"mp4", "src": ...} for a supported video address, else None."""
    parts = urlsplit(url or "")
    host = parts.netloc.lower().removeprefix("www.").removeprefix("m.")
    if parts.scheme not in ("http", "https"):
        return None
    if host in ("youtube.com", "youtube-nocookie.com"):
        match = re.search(r"(?:^|&)v=([A-Za-z0-9_-]{6,20})", parts.query) or \
            re.match(r"^/(?:embed|shorts|live)/([A-Za-z0-9_-]{6,20})", parts.path)
        if match:
            return {"kind": "youtube", "src": f"https://www.youtube-nocookie.com/embed/{match.group(1)}"}
    if host == "youtu.be":
        match = re.match(r"^/([A-Za-z0-9_-]{6,20})", parts.path)
        if match:
            return {"kind": "youtube", "src": f"https://www.youtube-nocookie.com/embed/{match.group(1)}"}
    if host in ("vimeo.com", "player.vimeo.com"):
        match = re.search(r"/(\d{5,12})(?:$|[/?#])", parts.path + "/")
        if match:
            return {"kind": "vimeo", "src": f"https://player.vimeo.com/video/{match.group(1)}"}
    if parts.path.lower().endswith(".mp4"):
        return {"kind": "mp4", "src": url}
    return None


def clean_value(prop: Prop, value):
    """One field of the builder's panel: the clean value, or ValidationError with a message for the field."""
    try:
        cleaned = _clean_prop(prop, value)
    except ValueError as error:
        raise ValidationError(f"{prop.label} {error}.") from None
    if prop.required and cleaned in ("", [], None):
        raise ValidationError(f"Enter the {prop.label.lower()}.")
    return cleaned
