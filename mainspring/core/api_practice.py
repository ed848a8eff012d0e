"""One API viewset for every practice: ``/api/v1/<practice>/`` from declarations.

A practice's ``api.py`` declares its serializers (read, create, update), the body of
each transition and its list's select/prefetch, and subclasses ``PracticeViewSet``:

    class ProblemViewSet(PracticeViewSet):
        kind = "problem"
        serializer_class = ProblemSerializer
        create_serializer = ProblemCreateSerializer
        update_serializer = ProblemUpdateSerializer
        transition_bodies = {"assess": EmptySerializer, "resolve": ProblemResolveSerializer}
        transition_summaries = {"assess": "New → Assess", ...}

Create, read, PATCH (If-Match), one POST action per transition (409 naming the allowed
ones when the state machine refuses, checked before the body), ``assign``, the ticket
parts (journal, attachments, audit, watchers, links), keyset pages and
``Idempotency-Key`` come from here. The practice's services module (``core.registry``)
does the work: ``create(by=, channel=, **fields)``, ``update(ticket, by=, channel=,
expected_version=, **fields)``, ``transition(ticket, name, by=, channel=,
expected_version=, **params)`` and ``assign(ticket, by=, channel=, expected_version=,
assignment_group=, assignee=)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from mainspring.identity.models import AssignmentGroup, User
from mainspring.identity.policy import Action, require, visible_tickets, writable_fields

from . import registry
from .api import (
    ApiError,
    IdempotentCreateMixin,
    KeysetPagination,
    StrictQueryParamsMixin,
    etag_for,
    parse_if_match,
    reject_unknown,
    require_object,
)
from .api_tickets import TicketResourcesMixin
from .json_types import StrictJSONTypes
from .models import Channel, Level
from .schema import IF_MATCH

__all__ = [
    "TICKET_ORDERING",
    "AssignSerializer",
    "EmptySerializer",
    "PracticeViewSet",
    "ReasonSerializer",
]


class TicketSerializer(serializers.ModelSerializer):
    """How the fields every ticket has read: people by username, groups by id.

    A practice's read serializer subclasses it, declares its ``state`` choices and its
    own fields, and lists the fields in ``Meta.fields`` (their order is the schema's).
    """

    impact = serializers.ChoiceField(choices=Level.choices, read_only=True)
    urgency = serializers.ChoiceField(choices=Level.choices, read_only=True)
    priority = serializers.IntegerField(read_only=True, min_value=1, max_value=5)
    channel = serializers.ChoiceField(choices=Channel.choices, read_only=True)
    requester = serializers.SlugRelatedField(slug_field="username", read_only=True)
    opened_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    assignment_group = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    web_url = serializers.URLField(read_only=True)

    # What every ticket's answer starts with; a practice's Meta.fields = [*HEAD, ...].
    HEAD = ("number", "title", "description", "state", "impact", "urgency", "priority")


class TicketWriteSerializer(StrictJSONTypes, serializers.Serializer):
    """What may be sent for the fields every ticket has; which of them a role may set is
    the policy's call (``core.ticket_fields``). A practice adds its own fields."""

    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=65_536, required=False, allow_blank=True)
    impact = serializers.ChoiceField(choices=Level.choices, required=False)
    urgency = serializers.ChoiceField(choices=Level.choices, required=False)
    assignment_group = serializers.PrimaryKeyRelatedField(
        queryset=AssignmentGroup.objects.all(), required=False, allow_null=True
    )
    assignee = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, allow_null=True
    )


class AssignSerializer(StrictJSONTypes, serializers.Serializer):
    assignment_group = serializers.PrimaryKeyRelatedField(
        queryset=AssignmentGroup.objects.all(), required=False
    )
    assignee = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False
    )


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
TICKET_ORDERING: dict[str, tuple[str, ...]] = {
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


def _errors(label: str) -> dict[int, OpenApiResponse]:
    return {
        400: OpenApiResponse(description="Invalid input: error.fields names each problem."),
        403: OpenApiResponse(description=f"You see the {label} but may not do this."),
        404: OpenApiResponse(description=f"No such {label}, or not yours to see."),
    }


_STALE = OpenApiResponse(description="If-Match is stale.")
_REFUSED = OpenApiResponse(description="Not allowed from this state; error.allowed lists what is.")
_ACTION = {"detail": True, "methods": ["post"], "filter_backends": [], "pagination_class": None}


class PracticeViewSet(
    IdempotentCreateMixin,
    StrictQueryParamsMixin,
    TicketResourcesMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Tickets of one practice, addressed by number. Transitions are POST actions."""

    kind: ClassVar[str] = ""
    create_serializer: ClassVar[type[serializers.Serializer]]
    update_serializer: ClassVar[type[serializers.Serializer]]
    transition_bodies: ClassVar[dict[str, type[serializers.Serializer]]] = {}
    transition_summaries: ClassVar[dict[str, str]] = {}
    select_related: ClassVar[tuple[str, ...]] = (
        "requester",
        "opened_by",
        "assignee",
        "assignment_group",
    )
    # Prefetched, not joined: a ten-table join costs PostgreSQL ~25 ms of planning per
    # request (bench/), far more than small prefetches that are skipped entirely when
    # no row on the page has the field set.
    prefetch_related: ClassVar[tuple[str, ...]] = ()
    create_description: ClassVar[str] = ""
    assign_description: ClassVar[str] = ""

    pagination_class = KeysetPagination
    lookup_field = "number"
    lookup_value_regex = "[A-Za-z0-9]{1,20}"
    ordering_choices = TICKET_ORDERING
    default_ordering = ("-id",)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if cls.kind:
            cls._declare()
        # After _declare: IdempotentCreateMixin wraps the create declared above.
        super().__init_subclass__(**kwargs)

    @classmethod
    def _declare(cls) -> None:
        """The schema-annotated create/retrieve/update/assign and one action per
        transition, built for this practice's serializers and labels."""
        label = cls.kind.replace("_", " ")
        errors = _errors(label)
        read = cls.serializer_class

        def create(self, request, *args, **kwargs):
            return self._create(request)

        cls.create = extend_schema(
            request=cls.create_serializer,
            responses={201: read, 400: errors[400]},
            description=cls.create_description,
        )(create)

        def retrieve(self, request, *args, **kwargs):
            return self._respond(self.get_object())

        cls.retrieve = extend_schema(responses={200: read, 404: errors[404]})(retrieve)

        def partial_update(self, request, *args, **kwargs):
            return self._update(request)

        cls.partial_update = extend_schema(
            request=cls.update_serializer,
            responses={200: read, **errors, 412: _STALE},
            parameters=[IF_MATCH],
        )(partial_update)

        for name, body in cls.transition_bodies.items():
            setattr(cls, name, cls._transition_action(name, body, read, errors))

        def assign(self, request, *args, **kwargs):
            return self._assign(request)

        assign.__name__ = "assign"
        cls.assign = extend_schema(
            summary="Set the group and/or assignee",
            request=AssignSerializer,
            parameters=[IF_MATCH],
            responses={200: read, **errors, 412: _STALE},
            description=cls.assign_description,
        )(action(**_ACTION)(assign))

    @classmethod
    def _transition_action(cls, name: str, body, read, errors):
        def run(self, request, *args, **kwargs):
            return self._transition(request, name)

        run.__name__ = name
        run.__qualname__ = f"{cls.__name__}.{name}"
        decorated = action(**_ACTION, url_path=name.replace("_", "-"))(run)
        return extend_schema(
            summary=cls.transition_summaries.get(name, name.replace("_", " ").capitalize()),
            request=None if body is EmptySerializer else body,
            parameters=[IF_MATCH],
            responses={200: read, **errors, 409: _REFUSED, 412: _STALE},
        )(decorated)

    # -- the practice ------------------------------------------------------------------
    @property
    def practice(self) -> registry.Practice:
        practice = registry.by_kind(self.kind)
        if practice is None:  # pragma: no cover - a viewset without its app
            raise LookupError(f"No practice {self.kind!r} is registered.")
        return practice

    @property
    def services(self) -> Any:
        return self.practice.service

    def get_queryset(self) -> QuerySet:
        qs = (
            self.practice.model.objects.filter(kind=self.kind)
            .select_related(*self.select_related)
            .prefetch_related(*self.prefetch_related)
        )
        if self.request.query_params.get("ordering") == "sla_breach_at":
            # The keyset cursor needs a value in every row, and "breaches soonest" is
            # a list of deadlines: tickets without a running clock are not in it.
            qs = qs.filter(sla_breach_at__isnull=False)
        return visible_tickets(self.request.user, qs)

    def get_object(self):
        number = str(self.kwargs[self.lookup_field]).upper()
        ticket = self.get_queryset().filter(number=number).first()
        if ticket is None:
            raise ApiError(404, "not_found", "Not found.")
        return ticket

    def _respond(self, ticket, code: int = status.HTTP_200_OK) -> Response:
        data = self.serializer_class(ticket, context=self.get_serializer_context()).data
        response = Response(data, status=code)
        response["ETag"] = etag_for(ticket.version)
        return response

    def _write_data(self, request, serializer_class, *, creating: bool) -> dict[str, Any]:
        data = require_object(request.data)
        if not creating:
            data = {k: v for k, v in data.items() if k != "version"}
        known = frozenset(serializer_class._declared_fields)
        reject_unknown(data, known, read_only=frozenset(self.serializer_class.Meta.fields))
        serializer = serializer_class(data=data, partial=not creating)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def create_params(self, data: dict[str, Any]) -> dict[str, Any]:
        """The create service's keyword arguments from the valid body (a hook)."""
        return data

    def _create(self, request) -> Response:
        data = self.create_params(self._write_data(request, self.create_serializer, creating=True))
        # The service takes the intake channel as ``channel`` (an agent logging a phone
        # call says so); by default an API create came through the API.
        channel = data.pop("channel", Channel.API)
        if channel != Channel.API and "channel" not in writable_fields(request.user, creating=True):
            raise ApiError(
                400, "invalid", "Invalid input.", {"channel": ["You may not set this field."]}
            )
        # The instance the service saved already holds every related object it was given,
        # so it is serialised as it is rather than read back.
        ticket = self.services.create(by=request.user, channel=channel, **data)
        response = self._respond(ticket, status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(f"{ticket.number}/")
        return response

    def _update(self, request) -> Response:
        ticket = self.get_object()
        expected = parse_if_match(request)
        data = self._write_data(request, self.update_serializer, creating=False)
        self.services.update(
            ticket, by=request.user, channel=Channel.API, expected_version=expected, **data
        )
        return self._respond(ticket)

    def transition_params(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """The service's keyword arguments for transition ``name`` from its valid body."""
        return data

    def _transition(self, request, name: str) -> Response:
        ticket = self.get_object()
        expected = parse_if_match(request)
        body = require_object(request.data)
        body = {k: v for k, v in body.items() if k != "version"}
        serializer_class = self.transition_bodies[name]
        reject_unknown(body, set(serializer_class().fields))
        # The state machine answers first, so an illegal transition is a 409 naming the
        # allowed ones even when its body would also be incomplete.
        self.practice.machine.check(ticket.state, name)
        serializer = serializer_class(data=body)
        serializer.is_valid(raise_exception=True)
        params = self.transition_params(name, dict(serializer.validated_data))
        self.services.transition(
            ticket, name, by=request.user, channel=Channel.API, expected_version=expected, **params
        )
        return self._respond(ticket)

    def _assign(self, request) -> Response:
        ticket = self.get_object()
        expected = parse_if_match(request)
        body = {k: v for k, v in require_object(request.data).items() if k != "version"}
        reject_unknown(body, set(AssignSerializer().fields))
        require(request.user, Action.ASSIGN, ticket)
        serializer = AssignSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        self.services.assign(
            ticket,
            by=request.user,
            channel=Channel.API,
            expected_version=expected,
            **serializer.validated_data,
        )
        return self._respond(ticket)
