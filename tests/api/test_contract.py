"""What the OpenAPI schema promises matches what the API does (issue 9, items 12-15).

The schemathesis run (test_fuzz_schema.py) checks the whole surface; these pin the
specific promises: creates keep their documented body behind the idempotency mixin,
errors are documented in the one shape where they can happen, requesters get the
fields the schema marks optional and learn nothing about tickets they may not see,
and bodies are JSON (415 otherwise) except file uploads.
"""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from mainspring.core.api import IdempotentCreateMixin
from mainspring.core.models import JournalEntry, JournalKind
from mainspring.knowledge import services as kb_services
from mainspring.knowledge.models import KnowledgeReviewer

from ..factories import make_incident
from .helpers import assert_error, url


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def _operation(schema, path, method):
    return schema["paths"][path][method]


def test_incident_create_documents_its_body_key_and_conflict(schema):
    create = _operation(schema, "/api/v1/incidents/", "post")
    body = create["requestBody"]["content"]
    assert list(body) == ["application/json"]
    assert body["application/json"]["schema"]["$ref"].endswith("/IncidentCreateRequest")
    assert create["requestBody"]["required"] is True
    headers = {p["name"] for p in create["parameters"] if p["in"] == "header"}
    assert "Idempotency-Key" in headers
    assert set(create["responses"]) == {"201", "400", "401", "403", "409", "413", "415"}
    component = schema["components"]["schemas"]["IncidentCreateRequest"]
    assert component["required"] == ["title"]
    assert component["additionalProperties"] is False


class _Thing(serializers.Serializer):
    name = serializers.CharField()


class _IdempotentThings(IdempotentCreateMixin, viewsets.GenericViewSet):
    """Any viewset that mixes it in keeps its own create's annotation."""

    from drf_spectacular.utils import extend_schema

    @extend_schema(request=_Thing, responses={201: _Thing})
    def create(self, request, *args, **kwargs):
        return Response(request.data, status=201)

    del extend_schema


def test_the_mixin_wraps_any_create_and_keeps_its_schema():
    create = _IdempotentThings.create
    assert getattr(create, "_idempotent", False)
    schema_class = create.kwargs["schema"]
    view = _IdempotentThings()
    view.action = "create"
    view.request = None
    view.kwargs = {}
    auto = schema_class()
    auto.view = view
    auto.method = "POST"
    assert auto.get_request_serializer() is _Thing
    assert [p.name for p in auto.get_override_parameters()] == ["Idempotency-Key"]


def test_every_error_is_documented_in_the_one_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "fields"]
    without_4xx = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            codes = [c for c in operation["responses"] if c.startswith("4")]
            # The API root is public and reads no input: it has nothing to refuse.
            if not codes and path != "/api/v1/":
                without_4xx.append(f"{method} {path}")
            for code in codes:
                content = operation["responses"][code]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}
    assert without_4xx == []


def test_errors_are_documented_only_where_they_can_happen(schema):
    def codes(path, method):
        return set(_operation(schema, path, method)["responses"])

    # If-Match is read: 412; no path parameter: no 404; no body: no 413/415.
    assert codes("/api/v1/incidents/{number}/", "patch") >= {"400", "404", "412", "415"}
    assert "412" not in codes("/api/v1/incidents/{number}/", "get")
    assert "404" not in codes("/api/v1/incidents/", "get")
    assert {"413", "415"}.isdisjoint(codes("/api/v1/incidents/", "get"))
    # Everyone reads groups: no 403 on the read, one on the admin-only write.
    assert "403" not in codes("/api/v1/groups/", "get")
    assert "403" in codes("/api/v1/groups/", "post")
    # Agents only read calendars: a requester's read is refused.
    assert "403" in codes("/api/v1/calendars/", "get")
    # The token endpoint needs no credentials (no 401) and locks out (429).
    assert {"401", "403"}.isdisjoint(codes("/api/v1/auth/token/", "post"))
    assert "429" in codes("/api/v1/auth/token/", "post")
    # Only where a reused key or a state can conflict: 409.
    assert "409" in codes("/api/v1/incidents/{number}/resolve/", "post")
    assert "409" not in codes("/api/v1/incidents/{number}/", "patch")


def test_agent_only_fields_are_optional_in_the_schema(schema):
    required = set(schema["components"]["schemas"]["Incident"]["required"])
    assert {"reassignment_count", "sla_breach_at"}.isdisjoint(required)
    assert {"number", "title", "parent", "version"} <= required


def test_requester_answers_match_the_optional_fields(api_for, requester, agent):
    incident = make_incident(by=agent, requester=requester)
    data = api_for(requester).get(url(incident.number)).json()
    assert "reassignment_count" not in data and "sla_breach_at" not in data
    assert "reassignment_count" in api_for(agent).get(url(incident.number)).json()


def test_requester_does_not_learn_an_invisible_parent(api_for, requester, other_requester, agent):
    parent = make_incident(by=agent, requester=other_requester, title="Core switch down")
    child = make_incident(by=agent, requester=requester, title="No network", parent=parent)
    assert api_for(agent).get(url(child.number)).json()["parent"] == parent.number
    assert api_for(requester).get(url(child.number)).json()["parent"] is None
    listed = api_for(requester).get(url()).json()["results"]
    assert [i["parent"] for i in listed if i["number"] == child.number] == [None]

    api_for(agent).post(
        url(parent.number, "resolve"),
        {"resolution_code": "solved", "resolution_notes": "Replaced the switch"},
        format="json",
    )
    mine = api_for(requester).get(url(child.number, "journal")).json()["results"]
    assert not any(parent.number in entry["body"] for entry in mine)
    assert any(e["body"] == "Resolved together with its parent incident." for e in mine)
    # Agents keep the number, in an internal note.
    notes = JournalEntry.objects.filter(ticket=child, kind=JournalKind.WORK_NOTE)
    assert [n.body for n in notes] == [f"Resolved with parent incident {parent.number}."]


def test_requester_sees_a_parent_they_may_see(api_for, requester, agent):
    parent = make_incident(by=agent, requester=requester, title="Printer floor 2")
    child = make_incident(by=agent, requester=requester, title="Tray 2", parent=parent)
    assert api_for(requester).get(url(child.number)).json()["parent"] == parent.number


@pytest.mark.parametrize("fmt", ["multipart", None])
def test_form_bodies_are_415_not_misread(api_for, requester, fmt):
    # A form cannot say "not sent": DRF would read the missing major_incident as false.
    api = api_for(requester)
    if fmt is None:
        response = api.post(
            url(), "title=Printer+jams", content_type="application/x-www-form-urlencoded"
        )
    else:
        response = api.post(url(), {"title": "Printer jams"}, format=fmt)
    assert_error(response, 415, "unsupported_media_type")
    assert api.post(url(), {"title": "Printer jams"}, format="json").status_code == 201


def test_empty_multipart_feedback_is_415_not_a_rating(api_for, requester, agent, admin):
    KnowledgeReviewer.objects.create(user=admin)
    article = kb_services.create_article(by=agent, title="Reset VPN", body="Steps")
    kb_services.publish(article, by=admin)
    response = api_for(requester).post(
        f"/api/v1/articles/{article.number}/feedback/", {}, format="multipart"
    )
    assert_error(response, 415)
    assert not article.feedback.exists()


def test_wrong_json_types_are_400_not_coerced(api_for, agent, requester):
    api = api_for(agent)
    error = assert_error(api.post("/api/v1/tokens/", {"name": 0}, format="json"), 400)
    assert error["fields"] == {"name": ["Expected a string."]}
    body = {"title": "VPN", "major_incident": "yes", "impact": 1}
    error = assert_error(api.post(url(), body, format="json"), 400)
    assert set(error["fields"]) == {"major_incident", "impact"}
    error = assert_error(
        api.post("/api/v1/articles/", {"title": "x", "tags": ["ok", 3]}, format="json"),
        400,
    )
    assert error["fields"] == {"tags": {"1": ["Expected a string."]}}


def test_article_versions_are_paginated_like_every_list(api_for, agent, admin):
    KnowledgeReviewer.objects.create(user=admin)
    article = kb_services.create_article(by=agent, title="Reset VPN", body="v1")
    kb_services.publish(article, by=admin)
    api = api_for(agent)
    base = f"/api/v1/articles/{article.number}/versions/"
    page = api.get(base + "?page_size=1").json()
    assert set(page) == {"next", "previous", "results"}
    assert [v["number"] for v in page["results"]] == [1] and page["next"] is None
    assert_error(api.get(base + "?ordering=number"), 400)
    assert_error(api.get(base + "?colour=red"), 400)


def test_api_downloads_are_always_octet_stream_attachments(api_for, agent):
    from django.core.files.uploadedfile import SimpleUploadedFile

    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
        b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe"
        b"\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    article = kb_services.create_article(by=agent, title="Diagram", body="")
    upload = SimpleUploadedFile("chart.png", png, content_type="image/png")
    attachment = kb_services.add_article_attachment(article, by=agent, upload=upload)
    response = api_for(agent).get(
        f"/api/v1/articles/{article.number}/attachments/{attachment.storage_key}/download/"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
