import pytest

from mainspring.core.services import StaleVersion, TicketValidationError
from mainspring.core.states import InvalidTransition
from mainspring.identity.policy import Forbidden, NotVisible
from mainspring.knowledge import services
from mainspring.knowledge.models import ArticleRevision, Audience, Deflection
from tests.factories import make_incident

pytestmark = pytest.mark.django_db


def test_number_and_lifecycle(agent, reviewer):
    article = services.create_article(by=agent, title="Reset your password", body="Go to **x**")
    assert article.number.startswith("KB") and len(article.number) == 9
    services.submit(article, by=agent)
    assert article.state == "in_review"
    services.send_back(article, by=reviewer, comment="Add screenshots")
    assert (article.state, article.review_comment) == ("draft", "Add screenshots")
    services.publish(article, by=reviewer)
    assert article.state == "published" and article.revision == 1
    services.retire(article, by=reviewer)
    article.refresh_from_db()
    assert article.state == "retired"


def test_only_reviewers_publish(agent, other_agent, reviewer):
    article = services.create_article(by=agent, title="T")
    with pytest.raises(Forbidden):
        services.publish(article, by=agent)
    with pytest.raises(NotVisible):  # another agent's draft is not theirs to see
        services.publish(article, by=other_agent)
    article.refresh_from_db()
    assert article.state == "draft"


def test_send_back_needs_comment_and_retire_needs_published(agent, reviewer):
    article = services.create_article(by=agent, title="T")
    services.submit(article, by=agent)
    with pytest.raises(TicketValidationError):
        services.send_back(article, by=reviewer, comment=" ")
    with pytest.raises(InvalidTransition):
        services.retire(article, by=reviewer)


def test_versions_kept_and_diff(agent, reviewer):
    article = services.create_article(by=agent, title="VPN", body="line one\nline two")
    services.publish(article, by=reviewer)
    services.update_article(article, by=reviewer, body="line one\nline three")
    revisions = list(ArticleRevision.objects.filter(article=article).order_by("number"))
    assert [r.number for r in revisions] == [1, 2]
    diff = services.revision_diff(revisions[0], revisions[1])
    assert ("-", "line two") in diff and ("+", "line three") in diff


def test_stale_version_refused(agent):
    article = services.create_article(by=agent, title="T")
    services.update_article(article, by=agent, expected_version=1, title="T2")
    with pytest.raises(StaleVersion):
        services.update_article(article, by=agent, expected_version=1, title="T3")


def test_groups_audience_needs_groups(agent):
    with pytest.raises(TicketValidationError):
        services.create_article(by=agent, title="T", audience=Audience.GROUPS)


def test_requester_cannot_write(requester):
    with pytest.raises(Forbidden):
        services.create_article(by=requester, title="T")


def test_deflection_cancelled_by_submit(publish_article, requester):
    article = publish_article(title="VPN")
    services.record_deflection(article, by=requester)
    make_incident(by=requester)
    assert Deflection.objects.get().cancelled is True
    services.record_deflection(article, by=requester)
    assert Deflection.objects.filter(cancelled=False).count() == 1


def test_resolved_by_article_counted_once(publish_article, agent, requester):
    article = publish_article(title="VPN")
    incident = make_incident(by=requester)
    services.mark_resolved_by_article(incident, article, by=agent)
    services.mark_resolved_by_article(incident, article, by=agent)
    from mainspring.knowledge.models import ResolvedByArticle

    assert ResolvedByArticle.objects.filter(article=article).count() == 1
    with pytest.raises(Exception):
        services.mark_resolved_by_article(incident, article, by=requester)


def test_draft_from_incident(agent, requester):
    incident = make_incident(by=requester, title="Printer jams", description="Paper stuck")
    article = services.draft_from_incident(incident, by=agent)
    assert article.title == "Printer jams" and "Paper stuck" in article.body
    assert article.state == "draft"


def test_body_html_is_sanitised(agent):
    article = services.create_article(
        by=agent,
        title="T",
        body="[x](javascript:alert(1)) <script>a</script> ![i](https://e/i.png)",
    )
    html = article.body_html
    assert 'href="javascript' not in html and "<script" not in html
    assert '<img src="https://e/i.png"' in html
