"""Per-browser-session state: each session (one browser tab) gets its own models.

The app's ``Layout`` creates one :class:`Session` with ``solara.use_memo`` (so it lives as long as
the tab, across page changes) and provides it through :data:`session_context`. Nothing here is
module-level state shared between sessions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import solara


class Session:
    """Objects one browser session keeps across page changes (its models, its last comparison)."""

    def __init__(self):
        self._items: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, name: str, factory: Callable[[], Any]) -> Any:
        with self._lock:
            if name not in self._items:
                self._items[name] = factory()
            return self._items[name]

    def set(self, name: str, value: Any) -> None:
        with self._lock:
            self._items[name] = value


session_context = solara.create_context(None)


def use_session() -> Session:
    """The current tab's session (a private one when a page is rendered on its own)."""
    provided = solara.use_context(session_context)
    own = solara.use_memo(Session, [])
    return provided if provided is not None else own
