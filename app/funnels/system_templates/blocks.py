"""The building blocks of the system templates: sections a marketer expects (hero, three benefits,
testimonials, FAQ, call to action, footer), each drawn in a template's palette.

Every function returns elements made with `app.pages.tree.new_element`, so they are clean (props and
style checked against the element registry) and the whole page validates.
"""
import uuid
from dataclasses import dataclass

from app.pages.elements import PAGE
from app.pages.tree import new_element, validate

IMAGES = "/static/img/templates/"
STEP_NAMESPACE = uuid.UUID("6f1d3c1e-4b7a-4c55-9a41-1f0c2e7d9b10")


@dataclass(frozen=True)
class Palette:
    """One template's colours: a dark band (hero, call to action), a light band, one accent for buttons."""

    dark: str
    dark_text: str
    dark_muted: str
    light: str
    text: str
    muted: str
    accent: str
    accent_text: str
    ink: str  # the accent, dark enough for small text on white and light bands
    card: str = "#ffffff"
    line: str = "#e5e7eb"


# ---- single elements ----------------------------------------------------------------------------------

def headline(text: str, color: str, level: str = "h2", size: int = 36, align: str = "center",
             weight: str = "800", margin: int = 8) -> dict:
    return new_element("headline", {"text": text, "level": level},
                       {"color": color, "font_size": size, "font_weight": weight, "text_align": align,
                        "margin_y": margin})


def eyebrow(text: str, color: str, align: str = "center") -> dict:
    """The small capitalised line above a headline."""
    return new_element("subheadline", {"text": text},
                       {"color": color, "font_size": 14, "font_weight": "700", "text_align": align, "margin_y": 4})


def subheadline(text: str, color: str, size: int = 20, align: str = "center") -> dict:
    return new_element("subheadline", {"text": text},
                       {"color": color, "font_size": size, "font_weight": "400", "text_align": align, "margin_y": 8})


def text(html: str, color: str, size: int = 17, align: str = "", max_width: int | None = None) -> dict:
    style = {"color": color, "font_size": size}
    if align:
        style["text_align"] = align
    if max_width:
        style["max_width"] = max_width
    return new_element("text", {"html": html}, style)


def bullets(items: list[str], color: str, size: int = 17) -> dict:
    """A check-list: each line starts with a bold lead-in before the colon."""
    lines = []
    for item in items:
        lead, _, rest = item.partition(": ")
        lines.append(f"<li><strong>{lead}:</strong> {rest}</li>" if rest else f"<li>{item}</li>")
    return text("<ul>" + "".join(lines) + "</ul>", color, size)


def button(label: str, palette: Palette, action: str = "next_step", step_id: str = "", url: str = "",
           size: str = "large", align: str = "center", font_size: int = 19, width: int | None = None) -> dict:
    style = {"background": palette.accent, "color": palette.accent_text, "text_align": align,
             "font_size": font_size, "font_weight": "700", "border_radius": 10, "padding_y": 18, "padding_x": 32,
             "margin_y": 8}
    if width:
        style["width"] = width
    return new_element("button", {"label": label, "action": action, "step_id": step_id, "url": url, "size": size},
                       style)


def quiet_link(label: str, color: str, background: str, action: str = "next_step", step_id: str = "",
               align: str = "center") -> dict:
    """The "No thanks" link under an offer: a small button in the band's own colour."""
    return new_element("button", {"label": label, "action": action, "step_id": step_id, "size": "small"},
                       {"background": background, "color": color, "font_size": 15, "font_weight": "400",
                        "text_align": align, "padding_y": 6, "margin_y": 4})


def image(name: str, alt: str, width: int, height: int, radius: int = 12) -> dict:
    """Shown at `width` px at most (and never wider than the screen): no max-width style, which would
    replace the published page's max-width: 100%."""
    style = {"text_align": "center", "border_radius": radius, "margin_y": 8}
    return new_element("image", {"src": IMAGES + name, "alt": alt, "width": width, "height": height}, style)


def spacer(height: int) -> dict:
    return new_element("spacer", {"height": height})


def divider(color: str) -> dict:
    return new_element("divider", {"thickness": 1}, {"border_color": color, "margin_y": 16})


def social_proof(line: str, color: str, stars: int = 5, align: str = "center") -> dict:
    return new_element("social_proof", {"text": line, "rating": stars},
                       {"color": color, "font_size": 15, "text_align": align, "margin_y": 8})


def testimonial(quote: str, author: str, role: str, palette: Palette, avatar: str = "") -> dict:
    return new_element("testimonial", {"quote": quote, "author": author, "role": role,
                                       "avatar": IMAGES + avatar if avatar else "", "rating": 5},
                       {"background": palette.card, "color": palette.text, "border_radius": 16,
                        "border_width": 1, "border_color": palette.line, "padding_y": 28, "padding_x": 28})


def progress(percent: int, label: str, palette: Palette, on_dark: bool = False) -> dict:
    return new_element("progress_bar", {"percent": percent, "label": label, "bar_color": palette.accent},
                       {"color": palette.dark_text if on_dark else palette.text, "font_size": 14,
                        "margin_y": 8, "max_width": 520, "text_align": "center"})


def video(url: str, title: str) -> dict:
    return new_element("video", {"url": url, "title": title}, {"border_radius": 14, "margin_y": 16, "max_width": 880})


def not_on_phones(element: dict) -> dict:
    """The element hidden on phones: what would push the form below the first screen there (a picture, a
    list the next section repeats), still shown on tablets and desktops."""
    element["hide_on"] = ["mobile"]
    return element


# ---- forms --------------------------------------------------------------------------------------------

def field(label: str, maps_to: str, input_type: str = "text", placeholder: str = "", required: bool = True) -> dict:
    return new_element("input_field", {"label": label, "maps_to": maps_to, "input_type": input_type,
                                       "placeholder": placeholder, "required": required})


def email_field(label: str = "Your best e-mail", placeholder: str = "you@company.com") -> dict:
    return field(label, "email", "email", placeholder)


def first_name_field(placeholder: str = "Jordan") -> dict:
    return field("First name", "first_name", "text", placeholder)


def form(fields: list[dict], submit_label: str, tags: list[str], palette: Palette, action: str = "next_step",
         step_id: str = "", max_width: int = 560) -> dict:
    """The fields in a white card."""
    return new_element("form", {"submit_label": submit_label, "tags": tags, "action": action, "step_id": step_id},
                       {"max_width": max_width, "background": palette.card, "color": palette.text,
                        "border_radius": 16, "padding_y": 28, "padding_x": 28, "border_width": 1,
                        "border_color": palette.line},
                       children=fields)


def order_form(fields: list[dict], submit_label: str, tags: list[str], palette: Palette, max_width: int = 620) -> dict:
    """The order form in a white card: the buyer's fields; the step's products, bumps, coupon and card
    are added on the published page."""
    return new_element("order_form", {"submit_label": submit_label, "tags": tags},
                       {"max_width": max_width, "background": palette.card, "color": palette.text,
                        "border_radius": 16, "padding_y": 28, "padding_x": 28, "border_width": 1,
                        "border_color": palette.line},
                       children=fields)


def offer_buttons(accept_label: str, decline_label: str, palette: Palette) -> dict:
    """The yes (one click, the card saved at checkout) and no of an upsell or downsell."""
    return new_element("offer_buttons", {"accept_label": accept_label, "decline_label": decline_label},
                       {"background": palette.accent, "color": palette.accent_text, "text_align": "center"})


# ---- layout -------------------------------------------------------------------------------------------

def column(elements: list[dict], span: int = 12) -> dict:
    return new_element("columns", {"span": span}, children=elements)


def row(columns: list[dict], gap: int = 32) -> dict:
    return new_element("row", {"gap": gap}, children=columns)


def section(rows: list[dict], background: str, padding_y: int = 80, anchor: str = "", color: str = "") -> dict:
    style = {"background": background, "padding_y": padding_y, "padding_x": 20}
    if color:
        style["color"] = color
    return new_element("section", {"anchor": anchor}, style, children=rows)


def single(elements: list[dict], background: str, padding_y: int = 80, anchor: str = "") -> dict:
    """A section with one row of one column."""
    return section([row([column(elements)])], background, padding_y, anchor)


def card(elements: list[dict], palette: Palette, background: str = "", padding: int = 28) -> dict:
    return new_element("container", {}, {"background": background or palette.card, "color": palette.text,
                                         "border_radius": 16, "border_width": 1, "border_color": palette.line,
                                         "padding_y": padding, "padding_x": padding}, children=[*elements])


# ---- whole sections -----------------------------------------------------------------------------------

def announcement(message: str, palette: Palette) -> dict:
    """A thin bar above the hero (urgency, a date, a guarantee)."""
    return single([text(f"<p><strong>{message}</strong></p>", palette.accent_text, 15, "center")],
                  palette.accent, padding_y=10)


def benefits(title: str, items: list[tuple[str, str]], palette: Palette, background: str, intro: str = "",
             kicker: str = "") -> dict:
    """A headline and three (or more) cards side by side: title and one or two sentences each."""
    head = [eyebrow(kicker.upper(), palette.ink)] if kicker else []
    head += [headline(title, palette.text, "h2", 34)]
    if intro:
        head.append(subheadline(intro, palette.muted, 18))
    span = max(3, 12 // len(items))
    cards = [column([card([headline(name, palette.text, "h3", 20, "left", "700"),
                           text(f"<p>{body}</p>", palette.muted, 16)], palette)], span)
             for name, body in items]
    return section([row([column(head)]), row(cards, 24)], background)


def testimonials(title: str, items: list[tuple[str, str, str, str]], palette: Palette, background: str,
                 proof: str = "") -> dict:
    """(quote, author, role, avatar file) side by side, with a line of numbers above."""
    head = [headline(title, palette.text, "h2", 34)]
    if proof:
        head.append(social_proof(proof, palette.muted))
    span = max(4, 12 // len(items))
    quotes = [column([testimonial(quote, author, role, palette, avatar)], span)
              for quote, author, role, avatar in items]
    return section([row([column(head)]), row(quotes, 24)], background)


def faq(questions: list[tuple[str, str]], palette: Palette, background: str,
        title: str = "Questions, answered") -> dict:
    html = "".join(f"<h3>{question}</h3><p>{answer}</p>" for question, answer in questions)
    body = text(html, palette.text, 17, max_width=760)
    return single([headline(title, palette.text, "h2", 34), spacer(8), body], background)


def call_to_action(title: str, sub: str, label: str, palette: Palette, action: str = "next_step",
                   step_id: str = "", note: str = "", url: str = "") -> dict:
    """A dark band with one button; `url="#anchor"` scrolls back to the form instead of leaving."""
    elements = [headline(title, palette.dark_text, "h2", 38), subheadline(sub, palette.dark_muted, 19),
                button(label, palette, "url" if url else action, step_id, url)]
    if note:
        elements.append(text(f"<p>{note}</p>", palette.dark_muted, 14, "center"))
    return single(elements, palette.dark, padding_y=88)


def footer(brand: str, palette: Palette, note: str = "") -> dict:
    line = f"© {brand}. All rights reserved." + (f" {note}" if note else "")
    return single([text(f"<p>{line}</p>", palette.dark_muted, 13, "center")], palette.dark, padding_y=28)


# ---- pages and steps ----------------------------------------------------------------------------------

def page(sections: list[dict], palette: Palette) -> dict:
    tree = {"id": "root", "type": "page", "props": _page_props(palette),
            "style": {"background": "#ffffff", "color": palette.text}, "hide_on": [], "children": sections}
    return validate(tree)


def _page_props(palette: Palette) -> dict:
    """The page's accent (form buttons, pricing plans, progress) once the page element offers one."""
    offered = PAGE.props
    props = {}
    if "accent" in offered:
        props["accent"] = palette.accent
    if "accent_text" in offered:
        props["accent_text"] = palette.accent_text
    return props


def step_id(template_key: str, slug: str) -> str:
    """A stable id per template step, so buttons can point to a step before the funnel exists."""
    return str(uuid.uuid5(STEP_NAMESPACE, f"{template_key}/{slug}"))


def step(template_key: str, slug: str, name: str, step_type: str, title: str, description: str,
         tree: dict) -> dict:
    """One step of a snapshot, shaped like `app.funnels.versions.snapshot_of`."""
    return {"id": step_id(template_key, slug), "name": name, "slug": slug, "step_type": step_type, "settings": {},
            "page": {"title": title, "seo_title": title, "seo_description": description, "og_image_id": None,
                     "favicon_id": None, "tree": tree}}
