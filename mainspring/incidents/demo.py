"""Demo incidents: a few hundred, spread over the last 90 days (``mainspring demo``).

Everything is created through the services (incidents.services, core.services), as a
user would, so the journal, audit trail and numbering are real. Time: with
``time_machine`` (installed with the test extras, so by ``dev.py``) every step runs at
its own moment; without it, each freshly created incident's timestamps are shifted back
afterwards with a queryset update. Both touch only the rows this loader just made.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from mainspring.core.models import AuditEntry, JournalEntry, Ticket
from mainspring.core.services import add_journal_entry

from . import services
from .models import Category, Incident, ResolutionCode

CATEGORIES = {
    "Network": ["VPN", "Wi-Fi", "LAN"],
    "Hardware": ["Laptop", "Printer", "Monitor"],
    "Software": ["Email", "Office", "Business application"],
    "Access": ["Password", "Permissions", "Account"],
}


@dataclass(frozen=True)
class Scenario:
    category: str
    subcategory: str
    group: str
    title: str
    description: str
    fix: str


SCENARIOS = [
    Scenario(
        "Network",
        "VPN",
        "Network",
        "VPN disconnects every few minutes",
        "Working from home; the VPN client drops the tunnel every 5-10 minutes.",
        "Updated the VPN client profile to use TCP 443; stable since.",
    ),
    Scenario(
        "Network",
        "VPN",
        "Network",
        "Cannot connect to VPN: authentication failed",
        "The VPN client says 'authentication failed' although my password works in Outlook.",
        "The VPN certificate had expired; re-enrolled the device.",
    ),
    Scenario(
        "Network",
        "Wi-Fi",
        "Network",
        "No Wi-Fi in meeting room 3.12",
        "Nobody in room 3.12 gets a Wi-Fi connection; the network is not listed.",
        "Access point in 3.12 had lost power; PoE port re-enabled.",
    ),
    Scenario(
        "Network",
        "Wi-Fi",
        "Network",
        "Guest Wi-Fi very slow on the 2nd floor",
        "Visitors complain pages take a minute to load on the guest network.",
        "Moved the guest SSID to the 5 GHz band and raised the bandwidth limit.",
    ),
    Scenario(
        "Network",
        "LAN",
        "Network",
        "Network port at desk 4-017 is dead",
        "No link light when I plug in my docking station at desk 4-017.",
        "Patched the desk port to the switch again.",
    ),
    Scenario(
        "Hardware",
        "Laptop",
        "Workplace",
        "Laptop will not boot after update",
        "After last night's update the laptop shows a black screen with a cursor.",
        "Rolled back the display driver from safe mode.",
    ),
    Scenario(
        "Hardware",
        "Laptop",
        "Workplace",
        "Laptop battery drains in an hour",
        "Fully charged battery lasts about an hour, it used to be a full day.",
        "Battery worn out (62% capacity); replaced under warranty.",
    ),
    Scenario(
        "Hardware",
        "Laptop",
        "Workplace",
        "Keyboard keys not working (E and R)",
        "The E and R keys only work when pressed very hard.",
        "Replaced the keyboard.",
    ),
    Scenario(
        "Hardware",
        "Printer",
        "Workplace",
        "Printer on 2nd floor shows paper jam",
        "The big printer near the kitchen says paper jam in tray 2 but there is none.",
        "Removed a torn scrap behind the fuser and reset the sensor.",
    ),
    Scenario(
        "Hardware",
        "Printer",
        "Workplace",
        "Cannot print to the finance printer",
        "Jobs to FIN-PRN-01 stay in the queue forever.",
        "Restarted the print spooler on the print server; queue drained.",
    ),
    Scenario(
        "Hardware",
        "Monitor",
        "Workplace",
        "Second monitor flickers",
        "The external monitor flickers every few seconds when connected via the dock.",
        "Replaced the DisplayPort cable.",
    ),
    Scenario(
        "Software",
        "Email",
        "Applications",
        "Outlook keeps asking for password",
        "Outlook prompts for my password every few minutes since this morning.",
        "Cleared the cached credentials and re-created the Outlook profile.",
    ),
    Scenario(
        "Software",
        "Email",
        "Applications",
        "Shared mailbox not visible in Outlook",
        "I was added to the sales@ shared mailbox but it does not show in Outlook.",
        "Permissions had not replicated; re-added the mailbox with auto-mapping.",
    ),
    Scenario(
        "Software",
        "Email",
        "Applications",
        "Emails to external addresses bounce",
        "Every mail I send to customers comes back with 'relay access denied'.",
        "Mail connector certificate renewed; outbound relay restored.",
    ),
    Scenario(
        "Software",
        "Office",
        "Applications",
        "Excel crashes when opening large files",
        "Excel closes without a message when I open the monthly report (40 MB).",
        "Disabled a faulty add-in and installed the 64-bit Office build.",
    ),
    Scenario(
        "Software",
        "Office",
        "Applications",
        "Teams calls have no sound",
        "In Teams calls I hear nothing, other apps play sound fine.",
        "Reset the Teams audio device settings; headset set as default.",
    ),
    Scenario(
        "Software",
        "Business application",
        "Applications",
        "CRM shows error 500 on save",
        "Saving an opportunity in the CRM fails with 'Internal server error'.",
        "Vendor hotfix applied to the CRM application server.",
    ),
    Scenario(
        "Software",
        "Business application",
        "Applications",
        "Timesheet app is very slow",
        "Submitting the weekly timesheet takes several minutes.",
        "Rebuilt the database indexes of the timesheet application.",
    ),
    Scenario(
        "Access",
        "Password",
        "Service Desk",
        "Account locked after password change",
        "I changed my password this morning and now my account is locked.",
        "Unlocked the account; an old phone kept trying the previous password.",
    ),
    Scenario(
        "Access",
        "Password",
        "Service Desk",
        "Password reset link does not arrive",
        "I requested a password reset twice but no e-mail arrives.",
        "The reset mail was in quarantine; released it and allow-listed the sender.",
    ),
    Scenario(
        "Access",
        "Permissions",
        "Service Desk",
        "No access to the Finance share",
        "Since moving to Finance I cannot open \\\\files\\finance.",
        "Added the user to the Finance security group.",
    ),
    Scenario(
        "Access",
        "Permissions",
        "Service Desk",
        "Cannot open the HR folder in SharePoint",
        "SharePoint says 'access denied' on the HR policies folder.",
        "Granted read access via the HR-Readers group.",
    ),
    Scenario(
        "Access",
        "Account",
        "Service Desk",
        "New starter has no account yet",
        "Our new colleague starts Monday and has no login.",
        "Account created and credentials handed over in person.",
    ),
    Scenario(
        "Access",
        "Account",
        "Service Desk",
        "MFA prompt not received on new phone",
        "I got a new phone and no longer receive the sign-in approval.",
        "Re-registered the authenticator app after identity verification.",
    ),
]

AGENT_COMMENTS = [
    "Thanks for reporting this. I'm looking into it now.",
    "Could you tell me when this started and whether colleagues are affected too?",
    "I've reproduced the problem and I'm working on a fix.",
    "Can you restart the device and tell me if the problem remains?",
    "We've identified the cause and are applying a fix; I'll update you shortly.",
]
REQUESTER_COMMENTS = [
    "It started yesterday afternoon. My colleague next to me has the same issue.",
    "I restarted it, still the same.",
    "Thanks, it is a bit urgent because I have a deadline tomorrow.",
    "Only me as far as I know.",
]
WORK_NOTES = [
    "Checked the logs: repeated errors from this device since the last patch window.",
    "Similar to last month's case; trying the same fix first.",
    "Vendor ticket opened; waiting for their answer.",
    "Remote session done. Will monitor until tomorrow.",
]
RESOLUTIONS = {
    "solved": "Solved (permanently)",
    "workaround": "Solved (workaround)",
    "user_instructed": "User instructed",
}
HOLD_REASONS = ["awaiting_caller", "awaiting_vendor", "awaiting_change"]


class Clock:
    """Runs each step at its own moment in the past (time_machine), or shifts afterwards."""

    def __init__(self) -> None:
        try:
            import time_machine
        except ImportError:
            self._tm = None
        else:
            self._tm = time_machine
        self._traveller = None

    def session(self) -> AbstractContextManager:
        if self._tm is None:
            return nullcontext()
        self._traveller = self._tm.travel(timezone.now(), tick=False)
        return self._traveller

    def at(self, when: datetime, ctx) -> None:
        if ctx is not None and self._tm is not None:
            ctx.move_to(when)

    @property
    def travels(self) -> bool:
        return self._tm is not None


def create_categories() -> dict[tuple[str, str], tuple[Category, Category]]:
    # Normally there from the reference-data migration; an admin may have removed one.
    for code, label in RESOLUTIONS.items():
        ResolutionCode.objects.get_or_create(code=code, defaults={"label": label})
    out = {}
    for name, subs in CATEGORIES.items():
        parent, _ = Category.objects.get_or_create(name=name, parent=None)
        for sub in subs:
            child, _ = Category.objects.get_or_create(name=sub, parent=parent)
            out[(name, sub)] = (parent, child)
    return out


# --- incidents ---------------------------------------------------------------------


def create_incidents(count: int, people: dict, categories: dict, rng) -> None:
    clock = Clock()
    now = timezone.now()
    with clock.session() as ctx:
        for _ in range(count):
            age = timedelta(minutes=rng.randint(30, 90 * 24 * 60))
            created = now - age
            # Most tickets arrive in working hours.
            if rng.random() < 0.85:
                created = created.replace(hour=rng.randint(7, 17), minute=rng.randint(0, 59))
                if created > now - timedelta(minutes=20):
                    created = now - timedelta(minutes=rng.randint(20, 600))
            create_one(created, now, people, categories, rng, clock, ctx)


def pick_target(age_days: float, rng) -> str:
    roll = rng.random()
    if age_days > 14:
        table = [("closed", 0.86), ("cancelled", 0.94), ("on_hold", 0.97), ("in_progress", 1)]
    elif age_days > 3:
        table = [
            ("closed", 0.35),
            ("resolved", 0.55),
            ("in_progress", 0.75),
            ("on_hold", 0.87),
            ("cancelled", 0.92),
            ("new", 1),
        ]
    else:
        table = [
            ("new", 0.35),
            ("in_progress", 0.68),
            ("on_hold", 0.78),
            ("resolved", 0.93),
            ("cancelled", 1),
        ]
    return next(state for state, limit in table if roll <= limit)


def create_one(created, now, people, categories, rng, clock, ctx) -> None:
    scenario = rng.choice(SCENARIOS)
    category, subcategory = categories[(scenario.category, scenario.subcategory)]
    requester = rng.choice(people["requesters"])
    desk_agent = rng.choice(people["desk_agents"])
    group = people["groups"][scenario.group]
    worker = rng.choice(people["agents_by_group"][scenario.group])
    target = pick_target((now - created).total_seconds() / 86400, rng)

    steps: list = []  # (minutes after the previous step, function)
    by_requester = rng.random() < 0.5
    impact = rng.choices(["high", "medium", "low"], [1, 3, 4])[0]
    urgency = rng.choices(["high", "medium", "low"], [1, 3, 4])[0]
    state: dict = {}

    def create():
        if by_requester:
            state["incident"] = services.create_incident(
                by=requester,
                title=scenario.title,
                description=scenario.description,
                category=category,
                subcategory=subcategory,
            )
            if target != "new":
                services.update_incident(
                    state["incident"], by=desk_agent, impact=impact, urgency=urgency
                )
        else:
            state["incident"] = services.create_incident(
                by=desk_agent,
                channel=rng.choice(["phone", "email", "ui"]),
                requester=requester,
                title=scenario.title,
                description=scenario.description,
                category=category,
                subcategory=subcategory,
                impact=impact,
                urgency=urgency,
                major_incident=impact == "high" and urgency == "high" and rng.random() < 0.5,
            )

    steps.append((0, create))
    if target != "new":
        steps.append(
            (
                rng.randint(2, 90),
                lambda: services.assign(
                    state["incident"], by=desk_agent, assignment_group=group, assignee=worker
                ),
            )
        )
        steps.append((rng.randint(1, 60), lambda: services.start(state["incident"], by=worker)))
        steps.append(
            (
                rng.randint(1, 45),
                lambda: add_journal_entry(
                    state["incident"],
                    by=worker,
                    kind="comment",
                    body=rng.choice(AGENT_COMMENTS),
                ),
            )
        )
        if rng.random() < 0.6:
            steps.append(
                (
                    rng.randint(10, 300),
                    lambda: add_journal_entry(
                        state["incident"],
                        by=worker,
                        kind="work_note",
                        body=rng.choice(WORK_NOTES),
                    ),
                )
            )
        if rng.random() < 0.5:
            steps.append(
                (
                    rng.randint(10, 600),
                    lambda: add_journal_entry(
                        state["incident"],
                        by=requester,
                        kind="comment",
                        body=rng.choice(REQUESTER_COMMENTS),
                    ),
                )
            )
    if target == "on_hold":
        steps.append(
            (
                rng.randint(30, 600),
                lambda: services.hold(
                    state["incident"], by=worker, hold_reason=rng.choice(HOLD_REASONS)
                ),
            )
        )
    if target in ("resolved", "closed"):
        steps.append(
            (
                rng.randint(30, 3 * 24 * 60),
                lambda: services.resolve(
                    state["incident"],
                    by=worker,
                    code=rng.choices(["solved", "workaround", "user_instructed"], [6, 2, 1])[0],
                    notes=scenario.fix,
                ),
            )
        )
    if target == "closed":
        closer = requester if rng.random() < 0.4 else worker
        steps.append(
            (rng.randint(60, 5 * 24 * 60), lambda: services.close(state["incident"], by=closer))
        )
    if target == "cancelled":
        steps.append(
            (
                rng.randint(5, 600),
                lambda: services.cancel(
                    state["incident"], by=worker, reason="Duplicate of an earlier report."
                ),
            )
        )

    # Squeeze the steps into the time between creation and now.
    total = sum(gap for gap, _ in steps)
    room = (now - created).total_seconds() / 60 - 5
    scale = min(1.0, room / total) if total else 1.0
    when = created
    for gap, fn in steps:
        when = when + timedelta(minutes=gap * scale)
        clock.at(when, ctx)
        fn()
    if not clock.travels:
        shift(state["incident"], created - timezone.now())


def shift(incident: Incident, delta: timedelta) -> None:
    """Without time_machine: move this new incident's timestamps back by ``delta``."""
    moved = {
        name: F(name) + delta
        for name in ("created_at", "updated_at", "responded_at", "resolved_at", "closed_at")
    }
    Ticket.objects.filter(pk=incident.pk).update(**moved)
    JournalEntry.objects.filter(ticket_id=incident.pk).update(created_at=F("created_at") + delta)
    AuditEntry.objects.filter(ticket_id=incident.pk).update(created_at=F("created_at") + delta)


def load_demo(*, people: dict, rng, incidents: int = 300, **_: object) -> str:
    """The incidents part of ``mainspring demo`` (``--incidents`` of them)."""
    categories = create_categories()
    create_incidents(incidents, people, categories, rng)
    return f"{incidents} incidents"
