"""``mainspring demo``: realistic data through the services, safe to run on every start."""

from __future__ import annotations

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from mainspring.core.actors import system_user
from mainspring.core.models import BackgroundTask, JournalEntry
from mainspring.identity.models import AssignmentGroup, Membership, Role, User
from mainspring.incidents.models import Category, Incident
from mainspring.notifications.models import Delivery
from mainspring.sla.models import SlaEscalation, SlaTimer


def test_demo_creates_users_groups_categories_and_incidents(db, capsys):
    call_command("demo", incidents=20, seed=7)

    out = capsys.readouterr().out
    for login in ("admin", "manager", "agent", "alice", "bob"):
        assert f"  {login} " in out
    assert 'password "demo"' in out

    users = {u.username: u for u in User.objects.filter(is_demo=True)}
    assert users["admin"].role == Role.ADMIN and users["admin"].is_superuser
    assert users["manager"].role == Role.MANAGER
    assert users["agent"].role == Role.AGENT
    assert users["alice"].role == users["bob"].role == Role.REQUESTER
    assert all(u.check_password("demo") for u in users.values())
    assert Membership.objects.filter(
        user=users["manager"], group__name="Service Desk", is_manager=True
    ).exists()
    assert set(AssignmentGroup.objects.values_list("name", flat=True)) >= {
        "Service Desk",
        "Network",
        "Workplace",
        "Applications",
    }
    assert Category.objects.filter(name="VPN", parent__name="Network").exists()
    assert Category.objects.filter(name="Password", parent__name="Access").exists()

    incidents = list(Incident.objects.all())
    assert len(incidents) == 20
    assert len({i.state for i in incidents}) >= 3
    assert len({i.number for i in incidents}) == 20
    oldest = min(i.created_at for i in incidents)
    assert oldest < timezone.now() - timedelta(days=3)
    assert oldest > timezone.now() - timedelta(days=91)
    for incident in incidents:
        assert incident.updated_at >= incident.created_at
        if incident.state in ("resolved", "closed") and incident.resolved_at:
            assert incident.resolved_at >= incident.created_at
            assert incident.resolution_notes
    assert JournalEntry.objects.filter(kind="work_note").exists()
    assert JournalEntry.objects.filter(kind="comment").exists()
    # Demo loading sends no mail and leaves no queue behind, not even SLA escalations
    # for the history it made up: the thresholds it passed have fired, silently.
    assert Delivery.objects.count() == 0
    assert BackgroundTask.objects.count() == 0
    assert SlaEscalation.objects.exists()
    assert not SlaTimer.objects.filter(next_threshold_at__lte=timezone.now()).exists()
    from mainspring.core.models import CannedResponse

    assert CannedResponse.objects.filter(active=True).count() >= 3


def test_demo_problems_explain_incidents_and_publish_a_known_error(db):
    from mainspring.knowledge.models import Article
    from mainspring.problems.models import Problem

    call_command("demo", incidents=60, seed=3)
    problems = {p.title: p for p in Problem.objects.all()}
    assert len(problems) == 4
    assert {p.state for p in problems.values()} == {
        "root_cause_analysis",
        "fix_in_progress",
        "resolved",
    }
    vpn = problems["VPN concentrator drops tunnels under load"]
    linked = Incident.objects.filter(caused_by=vpn)
    assert 1 <= linked.count() <= 5 and all("VPN" in i.title for i in linked)
    known = next(p for p in problems.values() if p.known_error)
    article = Article.objects.get(pk=known.known_error_article_id)
    assert article.state == "published" and article.kind == "known_error"


def test_if_empty_loads_once_and_still_prints_logins(db, capsys):
    system_user()  # created by automatic jobs; does not count as data
    call_command("demo", incidents=5, if_empty=True, seed=1)
    assert Incident.objects.count() == 5
    capsys.readouterr()

    call_command("demo", incidents=5, if_empty=True)

    out = capsys.readouterr().out
    assert "not loaded" in out
    assert "alice" in out and 'password "demo"' in out
    assert Incident.objects.count() == 5


def test_if_empty_leaves_real_data_alone_and_prints_no_logins(db, capsys, agent):
    call_command("demo", incidents=5, if_empty=True)

    out = capsys.readouterr().out
    assert Incident.objects.count() == 0
    assert "password" not in out
    assert not User.objects.filter(is_demo=True).exists()


def test_without_time_machine_timestamps_are_shifted(db, monkeypatch):
    from mainspring.incidents import demo

    original_init = demo.Clock.__init__

    def no_time_machine(self):
        original_init(self)
        self._tm = None

    monkeypatch.setattr(demo.Clock, "__init__", no_time_machine)
    call_command("demo", incidents=10, seed=5)

    incidents = list(Incident.objects.all())
    assert len(incidents) == 10
    assert min(i.created_at for i in incidents) < timezone.now() - timedelta(days=1)
    for incident in incidents:
        first_entry = JournalEntry.objects.filter(ticket=incident).order_by("id").first()
        if first_entry is not None:
            # Journal moved with its ticket: never before it, never "now".
            assert first_entry.created_at >= incident.created_at
            assert first_entry.created_at - incident.created_at < timedelta(seconds=60)
