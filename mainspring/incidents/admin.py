"""Admin-managed reference data for incidents."""

from django import forms
from django.contrib import admin

from . import services
from .models import Category, PriorityRule, ResolutionCode


class CategoryForm(forms.ModelForm):
    """The API's rules here too: two levels, names unique among siblings."""

    def _post_clean(self) -> None:
        super()._post_clean()  # the form's values are now on self.instance
        for field, messages in services.category_errors(self.instance).items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    form = CategoryForm
    list_display = ("__str__", "parent", "active")
    list_filter = ("active", "parent")
    search_fields = ("name",)


@admin.register(ResolutionCode)
class ResolutionCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "label", "active")

    def get_readonly_fields(self, request, obj=None):
        # Resolved tickets and reports refer to the code: it is fixed once made.
        return ("code",) if obj is not None else ()


@admin.register(PriorityRule)
class PriorityRuleAdmin(admin.ModelAdmin):
    list_display = ("impact", "urgency", "priority")
    list_editable = ("priority",)

    def has_add_permission(self, request) -> bool:
        return False  # the nine cells exist from the first migration

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
