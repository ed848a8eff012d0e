from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from mainspring.identity.policy import is_agent

from . import registry
from .drafts import take_drafts_sent


def mainspring(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    return {
        "is_agent": is_agent(user),
        # The navigation, "New ..." menu and jump box list every registered practice.
        "practices": registry.with_screens(),
        # Taken from the session only by a template that renders it (base.html, the
        # ticket part), so a page part without the marker does not swallow it.
        "drafts_sent": SimpleLazyObject(lambda: take_drafts_sent(request)),
    }
