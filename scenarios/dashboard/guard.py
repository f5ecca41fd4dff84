"""Who may open a dashboard session, how many sessions at once, and how long they are kept.

``peerwell dashboard`` installs :class:`Guard` around Solara's Starlette app before the server
starts. Each browser tab is a Solara *kernel* (a session) holding its own models, so:

- **Origins.** A web page from anywhere, open in a browser on this computer (or on the network,
  with ``--host``), can reach the dashboard's address; a browser lets it open a websocket to any
  address and says only where the page came from, in ``Origin``. Websockets are accepted from
  the dashboard's own address (``http://127.0.0.1:PORT``, ``http://localhost:PORT``, the address
  it listens on) and from ``--allow-origin`` only; other requests that name another origin are
  refused too, and so is a ``Host`` the dashboard does not answer to (a page whose own name was
  made to point at 127.0.0.1, "DNS rebinding"). Listening on every address (``--host
  0.0.0.0``), the names visitors use are not known in advance: a page must then come from the
  address the browser asked for (same origin).
- **How many.** Beyond ``--max-sessions`` live sessions a new tab gets a page saying the
  dashboard is full (and a new websocket is refused), instead of a session the computer may not
  have the memory for.
- **How long.** A closed tab ends its session at once (Solara's close beacon); one that lost its
  connection is kept ``--session-timeout`` seconds to reconnect (Solara's default: 24 hours).
  After sessions end, what they held is collected and handed back to the system promptly
  (:class:`Reclaimer`) rather than at the next full garbage collection.
"""

from __future__ import annotations

import gc
import html
import ipaddress
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from peerwell.scenarios.dashboard.limits import release_memory
from peerwell.simulation.errors import ConfigError

# Solara's kernel websocket: /jupyter/api/kernels/<kernel id>/channels
KERNEL_WS = re.compile(r"^/jupyter/api/kernels/([^/]+)/[^/]+$")
# Paths that are not pages (assets, Solara's own endpoints): never answered with "full".
NOT_PAGES = ("/static/", "/_solara/", "/jupyter/", "/resourcez", "/readyz", "/favicon")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORTS = {"http": 80, "https": 443}
FULL = "The dashboard is full"


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return host == ""


def _origin(scheme: str, hostname: str, port: int | None) -> str:
    """An origin as browsers write it: lower case, IPv6 in brackets, no default port."""
    host = hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def parse_origin(text: str) -> str:
    """``--allow-origin`` checked and written as a browser writes ``Origin``.

    Raises
    ------
    ConfigError
        It is not ``http(s)://host[:port]`` (no path, no ``null``, no wildcard).
    """
    shape = "an origin is http://host or https://host, with an optional :port and nothing after"
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise ConfigError(f"--allow-origin {text!r} is not an origin: {shape}") from None
    if (
        parts.scheme not in DEFAULT_PORTS
        or not parts.hostname
        or "*" in parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise ConfigError(f"--allow-origin {text!r} is not an origin: {shape}")
    return _origin(parts.scheme, parts.hostname, port)


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``Host`` (``name``, ``name:port``, ``[v6]:port``) as (lower-case name, port)."""
    try:
        parts = urlsplit("//" + value)
        return (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None


@dataclass(frozen=True)
class Policy:
    """What :class:`Guard` lets through: the address served, extra origins, the session cap."""

    host: str
    port: int
    max_sessions: int
    allow_origins: tuple[str, ...] = ()

    @property
    def wildcard(self) -> bool:
        return _is_wildcard(self.host)

    def origins(self) -> frozenset[str]:
        """Origins always accepted: the loopback names and the address listened on."""
        names = [*LOOPBACK_NAMES, *([] if self.wildcard else [self.host])]
        return frozenset([_origin("http", n, self.port) for n in names] + list(self.allow_origins))

    def hostnames(self) -> frozenset[str]:
        names = [*LOOPBACK_NAMES, self.host, *(urlsplit(o).hostname for o in self.allow_origins)]
        return frozenset(n.lower() for n in names if n)

    def refusal(self, kind: str, host: str | None, origin: str | None) -> str | None:
        """Why a request is refused (None: it is let through).

        Parameters
        ----------
        kind : ``"http"`` or ``"websocket"``.
        host, origin : its ``Host`` and ``Origin`` headers (None when absent).
        """
        own = self.own_address()
        split = _split_host(host) if host else None
        if not self.wildcard and (split is None or split[0] not in self.hostnames()):
            return (
                f"this dashboard answers at {own}, not at {host or 'an address without a name'} "
                "(start it with --allow-origin to serve it under another name)"
            )
        if origin is None:
            if kind == "websocket":  # every browser sends one; a page's script cannot drop it
                return f"a websocket must say which page opened it (an Origin header); {own}"
            return None
        same = self.wildcard and split is not None and origin.lower() == _origin("http", *split)
        if origin.lower() in self.origins() or same:
            return None
        return (
            f"a page from {origin} may not use this dashboard; only pages it serves itself at "
            f"{own} may (or an origin given with --allow-origin)"
        )

    def own_address(self) -> str:
        name = "127.0.0.1" if self.wildcard else self.host
        return _origin("http", name, self.port)


def _refusal_page(status: int, title: str, text: str) -> bytes:
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>peerwell dashboard: "
        f"{html.escape(title)}</title></head><body style='font-family:sans-serif;font-size:20px;"
        f"max-width:46em;margin:3em auto;color:#0f172a'><h1 style='color:#0f3d5e'>"
        f"{html.escape(title)}</h1><p class='pw-refused' data-status='{status}'>"
        f"{html.escape(text)}</p></body></html>"
    ).encode()


@dataclass
class Guard:
    """ASGI middleware: origin and host checks, and the cap on live sessions.

    Parameters
    ----------
    app : the ASGI app guarded (Solara's Starlette app).
    policy : what is let through.
    sessions : the ids of the live sessions (default: Solara's kernel contexts).
    """

    app: Callable
    policy: Policy
    sessions: Callable[[], Iterable[str]] | None = None
    # kernel id -> websocket connections open for it (admitted, maybe not yet a Solara kernel)
    _open: dict[str, int] = field(default_factory=dict)

    def live(self) -> set[str]:
        if self.sessions is not None:
            ids = set(self.sessions())
        else:
            from solara.server import kernel_context

            ids = set(kernel_context.contexts)
        return ids | set(self._open)

    def full_text(self) -> str:
        n = self.policy.max_sessions
        open_now = "1 session (browser tab) is" if n == 1 else f"{n} sessions (browser tabs) are"
        return (
            f"The dashboard is full: {open_now} open, as many as it was started to allow "
            f"(peerwell dashboard --max-sessions {n}). Close a tab you no longer use, or try "
            "again in a minute: a tab that lost its connection gives up its session after the "
            "--session-timeout."
        )

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        why = self.policy.refusal(kind, headers.get("host"), headers.get("origin"))
        if why is not None:
            return await self._refuse(kind, scope, receive, send, 403, "Refused", why)
        path = scope.get("path", "")
        if kind == "http":
            if scope.get("method") == "GET" and self._is_page(path):
                if len(self.live()) >= self.policy.max_sessions:
                    text = self.full_text()
                    return await self._refuse(kind, scope, receive, send, 503, FULL, text)
            return await self.app(scope, receive, send)
        match = KERNEL_WS.match(path)
        if match is None:
            return await self.app(scope, receive, send)
        kernel_id = match.group(1)
        live = self.live()
        # No await between this check and the registration below: the event loop runs one
        # connection at a time here, so simultaneous tabs cannot all slip in under the cap.
        too_many = kernel_id not in live and len(live) >= self.policy.max_sessions
        # Reconnects of a live session are let in, but not without bound (each is a thread).
        if too_many or sum(self._open.values()) >= 2 * self.policy.max_sessions:
            return await self._refuse(kind, scope, receive, send, 503, FULL, self.full_text())
        self._open[kernel_id] = self._open.get(kernel_id, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = self._open.pop(kernel_id) - 1
            if left:
                self._open[kernel_id] = left

    @staticmethod
    def _is_page(path: str) -> bool:
        return not path.startswith(NOT_PAGES)

    async def _refuse(self, kind, scope, receive, send, status, title, text):
        body = _refusal_page(status, title, text)
        head = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
        ]
        if status == 503:
            head.append((b"retry-after", b"60"))
        if kind == "http":
            await send({"type": "http.response.start", "status": status, "headers": head})
            await send({"type": "http.response.body", "body": body})
            return
        message = await receive()  # websocket.connect
        if message.get("type") != "websocket.connect":
            return
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": status, "headers": head})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # the server answers 403 without a body
            await send({"type": "websocket.close", "code": 1008, "reason": text[:120]})


class Reclaimer:
    """Collects what ended sessions held and hands the memory back, shortly after they end.

    Solara's closed sessions sit in reference cycles that only a full garbage collection frees,
    and glibc keeps freed memory for reuse; left alone, the server stays at its high-water mark.
    ``poke()`` is cheap (it is called as a session closes); the work runs in a thread of its
    own, at most once per ``delay`` seconds however many sessions close together.
    """

    def __init__(self, delay: float = 1.0):
        self.delay = delay
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="peerwell-reclaim", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self.delay)  # let the closing session finish, and others close with it
            self._wake.clear()
            gc.collect()
            release_memory()


def install(policy: Policy, session_timeout: float, app=None) -> Reclaimer:
    """Guard Solara's app with ``policy`` and end lost sessions after ``session_timeout`` seconds.

    Call it before the server starts: Starlette takes no middleware once it has started (it
    builds ``Guard(app, policy=policy)`` itself on the first request), and Solara reads the
    cull timeout when a tab disconnects.
    """
    import solara.lifecycle
    import solara.server.settings as solara_settings

    if app is None:
        from solara.server.starlette import app
    solara_settings.kernel.cull_timeout = f"{session_timeout:g}s"
    reclaimer = Reclaimer()

    def on_session_start():
        return reclaimer.poke  # Solara calls it as the session ends

    solara.lifecycle.on_kernel_start(on_session_start)
    app.add_middleware(Guard, policy=policy)
    return reclaimer
