"""What the dashboard may take of this computer: sessions, memory, and who may connect (issue 25).

The server tests start the real `peerwell dashboard` on a free loopback port and talk to it as a
browser tab does, without a browser: a raw websocket to Solara's kernel endpoint, a comm to
``solara.control`` asking it to run the app at an address, then (for a closed tab) the close
beacon. That makes a real session with a real model, at a fraction of a browser's cost, so the
soak test can open sixty of them in about a minute. Sessions are counted by Solara's own
``/resourcez`` (``kernels.total``), memory by the server's VmRSS.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from peerwell.scenarios.dashboard.headless import DashboardServer
from peerwell.simulation.params import ModelParams, with_overrides

# ---------------------------------------------------------------------------------------------
# A browser tab without the browser


def _message(msg_type: str, content: dict, page: str) -> str:
    header = {"msg_id": uuid.uuid4().hex, "username": "", "session": page, "msg_type": msg_type}
    header.update(version="5.3", date="")
    return json.dumps(
        {"header": header, "parent_header": {}, "metadata": {}, "content": content}
        | {"channel": "shell", "buffers": []}
    )


def _cookie(base: str) -> str:
    with urllib.request.urlopen(base + "/", timeout=30) as reply:
        for value in reply.headers.get_all("set-cookie") or []:
            if value.startswith("solara-session-id="):
                return value.split(";")[0]
    raise AssertionError("the dashboard set no session cookie")


class Tab:
    """One session, as a browser tab opens it: page, websocket, the app run at ``path``."""

    def __init__(self, base: str, origin: str | None = None, cookie: str | None = None):
        self.base = base
        self.kernel, self.page = str(uuid.uuid4()), str(uuid.uuid4())
        url = base.replace("http://", "ws://") + (
            f"/jupyter/api/kernels/{self.kernel}/channels?session_id={self.page}"
        )
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(
            connect(
                url,
                additional_headers={"Cookie": cookie or _cookie(base)},
                origin=base if origin is None else origin,
                open_timeout=20,
                close_timeout=0.2,  # a closing tab does not wait long for the server's goodbye
                max_size=None,
            )
        )
        self.received: list[str] = []

    def run(self, path: str = "/?population.size=300", timeout: float = 90) -> Tab:
        """Run the app at ``path`` (what the page's script asks on load); wait until it is up."""
        comm = uuid.uuid4().hex
        content = {"comm_id": comm, "target_name": "solara.control", "data": {}}
        self.ws.send(_message("comm_open", content, self.page))
        run = {"method": "run", "args": {"path": path, "appName": None}}
        self.ws.send(_message("comm_msg", {"comm_id": comm, "data": run}, self.page))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.ws.recv(timeout=timeout)
            if isinstance(text, str):
                self.received.append(text)
                if '"method": "finished"' in text or '"method":"finished"' in text:
                    return self
        raise AssertionError(f"the app at {path} did not finish within {timeout} s")

    def text(self) -> str:
        return "\n".join(self.received)

    def close(self, beacon: bool = True) -> None:
        """Close the tab (the page's close beacon, then the socket) or just lose the socket."""
        if beacon:
            url = f"{self.base}/_solara/api/close/{self.kernel}?session_id={self.page}"
            request = urllib.request.Request(
                url, data=b"", method="POST", headers={"Origin": self.base}
            )
            urllib.request.urlopen(request, timeout=30).read()
            self._stack.close()
        else:  # the network went away: no closing handshake, the connection just ends
            self.ws.socket.shutdown(socket.SHUT_RDWR)
            self.ws.socket.close()


def open_tab(base: str, path: str = "/?population.size=300", origin: str | None = None) -> Tab:
    return Tab(base, origin=origin).run(path)


def resources(base: str) -> dict:
    return json.loads(urllib.request.urlopen(base + "/resourcez", timeout=30).read())


def kernels(base: str) -> int:
    return resources(base)["kernels"]["total"]


def wait_kernels(base: str, at_most: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while (n := kernels(base)) > at_most and time.monotonic() < deadline:
        time.sleep(0.25)
    return n


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def http(base: str, path: str = "/", method: str = "GET", headers=None) -> tuple[int, str]:
    request = urllib.request.Request(base + path, method=method, headers=headers or {})
    if method == "POST":
        request.data = b""
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Server(DashboardServer):
    def __init__(self, workdir: Path, args: list[str]):
        self.log_path = workdir / "dashboard.log"
        self._log = open(self.log_path, "w")
        try:
            super().__init__(workdir, log=self._log, args=args)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {self.log_path.read_text()[-2000:]}") from None

    def stop(self) -> None:
        super().stop()
        self._log.close()


# ---------------------------------------------------------------------------------------------
# The memory estimate


@pytest.fixture
def limits():
    """The dashboard's memory limits (imported by the tests that use them)."""
    from peerwell.scenarios.dashboard import limits

    return limits


def test_estimate_counts_the_model_arrays(limits):
    from peerwell.simulation.model import PeerwellModel

    m = PeerwellModel(with_overrides(ModelParams(), {"population.size": 500}), agent_views=False)
    per_person = (
        m.state.nbytes() + m.graph.indptr.nbytes - sum(a.nbytes for a in m.state.comm.values())
    )
    assert limits.STATE_BYTES_PER_PERSON * 500 == per_person - 8  # indptr has n + 1 entries
    est = limits.estimate(m.params)
    assert est.tie_ends >= m.graph.indices.size  # an sbm's ties: at most n * mean degree
    assert est.bytes >= m.state.nbytes() + m.graph.indptr.nbytes + m.graph.indices.nbytes


MEASURE = r"""
import gc, json, sys
from pathlib import Path

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024

from peerwell.scenarios.dashboard.live import LiveModel
from peerwell.simulation.params import ModelParams, with_overrides

LiveModel(with_overrides(ModelParams(), {"population.size": 60}))  # load the compiled kernels
gc.collect()
base = status("VmRSS")
try:
    Path("/proc/self/clear_refs").write_text("5")  # start the peak (VmHWM) again from here
except OSError as exc:
    print(json.dumps({"skip": f"cannot reset the peak: {exc}"}))
    sys.exit(0)
live = LiveModel(with_overrides(ModelParams(), json.loads(sys.argv[1])))
print(json.dumps({"peak": status("VmHWM") - base, "ends": int(live.model.graph.indices.size)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        # networkx builds the network (a dict entry per tie end): the costly kind
        {"population.size": 10_000, "network.mean_degree": 100},
        # above network.LARGE_GRAPH people the block model is sampled into arrays
        {"population.size": 100_000, "network.mean_degree": 100},
    ],
    ids=["networkx", "sampled"],
)
def test_estimate_bounds_a_measured_build(overrides, limits):
    """The estimate is at least the real peak of a build, and at most 1.3 times it + 16 MB.

    Measured in a fresh process: its resident memory's peak (VmHWM, reset just before the
    build) above what it held before, for the page's whole build (model and layout).
    """
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(overrides)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    if "skip" in measured:
        pytest.skip(measured["skip"])
    est = limits.estimate(with_overrides(ModelParams(), overrides))
    assert est.tie_ends >= measured["ends"]
    peak = measured["peak"]
    print(f"{overrides}: measured {peak / limits.MB:.0f} MB, estimated {est.mb:.0f} MB")
    assert peak <= est.bytes <= 1.3 * peak + limits.FIXED_BYTES, (peak / limits.MB, est.mb)


def test_budget_refuses_and_says_what_fits(limits):
    check_memory, MemoryBudgetError = limits.check_memory, limits.MemoryBudgetError
    big = with_overrides(ModelParams(), {"population.size": 20_000, "network.mean_degree": 400})
    with pytest.raises(MemoryBudgetError) as err:
        check_memory(big, budget=1024)
    text = str(err.value)
    assert "population.size=20,000 with network.mean_degree=400 needs about" in text
    assert "1,024 MB" in text and "--memory-budget-mb" in text
    people = int(re.search(r"up to ([\d,]+) people", text).group(1).replace(",", ""))
    degree = int(re.search(r"mean degree up to ([\d,]+) with", text).group(1).replace(",", ""))
    # What it offers fits, and is the most that does.
    for name, value in (("population.size", people), ("network.mean_degree", degree)):
        check_memory(with_overrides(big, {name: value}), budget=1024)
        with pytest.raises(MemoryBudgetError):
            check_memory(with_overrides(big, {name: value + 1}), budget=1024)
    check_memory(ModelParams(), budget=1024)  # the baseline fits easily
    with pytest.raises(MemoryBudgetError, match=r"\(8 runs at once\)"):
        check_memory(with_overrides(ModelParams(), {"population.size": 400_000}), 8, budget=1024)


def test_live_model_refuses_before_building(monkeypatch, limits):
    from peerwell.scenarios.dashboard import live as live_mod

    monkeypatch.setenv(limits.MEMORY_ENV, "64")
    live = live_mod.LiveModel(with_overrides(ModelParams(), {"population.size": 200}))
    built = live.model

    def no_build(*args, **kwargs):
        raise AssertionError("a model beyond the budget was built")

    monkeypatch.setattr(live_mod, "PeerwellModel", no_build)
    too_big = ({"population.size": 200_000}, {"population.size": 20_000, "network.mean_degree": 99})
    for change in too_big:
        with pytest.raises(limits.MemoryBudgetError, match="64 MB"):
            live.apply(change)
        with pytest.raises(limits.MemoryBudgetError):
            live.replace(with_overrides(live.settings, change))
        # The model and its settings stay as they were.
        assert live.model is built and live.settings.population.size == 200
        assert live.settings.network.mean_degree == 10
    monkeypatch.setattr(live_mod, "PeerwellModel", type(built))
    shown, problems = live_mod.build_live(None, {"population.size": 300_000})
    assert shown.settings.population.size == ModelParams().population.size  # the baseline
    assert len([p for p in problems if "needs about" in p]) == 1, problems


def test_compare_page_refuses_runs_beyond_the_budget(monkeypatch, limits):
    from peerwell.scenarios.dashboard import compare_page

    monkeypatch.setenv(limits.MEMORY_ENV, "128")
    request = {
        "scenarios": ["baseline", "moderated_community"],
        "replicates": 2,
        "overrides": {"population.size": 1_000_000, "steps": 180},
        "root_seed": 1,
    }
    with pytest.raises(limits.MemoryBudgetError, match="128 MB"):
        compare_page._check_memory(request, 4)
    request["overrides"]["population.size"] = 1000
    compare_page._check_memory(request, 4)


@pytest.mark.solo
@pytest.mark.filterwarnings("ignore:There is no current event loop:DeprecationWarning")
def test_a_closed_session_lets_go_of_its_model():
    """Solara 1.58.2 pinned every ``use_task`` (and so the model its function reads) forever."""
    import gc
    import weakref

    import solara
    from solara.server import kernel, kernel_context

    from peerwell.scenarios.dashboard.live import LiveModel
    from peerwell.scenarios.dashboard.views import RunControls, TrajectoryChart

    made = []

    @solara.component
    def Page():
        live = solara.use_memo(
            lambda: LiveModel(with_overrides(ModelParams(), {"population.size": 100})), []
        )
        made.append(weakref.ref(live))
        version, playing = solara.use_reactive(0), solara.use_reactive(False)
        with solara.Column() as main:
            RunControls(live, version, playing, on_error=lambda text: None)
            TrajectoryChart(live, version, False)
        return main

    context = kernel_context.VirtualKernelContext(
        id=f"test-{uuid.uuid4()}", kernel=kernel.Kernel(), session_id="test"
    )
    kernel_context.contexts[context.id] = context
    with context:
        context.app_object = solara.render(Page(), handle_error=False)[1]
    # The chart is drawn in a thread of its own: let it finish before the session closes. Under
    # a loaded CI run 1 s was once too short and the model stayed; whether a draw that ends only
    # after the close pins its model is a separate, open question (see the note).
    time.sleep(5.0)
    context.close()
    del context
    deadline = time.monotonic() + 20
    while made[0]() is not None and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.2)
    assert made[0]() is None, "a closed session's model is still in memory"


# ---------------------------------------------------------------------------------------------
# Origins and the command's options


def test_origin_policy():
    from peerwell.scenarios.dashboard.guard import Policy, parse_origin

    local = Policy("127.0.0.1", 8765, 4, (parse_origin("https://Dash.Example.org/"),))
    ok = ["http://127.0.0.1:8765", "http://localhost:8765", "http://[::1]:8765"]
    for origin in [*ok, "https://dash.example.org"]:
        assert local.refusal("websocket", "127.0.0.1:8765", origin) is None, origin
    for origin in [
        "http://evil.example",
        "null",
        "http://127.0.0.1:9999",
        "https://127.0.0.1:8765",
    ]:
        why = local.refusal("websocket", "127.0.0.1:8765", origin)
        assert why and "may not use this dashboard" in why and "--allow-origin" in why
    assert "Origin header" in local.refusal("websocket", "127.0.0.1:8765", None)
    assert local.refusal("http", "127.0.0.1:8765", None) is None  # a typed address sends none
    assert local.refusal("http", "evil.example:8765", None)  # a name made to point here
    everywhere = Policy("0.0.0.0", 8765, 4)
    assert everywhere.refusal("websocket", "192.168.1.9:8765", "http://192.168.1.9:8765") is None
    assert everywhere.refusal("websocket", "192.168.1.9:8765", "http://evil.example")
    for bad in ["null", "*", "http://*.example.org", "ftp://x.org", "http://x.org/path", "x.org"]:
        with pytest.raises(ValueError, match="is not an origin"):
            parse_origin(bad)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-sessions", "0"], "--max-sessions must be a whole number of at least 1"),
        (["--session-timeout", "soon"], "--session-timeout must be a number of at least 1"),
        (["--memory-budget-mb", "2"], "--memory-budget-mb must be a whole number of at least"),
        (["--allow-origin", "null"], "--allow-origin 'null' is not an origin"),
    ],
)
def test_cli_refuses_bad_limits(args, message, capsys):
    from peerwell.scenarios.cli.dashboard import _parser, dashboard

    with pytest.raises(SystemExit) as exit_:
        dashboard(args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    helptext = _parser().format_help()
    for option in ("--max-sessions", "--session-timeout", "--memory-budget-mb", "--allow-origin"):
        assert option in helptext


# ---------------------------------------------------------------------------------------------
# The server: origins, the cap, lost sessions, the budget on the page


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    args = ["--max-sessions", "2", "--session-timeout", "2", "--memory-budget-mb", "256"]
    srv = Server(tmp_path_factory.mktemp("limits"), args)
    yield srv
    srv.stop()


def test_foreign_origins_get_no_kernel(server):
    base = server.url
    for origin in ("http://evil.example", "null", f"http://localhost:{server.port + 1}"):
        with pytest.raises(InvalidStatus) as refused:
            Tab(base, origin=origin)
        assert refused.value.response.status_code == 403
        assert "may not use this dashboard" in refused.value.response.body.decode()
    assert kernels(base) == 0
    # Nor the page's other endpoints: a foreign page's request, or a name pointed at 127.0.0.1.
    code, _ = http(base, "/_solara/api/close/x?session_id=y", "POST", {"Origin": "null"})
    assert code == 403
    assert http(base, "/", headers={"Host": f"evil.example:{server.port}"})[0] == 403
    # The dashboard's own pages are let in (under either loopback name).
    tab = open_tab(base, origin=f"http://localhost:{server.port}")
    assert kernels(base) == 1
    tab.close()
    assert wait_kernels(base, 0, 10) == 0


def test_sessions_beyond_the_cap_get_a_page_saying_so(server):
    base = server.url
    cookie = _cookie(base)  # a page loaded before the dashboard filled up
    tabs = [open_tab(base), open_tab(base)]
    try:
        code, page = http(base, "/classroom")
        assert code == 503
        assert "The dashboard is full: 2 sessions" in page and "--max-sessions 2" in page
        with pytest.raises(InvalidStatus) as refused:
            Tab(base, cookie=cookie)
        assert refused.value.response.status_code == 503
        assert kernels(base) == 2
        assert http(base, "/static/highlight.css")[0] == 200  # what open tabs load still is
        tabs.pop().close()
        assert wait_kernels(base, 1, 10) == 1
        assert http(base, "/")[0] == 200
    finally:
        for tab in tabs:
            tab.close()
    assert wait_kernels(base, 0, 10) == 0


def test_lost_session_ends_after_the_timeout(server):
    base = server.url
    tab = open_tab(base)
    t0 = time.monotonic()
    tab.close(beacon=False)  # the connection is lost; no close beacon
    assert wait_kernels(base, 0, 15) == 0
    assert time.monotonic() - t0 < 10  # --session-timeout 2, not Solara's 24 hours


def test_page_address_beyond_the_budget_is_told_what_fits(server):
    base = server.url
    before = rss_mb(server.proc.pid)
    tab = open_tab(base, "/?population.size=20000&network.mean_degree=100")
    text = tab.text()
    tab.close()
    assert "needs about" in text and "256 MB this dashboard allows a session" in text
    assert "what fits: up to" in text
    assert rss_mb(server.proc.pid) - before < 150  # the ~370 MB build never happened
    assert wait_kernels(base, 0, 10) == 0


# ---------------------------------------------------------------------------------------------
# Soak: sessions opened and closed, memory back where it was

ROUNDS, TABS = 3, 20
# RSS after the last round may exceed its level after the first by at most this share. The
# first round pays one-off costs (Solara's widget classes, matplotlib's fonts, the app's first
# renders), so the comparison starts after it; what is left is the allocator's fragmentation
# and Solara's per-kernel bookkeeping. Measured: +2-3% (10-16 MB) over two more rounds, and
# 550 -> 575 MB over eight rounds (about 0.15 MB a session); before sessions were released,
# +31% and about 100 MB more for every round of 20.
RSS_MARGIN = 0.08


@pytest.mark.slow
def test_soak_sessions_release_their_memory(tmp_path):
    timeout = 3
    srv = Server(tmp_path, ["--session-timeout", str(timeout)])
    try:
        base, pid = srv.url, srv.proc.pid
        after: list[float] = []
        threads: list[int] = []
        for _ in range(ROUNDS):
            tabs = [open_tab(base, "/?population.size=3000") for _ in range(TABS)]
            assert kernels(base) == TABS
            for i, tab in enumerate(tabs):
                tab.close(beacon=i % 2 == 0)  # half closed, half lost
            assert wait_kernels(base, 0, timeout + 20) == 0
            time.sleep(3)  # the reclaimer runs a second after the last session ends
            after.append(rss_mb(pid))
            threads.append(resources(base)["threads"]["active"])
        print(f"server RSS after each round of {TABS} tabs: {after} MB; threads {threads}")
        assert after[-1] <= after[0] * (1 + RSS_MARGIN), after
        assert threads[-1] <= threads[0] + 5, threads
    finally:
        srv.stop()
