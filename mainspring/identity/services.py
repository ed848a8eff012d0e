"""Identity operations: personal API tokens, assignment groups and their members.

The account page and the REST token endpoints both call these, so a token is
created, shown and revoked the same way whatever the way in. Groups and accounts are
configuration: only administrators change them (``Action.CONFIGURE``), through the API or
/admin/ (whose screens call these services too). Identity keeps no audit rows of its own:
/admin/ records who changed which account or group in Django's admin history.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from .models import ApiToken, AssignmentGroup, Membership, Role, User, hash_token
from .policy import is_agent, require_configure

__all__ = [
    "TOKEN_NAME_MAX",
    "add_group_member",
    "change_password",
    "create_api_token",
    "delete_group",
    "delete_user",
    "group_errors",
    "member_errors",
    "remove_group_member",
    "revoke_all_api_tokens",
    "revoke_api_token",
    "save_group",
    "save_user",
    "user_delete_errors",
    "user_errors",
]

TOKEN_NAME_MAX = ApiToken._meta.get_field("name").max_length
# The hint is the visible prefix ("ms_" + a few characters): enough to tell tokens apart,
# far too little to guess the rest.
HINT_LENGTH = 8


def create_api_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Create a personal API token for ``user``.

    Returns ``(token, raw)``. Only the hash of ``raw`` is stored; the caller shows ``raw``
    to the user once and never again. Raises ``ValidationError`` for an empty or too
    long name.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the token a name, e.g. the script that uses it."})
    if len(name) > TOKEN_NAME_MAX:
        raise ValidationError({"name": f"Use at most {TOKEN_NAME_MAX} characters."})
    if not user.is_active:
        raise PermissionDenied("This account is disabled.")
    raw = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, key_hash=hash_token(raw), hint=raw[:HINT_LENGTH]
        )
    return token, raw


def revoke_api_token(token: ApiToken, *, by: User) -> ApiToken:
    """Revoke ``token`` at once; it answers 401 from its next request on.

    Only the owner or an admin may revoke. Revoking twice keeps the first time.
    """
    from .policy import is_admin

    if token.user_id != by.pk and not is_admin(by):
        raise PermissionDenied("You may not revoke another person's token.")
    with transaction.atomic():
        # Conditional update: two concurrent revokes keep the first timestamp.
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        token.refresh_from_db(fields=["revoked_at"])
    return token


def revoke_all_api_tokens(user: User, *, by: User) -> int:
    """Revoke every active token of ``user``; returns how many were revoked."""
    from .policy import is_admin

    if user.pk != by.pk and not is_admin(by):
        raise PermissionDenied("You may not revoke another person's tokens.")
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


@transaction.atomic
def change_password(user: User, new_password: str | None, *, by: User | None = None) -> None:
    """Set a new password (already validated by the caller's form); ``None`` makes the
    account password-less (Django's "unusable password", set from /admin/).

    ``by`` is the person doing it: the user themself (the default) or an administrator.
    Other sessions end because Django checks the session's password hash; API tokens
    are revoked too, so a leaked credential of any kind dies with the old password
    (SECURITY.md, "Session/token after ... password change").
    """
    by = by or user
    if by.pk != user.pk:
        require_configure(by, "other people's passwords")
    if new_password is None:
        user.set_unusable_password()
    else:
        user.set_password(new_password)
    user.save(update_fields=["password"])
    revoke_all_api_tokens(user, by=by)


def group_errors(group: AssignmentGroup) -> dict[str, list[str]]:
    """What is wrong with ``group`` beyond its fields (the API and /admin/ both ask)."""
    clash = AssignmentGroup.objects.filter(name__iexact=group.name.strip()).exclude(pk=group.pk)
    if group.name and clash.exists():
        return {"name": ["A group with this name exists."]}
    return {}


def member_errors(user: User) -> dict[str, list[str]]:
    """Only agents work tickets, so only active agents (managers, admins) are members."""
    if not user.is_active or not is_agent(user):
        return {"username": ["Only active agents can be members of a group."]}
    return {}


@transaction.atomic
def save_group(*, by: User, instance: AssignmentGroup | None = None, **data) -> AssignmentGroup:
    """Create or change an assignment group (admins): name, description, mailbox, active.

    A deactivated group keeps its tickets and members but can no longer be chosen.
    """
    require_configure(by, "groups")
    group = instance or AssignmentGroup()
    for name, value in data.items():
        setattr(group, name, value.strip() if isinstance(value, str) else value)
    errors = group_errors(group)
    if errors:
        raise ValidationError(errors)
    group.full_clean()
    group.save()
    return group


@transaction.atomic
def add_group_member(
    group: AssignmentGroup, user: User, *, by: User, is_manager: bool = False
) -> Membership:
    """Put ``user`` in ``group`` (or change whether they manage it). Admins only.

    Only agents work tickets, so only agents (and managers, admins) may be members.
    """
    require_configure(by, "groups")
    errors = member_errors(user)
    if errors:
        raise ValidationError(errors)
    membership, created = Membership.objects.get_or_create(
        group=group, user=user, defaults={"is_manager": is_manager}
    )
    if not created and membership.is_manager != is_manager:
        membership.is_manager = is_manager
        membership.save(update_fields=["is_manager"])
    return membership


@transaction.atomic
def remove_group_member(group: AssignmentGroup, user: User, *, by: User) -> bool:
    """Take ``user`` out of ``group``; their assigned tickets stay assigned. Admins only."""
    require_configure(by, "groups")
    deleted, _ = Membership.objects.filter(group=group, user=user).delete()
    return bool(deleted)


@transaction.atomic
def delete_group(group: AssignmentGroup, *, by: User) -> None:
    """Delete a group and its memberships (admins). A group that tickets name cannot be
    deleted (the database protects it): deactivate it instead."""
    require_configure(by, "groups")
    group.delete()


SELF_LOCKOUT = "You cannot take away your own administrator rights; ask another administrator."


def user_errors(user: User, *, by: User) -> dict[str, list[str]]:
    """What is wrong with saving ``user`` (with its new values) beyond its fields.

    An administrator does not demote or deactivate themself: they would lose the screen
    half-way, and Mainspring could be left with no administrator at all.
    """
    if user.pk is None or user.pk != by.pk:
        return {}
    if not user.is_active:
        return {"is_active": [SELF_LOCKOUT]}
    if user.role != Role.ADMIN:
        return {"role": [SELF_LOCKOUT]}
    return {}


@transaction.atomic
def save_user(*, by: User, instance: User | None = None, **data) -> User:
    """Create or change an account (admins): role, name, e-mail (its domain in lower
    case), active, demo flag... Deactivating an account revokes its API tokens.

    ``instance`` may already carry the new values (the admin form puts them there); a
    new account's password is set by the caller's form or by ``change_password``.
    """
    require_configure(by, "accounts")
    user = instance or User()
    for name, value in data.items():
        setattr(user, name, value.strip() if isinstance(value, str) else value)
    # One spelling of an address's domain, whatever the way in, so mail matching works.
    user.email = User.objects.normalize_email(user.email)
    errors = user_errors(user, by=by)
    if errors:
        raise ValidationError(errors)
    deactivated = (
        user.pk is not None
        and not user.is_active
        and User.objects.filter(pk=user.pk, is_active=True).exists()
    )
    user.save()
    if deactivated:
        # Sign-in already refuses an inactive account; its tokens end for good too, so
        # re-activating it does not bring back a credential that may have leaked.
        revoke_all_api_tokens(user, by=by)
    return user


def user_delete_errors(user: User, *, by: User) -> list[str]:
    """Why ``user`` may not be deleted by ``by`` (empty: they may)."""
    if user.pk == by.pk:
        return ["You cannot delete your own account; ask another administrator."]
    return []


@transaction.atomic
def delete_user(user: User, *, by: User) -> None:
    """Delete an account (admins). Someone who opened, worked or wrote on tickets cannot
    be deleted (the database protects the record): deactivate them instead."""
    require_configure(by, "accounts")
    errors = user_delete_errors(user, by=by)
    if errors:
        raise ValidationError(errors)
    user.delete()
