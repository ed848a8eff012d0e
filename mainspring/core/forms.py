"""Form fields every app's forms and admin screens share."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput, JSONString

from .parsing import InputRefused, load_json

__all__ = ["JSONFormField"]


class JSONFormField(forms.JSONField):
    """JSON typed into a form, parsed like an API body (``core.parsing.load_json``).

    Django's field hands the text to ``json.loads``: nested 5,000 deep it is a
    RecursionError (a 500) while validating, and again while showing the form back;
    ``1e400`` and ``"\\u0000"`` reach the database. Here they are a field error.
    """

    def to_python(self, value: Any) -> Any:
        if self.disabled or value in self.empty_values or not isinstance(value, str):
            return super().to_python(value)
        try:
            converted = load_json(value)
        except InputRefused as exc:
            raise ValidationError(exc.reason, code="invalid") from exc
        except ValueError as exc:
            raise ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": value}
            ) from exc
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            return load_json(data)
        except ValueError:  # InputRefused included: shown back as typed
            return InvalidJSONInput(data)
