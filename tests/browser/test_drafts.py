"""Unsent text survives a reload, a navigation and an expired session; leaving warns first.

UX.md 13. The browser keeps a draft per user and form (``app.js``) until the server says
it took the text (``core.drafts.draft_sent``).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mainspring.core.models import JournalEntry
from mainspring.identity.models import Role
from tests.browser_support import axe_violations, login
from tests.factories import PASSWORD, UserFactory, make_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _record_dialogs(page) -> list[str]:
    """Accept every dialog (so navigation goes on) and note its type."""
    seen: list[str] = []

    def accept(dialog) -> None:
        seen.append(dialog.type)
        dialog.accept()

    page.on("dialog", accept)
    return seen


def test_agent_comment_draft_survives_reload_and_goes_once_posted(new_page, agent, requester):
    incident = make_incident(by=requester, title="Printer offline")
    page = new_page()
    dialogs = _record_dialogs(page)
    login(page, agent.username, PASSWORD)
    page.goto(f"/incidents/{incident.number}/")
    box = page.locator("#composer textarea[name='body']")
    box.click()
    box.press_sequentially("Half-written reply")

    page.reload()
    assert dialogs == ["beforeunload"]  # leaving with unsent text asked first
    box = page.locator("#composer textarea[name='body']")
    expect(box).to_have_value("Half-written reply")
    expect(page.locator("#composer .draft-note")).to_contain_text("unsent text was restored")
    assert axe_violations(page) == []

    page.locator("#composer").get_by_role("button", name="Post").click()
    expect(page.locator("#messages")).to_contain_text("added")
    assert JournalEntry.objects.filter(ticket=incident, body="Half-written reply").count() == 1
    page.reload()
    expect(page.locator("#composer textarea[name='body']")).to_have_value("")
    expect(page.locator("#composer .draft-note")).to_have_count(0)
    assert dialogs == ["beforeunload"]  # nothing unsent this time


def test_discarding_a_restored_draft_empties_the_composer(new_page, agent, requester):
    incident = make_incident(by=requester)
    page = new_page()
    _record_dialogs(page)
    login(page, agent.username, PASSWORD)
    page.goto(f"/incidents/{incident.number}/")
    page.locator("#composer textarea[name='body']").fill("Not worth keeping")
    page.goto(f"/incidents/{incident.number}/")
    page.get_by_role("button", name="Discard it").click()
    expect(page.locator("#composer textarea[name='body']")).to_have_value("")
    expect(page.locator("#composer textarea[name='body']")).to_be_focused()
    page.reload()
    expect(page.locator("#composer textarea[name='body']")).to_have_value("")


def test_portal_comment_survives_an_expired_session(new_page, transactional_db):
    requester = UserFactory(username="alice", role=Role.REQUESTER)
    incident = make_incident(by=requester, title="Laptop will not boot")
    page = new_page()
    _record_dialogs(page)
    login(page, "alice", PASSWORD)
    page.goto(f"/portal/tickets/{incident.number}/")
    page.get_by_label("Add a comment").fill("It shows a blinking cursor.")

    page.context.clear_cookies(name="sessionid")  # the session expired while she typed
    page.get_by_role("button", name="Send comment").click()
    page.wait_for_load_state()
    assert "/login/" in page.url
    assert not JournalEntry.objects.filter(ticket=incident, kind="comment").exists()

    login(page, "alice", PASSWORD)
    page.goto(f"/portal/tickets/{incident.number}/")
    expect(page.get_by_label("Add a comment")).to_have_value("It shows a blinking cursor.")
    page.get_by_role("button", name="Send comment").click()
    expect(page.locator("#messages")).to_contain_text("Your comment was added.")
    assert JournalEntry.objects.filter(ticket=incident, kind="comment").count() == 1
    page.reload()
    expect(page.get_by_label("Add a comment")).to_have_value("")


def test_signing_out_leaves_no_draft_behind(new_page, transactional_db):
    UserFactory(username="alice", role=Role.REQUESTER)
    page = new_page()
    dialogs = _record_dialogs(page)
    login(page, "alice", PASSWORD)
    page.goto("/portal/report/")
    page.get_by_label("Short description").fill("Monitor flickers")
    page.goto("/portal/report/")
    expect(page.get_by_label("Short description")).to_have_value("Monitor flickers")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert "beforeunload" in dialogs  # the restored text was never sent
    login(page, "alice", PASSWORD)
    page.goto("/portal/report/")
    expect(page.get_by_label("Short description")).to_have_value("")
