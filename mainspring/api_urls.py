"""/api/v1/: every practice registers its viewsets on one router."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from mainspring.core import api_tasks
from mainspring.core.api_tickets import AttachmentDownloadView
from mainspring.identity import api as identity_api
from mainspring.incidents import api as incident_api
from mainspring.knowledge import api as knowledge_api
from mainspring.sla import api as sla_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
incident_api.register(router)
identity_api.register(router)
knowledge_api.register(router)
sla_api.register(router)
api_tasks.register(router)

urlpatterns = [
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
