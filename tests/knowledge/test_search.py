"""The same relevance cases on SQLite (FTS5) and PostgreSQL (tsvector)."""

import re

import pytest

from mainspring.knowledge import search, services
from mainspring.knowledge.models import Audience

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(publish_article):
    return {
        "vpn_title": publish_article(
            title="VPN connection drops", body="Reinstall the client and sign in again."
        ),
        "vpn_body": publish_article(
            title="Working from home", body="Use the VPN when you are away from the office."
        ),
        "printer": publish_article(
            title="Add a printer", body="Open Settings, then Printers and scanners."
        ),
        "agents": publish_article(
            title="VPN concentrator failover",
            body="Internal runbook.",
            audience=Audience.AGENTS,
        ),
        "outlook": publish_article(
            title="Outlook on your phone", body="Install the mobile app and add your mailbox."
        ),
    }


def numbers(hits):
    return [h.number for h in hits]


def test_title_match_beats_body_match(corpus, requester):
    hits = search.search_articles(requester, "vpn ")
    assert numbers(hits)[:2] == [corpus["vpn_title"].number, corpus["vpn_body"].number]


def test_stemming_connecting_finds_connection(corpus, requester):
    assert corpus["vpn_title"].number in numbers(search.search_articles(requester, "connecting "))


def test_stemming_printers_finds_printer(corpus, requester):
    hits = search.search_articles(requester, "printers ")
    assert numbers(hits) == [corpus["printer"].number]


def test_agents_only_never_reaches_requester(corpus, requester, agent):
    assert corpus["agents"].number not in numbers(search.search_articles(requester, "vpn"))
    assert corpus["agents"].number not in numbers(search.search_articles(requester, "concentrator"))
    assert corpus["agents"].number in numbers(search.search_articles(agent, "concentrator"))


def test_retired_article_disappears_at_once(corpus, requester, reviewer):
    services.retire(corpus["printer"], by=reviewer)
    assert search.search_articles(requester, "printer") == []


def test_draft_is_not_found(agent, requester):
    services.create_article(by=agent, title="Secret draft about printers")
    assert search.search_articles(requester, "printers") == []


def test_phrase_query(corpus, requester):
    hits = search.search_articles(requester, '"away from the office"')
    assert numbers(hits) == [corpus["vpn_body"].number]
    assert search.search_articles(requester, '"office the away"') == []


def test_prefix_query(corpus, requester):
    assert numbers(search.search_articles(requester, "outl")) == [corpus["outlook"].number]
    assert numbers(search.search_articles(requester, "mailb* phone")) == [corpus["outlook"].number]


def test_snippet_is_escaped_with_marks_only(publish_article, requester):
    publish_article(title="Weird", body="<script>alert(1)</script> the keyboard is stuck")
    [hit] = search.search_articles(requester, "keyboard")
    assert "<script>" not in hit.snippet
    # Either escaped (FTS5) or dropped as markup (ts_headline); never live tags but <mark>.
    assert set(re.findall(r"<(/?\w+)", hit.snippet)) == {"mark", "/mark"}
    assert "<mark>keyboard</mark>" in hit.snippet


def test_operators_in_query_are_harmless(corpus, requester):
    for q in ["' OR 1=1--", 'vpn" OR "', "NEAR(a b)", "a:* & !b", "***", "(", "-"]:
        search.search_articles(requester, q)  # no error
    assert search.search_articles(requester, "   ") == []


def test_filters(corpus, requester, publish_article):
    tagged = publish_article(title="VPN on macOS", tags="mac vpn", kind="faq")
    assert numbers(search.search_articles(requester, "vpn", tag="mac")) == [tagged.number]
    assert numbers(search.search_articles(requester, "vpn", kind="faq")) == [tagged.number]


def test_incident_search_for_agents_only(agent, requester, other_requester):
    from tests.factories import make_incident

    mine = make_incident(by=requester, title="Monitor flickering", description="Screen blinks")
    theirs = make_incident(by=other_requester, title="Monitor dead", description="No picture")
    agent_hits = numbers(search.search_incidents(agent, "monitors"))
    assert set(agent_hits) == {mine.number, theirs.number}
    assert numbers(search.search_incidents(requester, "monitor")) == [mine.number]
    assert all(h.kind == "article" for h in search.search(requester, "monitor"))


def test_incident_index_follows_title_change(agent, requester):
    from mainspring.incidents import services as incident_services
    from tests.factories import make_incident

    incident = make_incident(by=requester, title="Keyboard broken", description="")
    incident_services.update_incident(incident, by=agent, title="Mouse broken")
    assert numbers(search.search_incidents(agent, "mouse")) == [incident.number]


@pytest.mark.postgres
def test_typo_tolerance_on_postgres(corpus, requester):
    assert corpus["outlook"].number in numbers(search.search_articles(requester, "Outlok on phone"))


# -- tiers and bounded ranking ------------------------------------------------------------
def test_title_then_summary_or_tags_then_body(publish_article, requester):
    body = publish_article(title="Working remotely", body="Start the tunnel client first.")
    summary = publish_article(title="Remote access", summary="The tunnel drops at night.")
    tags = publish_article(title="Home office", tags="tunnel network")
    title = publish_article(title="Tunnel setup")
    hits = numbers(search.search_articles(requester, "tunnel "))
    assert hits[0] == title.number
    assert set(hits[1:3]) == {summary.number, tags.number}
    assert hits[3] == body.number


def test_a_tier_ranks_only_a_bounded_set_of_candidates(publish_article, requester, monkeypatch):
    monkeypatch.setattr(search, "CANDIDATES", 2)
    old = publish_article(title="Scanner jams", body="scanner scanner scanner scanner")
    newer = [publish_article(title=f"Scanner model {n}") for n in range(3)]
    body_only = publish_article(title="Paper", body="Clean the scanner glass.")
    # limit 1: the title tier ranks its 2 newest matches only, so the most mentioned
    # (but oldest) title match is not among them; body matches are not even searched.
    assert numbers(search.search_articles(requester, "scanner ", limit=1)) in (
        [newer[2].number],
        [newer[1].number],
    )
    # A larger limit widens the candidates: every title match, then the body tier.
    hits = numbers(search.search_articles(requester, "scanner ", limit=10))
    assert set(hits[:4]) == {old.number, *(a.number for a in newer)}
    assert hits[4:] == [body_only.number]


def test_invisible_articles_never_take_a_candidate_place(
    publish_article, requester, other_requester, agent, monkeypatch, network_team
):
    from tests.factories import add_member

    monkeypatch.setattr(search, "CANDIDATES", 1)
    visible = publish_article(title="Docking station flickers")
    # Newer, so they would be the first candidates if visibility came afterwards.
    agents_only = publish_article(title="Docking station firmware", audience=Audience.AGENTS)
    for_group = publish_article(
        title="Docking station loan", audience=Audience.GROUPS, groups=[network_team]
    )
    add_member(network_team, other_requester)
    assert numbers(search.search_articles(requester, "docking ", limit=1)) == [visible.number]
    assert numbers(search.search_articles(other_requester, "docking ", limit=1)) == [
        for_group.number
    ]
    assert numbers(search.search_articles(agent, "docking ", limit=1)) == [for_group.number]
    assert agents_only.number in numbers(search.search_articles(agent, "docking ", limit=3))
    everything = numbers(search.search_articles(requester, "docking station", limit=20))
    assert everything == [visible.number]


def test_snippet_finds_a_match_deep_in_a_long_body(publish_article, requester):
    filler = "Nothing to see in this sentence at all. " * 120
    publish_article(title="Power", body=filler + "Replace the battery pack. " + filler)
    [hit] = search.search_articles(requester, "batteries")
    assert "<mark>battery</mark>" in hit.snippet
    assert len(hit.snippet) < 400


def test_category_filter_and_query_count(publish_article, requester, django_assert_max_num_queries):
    from tests.factories import CategoryFactory

    parent = CategoryFactory(name="Hardware")
    child = CategoryFactory(name="Printers", parent=parent)
    inside = publish_article(title="Printer offline", category=child)
    publish_article(title="Printer driver")
    # However many rows match: at most one statement per tier and one for the rows.
    with django_assert_max_num_queries(4):
        hits = search.search_articles(requester, "printer", category=parent.pk)
    assert numbers(hits) == [inside.number]


def test_short_explicit_prefix_is_a_plain_word(corpus, requester):
    assert search.parse_query("ou* vpn ") == [search.Term(("ou",)), search.Term(("vpn",))]
    search.search_articles(requester, "a* o*")  # no error, no scan of every word


@pytest.mark.postgres
def test_typo_correction_never_reveals_what_the_requester_cannot_see(corpus, requester, agent):
    # "concentrator" is known (an agents-only title), so the typo is corrected to it,
    # but the corrected search is still limited to what the requester may read.
    assert search.search_articles(requester, "concentrater") == []
    assert numbers(search.search_articles(agent, "concentrater")) == [corpus["agents"].number]


@pytest.mark.postgres
def test_typo_in_one_of_several_words(corpus, requester):
    hits = search.search_articles(requester, "printr settings")
    assert numbers(hits) == [corpus["printer"].number]
