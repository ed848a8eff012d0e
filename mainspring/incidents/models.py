"""Incident management: restore service fast after unplanned disruptions."""

from __future__ import annotations

from django.db import models

from mainspring.core.models import Level, Ticket, ticket_parent_link

PREFIX = "INC"
KIND = "incident"


class IncidentState(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


class HoldReason(models.TextChoices):
    AWAITING_CALLER = "awaiting_caller", "Awaiting caller"
    AWAITING_VENDOR = "awaiting_vendor", "Awaiting vendor"
    AWAITING_CHANGE = "awaiting_change", "Awaiting change"


class Category(models.Model):
    """Admin-managed; a category with a parent is a subcategory."""

    name = models.CharField(max_length=100)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="subcategories"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="uniq_category_name"),
        ]

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id and self.parent else self.name


class ResolutionCode(models.Model):
    """Admin-managed; ``solved`` and ``workaround`` exist out of the box."""

    code = models.SlugField(max_length=50, unique=True)
    label = models.CharField(max_length=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class PriorityRule(models.Model):
    """One cell of the impact × urgency matrix; admins may change the priorities."""

    impact = models.CharField(max_length=8, choices=Level.choices)
    urgency = models.CharField(max_length=8, choices=Level.choices)
    priority = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="uniq_priority_cell"),
            models.CheckConstraint(
                condition=models.Q(priority__gte=1, priority__lte=5), name="priority_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.impact} × {self.urgency} → P{self.priority}"


class Incident(Ticket):
    """An unplanned interruption or reduction in quality of an IT service."""

    ticket = ticket_parent_link(KIND)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    subcategory = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    hold_reason = models.CharField(max_length=20, choices=HoldReason.choices, blank=True)
    major_incident = models.BooleanField(default=False)
    resolution_code = models.ForeignKey(
        ResolutionCode, on_delete=models.PROTECT, null=True, blank=True
    )
    resolution_notes = models.TextField(blank=True)
    reassignment_count = models.PositiveIntegerField(default=0)
    # The problem that causes it (problem management links and unlinks it). Not called
    # ``problem``: Ticket's reverse accessor to a problem's row has that name.
    caused_by = models.ForeignKey(
        "problems.Problem",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incidents",
    )
