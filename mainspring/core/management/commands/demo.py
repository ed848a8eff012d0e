"""``mainspring demo``: demo users and groups, then each app's own demo data.

The people and groups are here; SLAs, articles, incidents, problems... are loaded by
the apps that own them, in the order ``core.registry.demo_loaders()`` gives, each
through its services as a user would, so the journal, audit trail and numbering are
real (``incidents/demo.py`` explains how it spreads 90 days of history).

* Mail. Loading runs inside ``notifications.suppress_notifications()``: hundreds of
  "your incident was logged" mails to made-up people help nobody, and would queue
  hundreds of tasks for the worker to chew through on first start.
"""

from __future__ import annotations

import random
import time

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mainspring.core import registry
from mainspring.identity.models import AssignmentGroup, Membership, Role, User
from mainspring.notifications.services import suppress_notifications

DEMO_PASSWORD = "demo"  # noqa: S105 - the documented demo password

# (username, display name, role, groups, manager of) — the first five are the logins
# the README and the login page advertise.
DEMO_USERS = [
    ("admin", "Ada Admin", Role.ADMIN, [], []),
    ("manager", "Morgan Manager", Role.MANAGER, ["Service Desk"], ["Service Desk"]),
    ("agent", "Alex Agent", Role.AGENT, ["Service Desk"], []),
    ("alice", "Alice Archer", Role.REQUESTER, [], []),
    ("bob", "Bob Baker", Role.REQUESTER, [], []),
    ("nina", "Nina Network", Role.AGENT, ["Network"], []),
    ("omar", "Omar Okafor", Role.AGENT, ["Workplace", "Service Desk"], []),
    ("priya", "Priya Patel", Role.AGENT, ["Applications"], []),
    ("carol", "Carol Chen", Role.REQUESTER, [], []),
    ("dave", "Dave Dubois", Role.REQUESTER, [], []),
    ("erin", "Erin Evans", Role.REQUESTER, [], []),
]
CANNED_RESPONSES = [
    (
        "Acknowledge",
        "Hello {caller.first_name},\n\nthank you for reporting this. I am looking into "
        "{ticket.number} now and will update you here.\n\n{agent.name}",
    ),
    (
        "Need more information",
        "Hello {caller.first_name},\n\nto move on with {ticket.number} I need a little more: "
        "when did it start, and does it happen on another device too?\n\n{agent.name}",
    ),
    (
        "Please try a restart",
        "Hello {caller.first_name},\n\nplease restart the device and tell us here whether "
        "{ticket.title} still happens.\n\n{agent.name}",
    ),
]

LOGINS = [
    ("admin", "administrator"),
    ("manager", "group manager, Service Desk"),
    ("agent", "agent, Service Desk"),
    ("alice", "requester"),
    ("bob", "requester"),
]
GROUPS = {
    "Service Desk": "First line: takes every call, fixes what it can.",
    "Network": "LAN, Wi-Fi, VPN and firewalls.",
    "Workplace": "Laptops, printers, phones and desks.",
    "Applications": "E-mail, Office and business applications.",
}


class Command(BaseCommand):
    help = "Load demo users, groups, categories and incidents (password 'demo')."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--incidents", type=int, default=300, help="How many (default 300).")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if any user other than 'system' exists (safe on every start).",
        )
        parser.add_argument("--seed", type=int, default=None, help="Random seed (repeatable).")

    def handle(self, *args, incidents: int, if_empty: bool, seed: int | None, **options):
        if incidents < 0 or incidents > 100_000:
            raise CommandError("--incidents must be between 0 and 100000.")
        if if_empty and User.objects.exclude(username="system").exists():
            self.stdout.write("Data already present; demo data not loaded.")
            self.print_logins()
            return
        rng = random.Random(seed)
        started = time.monotonic()
        loaded = []
        with suppress_notifications(), transaction.atomic():
            people = self.create_people()
            self.create_canned_responses()
            # Each app loads its own part (core.registry): SLAs, articles, each
            # practice's tickets, then what must follow them.
            for loader in registry.demo_loaders():
                said = loader(people=people, rng=rng, incidents=incidents)
                if said:
                    loaded.append(said)
        self.stdout.write(
            f"Loaded demo data: {len(DEMO_USERS)} users, {len(GROUPS)} groups, "
            f"{', '.join(loaded)} in {time.monotonic() - started:.1f} s."
        )
        self.print_logins()

    def print_logins(self) -> None:
        present = set(
            User.objects.filter(is_demo=True, username__in=[u for u, _ in LOGINS]).values_list(
                "username", flat=True
            )
        )
        if not present:
            return
        self.stdout.write(f'Demo logins (password "{DEMO_PASSWORD}"):')
        for username, what in LOGINS:
            if username in present:
                self.stdout.write(f"  {username:<8} {what}")

    # --- reference data ----------------------------------------------------------------

    def create_canned_responses(self) -> None:
        from mainspring.core.models import CannedResponse

        for title, body in CANNED_RESPONSES:
            CannedResponse.objects.get_or_create(title=title, defaults={"body": body})

    def create_people(self) -> dict:
        hashed = make_password(DEMO_PASSWORD)
        groups = {}
        for name, description in GROUPS.items():
            groups[name], _ = AssignmentGroup.objects.get_or_create(
                name=name, defaults={"description": description}
            )
        users = {}
        for username, display, role, member_of, manages in DEMO_USERS:
            first, _, last = display.partition(" ")
            user, _ = User.objects.update_or_create(
                username=username,
                defaults={
                    "display_name": display,
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@example.com",
                    "role": role,
                    "is_superuser": role == Role.ADMIN,
                    "is_staff": role == Role.ADMIN,
                    "is_active": True,
                    "is_demo": True,
                    "password": hashed,
                },
            )
            users[username] = user
            for group in member_of:
                Membership.objects.update_or_create(
                    group=groups[group],
                    user=user,
                    defaults={"is_manager": group in manages},
                )
        agents_by_group: dict[str, list[User]] = {name: [] for name in GROUPS}
        for username, _, role, member_of, _ in DEMO_USERS:
            for group in member_of:
                if role in (Role.AGENT, Role.MANAGER):
                    agents_by_group[group].append(users[username])
        return {
            "users": users,
            "groups": groups,
            "agents_by_group": agents_by_group,
            "requesters": [users[u] for u, _, r, _, _ in DEMO_USERS if r == Role.REQUESTER],
            "desk_agents": agents_by_group["Service Desk"],
        }
