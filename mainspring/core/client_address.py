"""Who is on the other end: the peer, or the client a trusted proxy says it forwarded.

Behind a reverse proxy every request comes from the proxy's address, so anything keyed
on ``REMOTE_ADDR`` (the sign-in lockout) would treat the whole organisation as one
client. The proxy appends the address it saw to ``X-Forwarded-For``; we believe that
header only when the peer is one of ``MAINSPRING_FORWARDED_ALLOW_IPS`` (the setting
gunicorn uses for ``X-Forwarded-Proto``), and walk it from the right, skipping our own
proxies: everything left of the first address we do not trust was written by the
client and proves nothing.

Every use of the client's address goes through ``client_address(request)``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def parse_allow_list(entries: tuple[str, ...]) -> tuple[bool, tuple[Network, ...]]:
    """``(trust_any_peer, networks)`` from ``FORWARDED_ALLOW_IPS`` entries.

    Raises ``ValueError`` for an entry that is neither ``*``, an address nor a network.
    """
    trust_any = False
    networks: list[Network] = []
    for entry in entries:
        if entry == "*":
            trust_any = True
        else:
            networks.append(ipaddress.ip_network(entry, strict=False))
    return trust_any, tuple(networks)


def parse_address(value: str) -> IPAddress | None:
    """An address from a peer or an ``X-Forwarded-For`` hop (``[v6]:port`` and
    ``v4:port`` allowed), IPv4-mapped IPv6 as IPv4; ``None`` if it is not one."""
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def resolve(remote_addr: str, forwarded_for: str, allow: Iterable[str]) -> str | None:
    """The client's address given the peer, its ``X-Forwarded-For`` and the trusted proxies.

    - An untrusted peer is the client, whatever header it sends.
    - A trusted peer's header is read right to left; the first hop that is not itself a
      trusted proxy is the client. With ``*`` (any peer trusted) there is no list of
      proxies to skip, so the right-most hop, the one our proxy appended, is the client.
    - A hop that is not an address stops the walk: the last good hop is the answer.
    - A peer without an IP address (a Unix socket) can only be a local proxy, so it is
      trusted, as gunicorn does.
    """
    trust_any, networks = parse_allow_list(tuple(allow))

    def trusted(address: IPAddress) -> bool:
        return trust_any or any(address in network for network in networks)

    peer = parse_address(remote_addr or "")
    if peer is not None and not trusted(peer):
        return str(peer)
    client = peer
    hops = [hop for hop in (forwarded_for or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            break
        client = address
        if trust_any or not trusted(address):
            break
    return str(client) if client is not None else None


def address_from_meta(meta: Mapping[str, str]) -> str | None:
    return resolve(
        meta.get("REMOTE_ADDR", ""),
        meta.get("HTTP_X_FORWARDED_FOR", ""),
        settings.FORWARDED_ALLOW_IPS,
    )


def client_address(request: HttpRequest) -> str | None:
    """The client's address for ``request`` (set once by ``ClientAddressMiddleware``).

    Also django-axes' ``AXES_CLIENT_IP_CALLABLE``, so the sign-in lockout counts per client.
    """
    known = getattr(request, "client_address", None)
    if known is not None:
        return known
    return address_from_meta(request.META)


class ClientAddressMiddleware:
    """Resolve the client's address once per request, as ``request.client_address``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.client_address = address_from_meta(request.META)
        return self.get_response(request)
