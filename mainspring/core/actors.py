"""Who automatic work is recorded under."""

from __future__ import annotations

from mainspring.identity.models import User

__all__ = ["system_user"]


def system_user() -> User:
    """The account automatic work is recorded under (auto-close, SLA escalation)."""
    user = User.objects.filter(username="system").first()
    if user is None:
        # Active so the policy lets it act, but with no usable password: nobody logs in.
        user = User(username="system", display_name="Mainspring", role="admin")
        user.set_unusable_password()
        user.save()
    return user
