"""Journal, attachments, audit, watchers and links under /api/v1/incidents/<number>/."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mainspring.core import services as core
from mainspring.core.models import Attachment

from ..factories import make_incident
from .helpers import assert_error, url


@pytest.fixture
def incident(requester):
    return make_incident(by=requester)


def test_journal_hides_work_notes_from_requesters(api_for, agent, requester, incident):
    client = api_for(agent)
    r = client.post(
        url(incident.number, "journal"),
        {"kind": "comment", "body": "Hello **there** <script>x</script>"},
        format="json",
    )
    assert r.status_code == 201
    entry = r.json()
    assert set(entry) == {"id", "kind", "body", "body_html", "author", "created_at", "channel"}
    assert entry["author"] == "agent" and entry["channel"] == "api"
    assert "<strong>there</strong>" in entry["body_html"]
    assert "<script" not in entry["body_html"]
    client.post(
        url(incident.number, "journal"), {"kind": "work_note", "body": "internal"}, format="json"
    )
    core.add_system_entry(incident, "System says hi")
    agent_view = [e["kind"] for e in client.get(url(incident.number, "journal")).json()["results"]]
    assert agent_view == ["comment", "work_note", "system"]
    mine = api_for(requester).get(url(incident.number, "journal")).json()["results"]
    assert [e["kind"] for e in mine] == ["comment", "system"]
    assert all("internal" not in e["body"] for e in mine)


def test_requester_cannot_post_work_notes(api_for, requester, incident):
    client = api_for(requester)
    assert_error(
        client.post(
            url(incident.number, "journal"), {"kind": "work_note", "body": "sneaky"}, format="json"
        ),
        403,
    )
    assert not incident.journal.filter(kind="work_note").exists()
    r = client.post(
        url(incident.number, "journal"), {"kind": "comment", "body": "hi"}, format="json"
    )
    assert r.status_code == 201


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"kind": "system", "body": "x"}, "kind"),
        ({"kind": "comment", "body": ""}, "body"),
        ({"kind": "comment"}, "body"),
        ({"kind": "comment", "body": "x", "author": "admin"}, "author"),
    ],
)
def test_journal_validation(api_for, agent, incident, payload, field):
    r = api_for(agent).post(url(incident.number, "journal"), payload, format="json")
    assert field in assert_error(r, 400, "invalid")["fields"]


def _upload(name: str, content: bytes = b"hello", content_type: str = "image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.mark.parametrize(
    "name,expected",
    [
        ('"><img src=x onerror=1>.png', "___img src=x onerror=1_.png"),
        ("../../settings.py", "settings.py"),
        ("a\u202eexe.png", "aexe.png"),
    ],
)
def test_upload_and_download_with_hostile_names(api_for, requester, incident, name, expected):
    client = api_for(requester)
    r = client.post(
        url(incident.number, "attachments"), {"file": _upload(name)}, format="multipart"
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["filename"] == expected
    assert "<" not in body["filename"] and "/" not in body["filename"]
    assert body["size"] == 5 and body["uploaded_by"] == "alice"
    listed = client.get(url(incident.number, "attachments")).json()["results"]
    assert [a["id"] for a in listed] == [body["id"]]
    download = client.get(body["download_url"].replace("http://testserver", ""))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"hello"
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment;")
    assert "<" not in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download["Content-Security-Policy"]
    stored = Attachment.objects.get()
    assert name not in stored.file.name and ".." not in stored.file.name


def test_download_of_anothers_attachment_is_404(api_for, requester, other_requester, incident):
    attachment = core.add_attachment(incident, by=requester, upload=_upload("x.txt"))
    r = api_for(other_requester).get(f"/api/v1/attachments/{attachment.storage_key}/download/")
    assert_error(r, 404, "not_found")
    r = api_for(other_requester).get(
        "/api/v1/attachments/00000000-0000-0000-0000-000000000000/download/"
    )
    assert_error(r, 404, "not_found")


def test_download_needs_authentication(client, requester, incident):
    attachment = core.add_attachment(incident, by=requester, upload=_upload("x.txt"))
    r = client.get(f"/api/v1/attachments/{attachment.storage_key}/download/")
    assert_error(r, 401, "not_authenticated")


def test_too_large_upload_is_413(api_for, requester, incident, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    r = api_for(requester).post(
        url(incident.number, "attachments"),
        {"file": _upload("big.bin", b"x" * 11)},
        format="multipart",
    )
    error = assert_error(r, 413, "too_large")
    assert "file" in error["fields"]
    assert not Attachment.objects.exists()


def test_upload_without_file_is_400(api_for, requester, incident):
    r = api_for(requester).post(url(incident.number, "attachments"), {}, format="multipart")
    assert "file" in assert_error(r, 400)["fields"]
    r = api_for(requester).post(url(incident.number, "attachments"), {"title": "x"}, format="json")
    assert_error(r, 415)


def test_audit_is_for_agents(api_for, agent, requester, other_requester, incident):
    api_for(agent).patch(url(incident.number), {"urgency": "high"}, format="json")
    r = api_for(agent).get(url(incident.number, "audit"))
    assert r.status_code == 200
    rows = r.json()["results"]
    assert {"field", "old_value", "new_value", "actor", "channel", "created_at", "id"} == set(
        rows[0]
    )
    assert any(
        e["field"] == "urgency"
        and e["new_value"] == "high"
        and e["actor"] == "agent"
        and e["channel"] == "api"
        for e in rows
    )
    assert_error(api_for(requester).get(url(incident.number, "audit")), 403, "forbidden")
    assert_error(api_for(other_requester).get(url(incident.number, "audit")), 404)


def test_watchers(api_for, agent, requester, other_requester, incident):
    mine = api_for(requester)
    r = mine.post(url(incident.number, "watchers"), {}, format="json")
    assert r.status_code == 201 and r.json()["user"] == "alice"
    # Adding someone else is agent work.
    assert_error(mine.post(url(incident.number, "watchers"), {"user": "bob"}, format="json"), 403)
    r = api_for(agent).post(url(incident.number, "watchers"), {"user": "bob"}, format="json")
    assert r.status_code == 201
    # bob now sees the ticket; lists show agents everyone, requesters themselves.
    assert api_for(other_requester).get(url(incident.number)).status_code == 200
    agent_list = api_for(agent).get(url(incident.number, "watchers")).json()
    assert sorted(w["user"] for w in agent_list) == ["alice", "bob"]
    assert [w["user"] for w in mine.get(url(incident.number, "watchers")).json()] == ["alice"]
    assert mine.delete(url(incident.number, "watchers")).status_code == 204
    assert api_for(agent).delete(url(incident.number, "watchers") + "?user=bob").status_code == 204
    assert api_for(other_requester).get(url(incident.number)).status_code == 404
    assert (
        "user"
        in assert_error(
            api_for(agent).delete(url(incident.number, "watchers") + "?user=nobody"), 400
        )["fields"]
    )


def test_links(api_for, agent, requester, other_requester, incident):
    other = make_incident(by=other_requester, title="Same outage")
    r = api_for(agent).post(
        url(incident.number, "links"),
        {"target": other.number.lower(), "kind": "duplicate_of"},
        format="json",
    )
    assert r.status_code == 201, r.json()
    assert r.json()["target"] == other.number and r.json()["direction"] == "out"
    back = api_for(agent).get(url(other.number, "links")).json()
    assert back[0]["direction"] == "in" and back[0]["source"] == incident.number
    # The requester may not link, and never sees a link to a ticket that is not theirs.
    assert_error(
        api_for(requester).post(
            url(incident.number, "links"),
            {"target": other.number, "kind": "related"},
            format="json",
        ),
        403,
    )
    assert api_for(requester).get(url(incident.number, "links")).json() == []
    assert (
        "target"
        in assert_error(
            api_for(agent).post(
                url(incident.number, "links"), {"target": "INC0", "kind": "related"}, format="json"
            ),
            400,
        )["fields"]
    )
    assert (
        "kind"
        in assert_error(
            api_for(agent).post(
                url(incident.number, "links"),
                {"target": other.number, "kind": "parent"},
                format="json",
            ),
            400,
        )["fields"]
    )
