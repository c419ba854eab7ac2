"""User HTML, sanitised with bleach: one set of rules for notes and for the rich text of pages.

No script, no event-handler attributes, no style attributes (so no CSS expressions), and links only to
http(s), mailto and tel addresses.
"""
import re

import bleach

TAGS = ["p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "a", "blockquote", "code", "pre",
        "h2", "h3", "h4"]
ATTRIBUTES = {"a": ["href", "title"]}
PROTOCOLS = ["http", "https", "mailto", "tel"]
# bleach keeps the text of a stripped tag; the body of a script or style is never meant as text.
SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)


def sanitize_html(html: str, link_new_tab: bool = True) -> str:
    """Allowed tags only, and links that open safely (rel=noopener, nofollow)."""
    cleaned = bleach.clean(SCRIPT_OR_STYLE.sub("", html or ""), tags=TAGS, attributes=ATTRIBUTES, protocols=PROTOCOLS,
                           strip=True, strip_comments=True)
    return bleach.linkify(cleaned, callbacks=[_new_tab if link_new_tab else _nofollow], parse_email=False)


def sanitize_rich_text(html: str) -> str:
    """The rich text of a page element; plain text (no tag at all) becomes paragraphs."""
    html = html or ""
    if "<" not in html and html.strip():
        escaped = bleach.clean(html)
        html = "<p>" + escaped.replace("\r\n", "\n").replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>"
    return sanitize_html(html, link_new_tab=False)


def text_of(html: str) -> str:
    return bleach.clean(html or "", tags=[], strip=True)


def _nofollow(attrs, new=False):
    attrs[(None, "rel")] = "nofollow noopener noreferrer"
    return attrs


def _new_tab(attrs, new=False):
    attrs = _nofollow(attrs, new)
    attrs[(None, "target")] = "_blank"
    return attrs
