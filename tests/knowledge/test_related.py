"""Related articles: set by number, validated, and shown only where the reader may read."""

from __future__ import annotations

import pytest

from mainspring.core.services import StaleVersion, TicketValidationError
from mainspring.knowledge import services
from mainspring.knowledge.models import Audience
from tests.factories import GroupFactory

pytestmark = pytest.mark.django_db


def numbers(article) -> list[str]:
    return sorted(article.related.values_list("number", flat=True))


@pytest.fixture
def publish_by_other(other_agent, reviewer):
    """Published articles written by someone else (authors always see their own)."""

    def make(**fields):
        return services.publish(services.create_article(by=other_agent, **fields), by=reviewer)

    return make


def test_set_by_numbers_both_ways_with_a_new_version(agent, publish_article):
    a = publish_article(title="VPN")
    b = publish_article(title="Wi-Fi")
    draft = services.create_article(
        by=agent, title="Laptop", related=f"{a.number.lower()}, {b.number} {a.number}"
    )
    assert numbers(draft) == sorted([a.number, b.number])
    assert numbers(a) == [draft.number]  # relations go both ways
    version = draft.version
    services.update_article(draft, by=agent, related=[b.number])
    assert numbers(draft) == [b.number] and numbers(a) == []
    assert draft.version == version + 1
    services.update_article(draft, by=agent, related="")
    assert numbers(draft) == [] and numbers(b) == []


def test_a_published_articles_relations_change_as_a_new_revision(reviewer, publish_article):
    a = publish_article(title="VPN")
    b = publish_article(title="Wi-Fi")
    services.update_article(a, by=reviewer, related=[b.number])
    assert a.revision == 2 and a.revisions.count() == 2
    with pytest.raises(StaleVersion):
        services.update_article(a, by=reviewer, expected_version=1, related=[])
    assert numbers(a) == [b.number]


def test_validation_names_the_bad_numbers(agent, other_agent, reviewer, publish_by_other):
    draft = services.create_article(by=agent, title="Mine")
    others_draft = services.create_article(by=other_agent, title="Theirs")
    network = GroupFactory(name="Network only")
    hidden = publish_by_other(title="Core routers", audience=Audience.GROUPS, groups=[network])
    retired = services.retire(publish_by_other(title="Old"), by=reviewer)

    with pytest.raises(TicketValidationError) as exc:
        services.update_article(draft, by=agent, related="KB9999999, KB9999998")
    assert exc.value.fields["related"] == [
        "No article you can see has the number KB9999999, KB9999998."
    ]
    for invisible in (others_draft, hidden, retired):
        with pytest.raises(TicketValidationError) as exc:
            services.update_article(draft, by=agent, related=[invisible.number])
        assert invisible.number in exc.value.fields["related"][0]
    with pytest.raises(TicketValidationError) as exc:
        services.update_article(draft, by=agent, related=[draft.number])
    assert exc.value.fields["related"] == ["An article cannot be related to itself."]
    with pytest.raises(TicketValidationError) as exc:
        services.update_article(draft, by=agent, related="KB12, hello, <b>")
    assert exc.value.fields["related"] == ["Not article numbers: HELLO, <B>."]
    with pytest.raises(TicketValidationError) as exc:
        services.update_article(
            draft, by=agent, related=[f"KB{n:07d}" for n in range(1, services.MAX_RELATED + 2)]
        )
    assert "At most" in exc.value.fields["related"][0]
    assert numbers(draft) == []
    # A reviewer sees them all, so may relate them.
    services.update_article(draft, by=reviewer, related=[hidden.number, retired.number])
    assert numbers(draft) == sorted([hidden.number, retired.number])


def test_relations_the_editor_cannot_see_are_kept(
    agent, reviewer, publish_article, publish_by_other
):
    network = GroupFactory(name="Network only")
    hidden = publish_by_other(title="Core routers", audience=Audience.GROUPS, groups=[network])
    seen = publish_article(title="VPN")
    draft = services.create_article(by=agent, title="Laptop")
    services.update_article(draft, by=reviewer, related=[hidden.number])
    services.update_article(draft, by=agent, related=[seen.number])
    assert numbers(draft) == sorted([hidden.number, seen.number])
    # ... and not offered in the agent's edit form either.
    assert _form_related(agent, draft) == seen.number


def _form_related(user, article) -> str:
    from django.test import RequestFactory

    from mainspring.knowledge.views import _article_form

    request = RequestFactory().get("/")
    request.user = user
    return _article_form(request, article).initial["related"]


def test_edit_form_sets_related_and_shows_field_errors(client, agent, publish_article):
    a = publish_article(title="VPN client")
    draft = services.create_article(by=agent, title="Laptop", body="x")
    client.force_login(agent)
    form = {
        "title": "Laptop",
        "body": "x",
        "kind": "how_to",
        "audience": "everyone",
        "version": draft.version,
    }
    bad = client.post(
        f"/knowledge/{draft.number}/edit/", {**form, "related": f"{a.number}, KB0999999"}
    )
    assert bad.status_code == 400
    page = bad.content.decode()
    assert 'id="id_related_error"' in page and "KB0999999" in page
    assert numbers(draft) == []

    ok = client.post(f"/knowledge/{draft.number}/edit/", {**form, "related": a.number})
    assert ok.status_code == 302
    assert numbers(draft) == [a.number]
    page = client.get(f"/knowledge/{draft.number}/edit/").content.decode()
    assert f'value="{a.number}"' in page
    detail = client.get(f"/knowledge/{draft.number}/").content.decode()
    assert "Related articles" in detail and "VPN client" in detail


def test_portal_lists_only_published_related_the_reader_may_read(
    client, agent, requester, reviewer, publish_article, publish_by_other
):
    main = publish_article(title="Main article")
    public = publish_article(title="Public neighbour")
    agents_only = publish_article(title="Agents runbook", audience=Audience.AGENTS)
    draft = services.create_article(by=agent, title="Unfinished draft")
    retired = services.retire(publish_by_other(title="Retired one"), by=reviewer)
    services.update_article(
        main,
        by=reviewer,
        related=[public.number, agents_only.number, draft.number, retired.number],
    )

    client.force_login(requester)
    page = client.get(f"/portal/knowledge/{main.number}/").content.decode()
    assert "Public neighbour" in page
    for hidden in ("Agents runbook", "Unfinished draft", "Retired one"):
        assert hidden not in page
    for number in (agents_only.number, draft.number, retired.number):
        assert number not in page

    # Agents in the portal see published ones they may read, not drafts.
    client.force_login(agent)
    page = client.get(f"/portal/knowledge/{main.number}/").content.decode()
    assert "Agents runbook" in page and "Unfinished draft" not in page
    # The agent page lists what the agent may read, drafts marked as such.
    page = client.get(f"/knowledge/{main.number}/").content.decode()
    assert "Unfinished draft" in page and "(Draft)" in page
    assert "Retired one" not in page


def test_api_related_is_a_writable_list_of_numbers(api_for, agent, requester, publish_article):
    a = publish_article(title="VPN")
    runbook = publish_article(title="Runbook", audience=Audience.AGENTS)
    api = api_for(agent)
    created = api.post(
        "/api/v1/articles/", {"title": "Laptop", "related": [a.number]}, format="json"
    )
    assert created.status_code == 201, created.content
    number = created.json()["number"]
    assert created.json()["related"] == [a.number]

    bad = api.patch(f"/api/v1/articles/{number}/", {"related": ["KB0999999"]}, format="json")
    assert bad.status_code == 400
    assert "KB0999999" in bad.json()["error"]["fields"]["related"][0]
    bad = api.patch(f"/api/v1/articles/{number}/", {"related": "KB1"}, format="json")
    assert bad.status_code == 400 and "related" in bad.json()["error"]["fields"]
    bad = api.patch(f"/api/v1/articles/{number}/", {"related": [number]}, format="json")
    assert bad.status_code == 400

    ok = api.patch(
        f"/api/v1/articles/{number}/", {"related": [a.number, runbook.number]}, format="json"
    )
    assert ok.status_code == 200
    assert ok.json()["related"] == sorted([a.number, runbook.number])

    # A requester reading the published neighbour sees neither the draft nor the runbook.
    rq = api_for(requester)
    body = rq.get(f"/api/v1/articles/{a.number}/").json()
    assert body["related"] == []
    assert api.get(f"/api/v1/articles/{a.number}/").json()["related"] == [number]


def test_api_list_related_without_n_plus_one(
    api_for, reviewer, publish_article, django_assert_max_num_queries
):
    api = api_for(reviewer)
    first = publish_article(title="First")
    api.get("/api/v1/articles/")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        api.get("/api/v1/articles/")
    baseline = len(ctx.captured_queries)
    for i in range(5):
        other = publish_article(title=f"Other {i}")
        services.update_article(other, by=reviewer, related=[first.number])
    with django_assert_max_num_queries(baseline):
        body = api.get("/api/v1/articles/").json()
    assert sum(len(item["related"]) for item in body["results"]) == 10
