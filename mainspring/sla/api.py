"""SLA over the API: calendars, definitions, and each ticket's timers.

Agents read calendars and SLAs; only admins (``Action.CONFIGURE``) change them, through
``sla.services``. A ticket's timers are visible to whoever may see the ticket (another
requester's ticket is a 404).

Admins may also apply an edited SLA or calendar to the timers already running:
``POST /slas/<id>/recompute/`` (or ``/calendars/<id>/recompute/``) queues an
``SlaRecompute`` job (202) whose progress ``/sla-recomputes/<id>/`` shows.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from mainspring.core.api import (
    ApiError,
    KeysetPagination,
    StrictQueryParamsMixin,
    reject_unknown,
    require_object,
)
from mainspring.core.api_config import ConfigViewSet
from mainspring.core.models import Ticket
from mainspring.identity.policy import Action, can, visible_tickets

from . import services
from .models import BusinessCalendar, CalendarDay, SlaDefinition, SlaRecompute, SlaTimer
from .recompute import RecomputePending, request_recompute

__all__ = ["register", "ticket_timers_view"]


class CalendarDaySerializer(serializers.ModelSerializer):
    class Meta:
        model = CalendarDay
        fields = ["date", "name", "closed", "hours"]


class CalendarSerializer(serializers.ModelSerializer):
    days = CalendarDaySerializer(many=True, read_only=True)

    class Meta:
        model = BusinessCalendar
        fields = [
            "id",
            "name",
            "time_zone",
            "hours",
            "holiday_country",
            "holiday_subdivision",
            "days",
            "updated_at",
        ]
        read_only_fields = ["id", "days", "updated_at"]


class SlaDefinitionSerializer(serializers.ModelSerializer):
    calendar = serializers.PrimaryKeyRelatedField(queryset=BusinessCalendar.objects.all())

    class Meta:
        model = SlaDefinition
        fields = [
            "id",
            "name",
            "active",
            "target",
            "duration_seconds",
            "calendar",
            "kinds",
            "priorities",
            "category_ids",
            "requester_group_ids",
            "assignment_group_ids",
            "pause_states",
            "reopen",
            "thresholds",
            "updated_at",
        ]
        read_only_fields = ["id", "updated_at"]


class SlaRecomputeSerializer(serializers.ModelSerializer):
    definition = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    calendar = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    target_name = serializers.SerializerMethodField()
    requested_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Username of the admin who asked (null once that user is deleted).",
    )
    percent = serializers.SerializerMethodField(help_text="done / total, 0 to 100.")

    class Meta:
        model = SlaRecompute
        fields = [
            "id",
            "definition",
            "calendar",
            "target_name",
            "state",
            "total",
            "done",
            "percent",
            "requested_by",
            "created_at",
            "finished_at",
            "error",
        ]
        read_only_fields = fields

    def get_percent(self, obj: SlaRecompute) -> int:
        return obj.percent

    def get_target_name(self, obj: SlaRecompute) -> str:
        return str(obj.definition if obj.definition_id is not None else obj.calendar)


class _ConfigViewSet(ConfigViewSet):
    save = staticmethod(services.save_calendar)

    # ``request_recompute``'s keyword for this viewset's objects.
    recompute_target = ""

    @extend_schema(
        summary="Apply the current settings to the running timers (admins)",
        description="Queues a background job: each running timer keeps the business time "
        "it has used so far and counts with the current settings from now on. Fired "
        "thresholds do not fire again; a breached timer stays breached. Follow the job at "
        "/sla-recomputes/<id>/.",
        request=None,
        responses={
            202: SlaRecomputeSerializer,
            403: OpenApiResponse(description="Not an administrator."),
            404: OpenApiResponse(description="No such SLA or calendar."),
            409: OpenApiResponse(
                description="A recompute of it is queued or running; error.job is its id."
            ),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def recompute(self, request, *args, **kwargs) -> Response:
        reject_unknown(require_object(request.data), set())
        obj = self.get_object()
        try:
            job = request_recompute(by=request.user, **{self.recompute_target: obj})
        except RecomputePending as exc:
            raise ApiError(409, "conflict", str(exc), extra={"job": exc.job.pk}) from exc
        job = SlaRecompute.objects.select_related("definition", "calendar", "requested_by").get(
            pk=job.pk
        )
        return Response(SlaRecomputeSerializer(job).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["sla"])
class CalendarViewSet(_ConfigViewSet):
    """Business calendars: hours per weekday (0 = Monday), time zone, holidays."""

    serializer_class = CalendarSerializer
    save = staticmethod(services.save_calendar)
    recompute_target = "calendar"

    def get_queryset(self) -> QuerySet:
        return BusinessCalendar.objects.prefetch_related("days").order_by("id")


@extend_schema(tags=["sla"])
class SlaDefinitionViewSet(_ConfigViewSet):
    """SLA definitions: target, business-time duration, calendar, conditions, escalation."""

    serializer_class = SlaDefinitionSerializer
    save = staticmethod(services.save_definition)
    recompute_target = "definition"

    def get_queryset(self) -> QuerySet:
        return SlaDefinition.objects.order_by("id")


class AdminsOnly(permissions.BasePermission):
    message = "Only administrators may see SLA recomputes."

    def has_permission(self, request, view) -> bool:
        return can(request.user, Action.CONFIGURE)


_ADMINS_ONLY = {403: OpenApiResponse(description="Not an administrator.")}


@extend_schema(tags=["sla"])
@extend_schema_view(
    list=extend_schema(
        summary="SLA recompute jobs, newest first (admins)",
        responses={200: SlaRecomputeSerializer(many=True), **_ADMINS_ONLY},
    ),
    retrieve=extend_schema(
        summary="One SLA recompute job and its progress (admins)",
        responses={200: SlaRecomputeSerializer, **_ADMINS_ONLY},
    ),
)
class SlaRecomputeViewSet(
    StrictQueryParamsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Recompute jobs (admins), newest first: state and progress (done of total, percent)."""

    serializer_class = SlaRecomputeSerializer
    permission_classes = [permissions.IsAuthenticated, AdminsOnly]
    pagination_class = KeysetPagination
    filter_backends: list = []

    def get_queryset(self) -> QuerySet:
        return SlaRecompute.objects.select_related("definition", "calendar", "requested_by")


class TimerSerializer(serializers.Serializer):
    sla = serializers.CharField(source="name")
    target = serializers.CharField()
    state = serializers.CharField()
    started_at = serializers.DateTimeField()
    breach_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.IntegerField()
    elapsed_seconds = serializers.SerializerMethodField()
    remaining_seconds = serializers.SerializerMethodField()

    def get_elapsed_seconds(self, obj: SlaTimer) -> int:
        return services.elapsed_seconds(obj, self.context.get("now"))

    def get_remaining_seconds(self, obj: SlaTimer) -> int:
        return services.remaining_seconds(obj, self.context.get("now"))


def ticket_timers_view(kind: str):
    """The ``/<practice>/<number>/slas/`` view for tickets of ``kind``."""

    @extend_schema(tags=["sla"], responses=TimerSerializer(many=True))
    class TicketTimersView(APIView):
        """The ticket's SLA timers, oldest first, with business time elapsed and left."""

        def get(self, request, number: str) -> Response:
            reject_unknown(dict(request.query_params), set())
            ticket = (
                visible_tickets(request.user, Ticket.objects.filter(kind=kind))
                .filter(number=number.upper())
                .only("pk")
                .first()
            )
            if ticket is None:
                raise Http404
            timers = SlaTimer.objects.filter(ticket_id=ticket.pk).order_by("started_at", "id")
            from django.utils import timezone

            data = TimerSerializer(timers, many=True, context={"now": timezone.now()}).data
            return Response(data)

    TicketTimersView.__name__ = f"{kind.title()}SlaTimersView"
    return TicketTimersView


def register(router) -> None:
    router.register("calendars", CalendarViewSet, basename="calendar")
    router.register("slas", SlaDefinitionViewSet, basename="sla")
    router.register("sla-recomputes", SlaRecomputeViewSet, basename="sla-recompute")
