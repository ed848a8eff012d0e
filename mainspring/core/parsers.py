"""The API's request body parsers (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).

DRF's own parsers hand over anything Python can parse: JSON nested 100,000 deep (a
RecursionError in whatever walks it next), ``1e400`` (infinity, an OverflowError in
an id field), ``"\\u0000"`` (a DataError in PostgreSQL). These refuse such bodies with a
400 naming the field, through ``core.parsing``, before a serializer sees them. (DRF
reads JSON bodies through ``request.body``, so Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``
already bounds them.) The API takes JSON only; multipart is for file uploads, which
declare ``MultiPartParser`` themselves.
"""

from __future__ import annotations

from django.http import QueryDict
from rest_framework import exceptions, parsers
from rest_framework.parsers import get_encoding

from .parsing import InputRefused, load_json, printable, text_problem

__all__ = ["JSONParser", "MultiPartParser", "query_dict_problems"]


def query_dict_problems(data: QueryDict) -> dict[str, list[str]]:
    """Form fields (names or values) the database could not store, by field name."""
    found: dict[str, list[str]] = {}
    for name, values in data.lists():
        for text in (name, *values):
            problem = text_problem(text) if isinstance(text, str) else None
            if problem:
                found.setdefault(printable(name), [problem])
    return found


def _refuse(fields: dict[str, list[str]]) -> None:
    if fields:
        raise exceptions.ValidationError(fields)


class JSONParser(parsers.JSONParser):
    """JSON with bounded nesting, finite numbers and storable strings (``load_json``)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            return load_json(stream.read().decode(encoding))
        except InputRefused as exc:
            raise exceptions.ValidationError(exc.fields) from exc
        except ValueError as exc:  # a syntax error, or bytes that are not in ``encoding``
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc


class MultiPartParser(parsers.MultiPartParser):
    """``multipart/form-data``: field values must be storable; files are the services'
    business (names are sanitised there, contents are bytes)."""

    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _refuse(query_dict_problems(result.data))
        return result
