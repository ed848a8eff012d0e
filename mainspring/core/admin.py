"""Admin screens for the ticket core's own configuration (canned responses)."""

from django.contrib import admin
from django.db import models

from mainspring.identity.policy import Action, can

from .canned import PLACEHOLDERS
from .forms import JSONFormField
from .models import CannedResponse


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
