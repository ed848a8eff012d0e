"""A requester types "vpn" while reporting, opens the suggestion, and finds it helpful."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from mainspring.knowledge import services
from mainspring.knowledge.models import ArticleFeedback, Deflection, KnowledgeReviewer
from tests.browser_support import axe_violations, login
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_vpn_suggestion_opened_and_rated(new_page, requester, agent, manager):
    KnowledgeReviewer.objects.create(user=manager)
    article = services.create_article(
        by=agent, title="VPN connection drops", summary="Fix the VPN client", body="Reinstall."
    )
    services.publish(article, by=manager)
    page = new_page()
    login(page, requester.username, PASSWORD)
    page.goto("/portal/report/")
    page.get_by_label("Short description").press_sequentially("vpn", delay=50)
    suggestion = page.locator(".kb-suggestions").get_by_role("link", name="VPN connection drops")
    expect(suggestion).to_be_visible()
    assert axe_violations(page) == []
    suggestion.click()
    expect(page.get_by_role("heading", name="VPN connection drops")).to_be_visible()
    page.get_by_role("button", name="Yes, helpful").click()
    expect(page.get_by_text("Thank you for your feedback.")).to_be_visible()
    assert axe_violations(page) == []
    assert ArticleFeedback.objects.get(article=article, user=requester).helpful is True
    assert Deflection.objects.filter(article=article, user=requester, cancelled=False).count() == 1


def test_agent_inserts_an_article_link_into_a_comment(new_page, agent, publish_article):
    from tests.factories import make_incident

    article = publish_article(title="VPN [beta] connection drops", body="Reinstall the client.")
    incident = make_incident(by=agent, title="VPN connection drops")
    page = new_page()
    login(page, agent.username, PASSWORD)
    page.goto(f"/incidents/{incident.number}/")
    insert = page.get_by_role("button", name="Insert link in comment")
    expect(insert).to_be_visible()
    box = page.locator("#composer textarea[name='body']")
    box.fill("Please try")
    insert.click()
    expect(box).to_be_focused()
    expected = f"Please try [{article.number} VPN \\[beta\\] connection drops]({article.web_url})"
    expect(box).to_have_value(expected)
    page.locator("#composer").get_by_role("button", name="Post").click()
    link = page.locator(".timeline .markdown a", has_text=article.number)
    expect(link).to_have_attribute("href", article.web_url)
    assert axe_violations(page) == []
