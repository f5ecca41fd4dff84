"""Shared pytest set-up: headless Debian Chromium for the dashboard's browser tests.

pytest-playwright looks for its own downloaded browsers; we never download one (`playwright
install` is not used anywhere). Its launch arguments are pointed at Debian's ``chromium`` instead.
Solara's pytest plugin (``solara_test``, ``page_session``, ``solara_server`` fixtures) is
registered here because pytest-ipywidgets, which would register it, is not installed.
"""

from __future__ import annotations

import contextlib
import shutil
import warnings

import pytest

# uvicorn, under Solara's plugin, imports websockets' legacy module, which warns once on import.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import websockets.legacy  # noqa: F401

pytest_plugins = ["solara.test.pytest_plugin"]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # A projector-sized window, as the dashboard is meant to be shown.
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}
