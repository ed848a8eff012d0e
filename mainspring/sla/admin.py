"""Admin screens for calendars (with holidays and exceptions inline) and SLAs."""

from __future__ import annotations

from django.contrib import admin

from .models import BusinessCalendar, CalendarDay, SlaDefinition, SlaTimer


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "holiday_country", "holiday_subdivision", "updated_at"]
    search_fields = ["name"]
    inlines = [CalendarDayInline]


@admin.register(SlaDefinition)
class SlaDefinitionAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "target", "duration_seconds", "calendar", "priorities"]
    list_filter = ["active", "target", "calendar"]
    search_fields = ["name"]
    list_select_related = ["calendar"]


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
