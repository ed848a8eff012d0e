"""The requester portal: report, my tickets, the ticket page and its actions."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mainspring.core import services as core_services
from mainspring.core.models import Attachment, Channel, JournalEntry, JournalKind, Watcher
from mainspring.incidents import services as incident_services
from mainspring.incidents.models import Incident, IncidentState, ResolutionCode
from mainspring.portal.views import PAGE_SIZE, customer_state
from tests.factories import CategoryFactory, make_incident

pytestmark = pytest.mark.django_db

XSS = '<img src=x onerror=alert(1)><script>alert("x")</script>'


def _url(incident, action: str = "") -> str:
    if not action:
        return reverse("portal:ticket", kwargs={"number": incident.number})
    return reverse(f"portal:{action}", kwargs={"number": incident.number})


def _resolved(requester, agent) -> Incident:
    incident = make_incident(by=requester, title="Printer jams")
    code = ResolutionCode.objects.get_or_create(code="solved", defaults={"label": "Solved"})[0]
    incident_services.resolve(incident, by=agent, code=code, notes="Replaced the *roller*.")
    incident.refresh_from_db()
    return incident


# --- Home and report ------------------------------------------------------------------


def test_portal_requires_login(client):
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_report_an_incident(client, requester):
    category = CategoryFactory(name="Hardware")
    client.force_login(requester)
    home = client.get(reverse("portal:home")).content.decode()
    assert "Report an incident" in home
    assert "Hardware" in home

    response = client.post(
        reverse("portal:report"),
        {
            "title": "  Laptop will not boot ",
            "description": "Black screen.",
            "category": category.pk,
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url(incident)
    assert incident.title == "Laptop will not boot"
    assert incident.requester == requester
    assert incident.channel == Channel.PORTAL
    assert incident.category == category
    assert incident.state == IncidentState.NEW
    page = client.get(_url(incident)).content.decode()
    assert incident.number in page
    assert "Submitted" in page


def test_report_errors_keep_input(client, requester):
    client.force_login(requester)
    response = client.post(
        reverse("portal:report"), {"title": "", "description": "Keep me", "category": "999"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "error-summary" in html
    assert 'href="#id_title"' in html
    assert "Keep me" in html
    assert 'aria-invalid="true"' in html
    assert not Incident.objects.exists()


def test_report_cannot_set_agent_fields(client, requester, agent):
    client.force_login(requester)
    client.post(
        reverse("portal:report"),
        {
            "title": "Mouse broken",
            "priority": "1",
            "assignee": agent.pk,
            "requester": agent.pk,
            "impact": "high",
        },
    )
    incident = Incident.objects.get()
    assert incident.requester == requester
    assert incident.assignee is None
    assert incident.priority == 5


def test_my_tickets_lists_only_mine_with_customer_wording(
    client, requester, other_requester, agent
):
    mine = make_incident(by=requester, title="Mine new")
    waiting = make_incident(by=requester, title="Mine waiting")
    incident_services.hold(waiting, by=agent, hold_reason="awaiting_caller")
    resolved = _resolved(requester, agent)
    theirs = make_incident(by=other_requester, title="Bob secret")
    client.force_login(requester)
    html = client.get(reverse("portal:home")).content.decode()
    assert mine.number in html and waiting.number in html and resolved.number in html
    assert theirs.number not in html and "Bob secret" not in html
    assert "Submitted" in html
    assert "Waiting for you" in html
    assert "Resolved — please confirm" in html
    assert "(2 open)" in html
    # Newest first.
    assert html.index(resolved.number) < html.index(waiting.number) < html.index(mine.number)


def test_watched_tickets_are_listed(client, requester, other_requester):
    theirs = make_incident(by=other_requester, title="Shared outage")
    Watcher.objects.create(ticket=theirs, user=requester)
    client.force_login(requester)
    assert theirs.number in client.get(reverse("portal:home")).content.decode()
    assert client.get(_url(theirs)).status_code == 200


def test_customer_state_wording():
    assert customer_state("new") == ("Submitted", "blue")
    assert customer_state("in_progress")[0] == "In progress"
    assert customer_state("on_hold", "awaiting_caller")[0] == "Waiting for you"
    assert customer_state("on_hold", "awaiting_vendor")[0] == "Waiting on a supplier"
    assert customer_state("resolved")[0] == "Resolved — please confirm"
    assert customer_state("closed")[0] == "Closed"
    assert customer_state("cancelled")[0] == "Cancelled"


def test_my_tickets_keyset_pagination(client, requester):
    made = [make_incident(by=requester, title=f"Ticket {n}") for n in range(PAGE_SIZE + 3)]
    client.force_login(requester)
    first = client.get(reverse("portal:home"))
    html = first.content.decode()
    assert made[-1].number in html
    assert made[2].number not in html
    cursor = first.context["next_cursor"]
    assert cursor == made[3].pk
    second = client.get(reverse("portal:home") + f"?before={cursor}").content.decode()
    for incident in made[:3]:
        assert incident.number in second
    assert made[3].number not in second
    assert "Older tickets" not in second
    # A junk cursor is the first page, never a 500.
    assert client.get(reverse("portal:home") + "?before=abc").status_code == 200
    assert client.get(reverse("portal:home") + "?before=-5").status_code == 200


def test_portal_home_query_count(client, requester, django_assert_max_num_queries):
    for n in range(15):
        make_incident(by=requester, title=f"Ticket {n}", category=CategoryFactory(name=f"C{n}"))
    client.force_login(requester)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("portal:home"))
    assert response.status_code == 200
    assert len(response.context["tickets"]) == 15


def test_agent_portal_shows_their_own_requests_only(client, agent, requester):
    theirs = make_incident(by=requester, title="Requester ticket")
    own = make_incident(by=agent, title="Agent's own laptop")
    client.force_login(agent)
    html = client.get(reverse("portal:home")).content.decode()
    assert own.number in html
    assert theirs.number not in html


# --- Ticket page ----------------------------------------------------------------------


def test_another_requesters_ticket_is_404(client, requester, other_requester):
    theirs = make_incident(by=other_requester)
    client.force_login(requester)
    assert client.get(_url(theirs)).status_code == 404
    assert client.get(reverse("portal:ticket", kwargs={"number": "INC9999999"})).status_code == 404
    for action in ("comment", "attach", "reopen", "confirm"):
        assert client.post(_url(theirs, action), {"body": "hi", "version": 1}).status_code == 404
    assert not JournalEntry.objects.filter(ticket=theirs, kind=JournalKind.COMMENT).exists()


def test_number_lookup_is_case_insensitive(client, requester):
    incident = make_incident(by=requester)
    client.force_login(requester)
    url = reverse("portal:ticket", kwargs={"number": incident.number.lower()})
    assert client.get(url).status_code == 200


def test_requester_never_sees_work_notes_or_audit(client, requester, agent):
    incident = make_incident(by=requester, title="VPN down")
    core_services.add_journal_entry(
        incident, by=agent, kind="work_note", body="INTERNAL: user is on the watch list"
    )
    core_services.add_journal_entry(incident, by=agent, kind="comment", body="We are on it.")
    core_services.add_system_entry(incident, "Escalated to the network team.")
    incident_services.update_incident(incident, by=agent, impact="high", urgency="high")
    client.force_login(requester)
    html = client.get(_url(incident)).content.decode()
    assert "INTERNAL" not in html
    assert "watch list" not in html
    assert "We are on it." in html
    assert "Escalated to the network team." in html
    # Agent-only fields and the audit trail stay out of what the page shows. (The text
    # only: the CSRF token in an attribute is random and may well contain "P1".)
    text = re.sub(r"<[^>]*>", " ", html)
    assert "Priority" not in text and not re.search(r"\bP1\b", text)
    assert "impact" not in text.lower()


def test_comment(client, requester):
    incident = make_incident(by=requester)
    client.force_login(requester)
    response = client.post(_url(incident, "comment"), {"body": "Still broken after reboot."})
    assert response.status_code == 302
    assert response["Location"] == _url(incident) + "#conversation"
    entry = JournalEntry.objects.get(ticket=incident, kind=JournalKind.COMMENT)
    assert entry.author == requester
    assert entry.channel == Channel.PORTAL
    assert "Still broken after reboot." in client.get(_url(incident)).content.decode()


def test_empty_comment_is_an_error_not_a_500(client, requester):
    incident = make_incident(by=requester)
    client.force_login(requester)
    response = client.post(_url(incident, "comment"), {"body": "   "})
    assert response.status_code == 400
    assert "error-summary" in response.content.decode()
    assert not JournalEntry.objects.filter(ticket=incident, kind=JournalKind.COMMENT).exists()
    assert client.get(_url(incident, "comment")).status_code == 405


def test_xss_in_comment_title_and_filename_is_inert(client, requester):
    incident = make_incident(by=requester, title=XSS, description=XSS)
    client.force_login(requester)
    client.post(_url(incident, "comment"), {"body": XSS + " [x](javascript:alert(1))"})
    upload = SimpleUploadedFile('"><img src=x onerror=1>.png', b"hello", "image/png")
    client.post(_url(incident, "attach"), {"file": upload})
    html = client.get(_url(incident)).content.decode()
    home = client.get(reverse("portal:home")).content.decode()
    for page in (html, home):
        assert "<script>alert" not in page
        assert not re.search(r"<img[^>]*onerror", page)
        assert not re.search(r"<[^>]*\son\w+=", page)  # no event handler attribute at all
    assert 'href="javascript:' not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown, escaped


def test_attach_a_file(client, requester):
    incident = make_incident(by=requester)
    client.force_login(requester)
    upload = SimpleUploadedFile("screen shot.png", b"\x89PNG fake", "image/png")
    response = client.post(_url(incident, "attach"), {"file": upload})
    assert response.status_code == 302
    attachment = Attachment.objects.get(ticket=incident)
    assert attachment.filename == "screen shot.png"
    assert attachment.uploaded_by == requester
    html = client.get(_url(incident)).content.decode()
    assert "screen shot.png" in html
    assert reverse("attachment-download", kwargs={"key": attachment.storage_key}) in html


def test_attach_errors(client, requester, settings):
    incident = make_incident(by=requester)
    client.force_login(requester)
    response = client.post(_url(incident, "attach"), {})
    assert response.status_code == 400
    empty = SimpleUploadedFile("empty.txt", b"", "text/plain")
    assert client.post(_url(incident, "attach"), {"file": empty}).status_code == 400
    settings.ATTACHMENT_MAX_BYTES = 10
    big = SimpleUploadedFile("big.txt", b"x" * 50, "text/plain")
    response = client.post(_url(incident, "attach"), {"file": big})
    assert response.status_code == 413
    assert "limited to" in response.content.decode()
    assert not Attachment.objects.exists()


def test_confirm_a_resolved_incident(client, requester, agent):
    incident = _resolved(requester, agent)
    client.force_login(requester)
    html = client.get(_url(incident)).content.decode()
    assert "Is it fixed?" in html
    assert "<em>roller</em>" in html  # the resolution notes, rendered
    response = client.post(_url(incident, "confirm"), {"version": incident.version})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.state == IncidentState.CLOSED
    html = client.get(_url(incident)).content.decode()
    assert "Is it fixed?" not in html
    assert "Closed" in html


def test_reopen_with_a_reason(client, requester, agent):
    incident = _resolved(requester, agent)
    client.force_login(requester)
    response = client.post(
        _url(incident, "reopen"), {"version": incident.version, "reason": "Jams again."}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.state == IncidentState.IN_PROGRESS
    entry = JournalEntry.objects.get(ticket=incident, kind=JournalKind.COMMENT)
    assert entry.body == "Jams again."
    assert entry.channel == Channel.PORTAL


def test_reopen_or_confirm_on_a_stale_page_is_refused(client, requester, agent):
    incident = _resolved(requester, agent)
    seen = incident.version
    incident_services.reopen(incident, by=agent)
    client.force_login(requester)
    response = client.post(_url(incident, "confirm"), {"version": seen})
    assert response.status_code == 409
    assert "changed while you were reading" in response.content.decode()
    incident.refresh_from_db()
    assert incident.state == IncidentState.IN_PROGRESS


def test_confirm_on_an_open_incident_is_refused(client, requester):
    incident = make_incident(by=requester)
    client.force_login(requester)
    html = client.get(_url(incident)).content.decode()
    assert "Is it fixed?" not in html
    response = client.post(_url(incident, "confirm"), {"version": incident.version})
    assert response.status_code == 409
    incident.refresh_from_db()
    assert incident.state == IncidentState.NEW
    assert client.post(_url(incident, "confirm"), {"version": "x"}).status_code == 400


def test_watcher_may_comment_but_not_confirm(client, requester, other_requester, agent):
    incident = _resolved(other_requester, agent)
    Watcher.objects.create(ticket=incident, user=requester)
    client.force_login(requester)
    html = client.get(_url(incident)).content.decode()
    assert "Is it fixed?" not in html
    assert client.post(_url(incident, "confirm"), {"version": incident.version}).status_code == 403
    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED
    assert client.post(_url(incident, "comment"), {"body": "Me too"}).status_code == 302


def test_ticket_page_query_count(client, requester, agent, django_assert_max_num_queries):
    incident = _resolved(requester, agent)
    for n in range(10):
        core_services.add_journal_entry(incident, by=agent, kind="comment", body=f"c{n}")
        core_services.add_journal_entry(incident, by=requester, kind="comment", body=f"r{n}")
        core_services.add_attachment(
            incident, by=requester, upload=SimpleUploadedFile(f"f{n}.txt", b"data")
        )
    client.force_login(requester)
    with django_assert_max_num_queries(7):
        response = client.get(_url(incident))
    assert response.status_code == 200
    assert "c9" in response.content.decode() and "f9.txt" in response.content.decode()


def test_stale_reopen_keeps_the_reason(client, requester, agent):
    incident = _resolved(requester, agent)
    seen = incident.version
    core_services.add_journal_entry(incident, by=agent, kind="comment", body="Any news?")
    client.force_login(requester)
    response = client.post(
        _url(incident, "reopen"), {"version": seen, "reason": "Still jams on tray 2"}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "Still jams on tray 2" in html
    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED
    assert f'value="{incident.version}"' in html  # a retry uses the current version
    retry = client.post(
        _url(incident, "reopen"), {"version": incident.version, "reason": "Still jams"}
    )
    assert retry.status_code == 302
