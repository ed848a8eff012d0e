"""Allowlisted filters for ``/api/v1/problems/`` (and the problem queue)."""

from __future__ import annotations

import django_filters as filters

from mainspring.incidents.filters import StrictBooleanFilter

from .models import Problem, ProblemState

__all__ = ["ProblemFilter"]


class ProblemFilter(filters.FilterSet):
    state = filters.MultipleChoiceFilter(
        distinct=False,
        choices=ProblemState.choices,
        help_text="Repeat for several: ?state=assess&state=root_cause_analysis",
    )
    is_open = StrictBooleanFilter(field_name="is_open", help_text="true: not yet resolved.")
    known_error = StrictBooleanFilter(field_name="known_error")

    class Meta:
        model = Problem
        fields: list[str] = []
