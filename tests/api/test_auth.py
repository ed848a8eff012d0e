"""POST /api/v1/auth/token/ and /api/v1/tokens/: obtaining, listing and revoking tokens."""

from __future__ import annotations

from rest_framework.test import APIClient

from mainspring.identity.models import ApiToken, hash_token

from .helpers import assert_error

TOKEN_URL = "/api/v1/auth/token/"


def test_obtain_token_and_use_it(requester, password):
    r = APIClient().post(
        TOKEN_URL, {"username": "alice", "password": password, "name": "cli"}, format="json"
    )
    assert r.status_code == 201, r.json()
    raw = r.json()["token"]
    assert r["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(user=requester)
    assert token.key_hash == hash_token(raw) and raw not in (token.key_hash, token.hint)
    assert raw.startswith(token.hint) and token.name == "cli"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/users/me/").json()["username"] == "alice"


def test_unknown_user_and_wrong_password_answer_the_same(requester, password):
    client = APIClient()
    wrong = client.post(TOKEN_URL, {"username": "alice", "password": "nope"}, format="json")
    unknown = client.post(TOKEN_URL, {"username": "ghost", "password": "nope"}, format="json")
    assert_error(wrong, 400, "invalid_credentials")
    assert wrong.status_code == unknown.status_code
    assert wrong.content == unknown.content
    assert not ApiToken.objects.exists()


def test_disabled_user_gets_the_same_answer(requester, password):
    requester.is_active = False
    requester.save()
    r = APIClient().post(TOKEN_URL, {"username": "alice", "password": password}, format="json")
    assert_error(r, 400, "invalid_credentials")


def test_missing_fields_are_400(db):
    r = APIClient().post(TOKEN_URL, {"username": "alice"}, format="json")
    assert "password" in assert_error(r, 400, "invalid")["fields"]


def test_lockout_after_repeated_failures_is_429(requester, password, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = APIClient()
    for _ in range(2):
        r = client.post(TOKEN_URL, {"username": "alice", "password": "bad"}, format="json")
        assert r.status_code == 400
    third = client.post(TOKEN_URL, {"username": "alice", "password": "bad"}, format="json")
    assert_error(third, 429, "throttled")
    # Even the right password is refused while locked.
    locked = client.post(TOKEN_URL, {"username": "alice", "password": password}, format="json")
    assert_error(locked, 429, "throttled")
    assert not ApiToken.objects.exists()


def test_token_list_never_shows_secrets_and_revoke_works(api_for, requester, other_requester):
    client = api_for(requester)
    created = client.post("/api/v1/tokens/", {"name": "laptop"}, format="json")
    assert created.status_code == 201
    raw = created.json()["token"]
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert {t["name"] for t in listed} == {"test", "laptop"}
    assert all(raw not in str(t) for t in listed)
    assert all(
        set(t) == {"id", "name", "hint", "created_at", "last_used_at", "revoked_at", "active"}
        for t in listed
    )
    # Someone else's token is not found, and cannot be revoked.
    foreign = api_for(other_requester)
    assert_error(foreign.delete(f"/api/v1/tokens/{created.json()['id']}/"), 404)
    assert client.delete(f"/api/v1/tokens/{created.json()['id']}/").status_code == 204
    laptop = APIClient()
    laptop.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert_error(laptop.get("/api/v1/incidents/"), 401)


def test_token_name_is_required(api_for, requester):
    r = api_for(requester).post("/api/v1/tokens/", {}, format="json")
    assert "name" in assert_error(r, 400)["fields"]
