"""`peerwell dashboard`: serve the Solara dashboard (Explore, Compare, Classroom).

It binds to 127.0.0.1 unless ``--host`` says otherwise, keeps every folder a page reads or writes
inside ``--root`` (by default the folder it is started from), serves Solara's front-end from the
``solara-assets`` package (no CDN: it works offline, e.g. in a classroom without internet), and
sends no telemetry and no version check.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
import warnings

APP = "peerwell.scenarios.dashboard.app"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# Always set by `peerwell dashboard`: the Compare page keeps its folders inside this one.
ROOT_ENV = "PEERWELL_DASHBOARD_ROOT"


def _parser() -> argparse.ArgumentParser:
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
    return p


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_free(host: str, port: int) -> None:
    from .cli import fail

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
    from .cli import fail

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
    _check_free(args.host, port)
    # Page input may only read and write result folders below this one (also on loopback: other
    # users of this computer, and web pages open in its browser, can reach 127.0.0.1 too).
    os.environ[ROOT_ENV] = root
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
    from .dashboard import app  # noqa: F401 - imported now, so the first page opens at once
    from .dashboard.live import warm_up

    warm_up()
    # Solara warns that 127.0.0.1 over http gets lax session cookies: right for loopback.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
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
        "serve the dashboard: peerwell dashboard [--host 127.0.0.1] [--port 8765] [--root DIR]",
        dashboard,
    ),
}
