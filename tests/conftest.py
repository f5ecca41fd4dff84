"""Shared pytest set-up: headless Debian Chromium for the dashboard's browser tests.

pytest-playwright looks for its own downloaded browsers; we never download one (`playwright
install` is not used anywhere). Its launch arguments are pointed at Debian's ``chromium`` instead.
Solara's pytest plugin (``solara_test``, ``page_session``, ``solara_server`` fixtures) is
registered here because pytest-ipywidgets, which would register it, is not installed.
"""

from __future__ import annotations

import contextlib
import warnings

import pytest

# uvicorn, under Solara's plugin, imports websockets' legacy module, which warns once on import.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import websockets.legacy  # noqa: F401

pytest_plugins = ["solara.test.pytest_plugin"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    from peerwell.scenarios.dashboard.headless import CHROMIUM_ARGS, chromium_path

    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    from peerwell.scenarios.dashboard.headless import VIEWPORT

    return {**browser_context_args, "viewport": VIEWPORT}


def _drop_handlers_on_closed_streams() -> None:
    import logging

    # A record that still meets a closed stream (e.g. in a module-scoped fixture, set up before
    # the per-test clean-up runs) is dropped silently rather than printed as a traceback.
    logging.raiseExceptions = False
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        if not isinstance(logger, logging.Logger):
            continue
        for handler in list(logger.handlers):
            stream = getattr(handler, "stream", None)
            if stream is not None and getattr(stream, "closed", False):
                logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def _no_logging_to_closed_streams():
    """Hydra apps run in-process (``main([...])``) point logging handlers at the streams pytest
    captured for that test; once those streams close, a later test's log record would print
    "--- Logging error ---" with a traceback into whatever that test captures. Drop them before
    and after every test."""
    _drop_handlers_on_closed_streams()
    yield
    _drop_handlers_on_closed_streams()


@pytest.fixture(autouse=True)
def _sigint_as_it_was(request):
    """Give SIGINT back its handler after every test, and say which test changed it.

    A child process inherits an *ignored* SIGINT (and Python then installs no KeyboardInterrupt
    handler in it), so a test that leaves SIGINT ignored in a test worker makes a later test's
    `peerwell` subprocess deaf to Ctrl-C (seen on Python 3.13: the SIGINT test of
    test_result_folders.py then timed out in the full suite only)."""
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT) if main else None
    yield
    if main and signal.getsignal(signal.SIGINT) is not before and before is not None:
        changed = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, before)
        print(f"\n{request.node.nodeid} left SIGINT set to {changed!r}; restored")
