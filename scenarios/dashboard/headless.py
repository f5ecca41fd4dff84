"""The dashboard served on a free loopback port and opened in headless Chromium.

For the scripts that drive the real dashboard in a browser: the dashboard benchmark
(``benchmarks/bench_dashboard.py``) and the README's screenshots
(``scripts/dashboard_screenshots.py``). The browser tests use the same launch flags
(``tests/conftest.py``). Chromium is Debian's (``apt-get install chromium``), never a downloaded
one; Playwright (``pip install -e '.[test]'``) is imported only when a browser is opened.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

# What a browser needs on a headless, offline machine without a GPU or a sandbox (a container).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str:
    """Debian's Chromium: the one on PATH, else ``/usr/bin/chromium``."""
    return shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_dashboard(workdir: Path, log=subprocess.DEVNULL, wait: float = 90.0) -> Iterator[str]:
    """Run ``peerwell dashboard`` in ``workdir`` on a free port; yield its address once it answers.

    Parameters
    ----------
    workdir : the folder the dashboard runs in (its results go there).
    log : where its output goes (a file object, or ``subprocess.DEVNULL``).
    wait : seconds to wait for the first answer.

    Raises
    ------
    RuntimeError : the dashboard exited, or did not answer within ``wait`` seconds.
    """
    port = free_port()
    peerwell = Path(sys.executable).parent / "peerwell"
    proc = subprocess.Popen(
        [str(peerwell), "dashboard", "--port", str(port)], cwd=workdir, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"peerwell dashboard exited with code {proc.returncode}")
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"peerwell dashboard did not answer on {url}") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def headless_page(width: int = 1400, height: int = 900) -> Iterator:
    """A Playwright page in headless Chromium, projector-sized by default; closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()
