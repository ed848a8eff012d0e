"""Admin screens for calendars (with holidays and exceptions inline) and SLAs.

Saving a calendar or an SLA goes through ``sla.services`` (admins only) and applies to
timers started afterwards. "Recompute running timers" (a change-list action, and a
button on the change form) queues an ``SlaRecompute`` job that applies the current
settings to the running timers too; the "SLA recomputes" list shows its progress.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from mainspring.core.admin import ConfiguredByAdmins, StrictJSONFields
from mainspring.identity.policy import Action, Forbidden, can

from . import services
from .models import (
    BusinessCalendar,
    CalendarDay,
    RecomputeState,
    SlaDefinition,
    SlaRecompute,
    SlaTimer,
)
from .recompute import (
    RecomputeNotRestartable,
    RecomputePending,
    request_recompute,
    rerun_recompute,
)

KEEP_SNAPSHOT = (
    "Running timers keep the settings they started with. To apply this change to them, "
    "use “Recompute running timers”."
)


class _RecomputeAdmin(ConfiguredByAdmins, admin.ModelAdmin):
    """Shared by calendars and SLAs: service-layer saves and the recompute action."""

    change_form_template = "admin/sla/change_form_recompute.html"
    actions = ["recompute_running_timers"]
    # Which keyword of ``request_recompute`` this admin's objects are.
    target = ""

    def has_recompute_permission(self, request) -> bool:
        return can(request.user, Action.CONFIGURE)

    def _save(self, request, obj):  # pragma: no cover - each subclass sets it
        raise NotImplementedError

    def save_model(self, request, obj, form, change) -> None:
        # The form has put its values on ``obj``; the service checks and saves it.
        self._save(request, obj)
        if change:
            self.message_user(request, KEEP_SNAPSHOT, messages.INFO)

    def _request(self, request, obj) -> SlaRecompute | None:
        try:
            job = request_recompute(by=request.user, **{self.target: obj})
        except RecomputePending as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return None
        except Forbidden as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        url = reverse("admin:sla_slarecompute_change", args=[job.pk])
        self.message_user(
            request,
            format_html(
                'Recompute of the running timers of “{}” queued: <a href="{}">follow its '
                "progress</a>.",
                obj,
                url,
            ),
            messages.SUCCESS,
        )
        return job

    @admin.action(description="Recompute running timers", permissions=["recompute"])
    def recompute_running_timers(self, request, queryset) -> None:
        for obj in queryset:
            self._request(request, obj)

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<int:object_id>/recompute/",
                self.admin_site.admin_view(self.recompute_view),
                name=f"{opts.app_label}_{opts.model_name}_recompute",
            ),
            *super().get_urls(),
        ]

    def recompute_view(self, request, object_id: int):
        """GET: ask to confirm; POST: queue the recompute and go to its progress."""
        if not self.has_recompute_permission(request):
            raise PermissionDenied
        obj = get_object_or_404(self.model, pk=object_id)
        opts = self.model._meta
        if request.method == "POST":
            job = self._request(request, obj)
            if job is not None:
                return HttpResponseRedirect(reverse("admin:sla_slarecompute_change", args=[job.pk]))
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Recompute running timers?",
            "object": obj,
            "opts": opts,
            "app_label": opts.app_label,
            "target": self.target,
        }
        return TemplateResponse(request, "admin/sla/recompute_confirm.html", context)

    def render_change_form(self, request, context, *args, **kwargs):
        context["can_recompute"] = self.has_recompute_permission(request)
        return super().render_change_form(request, context, *args, **kwargs)


class CalendarDayInline(StrictJSONFields, admin.TabularInline):
    model = CalendarDay
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(_RecomputeAdmin):
    list_display = ["name", "time_zone", "holiday_country", "holiday_subdivision", "updated_at"]
    search_fields = ["name"]
    inlines = [CalendarDayInline]
    target = "calendar"

    def _save(self, request, obj) -> None:
        services.save_calendar(by=request.user, instance=obj)


@admin.register(SlaDefinition)
class SlaDefinitionAdmin(_RecomputeAdmin):
    list_display = ["name", "active", "target", "duration_seconds", "calendar", "priorities"]
    list_filter = ["active", "target", "calendar"]
    search_fields = ["name"]
    list_select_related = ["calendar"]
    target = "definition"

    def _save(self, request, obj) -> None:
        services.save_definition(by=request.user, instance=obj)


@admin.register(SlaRecompute)
class SlaRecomputeAdmin(admin.ModelAdmin):
    """Read-only: the recompute jobs and their progress (reload to follow it)."""

    list_display = [
        "id",
        "target",
        "state",
        "progress",
        "percent_done",
        "requested_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["state"]
    list_select_related = ["definition", "calendar", "requested_by"]
    fields = [
        "target",
        "state",
        "progress",
        "percent_done",
        "requested_by",
        "created_at",
        "finished_at",
        "error",
    ]
    readonly_fields = fields
    actions = ["run_again"]

    @admin.display(description="SLA or calendar")
    def target(self, job: SlaRecompute) -> str:
        if job.definition_id is not None:
            return f"SLA: {job.definition}"
        return f"Calendar: {job.calendar}"

    @admin.display(description="Timers done")
    def progress(self, job: SlaRecompute) -> str:
        return f"{job.done} / {job.total}"

    @admin.display(description="%")
    def percent_done(self, job: SlaRecompute) -> str:
        return f"{job.percent} %"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_rerun_permission(self, request) -> bool:
        return can(request.user, Action.CONFIGURE)

    @admin.action(
        description="Run again (failed, or left unfinished by a stopped worker)",
        permissions=["rerun"],
    )
    def run_again(self, request, queryset) -> None:
        for job in queryset:
            if job.state == RecomputeState.DONE:
                self.message_user(request, f"Job {job.pk} has finished.", messages.WARNING)
                continue
            try:
                rerun_recompute(by=request.user, job=job)
            except (RecomputeNotRestartable, RecomputePending, Forbidden) as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(request, f"Job {job.pk} queued again.", messages.SUCCESS)


@admin.register(SlaTimer)
class SlaTimerAdmin(admin.ModelAdmin):
    """Read-only: timers change only through ticket events and the sweep."""

    list_display = ["ticket", "name", "state", "breach_at", "next_threshold_at", "stopped_at"]
    list_filter = ["state", "target"]
    list_select_related = ["ticket"]
    raw_id_fields = ["ticket", "definition"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
