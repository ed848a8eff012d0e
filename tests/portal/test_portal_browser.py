"""The portal and sign-in pages in a real browser: accessibility (axe) and 320 px layout."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mainspring.identity.models import Role
from tests.browser_support import axe_violations, login
from tests.factories import PASSWORD, UserFactory, make_incident

pytestmark = pytest.mark.browser


def _no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_login_and_portal_pages_are_accessible(new_page, transactional_db):
    UserFactory(username="demoalice", role=Role.REQUESTER, is_demo=True)
    requester = UserFactory(username="alice", role=Role.REQUESTER)
    incident = make_incident(by=requester, title="Printer jams on floor 3")
    page = new_page()

    page.goto("/login/")
    assert "Demo accounts" in page.content()
    assert axe_violations(page) == []
    # Wrong password: the summary gets focus and the page stays accessible.
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    expect(page.locator(".error-summary")).to_be_focused()
    assert axe_violations(page) == []

    login(page, "alice", PASSWORD)
    assert page.url.endswith("/portal/")
    assert axe_violations(page) == []

    # Report with no title: error summary, field kept, still accessible.
    page.get_by_label("Details").fill("It eats paper")
    page.get_by_role("button", name="Report incident").click()
    page.wait_for_load_state()
    assert page.get_by_label("Details").input_value() == "It eats paper"
    expect(page.locator(".error-summary")).to_be_focused()
    assert axe_violations(page) == []

    page.goto(f"/portal/tickets/{incident.number}/")
    page.get_by_label("Add a comment").fill("Still jamming.")
    page.get_by_role("button", name="Send comment").click()
    page.wait_for_load_state()
    assert "Still jamming." in page.content()
    assert axe_violations(page) == []

    page.goto("/account/")
    page.get_by_label("Token name").fill("script")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_load_state()
    assert page.locator("#new-token").input_value().startswith("ms_")
    assert axe_violations(page) == []

    page.goto("/account/password/")
    assert axe_violations(page) == []


def test_portal_fits_a_320px_screen(new_page, transactional_db):
    requester = UserFactory(username="alice", role=Role.REQUESTER)
    incident = make_incident(
        by=requester, title="A rather long short description " * 5, description="x" * 400
    )
    page = new_page()
    page.set_viewport_size({"width": 320, "height": 700})
    login(page, "alice", PASSWORD)
    for url in ("/portal/", f"/portal/tickets/{incident.number}/", "/account/", "/login/"):
        page.goto(url)
        assert _no_horizontal_scroll(page), url
