"""Admin screens for the ticket core's own configuration (canned responses)."""

from django.contrib import admin

from mainspring.identity.policy import Action, can

from .canned import PLACEHOLDERS
from .models import CannedResponse


class ConfiguredByAdmins:
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
