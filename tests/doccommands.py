"""Every shell command shown in README.md and docs/**/*.md, found and prepared to run.

The convention (also in docs/writing-docs.md):

**What is a command.** Every logical line (``\\``-continuations joined, ``#`` comments dropped) of

- a fenced block tagged ``bash``, ``sh``, ``shell`` or ``zsh``;
- an untagged fenced block or an indented code block whose first line starts with a command
  (``peerwell``, ``make``, ``python``, ``pip``, ``source``, ``.venv/bin/...``, ...);

and every line starting with ``$ `` in any other block (``console``, ``text``, ...). A block
tagged ``text`` (a usage synopsis, an output) shows no command. Every ``python`` block is run
too, as it is. MyST directives (```` ```{code-cell} ````, ...) are not shell blocks: the
notebooks' cells run when the site is built.

**Small sizes.** An HTML comment right before a block, ``<!-- test: KEY=VALUE ... -->``, sets
``KEY=VALUE`` in each command of the block: it replaces the value the command gives that key,
or is added to each ``peerwell`` command that takes the key (``run``: model parameters;
``compare``: those and ``replicates``, ``n_jobs``, ...; ``sweep``: model parameters and
``hydra.*``, design options when the command has ``design=``; ``sensitivity``: those and the
design options). ``with-scenario=FILE`` (a YAML file beside the Markdown file) puts that
scenario into the catalogue while the block's commands run, under a private name that the
commands' references are rewritten to.

**Where they run.** In a scratch folder with ``.venv`` linked and a copy of ``docs/``, with
``.venv/bin`` first on ``PATH``; ``source``, ``cd`` and ``export`` lines also apply to the later
commands of their block. The placeholder folders ``/abs/...`` and ``/shared/...`` become folders
of the scratch folder, in which ``edges.txt`` is a small edge list (300 people).

**Special commands.** ``make demo`` and ``make venv`` run for real in the repository;
``make test`` and ``make docs`` are not run from inside the tests (the first would recurse, the
second is what the site test does): their target must exist and its recipe must run pytest,
respectively sphinx-build. ``peerwell dashboard`` is started on a free port (``--port``
replaced), must answer HTTP, and is stopped. A sweep on ``hydra/launcher=slurm`` (or
``submitit_slurm``) runs up to its submission with fake ``srun``/``sbatch`` programs: the sweep
is planned and validated, its batch script written, and nothing is submitted or run.

**Skips** are listed in ``SKIPS`` below, each with its reason; a skip that no longer matches a
command fails the tests, so the list cannot go stale.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
SHELL_LANGS = {"bash", "sh", "shell", "zsh"}
CONSOLE_LANGS = {"console", "shell-session"}
COMMAND_WORDS = (
    "peerwell",
    "make",
    "python",
    "python3",
    "pip",
    "source",
    ".venv/",
    "sphinx-build",
    "pytest",
    "ruff",
)
TEST_COMMENT = re.compile(r"^<!--\s*test:\s*(.*?)\s*-->\s*$", flags=re.S)
STATEFUL = re.compile(r"^(source|\.|cd|export)\s")

# Commands that are shown but not run, each with the reason. Matched against the command text.
SKIPS: dict[str, str] = {
    r"^python3\.12 -m venv \.venv-ray": (
        "creates a second environment and installs Ray (hundreds of MB) from the package index: "
        "not for every test run"
    ),
    r"^\.venv-ray/bin/peerwell sweep -m hydra/launcher=ray": (
        "needs the Ray environment of the command above and a running Ray cluster "
        "(address=auto); the same sweep is run here on joblib and up to submission on SLURM"
    ),
    r"^dask (scheduler|worker) ": (
        "starts a Dask scheduler or worker, which run until stopped; tests/test_clusters.py "
        "starts both on 127.0.0.1 and runs sweeps on them"
    ),
    r"^peerwell sweep -m hydra/launcher=dask ": (
        "needs a running Dask cluster at the address shown; tests/test_clusters.py runs the same "
        "sweep on one it starts on 127.0.0.1"
    ),
    r"^peerwell collect /shared/": (
        "collects a SLURM sweep, which the tests run only up to its submission (no cluster); "
        "`peerwell collect` itself runs on the laptop sweeps of the same pages"
    ),
}


@dataclass
class DocCommand:
    """One command as a document shows it, and how the tests run it."""

    path: Path  # the Markdown file
    line: int  # 1-based line of its block
    text: str  # the command as shown (continuations joined, comments dropped)
    settings: dict[str, str] = field(default_factory=dict)  # from <!-- test: ... -->
    with_scenario: Path | None = None
    prefix: list[str] = field(default_factory=list)  # earlier source/cd/export lines of the block
    kind: str = "shell"  # shell | python | make | server | slurm | skip
    reason: str = ""  # for kind == "skip"

    @property
    def id(self) -> str:
        where = self.path.relative_to(ROOT)
        return f"{where}:{self.line}:{self.text[:60]}"


# ---------------------------------------------------------------------------------------------
# Finding them


def doc_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for p in sorted((ROOT / "docs").rglob("*.md")):
        rel = p.relative_to(ROOT / "docs").parts
        if rel[0] in ("_build", "_ext") or "outputs" in rel:
            continue
        files.append(p)
    results = ROOT / "benchmarks" / "RESULTS.md"
    if results.is_file():  # shown in the site (docs/benchmarks.md includes it)
        files.append(results)
    return files


def strip_comment(line: str) -> str:
    """``line`` without a trailing ``# comment`` (outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def logical_lines(text: str) -> list[str]:
    out, buf = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            buf += line[:-1].strip() + " "
            continue
        line = (buf + line.strip()).strip()
        buf = ""
        line = strip_comment(line)
        if line:
            out.append(line)
    if buf.strip():
        out.append(strip_comment(buf.strip()))
    return out


def _looks_like_command(line: str) -> bool:
    return line.startswith(COMMAND_WORDS)


def block_commands(lang: str, content: str, indented: bool) -> list[str]:
    """The commands a code block shows (see the module doc)."""
    lines = logical_lines(content)
    if lang in SHELL_LANGS:
        return lines
    prompts = [ln[2:].strip() for ln in content.splitlines() if ln.startswith("$ ")]
    if prompts or lang in CONSOLE_LANGS:
        return [strip_comment(p) for p in prompts if strip_comment(p)]
    if (lang == "" or indented) and lines and _looks_like_command(lines[0]):
        return lines
    return []


def parse_settings(comment: str) -> dict[str, str]:
    out = {}
    for item in shlex.split(comment):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"test comment item {item!r} is not KEY=VALUE")
        out[key] = value
    return out


def commands_of(path: Path) -> list[DocCommand]:
    """Every command (and every ``python`` block, kind ``python``) of one Markdown file."""
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    out: list[DocCommand] = []
    previous = None
    for tok in tokens:
        if tok.type in ("fence", "code_block"):
            lang = tok.info.strip().split()[0] if tok.info.strip() else ""
            settings: dict[str, str] = {}
            if previous is not None and previous.type == "html_block":
                m = TEST_COMMENT.match(previous.content.strip())
                if m:
                    settings = parse_settings(m.group(1))
            line = tok.map[0] + 1 if tok.map else 0
            scenario = settings.pop("with-scenario", None)
            with_scenario = (path.parent / scenario) if scenario else None
            if lang == "python":
                out.append(DocCommand(path, line, tok.content, kind="python"))
            prefix: list[str] = []
            for text in block_commands(lang, tok.content, tok.type == "code_block"):
                out.append(
                    DocCommand(path, line, text, dict(settings), with_scenario, list(prefix))
                )
                if STATEFUL.match(text):
                    prefix.append(text)
        previous = tok
    for c in out:
        classify(c)
    return out


def all_commands() -> list[DocCommand]:
    return [c for p in doc_files() for c in commands_of(p)]


# ---------------------------------------------------------------------------------------------
# What each one is


def _peerwell_words(text: str) -> list[str]:
    try:
        words = shlex.split(text)
    except ValueError:
        return []
    if words and Path(words[0]).name == "peerwell":
        return words[1:]
    return []


def classify(c: DocCommand) -> None:
    if c.kind == "python":
        return
    for pattern, reason in SKIPS.items():
        if re.search(pattern, c.text):
            c.kind, c.reason = "skip", reason
            return
    if c.text.startswith("make "):
        c.kind = "make"
        return
    words = _peerwell_words(c.text)
    if words[:1] == ["dashboard"]:
        c.kind = "server"
    elif words[:1] == ["sweep"] and any(
        w in ("hydra/launcher=slurm", "hydra/launcher=submitit_slurm") for w in words
    ):
        c.kind = "slurm"


# ---------------------------------------------------------------------------------------------
# Small sizes


def _accepted(sub: str, text: str) -> set[str] | None:
    """Keys a ``peerwell SUB`` command takes as added ``key=value`` (None: any model key)."""
    from peerwell.scenarios.cli import compare as cli_compare
    from peerwell.scenarios.cli import sweep as cli_sweep
    from peerwell.scenarios.experiments.sweep import OPTION_KEYS

    design = {"samples", "params", "levels", "second_order", "design_seed", "chunk_size"}
    if sub == "run":
        return set()
    if sub == "compare":
        return set(cli_compare.OPTION_KEYS)
    if sub == "sweep":
        return design if re.search(r"(^|\s)design=", text) else set()
    if sub == "sensitivity":
        return design | set(cli_sweep.SA_KEYS) | (OPTION_KEYS & design)
    return None


def _is_model_key(key: str) -> bool:
    from peerwell.scenarios.experiments.sweep import MODEL_KEYS

    return key.split(".")[0] in MODEL_KEYS


def tokens(text: str) -> list[str]:
    """Split a command on unquoted blanks, keeping quotes (so it can be joined back as is)."""
    out, cur, quote = [], "", None
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            cur += ch
        elif ch.isspace():
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def _key(token: str) -> str | None:
    bare = token.lstrip("'\"")
    key, eq, _ = bare.partition("=")
    return key if eq and re.fullmatch(r"[\w./+~-]+", key) else None


def apply_settings(text: str, settings: dict[str, str]) -> str:
    """``text`` with the block's test settings replacing or added to its ``key=value``s."""
    if not settings:
        return text
    words = _peerwell_words(text)
    sub = words[0] if words else None
    toks = tokens(text)
    done = set()
    for i, tok in enumerate(toks):
        key = _key(tok)
        if key in settings:
            toks[i] = shlex.quote(f"{key}={settings[key]}")
            done.add(key)
    if sub is not None:
        accepted = _accepted(sub, text)
        if accepted is not None:
            for key, value in settings.items():
                if key in done:
                    continue
                hydra_ok = sub in ("sweep", "sensitivity") and key.startswith("hydra")
                if _is_model_key(key) or key in accepted or hydra_ok:
                    toks.append(shlex.quote(f"{key}={value}"))
    return " ".join(toks)


PLACEHOLDER = re.compile(r"(?<![\w.$/])/(abs|shared)(?=/)")


def localise(text: str, scratch: Path) -> str:
    """Placeholder folders (``/abs/...``, ``/shared/...``) moved into the scratch folder."""
    return PLACEHOLDER.sub(lambda m: f"{scratch}/{m.group(1)}", text)


def edge_list(n: int = 300) -> str:
    """A ring with chords over ``n`` people: the fixture behind ``network.path=/abs/edges.txt``."""
    lines = ["# a small edge list for the docs' commands"]
    for i in range(n):
        lines.append(f"{i} {(i + 1) % n}")
        lines.append(f"{i} {(i + 7) % n}")
    return "\n".join(lines) + "\n"
