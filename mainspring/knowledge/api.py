"""``/api/v1/articles/`` and ``/api/v1/search/``: thin over knowledge services and search.

Scope first (``visible_articles``; an invisible article is a 404), then the service,
which checks the policy and validates. Errors use the one shape from ``core.api``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db.models import Prefetch
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from mainspring.core.api import (
    ApiError,
    ChronologicalPagination,
    KeysetPagination,
    StrictQueryParamsMixin,
    etag_for,
    parse_if_match,
    reject_unknown,
    require_object,
)
from mainspring.core.api_tickets import AttachmentUploadSerializer, uploaded_file
from mainspring.core.json_types import StrictJSONTypes
from mainspring.core.parsers import MultiPartParser
from mainspring.core.schema import IF_MATCH
from mainspring.identity.models import AssignmentGroup
from mainspring.incidents.models import Category

from . import policy, search, services
from .forms import SearchFilterForm
from .models import Article, ArticleAttachment, ArticleKind, Audience
from .states import ARTICLE_MACHINE
from .views import article_file_response

__all__ = ["ArticleViewSet", "SearchView", "register"]


class ArticleSerializer(serializers.ModelSerializer):
    """How an article reads; ``body`` is Markdown, ``body_html`` rendered and sanitised."""

    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    category = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    groups = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    tags = serializers.SerializerMethodField()
    body_html = serializers.CharField(read_only=True)
    state = serializers.ChoiceField(choices=ARTICLE_MACHINE.choices(), read_only=True)
    web_url = serializers.URLField(read_only=True)
    related = serializers.SerializerMethodField(
        help_text="Numbers of related articles the caller may read."
    )

    class Meta:
        model = Article
        fields = [
            "number", "title", "summary", "body", "body_html", "kind", "audience", "groups",
            "category", "tags", "related", "state", "version", "revision", "author",
            "reviewer", "review_comment", "review_by", "created_at", "updated_at",
            "published_at", "web_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_tags(self, obj: Article) -> list[str]:
        return obj.tag_list

    def get_related(self, obj: Article) -> list[str]:
        # Prefetched by the viewset, already limited to what the caller may read.
        return sorted(a.number for a in getattr(obj, "visible_related", []))


class ArticleWriteSerializer(StrictJSONTypes, serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    summary = serializers.CharField(max_length=500, required=False, allow_blank=True)
    body = serializers.CharField(max_length=200_000, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=ArticleKind.choices, required=False)
    audience = serializers.ChoiceField(choices=Audience.choices, required=False)
    groups = serializers.PrimaryKeyRelatedField(
        many=True, queryset=AssignmentGroup.objects.all(), required=False
    )
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=30
    )
    review_by = serializers.DateField(required=False, allow_null=True)
    related = serializers.ListField(
        child=serializers.CharField(max_length=16),
        required=False,
        max_length=services.MAX_RELATED,
        help_text='Article numbers, e.g. ["KB0001002"]; replaces the list.',
    )


class ArticleCreateSerializer(ArticleWriteSerializer):
    title = serializers.CharField(max_length=200)


class ArticleAttachmentSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="storage_key", read_only=True)
    filename = serializers.CharField(read_only=True)
    size = serializers.IntegerField(read_only=True)
    content_type = serializers.CharField(
        read_only=True, help_text="From the file's first bytes, never from the client."
    )
    is_image = serializers.BooleanField(
        read_only=True, help_text="PNG, JPEG, GIF or WebP: shown inline by ``web_url``."
    )
    sha256 = serializers.CharField(read_only=True)
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    web_url = serializers.SerializerMethodField(
        help_text="Browser address, for Markdown in the body: ![alt](web_url)."
    )
    markdown = serializers.CharField(read_only=True)
    download_url = serializers.SerializerMethodField(help_text="For API (Bearer) clients.")

    def get_web_url(self, obj: ArticleAttachment) -> str:
        return settings.BASE_URL + obj.get_absolute_url()

    def get_download_url(self, obj: ArticleAttachment) -> str:
        path = reverse("article-attachment-download", args=[obj.article.number, obj.storage_key])
        return settings.BASE_URL + path


class RevisionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    title = serializers.CharField()
    summary = serializers.CharField()
    body = serializers.CharField()
    published_at = serializers.DateTimeField()
    published_by = serializers.CharField(source="published_by.username", allow_null=True)


class RevisionsPagination(ChronologicalPagination):
    """Published revisions, newest first; a fixed order (``ordering`` is a 400)."""

    default_ordering = ("-number", "-id")


class FeedbackSerializer(StrictJSONTypes, serializers.Serializer):
    helpful = serializers.BooleanField()
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class SendBackSerializer(StrictJSONTypes, serializers.Serializer):
    comment = serializers.CharField(max_length=5000)


WRITE_FIELDS = frozenset(ArticleWriteSerializer().fields)
_STATE_CONFLICT = {
    409: OpenApiResponse(
        description="Not allowed from the article's state; `error.allowed` lists what is."
    )
}
READ_ONLY = frozenset(ArticleSerializer.Meta.fields) - WRITE_FIELDS


class ArticleViewSet(
    StrictQueryParamsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Knowledge articles the caller may read; agents write, reviewers publish."""

    serializer_class = ArticleSerializer
    lookup_field = "number"
    pagination_class = KeysetPagination
    ordering_choices = {"-id": ("-id",), "id": ("id",)}
    default_ordering = ("-id",)
    extra_query_params = frozenset({"cursor", "page_size", "ordering", "state", "kind"})
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        user = self.request.user
        qs = policy.visible_articles(user).select_related("author", "reviewer")
        readable = policy.visible_articles(user, Article.objects.only("id", "number"))
        qs = qs.prefetch_related(
            "groups", Prefetch("related", queryset=readable, to_attr="visible_related")
        )
        if self.action == "list":
            state = self.request.query_params.get("state")
            kind = self.request.query_params.get("kind")
            if state:
                if state not in dict(ARTICLE_MACHINE.choices()):
                    raise ApiError(400, "invalid", "Invalid input.", {"state": ["Unknown state."]})
                qs = qs.filter(state=state)
            if kind:
                if kind not in ArticleKind.values:
                    raise ApiError(400, "invalid", "Invalid input.", {"kind": ["Unknown type."]})
                qs = qs.filter(kind=kind)
        return qs

    def get_object(self):
        obj = self.get_queryset().filter(number=str(self.kwargs["number"]).upper()[:16]).first()
        if obj is None:
            raise ApiError(404, "not_found", "Not found.")
        return obj

    def _answer(self, article: Article, code: int = 200) -> Response:
        article = self.get_queryset().get(pk=article.pk)
        response = Response(ArticleSerializer(article).data, status=code)
        response["ETag"] = etag_for(article.version)
        return response

    def _write_data(self, request, partial: bool) -> dict:
        data = require_object(request.data)
        reject_unknown(data, WRITE_FIELDS | {"version"}, READ_ONLY - {"version"})
        ser = (ArticleWriteSerializer if partial else ArticleCreateSerializer)(
            data=data, partial=partial
        )
        ser.is_valid(raise_exception=True)
        fields = dict(ser.validated_data)
        if "groups" in fields:
            fields["groups"] = list(fields["groups"])
        if "related" in fields:
            fields["related"] = list(fields["related"])
        return fields

    @extend_schema(request=ArticleCreateSerializer, responses={201: ArticleSerializer})
    def create(self, request, *args, **kwargs):
        article = services.create_article(by=request.user, **self._write_data(request, False))
        return self._answer(article, status.HTTP_201_CREATED)

    def retrieve(self, request, *args, **kwargs):
        return self._answer(self.get_object())

    @extend_schema(
        request=ArticleWriteSerializer, responses={200: ArticleSerializer}, parameters=[IF_MATCH]
    )
    def partial_update(self, request, *args, **kwargs):
        article = self.get_object()
        expected = parse_if_match(request)
        fields = self._write_data(request, True)
        services.update_article(article, by=request.user, expected_version=expected, **fields)
        return self._answer(article)

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            raise ApiError(405, "method_not_allowed", "Use PATCH.")
        return super().update(request, *args, **kwargs)

    def _transition(self, request, fn, read_body=None):
        # The article first (404), then the version (If-Match), then the body: each
        # answer names what is wrong in the order a client would fix it.
        article = self.get_object()
        expected_version = parse_if_match(request)
        extra = read_body(request) if read_body is not None else {}
        fn(article, by=request.user, expected_version=expected_version, **extra)
        return self._answer(article)

    @extend_schema(
        request=None,
        responses={200: ArticleSerializer, **_STATE_CONFLICT},
        parameters=[IF_MATCH],
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, number=None):
        return self._transition(request, services.submit)

    @extend_schema(
        request=None,
        responses={200: ArticleSerializer, **_STATE_CONFLICT},
        parameters=[IF_MATCH],
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, number=None):
        return self._transition(request, services.publish)

    @extend_schema(
        request=SendBackSerializer,
        responses={200: ArticleSerializer, **_STATE_CONFLICT},
        parameters=[IF_MATCH],
    )
    @action(detail=True, methods=["post"])
    def send_back(self, request, number=None):
        def read_body(request) -> dict:
            data = require_object(request.data)
            reject_unknown(data, {"comment", "version"})
            ser = SendBackSerializer(data={"comment": data.get("comment", "")})
            ser.is_valid(raise_exception=True)
            return {"comment": ser.validated_data["comment"]}

        return self._transition(request, services.send_back, read_body)

    @extend_schema(
        request=None,
        responses={200: ArticleSerializer, **_STATE_CONFLICT},
        parameters=[IF_MATCH],
    )
    @action(detail=True, methods=["post"])
    def retire(self, request, number=None):
        return self._transition(request, services.retire)

    @extend_schema(request=None, responses={200: RevisionSerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=RevisionsPagination)
    def versions(self, request, number=None):
        """Published revisions, newest first, in keyset pages like every list."""
        reject_unknown(dict(request.query_params), {"cursor", "page_size", "ordering"})
        article = self.get_object()
        page = self.paginate_queryset(article.revisions.select_related("published_by"))
        return self.get_paginated_response(RevisionSerializer(page, many=True).data)

    @extend_schema(request=FeedbackSerializer, responses={201: FeedbackSerializer})
    @action(detail=True, methods=["post"])
    def feedback(self, request, number=None):
        article = self.get_object()
        data = require_object(request.data)
        reject_unknown(data, {"helpful", "comment"})
        ser = FeedbackSerializer(data=data)
        ser.is_valid(raise_exception=True)
        fb = services.rate(article, by=request.user, **ser.validated_data)
        return Response(
            {"helpful": fb.helpful, "comment": fb.comment}, status=status.HTTP_201_CREATED
        )

    # -- files and images ------------------------------------------------------------------
    @extend_schema(methods=["GET"], responses=ArticleAttachmentSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: ArticleAttachmentSerializer},
        description="Whoever may edit the article. 413 `too_large` above the upload limit.",
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="attachments",
        serializer_class=ArticleAttachmentSerializer,
        parser_classes=[MultiPartParser],
        filter_backends=[],
        pagination_class=ChronologicalPagination,
    )
    def attachments(self, request, number=None):
        article = self.get_object()
        if request.method == "POST":
            upload = uploaded_file(request)
            attachment = services.add_article_attachment(article, by=request.user, upload=upload)
            attachment.article = article
            return Response(
                ArticleAttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED
            )
        qs = article.attachments.select_related("uploaded_by")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ArticleAttachmentSerializer(page, many=True).data)

    def _attachment(self, key: str) -> ArticleAttachment:
        article = self.get_object()
        try:
            key = uuid.UUID(key)
        except ValueError:
            raise ApiError(404, "not_found", "Not found.") from None
        attachment = article.attachments.filter(storage_key=key).first()
        if attachment is None:
            raise ApiError(404, "not_found", "Not found.")
        return attachment

    @extend_schema(
        request=None,
        responses={204: None},
        parameters=[OpenApiParameter("key", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        description="Whoever may edit the article.",
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"attachments/(?P<key>[0-9a-fA-F-]{32,36})",
        filter_backends=[],
    )
    def attachment(self, request, number=None, key=None):
        services.remove_article_attachment(self._attachment(key), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        parameters=[OpenApiParameter("key", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        description="The file, for whoever may read the article (404 otherwise); the same "
        "headers as ticket attachments: always `attachment`, `application/octet-stream`.",
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"attachments/(?P<key>[0-9a-fA-F-]{32,36})/download",
        url_name="attachment-download",
        filter_backends=[],
    )
    def attachment_download(self, request, number=None, key=None):
        attachment = self._attachment(key)
        # A program asked for the file: always a download, whatever the file is (the
        # browser address, ``web_url``, shows safe images inline for the body).
        return article_file_response(
            request.user, attachment.article.number, key, inline_images=False
        )


class SearchHitSerializer(serializers.Serializer):
    kind = serializers.CharField()
    number = serializers.CharField()
    title = serializers.CharField()
    snippet = serializers.CharField(help_text="HTML: escaped text with <mark> around matches.")
    web_url = serializers.URLField()


class SearchResultsSerializer(serializers.Serializer):
    results = SearchHitSerializer(many=True)


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=200, help_text="Words to find.")
    kind = serializers.ChoiceField(
        choices=list(search.searchable_kinds()), required=False, allow_blank=True
    )
    type = serializers.ChoiceField(
        choices=list(ArticleKind.values),
        required=False,
        allow_blank=True,
        help_text="Articles of this type.",
    )
    category = serializers.IntegerField(required=False, help_text="Articles in this category (id).")
    tag = serializers.CharField(
        required=False, allow_blank=True, help_text="Articles with this tag."
    )


class SearchView(APIView):
    """Full-text search across what the caller may see: articles; incidents for agents."""

    @extend_schema(parameters=[SearchQuerySerializer], responses={200: SearchResultsSerializer})
    def get(self, request):
        unknown = set(request.query_params) - {"q", "kind", "type", "category", "tag"}
        if unknown:
            raise ApiError(
                400, "invalid", "Unknown query parameter.",
                {name[:100]: ["Unknown query parameter."] for name in sorted(unknown)[:20]},
            )  # fmt: skip
        q = request.query_params.get("q", "")
        if not q.strip():
            raise ApiError(400, "invalid", "Invalid input.", {"q": ["Type something to search."]})
        if len(q) > search.MAX_QUERY:
            raise ApiError(400, "invalid", "Invalid input.", {"q": ["At most 200 characters."]})
        kind = request.query_params.get("kind")
        if kind and kind not in search.searchable_kinds():
            raise ApiError(
                400,
                "invalid",
                "Invalid input.",
                {"kind": [f"One of: {', '.join(search.searchable_kinds())}."]},
            )
        filters = SearchFilterForm(request.query_params)
        if not filters.is_valid():
            raise ApiError(400, "invalid", "Invalid input.", dict(filters.errors))
        narrowed = filters.search_kwargs()
        if narrowed:
            # Type, category and tag are articles' fields: only articles can match them.
            if kind and kind != "article":
                raise ApiError(
                    400, "invalid", "Invalid input.",
                    {"kind": ["type, category and tag filter articles only."]},
                )  # fmt: skip
            hits = search.search_articles(request.user, q, **narrowed)
        else:
            hits = search.search(request.user, q, kinds=(kind,) if kind else None)
        return Response({"results": SearchHitSerializer(hits, many=True).data})


def register(router) -> None:
    router.register("articles", ArticleViewSet, basename="article")
