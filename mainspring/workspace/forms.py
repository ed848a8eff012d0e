"""Form pieces every screen of the agent workspace shares (any practice, SLA, knowledge).

They parse and label input; the services decide. A ``TicketValidationError`` from a
service is put back on the form with ``apply_errors`` so the user sees it beside the
field, with their input kept.
"""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.contrib.auth import get_user_model

from mainspring.core.widgets import use_fast_selects
from mainspring.identity.models import Role

__all__ = ["AGENT_ROLES", "AccessibleForm", "UserChoiceField", "agents_queryset"]

User = get_user_model()
AGENT_ROLES = (Role.AGENT, Role.MANAGER, Role.ADMIN)


def agents_queryset():
    # "system" is the account automatic work is recorded under; nobody assigns to it.
    return (
        User.objects.filter(role__in=AGENT_ROLES, is_active=True)
        .exclude(username="system")
        .only("id", "username", "display_name", "first_name", "last_name")
        .order_by("display_name", "username")
    )


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} ({obj.username})" if obj.name != obj.username else obj.username


class AccessibleForm(forms.Form):
    """Django 5.2 marks fields with errors ``aria-invalid`` and points ``aria-describedby``
    at ``<id>_error``; the templates render the message under that id."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Agent and group pickers can hold a thousand options each (core.widgets).
        use_fast_selects(self)

    def apply_errors(
        self, fields: Mapping[str, list[str]], aliases: Mapping[str, str] | None = None
    ) -> None:
        """Put a service's field errors on this form (unknown fields become form errors)."""
        for name, messages in fields.items():
            target = (aliases or {}).get(name, name)
            for message in messages:
                self.add_error(target if target in self.fields else None, message)

    def error_list(self) -> list[tuple[str | None, str, str]]:
        """(field id or None, label, message) for the error summary at the top."""
        out: list[tuple[str | None, str, str]] = []
        for message in self.non_field_errors():
            out.append((None, "", message))
        for name, errors in self.errors.items():
            if name in self.fields:
                bound = self[name]
                for message in errors:
                    out.append((bound.auto_id, bound.label, message))
        return out
