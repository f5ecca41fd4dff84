"""The dashboard, driven in a real headless Chromium against a running `peerwell dashboard`.

One server (the real CLI, on a free loopback port, in a scratch folder) serves every test; each
test opens its own browser context, i.e. its own Solara session. After every browser test the
browser console and the server log must be free of errors. Screenshots of each page are kept in
``outputs/test-artifacts/dashboard/`` (or ``$PEERWELL_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import re
import socket
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from peerwell.scenarios.dashboard.headless import DashboardServer, chromium_path, free_port

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(
    os.environ.get("PEERWELL_TEST_ARTIFACTS", ROOT / "outputs/test-artifacts/dashboard")
)
SMALL = "population.size=300"
# Server-log lines that mean something went wrong.
LOG_ERROR = re.compile(r"Traceback|\bERROR\b|Exception|error in ", re.IGNORECASE)

needs_chromium = pytest.mark.skipif(
    not Path(chromium_path()).exists(),
    reason="needs Debian's chromium (apt-get install -y chromium)",
)


class Server(DashboardServer):
    """A `peerwell dashboard` process and its log."""

    def __init__(self, workdir: Path, args: list[str] | None = None):
        port = free_port()
        self.log_path = workdir / f"dashboard-{port}.log"
        self._log = open(self.log_path, "w")
        try:
            super().__init__(workdir, log=self._log, args=args or (), port=port)
        except RuntimeError as exc:  # the server has stopped, and stop() closed the log
            raise RuntimeError(f"{exc}: {self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def errors_since(self, offset: int) -> list[str]:
        return [ln for ln in self.log()[offset:].splitlines() if LOG_ERROR.search(ln)]

    def stop(self) -> None:
        super().stop()
        self._log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("dashboard"))
    yield srv
    srv.stop()


class App:
    """A browser page on the dashboard that records console errors and page errors."""

    def __init__(self, page, server: Server):
        self.page = page
        self.server = server
        self.errors: list[str] = []
        self.log_offset = len(server.log())
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        self.foreign: list[str] = []
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith((server.url, "data:", "blob:"))
                else self.foreign.append(r.url)
            ),
        )
        page.set_default_timeout(30_000)

    def open(self, path: str = "/") -> App:
        self.page.goto(self.server.url + path, wait_until="networkidle", timeout=60_000)
        self.page.locator(".pw-topbar").wait_for()
        return self

    def text(self, selector: str) -> str:
        return self.page.locator(selector).first.inner_text()

    def day(self) -> int:
        return int(self.text(".pw-day"))

    def wait_day(self, predicate, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = self.day()
            if predicate(d):
                return d
            time.sleep(0.1)
        raise AssertionError(f"day {self.day()} never satisfied the condition")

    def button(self, name: str):
        return self.page.get_by_role("button", name=name, exact=True)

    def fill(self, label: str, value: str) -> None:
        box = self.page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Enter")

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def check_clean(self) -> None:
        assert not self.errors, f"browser console errors: {self.errors[:5]}"
        assert not self.foreign, f"requests beyond the dashboard (not offline): {self.foreign[:5]}"
        bad = self.server.errors_since(self.log_offset)
        assert not bad, f"server log errors: {bad[:5]}"


@pytest.fixture
def app(page, server):
    a = App(page, server)
    yield a
    a.check_clean()


def _expect_text(app: App, text: str, timeout: float = 30_000):
    app.page.get_by_text(text).first.wait_for(timeout=timeout)


# ---------------------------------------------------------------------------------------------
# The server


def _listening(port: int) -> list[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = []
    for name in ("tcp", "tcp6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            host, p = local.rsplit(":", 1)
            if int(p, 16) == port and state == "0A":  # LISTEN
                if name == "tcp":
                    found.append(socket.inet_ntop(socket.AF_INET, bytes.fromhex(host)[::-1]))
                else:
                    raw = bytes.fromhex(host)
                    raw = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.append(socket.inet_ntop(socket.AF_INET6, raw))
    return found


@pytest.mark.xdist_group("dashboard")
def test_server_binds_loopback_by_default(server):
    addresses = _listening(server.port)
    assert addresses == ["127.0.0.1"], addresses
    html = urllib.request.urlopen(server.url + "/", timeout=10).read().decode()
    assert "/_solara/cdn" in html or "solara" in html.lower()


@pytest.mark.xdist_group("dashboard")
def test_assets_are_served_locally_not_from_a_cdn(server):
    html = urllib.request.urlopen(server.url + "/", timeout=10).read().decode()
    # scripts, styles and fonts (a plain <a href> to solara.dev is a link, not a download)
    external = re.findall(r"""<(?:script|link|img)[^>]*(?:src|href)=["'](https?://[^"']+)""", html)
    assert not [u for u in external if not u.startswith(server.url)], external


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "abc"], "--port must be a whole number"),
        (["--port", "70000"], "--port must be between 1 and 65535"),
        (["--host", "no.such.host.invalid"], "is not an address this computer can listen on"),
    ],
)
def test_cli_refuses_bad_arguments(args, message, capsys):
    from peerwell.scenarios.cli.dashboard import dashboard

    with pytest.raises(SystemExit) as exit_:
        dashboard(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.xdist_group("dashboard")
def test_cli_refuses_a_port_in_use(server, capsys):
    from peerwell.scenarios.cli.dashboard import dashboard

    with pytest.raises(SystemExit) as exit_:
        dashboard(["--port", str(server.port)])
    assert exit_.value.code == 2
    assert f"cannot listen on 127.0.0.1:{server.port}" in capsys.readouterr().err


def test_dashboard_is_a_peerwell_command():
    from peerwell.scenarios.cli.core import load_commands, usage

    commands = load_commands()
    assert "dashboard" in commands
    assert "peerwell dashboard [--host 127.0.0.1] [--port 8765]" in usage(commands)


# ---------------------------------------------------------------------------------------------
# Explore


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_explore_loads_steps_plays_and_resets(app):
    app.open(f"/?{SMALL}")
    assert "Explore" in app.text(".pw-topbar") and "Classroom" in app.text(".pw-topbar")
    assert app.day() == 0
    _expect_text(app, "300 people")
    chart = app.page.locator(".pw-chart img")
    before_src = chart.get_attribute("src")
    app.shot("explore")
    app.button("Step").click()
    app.wait_day(lambda d: d == 1)
    app.page.wait_for_function(
        "s => document.querySelector('.pw-chart img').src !== s", arg=before_src
    )
    app.button("Play").click()
    app.wait_day(lambda d: d >= 6)
    app.button("Pause").click()
    app.button("Play").wait_for()  # the server has taken the pause
    time.sleep(0.3)
    paused = app.day()
    time.sleep(0.8)
    assert app.day() == paused  # paused: no more steps
    app.button("Reset").click()
    app.wait_day(lambda d: d == 0)


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_explore_controls_change_the_model(app):
    app.open(f"/?{SMALL}")
    activation0 = app.text(".pw-kpi[data-kpi='activation'] .pw-kpi-value")
    # a structural parameter waits, says so, and restarts the model with it when asked
    app.button("Step").click()
    app.wait_day(lambda d: d == 1)
    app.fill("Population size (people)", "450")
    _expect_text(app, "population.size = 450 is pending")
    assert app.day() == 1
    app.button("Restart with these settings").click()
    _expect_text(app, "450 people")
    _expect_text(app, "Restarted from day 0 with population.size = 450")
    app.wait_day(lambda d: d == 0)  # the counter and the message arrive as separate updates
    _expect_text(app, "Showing all 450 people")
    assert app.text(".pw-kpi[data-kpi='activation'] .pw-kpi-value") != activation0
    # a slider acts from today on, without a restart
    app.button("Step").click()
    app.wait_day(lambda d: d == 1)
    slider = app.page.locator(".pw-control", has_text="Moderation").get_by_role("slider")
    slider.focus()
    slider.press("ArrowRight")
    _expect_text(app, "communities.moderation = 0.11, from day 1 on.")
    assert app.day() == 1
    # a mechanism switch, from the typed MechanismSwitches
    app.page.get_by_role("button", name="▸ Mechanisms: switch a box of the model off").click()
    app.page.locator(".pw-control", has_text="Entry").locator("input").first.click(force=True)
    _expect_text(app, "Mechanism 'entry' switched off (mechanisms.entry), from day 1 on.")
    # the run length: play stops on the last day
    app.page.get_by_role("button", name="▸ All parameters").click()
    app.page.get_by_role("button", name="▸ Run").click()
    app.fill("Steps (days)", "4")
    app.button("Play").click()
    _expect_text(app, "finished")
    assert app.day() == 4
    app.page.get_by_text("care status", exact=True).click()
    _expect_text(app, "disengaged")
    app.shot("explore-changed")


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_hovering_a_person_shows_their_state(app):
    from peerwell.scenarios.dashboard.live import VIEW_H, VIEW_W, LiveModel, scenario_params

    app.open(f"/?{SMALL}")
    # the layout is deterministic: find where person 25 is drawn
    layout = LiveModel(scenario_params("baseline", {"population.size": 300})).layout
    canvas = app.page.locator("canvas.pw-nodes")
    canvas.wait_for()
    box = canvas.bounding_box()
    x = box["x"] + layout.x[25] * box["width"] / VIEW_W
    y = box["y"] + layout.y[25] * box["height"] / VIEW_H
    app.page.mouse.move(x, y)
    tip = app.page.locator(".pw-tooltip")
    tip.wait_for()
    text = tip.inner_text()
    assert f"Person {int(layout.nodes[25])} " in text
    assert "activation" in text and "self-stigma" in text
    assert "care" in text and "wellbeing" in text
    app.page.mouse.move(box["x"] + 2, box["y"] + 2)  # away from everyone
    tip.wait_for(state="hidden")


# The centre pixel of person ``i`` on the people's canvas, as #rrggbb.
PIXEL = """([x, y, viewW]) => {
  const canvas = document.querySelector('canvas.pw-nodes');
  const k = canvas.width / viewW;
  const d = canvas.getContext('2d').getImageData(Math.floor(x * k), Math.floor(y * k), 1, 1).data;
  return '#' + [d[0], d[1], d[2]].map(v => v.toString(16).padStart(2, '0')).join('');
}"""


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_people_can_be_coloured_by_trust(app):
    import numpy as np

    from peerwell.scenarios.dashboard.live import VIEW_W, LiveModel, scenario_params

    app.open(f"/?{SMALL}")
    # The same model as the page's on day 0 (the layout and the states follow from the seed):
    # pick an online person drawn clear of everyone drawn after them, whose colour by trust is
    # not their colour by activation.
    live = LiveModel(scenario_params("baseline", {"population.size": 300}))
    by_activation, online = live.node_colors("activation")
    by_trust, _ = live.node_colors("trust")
    x, y = np.asarray(live.layout.x), np.asarray(live.layout.y)
    person = next(
        i
        for i in range(len(x))
        if online[i]
        and by_trust[i] != by_activation[i]
        and not (np.hypot(x[i + 1 :] - x[i], y[i + 1 :] - y[i]) < 10).any()
    )
    at = [x[person], y[person], VIEW_W]
    app.page.locator("canvas.pw-nodes").wait_for()
    app.page.wait_for_function(f"a => ({PIXEL})(a) === '{by_activation[person]}'", arg=at)
    app.page.locator(".pw-colorby").get_by_text("trust", exact=True).click()
    _expect_text(app, "trust in online health information")  # the legend says what it shows
    app.page.wait_for_function(f"a => ({PIXEL})(a) === '{by_trust[person]}'", arg=at)
    # and by disclosure: three categories, each with its swatch
    app.page.locator(".pw-colorby").get_by_text("disclosure", exact=True).click()
    _expect_text(app, "harmed by a disclosure")
    assert "not disclosed" in app.text(".pw-legend")
    app.shot("explore-colour-by-disclosure")


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_bad_input_shows_a_message_and_the_app_keeps_running(app):
    app.open(f"/?{SMALL}")
    app.fill("Population size (people)", "many")
    _expect_text(app, "'many' is not a whole number")
    app.fill("Population size (people)", "0")
    _expect_text(app, "Population size must be between 1 and 5,000,000 people; got 0")
    _expect_text(app, "300 people")  # unchanged
    app.button("Step").click()
    app.wait_day(lambda d: d == 1)
    # an unknown scenario or a bad value in the address
    app.open(f"/?scenario=no_such_scenario&{SMALL}&seed=abc")
    _expect_text(app, "unknown scenario 'no_such_scenario'")
    _expect_text(app, "Seed: 'abc' is not a whole number")
    _expect_text(app, "300 people")
    app.button("Step").click()
    app.wait_day(lambda d: d == 1)
    app.shot("explore-bad-input")


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_two_sessions_each_have_their_own_model(browser, server):
    apps = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        apps.append(App(context.new_page(), server).open(f"/?{SMALL}"))
    a, b = apps
    for _ in range(3):
        a.button("Step").click()
    a.wait_day(lambda d: d == 3)
    a.fill("Population size (people)", "350")
    a.button("Restart with these settings").click()
    _expect_text(a, "350 people")
    b.page.reload(wait_until="networkidle")
    b.page.locator(".pw-day").wait_for()
    assert b.day() == 0
    _expect_text(b, "300 people")
    b.button("Step").click()
    b.wait_day(lambda d: d == 1)
    assert a.day() == 0  # A restarted at 350 people and was not stepped by B
    _expect_text(a, "350 people")
    for x in apps:
        x.check_clean()
        x.page.context.close()


# ---------------------------------------------------------------------------------------------
# Classroom


def _flows(app: App) -> dict[str, str]:
    rows = app.page.locator(".pw-flows tr[data-flow]")
    return {
        rows.nth(i).get_attribute("data-flow"): rows.nth(i).locator("td").nth(2).inner_text()
        for i in range(rows.count())
    }


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_classroom_diagram_flows_change_as_the_model_steps(app):
    app.open(f"/classroom?{SMALL}")
    svg = app.page.locator("svg.pw-diagram")
    svg.wait_for()
    for box in ("stigma", "activation", "intervention", "misinformation", "hostility",
                "uncertainty", "outcomes", "entry", "support"):  # fmt: skip
        assert app.page.locator(f".pw-box-{box}").count() == 1, box
    body = app.page.inner_text("body").lower()
    for word in ("stigma", "activation", "misinformation", "hostil", "offline"):
        assert word in body
    app.page.get_by_role("button", name="▸ The flows as numbers").click()
    before = _flows(app)
    before_svg = svg.inner_html()
    app.button("Play").click()
    app.wait_day(lambda d: d >= 14)
    app.button("Pause").click()
    after = _flows(app)
    assert after != before
    assert svg.inner_html() != before_svg
    assert sum(float(v.replace(",", "")) for v in after.values()) > 0
    app.shot("classroom")


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_classroom_draws_trust_and_privacy_with_this_weeks_flows(app):
    app.open(f"/classroom?{SMALL}")
    diagram = app.page.locator("svg.pw-diagram")
    diagram.wait_for()
    trust = diagram.locator(".pw-box-trust").text_content()
    privacy = diagram.locator(".pw-box-privacy").text_content()
    assert "Trust in online" in trust and "information" in trust
    for words in ("Privacy and", "disclosure", "% disclosed", "% harmed"):
        assert words in privacy, words
    for day in range(1, 9):
        app.button("Step").click()
        app.wait_day(lambda d, day=day: d == day)
    app.page.get_by_role("button", name="▸ The flows as numbers").click()
    app.page.locator(".pw-flows").wait_for()
    flows = _flows(app)
    # each new arrow's label carries its flow of the last seven days, as the table does
    for arrow, flow in (("privacy", "flow_disclosures"), ("harms", "flow_privacy_harms"),
                        ("trust", "flow_corrected"), ("acute", "flow_acute_care")):  # fmt: skip
        label = diagram.locator(f".pw-flow-label[data-arrow='{arrow}'] text").first
        assert label.text_content() == flows[flow], arrow
    assert flows["flow_corrected"] != "0"  # corrections happen every week at 300 people
    app.shot("classroom-trust-privacy")


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_classroom_presets_apply_and_explain(app):
    app.open(f"/classroom?{SMALL}")
    app.button("Step").click()
    app.wait_day(lambda d: d == 1)
    app.button("What moderation does").click()
    _expect_text(app, "Moderators now remove most hostile and misleading posts")
    _expect_text(app, "From day 1: communities.moderation = 0.9.")
    app.button("A misinformation surge").click()
    _expect_text(app, "A quarter of the health content people meet online is now misleading")
    _expect_text(app, "communities.misinformation_prevalence = 0.244")
    app.button("Turn off the activation pathway").click()
    _expect_text(app, "Learning from peers no longer raises patient activation")
    app.page.wait_for_function(
        "() => document.querySelector('.pw-box-activation').innerHTML.includes('switched off')"
    )
    app.shot("classroom-preset")
    app.button("Back to the baseline").click()
    _expect_text(app, "Today's mix of platforms")
    app.page.wait_for_function(
        "() => !document.querySelector('.pw-box-activation').innerHTML.includes('switched off')"
    )
    # presets act on the running model: stepping on works
    app.button("Step").click()
    app.wait_day(lambda d: d == 2)


# ---------------------------------------------------------------------------------------------
# Compare


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_compare_runs_with_progress_and_shows_the_summary(app, server):
    app.open("/compare")
    page = app.page
    page.get_by_label("Scenarios (the first is the reference)").click(force=True)
    page.locator(".v-menu__content .v-list-item", has_text="offline_only").first.click()
    page.keyboard.press("Escape")
    app.fill("Replicates", "2")
    app.fill("People (people)", "200")
    app.fill("Days (days)", "35")
    folder = server.workdir / "cmp-test"
    app.fill("Result folder", str(folder))
    app.button("Run comparison").click()
    _expect_text(app, "runs done", timeout=30_000)  # progress while it runs
    _expect_text(app, "Done:", timeout=180_000)
    app.shot("compare")
    table = page.locator(".pw-summary")
    text = table.inner_text()
    chosen = ["baseline", "moderated_community", "offline_only"]
    for name in chosen:
        assert page.locator(f".pw-summary tr[data-scenario='{name}']").count() > 5, name
    # the same numbers as summary.csv
    from peerwell.scenarios.dashboard.compare_page import fmt_ci, fmt_value

    summary = pd.read_csv(folder / "summary.csv")
    assert sorted(summary["scenario"].unique()) == sorted(chosen)
    for _, r in summary.iterrows():
        assert fmt_value(r["outcome"], r["mean"]) in text
        assert fmt_ci(r["outcome"], r["ci_low"], r["ci_high"]) in text
        if r["scenario"] != "baseline":
            assert fmt_ci(r["outcome"], r["diff_ci_low"], r["diff_ci_high"], True) in text
    # and a store written by `peerwell compare` loads back
    page.get_by_text("…or load a comparison").click()
    app.fill("Folder with comparison.json and summary.csv", str(folder))
    app.button("Load").click()
    _expect_text(app, f"loaded from {folder}")


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_compare_refuses_bad_input_with_a_message(app):
    app.open("/compare")
    app.fill("Replicates", "lots")
    app.button("Run comparison").click()
    _expect_text(app, "Replicates: 'lots' is not a whole number")
    app.fill("Replicates", "2")
    app.fill("Days (days)", "-5")
    app.button("Run comparison").click()
    _expect_text(app, "Steps must be between 0 and 100,000 days; got -5")
    app.page.get_by_text("…or load a comparison").click()
    app.fill("Folder with comparison.json and summary.csv", "nonexistent/folder")
    app.button("Load").click()
    _expect_text(app, "holds no finished comparison")
    app.fill("Folder with comparison.json and summary.csv", "/nonexistent/folder")
    app.button("Load").click()
    _expect_text(app, "folders must be inside")  # outside the dashboard's --root
    # the page still works
    app.page.get_by_role("button", name="Classroom").click()
    app.page.locator("svg.pw-diagram").wait_for()


# ---------------------------------------------------------------------------------------------
# The pieces behind the pages (no browser)


def test_controls_come_from_the_typed_parameter_metadata():
    import dataclasses

    from peerwell.scenarios.dashboard.controls import FEATURED, SPECS, groups
    from peerwell.simulation.params import ModelParams, iter_fields

    metadata = {name: meta for name, _, meta in iter_fields(ModelParams())}
    for name in FEATURED:
        spec = SPECS[name]
        assert (spec.lo, spec.hi, spec.unit, spec.help) == (
            metadata[name]["lo"], metadata[name]["hi"], metadata[name]["unit"], metadata[name]["help"]
        )  # fmt: skip
    # every switch of the conceptual model is a control, and every group has its section
    switches = {f"mechanisms.{f.name}" for f in dataclasses.fields(ModelParams().mechanisms)}
    assert switches <= set(SPECS)
    assert {"population", "communities", "mechanisms", "run"} <= set(groups())
    assert SPECS["communities.moderation"].kind == "slider"
    assert SPECS["population.size"].kind == "integer"
    assert SPECS["mechanisms.hostility"].kind == "switch"


def test_every_control_shows_the_basis_and_source_of_its_default():
    """Issue 20: the dashboard shows where each default comes from, as `peerwell params` does."""
    import ipyvuetify as v
    import solara

    from peerwell.scenarios.dashboard.communities import setting_spec
    from peerwell.scenarios.dashboard.controls import SPECS, ParamControl
    from peerwell.scenarios.evidence import paramdoc
    from peerwell.simulation.params import COMMUNITY_MID_RUN

    records = {r["name"]: r for r in paramdoc.records()}
    for name, spec in SPECS.items():
        assert (spec.basis, spec.source) == (records[name]["basis"], records[name]["source"]), name
        assert spec.provenance.startswith(f"basis: {spec.basis}"), name
    hostile = SPECS["exchange.psychosis_hostility"]
    assert hostile.basis == "assumption" and "Alvarez-Mon 2019" in hostile.provenance
    assert SPECS["population.pam_mean_bipolar"].provenance.startswith("basis: input · source: ")
    assert "n/a" in SPECS["mechanisms.hostility"].provenance
    for prop in COMMUNITY_MID_RUN:
        assert setting_spec(prop).provenance.startswith("basis: "), prop
    # drawn under the control
    _box, rc = solara.render(ParamControl(hostile, 3.2, lambda n, x: None), handle_error=False)
    shown = [h.children for h in rc.find(v.Html).widgets if "pw-provenance" in (h.class_ or "")]
    assert shown == [[hostile.provenance]]


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("population.size", "1,500", 1500),
        ("population.size", "300.0", 300),
        ("communities.moderation", "0.25", 0.25),
        ("mechanisms.entry", "off", False),
    ],
)
def test_parse_value_accepts_what_people_type(name, raw, expected):
    from peerwell.scenarios.dashboard.controls import SPECS, parse_value

    assert parse_value(SPECS[name], raw) == expected


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("population.size", "abc", "is not a whole number"),
        ("population.size", "2.5", "is not a whole number"),
        ("population.size", "0", "must be between 1 and 5,000,000 people; got 0"),
        ("communities.moderation", "nan", "is not a finite number"),
        ("communities.moderation", "1.5", "must be between 0 and 1"),
        ("mechanisms.entry", "maybe", "is not on/off"),
    ],
)
def test_parse_value_refuses_bad_input_with_a_sentence(name, raw, message):
    from peerwell.scenarios.dashboard.controls import SPECS, parse_value

    with pytest.raises(ValueError, match=re.escape(message)):
        parse_value(SPECS[name], raw)


def test_live_changes_keep_the_day_structural_ones_restart():
    from peerwell.scenarios.dashboard.live import LiveModel
    from peerwell.simulation.params import ModelParams, with_overrides

    live = LiveModel(with_overrides(ModelParams(), {"population.size": 200}))
    live.step(3)
    assert live.apply({"communities.moderation": 0.8}) is False
    assert live.day == 3 and live.model.params.communities.moderation == 0.8
    assert live.model.theta is not None
    assert live.apply({"population.size": 250}) is True
    assert live.day == 0 and live.model.params.population.size == 250
    assert live.settings.communities.moderation == 0.8  # kept across the restart
    from peerwell.simulation.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape("population.size=0")):
        live.apply({"population.size": 0})
    assert live.model.params.population.size == 250


def test_layout_is_computed_once_and_samples_large_populations():
    from peerwell.scenarios.dashboard.live import DRAW_MAX, LiveModel
    from peerwell.simulation.params import ModelParams, with_overrides

    live = LiveModel(with_overrides(ModelParams(), {"population.size": DRAW_MAX + 500}))
    layout = live.layout
    assert len(layout.nodes) == DRAW_MAX and layout.n_total == DRAW_MAX + 500
    live.step(2)
    assert live.layout is layout  # stepping never lays out again
    colors, online = live.node_colors("care status")
    assert len(colors) == len(online) == DRAW_MAX


def test_people_are_coloured_by_trust_and_by_disclosure():
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    from peerwell.scenarios.dashboard.live import (
        COLOR_BY,
        DISCLOSURE_COLORS,
        LiveModel,
        describe_person,
    )
    from peerwell.scenarios.dashboard.views import legend_html
    from peerwell.simulation.params import ModelParams, with_overrides

    live = LiveModel(with_overrides(ModelParams(), {"population.size": 200}))
    live.step(2)
    cur, first = live.model.state.cur, live.layout.nodes[:4]
    # not disclosed; disclosed; disclosed and harmed; harmed (a harm outranks the disclosure)
    cur["disclosed"][first] = [0, 1, 1, 0]
    cur["privacy_harm"][first] = [0, 0, 1, 1]
    cur["trust"][first[:2]] = [0.0, 1.0]
    colors, online = live.node_colors("disclosure")
    grey, violet, red = DISCLOSURE_COLORS
    assert colors[:4] == [grey, violet, red, red]
    assert len(colors) == len(online) == len(live.layout.nodes)
    trust, _ = live.node_colors("trust")
    scale = COLOR_BY["trust"]
    assert trust[:2] == [to_hex(colormaps[scale.cmap](0.0)), to_hex(colormaps[scale.cmap](1.0))]
    # the legend says what the colours stand for
    legend = legend_html("disclosure")
    for color, label in zip(DISCLOSURE_COLORS, ("not disclosed", "disclosed", "harmed")):
        assert f"background:{color}'></span>{label}" in legend
    assert "trust in online health information" in legend_html("trust")
    # and hovering tells the same
    assert "harmed by a disclosure" in describe_person(live.person(2))[-2]
    assert "trust in online information 1.00 · disclosed" in describe_person(live.person(1))[-2]


def test_the_address_is_parsed_and_bad_parts_are_reported():
    from peerwell.scenarios.dashboard.controls import parse_query
    from peerwell.scenarios.dashboard.live import build_live

    scenario, overrides, problems = parse_query("?scenario=nope&population.size=220&seed=x&zzz=1")
    assert scenario == "nope" and overrides == {"population.size": 220}
    assert any("Seed" in p for p in problems) and any("'zzz'" in p for p in problems)
    live, more = build_live(scenario, overrides)
    assert live.settings.scenario.name == "baseline"
    assert live.settings.population.size == 220
    assert "unknown scenario 'nope'" in more[0]


def test_diagram_shows_every_box_and_switched_off_mechanisms():
    from peerwell.scenarios.dashboard.classroom import (
        PRESETS,
        diagram_svg,
        flows_now,
        preset_changes,
    )
    from peerwell.scenarios.dashboard.live import LiveModel
    from peerwell.simulation.params import ModelParams, with_overrides

    live = LiveModel(with_overrides(ModelParams(), {"population.size": 200}))
    base = live.settings_copy()
    live.step(8)
    svg = diagram_svg(flows_now(live))
    for box in ("people", "entry", "support", "stigma", "activation", "intervention",
                "misinformation", "hostility", "uncertainty", "trust", "privacy", "care",
                "outcomes"):  # fmt: skip
        assert f"pw-box-{box}" in svg
    assert "switched off" not in svg
    off = next(p for p in PRESETS if p.key == "no_activation")
    live.apply(preset_changes(off, base))
    assert "switched off" in diagram_svg(flows_now(live))
    back = next(p for p in PRESETS if p.key == "baseline")
    assert preset_changes(back, base)["mechanisms.activation_pathway"] is True
    assert all(len(p.text.split(". ")) >= 2 for p in PRESETS)  # two sentences each


def test_the_flows_table_has_every_recorded_flow():
    from peerwell.scenarios.dashboard.classroom import FLOW_ROWS
    from peerwell.simulation.recorder import FLOWS

    keys = [key for key, _, _ in FLOW_ROWS]
    assert sorted(keys) == sorted(FLOWS)  # each once


def test_compare_folders_stay_inside_the_root_when_exposed(monkeypatch, tmp_path):
    from peerwell.scenarios.dashboard.compare_page import check_folder
    from peerwell.simulation.errors import PeerwellError

    assert check_folder(tmp_path / "a") == (tmp_path / "a").resolve()
    monkeypatch.setenv("PEERWELL_DASHBOARD_ROOT", str(tmp_path))
    assert check_folder("runs/x") == (tmp_path / "runs/x").resolve()
    with pytest.raises(PeerwellError, match="folders must be inside"):
        check_folder("/etc")
    with pytest.raises(PeerwellError, match="folders must be inside"):
        check_folder("../outside")


def test_the_dashboard_modules_import_one_way():
    """live (the model state) imports no page module, controls no view, and no module imports
    one that imports it, not even from inside a function (where a circle hides)."""
    import ast
    import graphlib

    import peerwell.scenarios.dashboard as dashboard

    prefix = "peerwell.scenarios.dashboard."
    graph: dict[str, set[str]] = {}
    for path in Path(dashboard.__file__).parent.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names.add(node.module or "")
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        graph[path.stem] = {n.removeprefix(prefix) for n in names if n.startswith(prefix)}
    assert not graph["live"] & {"controls", "views", "explore", "classroom", "compare_page", "app"}
    assert not graph["controls"] & {"live", "views", "explore", "classroom", "compare_page", "app"}
    assert {"live", "controls"} <= graph["explore"] and "live" in graph["views"]
    list(graphlib.TopologicalSorter(graph).static_order())  # CycleError names a circle
