"""Input that used to be read wrongly without a word, and mistakes that ended in a traceback.

Issue 25, parts 4 and 5. Each test here failed before its fix: a file or config was read as
something else (one tie instead of four, node 10 for ``1_0``, two GraphML graphs merged, an event
that never fires), or a mistake ended in a Python or Hydra traceback instead of peerwell's one
line ``peerwell: error: ...`` with exit code 2 (130 for Ctrl-C).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from omegaconf import OmegaConf
from util import one_numba_thread, peerwell_here  # noqa: F401 (a fixture: one Numba thread here)

from peerwell.scenarios.catalogue import load_scenario
from peerwell.scenarios.config import params_from_cfg
from peerwell.simulation.errors import ConfigError, NetworkFileError
from peerwell.simulation.network import read_edgelist, read_graphml

PEERWELL = str(Path(sys.executable).with_name("peerwell"))


def ties(path: Path, n: int = 10) -> list[tuple[int, int]]:
    u, v = read_edgelist(str(path), n)
    return list(zip(u.tolist(), v.tolist()))


def refused(path: Path, n: int = 10, reader=read_edgelist) -> str:
    with pytest.raises(NetworkFileError) as err:
        reader(str(path), n)
    text = str(err.value)
    assert str(path) in text and "Traceback" not in text
    return text


def one_error_line(code, text: str, expected_code: int = 2) -> str:
    """The command's refusal: its exit code, and a single "peerwell: error:" line."""
    assert code == expected_code, text
    assert "Traceback" not in text, text
    lines = [ln for ln in text.splitlines() if "peerwell: error:" in ln]
    assert len(lines) == 1, text
    return lines[0]


# ---------------------------------------------------------------------------------------------
# Edge lists


@pytest.mark.parametrize(
    "content",
    [b"0 1\r1 2\r2 3\r3 4\r", b"0 1\r1 2\r2 3\r3 4", b"0 1\r\n1 2\r2 3\n3 4\r\n"],
    ids=["old-mac", "old-mac-no-final-break", "mixed"],
)
def test_every_line_ending_gives_every_tie(tmp_path, content):
    # Before: a file of \r line ends was one line, and columns after the second were dropped as
    # weights: 1 tie instead of 4.
    f = tmp_path / "mac.txt"
    f.write_bytes(content)
    assert ties(f) == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_node_id(tmp_path):
    # Before: "line 1: node ids must be whole numbers, got '\ufeff0' '1'".
    f = tmp_path / "bom.txt"
    f.write_bytes(b"\xef\xbb\xbf0 1\r\n1 2\r\n")
    assert ties(f) == [(0, 1), (1, 2)]


def test_an_edge_list_with_a_byte_order_mark_runs_through_the_command(tmp_path, capsys):
    f = tmp_path / "bom.txt"
    f.write_bytes(b"\xef\xbb\xbf" + "".join(f"{i} {(i + 1) % 10}\n" for i in range(10)).encode())
    code, text = peerwell_here(
        capsys, "run", "network=edgelist", f"network.path={f}", "population.size=10",
        "communities.count=2", "steps=2", f"output_dir={tmp_path / 'out'}",
    )  # fmt: skip
    assert code == 0 and "ufeff" not in text and "Traceback" not in text, text
    assert (tmp_path / "out" / "trajectories.parquet").exists()


def test_an_adjacency_list_line_is_refused_naming_the_line_and_the_formats(tmp_path):
    # Before: "0 1 2 3 4" was the tie 0-1 with the weight 2; ties 0-2, 0-3, 0-4 were lost.
    f = tmp_path / "adj.txt"
    f.write_text("0 1\n0 1 2 3 4\n")
    text = refused(f)
    assert f"{f}:2:" in text and "'0 1 2 3 4'" in text
    assert "adjacency list" in text and "# peerwell: adjacency" in text
    assert "# peerwell: weighted" in text and "one tie per line" in text


def test_a_whole_number_in_the_third_column_is_refused_without_a_declaration(tmp_path):
    f = tmp_path / "w.txt"
    f.write_text("0 1 3\n")
    assert f"{f}:1:" in refused(f)


def test_a_declared_adjacency_list_gives_every_neighbour(tmp_path):
    f = tmp_path / "adj.txt"
    f.write_text("# peerwell: adjacency\n0 1 2 3 4\n5\n5 6 # a comment\n")
    assert ties(f) == [(0, 1), (0, 2), (0, 3), (0, 4), (5, 6)]


def test_a_declared_weight_column_is_ignored_even_when_whole(tmp_path):
    f = tmp_path / "w.txt"
    f.write_text("# the reply network\n#  Peerwell : Weighted\n0 1 3\n1 2 1 extra\n")
    assert ties(f) == [(0, 1), (1, 2)]


def test_a_weight_that_is_not_a_whole_number_needs_no_declaration(tmp_path):
    f = tmp_path / "w.txt"
    f.write_text("0 1 0.5\n1 2 -1\n2 3 1e-3\n")
    assert ties(f) == [(0, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("# peerwell: triples\n0 1\n", [":1:", "'triples'", "weighted", "adjacency"]),
        ("0 1\n# peerwell: adjacency\n0 2 3\n", [":2:", "before the first tie (line 1)"]),
    ],
    ids=["unknown-format", "declared-too-late"],
)
def test_a_wrong_format_declaration_is_refused(tmp_path, content, words):
    f = tmp_path / "net.txt"
    f.write_text(content)
    text = refused(f)
    for w in words:
        assert w in text, text


@pytest.mark.parametrize(
    ("token", "wrongly"),
    [("1_0", 10), ("+3", 3), ("1_000", 1000), ("\u0663", 3), ("\uff13", 3)],
    ids=["underscore", "plus", "thousands", "arabic-indic-digit", "fullwidth-digit"],
)
def test_a_node_id_must_be_written_with_plain_digits(tmp_path, token, wrongly):
    # Before: int() read each of these as the node `wrongly`.
    f = tmp_path / "net.txt"
    f.write_text(f"0 1\n{token} 2\n", encoding="utf-8")
    text = refused(f, n=2000)
    assert f"{f}:2:" in text and repr(token) in text
    assert "digits 0-9" in text


def test_a_line_separator_inside_a_line_is_refused(tmp_path):
    # Before: str.split() took U+2028 for a space: "0 1<LS>2 3" was the tie 0-1 (2 3 a weight).
    f = tmp_path / "net.txt"
    f.write_text("0 1\u20282 3\n", encoding="utf-8")
    text = refused(f)
    assert f"{f}:1:" in text and "'\\u2028'" in text


def test_a_utf16_edge_list_is_named_as_such(tmp_path):
    # Before: "binary data" (UTF-16 has a zero byte in every ASCII character).
    f = tmp_path / "net.txt"
    f.write_text("0 1\n1 2\n", encoding="utf-16")
    text = refused(f)
    assert f"{f}:1:" in text and "UTF-16" in text and "UTF-8" in text


# ---------------------------------------------------------------------------------------------
# GraphML

HEAD = '<?xml version="1.0"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'


def test_a_second_graph_is_refused_rather_than_merged(tmp_path):
    # Before: the edges of both graphs became one network (0-1 and 2-3).
    f = tmp_path / "two.graphml"
    f.write_text(
        HEAD + '<graph id="a" edgedefault="undirected">\n<edge source="0" target="1"/>\n</graph>\n'
        '<graph id="b" edgedefault="undirected">\n<edge source="2" target="3"/>\n</graph>\n'
        "</graphml>\n"
    )
    text = refused(f, reader=read_graphml)
    assert f"{f}:6:" in text and "second <graph>" in text and "line 3" in text


def test_a_graph_directly_inside_a_graph_is_refused(tmp_path):
    f = tmp_path / "nested.graphml"
    f.write_text(
        HEAD + '<graph edgedefault="undirected">\n<graph id="inner">\n'
        '<edge source="2" target="3"/>\n</graph>\n</graph>\n</graphml>\n'
    )
    text = refused(f, reader=read_graphml)
    assert f"{f}:4:" in text and "nested graphs" in text


@pytest.mark.parametrize("tag", ["edge", "node"])
def test_an_edge_or_node_outside_any_graph_is_refused(tmp_path, tag):
    # Before: an edge after </graph> was read into the network like any other.
    element = '<edge source="2" target="3"/>' if tag == "edge" else '<node id="2"/>'
    f = tmp_path / "outside.graphml"
    f.write_text(
        HEAD + '<graph edgedefault="undirected">\n<edge source="0" target="1"/>\n</graph>\n'
        f"{element}\n</graphml>\n"
    )
    text = refused(f, reader=read_graphml)
    assert f"{f}:6:" in text and f"<{tag}> outside any <graph>" in text


@pytest.mark.parametrize("token", ["1_0", "+3", " 3", "3 ", "\u0663"])
def test_a_graphml_node_id_must_be_written_with_plain_digits(tmp_path, token):
    f = tmp_path / "ids.graphml"
    f.write_text(
        HEAD + '<graph edgedefault="undirected">\n<edge source="0" target="1"/>\n'
        f'<edge source="{token}" target="1"/>\n</graph>\n</graphml>\n',
        encoding="utf-8",
    )
    text = refused(f, n=20, reader=read_graphml)
    assert f"{f}:5:" in text and repr(token) in text and "digits 0-9" in text


# ---------------------------------------------------------------------------------------------
# Timed events


def events_config(steps: int, *events: dict):
    return OmegaConf.create({"steps": steps, "scenario": {"name": "x", "events": list(events)}})


MODERATION = "communities.moderation"


def test_an_event_on_the_day_a_run_ends_is_refused():
    # Before: accepted, and it never fired (a run of 20 steps has days 0 to 19).
    with pytest.raises(ConfigError) as err:
        params_from_cfg(events_config(20, {"day": 20, "param": MODERATION, "value": 0.9}))
    text = str(err.value)
    assert f"event 1 {{day: 20, param: {MODERATION}, value: 0.9}}" in text
    assert "never fire" in text and "days 0 to 19" in text
    params_from_cfg(events_config(20, {"day": 19, "param": MODERATION, "value": 0.9}))


def test_a_run_without_days_has_no_day_for_an_event():
    with pytest.raises(ConfigError, match=r"steps=0 has no days"):
        params_from_cfg(events_config(0, {"day": 0, "param": MODERATION, "value": 0.9}))


def test_a_shipped_scenario_whose_event_falls_on_the_last_day_is_refused():
    # platform_moderation's moderation starts on day 30: with steps=30 it never would.
    with pytest.raises(ConfigError) as err:
        load_scenario("platform_moderation", ["steps=30", "population.size=100"])
    text = str(err.value)
    assert "platform_moderation" in text and "day: 30" in text and "days 0 to 29" in text
    load_scenario("platform_moderation", ["steps=31", "population.size=100"])  # fires on 30


def test_two_events_on_one_day_for_one_parameter_are_refused_naming_both():
    # Before: both "fired" in list order and the last value won without a word.
    cfg = events_config(
        40,
        {"day": 3, "param": MODERATION, "value": 0.9},
        {"day": 9, "param": MODERATION, "value": 0.2},
        {"day": 3, "param": MODERATION, "value": 0.5},
    )
    with pytest.raises(ConfigError) as err:
        params_from_cfg(cfg)
    text = str(err.value)
    assert f"event 1 {{day: 3, param: {MODERATION}, value: 0.9}}" in text
    assert f"event 3 {{day: 3, param: {MODERATION}, value: 0.5}}" in text
    assert "only the last would take effect" in text


def test_an_event_listed_twice_is_refused_too():
    # Harmless in effect, but nothing needs it, and it is how a copy meant for another day looks.
    same = {"day": 3, "param": MODERATION, "value": 0.9}
    with pytest.raises(ConfigError, match=r"event 1 .* and event 2 .* to the same value .* twice"):
        params_from_cfg(events_config(40, same, dict(same, note="copy")))


def test_events_on_one_day_for_different_parameters_are_fine():
    p = params_from_cfg(
        events_config(
            40,
            {"day": 3, "param": MODERATION, "value": 0.9},
            {"day": 3, "param": "communities.hostility", "value": 0.01},
        )
    )
    assert [e.day for e in p.scenario.events] == [3, 3]


def test_a_clashing_event_through_the_command_is_one_clear_line(tmp_path, capsys):
    events = f"[{{day:3,param:{MODERATION},value:0.9}},{{day:3,param:{MODERATION},value:0.5}}]"
    code, text = peerwell_here(
        capsys, "run", f"scenario.events={events}", "steps=10", "population.size=30",
        f"output_dir={tmp_path / 'o'}",
    )  # fmt: skip
    line = one_error_line(code, text)
    assert "event 1" in line and "event 2" in line and MODERATION in line
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------
# Tracebacks turned into one line


def test_a_folder_name_over_255_bytes_is_one_clear_line(tmp_path, capsys):
    # Before: OSError [Errno 36] File name too long, from pathlib, with a traceback.
    long = "a" * 256
    code, text = peerwell_here(
        capsys, "run", "steps=2", "population.size=30", f"output_dir={tmp_path / long}"
    )
    line = one_error_line(code, text)
    assert "output_dir=" in line and "256 bytes" in line and "at most 255" in line
    assert long not in line  # cut short, so that the message stays readable


def test_compare_with_n_jobs_0_is_one_clear_line(tmp_path, capsys):
    # Before: joblib's "ValueError: n_jobs == 0 in Parallel has no meaning", with a traceback.
    code, text = peerwell_here(
        capsys, "compare", "scenarios=[baseline]", "replicates=1", "n_jobs=0", "steps=2",
        "population.size=30", f"output_dir={tmp_path / 'c'}", "progress=false", "figures=false",
    )  # fmt: skip
    line = one_error_line(code, text)
    assert "n_jobs=0" in line and "n_jobs=1" in line and "n_jobs=-1" in line
    assert not (tmp_path / "c").exists()


def test_a_non_ascii_output_folder_just_works(tmp_path, capsys):
    # Before: Hydra's "LexerNoViableAltException: output_dir=.../café", exit code 1.
    out = tmp_path / "café résumé"
    code, text = peerwell_here(capsys, "run", "steps=2", "population.size=30", f"output_dir={out}")
    assert code == 0 and "Lexer" not in text, text
    assert (out / "trajectories.parquet").exists()


def test_a_non_ascii_network_file_name_just_works(tmp_path, capsys):
    f = tmp_path / "réseau.txt"
    f.write_text("".join(f"{i} {(i + 1) % 10}\n" for i in range(10)))
    code, text = peerwell_here(
        capsys, "run", "network=edgelist", f"network.path={f}", "population.size=10",
        "communities.count=2", "steps=2", f"output_dir={tmp_path / 'o'}",
    )  # fmt: skip
    assert code == 0 and "Lexer" not in text, text


def test_a_non_ascii_sweep_folder_just_works(tmp_path, capsys):
    # Before: "peerwell: error: cannot read the command line: LexerNoViableAltException".
    out = tmp_path / "balayage-é"
    code, text = peerwell_here(
        capsys, "sweep", "seed=1", "steps=2", "population.size=30", "hydra/launcher=basic",
        f"hydra.sweep.dir={out}",
    )  # fmt: skip
    assert code == 0 and "Lexer" not in text, text
    assert (out / "sweep.json").exists()


def test_a_non_ascii_value_that_cannot_be_quoted_whole_gets_a_hint(tmp_path, capsys):
    # A comma makes a sweep of it: quoting it whole would change its meaning, so the user is told.
    code, text = peerwell_here(
        capsys, "run", "steps=2", "population.size=30", f"output_dir={tmp_path}/a,é"
    )
    line = one_error_line(code, text)
    assert "quote" in line and f"output_dir='{tmp_path}/a,é'" in line


def _session(pid: int) -> list[psutil.Process]:
    """The processes of the session ``pid`` leads (the command and its workers)."""
    out = []
    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == pid:
                out.append(p)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
    return out


@pytest.mark.skipif(sys.platform != "linux", reason="sessions and SIGINT as on Linux")
def test_ctrl_c_during_a_sweep_is_one_line_exit_130_and_stops_the_workers(tmp_path):
    # Before: about 170 lines of traceback through Hydra, joblib and loky, and exit code 1.
    cmd = [
        PEERWELL, "sweep", "seed=1,2,3,4", "steps=20000", "population.size=20000",
        "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]  # fmt: skip

    def default_sigint():
        # A test runner started in the background ignores SIGINT, and its children would too;
        # the command is to see Ctrl-C as it does in a terminal.
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=default_sigint,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            workers = [p for p in _session(proc.pid) if "LokyProcess" in " ".join(p.cmdline())]
            if len(workers) == 2:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        time.sleep(2)  # the workers are in their runs
        # To the command only: in a terminal Ctrl-C reaches the workers too; here the command
        # has to stop them itself.
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        lines = err.strip().splitlines()
        assert lines[-1] == "peerwell: error: interrupted; run the same command again to resume"
        # Before it, only the sweep's own progress lines (stderr is not a terminal here).
        assert all(line.startswith("sweep: ") for line in lines[:-1]), err
        assert "Traceback" not in out
        deadline = time.monotonic() + 15
        while _session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _session(proc.pid), "worker processes are still running"
    finally:
        if proc.poll() is None or _session(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group this test started, nothing else
        proc.wait()
