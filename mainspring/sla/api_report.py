"""``GET /api/v1/sla-report/``: the SLA compliance report (``sla.report``) over the API.

Agents, managers and admins read it; a requester gets 403 (as for ``/api/v1/slas/``).
``start`` and ``end`` are a date (midnight in the site time zone) or an ISO 8601 date
and time (without an offset: the site time zone); the period is ``[start, end)``.
This module is also the URLconf ``api_urls`` includes for the path.
"""

from __future__ import annotations

import datetime as dt

from django.urls import path
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from mainspring.core.api import reject_unknown
from mainspring.identity.policy import is_agent

from .calendar import local_to_utc
from .report import BY_CHOICES, ComplianceReport, compliance, site_time_zone

__all__ = ["SlaReportView", "urlpatterns"]

_INSTANT_HELP = (
    "A date (2026-06-01: midnight in the site time zone) or an ISO 8601 date and time "
    "(2026-06-01T08:00:00Z; without an offset, the site time zone)."
)


def parse_instant(raw: str) -> dt.datetime:
    """A date or an ISO 8601 date-time; naive values are in the site time zone."""
    raw = raw.strip()
    try:
        if len(raw) == 10:
            value = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time())
        else:
            value = parse_datetime(raw)
    except (ValueError, OverflowError):
        value = None
    if value is None:
        raise serializers.ValidationError(
            "Give a date (2026-06-01) or a date and time (2026-06-01T08:00:00Z)."
        )
    if value.tzinfo is None:
        try:  # a time the clocks skip is the jump after it (calendar.local_to_utc)
            value = local_to_utc(value, site_time_zone())
        except OverflowError:
            raise serializers.ValidationError("This date is out of range.") from None
    return value


class SlaReportQuerySerializer(serializers.Serializer):
    start = serializers.CharField(
        max_length=40, help_text="Start of the period (included). " + _INSTANT_HELP
    )
    end = serializers.CharField(
        max_length=40, help_text="End of the period (excluded). " + _INSTANT_HELP
    )
    by = serializers.ChoiceField(
        choices=list(BY_CHOICES.items()),
        default="sla",
        help_text="Group by SLA definition, assignment group, priority or month (site time zone).",
    )

    def validate_start(self, value: str) -> dt.datetime:
        return parse_instant(value)

    def validate_end(self, value: str) -> dt.datetime:
        return parse_instant(value)


class SlaReportRowSerializer(serializers.Serializer):
    key = serializers.CharField(
        allow_null=True,
        help_text="SLA definition id, group id, priority (1-5) or month (YYYY-MM); "
        "null for no group / no priority and on the total.",
    )
    label = serializers.CharField(help_text="SLA or group name, priority label or month.")
    met = serializers.IntegerField()
    breached = serializers.IntegerField(help_text="Breached timers, stopped or still running.")
    percent_met = serializers.FloatField(
        allow_null=True, help_text="met / (met + breached) × 100, one decimal; null if both 0."
    )
    mean_response_seconds = serializers.IntegerField(
        allow_null=True,
        help_text="Mean business seconds to respond over stopped response timers.",
    )
    mean_resolution_seconds = serializers.IntegerField(
        allow_null=True,
        help_text="Mean business seconds to resolve over stopped resolution timers.",
    )
    responses = serializers.IntegerField(help_text="Stopped response timers in the mean.")
    resolutions = serializers.IntegerField(help_text="Stopped resolution timers in the mean.")


class SlaReportSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    by = serializers.ChoiceField(choices=list(BY_CHOICES.items()))
    time_zone = serializers.CharField(help_text="The site time zone months are read in.")
    rows = SlaReportRowSerializer(many=True)
    total = SlaReportRowSerializer()


class AgentsOnly(permissions.BasePermission):
    message = "Only agents may read the SLA report."

    def has_permission(self, request, view) -> bool:
        return is_agent(request.user)


@extend_schema(
    tags=["sla"],
    parameters=[SlaReportQuerySerializer],
    responses={
        200: SlaReportSerializer,
        400: OpenApiResponse(description="Invalid input: error.fields names each problem."),
        403: OpenApiResponse(description="Requesters may not read the report."),
    },
    examples=[
        OpenApiExample(
            "By priority",
            response_only=True,
            value={
                "start": "2026-06-01T00:00:00Z",
                "end": "2026-07-01T00:00:00Z",
                "by": "priority",
                "time_zone": "UTC",
                "rows": [
                    {
                        "key": "1",
                        "label": "P1 Critical",
                        "met": 18,
                        "breached": 2,
                        "percent_met": 90.0,
                        "mean_response_seconds": 540,
                        "mean_resolution_seconds": 9120,
                        "responses": 10,
                        "resolutions": 10,
                    }
                ],
                "total": {
                    "key": None,
                    "label": "All",
                    "met": 18,
                    "breached": 2,
                    "percent_met": 90.0,
                    "mean_response_seconds": 540,
                    "mean_resolution_seconds": 9120,
                    "responses": 10,
                    "resolutions": 10,
                },
            },
        )
    ],
)
class SlaReportView(APIView):
    """SLA compliance over the timers that started in ``[start, end)``: met, breached,
    percent met and mean business time to respond and resolve, per ``by`` value, with a
    total. The period is at most 3 years."""

    permission_classes = [permissions.IsAuthenticated, AgentsOnly]

    def get(self, request) -> Response:
        reject_unknown(dict(request.query_params), {"start", "end", "by"})
        query = SlaReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        report: ComplianceReport = compliance(**query.validated_data)
        data = {
            "start": report.start,
            "end": report.end,
            "by": report.by,
            "time_zone": report.time_zone,
            "rows": [_row(r) for r in report.rows],
            "total": _row(report.total),
        }
        return Response(SlaReportSerializer(data).data)


def _row(row) -> dict:
    return {
        "key": row.key,
        "label": row.label,
        "met": row.met,
        "breached": row.breached,
        "percent_met": row.percent_met,
        "mean_response_seconds": row.mean_response_seconds,
        "mean_resolution_seconds": row.mean_resolution_seconds,
        "responses": row.responses,
        "resolutions": row.resolutions,
    }


# Included by ``mainspring/api_urls.py`` at ``sla-report/``.
urlpatterns = [path("", SlaReportView.as_view(), name="api-sla-report")]
