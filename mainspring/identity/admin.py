"""Configuration screens for administrators (users, groups, tokens).

Tickets are not here: every ticket change goes through the services (audit, policy).
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from . import services
from .models import ApiToken, AssignmentGroup, Membership, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "display_name", "email", "role", "is_active", "is_demo")
    list_filter = ("role", "is_active", "is_demo")
    search_fields = ("username", "display_name", "email")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Mainspring", {"fields": ("role", "display_name", "is_demo")}),
    )


class MembershipForm(forms.ModelForm):
    """The API's rule here too: only active agents are members."""

    def clean(self):
        cleaned = super().clean()
        user = cleaned.get("user")
        if user is not None:
            for message in services.member_errors(user).get("username", []):
                self.add_error("user", message)
        return cleaned


class AssignmentGroupForm(forms.ModelForm):
    def _post_clean(self) -> None:
        super()._post_clean()  # the form's values are now on self.instance
        for field, messages in services.group_errors(self.instance).items():
            for message in messages:
                self.add_error(field, message)


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 1
    autocomplete_fields = ("user",)


@admin.register(AssignmentGroup)
class AssignmentGroupAdmin(admin.ModelAdmin):
    form = AssignmentGroupForm
    list_display = ("name", "email", "active")
    search_fields = ("name",)
    inlines = [MembershipInline]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "hint", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("user", "name", "hint", "key_hash", "created_at", "last_used_at")
    search_fields = ("user__username", "name")

    def has_add_permission(self, request) -> bool:
        return False  # tokens are created by their owner, who sees the secret once
