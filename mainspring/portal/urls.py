from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("report/", views.report, name="report"),
    path("tickets/<str:number>/", views.ticket, name="ticket"),
    path("tickets/<str:number>/comment/", views.comment, name="comment"),
    path("tickets/<str:number>/attach/", views.attach, name="attach"),
    path("tickets/<str:number>/reopen/", views.reopen, name="reopen"),
    path("tickets/<str:number>/confirm/", views.confirm, name="confirm"),
]
