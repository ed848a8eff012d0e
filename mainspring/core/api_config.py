"""Admin-managed configuration over the API: read by agents, written by admins.

Groups, categories, resolution codes, calendars and SLAs share one shape: list and
retrieve for agents, create and PATCH/PUT for admins, each write through the app's
``save_*`` service (which checks the policy again and validates the whole object), and
the usual error shape: unknown fields and bad values are a 400 naming the field.
"""

from __future__ import annotations

from typing import Any

from rest_framework import mixins, permissions, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from mainspring.identity.policy import Action, can, is_agent

from .api import KeysetPagination, StrictQueryParamsMixin, reject_unknown, require_object
from .json_types import json_type_errors

__all__ = ["AgentsReadAdminsWrite", "ConfigViewSet", "EveryoneReadsAdminsWrite"]


class AgentsReadAdminsWrite(permissions.BasePermission):
    """Agents may read configuration; only administrators may change it."""

    message = "Only administrators may change this."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            if not is_agent(request.user):
                self.message = "Only agents may read this."
                return False
            return True
        self.message = "Only administrators may change this."
        return can(request.user, Action.CONFIGURE)


class EveryoneReadsAdminsWrite(permissions.BasePermission):
    """Any signed-in user may read it (requesters pick a category); admins change it."""

    message = "Only administrators may change this."
    # Read by core.schema: reads are never refused, so they document no 403.
    reads_always_allowed = True

    def has_permission(self, request, view) -> bool:
        return request.method in permissions.SAFE_METHODS or can(request.user, Action.CONFIGURE)


class ConfigViewSet(
    StrictQueryParamsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Subclasses set ``serializer_class``, ``get_queryset`` and ``save`` (a service:
    ``save(by=..., instance=None, **fields) -> obj``). ``create_only`` names fields that
    may be sent on create but not changed afterwards (a resolution code's ``code``)."""

    permission_classes = [permissions.IsAuthenticated, AgentsReadAdminsWrite]
    pagination_class = KeysetPagination
    filter_backends: list = []
    create_only: frozenset[str] = frozenset()

    @staticmethod
    def save(*, by, instance=None, **data: Any):  # pragma: no cover - always overridden
        raise NotImplementedError

    def _data(self, request, *, partial: bool, creating: bool) -> dict:
        data = require_object(request.data)
        serializer_class = self.get_serializer_class()
        fields = serializer_class().fields
        writable = {name for name, f in fields.items() if not f.read_only}
        if not creating:
            writable -= self.create_only
        reject_unknown(data, writable, read_only=set(fields))
        serializer = serializer_class(data=data, partial=partial)
        wrong_types = json_type_errors(serializer, data)
        if wrong_types:
            raise ValidationError(wrong_types)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def create(self, request, *args, **kwargs) -> Response:
        data = self._data(request, partial=False, creating=True)
        obj = type(self).save(by=request.user, **data)
        return Response(self.get_serializer(self._reload(obj)).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs) -> Response:
        obj = self.get_object()
        partial = kwargs.get("partial", False)
        data = self._data(request, partial=partial, creating=False)
        obj = type(self).save(by=request.user, instance=obj, **data)
        return Response(self.get_serializer(self._reload(obj)).data)

    def _reload(self, obj):
        """The object as the list shows it (prefetches included)."""
        return self.get_queryset().get(pk=obj.pk)
