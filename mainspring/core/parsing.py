"""Strict parsing of what clients send, in one place: whole numbers, storable text, JSON.

Everything a request carries goes through these before it reaches a lookup, so no
input can make Python or the database fail (docs/api.md, "What the API refuses"):

- ``parse_int``: ASCII digits only. ``str.isdigit`` accepts ``²`` (which ``int()``
  then refuses) and ``int()`` accepts ``٣``, ``" 7 "`` and ``1_000``; none of those is a
  number in a URL, a header or a form.
- ``text_problem``: PostgreSQL cannot store or compare NUL in text, and no database
  driver can encode an unpaired surrogate (``"\\ud800"`` in JSON).
- ``load_json``: bounded nesting (checked before the parser recurses), finite numbers
  and 64-bit integers only, storable strings; each problem named by where it is.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "InputRefused",
    "load_json",
    "parse_int",
    "printable",
    "text_problem",
]

# The largest value of a 64-bit signed integer column (every id, every count).
MAX_INT = 2**63 - 1

# Our deepest request body is an SLA's thresholds, five levels (body, list, threshold,
# actions, action); 32 leaves room for any client and stays far below Python's
# recursion limit for whatever walks the result.
MAX_DEPTH = 32

NUL_MESSAGE = "Null characters are not allowed."
SURROGATE_MESSAGE = "Unpaired surrogate characters are not allowed."
NOT_FINITE_MESSAGE = "Numbers must be finite (no NaN, Infinity or overflowing exponents)."
TOO_BIG_MESSAGE = f"Whole numbers must be between {-MAX_INT - 1} and {MAX_INT}."
TOO_DEEP_MESSAGE = f"Arrays and objects may nest at most {MAX_DEPTH} deep."


class InputRefused(ValueError):
    """Input we will not process: ``message`` says why, ``fields`` where (may be empty)."""

    def __init__(self, message: str, fields: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    @property
    def reason(self) -> str:
        """The first specific message, for a single field's error."""
        node: Any = self.fields
        while isinstance(node, dict) and node:
            node = next(iter(node.values()))
        return node[0] if isinstance(node, list) and node else self.message


def parse_int(raw: Any, *, minimum: int = 0, maximum: int = MAX_INT) -> int | None:
    """``raw`` as a whole number in ``[minimum, maximum]``, or None.

    Accepts a string of ASCII digits (no sign, spaces, underscores or other scripts'
    digits) or a JSON integer (not a boolean, not a float). Anything else is None, so
    the caller answers its own 400 or 404.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        # 19 digits hold every 64-bit value; the length check comes before int() so a
        # 10,000-digit string costs nothing.
        if not (0 < len(raw) <= 19 and raw.isascii() and raw.isdecimal()):
            return None
        value = int(raw)
    else:
        return None
    return value if minimum <= value <= maximum else None


def text_problem(text: str) -> str | None:
    """Why the database could not store ``text``, or None if it can."""
    if "\x00" in text:
        return NUL_MESSAGE
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE_MESSAGE
    return None


# -- JSON ------------------------------------------------------------------------------

# A JSON string literal (unrolled, so long strings cost one linear pass), and anything
# that is not a bracket once strings are gone.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")
_CLOSING = re.compile(r"[\]}]")
# What can decode to NUL, a surrogate, a non-finite number (NaN, Infinity, an exponent
# of three digits, 309 digits before the point) or an integer beyond 64 bits.
_SUSPECT = re.compile(r"\\u0000|\\u[dD][89a-fA-F]|NaN|Infinity|[eE][-+]?\d{3}|\d{19}")


def _nests_deeper_than(text: str, limit: int) -> bool:
    """Whether arrays/objects in ``text`` nest deeper than ``limit``, without recursing.

    With strings removed and only brackets kept, each pass peels the innermost empty
    pairs, so a document of depth d is empty after d passes; ``limit + 1`` passes
    bound the work. What stays once nothing peels is malformed: the parser would open
    the brackets before the first closing one, so those must be few too.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(limit + 1):
        peeled = _EMPTY_PAIR.sub("", brackets)
        if peeled == brackets:
            break
        brackets = peeled
    else:
        return True
    close = _CLOSING.search(brackets)
    return (close.start() if close else len(brackets)) > limit


def printable(name: str) -> str:
    """A field name as an error may echo it: short, and escaped if it is not printable
    (a NUL or a lone surrogate could not even be written into the JSON answer)."""
    if not name.isprintable():
        name = name.encode("unicode_escape").decode("ascii")
    return name[:100]


def _problems(document: Any) -> dict[str, Any]:
    """What no database column could hold, by where it is: strings with NUL or a lone
    surrogate, non-finite numbers, integers beyond 64 bits.

    Errors nest like DRF's: ``{"title": [msg]}``, ``{"tags": {"2": [msg]}}``; a problem
    in a bare top-level value is ``non_field``. Iterative: nothing here recurses.
    """
    found: dict[str, Any] = {}

    def report(path: list[str], problem: str) -> None:
        node = found
        for step in [printable(p) for p in path[:-1]]:
            node = node.setdefault(step, {})
            if not isinstance(node, dict):  # the container itself was reported
                return
        node.setdefault(printable(path[-1]) if path else "non_field", [problem])

    stack: list[tuple[list[str], Any]] = [([], document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                report(path, problem)
        elif isinstance(value, float):
            if not math.isfinite(value):
                report(path, NOT_FINITE_MESSAGE)
        elif isinstance(value, int) and not -MAX_INT - 1 <= value <= MAX_INT:
            report(path, TOO_BIG_MESSAGE)
        elif isinstance(value, dict):
            for key, item in value.items():
                key_problem = text_problem(key)
                if key_problem:
                    report([*path, key], key_problem)
                else:
                    stack.append(([*path, key], item))
        elif isinstance(value, list):
            stack.extend(([*path, str(i)], item) for i, item in enumerate(value))
    return found


def load_json(text: str) -> Any:
    """Parse JSON text, refusing what no endpoint may be given (``InputRefused``).

    Syntax errors raise ``json.JSONDecodeError`` (a ``ValueError``) as usual.
    """
    if _nests_deeper_than(text, MAX_DEPTH):
        raise InputRefused(TOO_DEEP_MESSAGE, {"non_field": [TOO_DEEP_MESSAGE]})
    document = json.loads(text)
    # Walking a large document costs more than parsing it; only a few spellings can
    # produce what the walk looks for, so most bodies skip it.
    if _SUSPECT.search(text):
        problems = _problems(document)
        if problems:
            raise InputRefused("Invalid input.", problems)
    return document
