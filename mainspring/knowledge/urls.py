from django.urls import path

from . import views

app_name = "knowledge"

urlpatterns = [
    path("", views.article_list, name="list"),
    path("new/", views.create, name="create"),
    path("review/", views.review_queue, name="review"),
    path("report/", views.report, name="report"),
    path("incident/<str:number>/search/", views.incident_panel, name="incident-search"),
    path("incident/<str:number>/draft/", views.draft_from_incident, name="incident-draft"),
    path(
        "incident/<str:number>/resolved-by/<str:article_number>/",
        views.resolved_by,
        name="resolved-by",
    ),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/edit/", views.edit, name="edit"),
    path("<str:number>/history/", views.history, name="history"),
    path("<str:number>/files/", views.upload_file, name="upload"),
    path("<str:number>/files/<uuid:key>/", views.download_file, name="file"),
    path("<str:number>/files/<uuid:key>/remove/", views.remove_file, name="remove-file"),
    path(
        "<str:number>/<str:name>/",
        views.transition,
        name="transition",
    ),
]
