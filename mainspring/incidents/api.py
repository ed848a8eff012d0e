"""``/api/v1/incidents/``: serializers and the viewset, thin over ``incidents.services``.

parse -> scope (``visible_tickets``; another's ticket is a 404) -> service (which checks
the policy, validates and audits) -> response with an ``ETag``. The shared ticket parts
(journal, attachments, audit, watchers, links) come from ``core.api``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from mainspring.core.api import (
    ApiError,
    FieldsBuiltOnce,
    IdempotentCreateMixin,
    KeysetPagination,
    StrictQueryParamsMixin,
    etag_for,
    parse_if_match,
    reject_unknown,
    require_object,
)
from mainspring.core.api_config import ConfigViewSet, EveryoneReadsAdminsWrite
from mainspring.core.api_tickets import TicketResourcesMixin
from mainspring.core.json_types import StrictJSONTypes
from mainspring.core.models import Channel, Level
from mainspring.core.schema import IF_MATCH
from mainspring.identity.models import AssignmentGroup, User
from mainspring.identity.policy import (
    Action,
    can,
    is_agent,
    require,
    visible_tickets,
    writable_fields,
)

from . import services
from .filters import IncidentFilter
from .models import KIND, Category, HoldReason, Incident, IncidentState, ResolutionCode
from .states import INCIDENT_MACHINE

__all__ = ["IncidentViewSet", "register"]

# What a requester is not shown: internal bookkeeping of the service desk.
AGENT_ONLY_FIELDS = frozenset({"reassignment_count", "sla_breach_at"})

ERRORS = {
    400: OpenApiResponse(description="Invalid input: error.fields names each problem."),
    403: OpenApiResponse(description="You see the incident but may not do this."),
    404: OpenApiResponse(description="No such incident, or not yours to see."),
}


class IncidentSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """How an incident reads. Related users by username, groups/categories by id.

    Requesters get the same shape less the agent-only fields, which the schema
    therefore lists as optional (one type for every client rather than a oneOf two
    near-identical ones), and ``parent`` only when they may see the parent.
    """

    # Read by core.schema: not "required" in the answer, since requesters never get them.
    optional_fields = AGENT_ONLY_FIELDS

    state = serializers.ChoiceField(choices=IncidentState.choices, read_only=True)
    impact = serializers.ChoiceField(choices=Level.choices, read_only=True)
    urgency = serializers.ChoiceField(choices=Level.choices, read_only=True)
    priority = serializers.IntegerField(read_only=True, min_value=1, max_value=5)
    channel = serializers.ChoiceField(choices=Channel.choices, read_only=True)
    hold_reason = serializers.CharField(read_only=True, help_text="'' unless on hold.")
    requester = serializers.SlugRelatedField(slug_field="username", read_only=True)
    opened_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    assignment_group = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    category = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    subcategory = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    resolution_code = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    parent = serializers.SlugRelatedField(
        slug_field="number",
        read_only=True,
        allow_null=True,
        help_text="The parent incident's number; null for a requester who may not see it.",
    )
    reassignment_count = serializers.IntegerField(
        read_only=True, required=False, help_text="Agents only; absent for requesters."
    )
    web_url = serializers.URLField(read_only=True)
    sla_breach_at = serializers.DateTimeField(
        read_only=True,
        required=False,
        allow_null=True,
        help_text="Agents only: the soonest deadline of a running SLA clock; null if none runs.",
    )

    class Meta:
        model = Incident
        fields = [
            "number",
            "title",
            "description",
            "state",
            "impact",
            "urgency",
            "priority",
            "category",
            "subcategory",
            "requester",
            "assignment_group",
            "assignee",
            "channel",
            "major_incident",
            "hold_reason",
            "resolution_code",
            "resolution_notes",
            "reassignment_count",
            "parent",
            "version",
            "web_url",
            "created_at",
            "updated_at",
            "responded_at",
            "resolved_at",
            "closed_at",
            "opened_by",
            "sla_breach_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Incident) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and not is_agent(request.user):
            for name in AGENT_ONLY_FIELDS:
                data.pop(name, None)
            # Another's ticket is a 404 everywhere else; its number must not leak here.
            if instance.parent_id is not None and not can(
                request.user, Action.VIEW, instance.parent
            ):
                data["parent"] = None
        return data


class IncidentWriteSerializer(StrictJSONTypes, FieldsBuiltOnce, serializers.Serializer):
    """What may be sent on create/update; which of these a role may set is policy's call."""

    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=65_536, required=False, allow_blank=True)
    impact = serializers.ChoiceField(choices=Level.choices, required=False)
    urgency = serializers.ChoiceField(choices=Level.choices, required=False)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    subcategory = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    requester = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.all(),
        required=False,
        help_text="Agents only: log on someone's behalf.",
    )
    assignment_group = serializers.PrimaryKeyRelatedField(
        queryset=AssignmentGroup.objects.all(), required=False, allow_null=True
    )
    assignee = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, allow_null=True
    )
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    major_incident = serializers.BooleanField(required=False)
    parent = serializers.SlugRelatedField(
        slug_field="number", queryset=Incident.objects.all(), required=False, allow_null=True
    )


class IncidentCreateSerializer(IncidentWriteSerializer):
    title = serializers.CharField(max_length=200)


class IncidentUpdateSerializer(IncidentWriteSerializer):
    """What a PATCH may change: the intake channel is fixed once the incident exists."""

    channel = None


# Names only, computed once: building a serializer's fields costs more than the check.
WRITABLE_FIELDS = frozenset(IncidentWriteSerializer._declared_fields)
UPDATABLE_FIELDS = frozenset(IncidentUpdateSerializer._declared_fields)
READABLE_FIELDS = frozenset(IncidentSerializer.Meta.fields)


class AssignSerializer(StrictJSONTypes, serializers.Serializer):
    assignment_group = serializers.PrimaryKeyRelatedField(
        queryset=AssignmentGroup.objects.all(), required=False
    )
    assignee = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False
    )


class HoldSerializer(StrictJSONTypes, serializers.Serializer):
    hold_reason = serializers.ChoiceField(choices=HoldReason.choices)


class ResolveSerializer(StrictJSONTypes, serializers.Serializer):
    resolution_code = serializers.SlugRelatedField(
        slug_field="code",
        queryset=ResolutionCode.objects.filter(active=True),
        help_text="See /api/v1/resolution-codes/.",
    )
    resolution_notes = serializers.CharField(max_length=65_536)


class ReasonSerializer(StrictJSONTypes, serializers.Serializer):
    reason = serializers.CharField(
        max_length=65_536,
        required=False,
        allow_blank=True,
        help_text="Optional; added to the journal.",
    )


class EmptySerializer(serializers.Serializer):
    pass


# Each sort is (visible field, ..., id) so the keyset is unique, and each matches an
# index on core_ticket (ticket_priority_idx etc.; a backward scan serves the reverse).
ORDERING_CHOICES: dict[str, tuple[str, ...]] = {
    "number": ("id",),
    "-number": ("-id",),
    "priority": ("priority", "-id"),
    "-priority": ("-priority", "id"),
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
    "updated_at": ("updated_at", "id"),
    "-updated_at": ("-updated_at", "-id"),
    # Breaches soonest; lists only tickets with a running SLA clock (see get_queryset).
    "sla_breach_at": ("sla_breach_at", "-id"),
}

TRANSITION_BODIES = {
    "start": EmptySerializer,
    "resume": EmptySerializer,
    "close": EmptySerializer,
    "hold": HoldSerializer,
    "resolve": ResolveSerializer,
    "reopen": ReasonSerializer,
    "cancel": ReasonSerializer,
}


class _IncidentBase(
    StrictQueryParamsMixin,
    TicketResourcesMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter
    pagination_class = KeysetPagination
    lookup_field = "number"
    lookup_value_regex = "[A-Za-z0-9]{1,20}"
    ordering_choices = ORDERING_CHOICES
    default_ordering = ("-id",)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet:
        # Join only the people and the group; a 10-table join costs PostgreSQL ~25 ms of
        # planning per request (bench/), far more than four small prefetches that are
        # skipped entirely when no row on the page has the field set.
        qs = (
            Incident.objects.filter(kind=KIND)
            .select_related("requester", "opened_by", "assignee", "assignment_group")
            .prefetch_related("category", "subcategory", "resolution_code", "parent")
        )
        if self.request.query_params.get("ordering") == "sla_breach_at":
            # The keyset cursor needs a value in every row, and "breaches soonest" is
            # a list of deadlines: tickets without a running clock are not in it.
            qs = qs.filter(sla_breach_at__isnull=False)
        return visible_tickets(self.request.user, qs)

    def get_object(self) -> Incident:
        number = str(self.kwargs[self.lookup_field]).upper()
        incident = self.get_queryset().filter(number=number).first()
        if incident is None:
            raise ApiError(404, "not_found", "Not found.")
        return incident

    def _respond(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        data = IncidentSerializer(incident, context=self.get_serializer_context()).data
        response = Response(data, status=code)
        response["ETag"] = etag_for(incident.version)
        return response

    def _write_data(self, request, serializer_class, *, creating: bool) -> dict[str, Any]:
        data = require_object(request.data)
        if not creating:
            data = {k: v for k, v in data.items() if k != "version"}
        known = WRITABLE_FIELDS if creating else UPDATABLE_FIELDS
        reject_unknown(data, known, read_only=READABLE_FIELDS)
        serializer = serializer_class(data=data, partial=not creating)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(
        request=IncidentCreateSerializer,
        responses={201: IncidentSerializer, 400: ERRORS[400]},
        description="Requesters may send title, description, category and "
        "subcategory only; anything else they send is a 400.",
    )
    def create(self, request, *args, **kwargs) -> Response:
        data = self._write_data(request, IncidentCreateSerializer, creating=True)
        # The service takes the intake channel as ``channel`` (an agent logging a phone
        # call says so); by default an API create came through the API.
        channel = data.pop("channel", Channel.API)
        if channel != Channel.API and "channel" not in writable_fields(request.user, creating=True):
            raise ApiError(
                400, "invalid", "Invalid input.", {"channel": ["You may not set this field."]}
            )
        # The instance the service saved already holds every related object it was given,
        # so it is serialised as it is rather than read back.
        incident = services.create_incident(by=request.user, channel=channel, **data)
        response = self._respond(incident, status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(f"{incident.number}/")
        return response


@extend_schema(tags=["incidents"])
class IncidentViewSet(IdempotentCreateMixin, _IncidentBase):
    """Incidents, addressed by number. Transitions are POST actions."""

    @extend_schema(responses={200: IncidentSerializer, 404: ERRORS[404]})
    def retrieve(self, request, *args, **kwargs) -> Response:
        return self._respond(self.get_object())

    @extend_schema(
        request=IncidentUpdateSerializer,
        responses={
            200: IncidentSerializer,
            **ERRORS,
            412: OpenApiResponse(description="If-Match is stale."),
        },
        parameters=[IF_MATCH],
    )
    def partial_update(self, request, *args, **kwargs) -> Response:
        incident = self.get_object()
        expected = parse_if_match(request)
        data = self._write_data(request, IncidentUpdateSerializer, creating=False)
        services.update_incident(
            incident, by=request.user, channel=Channel.API, expected_version=expected, **data
        )
        return self._respond(incident)

    def _transition(self, request, name: str) -> Response:
        incident = self.get_object()
        expected = parse_if_match(request)
        body = require_object(request.data)
        body = {k: v for k, v in body.items() if k != "version"}
        serializer_class = TRANSITION_BODIES[name]
        reject_unknown(body, set(serializer_class().fields))
        # The state machine answers first, so an illegal transition is a 409 naming the
        # allowed ones even when its body would also be incomplete.
        INCIDENT_MACHINE.check(incident.state, name)
        serializer = serializer_class(data=body)
        serializer.is_valid(raise_exception=True)
        params: dict[str, Any] = dict(serializer.validated_data)
        if name == "resolve":
            params = {"code": params["resolution_code"], "notes": params["resolution_notes"]}
        services.transition(
            incident,
            name,
            by=request.user,
            channel=Channel.API,
            expected_version=expected,
            **params,
        )
        return self._respond(incident)

    def _transition_schema(name: str, summary: str):
        body = TRANSITION_BODIES[name]
        return extend_schema(
            summary=summary,
            request=None if body is EmptySerializer else body,
            parameters=[IF_MATCH],
            responses={
                200: IncidentSerializer,
                **ERRORS,
                409: OpenApiResponse(
                    description="Not allowed from this state; error.allowed lists what is."
                ),
                412: OpenApiResponse(description="If-Match is stale."),
            },
        )

    @_transition_schema("start", "New → In progress (takes it if unassigned)")
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def start(self, request, *args, **kwargs) -> Response:
        return self._transition(request, "start")

    @_transition_schema("hold", "Put on hold with a reason")
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def hold(self, request, *args, **kwargs) -> Response:
        return self._transition(request, "hold")

    @_transition_schema("resume", "On hold → In progress")
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def resume(self, request, *args, **kwargs) -> Response:
        return self._transition(request, "resume")

    @_transition_schema("resolve", "Resolve with a code and notes (children too)")
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def resolve(self, request, *args, **kwargs) -> Response:
        return self._transition(request, "resolve")

    @_transition_schema("reopen", "Resolved → In progress (caller or agent)")
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def reopen(self, request, *args, **kwargs) -> Response:
        return self._transition(request, "reopen")

    @_transition_schema("close", "Confirm a resolution (caller or agent)")
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def close(self, request, *args, **kwargs) -> Response:
        return self._transition(request, "close")

    @_transition_schema("cancel", "Cancel an open incident")
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def cancel(self, request, *args, **kwargs) -> Response:
        return self._transition(request, "cancel")

    @extend_schema(
        summary="Set the group and/or assignee",
        request=AssignSerializer,
        parameters=[IF_MATCH],
        responses={
            200: IncidentSerializer,
            **ERRORS,
            412: OpenApiResponse(description="If-Match is stale."),
        },
        description="Moving an incident off a colleague needs a manager of its group or "
        "an admin (403 otherwise).",
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def assign(self, request, *args, **kwargs) -> Response:
        incident = self.get_object()
        expected = parse_if_match(request)
        body = {k: v for k, v in require_object(request.data).items() if k != "version"}
        reject_unknown(body, set(AssignSerializer().fields))
        require(request.user, Action.ASSIGN, incident)
        serializer = AssignSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        services.assign(
            incident,
            by=request.user,
            channel=Channel.API,
            expected_version=expected,
            **serializer.validated_data,
        )
        return self._respond(incident)

    del _transition_schema


class CategorySerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(source="__str__", read_only=True)
    name = serializers.CharField(max_length=100)
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(),
        required=False,
        allow_null=True,
        help_text="A top-level category's id for a subcategory; null for a category.",
    )
    active = serializers.BooleanField(required=False)

    class Meta:
        model = Category
        fields = ["id", "name", "parent", "active", "full_name"]
        read_only_fields = ["id", "full_name"]
        # Names are unique among siblings ignoring case: services.save_category checks
        # that with a message naming the field (DRF's own check would require parent).
        validators: list = []


@extend_schema(tags=["configuration"])
class CategoryViewSet(ConfigViewSet):
    """Categories (``parent`` null) and their subcategories, by id. Agents read them;
    administrators create and change them (deactivate rather than delete)."""

    serializer_class = CategorySerializer
    permission_classes = [permissions.IsAuthenticated, EveryoneReadsAdminsWrite]
    http_method_names = ["get", "post", "patch", "head", "options"]
    save = staticmethod(services.save_category)

    def get_queryset(self) -> QuerySet:
        return Category.objects.select_related("parent")


class ResolutionCodeSerializer(serializers.ModelSerializer):
    code = serializers.SlugField(
        max_length=50, help_text="Lower-case letters, digits, - and _; fixed once created."
    )
    label = serializers.CharField(max_length=100)
    active = serializers.BooleanField(required=False)

    class Meta:
        model = ResolutionCode
        fields = ["code", "label", "active"]


@extend_schema(tags=["configuration"])
class ResolutionCodeViewSet(ConfigViewSet):
    """Resolution codes, by ``code`` (``solved``, ``workaround``...). Agents read them;
    administrators create them and change their label or active flag."""

    serializer_class = ResolutionCodeSerializer
    permission_classes = [permissions.IsAuthenticated, EveryoneReadsAdminsWrite]
    lookup_field = "code"
    http_method_names = ["get", "post", "patch", "head", "options"]
    create_only = frozenset({"code"})
    save = staticmethod(services.save_resolution_code)
    queryset = ResolutionCode.objects.all()


def register(router) -> None:
    router.register("incidents", IncidentViewSet, basename="incident")
    router.register("categories", CategoryViewSet, basename="category")
    router.register("resolution-codes", ResolutionCodeViewSet, basename="resolution-code")
