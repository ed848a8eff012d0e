"""Keyboard shortcuts in the agent workspace (UX 15): j/k, x, Enter, /, r, i, a and ?."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser_support import axe_violations, login
from tests.factories import PASSWORD, make_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_shortcuts_move_select_open_and_write(new_page, agent, requester):
    first = make_incident(by=requester, title="Older one")
    second = make_incident(by=requester, title="Newer one")
    page = new_page()
    page.on("dialog", lambda d: d.accept())
    login(page, agent.username, PASSWORD)
    page.goto("/incidents/")
    page.locator("body").click(position={"x": 5, "y": 300})  # nothing focused

    page.keyboard.press("j")
    expect(page.get_by_role("link", name=second.number)).to_be_focused()  # newest first
    page.keyboard.press("j")
    expect(page.get_by_role("link", name=first.number)).to_be_focused()
    page.keyboard.press("k")
    expect(page.get_by_role("link", name=second.number)).to_be_focused()
    page.keyboard.press("x")
    expect(page.get_by_label(f"Select {second.number}")).to_be_checked()
    page.keyboard.press("/")
    expect(page.locator("#jump-q")).to_be_focused()
    page.keyboard.type("jk")  # typing in a field is typing, not shortcuts
    expect(page.locator("#jump-q")).to_have_value("jk")
    page.locator("#jump-q").fill("")

    page.get_by_role("link", name=second.number).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/incidents/{second.number}/")
    page.keyboard.press("r")
    expect(page.locator("#composer textarea[name='body']")).to_be_focused()
    expect(page.locator("#composer input[value='comment']")).to_be_checked()
    page.keyboard.type("ri")  # the letters go into the message
    expect(page.locator("#composer textarea[name='body']")).to_have_value("ri")
    page.locator("#incident-heading").focus()
    page.keyboard.press("i")
    expect(page.locator("#composer input[value='work_note']")).to_be_checked()
    page.locator("#incident-heading").focus()
    page.keyboard.press("a")
    expect(page.locator("#assign-form select").first).to_be_focused()


def test_question_mark_lists_shortcuts_and_turns_them_off(new_page, agent, requester):
    incident = make_incident(by=requester)
    page = new_page()
    login(page, agent.username, PASSWORD)
    page.goto("/incidents/")
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Next / previous incident")
    assert axe_violations(page) == []
    dialog.get_by_label("Use keyboard shortcuts").uncheck()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    page.reload()  # the choice is kept
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("j")
    expect(page.get_by_role("link", name=incident.number)).not_to_be_focused()
    # The button in the top bar opens the same list, and Escape closes it.
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Use keyboard shortcuts")).not_to_be_checked()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_timeline_filter_shows_one_kind_and_survives_an_update(new_page, agent, requester):
    from mainspring.core import services as core

    incident = make_incident(by=agent, requester=requester, title="Filter me")
    core.add_journal_entry(incident, by=agent, kind="work_note", body="Internal detail")
    core.add_journal_entry(incident, by=requester, kind="comment", body="Customer words")
    page = new_page()
    login(page, agent.username, PASSWORD)
    page.goto(f"/incidents/{incident.number}/")
    timeline = page.locator("ol.timeline")
    page.get_by_role("button", name="Public comments").click()
    expect(page.get_by_role("button", name="Public comments")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(timeline.get_by_text("Customer words")).to_be_visible()
    expect(timeline.get_by_text("Internal detail")).to_be_hidden()
    expect(page.locator("[data-timeline-count]")).to_contain_text("1 of")
    assert axe_violations(page) == []
    # An in-place update (a new note) keeps the filter.
    page.locator("#composer textarea[name='body']").fill("Another internal one")
    page.locator("#composer").get_by_role("button", name="Post").click()
    expect(page.locator("#messages")).to_contain_text("added")
    expect(timeline.get_by_text("Another internal one")).to_be_hidden()
    page.get_by_role("button", name="Work notes").click()
    expect(timeline.get_by_text("Another internal one")).to_be_visible()
    expect(timeline.get_by_text("Customer words")).to_be_hidden()
    page.get_by_role("button", name="Everything").click()
    expect(timeline.get_by_text("Customer words")).to_be_visible()


def test_canned_response_goes_in_at_the_cursor(new_page, agent, requester):
    from mainspring.core.models import CannedResponse

    CannedResponse.objects.create(title="Restart", body="please restart {ticket.number}")
    incident = make_incident(by=requester)
    page = new_page()
    page.on("dialog", lambda d: d.accept())
    login(page, agent.username, PASSWORD)
    page.goto(f"/incidents/{incident.number}/")
    box = page.locator("#composer textarea[name='body']")
    box.click()
    box.press_sequentially("Hi, ::")
    expect(page.locator("#canned-pick")).to_be_focused()  # "::" jumps to the list
    page.locator("#canned-pick").select_option(label="Restart")
    page.keyboard.press("Enter")
    expect(box).to_have_value(f"Hi, please restart {incident.number}")
    expect(box).to_be_focused()
    box.press_sequentially(" now.")
    expect(box).to_have_value(f"Hi, please restart {incident.number} now.")
    # The button does the same.
    page.locator("#canned-pick").select_option(label="Restart")
    page.get_by_role("button", name="Insert", exact=True).click()
    expect(box).to_have_value(
        f"Hi, please restart {incident.number} now. please restart {incident.number}"
    )
    assert axe_violations(page) == []


def test_at_suggests_colleagues_and_writes_the_username(new_page, agent, other_agent, requester):
    incident = make_incident(by=requester)
    page = new_page()
    page.on("dialog", lambda d: d.accept())
    login(page, agent.username, PASSWORD)
    page.goto(f"/incidents/{incident.number}/")
    box = page.locator("#composer textarea[name='body']")
    box.click()
    box.press_sequentially("Could you check, @agent2")
    suggestions = page.locator("#mention-suggestions")
    expect(suggestions).to_be_visible()
    expect(suggestions.locator("[data-mention-status]")).to_contain_text("1 person matches")
    assert axe_violations(page) == []
    page.keyboard.press("ArrowDown")
    expect(suggestions.get_by_role("button", name=f"@{other_agent.username}")).to_be_focused()
    page.keyboard.press("Enter")
    expect(box).to_have_value(f"Could you check, @{other_agent.username} ")
    expect(box).to_be_focused()
    expect(suggestions).to_be_hidden()
