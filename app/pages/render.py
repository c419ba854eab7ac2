"""Renders a page's element tree to HTML: the builder canvas ("edit") and the published page ("publish").

One Jinja macro per element type (templates/elements/elements.html) renders both modes; this module
walks the tree, turns each element's validated style into an inline style attribute, resolves links
and form state from the RenderContext, and hands every macro the few helpers it needs:

- ``a(classes, style=...)``: the attributes of the element's root tag (class, style, hide-on classes,
  and in edit mode ``lf-el``, ``data-element-id``, ``data-type``, ``tabindex``, ``aria-label``);
- ``kids(classes, style=...)``: the attributes of the box that holds a container's children (in edit
  mode the ``lf-children`` list SortableJS attaches to, with ``data-parent-id`` and ``data-accepts``).

No database work happens here: asset URLs come from ``ctx.asset_url``.
"""
from __future__ import annotations

import hashlib
import html
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache

from flask import current_app
from markupsafe import Markup, escape

from app.core.sanitize import text_of
from app.pages.elements import FORM_TYPES, element_type, sanitized, video_embed

MODES = ("edit", "publish")
TEMPLATE = "elements/elements.html"
PLACEHOLDER_IMAGE = "/static/img/placeholder.svg"
INPUT_MAX_LENGTH = 500
TEXTAREA_MAX_LENGTH = 5000
HONEYPOT_FIELD = "website"
SITE_SCRIPT = "site/site.js"  # under static/: the published pages' script

# Style keys that belong on an inner tag (the button itself, the picture) rather than the element's box.
INNER_STYLE = {
    "button": ("color", "background", "font_size", "font_weight", "padding_y", "padding_x", "border_width",
               "border_color", "border_radius", "width", "max_width"),
    "image": ("border_width", "border_color", "border_radius", "width", "max_width"),
    "gif": ("border_width", "border_color", "border_radius", "width", "max_width"),
    "section": ("max_width",),
}
AUTOCOMPLETE = {"email": "email", "first_name": "given-name", "last_name": "family-name", "phone": "tel",
                "street": "street-address", "city": "address-level2", "region": "address-level1",
                "postal_code": "postal-code", "country": "country-name"}
SUMMARY_PROPS = ("text", "label", "quote", "submit_label", "title", "alt")
# Types whose root tag has a role of its own; the others get role="group" in edit mode, where they are named.
NAMED_ROOTS = {"headline", "section", "image", "gif", "testimonial", "checkbox_group"}


@dataclass
class RenderContext:
    step_urls: dict[str, str] = field(default_factory=dict)  # step id -> URL
    next_url: str = "#"
    form_action: str = ""
    form_errors: dict[str, dict[str, str]] = field(default_factory=dict)  # form id -> field id -> message
    form_values: dict[str, dict[str, str]] = field(default_factory=dict)  # form id -> field id -> value
    form_token_slots: bool = False  # published: each form's token is a slot {{lf-form-token:<form id>}}
    asset_url: Callable[[str], str] | None = None
    page_id: str = ""
    checkout: bool = False  # the published page: the order form takes payment, offers charge the saved card


@dataclass
class _Run:
    """What one rendering carries down the tree."""
    edit: bool
    ctx: RenderContext
    macros: object
    form_id: str = ""  # the form whose fields are being rendered
    first_form_id: str = ""  # submit buttons outside a form submit this one


# ---- public interface ---------------------------------------------------------------------------------

def render_tree(tree: dict, mode: str, ctx: RenderContext | None = None) -> Markup:
    """The body content of a page: ``<main>`` with its sections."""
    run = _run(mode, ctx)
    run.first_form_id = next((node["id"] for node in _walk(tree) if node.get("type") in FORM_TYPES), "")
    inner = Markup("").join(_render(child, run) for child in tree.get("children") or [])
    return run.macros.page(el=tree, edit=run.edit, css=_page_css(tree), children=inner,
                           kids=_kids_attrs(tree, run))


def _page_css(tree: dict) -> str:
    """The page's style plus its accent colours as CSS variables (validated #rrggbb values)."""
    props = tree.get("props") or {}
    accents = [f"--lf-{name}:{props[key]}" for key, name in (("accent", "accent"), ("accent_text", "on-accent"))
               if props.get(key)]
    return ";".join(accents + ([_css(tree.get("style") or {})] if tree.get("style") else []))


def render_element(element: dict, mode: str, ctx: RenderContext | None = None) -> Markup:
    """One element with its children (the fragment the builder swaps after an edit)."""
    return _render(element, _run(mode, ctx))


def checkout_stylesheet() -> str:
    """The CSS of the checkout's parts (inlined only in pages with an order form or a one-click offer)."""
    return _read_static("site/checkout.css", minify=True)


def site_stylesheet() -> str:
    """The CSS of published pages (inlined into every published document), without comments and spaces."""
    return _read_static("site/site.css", minify=True)


def site_script_path() -> str:
    """The path, under static/, of the published pages' script (countdowns, one submit per form)."""
    return SITE_SCRIPT


def site_script() -> bytes:
    """The published pages' script, as served (the site host's /_site.js) and exported."""
    path = os.path.join(current_app.static_folder, SITE_SCRIPT)
    return _read_bytes(path, os.path.getmtime(path))


def site_script_version() -> str:
    """A short hash of the script: its URL carries it, so it can be cached for a year."""
    return _script_hash(site_script())


# ---- the walk -----------------------------------------------------------------------------------------

def _run(mode: str, ctx: RenderContext | None) -> _Run:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    return _Run(edit=mode == "edit", ctx=ctx or RenderContext(), macros=_macros())


def _macros():
    # The environment caches the compiled template; .module is cached on the template object.
    return current_app.jinja_env.get_template(TEMPLATE).module


def _walk(node: dict):
    yield node
    for child in node.get("children") or []:
        yield from _walk(child)


def _render(element: dict, run: _Run) -> Markup:
    type_name = element["type"]
    if type_name == "page":
        return render_tree(element, "edit" if run.edit else "publish", run.ctx)
    spec = element_type(type_name)
    props = {**_defaults(type_name), **(element.get("props") or {})}
    for key in _rich_props(type_name):  # cleaned when saved; again here, whatever the tree's origin
        props[key] = sanitized(props[key]) if isinstance(props[key], str) else ""
    style = element.get("style") or {}
    children = None
    if spec.is_container:
        outer_form = run.form_id
        if type_name in FORM_TYPES:
            run.form_id = element["id"]
        children = Markup("").join(_render(child, run) for child in element.get("children") or [])
        run.form_id = outer_form
    inner_keys = INNER_STYLE.get(type_name, ())
    outer_css = _css({k: v for k, v in style.items() if k not in inner_keys})
    inner_css = _css({k: v for k, v in style.items() if k in inner_keys})
    macro = getattr(run.macros, type_name)
    return macro(el=element, p=props, edit=run.edit, ctx=run.ctx, children=children, inner_css=inner_css,
                 a=_root_attrs(element, spec, run, outer_css), kids=_kids_attrs(element, run),
                 x=_extras(element, props, run))


@cache
def _default_props(type_name: str) -> tuple:
    return tuple((key, prop.default) for key, prop in element_type(type_name).props.items())


@cache
def _rich_props(type_name: str) -> tuple:
    return tuple(key for key, prop in element_type(type_name).props.items() if prop.kind == "rich")


def _defaults(type_name: str) -> dict:
    """The type's default props: a tree saved before a prop was added still renders."""
    return dict(_default_props(type_name))


def _root_attrs(element: dict, spec, run: _Run, outer_css: str):
    hide_on = element.get("hide_on") or []
    if run.edit:
        hidden = [f"lf-hidden-on-{device}" for device in hide_on]
        base = f"data-element-id=\"{escape(element['id'])}\" data-type=\"{element['type']}\" tabindex=\"0\" " \
               f"aria-label=\"{escape(_summary(element, spec))}\"" + \
               ("" if element["type"] in NAMED_ROOTS else ' role="group"')
    else:
        hidden = [f"lf-hide-{device}" for device in hide_on]
        base = ""

    def attrs(classes: str = "", style: str = "", **extra) -> Markup:
        names = " ".join(filter(None, [classes, *hidden, "lf-el" if run.edit else ""]))
        css = ";".join(filter(None, [outer_css, style]))
        parts = [f'class="{escape(names)}"'] if names else []
        if css:
            parts.append(f'style="{escape(css)}"')
        for key, value in extra.items():
            if run.edit and key == "aria_label":  # edit mode names every element itself
                continue
            if value not in (None, False, ""):
                parts.append(f'{key.rstrip("_").replace("_", "-")}="{escape(value)}"')
        if base:
            parts.append(base)
        return Markup(" ".join(parts))

    return attrs


def _kids_attrs(element: dict, run: _Run):
    def attrs(classes: str = "", style: str = "") -> Markup:
        parts = []
        if run.edit:
            accepts = " ".join(element_type(element["type"]).children)
            parts.append(f'class="{escape(" ".join(filter(None, [classes, "lf-children"])))}"')
            parts.append(f'data-parent-id="{escape(element["id"])}" data-accepts="{accepts}" '
                         f'data-empty="Drop elements here"')
        elif classes:
            parts.append(f'class="{escape(classes)}"')
        if style:
            parts.append(f'style="{escape(style)}"')
        return Markup(" ".join(parts))

    return attrs


def _summary(element: dict, spec) -> str:
    props = element.get("props") or {}
    if element["type"] == "section":  # a section is known by its headline
        props = {"text": _section(element, props, None)["label"]}
    text = next((props[key] for key in SUMMARY_PROPS if isinstance(props.get(key), str) and props[key]), "")
    if not text and props.get("html"):
        text = html.unescape(text_of(props["html"]))  # text_of answers escaped text
    text = " ".join(text.split())
    if len(text) > 60:
        text = text[:59] + "…"
    return f"{spec.label}: {text}" if text else spec.label


# ---- per-type extras: links, media sources, form state, countdowns ------------------------------------

def _extras(element: dict, props: dict, run: _Run) -> dict:
    handler = _EXTRAS.get(element["type"])
    return handler(element, props, run) if handler else {}


def link_for(props: dict, ctx: RenderContext) -> str:
    """Where a button (or a plan's button) goes: the next step, a chosen step, or a web address."""
    action = props.get("action", "next_step")
    if action == "step":
        return ctx.step_urls.get(props.get("step_id") or "", "#")
    if action == "url":
        return props.get("url") or "#"
    return ctx.next_url or "#"


def _image_src(item: dict, ctx: RenderContext) -> str:
    if item.get("asset_id") and ctx.asset_url:
        url = ctx.asset_url(item["asset_id"])
        if url:
            return url
    return item.get("src") or PLACEHOLDER_IMAGE


def _button(element, props, run):
    submit = props.get("action") == "submit"
    return {"href": "" if submit else link_for(props, run.ctx), "submit": submit,
            "form": run.first_form_id if submit and not run.form_id else "",
            "new_tab": props.get("action") == "url" and props.get("new_tab")}


def _image(element, props, run):
    return {"src": _image_src(props, run.ctx)}


def _gallery(element, props, run):
    return {"images": [{**item, "src": _image_src(item, run.ctx)} for item in props.get("images") or []]}


def _testimonial(element, props, run):
    return {"avatar": _image_src({"src": props.get("avatar")}, run.ctx) if props.get("avatar") else ""}


def _section(element, props, run):
    """A section is named by its first headline, so screen readers list it as a region."""
    headline = next((node for node in _walk(element) if node.get("type") == "headline"), None)
    return {"label": headline["props"].get("text", "") if headline else ""}


def _video(element, props, run):
    return {"embed": video_embed(props.get("url") or "")}


def _pricing(element, props, run):
    return {"href": run.ctx.next_url or "#"}


def _form(element, props, run):
    errors = run.ctx.form_errors.get(element["id"]) or {}
    field_ids = {child["id"]: child for child in element.get("children") or []}
    summary = [{"id": key if key in field_ids else "", "message": message} for key, message in errors.items()]
    return {"errors": summary, "honeypot": HONEYPOT_FIELD}


def _field(element, props, run):
    form_id = run.form_id
    value = (run.ctx.form_values.get(form_id) or {}).get(element["id"], "")
    error = (run.ctx.form_errors.get(form_id) or {}).get(element["id"], "")
    if element["type"] == "checkbox_group":
        if isinstance(value, str):
            value = [v for v in value.split("\n") if v] if value else []
        value = set(value or [])
    elif not isinstance(value, str):
        value = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value or "")
    maps_to = props.get("maps_to") or ""
    return {"value": value, "error": error, "dom_id": f"f-{element['id']}",
            "autocomplete": AUTOCOMPLETE.get(maps_to, ""),
            "maxlength": TEXTAREA_MAX_LENGTH if element["type"] == "textarea" else INPUT_MAX_LENGTH}


def _countdown(element, props, run):
    deadline = _utc(props.get("deadline") or "")
    if deadline is None:
        return {"deadline": "", "parts": _parts(0), "expired": True, "ends": ""}
    remaining = (deadline - datetime.now(UTC)).total_seconds()
    return {"deadline": deadline.strftime("%Y-%m-%dT%H:%M:%SZ"), "parts": _parts(remaining),
            "expired": remaining <= 0 and not run.edit,
            "ends": f"{deadline.day} {deadline:%B %Y} at {deadline:%H:%M} UTC"}


def _evergreen(element, props, run):
    return {"parts": _parts(int(props.get("minutes") or 0) * 60), "key": f"lf-eg-{element['id']}"}


def _utc(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:  # the builder's deadline is in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _parts(seconds: float) -> list[tuple[str, str, str]]:
    """[(unit, label, two-digit value)] for days, hours, minutes, seconds."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return [("d", "Days", f"{days:02d}"), ("h", "Hours", f"{hours:02d}"), ("m", "Minutes", f"{minutes:02d}"),
            ("s", "Seconds", f"{secs:02d}")]


_EXTRAS = {"section": _section, "button": _button, "image": _image, "gif": _image, "image_gallery": _gallery,
           "video": _video,
           "testimonial": _testimonial, "pricing_table": _pricing, "form": _form, "order_form": _form,
           "input_field": _field,
           "textarea": _field, "dropdown": _field, "checkbox_group": _field, "countdown_timer": _countdown,
           "countdown_evergreen": _evergreen}


# ---- style --------------------------------------------------------------------------------------------

def _css(style: dict) -> str:
    """An inline style from validated style keys only (elements.clean_style made every value safe)."""
    out = []
    if style.get("color"):
        out.append(f"color:{style['color']}")
    if style.get("background"):
        out.append(f"background-color:{style['background']}")
    if style.get("text_align"):
        out.append(f"text-align:{style['text_align']}")
    if style.get("font_size"):
        out.append(f"font-size:{_font_size(int(style['font_size']))}")
    if style.get("font_weight"):
        out.append(f"font-weight:{int(style['font_weight'])}")
    if "padding_y" in style:
        padding = _padding_y(int(style["padding_y"]))
        out.append(f"padding-top:{padding};padding-bottom:{padding}")
    if "padding_x" in style:
        out.append(f"padding-left:{int(style['padding_x'])}px;padding-right:{int(style['padding_x'])}px")
    if "margin_y" in style:
        out.append(f"margin-top:{int(style['margin_y'])}px;margin-bottom:{int(style['margin_y'])}px")
    if style.get("border_width"):
        out.append(f"border:{int(style['border_width'])}px solid {style.get('border_color') or 'currentColor'}")
    if "border_radius" in style:
        out.append(f"border-radius:{int(style['border_radius'])}px")
    if style.get("width"):
        out.append(f"width:{int(style['width'])}%")
    if style.get("max_width"):
        out.append(f"max-width:min(100%,{int(style['max_width'])}px)")
    if style.get("width") or style.get("max_width"):
        out.append("margin-left:auto;margin-right:auto")
    return ";".join(out)


def _font_size(px: int) -> str:
    """Big type shrinks with the page's width (to about 60% on a phone); body sizes stay as set.
    cqi is 1% of the page's width (.lf-page is the container), so the builder's previews shrink it too."""
    if px <= 24:
        return f"{px}px"
    return f"clamp({max(20, round(px * 0.62))}px,{px / 8:.2f}cqi,{px}px)"


def _padding_y(px: int) -> str:
    """Generous vertical padding (a section's 96 px) tightens on a phone."""
    if px < 48:
        return f"{px}px"
    return f"clamp({max(32, round(px * 0.6))}px,{px / 8:.2f}cqi,{px}px)"


# ---- files --------------------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _read_cached(path: str, mtime: float, minify: bool) -> str:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return _minify_css(text) if minify else text


@lru_cache(maxsize=4)
def _read_bytes(path: str, mtime: float) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


@lru_cache(maxsize=4)
def _script_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _read_static(relative: str, minify: bool = False) -> str:
    path = os.path.join(current_app.static_folder, relative)
    return _read_cached(path, os.path.getmtime(path), minify)


def _minify_css(css: str) -> str:
    """Comments and layout whitespace out; spaces that mean something (descendant selectors, calc) stay."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    css = re.sub(r"\s+", " ", css)
    return re.sub(r"\s*([{};,])\s*", r"\1", css).strip()
