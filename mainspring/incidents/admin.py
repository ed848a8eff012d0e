"""Admin-managed reference data for incidents."""

from django.contrib import admin

from .models import Category, PriorityRule, ResolutionCode


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("__str__", "parent", "active")
    list_filter = ("active", "parent")
    search_fields = ("name",)


@admin.register(ResolutionCode)
class ResolutionCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "label", "active")


@admin.register(PriorityRule)
class PriorityRuleAdmin(admin.ModelAdmin):
    list_display = ("impact", "urgency", "priority")
    list_editable = ("priority",)

    def has_add_permission(self, request) -> bool:
        return False  # the nine cells exist from the first migration

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
