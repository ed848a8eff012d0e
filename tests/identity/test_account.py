"""The account page: profile, password change, API tokens created once, listed, revoked."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from mainspring.identity import services
from mainspring.identity.models import ApiToken, hash_token
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

API_PROBE = "/api/v1/incidents/"


def _bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _raw_from(html: str) -> str:
    match = re.search(r'id="new-token"[^>]*value="(ms_[^"]+)"', html)
    assert match, "the new token is shown"
    return match.group(1)


def test_account_requires_login(client):
    response = client.get(reverse("account"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_account_shows_name_role_and_groups(client, manager):
    client.force_login(manager)
    response = client.get(reverse("account"))
    html = response.content.decode()
    assert response.status_code == 200
    assert manager.name in html
    assert "Group manager" in html
    assert "Service Desk (manager)" in html
    assert reverse("password-change") in html
    assert "no-store" in response["Cache-Control"]


def test_token_is_shown_once_then_only_its_hint(client, requester):
    client.force_login(requester)
    response = client.post(reverse("token-create"), {"name": "backup script"})
    assert response.status_code == 200
    html = response.content.decode()
    raw = _raw_from(html)
    assert "will not be shown again" in html
    assert "no-store" in response["Cache-Control"]

    token = ApiToken.objects.get(user=requester)
    assert token.name == "backup script"
    assert token.key_hash == hash_token(raw)
    assert raw not in token.key_hash and raw != token.hint
    assert raw.startswith(token.hint)

    again = client.get(reverse("account")).content.decode()
    assert raw not in again
    assert token.hint in again
    assert "backup script" in again

    # The token works for the API.
    assert _bearer(raw).get(API_PROBE).status_code == 200


def test_token_name_is_required_and_errors_keep_input(client, requester):
    client.force_login(requester)
    response = client.post(reverse("token-create"), {"name": "   "})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required" in html
    assert 'aria-invalid="true"' in html
    assert not ApiToken.objects.exists()

    long_name = "x" * 101
    response = client.post(reverse("token-create"), {"name": long_name})
    assert response.status_code == 400
    assert long_name in response.content.decode()  # kept for the person to shorten
    assert not ApiToken.objects.exists()


def test_revoked_token_gets_401_at_once(client, requester):
    client.force_login(requester)
    raw = _raw_from(client.post(reverse("token-create"), {"name": "ci"}).content.decode())
    api = _bearer(raw)
    assert api.get(API_PROBE).status_code == 200

    token = ApiToken.objects.get(user=requester)
    response = client.post(reverse("token-revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api.get(API_PROBE).status_code == 401
    assert "Revoked" in client.get(reverse("account")).content.decode()


def test_revoke_is_post_only_and_another_persons_token_is_404(client, requester, other_requester):
    theirs, _raw = services.create_api_token(other_requester, "theirs")
    client.force_login(requester)
    assert client.get(reverse("token-revoke", args=[theirs.pk])).status_code == 405
    assert client.post(reverse("token-revoke", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("token-revoke", args=[999999])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_services_refuse_bad_names_and_foreign_revokes(requester, other_requester, admin):
    with pytest.raises(ValidationError):
        services.create_api_token(requester, "")
    token, _raw = services.create_api_token(requester, "mine")
    with pytest.raises(PermissionDenied):
        services.revoke_api_token(token, by=other_requester)
    first = services.revoke_api_token(token, by=admin).revoked_at
    assert first is not None
    # Revoking twice keeps the first time.
    assert services.revoke_api_token(token, by=requester).revoked_at == first


def test_password_change(client, requester):
    client.force_login(requester)
    _token, raw = services.create_api_token(requester, "old")
    url = reverse("password-change")
    page = client.get(url).content.decode()
    assert 'autocomplete="current-password"' in page
    assert 'autocomplete="new-password"' in page

    new = "a much better passphrase 42"
    response = client.post(
        url, {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account")
    requester.refresh_from_db()
    assert requester.check_password(new)
    # This session stays signed in.
    assert client.get(reverse("account")).status_code == 200
    # Tokens die with the old password.
    assert _bearer(raw).get(API_PROBE).status_code == 401


def test_password_change_ends_other_sessions(client, requester):
    from django.test import Client

    other = Client()
    other.force_login(requester)
    client.force_login(requester)
    new = "a much better passphrase 42"
    client.post(
        reverse("password-change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert other.get(reverse("account")).status_code == 302


def test_password_change_errors(client, requester):
    client.force_login(requester)
    response = client.post(
        reverse("password-change"),
        {"old_password": "wrong", "new_password1": "short", "new_password2": "other"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Your old password was entered incorrectly" in html
    assert "error-summary" in html
    requester.refresh_from_db()
    assert requester.check_password(PASSWORD)
