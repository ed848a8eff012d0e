"""Form widgets that stay fast with long option lists.

Django renders every ``<option>`` through its own template include, which dominates a
page that offers a thousand agents in several pickers (measured in bench/). These
widgets render the same markup in Python, escaping every value with ``format_html``.
"""

from __future__ import annotations

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

__all__ = ["FastSelect", "FastSelectMultiple", "use_fast_selects"]


class FastSelect(forms.Select):
    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [format_html('<select name="{}"{}>', widget["name"], flatatt(widget["attrs"]))]
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(format_html('<optgroup label="{}">', group_name))
            for option in options:
                parts.append(
                    format_html(
                        '<option value="{}"{}>{}</option>',
                        "" if option["value"] is None else option["value"],
                        flatatt(option["attrs"]),
                        option["label"],
                    )
                )
            if group_name:
                parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("".join(parts))


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
