"""Domain operations shared by every ticket kind: the one way in for core data.

Practice services (``incidents.services``) call these for the parts every ticket has:
field changes with audit, the journal, attachments, watchers and links. Every function
takes the actor as keyword-only ``by=`` and the ``channel`` the change came through,
runs in one transaction, checks the policy and publishes a ``TicketEvent``.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import File
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from mainspring.identity.policy import Action, Forbidden, is_agent, require

from .events import TicketEvent, prepare_new_ticket, publish
from .mentions import mentioned_agents
from .models import (
    Attachment,
    AuditEntry,
    Channel,
    JournalEntry,
    JournalKind,
    LinkKind,
    Ticket,
    TicketLink,
    Watcher,
)
from .states import Phase, StateMachine, Transition

__all__ = [
    "StaleVersion",
    "TicketValidationError",
    "add_attachment",
    "add_journal_entry",
    "add_system_entries",
    "add_watcher",
    "apply_changes",
    "audit_value",
    "change_state",
    "forget_stale_presence",
    "link_tickets",
    "note_presence",
    "open_ticket",
    "remove_watcher",
    "sanitize_filename",
    "write_audits",
]


class StaleVersion(Exception):
    """The change was based on an older version of the ticket (HTTP 412 / UI conflict)."""

    def __init__(self, current: int):
        self.current = current
        super().__init__(
            f"This ticket was changed by someone else (now version {current}). "
            "Reload it and apply your change again."
        )


class TicketValidationError(Exception):
    """Field-level validation failure: ``fields`` maps field name to messages."""

    def __init__(self, fields: Mapping[str, str | list[str]], message: str = "Invalid input."):
        self.fields = {k: [v] if isinstance(v, str) else list(v) for k, v in fields.items()}
        super().__init__(message)


def audit_value(value: Any) -> str:
    """How a value is written in the audit trail: model instances by their label."""
    if value is None:
        return ""
    if isinstance(value, models.Model):
        return str(getattr(value, "number", None) or value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def lock_ticket(ticket: Ticket, expected_version: int | None) -> None:
    """Claim the next version, or refuse if someone else got there first.

    A conditional UPDATE makes the check and the bump one atomic step on both
    databases, so two concurrent writers can never both succeed from one version.
    """
    qs = Ticket.objects.filter(pk=ticket.pk)
    if expected_version is not None:
        qs = qs.filter(version=expected_version)
    now = timezone.now()
    updated = qs.update(version=F("version") + 1, updated_at=now)
    if not updated:
        current = Ticket.objects.filter(pk=ticket.pk).values_list("version", flat=True).first()
        raise StaleVersion(current or 0)
    ticket.version = Ticket.objects.filter(pk=ticket.pk).values_list("version", flat=True)[0]
    ticket.updated_at = now


# Bookkeeping columns derived from audited ones; recording them would only add noise.
_NOT_AUDITED = frozenset({"is_open", "version", "updated_at"})


def write_audit(
    ticket: Ticket,
    changes: Mapping[str, tuple[Any, Any]],
    *,
    by,
    channel: str,
) -> None:
    now = timezone.now()
    changes = {k: v for k, v in changes.items() if k not in _NOT_AUDITED}
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                ticket_id=ticket.pk,
                field=name,
                old_value=audit_value(old),
                new_value=audit_value(new),
                actor_id=getattr(by, "pk", None),
                channel=channel,
                created_at=now,
            )
            for name, (old, new) in changes.items()
        ]
    )


def apply_changes(
    obj: Ticket,
    values: Mapping[str, Any],
    *,
    by,
    channel: str,
    expected_version: int | None = None,
    event: str = "field_changed",
    event_data: dict | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Set fields on a ticket (or its practice subclass), audit and publish.

    Returns the changes made (field → (old, new)). Unchanged values are skipped. The
    version is bumped (and checked against ``expected_version``) even when nothing
    changed but ``event`` is a state change, so every write is ordered.
    """
    changes: dict[str, tuple[Any, Any]] = {}
    for name, new in values.items():
        old = getattr(obj, name)
        if old != new:
            changes[name] = (old, new)
            setattr(obj, name, new)
    if not changes and event == "field_changed":
        if expected_version is not None and expected_version != obj.version:
            raise StaleVersion(obj.version)
        return changes
    lock_ticket(obj, expected_version)
    update_fields = [*changes.keys(), "version", "updated_at"]
    # Model.save with update_fields writes each parent table it touches (MTI).
    obj.save(update_fields=_concrete_names(obj, update_fields))
    write_audit(obj, changes, by=by, channel=channel)
    ticket_id = obj.pk
    events = [
        TicketEvent(
            name=event,
            ticket_id=ticket_id,
            actor_id=getattr(by, "pk", None),
            channel=channel,
            changes=changes,
            data=event_data or {},
            ticket=obj,
        )
    ]
    if "assignee" in changes or "assignment_group" in changes:
        events.append(
            TicketEvent(
                name="assigned",
                ticket_id=ticket_id,
                actor_id=getattr(by, "pk", None),
                channel=channel,
                changes={k: v for k, v in changes.items() if k in ("assignee", "assignment_group")},
                ticket=obj,
            )
        )
    publish(*events)
    return changes


def change_state(
    ticket: Ticket,
    machine: StateMachine,
    name: str,
    *,
    by,
    channel: str,
    expected_version: int | None = None,
    values: Mapping[str, Any] | None = None,
) -> Transition:
    """Run transition ``name`` of ``machine`` on ``ticket``, whatever its kind.

    Checks the state machine (InvalidTransition) and the policy (the transition's
    action), sets the columns every lifecycle shares from the target state's phase
    (``is_open``; ``resolved_at`` on resolving, cleared on reopening; ``closed_at`` on
    closing or cancelling), writes ``values`` (the practice's own fields) in the same
    change and publishes ``state_changed`` carrying the phase, which is what SLA
    timers, mail and reports act on. The caller holds the transaction.
    """
    t = machine.check(ticket.state, name)
    require(by, t.action, ticket)
    now = timezone.now()
    source, target = machine.state(ticket.state), machine.state(t.target)
    changes = dict(values or {})
    changes["state"] = t.target
    changes["is_open"] = target.is_open
    if target.phase == Phase.RESOLVED:
        changes["resolved_at"] = now
    elif target.phase in (Phase.CLOSED, Phase.CANCELLED):
        changes["closed_at"] = now
    elif source.phase != Phase.OPEN:
        changes["resolved_at"] = None
        changes["closed_at"] = None
    apply_changes(
        ticket,
        changes,
        by=by,
        channel=channel,
        expected_version=expected_version,
        event="state_changed",
        event_data={
            "transition": name,
            "from": source.value,
            "to": target.value,
            "phase": str(target.phase),
        },
    )
    return t


def open_ticket(ticket: Ticket, machine: StateMachine, prefix: str, *, by, channel: str) -> Ticket:
    """Save a new ticket of any kind: its number, initial state, audit and events.

    ``ticket`` is the practice's unsaved instance with its fields (kind, priority,
    requester, ...) already set. SLA deadlines are chosen before the INSERT
    (``prepare_new_ticket``); "created" (and "assigned" when it starts with an owner)
    are published in the caller's transaction.
    """
    from .numbering import next_number

    now = timezone.now()
    ticket.number = next_number(prefix)
    ticket.state = machine.initial
    ticket.is_open = machine.state(machine.initial).is_open
    ticket.opened_by = by
    ticket.created_at = ticket.updated_at = now
    prepare_new_ticket(ticket)
    ticket.save()
    write_audit(
        ticket,
        {"state": (None, ticket.state), "priority": (None, ticket.priority)},
        by=by,
        channel=channel,
    )
    events = [TicketEvent("created", ticket.pk, by.pk, channel, ticket=ticket)]
    if ticket.assignee_id or ticket.assignment_group_id:
        events.append(
            TicketEvent(
                "assigned",
                ticket.pk,
                by.pk,
                channel,
                changes={
                    "assignee": (None, ticket.assignee),
                    "assignment_group": (None, ticket.assignment_group),
                },
                ticket=ticket,
            )
        )
    publish(*events)
    return ticket


def _concrete_names(obj: models.Model, names: Iterable[str]) -> list[str]:
    fields = {f.name: f for f in obj._meta.concrete_fields}
    out = []
    for name in names:
        f = fields.get(name)
        if f is not None:
            out.append(f.name)
    return out


def add_journal_entry(
    ticket: Ticket,
    *,
    by,
    kind: str,
    body: str,
    channel: str = Channel.UI,
) -> JournalEntry:
    """Add a public comment or an internal work note.

    Requesters may only comment. An agent's first public comment records the first
    response time.
    """
    body = (body or "").strip()
    if not body:
        raise TicketValidationError({"body": "Write something first."})
    if len(body) > 65_536:
        raise TicketValidationError({"body": "Keep it under 64 KB; attach longer text as a file."})
    if kind not in (JournalKind.COMMENT, JournalKind.WORK_NOTE):
        raise TicketValidationError({"kind": "Use 'comment' or 'work_note'."})
    require(by, Action.WORK_NOTE if kind == JournalKind.WORK_NOTE else Action.COMMENT, ticket)
    with transaction.atomic():
        now = timezone.now()
        entry = JournalEntry.objects.create(
            ticket=ticket, kind=kind, body=body, author=by, channel=channel, created_at=now
        )
        lock_ticket(ticket, None)
        changes: dict[str, tuple[Any, Any]] = {}
        if kind == JournalKind.COMMENT and is_agent(by) and ticket.responded_at is None:
            Ticket.objects.filter(pk=ticket.pk).update(responded_at=now)
            ticket.responded_at = now
            changes["responded_at"] = (None, now)
            write_audit(ticket, changes, by=by, channel=channel)
        data: dict[str, Any] = {"entry_id": entry.pk, "kind": kind}
        if is_agent(by):
            # Agents ask colleagues to look with @username; they hear about it by mail.
            mentioned = [u.pk for u in mentioned_agents(body) if u.pk != by.pk]
            if mentioned:
                data["mentions"] = mentioned
        publish(
            TicketEvent(
                name="commented",
                ticket_id=ticket.pk,
                actor_id=by.pk,
                channel=channel,
                changes=changes,
                data=data,
                ticket=ticket,
            )
        )
    return entry


def add_system_entry(
    ticket: Ticket,
    body: str,
    *,
    by=None,
    channel: str = Channel.SYSTEM,
    kind: str = JournalKind.SYSTEM,
):
    """A journal entry written by the system; ``kind=WORK_NOTE`` keeps it internal."""
    return JournalEntry.objects.create(
        ticket=ticket, kind=kind, body=body, author=by, channel=channel
    )


_BAD_FILENAME_CHARS = {"/", "\\", "\x00", ":", "*", "?", '"', "<", ">", "|"}


def sanitize_filename(name: str) -> str:
    """A display-safe file name: no path, no control or bidi characters, ≤ 150 chars."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(
        "_" if (ch in _BAD_FILENAME_CHARS or unicodedata.category(ch) in {"Cc", "Cf"}) else ch
        for ch in name
    ).strip(" .")
    if not cleaned:
        cleaned = "file"
    if len(cleaned) > 150:
        stem, dot, ext = cleaned.rpartition(".")
        ext = ext[:20] if dot else ""
        cleaned = (stem if dot else cleaned)[: 150 - len(ext) - 1] + ("." + ext if ext else "")
    return cleaned


class AttachmentTooLarge(Exception):
    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"Attachments are limited to {limit // (1024 * 1024)} MB.")


def add_attachment(ticket: Ticket, *, by, upload: File, channel: str = Channel.UI) -> Attachment:
    """Store an uploaded file under a generated name; the client's type is not trusted.

    Every download is served as an attachment with ``nosniff``, so the stored type only
    labels the file; it never makes a browser render it.
    """
    require(by, Action.ATTACH, ticket)
    limit = settings.ATTACHMENT_MAX_BYTES
    size = upload.size or 0
    if size > limit:
        raise AttachmentTooLarge(limit)
    if size == 0:
        raise TicketValidationError({"file": "The file is empty."})
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    filename = sanitize_filename(getattr(upload, "name", "") or "file")
    with transaction.atomic():
        attachment = Attachment(
            ticket=ticket,
            filename=filename,
            content_type="application/octet-stream",
            size=size,
            sha256=digest.hexdigest(),
            uploaded_by=by,
        )
        attachment.file.save("upload", upload, save=False)
        attachment.save()
        lock_ticket(ticket, None)
        write_audit(ticket, {"attachment": ("", filename)}, by=by, channel=channel)
        publish(
            TicketEvent(
                name="attached",
                ticket_id=ticket.pk,
                actor_id=by.pk,
                channel=channel,
                data={"attachment_id": attachment.pk},
                ticket=ticket,
            )
        )
    return attachment


def add_watcher(ticket: Ticket, *, by, user=None, channel: str = Channel.UI) -> Watcher:
    """``by`` starts watching (or, for agents, adds ``user`` as a watcher)."""
    target = user or by
    if target.pk != by.pk:
        require(by, Action.EDIT, ticket)
    else:
        require(by, Action.WATCH, ticket)
    with transaction.atomic():
        watcher, created = Watcher.objects.get_or_create(ticket=ticket, user=target)
        if created:
            write_audit(ticket, {"watcher": ("", target.username)}, by=by, channel=channel)
    return watcher


def remove_watcher(ticket: Ticket, *, by, user=None, channel: str = Channel.UI) -> None:
    target = user or by
    if target.pk != by.pk:
        require(by, Action.EDIT, ticket)
    with transaction.atomic():
        deleted, _ = Watcher.objects.filter(ticket=ticket, user=target).delete()
        if deleted:
            write_audit(ticket, {"watcher": (target.username, "")}, by=by, channel=channel)


def link_tickets(
    source: Ticket, target: Ticket, *, by, kind: str, channel: str = Channel.UI
) -> TicketLink:
    """Link two tickets (related, duplicate of, caused by). Agents only."""
    require(by, Action.LINK, source)
    require(by, Action.VIEW, target)
    if kind not in LinkKind.values:
        raise TicketValidationError({"kind": f"Use one of: {', '.join(LinkKind.values)}."})
    if source.pk == target.pk:
        raise TicketValidationError({"target": "A ticket cannot be linked to itself."})
    with transaction.atomic():
        link, created = TicketLink.objects.get_or_create(
            source=source, target=target, kind=kind, defaults={"created_by": by}
        )
        if created:
            write_audit(source, {f"link:{kind}": ("", target.number)}, by=by, channel=channel)
    return link


def ensure_agent(user) -> None:
    if not is_agent(user):
        raise Forbidden("Only agents may do this.")


def save_view(*, by, name: str, query: str):
    """Save (or overwrite, by name) one of ``by``'s queue filters as a personal view."""
    from .models import SavedView

    ensure_agent(by)
    name = (name or "").strip()
    if not name:
        raise TicketValidationError({"name": "Name the view."})
    if len(name) > 80 or len(query or "") > 1000:
        raise TicketValidationError({"name": "Keep the name under 80 characters."})
    view, _ = SavedView.objects.update_or_create(
        owner=by, name=name, defaults={"query": query or ""}
    )
    return view


def delete_view(*, by, view_id: int) -> bool:
    """Delete one of ``by``'s saved views; another person's view is simply not found."""
    from .models import SavedView

    deleted, _ = SavedView.objects.filter(owner=by, pk=view_id).delete()
    return bool(deleted)


# -- presence (agent workspace) -----------------------------------------------------------
PRESENCE_FRESH = timedelta(seconds=30)  # three missed 10 s reports and you are gone
TYPING_FRESH = timedelta(seconds=12)


def note_presence(ticket: Ticket, *, by, typing: bool = False) -> list:
    """Record that ``by`` has ``ticket`` open (and is typing); return who else has it.

    One upsert and one indexed read, whatever the number of viewers. Agents only: the
    portal never shows or reveals who works a ticket.
    """
    from .models import Presence

    ensure_agent(by)
    now = timezone.now()
    typing_at = now if typing else None
    row = Presence(ticket_id=ticket.pk, user_id=by.pk, seen_at=now, typing_at=typing_at)
    Presence.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["ticket", "user"],
        update_fields=["seen_at", "typing_at"],
    )
    return list(
        Presence.objects.filter(ticket_id=ticket.pk, seen_at__gte=now - PRESENCE_FRESH)
        .exclude(user_id=by.pk)
        .select_related("user")
        .order_by("user__username")[:10]
    )


def is_typing(presence, now=None) -> bool:
    now = now or timezone.now()
    return presence.typing_at is not None and presence.typing_at >= now - TYPING_FRESH


def forget_stale_presence(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Remove presence rows nobody refreshed for ``older_than`` (a periodic job)."""
    from .models import Presence

    deleted, _ = Presence.objects.filter(seen_at__lt=timezone.now() - older_than).delete()
    return deleted


def add_system_entries(
    entries: Iterable[tuple[Ticket | int, str]],
    *,
    by=None,
    channel: str = Channel.SYSTEM,
    kind: str = JournalKind.SYSTEM,
) -> list[JournalEntry]:
    """``add_system_entry`` for many tickets in one INSERT: ``entries`` are
    ``(ticket or ticket id, body)`` pairs, all written with the same author, channel and
    kind (the SLA sweep's work notes for a whole batch of fired thresholds)."""
    rows = [
        JournalEntry(
            ticket_id=getattr(ticket, "pk", ticket),
            kind=kind,
            body=body,
            author_id=getattr(by, "pk", None),
            channel=channel,
        )
        for ticket, body in entries
    ]
    return JournalEntry.objects.bulk_create(rows) if rows else []


def write_audits(
    changes: Mapping[int, Mapping[str, tuple[Any, Any]]],
    *,
    by,
    channel: str,
) -> None:
    """``write_audit`` for many tickets in one INSERT: ``changes`` maps a ticket id to
    its ``{field: (old, new)}`` (a batch of recomputed SLA deadlines, say)."""
    now = timezone.now()
    rows = [
        AuditEntry(
            ticket_id=ticket_id,
            field=name,
            old_value=audit_value(old),
            new_value=audit_value(new),
            actor_id=getattr(by, "pk", None),
            channel=channel,
            created_at=now,
        )
        for ticket_id, fields in changes.items()
        for name, (old, new) in fields.items()
        if name not in _NOT_AUDITED
    ]
    if rows:
        AuditEntry.objects.bulk_create(rows)
