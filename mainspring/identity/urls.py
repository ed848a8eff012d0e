from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("account/", views.account, name="account"),
    path("account/password/", views.password_change, name="password-change"),
    path("account/tokens/", views.token_create, name="token-create"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
]
