"""The one allowlisted FilterSet for incidents (API list; the queue may reuse it).

Only the names declared here reach the ORM; a bad value is a 400 with field errors
(never ignored, never a 500), and unknown parameters are refused by the view
(core.api.StrictQueryParamsMixin).
"""

from __future__ import annotations

from datetime import UTC, timedelta

import django_filters as filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django_filters.fields import IsoDateTimeField

from mainspring.core.numbering import parse_number
from mainspring.identity.models import AssignmentGroup

from .models import PREFIX, Category, Incident, IncidentState

__all__ = ["IncidentFilter"]

PRIORITY_CHOICES = [(str(n), f"P{n}") for n in range(1, 6)]
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or 1/0, yes/no); anything else is an error, not "no filter"."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise forms.ValidationError("Use true or false.")


class StrictBooleanFilter(filters.Filter):
    field_class = StrictBooleanField


MAX_UTC_OFFSET = timedelta(hours=14)  # the widest offset any real time zone uses


class UtcDateTimeField(IsoDateTimeField):
    """ISO 8601, normalised to UTC. Python accepts offsets up to ±24 h and years the
    database cannot store once shifted; both are a clear 400 here, not a driver error."""

    def clean(self, value):
        parsed = super().clean(value)
        if parsed is None:
            return None
        offset = parsed.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise forms.ValidationError("Use a UTC offset between -14:00 and +14:00.")
        try:
            return parsed.astimezone(UTC)
        except OverflowError as exc:
            raise forms.ValidationError("Use a date between the years 1 and 9999.") from exc


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class IncidentFilter(filters.FilterSet):
    """Allowlisted filters for ``/api/v1/incidents/``."""

    def is_valid(self) -> bool:
        # django-filter reads ``?updated_before=`` as "no filter"; for anything but free
        # text an empty value is no value the schema allows (a date, a number...): say so.
        blank = [
            name
            for name, f in self.filters.items()
            if not isinstance(f, filters.CharFilter) and self.data.get(name) == ""
        ]
        valid = super().is_valid()
        for name in blank:
            self.form.add_error(name, "Give a value, or leave the parameter out.")
        return valid and not blank

    # distinct=False: each ticket has one state and one priority, and DISTINCT would make
    # PostgreSQL sort every match instead of reading the first page off an index.
    state = filters.MultipleChoiceFilter(
        distinct=False,
        choices=IncidentState.choices,
        help_text="Repeat for several: ?state=new&state=on_hold",
    )
    priority = filters.TypedMultipleChoiceFilter(
        distinct=False, choices=PRIORITY_CHOICES, coerce=int, help_text="1-5; repeat for several."
    )
    assignment_group = filters.ModelChoiceFilter(
        queryset=AssignmentGroup.objects.all(), help_text="Group id."
    )
    assignee = filters.CharFilter(
        method="filter_assignee",
        max_length=150,
        help_text="Username, or 'none' for unassigned.",
    )
    requester = filters.CharFilter(
        field_name="requester__username", max_length=150, help_text="Username."
    )
    category = filters.ModelChoiceFilter(queryset=Category.objects.all(), help_text="Category id.")
    major_incident = StrictBooleanFilter(field_name="major_incident")
    is_open = StrictBooleanFilter(field_name="is_open", help_text="true: new/in progress/on hold.")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = UtcDateTimeFilter(field_name="updated_at", lookup_expr="lt")
    sla = filters.ChoiceFilter(
        method="filter_sla",
        choices=[
            ("breached", "A running SLA clock is past its deadline"),
            ("at_risk", "In the last quarter of a running SLA clock, not breached"),
            ("running", "Has a running SLA clock"),
        ],
        help_text="breached, at_risk or running.",
    )
    q = filters.CharFilter(
        method="filter_text",
        max_length=200,
        help_text='Words in title or description (stemmed; word* for a prefix, "a phrase"), '
        "or a ticket number.",
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    def filter_assignee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value.lower() == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee__username=value)

    def filter_sla(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        now = timezone.now()
        if value == "breached":
            return queryset.filter(sla_breach_at__lte=now)
        if value == "at_risk":
            return queryset.filter(sla_at_risk_at__lte=now, sla_breach_at__gt=now)
        return queryset.filter(sla_breach_at__isnull=False)

    def filter_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Full text (the knowledge app's search module: GIN on PostgreSQL, FTS5 on
        # SQLite), so a rare word is an index lookup, not a scan of every description.
        # Numbers are exact.
        from mainspring.knowledge.search import tickets_matching

        value = value.strip()
        if not value:
            return queryset
        # The queue's rule (queues.filtered), so the two never disagree: INC1001,
        # inc0001001 and #1001 are the same incident.
        number = parse_number(value, PREFIX)
        if number:
            return queryset.filter(number=number)
        return tickets_matching(queryset, value)
