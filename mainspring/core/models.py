"""The ticket core shared by every practice (DESIGN.md, "A ticket is a ticket").

A concrete ``Ticket`` table holds what every work item shares; each practice adds a
one-to-one table (``Incident(Ticket)``). Journal, attachments, audit, watchers and links
point at ``Ticket``, so a queue across practices or a timeline is one indexed query.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Level(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Channel(models.TextChoices):
    """How a change or a ticket reached us."""

    PORTAL = "portal", "Portal"
    UI = "ui", "Agent workspace"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    API = "api", "API"
    MONITORING = "monitoring", "Monitoring"
    SYSTEM = "system", "System"


class Ticket(models.Model):
    """A work item of any practice. ``kind`` is here so lists never need the join."""

    number = models.CharField(max_length=20, unique=True, editable=False)
    kind = models.CharField(max_length=20, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    state = models.CharField(max_length=32)
    # Denormalised from ``state`` so every queue ("open ...") is one index range.
    is_open = models.BooleanField(default=True)
    impact = models.CharField(max_length=8, choices=Level.choices, default=Level.LOW)
    urgency = models.CharField(max_length=8, choices=Level.choices, default=Level.LOW)
    priority = models.PositiveSmallIntegerField(default=5)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.PORTAL)
    # db_index=False where a composite index below already leads with the column.
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="requested_tickets",
        db_index=False,
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="opened_tickets"
    )
    assignment_group = models.ForeignKey(
        "identity.AssignmentGroup",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="children",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    # Written by the sla app from the ticket's running timers (like ServiceNow's
    # task.sla_due): the soonest deadline, and when the soonest "at risk" (last quarter)
    # begins. Null when no clock runs. They let queues filter "breached" / "at risk" and
    # sort "breaches soonest" on one index instead of a subquery per ticket.
    sla_breach_at = models.DateTimeField(null=True, blank=True, editable=False)
    sla_at_risk_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [
            # Queues, newest first. Every list filters on kind (a queue is per practice)
            # and most on is_open; partial indexes keep the open-ticket ones small, since
            # at scale ~85% of tickets are closed.
            models.Index(fields=["kind", "is_open", "-id"], name="ticket_kind_open_idx"),
            models.Index(
                fields=["kind", "assignee", "-id"],
                condition=models.Q(is_open=True),
                name="ticket_open_assignee_idx",
            ),
            models.Index(
                fields=["kind", "assignment_group", "assignee", "-id"],
                condition=models.Q(is_open=True),
                name="ticket_open_group_idx",
            ),
            models.Index(
                fields=["kind", "is_open", "priority", "-id"], name="ticket_open_prio_idx"
            ),
            models.Index(fields=["kind", "state", "-id"], name="ticket_state_idx"),
            models.Index(fields=["requester", "-id"], name="ticket_requester_idx"),
            # "The caller's other open tickets" on a ticket page: a few rows, even for
            # the caller who has filed thousands.
            models.Index(
                fields=["requester", "-id"],
                condition=models.Q(is_open=True),
                name="ticket_open_requester_idx",
            ),
            models.Index(fields=["-updated_at", "-id"], name="ticket_updated_idx"),
            models.Index(fields=["-created_at", "-id"], name="ticket_created_idx"),
            # Auto-close: resolved incidents by resolution time.
            models.Index(fields=["state", "resolved_at"], name="ticket_resolved_idx"),
            models.Index(fields=["parent"], name="ticket_parent_idx"),
            # SLA queues: only tickets with a running clock are in these.
            models.Index(
                fields=["kind", "sla_breach_at", "-id"],
                condition=models.Q(sla_breach_at__isnull=False),
                name="ticket_sla_breach_idx",
            ),
            models.Index(
                fields=["kind", "sla_at_risk_at", "sla_breach_at"],
                condition=models.Q(sla_at_risk_at__isnull=False),
                name="ticket_sla_risk_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def get_absolute_url(self) -> str:
        """The stable address of any ticket; it sends each person to their own view."""
        return reverse("ticket-detail", args=[self.number])

    @property
    def web_url(self) -> str:
        return settings.BASE_URL + self.get_absolute_url()


def ticket_parent_link(kind: str) -> models.OneToOneField:
    """A practice row's link to its ``Ticket``; the reverse accessor is the kind, so
    ``ticket.<kind>`` reaches the practice's row from a plain Ticket."""
    return models.OneToOneField(
        Ticket, on_delete=models.CASCADE, parent_link=True, primary_key=True, related_name=kind
    )


class NumberSequence(models.Model):
    """Per-kind counter on SQLite; PostgreSQL uses a real sequence (core.numbering)."""

    prefix = models.CharField(max_length=8, primary_key=True)
    last_value = models.BigIntegerField(default=1000)


class JournalKind(models.TextChoices):
    COMMENT = "comment", "Comment"  # public: the requester sees it
    WORK_NOTE = "work_note", "Work note"  # internal: agents only
    SYSTEM = "system", "System"


class JournalEntry(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="journal")
    kind = models.CharField(max_length=16, choices=JournalKind.choices)
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.UI)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="journal_ticket_idx")]
        ordering = ["created_at", "id"]

    @property
    def is_public(self) -> bool:
        return self.kind != JournalKind.WORK_NOTE


def attachment_path(instance: Attachment, filename: str) -> str:
    # The stored name is ours (a UUID); the user's file name is only ever displayed.
    return f"attachments/{instance.storage_key.hex[:2]}/{instance.storage_key.hex}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    storage_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["ticket", "created_at"], name="attachment_ticket_idx")]
        ordering = ["created_at", "id"]


class AuditEntry(models.Model):
    """Append-only: one row per changed field (who, when, old → new, channel)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="audit")
    field = models.CharField(max_length=50)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="audit_ticket_idx")]
        ordering = ["created_at", "id"]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit entries are append-only.")


class Watcher(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="watchers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watching"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "user"], name="uniq_watcher")]
        indexes = [models.Index(fields=["user", "ticket"], name="watcher_user_idx")]


class LinkKind(models.TextChoices):
    RELATED = "related", "Related to"
    DUPLICATE_OF = "duplicate_of", "Duplicate of"
    CAUSED_BY = "caused_by", "Caused by"


class TicketLink(models.Model):
    """A typed link; parent/child lives on ``Ticket.parent`` since a child has one parent."""

    source = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=20, choices=LinkKind.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="uniq_link"),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("target")), name="link_not_self"
            ),
        ]


class IdempotencyRecord(models.Model):
    """The first answer to a create sent with an ``Idempotency-Key``, replayed on retry."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=200)
    endpoint = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "endpoint", "key"], name="uniq_idempotency"),
        ]


class WorkerHeartbeat(models.Model):
    """Each worker writes here periodically; /readyz checks one was seen recently."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)


class Presence(models.Model):
    """An agent has this ticket open in the workspace (the page reports every 10 s).

    One row per ticket and agent, overwritten in place; rows not refreshed for an hour
    are removed by a periodic job, so the table holds only what is open now.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField()
    typing_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "user"], name="uniq_presence"),
        ]
        indexes = [models.Index(fields=["seen_at"], name="presence_seen_idx")]


class CannedResponse(models.Model):
    """A reply agents insert into the composer; admins keep the list (``/admin/``).

    ``body`` may hold placeholders such as ``{caller.first_name}`` or ``{ticket.number}``
    (``core.canned.expand``); unknown ones are left as written so nobody sends a blank.
    """

    title = models.CharField(max_length=100, unique=True)
    body = models.TextField(max_length=10_000)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class PeriodicRun(models.Model):
    """When each periodic job is next due; claimed with a conditional update."""

    name = models.CharField(max_length=100, primary_key=True)
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)


class TaskStatus(models.TextChoices):
    READY = "ready", "Ready"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    DEAD = "dead", "Dead (gave up)"


class BackgroundTask(models.Model):
    """One queued run of a background task (``core.taskqueue``): the outbox of side effects.

    Written in the same transaction as the change that called for it. A worker claims it
    (``running``, ``attempts`` + 1, a lease it keeps renewing); it ends ``done``, or
    ``dead`` with the attempts and the last error once retries are used up. A worker that
    dies leaves its lease to expire and the row is run again. ``done`` rows are pruned
    after ``TASK_KEEP_DONE_DAYS``; ``dead`` ones stay until an admin runs them again.
    """

    task_path = models.CharField(max_length=255)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    queue_name = models.CharField(max_length=32, default="default")
    priority = models.SmallIntegerField(default=0)
    status = models.CharField(max_length=8, choices=TaskStatus.choices, default=TaskStatus.READY)
    enqueued_at = models.DateTimeField(default=timezone.now)
    run_after = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The lease: who runs it and until when, unless the worker renews it.
    worker_id = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Every worker that took it, oldest first (the last few): a task that keeps
    # killing workers shows it here.
    worker_ids = models.JSONField(default=list)
    last_error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    return_value = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            # The claim: due ready rows, highest priority first, then oldest.
            models.Index(
                models.F("priority").desc(),
                "run_after",
                "id",
                name="task_claim_idx",
                condition=models.Q(status="ready"),
            ),
            # Reclaiming the rows of dead workers.
            models.Index(
                fields=["lease_expires_at"],
                name="task_lease_idx",
                condition=models.Q(status="running"),
            ),
            # Lists by status, newest first (the dead-letter list), and capped counts.
            models.Index(fields=["status", "id"], name="task_status_idx"),
            # Pruning old done rows.
            models.Index(
                fields=["finished_at"], name="task_done_idx", condition=models.Q(status="done")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} #{self.pk} ({self.status})"

    @property
    def task_name(self) -> str:
        return self.task_path.rsplit(".", 1)[-1]


class SavedView(models.Model):
    """An agent's saved queue filter (the query string of the queue page)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="uniq_saved_view_name"),
        ]
