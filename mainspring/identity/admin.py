"""Configuration screens for administrators (users, groups, tokens).

Every write goes through ``identity.services``, as the API's do: the forms ask the
services' checks (``group_errors``, ``member_errors``, ``user_errors``) while validating,
so a refusal is a field error on the page, never a 500; ``save_model``, ``delete_model``
and the membership inline then call the services. Bulk delete is off: one row at a
time, from its page, where the checks apply. Tickets are not here at all.
"""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.http import HttpResponseRedirect
from django.urls import reverse

from mainspring.core.admin import ConfiguredByAdmins

from . import services
from .models import ApiToken, AssignmentGroup, Membership, User
from .policy import Action, can


def add_service_errors(form: forms.BaseForm, errors: dict[str, list[str]]) -> None:
    """Put a service check's ``{field: [messages]}`` on ``form``; a field the form does
    not show gets a message at the top of the form."""
    for field, field_messages in errors.items():
        for message in field_messages:
            form.add_error(field if field in form.fields else None, message)


class NoBulkDelete:
    """ModelAdmin mixin: no "Delete selected" action; deleting goes one row at a time
    through ``delete_model`` and so through the service."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_queryset(self, request, queryset) -> None:  # pragma: no cover - no action
        raise NotImplementedError("Bulk delete is off; delete one row from its page.")


class ActorForm:
    """ModelForm mixin: ``by`` is the signed-in administrator (set per request by
    ``get_form``), for the service checks that depend on who is acting."""

    by: User | None = None


class UserChecksMixin(ActorForm):
    def _post_clean(self) -> None:
        super()._post_clean()  # the form's values are now on self.instance
        if self.by is not None:
            add_service_errors(self, services.user_errors(self.instance, by=self.by))


class PasswordForm(AdminPasswordChangeForm):
    """Django's "change password" form, saved by ``services.change_password`` (which
    also revokes the account's API tokens)."""

    by: User | None = None

    def save(self, commit: bool = True) -> User:
        raw = self.cleaned_data["password1"] if self.cleaned_data["set_usable_password"] else None
        services.change_password(self.user, raw, by=self.by)
        return self.user


@admin.register(User)
class UserAdmin(NoBulkDelete, ConfiguredByAdmins, DjangoUserAdmin):
    list_display = ("username", "display_name", "email", "role", "is_active", "is_demo")
    list_filter = ("role", "is_active", "is_demo")
    search_fields = ("username", "display_name", "email")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Mainspring", {"fields": ("role", "display_name", "is_demo")}),
    )
    change_password_form = PasswordForm

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (UserChecksMixin, form), {"by": request.user})

    def save_model(self, request, obj, form, change) -> None:
        services.save_user(by=request.user, instance=obj)

    def delete_model(self, request, obj) -> None:
        services.delete_user(obj, by=request.user)

    def delete_view(self, request, object_id, extra_context=None):
        user = self.get_object(request, unquote(object_id))
        refusals = services.user_delete_errors(user, by=request.user) if user else []
        if refusals:
            for message in refusals:
                self.message_user(request, message, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:identity_user_change", args=[user.pk]))
        return super().delete_view(request, object_id, extra_context)

    def user_change_password(self, request, id, form_url=""):
        # Django builds the form from ``self.change_password_form``; a copy of this admin
        # with a per-request subclass carries the actor to the service, without changing
        # the admin object that every request shares.
        per_request = copy.copy(self)
        per_request.change_password_form = type(
            "PasswordForm", (PasswordForm,), {"by": request.user}
        )
        return DjangoUserAdmin.user_change_password(per_request, request, id, form_url)


class MembershipForm(forms.ModelForm):
    """The API's rule here too: only active agents are members."""

    def clean(self):
        cleaned = super().clean()
        user = cleaned.get("user")
        if user is not None:
            errors = services.member_errors(user)
            add_service_errors(self, {"user": errors.get("username", [])})
        return cleaned


class AssignmentGroupForm(forms.ModelForm):
    def _post_clean(self) -> None:
        super()._post_clean()  # the form's values are now on self.instance
        add_service_errors(self, services.group_errors(self.instance))


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 1
    autocomplete_fields = ("user",)


@admin.register(AssignmentGroup)
class AssignmentGroupAdmin(NoBulkDelete, ConfiguredByAdmins, admin.ModelAdmin):
    form = AssignmentGroupForm
    list_display = ("name", "email", "active")
    search_fields = ("name",)
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change) -> None:
        services.save_group(by=request.user, instance=obj)

    def delete_model(self, request, obj) -> None:
        services.delete_group(obj, by=request.user)

    def save_formset(self, request, form, formset, change) -> None:
        """The members through ``add_group_member``/``remove_group_member``.

        ``save(commit=False)`` sorts the rows into new, changed and deleted without
        writing; the admin's history message is built from those lists afterwards.
        """
        group = form.instance
        formset.save(commit=False)
        # The stored row says who is a member now (a row's form may hold new values).
        stored = {
            m.pk: m.user
            for m in Membership.objects.select_related("user").filter(
                pk__in=[m.pk for m in formset.deleted_objects]
                + [m.pk for m, _fields in formset.changed_objects]
            )
        }
        for membership in formset.deleted_objects:
            services.remove_group_member(group, stored[membership.pk], by=request.user)
        for membership, _fields in formset.changed_objects:
            if stored[membership.pk].pk != membership.user_id:  # the row names someone else
                services.remove_group_member(group, stored[membership.pk], by=request.user)
            services.add_group_member(
                group, membership.user, by=request.user, is_manager=membership.is_manager
            )
        formset.new_objects = [
            services.add_group_member(group, m.user, by=request.user, is_manager=m.is_manager)
            for m in formset.new_objects
        ]


@admin.register(ApiToken)
class ApiTokenAdmin(NoBulkDelete, admin.ModelAdmin):
    """Read-only but for "Revoke" (``services.revoke_api_token``): a token is never
    edited, un-revoked or deleted, so the list keeps who had which token until when."""

    list_display = ("user", "name", "hint", "created_at", "last_used_at", "revoked_at")
    readonly_fields = (
        "user",
        "name",
        "hint",
        "key_hash",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    search_fields = ("user__username", "name")
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are created by their owner, who sees the secret once

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_revoke_permission(self, request) -> bool:
        return can(request.user, Action.CONFIGURE)

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset) -> None:
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            services.revoke_api_token(token, by=request.user)
            count += 1
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)
