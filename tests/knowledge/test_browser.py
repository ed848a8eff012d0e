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
