"""What the API (and the pages) refuse, and how: issue 9's items 7-11 and ``If-Match: *``.

``tests/core/hostile`` tries every class on every route; these pin each documented answer
(docs/api.md, "What the API refuses") on the cases the issue names.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mainspring.core.parsing import MAX_DEPTH
from mainspring.incidents.models import Category
from mainspring.knowledge import services as knowledge

from ..factories import make_incident
from .helpers import assert_error, url


@pytest.fixture
def incident(requester):
    return make_incident(by=requester)


def post_json(client, path: str, text: str, **headers):
    return client.generic("POST", path, text, content_type="application/json", headers=headers)


# -- 7: nesting -------------------------------------------------------------------------


def test_deep_json_is_400_even_on_the_anonymous_token_endpoint(client, db):
    error = assert_error(
        post_json(client, "/api/v1/auth/token/", "[" * 100_000 + "]" * 100_000), 400
    )
    assert "32" in error["fields"]["non_field"][0]
    shallow = json.dumps({"username": "x", "password": "y", "name": [[[["n"]]]]})
    assert_error(post_json(client, "/api/v1/auth/token/", shallow), 400, "invalid")


def test_nesting_up_to_the_limit_is_parsed(api_for, agent):
    nested = "[" * (MAX_DEPTH - 1) + '"x"' + "]" * (MAX_DEPTH - 1)
    r = post_json(api_for(agent), url(), json.dumps({"title": "ok"})[:-1] + f', "tags": {nested}}}')
    # Parsed, then refused by the serializer as an unknown field: not a nesting error.
    assert assert_error(r, 400)["fields"] == {"tags": ["Unknown field."]}


# -- 8: NUL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ("watchers", "user"),
        ("resolve", "resolution_code"),
        ("assign", "assignee"),
        ("", "requester"),
        ("", "parent"),
    ],
)
def test_nul_in_a_json_field_is_400_naming_it(api_for, agent, incident, action, field):
    path = url(incident.number, action) if action else url(incident.number)
    method = "PATCH" if not action else "POST"
    body = json.dumps(
        {field: "\x00", "resolution_notes": "n"} if action == "resolve" else {field: "\x00"}
    )
    r = api_for(agent).generic(method, path, body, content_type="application/json")
    assert assert_error(r, 400, "invalid")["fields"] == {
        field: ["Null characters are not allowed."]
    }


def test_nul_in_a_group_member_is_400(api_for, admin, service_desk):
    r = post_json(
        api_for(admin), f"/api/v1/groups/{service_desk.pk}/members/", '{"username": "a\\u0000"}'
    )
    assert "username" in assert_error(r, 400)["fields"]


def test_a_form_body_is_415_json_only(api_for, agent, incident):
    r = api_for(agent).generic(
        "POST", url(incident.number, "watchers"), "user=a%00b",
        content_type="application/x-www-form-urlencoded",
    )  # fmt: skip
    assert_error(r, 415, "unsupported_media_type")


def test_nul_in_a_multipart_upload_field_is_400_naming_it(api_for, agent, incident):
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = api_for(agent).post(
        url(incident.number, "attachments"),
        {"file": SimpleUploadedFile("log.txt", b"a line"), "note": "a\x00b"},
        format="multipart",
    )
    assert assert_error(r, 400)["fields"] == {"note": ["Null characters are not allowed."]}


def test_an_emoji_escaped_as_a_surrogate_pair_is_fine(api_for, agent):
    r = post_json(api_for(agent), url(), '{"title": "VPN \\ud83d\\ude00"}')
    assert r.status_code == 201, r.content
    assert r.json()["title"] == "VPN 😀"
    assert_error(post_json(api_for(agent), url(), '{"title": "VPN \\ud83d"}'), 400)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/articles/KB%00/", "/api/v1/incidents/INC%00/journal/", "/api/v1/users/a%00/"],
)
def test_nul_in_an_api_path_is_404(api_for, agent, path):
    assert_error(api_for(agent).get(path), 404, "not_found")


def test_nul_in_a_page_path_is_404(client, agent, incident):
    client.force_login(agent)
    assert client.get(f"/tickets/{incident.number}%00/").status_code == 404
    assert client.get("/knowledge/KB%00/history/").status_code == 404


def test_nul_in_a_query_parameter_is_400_naming_it(api_for, agent, client):
    error = assert_error(api_for(agent).get("/api/v1/users/?q=%00"), 400, "invalid")
    assert error["fields"] == {"q": ["Null characters are not allowed."]}
    client.force_login(agent)
    page = client.get("/incidents/mentions/?q=%00")
    assert page.status_code == 400 and "“q”" in page.content.decode()


def test_nul_in_a_header_is_400(api_for, agent, incident):
    r = api_for(agent).patch(
        url(incident.number), {"title": "x"}, format="json", HTTP_IF_MATCH='"1\x00"'
    )
    assert assert_error(r, 400)["fields"] == {"If-Match": ["Null characters are not allowed."]}


def test_nul_in_a_cookie_is_400_before_the_session_is_read(client, db):
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/incidents/", HTTP_COOKIE="sessionid=abcdefgh\x00ijkl")
    assert page.status_code == 400
    assert not queries.captured_queries


def test_nul_in_a_page_form_is_400(client, agent, incident):
    client.force_login(agent)
    page = client.post(
        f"/incidents/{incident.number}/watch/", {"action": "add", "username": "a\x00"}
    )
    assert page.status_code == 400
    assert "“username”" in page.content.decode()
    assert not incident.watchers.filter(user__username__startswith="a").exists()


# -- 9: non-finite numbers --------------------------------------------------------------


@pytest.mark.parametrize("literal", ["1e400", "Infinity", "-Infinity", "NaN"])
def test_non_finite_ids_are_400_naming_the_field(api_for, agent, literal):
    r = post_json(api_for(agent), url(), f'{{"title": "x", "category": {literal}}}')
    error = assert_error(r, 400, "invalid")
    assert error["fields"] == {
        "category": ["Numbers must be finite (no NaN, Infinity or overflowing exponents)."]
    }


def test_an_integer_beyond_64_bits_is_400(api_for, agent):
    r = post_json(api_for(agent), url(), '{"title": "x", "category": 99999999999999999999}')
    assert list(assert_error(r, 400)["fields"]) == ["category"]
    assert_error(api_for(agent).get("/api/v1/users/?group=99999999999999999999"), 400)


# -- 10: cursors ------------------------------------------------------------------------


def _cursor(position: list, raw: str | None = None) -> str:
    text = raw if raw is not None else json.dumps({"p": position})
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_real_cursors_still_page(api_for, agent, requester):
    for i in range(3):
        make_incident(by=requester, title=f"Incident {i}")
    client = api_for(agent)
    seen = []
    page = client.get(url(), {"page_size": 1, "ordering": "-created_at"}).json()
    while True:
        seen += [i["number"] for i in page["results"]]
        if not page["next"]:
            break
        page = client.get(page["next"]).json()
    assert len(seen) == 3 == len(set(seen))


@pytest.mark.parametrize(
    ("ordering", "cursor"),
    [
        ("-number", _cursor([], '{"p": [Infinity]}')),
        ("-number", _cursor([], '{"p": [1e400]}')),
        ("-number", _cursor(["2026-01-01T00:00:00+00:00"])),
        ("-number", _cursor([True])),
        ("-number", _cursor([2**64])),
        ("-created_at", _cursor([12, 1])),  # a number where a date belongs
        ("-created_at", _cursor(["2026-01-01T00:00:00", 1])),  # no time zone
        ("-created_at", _cursor(["9999-12-31T23:59:59-14:00", 1])),  # beyond UTC
        ("-created_at", _cursor(["\x00", 1])),
        ("-priority", _cursor([1.5, 1])),
        ("-number", _cursor([], "[" * 5000)),
        ("-number", "é"),
        ("-number", "A" * 2000),
    ],
)
def test_crafted_cursors_are_400(api_for, agent, incident, ordering, cursor):
    r = api_for(agent).get(url(), {"ordering": ordering, "cursor": cursor})
    assert assert_error(r, 400, "invalid")["fields"] == {
        "cursor": ["Use the next or previous link of a page."]
    }


# -- 11: digits -------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["²", "٣", "１", "+1", " 1", "1_0", "0", "101"])
def test_page_size_takes_ascii_digits_only(api_for, agent, size):
    error = assert_error(api_for(agent).get(url(), {"page_size": size}), 400, "invalid")
    assert list(error["fields"]) == ["page_size"]


@pytest.mark.parametrize("header", ['"²"', "²", '"٣"', '"1²"', '"-1"', '"0"'])
def test_if_match_takes_ascii_digits_only(api_for, agent, incident, header):
    r = api_for(agent).patch(
        url(incident.number), {"title": "x"}, format="json", HTTP_IF_MATCH=header
    )
    assert list(assert_error(r, 400, "invalid")["fields"]) == ["If-Match"]
    incident.refresh_from_db()
    assert incident.title != "x"


@pytest.mark.parametrize("version", ["²", "٣", True, 1.5, None, [1]])
def test_a_body_version_takes_a_whole_number_only(api_for, agent, incident, version):
    r = api_for(agent).patch(
        url(incident.number), {"title": "x", "version": version}, format="json"
    )
    assert assert_error(r, 400)["fields"] == {"version": ["A whole number."]}


def test_pages_ignore_or_refuse_unicode_digits(client, agent, incident):
    client.force_login(agent)
    assert client.get("/incidents/", {"after": "²"}).status_code == 200
    assert client.get("/incidents/", {"before": "٣"}).status_code == 200
    assert client.get("/incidents/subcategories/", {"category": "²"}).status_code == 200
    article = knowledge.create_article(by=agent, title="How", summary="", body="")
    assert client.get(f"/knowledge/{article.number}/history/", {"rev": "²"}).status_code == 200
    created = client.post("/incidents/new/", {"title": "x", "requester": "alice", "category": "²"})
    assert created.status_code == 400
    assert not Category.objects.filter(name="²").exists()
    watcher = client.post(f"/incidents/{incident.number}/watch/", {"action": "remove", "user": "²"})
    assert watcher.status_code == 400


# -- If-Match: * ------------------------------------------------------------------------


def test_if_match_star_skips_the_version_check(api_for, agent, incident):
    client = api_for(agent)
    incident.title = "bumped"
    incident.save()  # someone else's change: any stale ETag would now be a 412
    r = client.patch(url(incident.number), {"title": "mine"}, format="json", HTTP_IF_MATCH="*")
    assert r.status_code == 200 and r.json()["title"] == "mine"
    r = client.post(url(incident.number, "start"), HTTP_IF_MATCH=" * ")
    assert r.status_code == 200 and r.json()["state"] == "in_progress"


def test_if_match_star_needs_the_ticket_to_exist(api_for, agent):
    r = api_for(agent).patch(url("INC9999999"), {"title": "x"}, format="json", HTTP_IF_MATCH="*")
    assert_error(r, 404, "not_found")


def test_if_match_star_on_an_article(api_for, agent):
    article = knowledge.create_article(by=agent, title="How", summary="", body="")
    r = api_for(agent).patch(
        f"/api/v1/articles/{article.number}/", {"title": "Why"}, format="json", HTTP_IF_MATCH="*"
    )
    assert r.status_code == 200 and r.json()["title"] == "Why"


def test_weak_and_quoted_etags_still_match(api_for, agent, incident):
    client = api_for(agent)
    version = client.get(url(incident.number)).json()["version"]
    r = client.patch(
        url(incident.number), {"title": "a"}, format="json", HTTP_IF_MATCH=f'W/"{version}"'
    )
    assert r.status_code == 200
    assert_error(
        client.patch(
            url(incident.number), {"title": "b"}, format="json", HTTP_IF_MATCH=f'"{version}"'
        ),
        412,
        "stale_version",
    )


@pytest.mark.parametrize("field", ["assignee", "requester", "assignment_group"])
def test_an_empty_string_is_not_null_for_a_reference(api_for, agent, field):
    # DRF would read "" as null for a nullable relation; the schema says a value or null.
    response = api_for(agent).post("/api/v1/incidents/", {"title": "x", field: ""}, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
