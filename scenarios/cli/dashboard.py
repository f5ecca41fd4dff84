"""`peerwell dashboard`: serve the Solara dashboard (Explore, Compare, Classroom).

It binds to 127.0.0.1 unless ``--host`` says otherwise, keeps every folder a page reads or writes
inside ``--root`` (by default the folder it is started from), serves Solara's front-end from the
``solara-assets`` package (no CDN: it works offline, e.g. in a classroom without internet), and
sends no telemetry and no version check.

It bounds what visitors can make it hold (``dashboard/guard.py``, ``dashboard/limits.py``): at
most ``--max-sessions`` sessions at once, a lost tab's session ended after ``--session-timeout``
seconds, no model built that would take more than ``--memory-budget-mb``, and websockets only
from pages it served itself (or ``--allow-origin``).
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import socket
import sys
import warnings

APP = "peerwell.scenarios.dashboard.app"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# A class of about 30 with a tab each, or one person with many tabs.
DEFAULT_MAX_SESSIONS = 32
# Long enough to ride out a network blip or a laptop lid closed for a minute; a closed tab ends
# its session at once whatever this is.
DEFAULT_SESSION_TIMEOUT = 120.0
# Always set by `peerwell dashboard`: the Compare page keeps its folders inside this one.
ROOT_ENV = "PEERWELL_DASHBOARD_ROOT"


def _parser() -> argparse.ArgumentParser:
    from peerwell.scenarios.dashboard.limits import DEFAULT_MEMORY_MB

    p = argparse.ArgumentParser(
        prog="peerwell dashboard",
        description="Serve the peerwell dashboard (Explore, Compare, Classroom) in a browser.",
    )
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default 127.0.0.1: this computer only; "
        "0.0.0.0 exposes it to the network, see docs/dashboard.md)",
    )
    p.add_argument("--port", default=str(DEFAULT_PORT), help="port (default 8765)")
    p.add_argument(
        "--root",
        default=None,
        help="the folder the Compare page may read and write result folders in (default: the "
        "folder the dashboard is started from); a page cannot reach a path outside it",
    )
    p.add_argument(
        "--max-sessions",
        default=str(DEFAULT_MAX_SESSIONS),
        metavar="N",
        help=f"at most N sessions (browser tabs) at once; a tab beyond them gets a page saying "
        f"the dashboard is full (default {DEFAULT_MAX_SESSIONS})",
    )
    p.add_argument(
        "--session-timeout",
        default=f"{DEFAULT_SESSION_TIMEOUT:g}",
        metavar="SECONDS",
        help="how long the session of a tab that lost its connection is kept for it to "
        "reconnect, models and all; a closed tab ends its session at once "
        f"(default {DEFAULT_SESSION_TIMEOUT:g})",
    )
    p.add_argument(
        "--memory-budget-mb",
        default=str(DEFAULT_MEMORY_MB),
        metavar="MB",
        help="the most memory building one model may take; a page asking for a larger "
        "population or network is told what would fit instead (default "
        f"{DEFAULT_MEMORY_MB}). The dashboard's models can take up to about "
        "--max-sessions times this: choose both for this computer",
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="also accept pages served from ORIGIN, e.g. https://dashboard.example.org behind "
        "a reverse proxy (repeatable); by default only the dashboard's own address is",
    )
    return p


def _number(name: str, text: str, kind, low: float) -> float:
    """``--name`` as a number of ``kind`` at least ``low``; exit with a sentence otherwise."""
    from peerwell.scenarios.cli.core import fail

    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not low <= value < math.inf:  # also refuses nan
        fail(f"--{name} must be {what} of at least {low:g}, got {text!r}")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_free(host: str, port: int) -> None:
    from peerwell.scenarios.cli.core import fail

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        fail(f"--host {host!r} is not an address this computer can listen on ({exc.strerror})")
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port)")


def dashboard(argv: list[str]) -> int:
    """Parse ``--host/--port`` and run Solara's server until interrupted."""
    from peerwell.scenarios.cli.core import fail

    args = _parser().parse_args(argv)
    try:
        port = int(args.port)
    except ValueError:
        fail(f"--port must be a whole number between 1 and 65535, got {args.port!r}")
    if not 0 < port < 65536:
        fail(f"--port must be between 1 and 65535, got {port}")
    root = os.path.realpath(os.path.expanduser(args.root or os.getcwd()))
    if not os.path.isdir(root):
        fail(f"--root {args.root!r} is not a folder")
    max_sessions = int(_number("max-sessions", args.max_sessions, int, 1))
    timeout = _number("session-timeout", args.session_timeout, float, 1)
    from peerwell.scenarios.dashboard.limits import MB, MEMORY_ENV, estimate
    from peerwell.simulation.params import ModelParams

    least = math.ceil(estimate(ModelParams()).bytes / MB)
    budget = int(_number("memory-budget-mb", args.memory_budget_mb, int, least))
    from peerwell.scenarios.dashboard.guard import Policy, parse_origin
    from peerwell.simulation.errors import PeerwellError

    try:
        origins = tuple(parse_origin(o) for o in args.allow_origin)
    except PeerwellError as exc:
        fail(str(exc))
    _check_free(args.host, port)
    # Page input may only read and write result folders below this one (also on loopback: other
    # users of this computer, and web pages open in its browser, can reach 127.0.0.1 too).
    os.environ[ROOT_ENV] = root
    os.environ[MEMORY_ENV] = str(budget)
    if not _is_loopback(args.host):
        print(
            f"peerwell: warning: listening on {args.host}: anyone who can reach this computer on "
            f"port {port} can use the dashboard and run simulations on it (no login). "
            "See docs/dashboard.md.",
            file=sys.stderr,
        )
    # Offline and private: no telemetry, no version check, assets from solara-assets.
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    os.environ.setdefault("SOLARA_THEME_SHOW_BANNER", "False")
    print("peerwell dashboard: getting ready (loading the model's compiled kernels)...", flush=True)
    from peerwell.scenarios.dashboard import app  # noqa: F401 - imported now, so the first page opens at once
    from peerwell.scenarios.dashboard.live import warm_up

    warm_up()
    # Solara warns that 127.0.0.1 over http gets lax session cookies: right for loopback.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    # Solara's server module reads the app's name when it is imported, which install() does.
    os.environ["SOLARA_APP"] = APP
    from peerwell.scenarios.dashboard.guard import install

    install(Policy(args.host, port, max_sessions, origins), session_timeout=timeout)
    from solara.__main__ import run as solara_run

    print(f"peerwell dashboard: http://{args.host}:{port}/  (Ctrl-C to stop)", flush=True)
    solara_run.main(
        args=[
            APP,
            "--host",
            args.host,
            "--port",
            str(port),
            "--production",
            "--no-open",
            "--no-check-version",
            "--log-level",
            "warning",
        ],
        prog_name="peerwell dashboard",
        standalone_mode=False,
    )
    return 0


COMMANDS = {
    "dashboard": (
        "serve the dashboard: peerwell dashboard [--host 127.0.0.1] [--port 8765] [--root DIR] "
        "[--max-sessions N] [--session-timeout S] [--memory-budget-mb MB] [--allow-origin O]",
        dashboard,
    ),
}
