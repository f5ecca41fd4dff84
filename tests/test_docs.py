"""The documentation cannot rot: the site builds with no warning and every internal link in it
resolves, and every command that README.md and docs/ show runs.

The site is built by ``make docs`` itself (Sphinx + MyST-NB, warnings as errors, the tutorials'
notebooks executed). The commands are found and prepared by ``tests/doccommands.py``, whose
module documentation is the convention (small sizes, placeholders, servers, SLURM, skips).
Run alone: ``.venv/bin/python -m pytest tests/test_docs.py -q``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import ClassVar

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import doccommands as dc

pytestmark = pytest.mark.docs

ROOT = dc.ROOT
VENV_BIN = Path(sys.executable).parent
COMMANDS = dc.all_commands()
RUNNABLE = [c for c in COMMANDS if c.kind != "skip"]
TIMEOUT = 900


# ---------------------------------------------------------------------------------------------
# The site


class _Links(HTMLParser):
    """Every id (anchor) of a page and every link, image, script or stylesheet it refers to."""

    ATTRS: ClassVar[set[str]] = {"href", "src", "xlink:href", "data"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name") and tag != "meta":
                self.ids.add(value)
            elif name in self.ATTRS and not (
                tag == "link" and name == "href" and _rel_external(attrs)
            ):
                self.refs.append((tag, value))

    handle_startendtag = handle_starttag


def _rel_external(attrs) -> bool:
    rel = dict(attrs).get("rel", "") or ""
    return "canonical" in rel


def _parse(page: Path) -> _Links:
    p = _Links()
    p.feed(page.read_text(encoding="utf-8"))
    return p


def broken_links(site: Path) -> list[str]:
    """``page: ref (why)`` for every internal reference that does not resolve."""
    pages = {p: _parse(p) for p in site.rglob("*.html")}
    ids = {p.resolve(): links.ids for p, links in pages.items()}
    broken = []
    for page, links in pages.items():
        for tag, ref in links.refs:
            parts = urllib.parse.urlsplit(ref)
            if parts.scheme or ref.startswith("//"):
                continue  # external (http, mailto, data, javascript): not ours to check offline
            path = urllib.parse.unquote(parts.path)
            target = (page.parent / path).resolve() if path else page.resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(site)}: <{tag}> {ref}"
            if not target.exists():
                broken.append(f"{where} (no file {target})")
                continue
            if parts.fragment and target.suffix == ".html":
                fragment = urllib.parse.unquote(parts.fragment)
                if fragment not in ids.get(target, set()):
                    broken.append(f"{where} (no id {fragment!r} in {target.name})")
    return broken


MAKE_LOCK = Path(tempfile.gettempdir()) / "peerwell-docs-make.lock"


def _make_venv() -> None:
    with MAKE_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = subprocess.run(["make", "venv"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def _catalogue() -> Path:
    return Path(str(resources.files("peerwell.conf") / "scenario"))


def test_site_builds_with_no_warning_and_every_internal_link_resolves(tmp_path):
    out, doctrees = tmp_path / "html", tmp_path / "doctrees"
    _make_venv()  # so that `make docs` below never runs pip beside another test's `make`
    t0 = time.perf_counter()
    r = subprocess.run(
        ["make", "docs", f"DOCS_OUT={out}", f"DOCS_DOCTREES={doctrees}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.perf_counter() - t0
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-6000:]
    assert "build succeeded" in log, log[-3000:]
    print(f"make docs: {seconds:.0f} s")

    # Every page the issue asks for is there.
    for page in (
        "index",
        "getting-started",
        "conceptual-model",
        "ODD",
        "tutorials/researcher",
        "tutorials/modeler",
        "tutorials/instructor",
        "reference/cli",
        "reference/params",
        "reference/api",
        "validation",
        "benchmarks",
        "sweeps",
        "dashboard",
    ):
        assert (out / f"{page}.html").is_file(), page

    # Every internal link, image, script and stylesheet resolves, anchors included.
    broken = broken_links(out)
    assert not broken, "broken internal links:\n" + "\n".join(broken[:50])

    # The generated pages reflect the code.
    from peerwell.scenarios.cli.core import load_commands
    from peerwell.scenarios.evidence.paramdoc import rows

    cli = (out / "reference/cli.html").read_text(encoding="utf-8")
    for name in load_commands():
        assert f"peerwell {name}" in cli, f"CLI reference lacks `peerwell {name}`"
    params = (out / "reference/params.html").read_text(encoding="utf-8")
    missing = [r.name for r in rows() if r.name not in params]
    assert not missing, f"parameter reference lacks {missing[:10]}"
    api = (out / "reference/api.html").read_text(encoding="utf-8")
    import peerwell

    for name in peerwell.__all__:
        if name not in ("__version__", "ConfigError", "PeerwellError", "PeerwellModel"):
            assert f'id="peerwell.{name}"' in api, f"API reference lacks peerwell.{name}"

    # The figure's boxes link to the ODD's submodel sections (checked above to resolve).
    figure = (out / "conceptual-model.html").read_text(encoding="utf-8")
    assert "<svg" in figure
    assert len(set(re.findall(r'href="ODD\.html#(sm-[\w-]+|initialisation)"', figure))) >= 8

    # The notebooks ran: their outputs are in the pages (figures, tables).
    for tutorial in ("researcher", "modeler"):
        html = (out / f"tutorials/{tutorial}.html").read_text(encoding="utf-8")
        assert "<img" in html and "cell_output" in html, tutorial

    # The modeler tutorial took its scenario out of the catalogue again.
    assert not (_catalogue() / "tutorial_moderation_drive.yaml").exists()


# ---------------------------------------------------------------------------------------------
# The commands


def test_every_skip_is_listed_with_a_reason_and_still_matches_a_command():
    skipped = [c for c in COMMANDS if c.kind == "skip"]
    for c in skipped:
        assert c.reason, c.id
    for pattern in dc.SKIPS:
        assert any(re.search(pattern, c.text) for c in skipped), (
            f"SKIPS entry {pattern!r} matches no command any more: remove it"
        )
    print("\n".join(f"skipped: {c.id}\n  because {c.reason}" for c in skipped))


def test_the_docs_show_commands_and_the_commands_are_found():
    files = {c.path.relative_to(ROOT).as_posix() for c in COMMANDS}
    for doc in ("README.md", "docs/getting-started.md", "docs/sweeps.md", "docs/dashboard.md"):
        assert doc in files, f"no command found in {doc}"
    texts = [c.text for c in COMMANDS]
    assert "make demo" in texts and "make test" in texts  # the quick start


def test_every_test_comment_sits_right_before_a_code_block():
    from markdown_it import MarkdownIt

    for path in dc.doc_files():
        tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
        for i, tok in enumerate(tokens):
            if tok.type == "html_block" and dc.TEST_COMMENT.match(tok.content.strip()):
                nxt = tokens[i + 1] if i + 1 < len(tokens) else None
                assert nxt is not None and nxt.type in ("fence", "code_block"), (
                    f"{path.relative_to(ROOT)}:{tok.map[0] + 1}: a test comment must come "
                    "right before the code block it sets sizes for"
                )


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if c.kind != "python"], ids=lambda c: c.id)
def test_every_command_is_valid_shell_as_shown(cmd):
    r = subprocess.run(["bash", "-n", "-c", cmd.text], capture_output=True, text=True)
    assert r.returncode == 0, f"{cmd.id}: not valid shell as shown: {r.stderr}"


def _scratch(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")
    docs = work / "docs"
    docs.mkdir()
    for p in (ROOT / "docs").glob("*.md"):
        shutil.copy(p, docs / p.name)
    shutil.copytree(ROOT / "docs" / "examples", docs / "examples")  # files the commands name
    for folder in ("abs", "shared"):
        (work / folder).mkdir()
    (work / "abs" / "edges.txt").write_text(dc.edge_list())
    return work


def _env(extra_path: Path | None = None) -> dict[str, str]:
    env = os.environ.copy()
    path = [str(VENV_BIN)] + ([str(extra_path)] if extra_path else [])
    env["PATH"] = os.pathsep.join([*path, env.get("PATH", "")])
    env.pop("PYTHONPATH", None)
    return env


def _prepared(cmd: dc.DocCommand, work: Path, rename: dict[str, str]) -> str:
    text = dc.localise(dc.apply_settings(cmd.text, cmd.settings), work)
    for old, new in rename.items():
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    return text


def _install_scenario(src: Path) -> tuple[Path, dict[str, str]]:
    """Put a scenario file into the catalogue under a private name; (file, {old: new})."""
    text = src.read_text(encoding="utf-8")
    old = re.search(r"^\s+name:\s*(\S+)\s*$", text, flags=re.M).group(1)
    new = f"docs_test_{uuid.uuid4().hex[:8]}_{old}"
    dest = _catalogue() / f"{new}.yaml"
    dest.write_text(
        re.sub(rf"(^\s+name:\s*){re.escape(old)}\s*$", rf"\g<1>{new}", text, flags=re.M)
    )
    return dest, {old: new}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def _run_server(text: str, work: Path, cmd: dc.DocCommand) -> None:
    """Start a server command on a free port, wait until it answers HTTP, stop it."""
    port = _free_port()
    if re.search(r"--port[ =]\S+", text):
        text = re.sub(r"--port[ =]\S+", f"--port {port}", text)
    else:
        text += f" --port {port}"
    log = work / "server.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            ["bash", "-c", "exec " + text],
            cwd=work,
            env=_env(),
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"{cmd.id}: the server stopped: {log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
                    assert resp.status == 200
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, f"{cmd.id}: no answer on port {port}"
                time.sleep(1.0)
    finally:
        _stop(proc)


def _run_slurm_dry(text: str, work: Path, cmd: dc.DocCommand) -> None:
    """Everything up to the SLURM submission, with fake srun/sbatch; nothing is submitted."""
    bin_dir = work / "fake-slurm"
    bin_dir.mkdir(exist_ok=True)
    record = work / "submitted.sbatch"
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sbatch").write_text(
        f'#!/bin/sh\ncp "$1" {shlex.quote(str(record))}\necho "Submitted batch job 4242"\n'
    )
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    log = work / "slurm.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            ["bash", "-c", "exec " + text],
            cwd=work,
            env=_env(bin_dir),
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while not record.exists():
            assert proc.poll() is None, (
                f"{cmd.id}: stopped before submitting: {log.read_text()[-4000:]}"
            )
            assert time.monotonic() < deadline, (
                f"{cmd.id}: nothing submitted: {log.read_text()[-3000:]}"
            )
            time.sleep(0.5)
        time.sleep(0.5)
    finally:
        _stop(proc)
    script = record.read_text()
    assert "#SBATCH --array=0-" in script, script
    for key, flag in (("partition", "--partition"), ("timeout_min", "--time")):
        m = re.search(rf"hydra\.launcher\.{key}=(\S+)", text)
        if m:
            assert f"#SBATCH {flag}={m.group(1)}" in script, script
    m = re.search(r"hydra\.launcher\.array_parallelism=(\d+)", text)
    if m:  # submitit caps the tasks running at once at the number of tasks
        last, running = map(int, re.search(r"#SBATCH --array=0-(\d+)%(\d+)", script).groups())
        assert running == min(int(m.group(1)), last + 1), script
    m = re.search(r"hydra\.sweep\.dir=(\S+)", text)
    plan = json.loads((Path(m.group(1)) / "sweep.json").read_text())
    assert plan["n_runs"] >= 1 and len(plan["runs"]) == plan["n_runs"]


def _run_make(cmd: dc.DocCommand) -> None:
    target = cmd.text.split()[1]
    if target in ("test", "docs"):
        # Not run from inside the tests: `make test` runs them, and the site test runs `make docs`.
        tool = {"test": "pytest", "docs": "sphinx-build"}[target]
        r = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert tool in r.stdout, f"`make {target}` does not run {tool}: {r.stdout}"
        return
    # One `make` at a time: with a stale .venv stamp, two would run pip in the same environment.
    with MAKE_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = subprocess.run(
            ["bash", "-c", cmd.text], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT
        )
    assert r.returncode == 0, f"{cmd.id}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    if target == "demo":
        assert (ROOT / "outputs/demo/trajectories.parquet").is_file()


def _run_python(cmd: dc.DocCommand, work: Path) -> None:
    script = work / "snippet.py"
    script.write_text(cmd.text)
    r = subprocess.run(
        [sys.executable, str(script)],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, f"{cmd.id}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


def _run_shell(cmd: dc.DocCommand, text: str, work: Path, rename: dict[str, str]) -> None:
    prefix = [_prepared(dc.DocCommand(cmd.path, 0, p), work, rename) for p in cmd.prefix]
    script = "\n".join(["set -eo pipefail", *prefix, text])
    r = subprocess.run(
        ["bash", "-c", script],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, f"{cmd.id}\nran: {text}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


def _blocks() -> list[list[dc.DocCommand]]:
    """The runnable commands grouped by the block that shows them (a block runs in one folder)."""
    blocks: dict[tuple[Path, int], list[dc.DocCommand]] = {}
    for c in RUNNABLE:
        blocks.setdefault((c.path, c.line), []).append(c)
    return list(blocks.values())


def _block_id(block: list[dc.DocCommand]) -> str:
    first = block[0]
    return f"{first.path.relative_to(ROOT)}:{first.line}:{first.text.splitlines()[0][:50]}"


@pytest.mark.parametrize("block", _blocks(), ids=_block_id)
def test_every_command_shown_in_the_docs_runs(block, tmp_path):
    """The commands of one block, in order, in one scratch folder (see tests/doccommands.py)."""
    work = _scratch(tmp_path)
    scenario = block[0].with_scenario
    installed, rename = _install_scenario(scenario) if scenario is not None else (None, {})
    try:
        for cmd in block:
            if cmd.kind == "make":
                _run_make(cmd)
            elif cmd.kind == "python":
                _run_python(cmd, work)
            else:
                text = _prepared(cmd, work, rename)
                if cmd.kind == "server":
                    _run_server(text, work, cmd)
                elif cmd.kind == "slurm":
                    _run_slurm_dry(text, work, cmd)
                else:
                    _run_shell(cmd, text, work, rename)
    finally:
        if installed is not None:
            installed.unlink(missing_ok=True)
