"""Per-process copies of small admin-managed tables that every ticket create reads.

The priority matrix and the active SLA definitions change a few times a year but were
read once per ticket created (a query and a dozen model instances each). A
``ReferenceCache`` keeps what its loader returned and loads again when:

* this process saves or deletes a row of one of the models it depends on (signals), so
  the admin page or API that made the change, and the tests, see it at once;
* ``settings.REFERENCE_CACHE_SECONDS`` (default 5) have passed, so a change made in
  another server process reaches this one within that time. 0 turns caching off.

What a loader returns is shared by every thread of the process: treat it as read-only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete, post_save

__all__ = ["ReferenceCache", "clear_all"]

T = TypeVar("T")

_ALL: list[ReferenceCache] = []


class ReferenceCache(Generic[T]):
    """``get()`` returns ``load()``'s result, reloaded as the module docstring says."""

    def __init__(
        self, name: str, load: Callable[[], T], depends_on: tuple[type[models.Model], ...]
    ):
        self.name = name
        self._load = load
        self._lock = threading.Lock()
        self._value: T | None = None
        self._loaded_at = 0.0
        # A change that rolls back still drops the copy: a harmless extra read.
        for model in depends_on:
            for signal in (post_save, post_delete):
                signal.connect(
                    self._changed, sender=model, weak=False, dispatch_uid=f"refcache:{name}"
                )
        _ALL.append(self)

    def _changed(self, **kwargs) -> None:
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._value = None
            self._loaded_at = 0.0

    def get(self) -> T:
        ttl = settings.REFERENCE_CACHE_SECONDS
        now = time.monotonic()
        with self._lock:
            if self._value is not None and ttl > 0 and now - self._loaded_at < ttl:
                return self._value
        value = self._load()
        with self._lock:
            self._value, self._loaded_at = value, now
        return value


def clear_all() -> None:
    """Drop every copy (tests: each test's database starts over)."""
    for cache in _ALL:
        cache.clear()
