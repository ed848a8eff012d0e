"""Sign-in lockout: a username at one address, and an address only at a much higher count.

django-axes counts failed sign-ins (login page and ``POST /api/v1/auth/token/``) per
client address, as ``core.client_address`` resolves it behind a trusted proxy.

- ``MAINSPRING_LOGIN_FAILURE_LIMIT`` (5) failures for one username from one address lock
  that username *at that address*. Someone guessing at a colleague's account cannot lock
  the colleague out from their own desk, and five typos in made-up names lock nobody else.
- ``MAINSPRING_LOGIN_ADDRESS_FAILURE_LIMIT`` (50) failures from one address, whatever the
  usernames, lock that address. This stops one password tried on many accounts (password
  spraying) while an office behind one NAT address can make many honest typos first; a
  successful sign-in clears only the signing-in user's own failures, so an attacker cannot
  reset the address count with an account of their own.

The trade-off: guessing one account's password from many addresses (a botnet) is not
stopped by a per-account lock, because that lock is exactly what lets anyone lock out
anyone. Long passwords (the validators) are the defence there.
"""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import QuerySet, Sum

# django-axes' AccessAttempt.username column.
RECORDED_USERNAME_MAX = 255


def recorded_username(request, credentials: dict | None = None) -> str | None:
    """The username a sign-in attempt is counted under (``AXES_USERNAME_CALLABLE``):
    as typed, cut to the column that stores it. Axes cuts the user agent and the path
    itself but not this, so a 300-character name was a database error, not a failure
    counted. (No real username is that long: ours are at most 150.)"""
    if credentials:
        username = credentials.get(settings.AXES_USERNAME_FORM_FIELD)
    else:
        username = getattr(request, "data", request.POST).get(settings.AXES_USERNAME_FORM_FIELD)
    return username[:RECORDED_USERNAME_MAX] if isinstance(username, str) else username


def _failures(attempts: QuerySet) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


class LoginLockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler with a second, higher limit per address.

    ``AXES_LOCKOUT_PARAMETERS`` is username + address, so axes records, resets and
    reports per username at an address; this adds the per-address count when deciding.
    """

    def get_failures(self, request, credentials: dict | None = None) -> int:
        address = request.axes_ip_address
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
        if address is None:
            recent = recent.filter(ip_address__isnull=True)
        else:
            recent = recent.filter(ip_address=address)
        username = get_client_username(request, credentials)
        for_username = _failures(recent.filter(username=username))
        address_limit = settings.LOGIN_ADDRESS_FAILURE_LIMIT
        if address_limit and _failures(recent) >= address_limit:
            # Axes compares one number with one limit: report the address's lock as
            # this username reaching its own.
            return max(for_username, get_failure_limit(request, credentials))
        return for_username
