from __future__ import annotations

from django.http import HttpRequest

from mainspring.identity.policy import is_agent


def mainspring(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    return {"is_agent": is_agent(user)}
