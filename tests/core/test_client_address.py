"""The client's address: X-Forwarded-For believed only from trusted proxies, right to left."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from mainspring.core.client_address import ClientAddressMiddleware, client_address, resolve

LOCAL = ["127.0.0.1"]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "allow", "expected"),
    [
        # No proxy: the peer is the client, whatever it claims.
        ("203.0.113.5", "", LOCAL, "203.0.113.5"),
        ("203.0.113.5", "198.51.100.1", LOCAL, "203.0.113.5"),
        # Our proxy on the same host: the hop it appended.
        ("127.0.0.1", "198.51.100.1", LOCAL, "198.51.100.1"),
        ("127.0.0.1", "", LOCAL, "127.0.0.1"),
        # Left-most entries are the client's own writing: skipped.
        ("127.0.0.1", "10.0.0.1, 1.2.3.4, 198.51.100.1", LOCAL, "198.51.100.1"),
        # A chain of our proxies (a load balancer in front of nginx) is walked through.
        ("127.0.0.1", "198.51.100.1, 10.0.5.5", ["127.0.0.1", "10.0.0.0/8"], "198.51.100.1"),
        ("127.0.0.1", "10.0.9.9, 10.0.5.5", ["127.0.0.1", "10.0.0.0/8"], "10.0.9.9"),
        # ...but a client-written entry that happens to be in our network is not skipped
        # past the real client.
        ("127.0.0.1", "10.0.0.7, 198.51.100.1", ["127.0.0.1", "10.0.0.0/8"], "198.51.100.1"),
        # "*": any peer is a proxy, and the right-most hop is the client (one proxy).
        ("192.0.2.44", "1.2.3.4, 198.51.100.1", ["*"], "198.51.100.1"),
        ("192.0.2.44", "", ["*"], "192.0.2.44"),
        # Garbage stops the walk at the last good hop.
        ("127.0.0.1", "198.51.100.1, unknown", LOCAL, "127.0.0.1"),
        ("127.0.0.1", "nonsense, 198.51.100.1", LOCAL, "198.51.100.1"),
        ("127.0.0.1", " , ,198.51.100.1,", LOCAL, "198.51.100.1"),
        # Ports and IPv6 forms; IPv4-mapped IPv6 is the IPv4 address.
        ("127.0.0.1", "198.51.100.1:4711", LOCAL, "198.51.100.1"),
        ("127.0.0.1", "[2001:db8::1]:443", LOCAL, "2001:db8::1"),
        ("127.0.0.1", "2001:DB8:0:0::1", LOCAL, "2001:db8::1"),
        ("::ffff:203.0.113.5", "9.9.9.9", LOCAL, "203.0.113.5"),
        ("::1", "198.51.100.1", ["::1"], "198.51.100.1"),
        # A Unix socket has no address: only a local proxy can reach it (as gunicorn).
        ("", "198.51.100.1", LOCAL, "198.51.100.1"),
        ("", "", LOCAL, None),
    ],
)
def test_resolve(peer, forwarded_for, allow, expected):
    assert resolve(peer, forwarded_for, allow) == expected


def test_the_middleware_resolves_the_address_once_per_request():
    seen = []
    middleware = ClientAddressMiddleware(lambda request: seen.append(request) or HttpResponse())
    request = RequestFactory().get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.3"
    )
    middleware(request)
    assert seen[0].client_address == "198.51.100.3"
    # Everything else asks client_address(), which answers with the resolved value.
    request.client_address = "192.0.2.1"
    assert client_address(request) == "192.0.2.1"
    # Without the middleware (a request built elsewhere) it resolves from the headers.
    bare = RequestFactory().get("/", REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert client_address(bare) == "192.0.2.9"


def test_a_bad_allow_list_stops_start_up(tmp_path):
    # A host name would silently trust nobody (or, worse, be guessed at): refuse it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAINSPRING_")}
    env.update(
        MAINSPRING_DATA_DIR=str(tmp_path),
        MAINSPRING_FORWARDED_ALLOW_IPS="127.0.0.1,proxy.example.com",
    )
    result = subprocess.run(
        [sys.executable, "-c", "import mainspring.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "'proxy.example.com' is not an address" in result.stderr
    env["MAINSPRING_FORWARDED_ALLOW_IPS"] = "127.0.0.1, 10.0.0.0/8, ::1, *"
    ok = subprocess.run([sys.executable, "-c", "import mainspring.settings"], env=env, timeout=60)
    assert ok.returncode == 0
