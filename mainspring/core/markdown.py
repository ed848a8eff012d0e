"""Markdown for journal entries and descriptions: rendered, then sanitised with nh3.

Sanitising happens on the rendered HTML with an allowlist (never regexes on the
source), so ``javascript:`` links, event handlers and raw ``<script>`` cannot survive
whatever the Markdown looks like.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

__all__ = ["render_markdown"]

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "em",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "img",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
}
MAX_SOURCE = 200_000


def render_markdown(source: str | None) -> str:
    """Safe HTML for ``source``; links open as plain links with ``rel=noopener``."""
    if not source:
        return ""
    html = _md.render(source[:MAX_SOURCE])
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
