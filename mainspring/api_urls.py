"""/api/v1/: every practice registers its viewsets on one router."""

from django.urls import include, path, reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from mainspring.core import api_tasks, registry
from mainspring.core.api_tickets import AttachmentDownloadView
from mainspring.identity import api as identity_api
from mainspring.knowledge import api as knowledge_api
from mainspring.sla import api as sla_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
for practice in registry.practices():
    practice.load(practice.api_register)(router)
identity_api.register(router)
knowledge_api.register(router)
sla_api.register(router)
api_tasks.register(router)

# Addresses that are not router collections: name in the root listing -> URL name.
EXTRA_ENDPOINTS = {
    "auth-token": "api-token",
    "search": "api-search",
    "sla-report": "api-sla-report",
    "schema": "api-schema",
    "docs": "api-docs",
}


def _root_entries() -> dict[str, str]:
    entries = {prefix: f"{basename}-list" for prefix, _viewset, basename in router.registry}
    entries.update(EXTRA_ENDPOINTS)
    return dict(sorted(entries.items()))


class ApiRootView(APIView):
    """``GET /api/v1/``: the address of every collection and of the other entry points.

    Open to anyone, like the OpenAPI file in the repository: it names the resources and
    shows nothing in them. Tokens are not even read here.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "ApiRoot", {name: serializers.URLField() for name in _root_entries()}
        ),
        auth=[],
        operation_id="api_root",
        tags=["api"],
    )
    def get(self, request) -> Response:
        return Response(
            {
                name: request.build_absolute_uri(reverse(url_name))
                for name, url_name in _root_entries().items()
            }
        )


urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("auth/token/", identity_api.ObtainTokenView.as_view(), name="api-token"),
    path(
        "attachments/<uuid:key>/download/",
        AttachmentDownloadView.as_view(),
        name="api-attachment-download",
    ),
    path("search/", knowledge_api.SearchView.as_view(), name="api-search"),
    path("sla-report/", include("mainspring.sla.api_report")),
    path(
        "incidents/<str:number>/slas/",
        sla_api.ticket_timers_view("incident").as_view(),
        name="api-incident-slas",
    ),
    path("", include(router.urls)),
]
