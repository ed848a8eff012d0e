"""Two agents on one incident: each sees the other within 15 s, typing included, and a
change by one shows "Updated by" on the other's page without touching their composer."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mainspring.incidents import services
from tests.browser_support import axe_violations, login
from tests.factories import PASSWORD, make_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_presence_typing_and_updated_by(new_page, agent, other_agent, requester):
    incident = make_incident(by=requester, title="Mail server slow")
    mine, theirs = new_page(), new_page()
    for page, user in ((mine, agent), (theirs, other_agent)):
        page.on("dialog", lambda d: d.accept())
        login(page, user.username, PASSWORD)
        page.goto(f"/incidents/{incident.number}/")

    # Each page reports on load, then every 10 s: the first one sees the second next time.
    expect(mine.locator("#presence")).to_contain_text(
        f"Also viewing: {other_agent.name}", timeout=15_000
    )
    theirs.locator("#composer textarea[name='body']").press_sequentially("Looking at the queue")
    expect(mine.locator("#presence")).to_contain_text("(typing…)", timeout=15_000)

    mine.locator("#composer textarea[name='body']").fill("My half-written note")
    services.update_incident(incident, by=other_agent, urgency="high")
    expect(mine.locator("#presence")).to_contain_text(
        f"Updated by {other_agent.name}", timeout=15_000
    )
    expect(mine.locator("#composer textarea[name='body']")).to_have_value("My half-written note")
    assert axe_violations(mine) == []
