"""Outbound notifications: one row per (event, ticket, entry/version, recipient).

The change that causes mail writes, in its own transaction, a task that writes the
``Delivery`` rows (with the tasks that send them), so a crash never loses a mail and a
rollback never sends one.
The unique ``key`` makes the whole path idempotent: an event published twice or a task
run twice still sends once. Every delivery ends ``sent``, ``skipped`` or ``dead`` (with
the attempts and the last error), never silently gone.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed, will retry"
    DEAD = "dead", "Dead (gave up)"
    SKIPPED = "skipped", "Skipped (recipient may no longer see the ticket)"


class Delivery(models.Model):
    """One e-mail to one recipient, rendered by the worker from what the event recorded."""

    key = models.CharField(max_length=255, unique=True)
    event = models.CharField(max_length=32)
    ticket = models.ForeignKey("core.Ticket", on_delete=models.CASCADE, related_name="deliveries")
    # Null for a group mailbox (AssignmentGroup.email), which is not a user.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    to_address = models.CharField(max_length=320)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Which background task run claimed it ("task:<id>"): a re-run of that same task
    # (its worker died mid-send) may take it back at once (services.deliver).
    claimed_by = models.CharField(max_length=40, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_status_idx"),
            models.Index(fields=["ticket", "created_at"], name="delivery_ticket_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"
