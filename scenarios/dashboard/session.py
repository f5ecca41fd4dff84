"""Per-browser-session state: each session (one browser tab) gets its own models.

The app's ``Layout`` creates one :class:`Session` with ``solara.use_memo`` (so it lives as long as
the tab, across page changes) and provides it through :data:`session_context`. Nothing here is
module-level state shared between sessions, and :func:`use_task` (the pages' background work)
keeps nothing of a session once it has ended.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import solara
import solara.lab
import solara.lifecycle

log = logging.getLogger(__name__)


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


def use_task(f: Callable[[], Any], dependencies: list | None, prefer_threaded: bool = True):
    """``solara.lab.use_task`` that lets go of its task when the component goes away.

    In Solara 1.58.2 (the newest with offline assets, ``solara-assets``) every ``use_task`` mount
    registers a reset callback in the process-wide ``solara.lifecycle._on_kernel_start_callbacks``
    and never removes it: the task, its function's closure (a session's whole model) and its last
    result stay in memory until the server stops, long after the browser tab closed. Fixed
    upstream in Solara 1.59.2 (widgetti/solara#1180); this does what that fix does on unmount,
    which also runs when a session ends.
    """
    task = solara.lab.use_task(f, dependencies=dependencies, prefer_threaded=prefer_threaded)

    def release_on_unmount():
        return lambda: _release(task)

    solara.use_effect(release_on_unmount, [])
    return task


def _release(task) -> None:
    """Drop what Solara 1.58.2 keeps of a ``use_task`` task after its component is gone."""
    singleton = task._instance
    for entry in list(solara.lifecycle._on_kernel_start_callbacks):
        cells = getattr(entry.callback, "__closure__", None) or ()
        if any(_holds(cell, singleton) for cell in cells):
            entry.cleanup()
    # This session's stored task and result: without this they would wait for the session's end.
    try:
        instance = singleton.peek()
        instance._result._storage.clear()
        singleton._storage.clear()
    except Exception:  # only memory is at stake here: never break closing a page over it
        log.debug("could not clear a finished task's storage", exc_info=True)


def _holds(cell, obj) -> bool:
    with contextlib.suppress(ValueError):  # an empty cell
        return cell.cell_contents is obj
    return False
