"""Template helpers shared by the agent workspace and the portal."""

from __future__ import annotations

from django import template
from django.utils.safestring import mark_safe

from mainspring.core.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(source: str) -> str:
    """``{{ entry.body|markdown }}``: rendered and nh3-sanitised, so safe to mark safe."""
    return mark_safe(render_markdown(source))


@register.filter
def cap_count(value: int, cap: int = 999) -> str:
    """Counts are capped for display ("999+"): queues never count millions."""
    return f"{cap}+" if value > cap else str(value)
