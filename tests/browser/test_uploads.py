"""A file over the upload limit is refused by the field as soon as it is chosen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mainspring.core.models import Attachment
from tests.browser_support import axe_violations, login
from tests.factories import PASSWORD, make_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_too_large_file_is_refused_at_the_field(new_page, requester, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024  # 1 MB: the limit the page announces
    incident = make_incident(by=requester, title="Printer jams")
    page = new_page()
    login(page, requester.username, PASSWORD)
    page.goto(f"/portal/tickets/{incident.number}/")
    field = page.get_by_label("Attach a file")
    field.set_input_files(
        {"name": "huge.log", "mimeType": "text/plain", "buffer": b"x" * (1024 * 1024 + 1)}
    )
    alert = page.get_by_role("alert").filter(has_text="huge.log")
    expect(alert).to_contain_text("larger than the 1 MB limit")
    expect(field).to_have_attribute("aria-invalid", "true")
    assert field.evaluate("input => input.files.length") == 0
    assert axe_violations(page) == []
    # A file within the limit clears the message and uploads.
    field.set_input_files({"name": "small.log", "mimeType": "text/plain", "buffer": b"ok"})
    expect(alert).to_have_count(0)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("small.log").first).to_be_visible()
    assert Attachment.objects.filter(ticket=incident, filename="small.log").exists()
