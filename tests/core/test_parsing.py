"""core.parsing: the one place whole numbers, storable text and JSON are parsed."""

from __future__ import annotations

import json

import pytest

from mainspring.core.numbering import parse_number
from mainspring.core.parsing import (
    MAX_DEPTH,
    MAX_INT,
    NOT_FINITE_MESSAGE,
    NUL_MESSAGE,
    SURROGATE_MESSAGE,
    TOO_BIG_MESSAGE,
    TOO_DEEP_MESSAGE,
    InputRefused,
    load_json,
    parse_int,
    printable,
    text_problem,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", 0),
        ("42", 42),
        ("007", 7),
        (str(MAX_INT), MAX_INT),
        (17, 17),
        # What str.isdigit or int() let through and a strict parser must not.
        ("²", None),
        ("1²", None),
        ("٣", None),
        ("１", None),
        (" 1", None),
        ("1 ", None),
        ("+1", None),
        ("-1", None),
        ("1_000", None),
        ("1.0", None),
        ("1e3", None),
        ("", None),
        (str(MAX_INT + 1), None),
        ("9" * 5000, None),
        (True, None),
        (1.0, None),
        (float("inf"), None),
        (None, None),
        (["1"], None),
    ],
)
def test_parse_int_takes_ascii_digits_only(raw, expected):
    assert parse_int(raw) == expected


def test_parse_int_bounds():
    assert parse_int("0", minimum=1) is None
    assert parse_int("100", maximum=100) == 100
    assert parse_int("101", maximum=100) is None
    assert parse_int(-5, minimum=-10) == -5


def test_numbers_typed_by_people_use_it():
    assert parse_number("inc42", "INC") == "INC0000042"
    assert parse_number("#42", "INC") == "INC0000042"
    assert parse_number("INC²", "INC") is None
    assert parse_number("INC٣", "INC") is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("plain", None),
        ("ünïcödé 😀", None),
        ("a\x00b", NUL_MESSAGE),
        ("\ud800", SURROGATE_MESSAGE),
        ("ok\udfffok", SURROGATE_MESSAGE),
    ],
)
def test_text_problem(text, problem):
    assert text_problem(text) == problem


def test_printable_escapes_what_an_answer_could_not_carry():
    assert printable("title") == "title"
    assert printable("été") == "été"
    assert printable("a\x00b") == "a\\x00b"
    assert printable("\ud800") == "\\ud800"
    assert len(printable("x" * 500)) == 100


def _refusal(text: str) -> InputRefused:
    with pytest.raises(InputRefused) as info:
        load_json(text)
    return info.value


def test_json_nesting_is_bounded_exactly():
    assert load_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    nested = '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH
    assert load_json(nested)["a"]
    for too_deep in (
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
    ):
        assert _refusal(too_deep).fields == {"non_field": [TOO_DEEP_MESSAGE]}


def test_unbalanced_deep_json_is_refused_before_the_parser_recurses():
    assert _refusal("[" * 100_000).message == TOO_DEEP_MESSAGE
    assert _refusal('{"a":[' * 50_000).message == TOO_DEEP_MESSAGE


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"title": "[" * 10_000, "body": 'say "]]]" and \\ {{{'})
    assert load_json(text)["title"] == "[" * 10_000


@pytest.mark.parametrize("text", ["[]]", "[}", "]", "{[}]", '"[' * 50, "[" * 20 + "}" * 20])
def test_malformed_json_is_a_value_error_the_parsers_answer_400(text):
    with pytest.raises(ValueError):
        load_json(text)


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_where_they_are(literal):
    refusal = _refusal(f'{{"category": {literal}, "groups": [1, {literal}]}}')
    assert refusal.fields == {
        "category": [NOT_FINITE_MESSAGE],
        "groups": {"1": [NOT_FINITE_MESSAGE]},
    }
    assert refusal.reason == NOT_FINITE_MESSAGE


def test_integers_beyond_64_bits_are_refused():
    assert load_json(f"[{MAX_INT}, {-MAX_INT - 1}]") == [MAX_INT, -MAX_INT - 1]
    assert _refusal(f'{{"id": {MAX_INT + 1}}}').fields == {"id": [TOO_BIG_MESSAGE]}
    assert _refusal(f"[{-MAX_INT - 2}]").fields == {"0": [TOO_BIG_MESSAGE]}
    # Large but finite floats and underflow are numbers like any other.
    assert load_json("[1e308, 1e-400]") == [1e308, 0.0]


def test_nul_and_lone_surrogates_are_refused_in_values_and_keys():
    refusal = _refusal('{"user": "\\u0000", "title": "a\\ud800", "\\u0000": 1, "ok": "x"}')
    assert refusal.fields == {
        "user": [NUL_MESSAGE],
        "title": [SURROGATE_MESSAGE],
        "\\x00": [NUL_MESSAGE],
    }
    # An escaped backslash before u0000 is text, and a surrogate pair is one character.
    assert load_json('{"a": "\\\\u0000", "b": "\\ud83d\\ude00"}') == {"a": "\\u0000", "b": "😀"}


def test_a_bare_value_is_reported_as_non_field():
    assert _refusal("NaN").fields == {"non_field": [NOT_FINITE_MESSAGE]}
    assert _refusal('"\\u0000"').fields == {"non_field": [NUL_MESSAGE]}
