"""Sign in and out, the account page (password, API tokens) and the lockout answer."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from . import services
from .forms import ChangePasswordForm, LoginForm, TokenForm
from .models import ApiToken, Membership, User

LOCKED_MESSAGE = (
    "Too many failed sign-in attempts. For your security, signing in is paused for "
    "{minutes} minutes. Try again later, or ask the service desk to unlock your account."
)


def _demo_users():
    # Only advertised while the demo command's accounts exist (issue 2, section 9).
    return list(
        User.objects.filter(is_demo=True, is_active=True)
        .order_by("role", "username")
        .only("username", "role", "display_name")
    )


class LoginView(auth_views.LoginView):
    """Django's login view: it only follows a ``next`` that stays on this host."""

    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["demo_users"] = _demo_users()
        return context


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5): a link or an image cannot sign anyone out."""


def _lockout_minutes() -> int:
    cooloff = getattr(settings, "AXES_COOLOFF_TIME", None)
    try:
        return max(1, round(float(cooloff) * 60))
    except (TypeError, ValueError):
        return 15


def _wants_json(request: HttpRequest) -> bool:
    return (
        request.path.startswith("/api/")
        or "application/json" in request.headers.get("Accept", "")
        or request.content_type == "application/json"
    )


def locked_out(request: HttpRequest, original_response=None, credentials=None, *args, **kwargs):
    """django-axes' answer once a username or an address has too many failures.

    The same status and words whoever the username belongs to (or if nobody has it),
    so a lockout reveals nothing about which accounts exist.
    """
    message = LOCKED_MESSAGE.format(minutes=_lockout_minutes())
    if _wants_json(request):
        response = JsonResponse(
            {"error": {"code": "throttled", "message": message, "fields": {}}}, status=429
        )
        response["Retry-After"] = str(_lockout_minutes() * 60)
        return response
    username = ""
    if request.method == "POST":
        username = (request.POST.get("username") or "")[:150]
    form = LoginForm(request, initial={"username": username})
    context = {
        "form": form,
        "locked_message": message,
        "demo_users": _demo_users(),
        "next": "",
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(_lockout_minutes() * 60)
    return response


@login_required
@never_cache
def account(request: HttpRequest) -> HttpResponse:
    """Who am I, my groups, my password and my API tokens."""
    return _render_account(request, TokenForm())


def _render_account(
    request: HttpRequest, token_form: TokenForm, *, raw_token: str = "", status: int = 200
) -> HttpResponse:
    user = request.user
    memberships = (
        Membership.objects.filter(user=user).select_related("group").order_by("group__name")
    )
    tokens = ApiToken.objects.filter(user=user).order_by("-created_at")[:100]
    response = render(
        request,
        "registration/account.html",
        {
            "memberships": memberships,
            "tokens": tokens,
            "token_form": token_form,
            "raw_token": raw_token,
        },
        status=status,
    )
    # The page may hold a token secret: never keep it in any cache.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
@never_cache
def token_create(request: HttpRequest) -> HttpResponse:
    """Create a token and show its secret in this response only; it is never stored."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _render_account(request, form, status=400)
    try:
        token, raw = services.create_api_token(request.user, form.cleaned_data["name"])
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _render_account(request, form, status=400)
    messages.success(request, f"Token “{token.name}” created. Copy it now.")
    return _render_account(request, TokenForm(), raw_token=raw)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    # Scoped to the owner: another person's token id is simply not found.
    token = ApiToken.objects.filter(user=request.user, pk=pk).first()
    if token is None:
        raise Http404
    services.revoke_api_token(token, by=request.user)
    messages.success(request, f"Token “{token.name}” revoked. It no longer works.")
    return redirect("account")


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
@never_cache
def password_change(request: HttpRequest) -> HttpResponse:
    """Change the password; other sessions end and API tokens are revoked."""
    if request.method == "POST":
        form = ChangePasswordForm(request.user, request.POST)
        if form.is_valid():
            services.change_password(request.user, form.cleaned_data["new_password1"])
            # Keep this session; every other session's hash no longer matches.
            update_session_auth_hash(request, request.user)
            messages.success(
                request, "Password changed. Your API tokens were revoked; create new ones."
            )
            return redirect("account")
        status = 400
    else:
        form = ChangePasswordForm(request.user)
        status = 200
    return render(request, "registration/password_change.html", {"form": form}, status=status)
