from django.urls import path

from . import views

app_name = "sla"

urlpatterns = [
    path("report/", views.report, name="report"),
]
