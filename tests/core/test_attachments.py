"""Attachments: generated storage names, safe display names, guarded downloads."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mainspring.core.services import (
    AttachmentTooLarge,
    TicketValidationError,
    add_attachment,
    sanitize_filename,
)
from mainspring.identity.policy import NotVisible
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../settings.py", "settings.py"),
        ("..\\..\\boot.ini", "boot.ini"),
        ('"><img src=x onerror=1>.png', "___img src=x onerror=1_.png"),
        ("evil\x00.txt", "evil_.txt"),
        ("bidi\u202egnp.exe", "bidi_gnp.exe"),
        ("", "file"),
        ("...", "file"),
    ],
)
def test_sanitize_filename(raw, expected):
    assert sanitize_filename(raw) == expected


def test_long_names_keep_their_extension():
    name = sanitize_filename("a" * 300 + ".log")
    assert len(name) <= 150 and name.endswith(".log")


def test_stored_under_generated_name(requester, settings):
    incident = make_incident(by=requester)
    upload = SimpleUploadedFile("../../etc/passwd", b"root:x:0:0", content_type="text/html")
    attachment = add_attachment(incident, by=requester, upload=upload)
    assert attachment.filename == "passwd"
    assert attachment.storage_key.hex in attachment.file.name
    assert "passwd" not in attachment.file.name
    # The client's claimed type is never trusted.
    assert attachment.content_type == "application/octet-stream"
    assert incident.audit.filter(field="attachment", new_value="passwd").exists()


def test_size_limit_and_empty_files(requester, settings):
    settings.ATTACHMENT_MAX_BYTES = 10
    incident = make_incident(by=requester)
    with pytest.raises(AttachmentTooLarge):
        add_attachment(incident, by=requester, upload=SimpleUploadedFile("a.txt", b"x" * 11))
    with pytest.raises(TicketValidationError):
        add_attachment(incident, by=requester, upload=SimpleUploadedFile("a.txt", b""))
    assert incident.attachments.count() == 0


def test_cannot_attach_to_anothers_ticket(requester, other_requester):
    incident = make_incident(by=requester)
    with pytest.raises(NotVisible):
        add_attachment(incident, by=other_requester, upload=SimpleUploadedFile("a.txt", b"x"))


def test_download_headers_and_scope(client, requester, other_requester, agent):
    incident = make_incident(by=requester)
    attachment = add_attachment(
        incident,
        by=requester,
        upload=SimpleUploadedFile("evil.svg", b"<svg onload=alert(1)></svg>"),
    )
    url = f"/attachments/{attachment.storage_key}/"

    client.force_login(requester)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="evil.svg"' in response["Content-Disposition"]
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == b"<svg onload=alert(1)></svg>"

    client.force_login(agent)
    assert client.get(url).status_code == 200

    client.force_login(other_requester)
    assert client.get(url).status_code == 404
    # The same answer as for an attachment that does not exist.
    assert client.get("/attachments/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_download_requires_login(client, requester):
    incident = make_incident(by=requester)
    attachment = add_attachment(incident, by=requester, upload=SimpleUploadedFile("a.txt", b"x"))
    response = client.get(f"/attachments/{attachment.storage_key}/")
    assert response.status_code == 302 and "/login/" in response["Location"]
