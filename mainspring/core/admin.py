"""Admin screens for the ticket core: canned responses, and the background tasks (the
dead-letter list and its "Run again")."""

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.utils.text import Truncator

from mainspring.identity.policy import Action, can

from . import taskqueue
from .canned import PLACEHOLDERS
from .forms import JSONFormField
from .models import BackgroundTask, CannedResponse, TaskStatus


class StrictJSONFields:
    """ModelAdmin/InlineModelAdmin mixin: JSON typed into the admin is parsed like an
    API body, so deep nesting, ``1e400`` or ``"\\u0000"`` is a field error, not a 500."""

    formfield_overrides = {models.JSONField: {"form_class": JSONFormField}}


class ConfiguredByAdmins(StrictJSONFields):
    """ModelAdmin mixin: only administrators (the policy's CONFIGURE) may add, change or
    delete, whatever Django model permissions an account holds."""

    def has_add_permission(self, request, *args) -> bool:
        return super().has_add_permission(request, *args) and can(request.user, Action.CONFIGURE)

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and can(request.user, Action.CONFIGURE)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and can(request.user, Action.CONFIGURE)


@admin.register(CannedResponse)
class CannedResponseAdmin(ConfiguredByAdmins, admin.ModelAdmin):
    list_display = ("title", "active", "updated_at")
    list_filter = ("active",)
    search_fields = ("title", "body")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.base_fields["body"].help_text = "Placeholders: " + ", ".join(
            "{" + p + "}" for p in PLACEHOLDERS
        )
        return form


class TaskFilter(admin.SimpleListFilter):
    """By task, from the code's list of tasks (no scan of the table for distinct names)."""

    title = "task"
    parameter_name = "task"

    def lookups(self, request, model_admin):
        return [(path, path.rsplit(".", 1)[-1]) for path in taskqueue.known_tasks()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(task_path=self.value())
        return queryset


@admin.register(BackgroundTask)
class BackgroundTaskAdmin(admin.ModelAdmin):
    """Background tasks, read-only; filter on "Dead" for the dead-letter list. Only
    administrators see them (their arguments may name people and tickets)."""

    list_display = [
        "id",
        "task_name",
        "status",
        "attempts",
        "enqueued_at",
        "run_after",
        "finished_at",
        "error",
    ]
    list_filter = ["status", TaskFilter]
    ordering = ["-id"]
    show_full_result_count = False
    fields = [
        "task_path",
        "status",
        "attempts",
        "args",
        "kwargs",
        "queue_name",
        "priority",
        "enqueued_at",
        "run_after",
        "started_at",
        "finished_at",
        "worker_id",
        "lease_expires_at",
        "worker_ids",
        "last_error",
        "traceback",
        "return_value",
    ]
    readonly_fields = fields
    actions = ["run_again"]

    @admin.display(description="Last error")
    def error(self, task: BackgroundTask) -> str:
        return Truncator(task.last_error).chars(120)

    def has_view_permission(self, request, obj=None) -> bool:
        return can(request.user, Action.CONFIGURE)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Discarding a dead letter is a decision; a queued or running task is not
        # deleted under a worker's feet.
        if obj is not None and obj.status not in (TaskStatus.DEAD, TaskStatus.DONE):
            return False
        return can(request.user, Action.CONFIGURE)

    def get_actions(self, request):
        # Delete one row at a time, from its page, where the check above applies.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_run_again_permission(self, request) -> bool:
        return can(request.user, Action.CONFIGURE)

    @admin.action(
        description="Run again (dead tasks, with a fresh set of attempts)",
        permissions=["run_again"],
    )
    def run_again(self, request, queryset: QuerySet[BackgroundTask]) -> None:
        count = taskqueue.run_again(queryset, by=request.user)
        skipped = queryset.count() - count
        if count:
            self.message_user(request, f"{count} task(s) will run again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} task(s) left alone: only dead tasks run again.",
                messages.WARNING,
            )
