"""A JSON value of the wrong type is a 400, never quietly converted.

DRF fields are lenient for HTML forms: a CharField takes the number ``0`` as ``"0"``,
an IntegerField the string ``"7"``, a BooleanField ``"yes"`` or ``1``. The API speaks
JSON only, and its schema says which JSON type each field has; a client that sends
another has a bug it should hear about (and a schema-violating request must not
succeed, which the contract test checks). The check runs on the raw JSON before DRF's
own validation, so DRF's messages still cover everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

__all__ = ["StrictJSONTypes", "json_type_errors"]

_STRING_FIELDS = (
    serializers.CharField,  # Email, Slug, Regex, URL, IPAddress fields too
    serializers.DateField,
    serializers.DateTimeField,
    serializers.TimeField,
    serializers.DurationField,
    serializers.UUIDField,
    serializers.SlugRelatedField,
)
_NUMBER_FIELDS = (serializers.FloatField, serializers.DecimalField)


def _type_problem(field: serializers.Field, value: Any) -> Any:
    """What is wrong with ``value``'s JSON type for ``field``, or None."""
    if value is None:
        return None  # DRF answers "may not be null" where null is not allowed
    listed = (serializers.ListField, serializers.MultipleChoiceField, serializers.ManyRelatedField)
    if isinstance(field, listed):
        if not isinstance(value, list):
            return "Expected a list."
        if isinstance(field, serializers.ManyRelatedField):
            child = field.child_relation
        elif isinstance(field, serializers.ListField):
            child = field.child
        else:
            child = serializers.ChoiceField(choices=field.choices)
        problems = {}
        for index, item in enumerate(value):
            problem = _type_problem(child, item)
            if problem:
                problems[str(index)] = problem if isinstance(problem, dict) else [problem]
        return problems or None
    if isinstance(field, serializers.Serializer):
        return None if isinstance(value, Mapping) else "Expected an object."
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Expected true or false."
    if isinstance(field, serializers.ChoiceField):
        keys = list(field.choices)
        if keys and all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
            return None if _is_int(value) else "Expected a whole number."
        return None if isinstance(value, str) else "Expected a string."
    if isinstance(field, serializers.IntegerField):
        return None if _is_int(value) else "Expected a whole number."
    if isinstance(field, _NUMBER_FIELDS):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else "Expected a number."
    if isinstance(field, serializers.RelatedField) and value == "":
        # DRF reads "" as null for a nullable relation; the schema says a name or null.
        return "Send null to clear it, or a value."
    if isinstance(field, serializers.PrimaryKeyRelatedField) and _integer_pk(field):
        return None if _is_int(value) else "Expected an id (a whole number)."
    if isinstance(field, _STRING_FIELDS):
        return None if isinstance(value, str) else "Expected a string."
    return None  # JSONField, DictField, files...: any JSON is the field's own business


def _integer_pk(field: serializers.PrimaryKeyRelatedField) -> bool:
    queryset = field.get_queryset() if field.queryset is not None else None
    if queryset is None:
        return False
    return queryset.model._meta.pk.get_internal_type() in {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
    }


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def json_type_errors(serializer: serializers.Serializer, data: Any) -> dict[str, list]:
    """Field name → problem for every writable field whose value has the wrong type."""
    if not isinstance(data, Mapping) or hasattr(data, "getlist"):
        return {}  # not JSON (a multipart upload): the parser's business
    errors: dict[str, list] = {}
    for name, field in serializer.fields.items():
        if field.read_only or name not in data:
            continue
        problem = _type_problem(field, data[name])
        if problem:
            errors[name] = problem if isinstance(problem, dict) else [problem]
    return errors


class StrictJSONTypes:
    """Serializer mixin: wrong JSON types are a 400 naming the field (see module doc)."""

    def to_internal_value(self, data):
        errors = json_type_errors(self, data)
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
