"""The dashboard as a service: where it listens, what page input can reach, many sessions at once.

The server is the real `peerwell dashboard` (the ``Server`` helper of ``test_dashboard.py``), on a
free loopback port, in a scratch folder that is its ``--root``. Browser tests drive Debian's
headless Chromium through pytest-playwright (``-m browser``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from test_dashboard import App, Server, _expect_text, _listening, needs_chromium

from peerwell.simulation.errors import PeerwellError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("service"))
    yield srv
    srv.stop()


# ---------------------------------------------------------------------------------------------
# Where it listens, and what the docs say about exposing it


def test_the_dashboard_listens_on_loopback_unless_asked(server):
    from peerwell.scenarios.cli.dashboard import _parser

    assert _parser().parse_args([]).host == "127.0.0.1"
    assert set(_listening(server.port)) == {"127.0.0.1"}
    assert "warning" not in server.log().lower()  # no exposure warning on loopback


def test_the_docs_say_what_exposing_it_means():
    text = (ROOT / "docs" / "dashboard.md").read_text()
    assert "127.0.0.1" in text and "--host" in text
    beyond = text.split("## Beyond this computer", 1)[1].split("\n## ", 1)[0]
    for words in ("no login", "Anyone can make your computer work", "write files",
                  "plain HTTP", "reverse proxy"):  # fmt: skip
        assert words in beyond, words


def test_a_root_that_is_not_a_folder_is_refused(tmp_path, capsys):
    from peerwell.scenarios.cli.dashboard import dashboard

    with pytest.raises(SystemExit) as exc:
        dashboard(["--root", str(tmp_path / "missing"), "--port", "1"])
    assert exc.value.code == 2
    assert "--root" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# No page input reads or writes an arbitrary path


@pytest.fixture(scope="module")
def stored_comparison(tmp_path_factory):
    from peerwell.scenarios.experiments.compare import run_comparison

    out = tmp_path_factory.mktemp("stored") / "cmp"
    run_comparison(["baseline"], 1, ["steps=3", "population.size=40"], out,
                   n_jobs=1, progress=False, figures=False)  # fmt: skip
    return out


@pytest.fixture
def root(tmp_path, monkeypatch, stored_comparison):
    """A dashboard root as `peerwell dashboard` sets it, and a comparison outside it."""
    inside = tmp_path / "root"
    outside = tmp_path / "elsewhere"
    inside.mkdir()
    shutil.copytree(stored_comparison, outside / "cmp")
    monkeypatch.setenv("PEERWELL_DASHBOARD_ROOT", str(inside))
    return inside, outside


@pytest.mark.parametrize(
    "folder",
    ["../elsewhere/cmp", "../../", "/etc", "/", "~", "a/../../elsewhere/cmp", "link-out/cmp",
     "link-out", "./link-out/../link-out/cmp"],
)  # fmt: skip
def test_folders_that_lead_out_of_the_root_are_refused(root, folder):
    from peerwell.scenarios.dashboard.compare_page import check_folder, load_store

    inside, outside = root
    (inside / "link-out").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PeerwellError, match="folders must be inside"):
        check_folder(folder)  # what Run comparison writes into
    with pytest.raises(PeerwellError, match="folders must be inside"):
        load_store(folder)  # what Load reads


def test_folders_inside_the_root_are_fine_and_relative_to_it(root):
    from peerwell.scenarios.dashboard.compare_page import check_folder, load_store

    inside, outside = root
    (inside / "link-in").symlink_to(inside / "results", target_is_directory=True)
    assert check_folder("results/a") == (inside / "results" / "a").resolve()
    assert check_folder(str(inside / "b")) == (inside / "b").resolve()
    assert check_folder("link-in/x") == (inside / "results" / "x").resolve()
    os.rename(outside / "cmp", inside / "cmp")
    assert load_store("cmp").scenarios == ["baseline"]


@pytest.mark.parametrize("how", ["manifest", "symlinked run"])
def test_a_store_cannot_point_its_reader_outside_itself(root, how):
    from peerwell.scenarios.dashboard.compare_page import load_store

    inside, outside = root
    store = inside / "cmp"
    os.rename(outside / "cmp", store)
    manifest = json.loads((store / "comparison.json").read_text())
    run_file = store / manifest["runs"][0]["file"]
    secret = outside / "secret.parquet"
    secret.parent.mkdir(exist_ok=True)
    pd.DataFrame({"x": [1]}).to_parquet(secret)
    if how == "manifest":
        manifest["runs"][0]["file"] = "../../elsewhere/secret.parquet"
        (store / "comparison.json").write_text(json.dumps(manifest))
    else:
        run_file.unlink()
        run_file.symlink_to(secret)
    with pytest.raises(PeerwellError, match="outside the folder"):
        load_store("cmp")


def test_the_address_cannot_name_a_network_file(root):
    from peerwell.scenarios.dashboard.controls import parse_query

    _, overrides, problems = parse_query(
        "?network.path=/etc/passwd&network.kind=edgelist&network.kind=graphml&output_dir=/tmp/x"
    )
    assert overrides == {}
    assert len(problems) == 4
    assert any("network.path" in p for p in problems) and any("output_dir" in p for p in problems)


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../../../../../etc/passwd",
        "/static/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/public/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/_solara/static/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/_solara/cdn/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/nbextensions/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/assets/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    ],
)
def test_the_server_serves_no_file_outside_its_assets(server, path):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", path)  # sent as written: no client-side normalisation of ".."
    body = conn.getresponse().read()
    conn.close()
    assert b"root:x:0:0" not in body and b"root:" not in body[:200]


# ---------------------------------------------------------------------------------------------
# Ten browser sessions at once


SESSIONS = 10


@pytest.mark.browser
@pytest.mark.xdist_group("dashboard")
@needs_chromium
def test_ten_concurrent_sessions_each_keep_their_own_model(browser, server):
    """Ten browser contexts (ten people), each with its own population size, stepped and played
    at the same time: each page shows its own model, and the server keeps answering."""
    apps, sizes = [], [40 + 5 * i for i in range(SESSIONS)]
    for n in sizes:
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        app = App(context.new_page(), server)
        app.page.set_default_timeout(90_000)
        app.page.goto(f"{server.url}/?population.size={n}&seed={n}", wait_until="commit")
        apps.append(app)
    t0 = time.monotonic()
    for app, n in zip(apps, sizes):
        app.page.locator(".pw-day").wait_for(timeout=120_000)
        _expect_text(app, f"{n} people", timeout=60_000)
    all_loaded = time.monotonic() - t0
    # Steps clicked round robin: session i takes i % 4 + 1 steps.
    want = [i % 4 + 1 for i in range(SESSIONS)]
    for k in range(max(want)):
        for app, w in zip(apps, want):
            if k < w:
                app.button("Step").click()
    for app, w, n in zip(apps, want, sizes):
        assert app.wait_day(lambda d, w=w: d == w, timeout=60) == w
        _expect_text(app, f"{n} people")
    # Everyone presses Play at once; the server keeps answering a newcomer meanwhile.
    for app in apps:
        app.button("Play").click()
    time.sleep(2.0)
    t = time.monotonic()
    urllib.request.urlopen(server.url + "/", timeout=30).read()
    answer = time.monotonic() - t
    for app in apps:
        app.button("Pause").click()
    for app, w, n in zip(apps, want, sizes):
        app.button("Play").wait_for()  # each session took its own pause
        assert app.day() > w  # each played on from its own day
        _expect_text(app, f"{n} people")
    paused = [app.day() for app in apps]
    time.sleep(1.0)
    assert [app.day() for app in apps] == paused  # paused means paused, in every session
    assert answer < 10, f"the server took {answer:.1f} s to answer a page while ten sessions played"
    assert all_loaded < 120, f"ten sessions took {all_loaded:.0f} s to open"
    for app in apps:
        app.check_clean()
        app.page.context.close()
    print(f"\nten sessions: opened in {all_loaded:.1f} s; a page answered in {answer:.2f} s")
