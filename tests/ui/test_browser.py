"""The agent workspace in a real browser: axe (WCAG 2.2 AA), HTMX swaps, focus, 320 px.

Debian's chromium through Playwright's ``executable_path`` (no Playwright browser
download); axe-core is the vendored copy the setup step installs.
"""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import expect

from mainspring.core import services as core
from mainspring.incidents.models import ResolutionCode
from tests.browser_support import AXE
from tests.factories import CategoryFactory, make_incident

# The live server needs committed data. Transactional tests end with a flush, which also
# takes the migrations' reference data, so the fixtures below recreate what they use.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE_RUN = """async () => {
  const r = await axe.run(document, {runOnly: {type: 'tag',
    values: ['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa']}});
  return r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
}"""


@pytest.fixture
def agent_page(browser, live_server, agent):
    """A page signed in as the agent (session cookie from Django's test client)."""
    client = Client()
    client.force_login(agent)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    yield page
    context.close()


def violations(page) -> list[str]:
    page.evaluate(AXE.read_text())
    return page.evaluate(AXE_RUN)


@pytest.fixture
def incident(agent, requester, service_desk):
    ResolutionCode.objects.get_or_create(code="solved", defaults={"label": "Solved"})
    incident = make_incident(
        by=agent,
        requester=requester,
        assignment_group=service_desk,
        title="VPN <img src=x onerror=alert(1)> drops",
    )
    core.add_journal_entry(incident, by=agent, kind="work_note", body="Checked **logs**")
    core.add_journal_entry(incident, by=agent, kind="comment", body="We are on it")
    return incident


def test_queue_filters_in_place_and_is_accessible(agent_page, incident, agent, requester):
    make_incident(by=agent, requester=requester, title="Printer", impact="high", urgency="high")
    agent_page.goto("/incidents/")
    assert violations(agent_page) == []
    agent_page.select_option("#id_priority", "1")
    agent_page.wait_for_selector("#queue-status:has-text('1 ticket shown')")
    assert "priority=1" in agent_page.url  # the filter is in the address bar
    expect(agent_page.locator("tbody tr")).to_have_count(1)
    agent_page.click("#sort-updated")
    agent_page.wait_for_selector("th[aria-sort='descending'] #sort-updated")
    assert violations(agent_page) == []


def test_detail_actions_swap_in_place_and_keep_drafts(agent_page, incident):
    agent_page.goto(f"/incidents/{incident.number}/")
    assert agent_page.title().startswith(incident.number)
    assert violations(agent_page) == []
    # A public comment: posted in place, the composer returns to "work note".
    agent_page.check("input[name=kind][value=comment]")
    agent_page.fill("#id_body", "Please restart the client")
    agent_page.click("#composer button[type=submit]")
    agent_page.wait_for_selector("#messages:has-text('Public comment added.')")
    expect(agent_page.locator("input[name=kind][value=work_note]")).to_be_checked()
    expect(agent_page.locator("#id_body")).to_be_focused()
    # A half-written note survives another action on the page.
    agent_page.fill("#id_body", "Draft in progress")
    agent_page.click("button:has-text('Start work')")
    agent_page.wait_for_selector("#messages:has-text('is now In progress')")
    expect(agent_page.locator("#id_body")).to_have_value("Draft in progress")
    # Resolve without notes: the error summary takes focus; then resolve properly.
    agent_page.click("summary:has-text('Resolve')")
    agent_page.select_option("#id_resolution_code", "solved")
    agent_page.click("#resolve-form button[type=submit]")
    agent_page.wait_for_selector("#resolve-errors")
    expect(agent_page.locator("#resolve-errors")).to_be_focused()
    assert violations(agent_page) == []
    agent_page.fill("#id_resolution_notes", "Restarted the concentrator")
    agent_page.click("#resolve-form button[type=submit]")
    agent_page.wait_for_selector("#messages:has-text('is now Resolved')")
    expect(agent_page.locator(".badge", has_text="Resolved")).to_have_count(1)
    assert agent_page.locator("img[src=x]").count() == 0


def test_create_errors_and_dependent_subcategories(agent_page):
    network = CategoryFactory(name="Network")
    CategoryFactory(name="VPN", parent=network)
    CategoryFactory(name="Laptop", parent=CategoryFactory(name="Hardware"))
    agent_page.goto("/incidents/new/")
    agent_page.select_option("#id_category", label="Network")
    agent_page.wait_for_selector("#id_subcategory option:has-text('VPN')", state="attached")
    agent_page.wait_for_selector("#id_subcategory option:has-text('Laptop')", state="detached")
    assert agent_page.locator("#id_subcategory option").all_text_contents() == ["(none)", "VPN"]
    agent_page.select_option("#id_impact", "high")
    agent_page.select_option("#id_urgency", "high")
    agent_page.wait_for_selector("#priority-preview:has-text('P1 Critical')")
    agent_page.click("button:has-text('Create incident')")
    agent_page.wait_for_selector(".error-summary")
    expect(agent_page.locator("#form-errors")).to_be_focused()
    assert violations(agent_page) == []


@pytest.mark.parametrize("path", ["/incidents/", "/incidents/{n}/", "/incidents/new/"])
def test_no_sideways_scrolling_at_320px(agent_page, incident, path):
    agent_page.set_viewport_size({"width": 320, "height": 700})
    agent_page.goto(path.format(n=incident.number))
    width = agent_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320


def test_an_answer_htmx_cannot_swap_is_announced_and_the_text_is_kept(agent_page, incident):
    """A 503 (the database away) swaps nothing: the status region says so, the comment
    stays in the composer, and sending it again once the server is back posts it. The
    503 is the one ``core.middleware.database_unavailable`` gives (tests/core/test_outage
    makes real outages); here only its arrival in the browser is staged."""
    agent_page.goto(f"/incidents/{incident.number}/")
    unavailable = {
        "status": 503,
        "headers": {"Content-Type": "text/html; charset=utf-8", "Retry-After": "5"},
        "body": "<!doctype html><title>Temporarily unavailable</title>",
    }
    agent_page.route("**/comment/", lambda route: route.fulfill(**unavailable))
    agent_page.fill("#id_body", "Replacing the cable now")
    agent_page.click("#composer button[type=submit]")
    agent_page.wait_for_selector("#messages:has-text('temporarily unavailable')")
    expect(agent_page.locator("#id_body")).to_have_value("Replacing the cable now")
    assert violations(agent_page) == []
    agent_page.unroute("**/comment/")
    agent_page.click("#composer button[type=submit]")
    agent_page.wait_for_selector("#messages:has-text('Work note added.')")
    expect(agent_page.locator("#messages [data-request-failed]")).to_have_count(0)
