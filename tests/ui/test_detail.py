"""The incident page: timeline, composer, transitions, properties, assignment, extras."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mainspring.core import services as core
from mainspring.core.models import Attachment, JournalEntry, TicketLink, Watcher
from mainspring.incidents import services
from mainspring.incidents.models import Incident
from tests.factories import CategoryFactory, make_incident

from .conftest import HX

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(agent, requester, service_desk):
    return make_incident(
        by=agent, requester=requester, title="VPN drops every hour", assignment_group=service_desk
    )


def url(incident, suffix=""):
    return f"/incidents/{incident.number}/{suffix}"


def fresh(incident) -> Incident:
    return Incident.objects.get(pk=incident.pk)


def test_header_has_number_in_title_and_h1(agent_client, incident):
    html = agent_client.get(url(incident)).content.decode()
    assert f"<title>{incident.number} VPN drops every hour · Mainspring</title>" in html
    assert re.search(
        rf'<h1 id="incident-heading"[^>]*><span class="number">{incident.number}', html
    )
    assert 'class="badge badge-blue"' in html and "New</span>" in html


def test_lowercase_number_finds_the_incident(agent_client, incident):
    assert agent_client.get(url(incident).lower()).status_code == 200


def test_unknown_number_is_404(agent_client):
    assert agent_client.get("/incidents/INC9999999/").status_code == 404


def test_timeline_labels_work_notes_and_comments(agent_client, agent, incident):
    core.add_journal_entry(incident, by=agent, kind="work_note", body="Checked the **logs**")
    core.add_journal_entry(incident, by=agent, kind="comment", body="We are on it")
    html = agent_client.get(url(incident)).content.decode()
    timeline = html.split('id="timeline-title"')[1]
    assert "Internal work note" in timeline and "<strong>logs</strong>" in timeline
    assert "Public comment" in timeline and "We are on it" in timeline
    # Audit (state set on create) and journal merged in time order, each with <time>.
    assert timeline.index("State:") < timeline.index("Checked the") < timeline.index("We are on")
    assert len(re.findall(r'<time datetime="\d{4}-\d\d-\d\dT', timeline)) >= 3


def test_post_work_note_with_htmx_returns_the_partial(agent_client, incident):
    response = agent_client.post(
        url(incident, "comment/"), {"kind": "work_note", "body": "Rebooted the concentrator"}, **HX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith("<title>") and "<html" not in html
    assert 'id="incident"' in html and "Rebooted the concentrator" in html
    assert 'id="messages" hx-swap-oob="innerHTML"' in html and "Internal work note added." in html
    assert JournalEntry.objects.get(ticket=incident).kind == "work_note"


def test_composer_returns_to_work_note_after_a_public_comment(agent_client, incident):
    response = agent_client.post(
        url(incident, "comment/"), {"kind": "comment", "body": "Please restart"}, **HX
    )
    html = response.content.decode()
    assert JournalEntry.objects.get(ticket=incident).kind == "comment"
    checked = re.search(r'<input type="radio" name="kind" value="(\w+)"[^>]*checked', html)
    assert checked and checked.group(1) == "work_note"
    assert 'data-focus="id_body"' in html


def test_post_comment_without_js_redirects(agent_client, incident):
    response = agent_client.post(url(incident, "comment/"), {"kind": "comment", "body": "Hi"})
    assert response.status_code == 302 and response["Location"] == url(incident)


def test_empty_comment_keeps_choice_and_shows_error(agent_client, incident):
    response = agent_client.post(url(incident, "comment/"), {"kind": "comment", "body": "  "})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="composer-errors"' in html and 'href="#id_body"' in html
    assert re.search(r'value="comment"[^>]*checked', html)
    assert not JournalEntry.objects.filter(ticket=incident).exists()


def test_start_hold_resume_resolve(agent_client, agent, incident):
    assert agent_client.post(url(incident, "do/start/")).status_code == 302
    assert fresh(incident).state == "in_progress" and fresh(incident).assignee == agent

    response = agent_client.post(url(incident, "do/hold/"), {"hold_reason": ""}, **HX)
    html = response.content.decode()
    assert response.status_code == 400 and fresh(incident).state == "in_progress"
    assert 'id="hold-errors"' in html and '<details class="action-panel" open>' in html

    response = agent_client.post(
        url(incident, "do/hold/"), {"hold_reason": "awaiting_vendor"}, **HX
    )
    assert response.status_code == 200
    assert fresh(incident).state == "on_hold" and fresh(incident).hold_reason == "awaiting_vendor"
    assert "Awaiting vendor" in response.content.decode()

    agent_client.post(url(incident, "do/resume/"))
    assert fresh(incident).state == "in_progress"

    response = agent_client.post(
        url(incident, "do/resolve/"), {"resolution_code": "", "resolution_notes": "Fixed it"}
    )
    html = response.content.decode()
    assert response.status_code == 400 and fresh(incident).state == "in_progress"
    assert 'href="#id_resolution_code"' in html and "Fixed it" in html  # input kept

    response = agent_client.post(
        url(incident, "do/resolve/"),
        {"resolution_code": "workaround", "resolution_notes": "Fixed it"},
    )
    assert response.status_code == 302
    resolved = fresh(incident)
    assert resolved.state == "resolved" and resolved.resolution_code.code == "workaround"
    html = agent_client.get(url(incident)).content.decode()
    assert "Resolution" in html and "Solved (workaround)" in html
    assert "Reopen" in html and "Start work" not in html


def test_invalid_transition_names_the_allowed_ones(agent_client, incident):
    response = agent_client.post(url(incident, "do/close/"), follow=False, **HX)
    html = response.content.decode()
    assert response.status_code == 409
    assert "can&#x27;t close now" in html and "Start work" in html and "Resolve" in html
    assert fresh(incident).state == "new"


def test_unknown_transition_is_404(agent_client, incident):
    assert agent_client.post(url(incident, "do/explode/")).status_code == 404


def test_transition_buttons_follow_the_state(agent_client, agent, incident):
    html = agent_client.get(url(incident)).content.decode()
    actions = html.split('aria-label="State actions"')[1].split("</header>")[0]
    assert "Start work" in actions and "Put on hold" in actions and "Resume" not in actions


def test_edit_properties(agent_client, incident):
    category = CategoryFactory(name="Network")
    sub = CategoryFactory(name="VPN", parent=category)
    response = agent_client.post(
        url(incident, "edit/"),
        {
            "edit-version": incident.version,
            "edit-title": "VPN drops hourly",
            "edit-description": "",
            "edit-category": category.pk,
            "edit-subcategory": sub.pk,
            "edit-impact": "high",
            "edit-urgency": "high",
        },
    )
    assert response.status_code == 302
    changed = fresh(incident)
    assert changed.title == "VPN drops hourly" and changed.priority == 1
    assert changed.subcategory == sub and changed.description == ""
    html = agent_client.get(url(incident)).content.decode()
    assert 'Short description: <span class="old">VPN drops every hour</span>' in html


def test_stale_version_shows_a_conflict_and_keeps_input(agent_client, other_agent, incident):
    seen_version = incident.version
    services.update_incident(fresh(incident), by=other_agent, title="Changed by a colleague")
    response = agent_client.post(
        url(incident, "edit/"),
        {
            "edit-version": seen_version,
            "edit-title": "My better title",
            "edit-description": "Mine",
            "edit-impact": "medium",
            "edit-urgency": "medium",
        },
        **HX,
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "Someone else changed this incident" in html and 'data-focus="conflict"' in html
    assert 'value="My better title"' in html  # the user's input is kept
    assert "Changed by a colleague" in html  # beside the current value
    assert fresh(incident).title == "Changed by a colleague"  # nothing overwritten
    current = fresh(incident).version
    assert f'name="edit-version" value="{current}"' in html
    # Saving again, knowingly, from the current version applies it.
    agent_client.post(
        url(incident, "edit/"),
        {
            "edit-version": current,
            "edit-title": "My better title",
            "edit-description": "Mine",
            "edit-impact": "medium",
            "edit-urgency": "medium",
        },
    )
    assert fresh(incident).title == "My better title"


def test_edit_errors_stay_on_the_field(agent_client, incident):
    response = agent_client.post(
        url(incident, "edit/"),
        {
            "edit-version": incident.version,
            "edit-title": "",
            "edit-impact": "huge",
            "edit-urgency": "low",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'href="#id_edit-title"' in html and 'aria-describedby="id_edit-impact_error"' in html


def test_assign_and_reassign_needs_a_manager(client, agent, other_agent, manager, incident):
    client.force_login(agent)
    response = client.post(url(incident, "assign/"), {"assignee": other_agent.pk})
    assert response.status_code == 302 and fresh(incident).assignee == other_agent

    response = client.post(url(incident, "assign/"), {"assignee": agent.pk}, **HX)
    assert response.status_code == 403
    assert "ask a manager" in response.content.decode()
    assert fresh(incident).assignee == other_agent

    client.force_login(manager)
    assert client.post(url(incident, "assign/"), {"assignee": manager.pk}).status_code == 302
    assert fresh(incident).assignee == manager


def test_assign_needs_something(agent_client, incident):
    response = agent_client.post(url(incident, "assign/"), {})
    assert response.status_code == 400
    assert "Choose a group, an assignee or both." in response.content.decode()


def test_assign_to_a_non_member_is_a_field_error(agent_client, incident, network_team, agent):
    response = agent_client.post(
        url(incident, "assign/"), {"assignment_group": network_team.pk, "assignee": agent.pk}
    )
    assert response.status_code == 400
    assert "is not a member of Network" in response.content.decode()


def test_attachments_upload_and_list(agent_client, incident):
    upload = SimpleUploadedFile("trace.log", b"line 1\nline 2\n", content_type="text/plain")
    response = agent_client.post(url(incident, "attach/"), {"file": upload})
    assert response.status_code == 302
    attachment = Attachment.objects.get(ticket=incident)
    html = agent_client.get(url(incident)).content.decode()
    assert f'href="/attachments/{attachment.storage_key}/">trace.log</a>' in html


def test_empty_upload_is_a_field_error(agent_client, incident):
    response = agent_client.post(url(incident, "attach/"), {})
    assert response.status_code == 400 and 'href="#id_file"' in response.content.decode()


def test_watchers(agent_client, agent, other_requester, incident):
    agent_client.post(url(incident, "watch/"), {"action": "add_me"})
    agent_client.post(url(incident, "watch/"), {"action": "add", "username": "bob"})
    assert set(Watcher.objects.values_list("user__username", flat=True)) == {"agent", "bob"}
    html = agent_client.get(url(incident)).content.decode()
    assert "Stop watching" in html and 'aria-label="Remove Bob from watchers"' in html
    agent_client.post(url(incident, "watch/"), {"action": "remove", "user": other_requester.pk})
    agent_client.post(url(incident, "watch/"), {"action": "remove_me"})
    assert not Watcher.objects.exists()
    response = agent_client.post(url(incident, "watch/"), {"action": "add", "username": "nope"})
    assert response.status_code == 400 and "No active user" in response.content.decode()


def test_links_by_number(agent_client, agent, requester, incident):
    other = make_incident(by=agent, requester=requester, title="Same VPN problem")
    parent = make_incident(by=agent, requester=requester, title="VPN outage")
    digits = int(other.number[3:])
    agent_client.post(
        url(incident, "link/"), {"link-kind": "duplicate_of", "link-number": f"#{digits}"}
    )
    assert TicketLink.objects.get(source=incident).target_id == other.pk
    agent_client.post(
        url(incident, "link/"), {"link-kind": "parent", "link-number": parent.number.lower()}
    )
    assert fresh(incident).parent_id == parent.pk
    html = agent_client.get(url(parent)).content.decode()
    assert f'Parent of <a href="/tickets/{incident.number}/">' in html
    response = agent_client.post(
        url(incident, "link/"), {"link-kind": "related", "link-number": "INC9999999"}
    )
    assert response.status_code == 400 and "No ticket INC9999999" in response.content.decode()
    response = agent_client.post(
        url(incident, "link/"), {"link-kind": "related", "link-number": incident.number}
    )
    assert response.status_code == 400 and "cannot be linked to itself" in response.content.decode()


def test_detail_query_count_is_bounded(
    agent_client, agent, requester, incident, django_assert_max_num_queries
):
    core.add_journal_entry(incident, by=agent, kind="work_note", body="first")
    core.add_watcher(incident, by=agent)
    with CaptureQueriesContext(connection) as before:
        agent_client.get(url(incident))
    for i in range(20):
        core.add_journal_entry(
            incident, by=requester if i % 2 else agent, kind="comment", body=f"entry {i}"
        )
        core.add_attachment(
            incident, by=agent, upload=SimpleUploadedFile(f"f{i}.txt", b"x" * (i + 1))
        )
    services.update_incident(fresh(incident), by=agent, impact="high")
    with django_assert_max_num_queries(len(before.captured_queries)):
        response = agent_client.get(url(incident))
    assert response.content.decode().count(">Public comment</strong>") == 20
    # 18: the caller's other open tickets and the canned responses are one bounded
    # query each.
    with django_assert_max_num_queries(18):
        agent_client.get(url(incident))


def test_the_callers_other_open_tickets_are_listed(agent_client, agent, requester, incident):
    other = make_incident(by=requester, title="Printer jams again")
    closed = make_incident(by=requester, title="Old closed one")
    services.cancel(closed, by=agent)
    make_incident(by=agent, title="Someone else's")
    html = agent_client.get(url(incident)).content.decode()
    card = html.split('id="caller-open-title"')[1].split("</section>")[0]
    assert other.number in card and "Printer jams again" in card
    assert closed.number not in card and incident.number not in card
    assert "Someone else" not in card
    for i in range(6):
        make_incident(by=requester, title=f"More {i}")
    card = agent_client.get(url(incident)).content.decode().split('id="caller-open-title"')[1]
    card = card.split("</section>")[0]
    assert card.count("<li>") == 5 and "and more." in card


def test_audit_times_are_shown_as_local_minutes(agent_client, agent, incident):
    core.add_journal_entry(incident, by=agent, kind="comment", body="First answer")
    html = agent_client.get(url(incident)).content.decode()
    assert re.search(
        r'First response: <span class="old">\(empty\)</span> → '
        r'<span class="new">\d{4}-\d\d-\d\d \d\d:\d\d</span>',
        html,
    )
