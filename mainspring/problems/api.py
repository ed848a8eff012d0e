"""``/api/v1/problems/``: declarations on ``core.api_practice.PracticeViewSet``, plus the
actions problem management adds (linked incidents, known error)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from mainspring.core.api import ApiError, parse_if_match, reject_unknown, require_object
from mainspring.core.api_practice import (
    EmptySerializer,
    PracticeViewSet,
    ReasonSerializer,
    TicketSerializer,
    TicketWriteSerializer,
)
from mainspring.core.json_types import StrictJSONTypes
from mainspring.core.models import Channel
from mainspring.core.schema import IF_MATCH
from mainspring.identity.policy import is_agent, visible_tickets
from mainspring.incidents.models import Incident

from . import services
from .candidates import find_candidates
from .filters import ProblemFilter
from .models import KIND, Problem, ProblemResolution, ProblemState

__all__ = ["ProblemViewSet", "register"]


class ProblemSerializer(TicketSerializer):
    """How a problem reads: people by username, groups by id."""

    state = serializers.ChoiceField(choices=ProblemState.choices, read_only=True)
    resolution_code = serializers.CharField(
        read_only=True, help_text="'' until resolved: fix_applied, risk_accepted or duplicate."
    )
    known_error_article = serializers.SlugRelatedField(
        slug_field="number",
        read_only=True,
        allow_null=True,
        help_text="The known-error knowledge article's number, once it is a known error.",
    )
    sla_breach_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Problem
        fields = [
            *TicketSerializer.HEAD,
            "requester",
            "assignment_group",
            "assignee",
            "channel",
            "root_cause",
            "workaround",
            "known_error",
            "known_error_article",
            "fix_notes",
            "resolution_code",
            "resolution_notes",
            "version",
            "web_url",
            "created_at",
            "updated_at",
            "resolved_at",
            "closed_at",
            "opened_by",
            "sla_breach_at",
        ]
        read_only_fields = fields


class ProblemWriteSerializer(TicketWriteSerializer):
    """What may be sent on create/update (agents only: requesters never see problems)."""

    root_cause = serializers.CharField(max_length=65_536, required=False, allow_blank=True)
    workaround = serializers.CharField(max_length=65_536, required=False, allow_blank=True)
    fix_notes = serializers.CharField(max_length=65_536, required=False, allow_blank=True)


class IncidentNumbers(serializers.ListField):
    child = serializers.CharField(max_length=20)


class ProblemCreateSerializer(ProblemWriteSerializer):
    title = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    incidents = IncidentNumbers(
        required=False,
        max_length=services.MAX_LINKED_AT_ONCE,
        help_text="Numbers of the incidents this problem explains (linked on create).",
    )


class ProblemUpdateSerializer(ProblemWriteSerializer):
    pass


class ProblemResolveSerializer(StrictJSONTypes, serializers.Serializer):
    resolution_code = serializers.ChoiceField(choices=ProblemResolution.choices)
    resolution_notes = serializers.CharField(max_length=65_536)
    resolve_incidents = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also resolve the open linked incidents (code 'solved'); otherwise "
        "their assignees are told.",
    )


class KnownErrorSerializer(StrictJSONTypes, serializers.Serializer):
    workaround = serializers.CharField(max_length=65_536)


class LinkIncidentSerializer(StrictJSONTypes, serializers.Serializer):
    incident = serializers.CharField(max_length=20, help_text="An incident number.")


class LinkedIncidentSerializer(serializers.Serializer):
    number = serializers.CharField()
    title = serializers.CharField()
    state = serializers.CharField()
    web_url = serializers.URLField()


def _incident(user, number: str, field: str = "incident") -> Incident:
    """An incident ``user`` may see, by number; else a 400 naming ``field``."""
    found = visible_tickets(user, Incident.objects.all()).filter(number=str(number).upper()).first()
    if found is None:
        raise ApiError(400, "invalid", "Invalid input.", {field: [f"No incident {number}."]})
    return found


@extend_schema(tags=["problems"])
class ProblemViewSet(PracticeViewSet):
    """Problems, addressed by number. Transitions are POST actions; agents only."""

    kind = KIND
    serializer_class = ProblemSerializer
    create_serializer = ProblemCreateSerializer
    update_serializer = ProblemUpdateSerializer
    filterset_class = ProblemFilter
    prefetch_related = ("known_error_article",)
    transition_bodies = {
        "assess": EmptySerializer,
        "analyse": EmptySerializer,
        "fix": EmptySerializer,
        "resolve": ProblemResolveSerializer,
        "close": EmptySerializer,
        "reopen": ReasonSerializer,
        "cancel": ReasonSerializer,
    }
    transition_summaries = {
        "assess": "New → Assess",
        "analyse": "Start root cause analysis",
        "fix": "Start the fix",
        "resolve": "Resolve with a code and notes (and optionally the linked incidents)",
        "close": "Resolved → Closed",
        "reopen": "Resolved → Root cause analysis",
        "cancel": "Cancel an open problem",
    }
    create_description = "Agents only. ``incidents`` links the named incidents at once."

    def create_params(self, data: dict[str, Any]) -> dict[str, Any]:
        # Every named incident must be one the caller sees, checked before any write.
        numbers = data.pop("incidents", [])
        data["incidents"] = [_incident(self.request.user, n, "incidents") for n in numbers]
        return data

    @extend_schema(
        methods=["GET"],
        summary="The incidents this problem causes",
        responses={200: LinkedIncidentSerializer(many=True)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Link an incident",
        request=LinkIncidentSerializer,
        responses={
            200: LinkedIncidentSerializer(many=True),
            400: OpenApiResponse(description="No such incident, or the problem is closed."),
        },
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="incidents",
        filter_backends=[],
        pagination_class=None,
    )
    def incidents(self, request, *args, **kwargs) -> Response:
        problem = self.get_object()
        if request.method == "POST":
            body = require_object(request.data)
            reject_unknown(body, {"incident"})
            data = LinkIncidentSerializer(data=body)
            data.is_valid(raise_exception=True)
            incident = _incident(request.user, data.validated_data["incident"])
            services.link_incident(problem, incident, by=request.user, channel=Channel.API)
        return Response(self._linked_data(problem))

    @extend_schema(
        summary="Unlink an incident",
        responses={
            200: LinkedIncidentSerializer(many=True),
            400: OpenApiResponse(description="No such incident, or not linked to this problem."),
        },
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"incidents/(?P<incident>[A-Za-z0-9]{1,20})",
        filter_backends=[],
        pagination_class=None,
    )
    def unlink(self, request, *args, incident: str = "", **kwargs) -> Response:
        problem = self.get_object()
        found = _incident(request.user, incident)
        services.unlink_incident(problem, found, by=request.user, channel=Channel.API)
        return Response(self._linked_data(problem))

    def _linked_data(self, problem: Problem) -> list[dict]:
        linked = visible_tickets(self.request.user, Incident.objects.all()).filter(
            caused_by_id=problem.pk
        )
        return LinkedIncidentSerializer(linked.order_by("id")[:500], many=True).data

    @extend_schema(
        summary="Record a known error with its workaround",
        request=KnownErrorSerializer,
        parameters=[IF_MATCH],
        responses={200: ProblemSerializer, 412: OpenApiResponse(description="If-Match is stale.")},
        description="Sets known_error, posts the workaround as a work note on every open "
        "linked incident and submits a known-error article for review (once).",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="known-error",
        filter_backends=[],
        pagination_class=None,
    )
    def known_error(self, request, *args, **kwargs) -> Response:
        problem = self.get_object()
        expected = parse_if_match(request)
        body = require_object(request.data)
        reject_unknown(body, {"workaround"})
        data = KnownErrorSerializer(data=body)
        data.is_valid(raise_exception=True)
        services.mark_known_error(
            problem,
            by=request.user,
            workaround=data.validated_data["workaround"],
            channel=Channel.API,
            expected_version=expected,
        )
        return self._respond(problem)


class CandidateIncidentSerializer(serializers.Serializer):
    number = serializers.CharField()
    title = serializers.CharField()
    state = serializers.CharField()
    created_at = serializers.DateTimeField()


class CandidateSerializer(serializers.Serializer):
    category = serializers.IntegerField(source="category.pk", allow_null=True)
    category_name = serializers.CharField(source="category.__str__", allow_null=True)
    words = serializers.ListField(child=serializers.CharField())
    size = serializers.IntegerField()
    incidents = CandidateIncidentSerializer(many=True)


class CandidateQuerySerializer(StrictJSONTypes, serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=90, required=False, default=30)
    min_size = serializers.IntegerField(min_value=2, max_value=100, required=False, default=3)


@extend_schema_serializer(many=False)  # one object holding the list, not a list
class CandidatesSerializer(serializers.Serializer):
    results = CandidateSerializer(many=True)


@extend_schema(tags=["problems"])
class ProblemCandidateViewSet(viewsets.ViewSet):
    """Groups of similar recent incidents that no problem explains yet (agents)."""

    @extend_schema(
        parameters=[CandidateQuerySerializer],
        responses={
            200: CandidatesSerializer,
            400: OpenApiResponse(description="Bad value."),
            403: OpenApiResponse(description="Requesters: problems are agents' work."),
        },
    )
    def list(self, request) -> Response:
        if not is_agent(request.user):
            raise ApiError(403, "forbidden", "Only agents see problem candidates.")
        unknown = set(request.query_params) - {"days", "min_size"}
        if unknown:
            raise ApiError(
                400, "invalid", "Unknown query parameter.",
                {name[:100]: ["Unknown query parameter."] for name in sorted(unknown)[:20]},
            )  # fmt: skip
        query = CandidateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        groups = find_candidates(request.user, **query.validated_data)
        return Response({"results": CandidateSerializer(groups, many=True).data})


def register(router) -> None:
    router.register("problems", ProblemViewSet, basename="problem")
    router.register("problem-candidates", ProblemCandidateViewSet, basename="problem-candidate")
