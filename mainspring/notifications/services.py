"""E-mail notifications: who hears about what, and the one way a mail leaves.

``queue_for_events`` runs inside the service's transaction (through the subscriber):
it notes which mail each event calls for and enqueues one task. In a worker,
``write_deliveries`` decides the recipients, renders the mail with Django templates,
writes one ``Delivery`` per recipient and enqueues a send task for each. ``deliver``
claims a delivery with a conditional update (so a task run twice sends once), sends
it, and records success, a retry with backoff, or the dead letter.

So a request pays one task row for its mail, whatever the number of recipients; what
the mail says about the change (version, comment, resolution, new assignee) is recorded
with the event, and the rest of the ticket is read when the worker writes it.

Rules (issue 2, section 8):

* requester: on create, on a public comment by someone else, on resolution;
* assignee (or, with no assignee, the group mailbox or its members) on assignment;
* agents an agent @mentions in a comment or work note (who may still see the ticket);
* never a work note to a requester, never a mail to someone who may not see the ticket.
"""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formataddr, parseaddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.template.loader import render_to_string
from django.utils import timezone

from mainspring.core.events import TicketEvent
from mainspring.core.models import JournalEntry, JournalKind, Ticket
from mainspring.core.states import Phase
from mainspring.core.taskqueue import current_task_id, enqueue_many
from mainspring.identity.models import Membership, User
from mainspring.identity.policy import Action, can, is_agent

from .models import Delivery, DeliveryStatus

__all__ = [
    "Notice",
    "SlaNotice",
    "deliver",
    "header_safe",
    "notifications_suppressed",
    "queue_for_event",
    "queue_for_events",
    "queue_notices",
    "queue_sla_notice",
    "queue_sla_notices",
    "requeue_stalled",
    "suppress_notifications",
    "write_deliveries",
]

# Seconds to wait before attempt 2, 3, ...; the last value repeats. About a day in all.
RETRY_DELAYS = (60, 300, 1800, 7200, 21600)
STALE_CLAIM = timedelta(minutes=15)
LOST_RETRY = timedelta(hours=1)

_suppressed: ContextVar[bool] = ContextVar("mainspring_notifications_suppressed", default=False)


def max_attempts() -> int:
    return int(getattr(settings, "NOTIFICATION_MAX_ATTEMPTS", 6))


@contextlib.contextmanager
def suppress_notifications() -> Iterator[None]:
    """Queue no mail for changes made inside this block (demo data, bulk imports)."""
    token = _suppressed.set(True)
    try:
        yield
    finally:
        _suppressed.reset(token)


def notifications_suppressed() -> bool:
    return _suppressed.get()


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def header_safe(value: Any, limit: int = 200) -> str:
    """One line for a mail header: CR, LF and other controls become spaces (SECURITY #22)."""
    text = _CONTROL.sub(" ", str(value or ""))
    text = " ".join(text.split())
    return text[:limit]


@dataclass(frozen=True)
class Recipient:
    key: str  # "u<id>" for a user, "g<id>" for a group mailbox
    address: str
    name: str
    user: User | None


def _valid_address(address: str) -> bool:
    if not address or _CONTROL.search(address):
        return False
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def _user_recipient(user: User | None, ticket: Ticket, actor_id: int | None) -> list[Recipient]:
    """The user, if they should hear about it: not the actor, active, allowed, reachable."""
    if user is None or user.pk == actor_id or not user.is_active:
        return []
    if not _valid_address(user.email) or not can(user, Action.VIEW, ticket):
        return []
    return [Recipient(f"u{user.pk}", user.email, user.name, user)]


def _group_recipients(ticket: Ticket, actor_id: int | None) -> list[Recipient]:
    group = ticket.assignment_group
    if group is None:
        return []
    if _valid_address(group.email):
        return [Recipient(f"g{group.pk}", group.email, group.name, None)]
    members = (
        User.objects.filter(
            pk__in=Membership.objects.filter(group=group).values("user_id"), is_active=True
        )
        .exclude(pk=actor_id)
        .order_by("pk")
    )
    out: list[Recipient] = []
    for member in members:
        if is_agent(member):
            out.extend(_user_recipient(member, ticket, actor_id))
    return out


def _new_value(event: TicketEvent, name: str) -> Any:
    return event.changes.get(name, (None, None))[1]


def _plan(event: TicketEvent) -> str | None:
    """Which mail (template name) this event calls for, before touching the database."""
    if event.name == "created":
        return "created"
    if event.name == "commented" and event.data.get("kind") == JournalKind.COMMENT:
        return "commented"
    if event.name == "state_changed" and event.data.get("phase") == Phase.RESOLVED:
        return "resolved"
    if event.name == "assigned" and (
        _new_value(event, "assignee") is not None
        or _new_value(event, "assignment_group") is not None
    ):
        return "assigned"
    return None


def queue_for_event(event: TicketEvent) -> int:
    """Enqueue the mail an event calls for (same transaction); see ``queue_for_events``."""
    return queue_for_events([event])


def queue_for_events(events: list[TicketEvent]) -> int:
    """Enqueue one task that mails about what one change published (same transaction).

    The request only decides which mail each event calls for (no query) and records
    what the mail must say as of now: the version, the comment, the new assignee, the
    resolution. The worker chooses recipients, renders and writes the deliveries
    (``write_deliveries``). Returns how many events call for mail.
    """
    if notifications_suppressed():
        return 0
    planned = [p for e in events for p in _event_payloads(e)]
    if planned:
        from .tasks import write_event_deliveries

        write_event_deliveries.enqueue(planned)
    return len(planned)


def _id(value: Any) -> int | None:
    return getattr(value, "pk", value)


def _event_payloads(event: TicketEvent) -> list[dict[str, Any]]:
    """What the worker needs to mail about ``event`` later, as JSON (may be nothing)."""
    payloads = []
    template = _plan(event)
    if template is not None:
        payloads.append(_event_payload(event, template))
    if event.name == "commented" and event.data.get("mentions"):
        payloads.append(
            {
                "template": "mentioned",
                "ticket": event.ticket_id,
                "actor": event.actor_id,
                "version": 0,
                "entry": event.data.get("entry_id"),
                "mentions": list(event.data["mentions"]),
            }
        )
    return payloads


def _event_payload(event: TicketEvent, template: str) -> dict[str, Any]:
    ticket = event.ticket
    version = getattr(ticket, "version", None)
    if version is None:
        version = Ticket.objects.filter(pk=event.ticket_id).values_list("version", flat=True)
        version = next(iter(version), 0)
    payload: dict[str, Any] = {
        "template": template,
        "ticket": event.ticket_id,
        "actor": event.actor_id,
        "version": version,
    }
    if template == "commented":
        payload["entry"] = event.data.get("entry_id")
    elif template == "resolved":
        code = _new_value(event, "resolution_code")
        payload["resolution_code"] = str(code) if code is not None else ""
        payload["resolution_notes"] = str(_new_value(event, "resolution_notes") or "")
    elif template == "assigned":
        payload["assignee"] = _id(_new_value(event, "assignee"))
        payload["assignment_group"] = _id(_new_value(event, "assignment_group"))
    return payload


def write_deliveries(payloads: list[dict[str, Any]]) -> list[Delivery]:
    """Worker side of ``queue_for_events``: write the deliveries and enqueue their sends.

    One transaction; the unique delivery key makes a second run (a task replayed after
    a crash) write and send nothing more.
    """
    with transaction.atomic():
        deliveries = [d for payload in payloads for d in _deliveries_for(payload)]
        if not deliveries:
            return []
        Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        # A duplicate (the key already existed) only enqueues a task that finds nothing
        # to claim, so ignore_conflicts needs no read-back here.
        _enqueue_sends([d.key for d in deliveries])
    return deliveries


def _deliveries_for(payload: dict[str, Any]) -> list[Delivery]:
    """The rendered, unsaved deliveries one event's payload calls for."""
    template = payload["template"]
    ticket = (
        Ticket.objects.select_related("requester", "assignee", "assignment_group")
        .filter(pk=payload["ticket"])
        .first()
    )
    if ticket is None:
        return []
    actor_id = payload.get("actor")
    context: dict[str, Any] = {"ticket": ticket, "web_url": ticket.web_url}
    discriminator = str(payload["version"])
    if template == "created":
        # The requester hears even when they logged it themselves: it is their receipt.
        recipients = _user_recipient(ticket.requester, ticket, actor_id=None)
        discriminator = "1"
    elif template == "mentioned":
        entry = (
            JournalEntry.objects.select_related("author")
            .filter(pk=payload.get("entry"), ticket_id=ticket.pk)
            .first()
        )
        if entry is None:
            return []
        context["entry"] = entry
        people = User.objects.filter(pk__in=payload.get("mentions") or []).order_by("pk")
        # Each must still be allowed to see the ticket (and is not the author).
        recipients = [r for user in people for r in _user_recipient(user, ticket, actor_id)]
        discriminator = str(entry.pk)
    elif template == "commented":
        entry = (
            JournalEntry.objects.select_related("author")
            .filter(pk=payload.get("entry"), ticket_id=ticket.pk)
            .first()
        )
        # Only a public comment ever reaches the requester; a work note never does.
        if entry is None or entry.kind != JournalKind.COMMENT:
            return []
        context["entry"] = entry
        recipients = _user_recipient(ticket.requester, ticket, actor_id)
        discriminator = str(entry.pk)
    elif template == "resolved":
        context["resolution_code"] = payload.get("resolution_code", "")
        context["resolution_notes"] = payload.get("resolution_notes", "")
        recipients = _user_recipient(ticket.requester, ticket, actor_id=None)
    else:  # assigned: only while it still holds (a later reassignment mails its own)
        assignee_id, group_id = payload.get("assignee"), payload.get("assignment_group")
        if assignee_id is not None and ticket.assignee_id == assignee_id:
            recipients = _user_recipient(ticket.assignee, ticket, actor_id)
        elif (
            assignee_id is None
            and group_id is not None
            and ticket.assignee_id is None
            and ticket.assignment_group_id == group_id
        ):
            recipients = _group_recipients(ticket, actor_id)
            context["to_group"] = True
        else:
            recipients = []
    return [
        _render(template, ticket, recipient, context, discriminator) for recipient in recipients
    ]


def _render(
    template: str, ticket: Ticket, recipient: Recipient, context: dict[str, Any], disc: str
) -> Delivery:
    ctx = {**context, "recipient": recipient, "site_name": "Mainspring Service Desk"}
    subject = render_to_string(f"notifications/email/{template}_subject.txt", ctx)
    body = render_to_string(f"notifications/email/{template}_body.txt", ctx)
    return Delivery(
        key=f"{template}:{ticket.pk}:{disc}:{recipient.key}",
        event=template,
        ticket=ticket,
        recipient=recipient.user,
        to_address=formataddr((header_safe(recipient.name, 100), recipient.address)),
        subject=header_safe(subject, 250),
        body=body.strip() + "\n",
    )


def _mail_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    if "@" in address:
        return address.rsplit("@", 1)[1]
    return urlsplit(settings.BASE_URL).hostname or "mainspring.invalid"


def _message(delivery: Delivery) -> EmailMessage:
    domain = _mail_domain()
    number = delivery.ticket.number
    headers = {
        # RFC 3834: tells auto-responders not to answer, which stops mail loops.
        "Auto-Submitted": "auto-generated",
        "X-Mainspring-Ticket": header_safe(number, 40),
        # Stable, so a resend after a crash is recognisably the same message.
        "Message-ID": f"<delivery.{delivery.pk}.{delivery.created_at:%Y%m%d%H%M%S}@{domain}>",
        # Mail clients thread every message about one ticket together.
        "References": f"<ticket.{number.lower()}@{domain}>",
    }
    return EmailMessage(
        subject=header_safe(delivery.subject, 250),
        body=delivery.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.to_address],
        headers=headers,
        connection=get_connection(fail_silently=False),
    )


def _may_receive(delivery: Delivery) -> bool:
    """Checked again at send time: access may have changed since the event."""
    if delivery.key.rsplit(":", 1)[-1].startswith("g"):
        return True  # a group mailbox; the group still works this ticket
    user = delivery.recipient
    return user is not None and user.is_active and can(user, Action.VIEW, delivery.ticket)


def retry_delay(attempts: int) -> timedelta:
    """Backoff after ``attempts`` failed tries, with ±10 % jitter so retries spread out."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return timedelta(seconds=base * random.uniform(0.9, 1.1))


def deliver(key: str, *, now: datetime | None = None) -> str:
    """Send one delivery if it is due and nobody else has it. Returns what happened.

    Run again by the task runner after its worker died mid-send, it takes back the
    delivery that earlier attempt claimed (the runner re-runs a task only once the
    earlier attempt failed or its lease ran out). If the SMTP server had already accepted
    the mail, it goes out twice; the ledger still says sent once (``attempts`` > 1).
    """
    now = now or timezone.now()
    run = current_task_id()
    token = f"task:{run}" if run is not None else ""
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimable = Q(due, status__in=[DeliveryStatus.QUEUED, DeliveryStatus.FAILED])
    if token:
        claimable |= Q(status=DeliveryStatus.SENDING, claimed_by=token)
    claimed = Delivery.objects.filter(claimable, key=key).update(
        status=DeliveryStatus.SENDING, claimed_at=now, claimed_by=token, attempts=F("attempts") + 1
    )
    if not claimed:
        return "not due or already handled"
    delivery = Delivery.objects.select_related("ticket", "recipient").get(key=key)
    if not _may_receive(delivery):
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SKIPPED, last_error="The recipient may no longer see it."
        )
        return "skipped"
    try:
        _message(delivery).send()
    except Exception as exc:  # any transport error: record it and retry, never lose it
        return _record_failure(delivery, exc)
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), next_attempt_at=None
    )
    return "sent"


def _record_failure(delivery: Delivery, exc: Exception) -> str:
    error = f"{exc.__class__.__name__}: {exc}"[:2000]
    now = timezone.now()
    with transaction.atomic():
        if delivery.attempts >= max_attempts():
            Delivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.DEAD, last_error=error, next_attempt_at=None
            )
            return "dead"
        next_at = now + retry_delay(delivery.attempts)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, last_error=error, next_attempt_at=next_at
        )
        from .tasks import send_delivery

        send_delivery.using(run_after=next_at).enqueue(delivery.key)
    return "retrying"


def requeue_stalled(*, now: datetime | None = None, limit: int = 500) -> int:
    """Re-enqueue deliveries whose task was lost (worker killed mid-send, task crashed).

    Sending twice on the wire is possible after a crash; losing a mail is not.
    """
    now = now or timezone.now()
    from .tasks import send_delivery

    stalled = Q(status=DeliveryStatus.SENDING, claimed_at__lt=now - STALE_CLAIM) | Q(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now - LOST_RETRY),
        status__in=[DeliveryStatus.QUEUED, DeliveryStatus.FAILED],
        created_at__lt=now - LOST_RETRY,
    )
    keys = list(Delivery.objects.filter(stalled).values_list("key", flat=True)[:limit])
    requeued = 0
    for key in keys:
        with transaction.atomic():
            # Moving next_attempt_at forward is the claim: only one sweep re-enqueues.
            updated = Delivery.objects.filter(stalled, key=key).update(
                status=Case(
                    When(status=DeliveryStatus.SENDING, then=Value(DeliveryStatus.FAILED)),
                    default=F("status"),
                ),
                next_attempt_at=now,
            )
            if updated:
                send_delivery.enqueue(key)
                requeued += 1
    return requeued


def queue_sla_notice(
    ticket: Ticket, *, users=(), groups=(), key: str, subject: str, body: str
) -> list[Delivery]:
    """Queue an SLA escalation mail to users and groups (mailbox, or agent members).

    Runs inside the escalation's transaction; ``key`` (timer and threshold) makes a
    repeat a no-op, so a notice is sent once per recipient.
    """
    notice = SlaNotice(ticket, key, subject, body, users=tuple(users), groups=tuple(groups))
    return queue_sla_notices([notice])


@dataclass(frozen=True)
class SlaNotice:
    """One mail about a ticket to named users and groups (for ``queue_notices``): an SLA
    escalation, or a practice's notice such as "the problem behind your incident is
    resolved". ``key`` makes a repeat a no-op per recipient."""

    ticket: Ticket
    key: str  # timer and threshold: a repeat is a no-op
    subject: str
    body: str
    users: tuple = ()
    groups: tuple = ()  # AssignmentGroup: its mailbox, or else its active agent members
    event: str = "sla"  # what the delivery is about (its key's first part)


Notice = SlaNotice


def queue_notices(notices: list[SlaNotice]) -> list[Delivery]:
    """Queue one-off mails about tickets (``Notice``), as ``queue_sla_notices`` does."""
    return queue_sla_notices(notices)


def queue_sla_notices(notices: list[SlaNotice]) -> list[Delivery]:
    """Queue many SLA escalation mails at once (a sweep's batch) in a few queries.

    The rules of ``queue_sla_notice``, whatever the number of notices: one query for the
    members of groups without a mailbox, one insert for the deliveries and one for their
    tasks, all in the caller's transaction.
    """
    if notifications_suppressed() or not notices:
        return []
    no_mailbox = {g.pk for n in notices for g in n.groups if not _valid_address(g.email)}
    members: dict[int, list[User]] = {}
    if no_mailbox:
        rows = (
            Membership.objects.filter(group_id__in=no_mailbox, user__is_active=True)
            .select_related("user")
            .order_by("user_id")
        )
        for m in rows:
            members.setdefault(m.group_id, []).append(m.user)
    deliveries: list[Delivery] = []
    for notice in notices:
        ticket = notice.ticket
        recipients: dict[str, Recipient] = {}
        for user in notice.users:
            for r in _user_recipient(user, ticket, actor_id=None):
                recipients[r.key] = r
        for group in notice.groups:
            if _valid_address(group.email):
                recipients[f"g{group.pk}"] = Recipient(
                    f"g{group.pk}", group.email, group.name, None
                )
                continue
            for member in members.get(group.pk, ()):
                if is_agent(member):
                    for r in _user_recipient(member, ticket, actor_id=None):
                        recipients[r.key] = r
        subject = header_safe(notice.subject, 250)
        body = notice.body.strip() + "\n"
        deliveries.extend(
            Delivery(
                key=f"{notice.event}:{notice.key}:{r.key}"[:255],
                event=notice.event,
                ticket=ticket,
                recipient=r.user,
                to_address=formataddr((header_safe(r.name, 100), r.address)),
                subject=subject,
                body=body,
            )
            for r in recipients.values()
        )
    if not deliveries:
        return []
    # A duplicate key (a notice queued before) only enqueues a task that finds nothing
    # to claim, as in queue_for_events.
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    _enqueue_sends([d.key for d in deliveries])
    return deliveries


def _enqueue_sends(keys: list[str]) -> None:
    """``send_delivery.enqueue(key)`` for each key, in one INSERT (``enqueue_many``)."""
    from .tasks import send_delivery

    enqueue_many(send_delivery, [((key,), {}) for key in keys])
