from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from mainspring.core import views as core_views

admin.site.site_header = "Mainspring administration"
admin.site.site_title = "Mainspring"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("tickets/<str:number>/", core_views.ticket_redirect, name="ticket-detail"),
    path("jump/", core_views.jump, name="jump"),
    path("attachments/<uuid:key>/", core_views.download_attachment, name="attachment-download"),
    path("", include("mainspring.identity.urls")),
    path("incidents/", include("mainspring.incidents.urls")),
    path("knowledge/", include("mainspring.knowledge.urls")),
    path("portal/knowledge/", include("mainspring.knowledge.portal_urls")),
    path("sla/", include("mainspring.sla.urls")),
    path("portal/", include("mainspring.portal.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("mainspring.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # A browser without a session is sent to sign in (and back), not shown a JSON 401.
    path(
        "api/docs/",
        login_required(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("api/", RedirectView.as_view(url="/api/docs/", permanent=False)),
]

handler400 = "mainspring.core.views.bad_request"
handler403 = "mainspring.core.views.permission_denied"
handler404 = "mainspring.core.views.page_not_found"
handler500 = "mainspring.core.views.server_error"
