"""``/api/v1/incidents/``: serializers and the viewset, thin over ``incidents.services``.

parse -> scope (``visible_tickets``; another's ticket is a 404) -> service (which checks
the policy, validates and audits) -> response with an ``ETag``. The shared ticket parts
(journal, attachments, audit, watchers, links) come from ``core.api``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers

from mainspring.core.api import FieldsBuiltOnce
from mainspring.core.api_config import ConfigViewSet, EveryoneReadsAdminsWrite
from mainspring.core.api_practice import (
    EmptySerializer,
    PracticeViewSet,
    ReasonSerializer,
    TicketSerializer,
    TicketWriteSerializer,
)
from mainspring.core.json_types import StrictJSONTypes
from mainspring.core.models import Channel
from mainspring.identity.models import User
from mainspring.identity.policy import (
    Action,
    can,
    is_agent,
)

from . import services
from .filters import IncidentFilter
from .models import KIND, Category, HoldReason, Incident, IncidentState, ResolutionCode

__all__ = ["IncidentViewSet", "register"]

# What a requester is not shown: internal bookkeeping of the service desk.
AGENT_ONLY_FIELDS = frozenset({"reassignment_count", "sla_breach_at", "problem"})


class IncidentSerializer(FieldsBuiltOnce, TicketSerializer):
    """How an incident reads. Related users by username, groups/categories by id.

    Requesters get the same shape less the agent-only fields, which the schema
    therefore lists as optional (one type for every client rather than a oneOf two
    near-identical ones), and ``parent`` only when they may see the parent.
    """

    # Read by core.schema: not "required" in the answer, since requesters never get them.
    optional_fields = AGENT_ONLY_FIELDS

    state = serializers.ChoiceField(choices=IncidentState.choices, read_only=True)
    hold_reason = serializers.CharField(read_only=True, help_text="'' unless on hold.")
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
    problem = serializers.SlugRelatedField(
        source="caused_by",
        slug_field="number",
        read_only=True,
        allow_null=True,
        required=False,
        help_text="Agents only: the number of the problem that causes it; null if none.",
    )
    reassignment_count = serializers.IntegerField(
        read_only=True, required=False, help_text="Agents only; absent for requesters."
    )
    sla_breach_at = serializers.DateTimeField(
        read_only=True,
        required=False,
        allow_null=True,
        help_text="Agents only: the soonest deadline of a running SLA clock; null if none runs.",
    )

    class Meta:
        model = Incident
        fields = [
            *TicketSerializer.HEAD,
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
            "problem",
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


class IncidentWriteSerializer(FieldsBuiltOnce, TicketWriteSerializer):
    """What may be sent on create/update; which of these a role may set is policy's call."""

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


class HoldSerializer(StrictJSONTypes, serializers.Serializer):
    hold_reason = serializers.ChoiceField(choices=HoldReason.choices)


class ResolveSerializer(StrictJSONTypes, serializers.Serializer):
    resolution_code = serializers.SlugRelatedField(
        slug_field="code",
        queryset=ResolutionCode.objects.filter(active=True),
        help_text="See /api/v1/resolution-codes/.",
    )
    resolution_notes = serializers.CharField(max_length=65_536)


@extend_schema(tags=["incidents"])
class IncidentViewSet(PracticeViewSet):
    """Incidents, addressed by number. Transitions are POST actions."""

    kind = KIND
    serializer_class = IncidentSerializer
    create_serializer = IncidentCreateSerializer
    update_serializer = IncidentUpdateSerializer
    filterset_class = IncidentFilter
    prefetch_related = ("category", "subcategory", "resolution_code", "parent", "caused_by")
    transition_bodies = {
        "start": EmptySerializer,
        "hold": HoldSerializer,
        "resume": EmptySerializer,
        "resolve": ResolveSerializer,
        "reopen": ReasonSerializer,
        "close": EmptySerializer,
        "cancel": ReasonSerializer,
    }
    transition_summaries = {
        "start": "New → In progress (takes it if unassigned)",
        "hold": "Put on hold with a reason",
        "resume": "On hold → In progress",
        "resolve": "Resolve with a code and notes (children too)",
        "reopen": "Resolved → In progress (caller or agent)",
        "close": "Confirm a resolution (caller or agent)",
        "cancel": "Cancel an open incident",
    }
    create_description = (
        "Requesters may send title, description, category and "
        "subcategory only; anything else they send is a 400."
    )
    assign_description = (
        "Moving an incident off a colleague needs a manager of its group or "
        "an admin (403 otherwise)."
    )

    def transition_params(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        if name == "resolve":
            return {"code": data["resolution_code"], "notes": data["resolution_notes"]}
        return data


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
