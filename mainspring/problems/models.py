"""Problem management: find and remove the causes of incidents (ITIL 4).

A problem is a ticket (``Problem(Ticket)``) with what analysis adds: the root cause,
a workaround, whether it is a known error (and the knowledge article that says so),
the fix. Incidents point at their problem (``Incident.caused_by``).
"""

from __future__ import annotations

from django.db import models

from mainspring.core.models import Ticket, ticket_parent_link

PREFIX = "PRB"
KIND = "problem"


class ProblemState(models.TextChoices):
    NEW = "new", "New"
    ASSESS = "assess", "Assess"
    ROOT_CAUSE_ANALYSIS = "root_cause_analysis", "Root cause analysis"
    FIX_IN_PROGRESS = "fix_in_progress", "Fix in progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


class ProblemResolution(models.TextChoices):
    """How a problem ended (ServiceNow's problem resolution codes)."""

    FIX_APPLIED = "fix_applied", "Fix applied"
    RISK_ACCEPTED = "risk_accepted", "Risk accepted"
    DUPLICATE = "duplicate", "Duplicate"


class Problem(Ticket):
    """The cause, or potential cause, of one or more incidents."""

    ticket = ticket_parent_link(KIND)
    root_cause = models.TextField(blank=True)
    workaround = models.TextField(blank=True)
    known_error = models.BooleanField(default=False)
    known_error_article = models.ForeignKey(
        "knowledge.Article", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    fix_notes = models.TextField(blank=True)
    resolution_code = models.CharField(max_length=20, choices=ProblemResolution.choices, blank=True)
    resolution_notes = models.TextField(blank=True)
