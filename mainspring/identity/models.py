"""Users, assignment groups, roles and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    """What a person may do, from least to most (docs/permissions.md)."""

    REQUESTER = "requester", "Requester"
    AGENT = "agent", "Agent"
    MANAGER = "manager", "Group manager"
    ADMIN = "admin", "Administrator"


class User(AbstractUser):
    """A person: an employee who asks for help, or IT staff who give it."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REQUESTER)
    display_name = models.CharField(max_length=150, blank=True)
    # Demo accounts are removable and are what the login page advertises.
    is_demo = models.BooleanField(default=False)

    class Meta:
        ordering = ["username"]
        # Assignee pickers list agents among many thousands of requesters.
        indexes = [models.Index(fields=["role", "username"], name="user_role_idx")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # `mainspring createsuperuser` makes an administrator, whatever the default role.
        if self.is_superuser and self.role == Role.REQUESTER:
            self.role = Role.ADMIN
        # Administrators configure Mainspring in the admin screens, which need is_staff.
        self.is_staff = self.role == Role.ADMIN or self.is_superuser
        super().save(*args, **kwargs)

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def is_staff_role(self) -> bool:
        """Agents, managers and admins work tickets; requesters only ask."""
        return self.role in (Role.AGENT, Role.MANAGER, Role.ADMIN)


class AssignmentGroup(models.Model):
    """A team that works tickets (Service Desk, Network, ...)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    email = models.EmailField(blank=True)
    members = models.ManyToManyField(User, through="Membership", related_name="assignment_groups")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    group = models.ForeignKey(AssignmentGroup, on_delete=models.CASCADE)
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    is_manager = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="uniq_group_member"),
        ]


TOKEN_PREFIX = "ms_"  # noqa: S105 - a marker, not a secret


def hash_token(raw: str) -> str:
    # Tokens are 256-bit random strings, so a fast hash is enough (no dictionary to try).
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal API token; only its hash is stored, the secret is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    # The first characters, shown in lists so a person can tell tokens apart.
    hint = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def generate(cls) -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)

    @property
    def active(self) -> bool:
        return self.revoked_at is None
