"""Sign-in, sign-out, safe redirects, brute-force lockout and the demo-login hint."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from mainspring.identity.models import Role
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/login/"


def _post_login(client, username, password, *, ip="127.0.0.1", next_url=None, **extra):
    data = {"username": username, "password": password}
    url = LOGIN if next_url is None else f"{LOGIN}?next={next_url}"
    if next_url is not None:
        data["next"] = next_url
    return client.post(url, data, REMOTE_ADDR=ip, **extra)


def _normalise(html: str) -> str:
    # CSRF tokens are masked differently on every render; the username is echoed back
    # into the form on purpose. Everything else must be byte-identical.
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    html = re.sub(r'"X-CSRFToken": "[^"]+"', "", html)
    return re.sub(r'name="username" value="[^"]*"', 'name="username"', html)


def test_login_page_supports_password_managers(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'autocomplete="username"' in html
    assert 'autocomplete="current-password"' in html
    # Nothing blocks paste.
    assert "onpaste" not in html and "paste" not in html.lower()


def test_login_and_logout(client, requester):
    response = _post_login(client, requester.username, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get(reverse("account")).status_code == 200

    # Logging out by GET is refused: a link or an <img> cannot sign anyone out.
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    response = client.get(reverse("account"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_wrong_password_keeps_username_and_says_so(client, requester):
    response = _post_login(client, requester.username, "nope")
    assert response.status_code == 200
    html = response.content.decode()
    assert "did not match" in html
    assert f'value="{requester.username}"' in html
    assert "_auth_user_id" not in client.session


def test_local_next_is_followed(client, requester):
    response = _post_login(client, requester.username, PASSWORD, next_url="/portal/?x=1")
    assert response.status_code == 302
    assert response["Location"] == "/portal/?x=1"


@pytest.mark.parametrize(
    "evil",
    [
        "//evil.com",
        "https://evil.com/",
        "https://app@evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "http:///evil.com",
        "javascript:alert(1)",
        " //evil.com",
    ],
)
def test_offsite_next_is_ignored(client, requester, evil):
    response = _post_login(client, requester.username, PASSWORD, next_url=evil)
    assert response.status_code == 302
    location = response["Location"]
    assert location == reverse("home"), location
    # And the login form never echoes an unsafe target back into its hidden field.
    page = client.get(LOGIN + "?next=" + evil)
    assert "evil" not in page.content.decode() or page.status_code == 302


def test_demo_logins_listed_only_while_demo_users_exist(client):
    UserFactory(username="plainuser")
    html = client.get(LOGIN).content.decode()
    assert "Demo accounts" not in html

    UserFactory(username="demoagent", role=Role.AGENT, is_demo=True)
    UserFactory(username="gone", is_demo=True, is_active=False)
    html = client.get(LOGIN).content.decode()
    assert "Demo accounts" in html
    assert "demoagent" in html
    assert "<code>demo</code>" in html
    assert "gone" not in html  # a disabled demo account is not advertised
    assert "plainuser" not in html


def test_unknown_user_and_wrong_password_answer_identically(client, requester):
    UserFactory(username="disabled", is_active=False)
    wrong = _post_login(client, requester.username, "wrong", ip="10.0.0.1")
    unknown = _post_login(client, "nosuchuser", "wrong", ip="10.0.0.2")
    inactive = _post_login(client, "disabled", PASSWORD, ip="10.0.0.3")
    assert wrong.status_code == unknown.status_code == inactive.status_code == 200
    assert _normalise(wrong.content.decode()) == _normalise(unknown.content.decode())
    assert _normalise(wrong.content.decode()) == _normalise(inactive.content.decode())


def test_lockout_after_five_failures_refuses_even_the_right_password(client, requester):
    for _ in range(4):
        assert _post_login(client, requester.username, "wrong").status_code == 200
    fifth = _post_login(client, requester.username, "wrong")
    assert fifth.status_code == 429
    right = _post_login(client, requester.username, PASSWORD)
    assert right.status_code == 429
    html = right.content.decode()
    assert "Too many failed sign-in attempts" in html
    # The page still offers the form, with the username kept.
    assert 'name="password"' in html
    assert f'value="{requester.username}"' in html
    assert right["Retry-After"]
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_username_at_one_address(client, requester):
    for _ in range(5):
        _post_login(client, requester.username, "wrong", ip="10.1.0.1")
    assert _post_login(client, requester.username, PASSWORD, ip="10.1.0.1").status_code == 429
    # Someone guessing at alice's password does not lock alice out at her own desk...
    assert _post_login(client, requester.username, PASSWORD, ip="10.9.9.9").status_code == 302
    client.post(reverse("logout"))
    # ...nor anyone else at the guesser's address.
    other = UserFactory(username="carol")
    assert _post_login(client, other.username, PASSWORD, ip="10.1.0.1").status_code == 302


def test_address_limit_stops_one_password_on_many_accounts(client, requester):
    # 49 made-up or real names with one password from one address: no lock yet.
    for n in range(49):
        assert _post_login(client, f"someone{n}", "Winter2025!", ip="10.2.0.1").status_code == 200
    assert _post_login(client, "someone49", "Winter2025!", ip="10.2.0.1").status_code == 429
    # The 50th failure locks the address, whatever the username, even the right password.
    assert _post_login(client, requester.username, PASSWORD, ip="10.2.0.1").status_code == 429
    assert _post_login(client, requester.username, PASSWORD, ip="10.2.0.2").status_code == 302


def test_a_sign_in_does_not_reset_the_address_count(client, requester):
    attacker = UserFactory(username="mallory")
    for n in range(49):
        _post_login(client, f"someone{n}", "Winter2025!", ip="10.6.0.1")
    # The sprayer signs in with their own account: only mallory's failures would clear.
    assert _post_login(client, attacker.username, PASSWORD, ip="10.6.0.1").status_code == 302
    client.post(reverse("logout"))
    assert _post_login(client, "someone99", "Winter2025!", ip="10.6.0.1").status_code == 429
    assert _post_login(client, requester.username, PASSWORD, ip="10.6.0.1").status_code == 429


def test_a_locked_clients_retries_do_not_count_towards_its_address(client, requester, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 8
    script = UserFactory(username="backupjob")
    # A script with a stale password keeps retrying: it locks itself after 5...
    for _ in range(20):
        _post_login(client, script.username, "old-password", ip="10.7.0.1")
    assert _post_login(client, script.username, PASSWORD, ip="10.7.0.1").status_code == 429
    # ...but its 15 refused retries do not push the office's address to the limit of 8.
    assert _post_login(client, requester.username, PASSWORD, ip="10.7.0.1").status_code == 302


def test_locked_unknown_and_locked_known_user_answer_identically(client, requester):
    for _ in range(5):
        _post_login(client, requester.username, "wrong", ip="10.3.0.1")
        _post_login(client, "ghost", "wrong", ip="10.3.0.2")
    known = _post_login(client, requester.username, "wrong", ip="10.3.0.1")
    unknown = _post_login(client, "ghost", "wrong", ip="10.3.0.2")
    assert known.status_code == unknown.status_code == 429
    assert _normalise(known.content.decode()) == _normalise(unknown.content.decode())


def test_lockout_answers_json_for_api_clients(client, requester):
    for _ in range(5):
        _post_login(client, requester.username, "wrong", ip="10.4.0.1")
    response = _post_login(
        client, requester.username, PASSWORD, ip="10.4.0.1", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 429
    body = response.json()
    assert body["error"]["code"] == "throttled"
    assert body["error"]["fields"] == {}
    assert "Too many failed sign-in attempts" in body["error"]["message"]


def test_success_resets_the_failure_count(client, requester):
    for _ in range(4):
        _post_login(client, requester.username, "wrong", ip="10.5.0.1")
    assert _post_login(client, requester.username, PASSWORD, ip="10.5.0.1").status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        assert _post_login(client, requester.username, "wrong", ip="10.5.0.1").status_code == 200
    assert _post_login(client, requester.username, PASSWORD, ip="10.5.0.1").status_code == 302


# --- behind the reverse proxy ------------------------------------------------------------
# The test client's peer is 127.0.0.1, the default MAINSPRING_FORWARDED_ALLOW_IPS: our
# proxy. nginx appends the address it saw to X-Forwarded-For.

PROXY = "127.0.0.1"


def _via_proxy(client, username, password, forwarded_for, **extra):
    return _post_login(
        client, username, password, ip=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for, **extra
    )


def test_failures_from_one_forwarded_client_do_not_lock_another(client, requester):
    api_client = APIClient()
    # Five wrong passwords for made-up names, and five for alice, from one client...
    for _ in range(5):
        _via_proxy(client, "nobody", "wrong", "203.0.113.5")
        _via_proxy(client, requester.username, "wrong", "203.0.113.5")
    assert _via_proxy(client, requester.username, PASSWORD, "203.0.113.5").status_code == 429
    # ...lock neither the sign-in page nor the token endpoint for everyone else.
    assert _via_proxy(client, requester.username, PASSWORD, "198.51.100.7").status_code == 302
    response = api_client.post(
        "/api/v1/auth/token/",
        {"username": requester.username, "password": PASSWORD},
        format="json",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.8",
    )
    assert response.status_code == 201
    locked = api_client.post(
        "/api/v1/auth/token/",
        {"username": requester.username, "password": PASSWORD},
        format="json",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="203.0.113.5",
    )
    assert locked.status_code == 429


def test_an_untrusted_peers_forwarded_for_is_ignored(client, requester):
    # A client talking to us directly cannot pose as many clients.
    for n in range(5):
        _post_login(
            client, requester.username, "wrong", ip="10.8.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"
        )
    response = _post_login(
        client, requester.username, PASSWORD, ip="10.8.0.1", HTTP_X_FORWARDED_FOR="192.0.2.200"
    )
    assert response.status_code == 429


def test_spoofed_left_most_entries_do_not_help(client, requester):
    # The client writes whatever it likes to the left; our proxy appends the real address.
    for n in range(5):
        _via_proxy(client, requester.username, "wrong", f"192.0.2.{n}, 203.0.113.9")
    assert (
        _via_proxy(client, requester.username, PASSWORD, "192.0.2.77, 203.0.113.9").status_code
        == 429
    )
    assert _via_proxy(client, requester.username, PASSWORD, "203.0.113.10").status_code == 302


def test_a_proxy_outside_the_allow_list_is_one_client(client, requester, settings):
    settings.FORWARDED_ALLOW_IPS = ["10.10.0.0/16"]
    # The default 127.0.0.1 is no longer trusted: its forwarded clients are all one.
    for n in range(5):
        _via_proxy(client, requester.username, "wrong", f"203.0.113.{n}")
    assert _via_proxy(client, requester.username, PASSWORD, "203.0.113.50").status_code == 429
    # A proxy inside the configured network is believed.
    response = _post_login(
        client, requester.username, PASSWORD, ip="10.10.3.4", HTTP_X_FORWARDED_FOR="203.0.113.51"
    )
    assert response.status_code == 302


def test_a_username_longer_than_any_account_is_a_field_error(client):
    """Not a sign-in attempt at all (PostgreSQL refused to record a 300-character name:
    a 500 on the public sign-in page)."""
    from axes.models import AccessAttempt

    response = _post_login(client, "x" * 300, "wrong")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ensure this value has at most 150 characters" in html
    assert 'aria-invalid="true"' in html
    assert not AccessAttempt.objects.exists()


def test_a_long_username_reaching_the_lockout_is_recorded_cut_to_its_column(rf):
    """Defence in depth for any other way into ``authenticate`` (the token endpoint's
    serializer already refuses over 150): the failure is counted, under the first 255."""
    from axes.models import AccessAttempt
    from django.contrib.auth import authenticate

    request = rf.post(LOGIN, REMOTE_ADDR="10.1.1.1")
    assert authenticate(request, username="y" * 300, password="wrong") is None
    (attempt,) = AccessAttempt.objects.all()
    assert attempt.username == "y" * 255
    assert attempt.failures_since_start == 1
