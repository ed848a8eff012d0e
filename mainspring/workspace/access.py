"""Who may open the agent workspace's pages."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.shortcuts import redirect
from django.urls import NoReverseMatch

from mainspring.identity.policy import is_agent

__all__ = ["agent_page"]


def agent_page(view):
    """Agents only. Requesters are sent to the portal from a queue, 404 elsewhere."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not is_agent(request.user):
            if view.__name__ == "queue":
                try:
                    return redirect("portal:home")
                except NoReverseMatch:
                    pass
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper
