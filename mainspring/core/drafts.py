"""Drafts: unsent text is kept in the browser (``app.js``) until the server took it.

A form marked ``data-draft="<key>"`` saves what is typed in ``localStorage`` (per user)
and restores it after a reload, a navigation or a sign-in after the session expired. The
browser cannot tell a successful post from a lost one (an expired session answers with
the sign-in page), so the view that accepted the text says so: ``draft_sent(request,
key)``. The next page rendered for that user, a full page after a redirect or an HTMX
part, carries the key in ``data-drafts-sent`` and the browser drops the draft.
"""

from __future__ import annotations

from django.http import HttpRequest

__all__ = ["draft_sent", "take_drafts_sent"]

_SESSION_KEY = "drafts_sent"


def draft_sent(request: HttpRequest, key: str) -> None:
    """The text of the form ``key`` was accepted: its draft can go."""
    sent = list(request.session.get(_SESSION_KEY, []))
    if key not in sent:
        sent.append(key)
    request.session[_SESSION_KEY] = sent[-20:]


def take_drafts_sent(request: HttpRequest) -> str:
    """The keys to drop, space-separated, once: they are rendered into the next page."""
    session = getattr(request, "session", None)
    if session is None or _SESSION_KEY not in session:
        return ""
    return " ".join(session.pop(_SESSION_KEY))
