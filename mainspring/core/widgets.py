"""Form widgets that stay fast with long option lists.

Django renders every ``<option>`` through its own template include, which dominates a
page that offers a thousand agents in several pickers (measured in bench/). These
widgets render the same markup in Python, escaping every value with ``format_html``.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.forms.utils import flatatt
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

__all__ = ["FastSelect", "FastSelectMultiple", "SizeLimitedFileInput", "use_fast_selects"]


class FastSelect(forms.Select):
    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [format_html('<select name="{}"{}>', widget["name"], flatatt(widget["attrs"]))]
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(format_html('<optgroup label="{}">', group_name))
            for option in options:
                parts.append(_option(option))
            if group_name:
                parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("".join(parts))  # safe: every value escaped above


def _option(option: dict) -> str:
    # Plain string building: format_html per option is most of a page's render time.
    attrs = option["attrs"]
    extra = " selected" if attrs.get("selected") else ""
    others = {k: v for k, v in attrs.items() if k != "selected"}
    if others:
        extra += flatatt(others)
    value = "" if option["value"] is None else str(option["value"])
    return f'<option value="{escape(value)}"{extra}>{escape(str(option["label"]))}</option>'


class FastSelectMultiple(FastSelect, forms.SelectMultiple):
    pass


def use_fast_selects(form: forms.BaseForm) -> None:
    """Swap plain Select widgets for the fast ones, keeping their attrs and choices."""
    for field in form.fields.values():
        widget_type = type(field.widget)
        if widget_type is forms.Select:
            field.widget.__class__ = FastSelect
        elif widget_type is forms.SelectMultiple:
            field.widget.__class__ = FastSelectMultiple


class SizeLimitedFileInput(forms.ClearableFileInput):
    """A file input that tells the browser the upload limit (``data-max-bytes``).

    app.js refuses a larger file as soon as it is chosen, with a message by the field,
    instead of sending megabytes the server will refuse (413) after the upload.
    """

    def get_context(self, name, value, attrs):
        attrs = {**(attrs or {}), "data-max-bytes": str(settings.ATTACHMENT_MAX_BYTES)}
        return super().get_context(name, value, attrs)
