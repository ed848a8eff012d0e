from django.urls import path

from . import views

app_name = "kb_portal"

urlpatterns = [
    path("", views.portal_home, name="home"),
    path("suggest/", views.suggest, name="suggest"),
    path("<str:number>/", views.portal_article, name="article"),
    path("<str:number>/feedback/", views.feedback, name="feedback"),
]
