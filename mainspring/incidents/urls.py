"""The agent workspace for incidents (HTML). The API lives under /api/v1/incidents/."""

from django.urls import path

from mainspring.core import views as core_views

from . import views

app_name = "incidents"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("new/", views.create, name="create"),
    # The jump box is every practice's (core.views.jump); kept here for old links.
    path("jump/", core_views.jump, name="jump"),
    path("bulk/", views.bulk, name="bulk"),
    path("views/", views.save_view, name="save-view"),
    path("views/<int:view_id>/delete/", views.delete_view, name="delete-view"),
    path("subcategories/", views.subcategory_options, name="subcategories"),
    path("priority/", views.priority_preview, name="priority"),
    path("mentions/", views.mention_suggestions, name="mentions"),
    path("<str:number>/", views.detail, name="detail"),
    path("<str:number>/edit/", views.edit, name="edit"),
    path("<str:number>/do/<slug:name>/", views.transition, name="transition"),
    path("<str:number>/comment/", views.comment, name="comment"),
    path("<str:number>/assign/", views.assign, name="assign"),
    path("<str:number>/attach/", views.attach, name="attach"),
    path("<str:number>/watch/", views.watch, name="watch"),
    path("<str:number>/link/", views.link, name="link"),
    path("<str:number>/presence/", views.presence, name="presence"),
]
