"""The dashboard served on a free loopback port and opened in headless Chromium.

For what drives the real dashboard in a browser: the dashboard benchmark
(``benchmarks/bench_dashboard.py``), the README's screenshots (``scripts/dashboard_screenshots.py``)
and the browser tests (``tests/conftest.py``, ``tests/test_dashboard.py``). Chromium is Debian's
(``apt-get install chromium``), never a downloaded one; Playwright (``pip install -e '.[test]'``)
is imported only when a browser is opened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

# What a browser needs on a headless, offline machine without a GPU or a sandbox (a container).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# A projector-sized window, as the dashboard is meant to be shown.
VIEWPORT = {"width": 1400, "height": 900}


def chromium_path() -> str:
    """Debian's Chromium: the one on PATH, else ``/usr/bin/chromium``."""
    return shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DashboardServer:
    """``peerwell dashboard`` running in ``workdir`` on a loopback port, answering at ``url``.

    Parameters
    ----------
    workdir : the folder the dashboard runs in (its results go there).
    log : where its output and errors go (a file object, or ``subprocess.DEVNULL``).
    args : more ``peerwell dashboard`` arguments.
    port : the port (default: a free one).
    wait : seconds to wait for the first answer.

    Raises
    ------
    RuntimeError : the dashboard exited, or did not answer within ``wait`` seconds (it is stopped).
    """

    def __init__(
        self,
        workdir: Path,
        log=subprocess.DEVNULL,
        args: Sequence[str] = (),
        port: int | None = None,
        wait: float = 90.0,
    ):
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        peerwell = Path(sys.executable).parent / "peerwell"
        self.proc = subprocess.Popen(
            [str(peerwell), "dashboard", "--port", str(self.port), *args],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            self._wait_for_answer(wait)
        except BaseException:
            self.stop()
            raise

    def _wait_for_answer(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"peerwell dashboard exited with code {self.proc.returncode}")
            try:
                urllib.request.urlopen(self.url + "/", timeout=2).read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"peerwell dashboard did not answer on {self.url}") from None
                time.sleep(0.3)

    def stop(self) -> None:
        """Stop the dashboard (terminate, then kill if it does not stop within 10 s)."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@contextlib.contextmanager
def served_dashboard(workdir: Path, log=subprocess.DEVNULL, wait: float = 90.0) -> Iterator[str]:
    """A :class:`DashboardServer` for the ``with`` block: yields its address, then stops it."""
    server = DashboardServer(workdir, log=log, wait=wait)
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def headless_page() -> Iterator:
    """A Playwright page in headless Chromium, projector-sized (``VIEWPORT``); closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport=VIEWPORT)
        finally:
            browser.close()
