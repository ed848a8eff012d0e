"""Background tasks over the API (administrators): the dead-letter list and re-runs.

``GET /api/v1/tasks/?status=dead`` lists the tasks that gave up, newest first, with
their attempts and last error; ``GET /api/v1/tasks/<id>/`` adds the traceback;
``POST /api/v1/tasks/<id>/retry/`` runs a dead task again with a fresh set of attempts
(``core.taskqueue.run_again``). Anyone else gets 403: task arguments may name people
and tickets.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from mainspring.identity.policy import Action, can

from . import taskqueue
from .api import ApiError, KeysetPagination, StrictQueryParamsMixin, reject_unknown, require_object
from .models import BackgroundTask, TaskStatus

__all__ = ["BackgroundTaskViewSet", "register"]


class BackgroundTaskSerializer(serializers.ModelSerializer):
    task = serializers.CharField(source="task_path", help_text="The task's dotted path.")
    name = serializers.CharField(source="task_name", help_text="The task's function name.")
    args = serializers.JSONField()
    kwargs = serializers.JSONField()
    return_value = serializers.JSONField(allow_null=True)

    class Meta:
        model = BackgroundTask
        fields = [
            "id",
            "task",
            "name",
            "status",
            "args",
            "kwargs",
            "attempts",
            "enqueued_at",
            "run_after",
            "started_at",
            "finished_at",
            "worker_id",
            "lease_expires_at",
            "last_error",
            "return_value",
        ]
        read_only_fields = fields


class BackgroundTaskDetailSerializer(BackgroundTaskSerializer):
    class Meta(BackgroundTaskSerializer.Meta):
        fields = [*BackgroundTaskSerializer.Meta.fields, "worker_ids", "traceback"]
        read_only_fields = fields


class TaskFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=TaskStatus.choices, help_text="`dead`: the dead letters.")
    task = filters.ChoiceFilter(
        field_name="task_path",
        choices=lambda: [(path, path) for path in taskqueue.known_tasks()],
        help_text="A task's dotted path, e.g. mainspring.notifications.tasks.send_delivery.",
    )

    class Meta:
        model = BackgroundTask
        fields: list[str] = []


class AdminsOnly(permissions.BasePermission):
    message = "Only administrators may see background tasks."

    def has_permission(self, request, view) -> bool:
        return can(request.user, Action.CONFIGURE)


_ADMINS_ONLY = {403: OpenApiResponse(description="Not an administrator.")}


@extend_schema(tags=["tasks"])
@extend_schema_view(
    list=extend_schema(
        summary="Background tasks, newest first (admins); ?status=dead is the dead-letter list",
        responses={200: BackgroundTaskSerializer(many=True), **_ADMINS_ONLY},
    ),
    retrieve=extend_schema(
        summary="One background task, with its traceback (admins)",
        responses={200: BackgroundTaskDetailSerializer, **_ADMINS_ONLY},
    ),
)
class BackgroundTaskViewSet(
    StrictQueryParamsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Background tasks (admins): status, attempts, last error; dead ones can run again."""

    permission_classes = [permissions.IsAuthenticated, AdminsOnly]
    pagination_class = KeysetPagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = TaskFilter

    def get_queryset(self) -> QuerySet[BackgroundTask]:
        return BackgroundTask.objects.all()

    def get_serializer_class(self):
        if self.action == "list":
            return BackgroundTaskSerializer
        return BackgroundTaskDetailSerializer

    @extend_schema(
        summary="Run a dead task again with a fresh set of attempts (admins)",
        description="The task goes back to `ready` with 0 attempts and runs as soon as a "
        "worker is free. Tasks are idempotent, so running one again is harmless.",
        request=None,
        responses={
            200: BackgroundTaskDetailSerializer,
            403: OpenApiResponse(description="Not an administrator."),
            404: OpenApiResponse(description="No such task."),
            409: OpenApiResponse(description="The task is not dead; error.status says what it is."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def retry(self, request, *args, **kwargs) -> Response:
        reject_unknown(require_object(request.data), set())
        task = self.get_object()
        if not taskqueue.run_again(BackgroundTask.objects.filter(pk=task.pk), by=request.user):
            task.refresh_from_db()
            raise ApiError(
                409,
                "conflict",
                "Only a dead task can be run again.",
                extra={"status": task.status},
            )
        task.refresh_from_db()
        return Response(BackgroundTaskDetailSerializer(task).data)


def register(router) -> None:
    router.register("tasks", BackgroundTaskViewSet, basename="task")
