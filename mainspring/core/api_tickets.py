"""What every ticket has, over the API: journal, attachments, audit, watchers, links.

A practice's viewset mixes in ``TicketResourcesMixin``; its ``get_object`` already
scopes to ``visible_tickets`` so another requester's ticket is a 404 before anything
here runs, and every write is one call to ``core.services`` (which checks the policy).
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from mainspring.identity.models import User
from mainspring.identity.policy import Action, is_agent, require, visible_tickets

from . import services as core_services
from .api import ApiError, ChronologicalPagination, reject_unknown, require_object
from .json_types import StrictJSONTypes
from .markdown import render_markdown
from .models import (
    Attachment,
    AuditEntry,
    Channel,
    JournalEntry,
    JournalKind,
    LinkKind,
    TicketLink,
    Watcher,
)
from .parsers import MultiPartParser
from .views import attachment_response

__all__ = ["AttachmentDownloadView", "TicketResourcesMixin", "uploaded_file"]


class JournalEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=JournalKind.choices, read_only=True)
    body = serializers.CharField(read_only=True)
    body_html = serializers.SerializerMethodField()
    author = serializers.CharField(
        source="author.username", read_only=True, allow_null=True, default=None
    )
    created_at = serializers.DateTimeField(read_only=True)
    channel = serializers.ChoiceField(choices=Channel.choices, read_only=True)

    def get_body_html(self, obj: JournalEntry) -> str:
        return render_markdown(obj.body)


class JournalEntryCreateSerializer(StrictJSONTypes, serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[JournalKind.COMMENT.value, JournalKind.WORK_NOTE.value],
        help_text="comment: the requester sees it; work_note: agents only.",
    )
    body = serializers.CharField(max_length=65_536, help_text="Markdown.")


class AttachmentSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="storage_key", read_only=True)
    filename = serializers.CharField(read_only=True)
    size = serializers.IntegerField(read_only=True)
    content_type = serializers.CharField(read_only=True)
    sha256 = serializers.CharField(read_only=True)
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, obj: Attachment) -> str:
        path = reverse("api-attachment-download", args=[obj.storage_key])
        return settings.BASE_URL + path


def uploaded_file(request):
    """The one file of an upload request (multipart field ``file``, nothing else), for
    every attachment endpoint; a 400 naming the field otherwise."""
    reject_unknown(request.data, {"file"})
    upload = request.FILES.get("file")
    if upload is None:
        raise ApiError(
            400, "invalid", "Invalid input.", {"file": ["Send the file as multipart field `file`."]}
        )
    return upload


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="multipart/form-data field `file`.")


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    field = serializers.CharField(read_only=True)
    old_value = serializers.CharField(read_only=True)
    new_value = serializers.CharField(read_only=True)
    actor = serializers.CharField(
        source="actor.username", read_only=True, allow_null=True, default=None
    )
    channel = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class WatcherSerializer(serializers.Serializer):
    user = serializers.CharField(source="user.username", read_only=True)
    name = serializers.CharField(source="user.name", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class WatcherWriteSerializer(StrictJSONTypes, serializers.Serializer):
    user = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text="Username; default: yourself. Adding someone else is agent work.",
    )


class LinkSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=LinkKind.choices, read_only=True)
    direction = serializers.SerializerMethodField()
    source = serializers.CharField(source="source.number", read_only=True)
    target = serializers.CharField(source="target.number", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    def get_direction(self, obj: TicketLink) -> str:
        ticket_id = self.context.get("ticket_id")
        return "out" if obj.source_id == ticket_id else "in"


class LinkWriteSerializer(StrictJSONTypes, serializers.Serializer):
    target = serializers.CharField(max_length=20, help_text="Ticket number, e.g. INC0001042.")
    kind = serializers.ChoiceField(choices=LinkKind.choices)


def _valid(serializer_class, request, *, partial: bool = False) -> dict:
    data = require_object(request.data)
    known = set(serializer_class().fields)
    reject_unknown(data, known)
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


_SUB = {"filter_backends": [], "pagination_class": ChronologicalPagination}


class TicketResourcesMixin:
    """Journal, attachments, audit, watchers and links for a ticket viewset.

    The viewset's ``get_object`` already scopes to ``visible_tickets`` (another
    requester's ticket is a 404 before anything here runs); each write is one call to
    ``core.services``, which checks the policy again.
    """

    def _ticket(self):
        return self.get_object()

    @extend_schema(
        methods=["GET"],
        responses=JournalEntrySerializer(many=True),
        description="Comments, work notes (agents only) and system entries, oldest first.",
    )
    @extend_schema(
        methods=["POST"],
        request=JournalEntryCreateSerializer,
        responses={201: JournalEntrySerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="journal",
        serializer_class=JournalEntrySerializer,
        **_SUB,
    )
    def journal(self, request, *args, **kwargs):
        ticket = self._ticket()
        if request.method == "POST":
            data = _valid(JournalEntryCreateSerializer, request)
            entry = core_services.add_journal_entry(
                ticket,
                by=request.user,
                kind=data["kind"],
                body=data["body"],
                channel=Channel.API,
            )
            return Response(JournalEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
        qs = JournalEntry.objects.filter(ticket_id=ticket.pk).select_related("author")
        if not is_agent(request.user):
            qs = qs.exclude(kind=JournalKind.WORK_NOTE)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(JournalEntrySerializer(page, many=True).data)

    @extend_schema(methods=["GET"], responses=AttachmentSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="attachments",
        serializer_class=AttachmentSerializer,
        parser_classes=[MultiPartParser],
        **_SUB,
    )
    def attachments(self, request, *args, **kwargs):
        ticket = self._ticket()
        if request.method == "POST":
            upload = uploaded_file(request)
            attachment = core_services.add_attachment(
                ticket, by=request.user, upload=upload, channel=Channel.API
            )
            attachment.uploaded_by = request.user
            return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)
        qs = Attachment.objects.filter(ticket_id=ticket.pk).select_related("uploaded_by")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(AttachmentSerializer(page, many=True).data)

    @extend_schema(
        responses={
            200: AuditEntrySerializer(many=True),
            403: OpenApiResponse(description="Requesters may not read the audit trail."),
        },
        description="Every field change, oldest first. Agents only (403).",
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="audit",
        serializer_class=AuditEntrySerializer,
        **_SUB,
    )
    def audit(self, request, *args, **kwargs):
        ticket = self._ticket()
        require(request.user, Action.VIEW_AUDIT, ticket)
        qs = AuditEntry.objects.filter(ticket_id=ticket.pk).select_related("actor")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(AuditEntrySerializer(page, many=True).data)

    @extend_schema(
        methods=["GET"],
        responses=WatcherSerializer(many=True),
        description="Agents see every watcher; a requester only themself.",
    )
    @extend_schema(
        methods=["POST"], request=WatcherWriteSerializer, responses={201: WatcherSerializer}
    )
    @extend_schema(
        methods=["DELETE"],
        request=None,
        responses={204: None},
        parameters=[OpenApiParameter("user", str, description="Username; default: yourself.")],
    )
    @action(
        detail=True,
        methods=["get", "post", "delete"],
        url_path="watchers",
        serializer_class=WatcherSerializer,
        filter_backends=[],
        pagination_class=None,
    )
    def watchers(self, request, *args, **kwargs):
        ticket = self._ticket()
        if request.method == "POST":
            data = _valid(WatcherWriteSerializer, request)
            watcher = core_services.add_watcher(
                ticket, by=request.user, user=data.get("user"), channel=Channel.API
            )
            watcher = Watcher.objects.select_related("user").get(pk=watcher.pk)
            return Response(WatcherSerializer(watcher).data, status=status.HTTP_201_CREATED)
        if request.method == "DELETE":
            unknown = set(request.query_params) - {"user"}
            if unknown:
                reject_unknown(dict.fromkeys(unknown), set())
            username = request.query_params.get("user")
            target = None
            if username:
                target = User.objects.filter(username=username).first()
                if target is None:
                    raise ApiError(400, "invalid", "Invalid input.", {"user": ["Unknown user."]})
            core_services.remove_watcher(ticket, by=request.user, user=target, channel=Channel.API)
            return Response(status=status.HTTP_204_NO_CONTENT)
        qs = Watcher.objects.filter(ticket_id=ticket.pk).select_related("user").order_by("id")
        if not is_agent(request.user):
            qs = qs.filter(user_id=request.user.pk)
        return Response(WatcherSerializer(qs, many=True).data)

    @extend_schema(
        methods=["GET"],
        responses=LinkSerializer(many=True),
        description="Links from and to this ticket that you may see.",
    )
    @extend_schema(methods=["POST"], request=LinkWriteSerializer, responses={201: LinkSerializer})
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="links",
        serializer_class=LinkSerializer,
        filter_backends=[],
        pagination_class=None,
    )
    def links(self, request, *args, **kwargs):
        ticket = self._ticket()
        context = {"ticket_id": ticket.pk}
        if request.method == "POST":
            # Permission before lookup: a requester learns nothing about other numbers.
            require(request.user, Action.LINK, ticket)
            data = _valid(LinkWriteSerializer, request)
            number = data["target"].strip().upper()
            target = visible_tickets(request.user).filter(number=number).first()
            if target is None:
                raise ApiError(
                    400, "invalid", "Invalid input.", {"target": ["No ticket with this number."]}
                )
            link = core_services.link_tickets(
                ticket, target, by=request.user, kind=data["kind"], channel=Channel.API
            )
            link = TicketLink.objects.select_related("source", "target", "created_by").get(
                pk=link.pk
            )
            return Response(
                LinkSerializer(link, context=context).data, status=status.HTTP_201_CREATED
            )
        visible = visible_tickets(request.user).values("pk")
        qs = (
            TicketLink.objects.filter(
                (Q(source_id=ticket.pk) & Q(target_id__in=visible))
                | (Q(target_id=ticket.pk) & Q(source_id__in=visible))
            )
            .select_related("source", "target", "created_by")
            .order_by("id")[:500]
        )
        return Response(LinkSerializer(qs, many=True, context=context).data)


class AttachmentDownloadView(APIView):
    """``GET /api/v1/attachments/<uuid>/download/``: the file, for Bearer-token clients.

    Same rules as the UI route: only people who may see the ticket (404 otherwise),
    always a download, ``nosniff`` and a sandboxing CSP so nothing renders inline.
    """

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        operation_id="attachments_download",
    )
    def get(self, request, key):
        return attachment_response(request.user, key)
