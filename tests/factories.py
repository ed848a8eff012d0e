"""Factories shared by every test. Incidents are made through the services, as users do."""

from __future__ import annotations

import factory
from django.contrib.auth.hashers import MD5PasswordHasher

from mainspring.identity.models import AssignmentGroup, Membership, Role, User
from mainspring.incidents import services
from mainspring.incidents.models import Category

PASSWORD = "correct horse battery staple"
# Hashing is the slow part of making users; hash the shared password once, with the
# fast hasher tests/conftest.py configures (a PBKDF2 hash would not verify there).
_HASHED = MD5PasswordHasher().encode(PASSWORD, MD5PasswordHasher().salt())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    display_name = factory.LazyAttribute(lambda u: u.username.title())
    role = Role.REQUESTER
    password = _HASHED


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssignmentGroup
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Group {n}")


def add_member(group: AssignmentGroup, user: User, *, manager: bool = False) -> None:
    Membership.objects.get_or_create(group=group, user=user, defaults={"is_manager": manager})


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("name", "parent")

    name = factory.Sequence(lambda n: f"Category {n}")
    parent = None


def make_incident(*, by: User, **fields):
    """Create an incident through the service layer (the one way in)."""
    fields.setdefault("title", "Cannot connect to VPN")
    fields.setdefault("description", "Since this morning the VPN client times out.")
    return services.create_incident(by=by, **fields)
