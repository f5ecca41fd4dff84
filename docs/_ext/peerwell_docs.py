"""Sphinx extension of peerwell's docs: pages generated from the code at build time.

Nothing here is written into ``docs/``: a page that is generated is a short stub on disk holding
a ``<!-- generate: NAME -->`` line, and ``source-read`` replaces that line with what the code
produces now, so the pages cannot drift from the code:

- ``cli-reference``: every sub-command from the CLI's own command table
  (``peerwell.scenarios.cli.core.load_commands``), with its help and the options of its typed config;
- ``params-reference``: the parameter tables of ``peerwell params`` (``simulation/params.py``);
- ``conceptual-model``: the figure of Naslund et al. (2016) drawn from its table in
  ``peerwell.analysis.conceptual`` (which ``docs/ODD.md``'s Mermaid diagram must match),
  each box a link to its ODD section, and the table of boxes, sections, switches and parameters;
- ``benchmarks``: ``benchmarks/RESULTS.md`` when ``make bench`` has written it.

``docs/ODD.md`` is also read through this extension: its ``<a id="..."></a>`` anchors become
MyST targets (so ``[...](#sm-entry)`` links resolve and are checked), and its Mermaid diagram is
checked against that table and replaced by the same linked figure. Finally, a
``missing-reference`` handler resolves references to an object's defining module
(``peerwell.scenarios.experiments.compare.ComparisonResult``) to the public name under which the
API reference documents it (``peerwell.scenarios.ComparisonResult``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import io
import re
from pathlib import Path

from sphinx.application import Sphinx

from peerwell.analysis import conceptual
from peerwell.analysis.tables import markdown_table

DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent

GENERATE = re.compile(r"^<!-- generate: ([\w-]+) -->\s*$", flags=re.M)
PUBLIC_PACKAGES = ("peerwell", "peerwell.simulation", "peerwell.scenarios", "peerwell.analysis")


# ---------------------------------------------------------------------------------------------
# The CLI reference


def _captured(fn, *args) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = fn(*args) or 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue()


def _fence(text: str, lang: str = "text") -> str:
    return f"```{lang}\n{text.rstrip()}\n```\n"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _field_comments(cls) -> dict[str, str]:
    """The trailing ``# comment`` of each field in a dataclass's source."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for m in re.finditer(r"^\s+(\w+):[^=\n]+=[^#\n]*#\s*(.+)$", source, flags=re.M):
        out[m.group(1)] = m.group(2).strip()
    return out


def _options_table(cls, names, help_text: dict[str, str] | None = None) -> str:
    comments = {**_field_comments(cls), **(help_text or {})}
    rows = []
    for f in dataclasses.fields(cls):
        if f.name not in names:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        if str(default) == "???":
            default = "(required)"
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rows.append(
            [f"`{f.name}`", _cell(kind), f"`{_cell(default)}`", _cell(comments.get(f.name, ""))]
        )
    return markdown_table(["key", "type", "default", "meaning"], rows)


def _groups() -> dict[str, list[str]]:
    from importlib import resources

    from peerwell.scenarios.catalogue import scenario_names

    root = resources.files("peerwell.conf")
    out = {"scenario": scenario_names()}
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
        if d.name in ("scenario", "hydra"):
            continue
        out[d.name] = sorted(p.name[:-5] for p in d.iterdir() if p.name.endswith(".yaml"))
    return out


def cli_reference() -> str:
    """The CLI reference: the command table, then one section per sub-command."""
    from peerwell.scenarios.cli import compare as cli_compare
    from peerwell.scenarios.cli import core as cli
    from peerwell.scenarios.cli import sweep as cli_sweep
    from peerwell.scenarios.config import RunConfig
    from peerwell.scenarios.experiments.sweep import OPTION_KEYS, SweepConfig

    commands = cli.load_commands()
    parts = [
        "The `peerwell` command has one sub-command per job. This page is generated when the "
        "documentation is built, from the command's own table (`peerwell --help`) and each "
        "sub-command's help and typed options, so it always matches the installed version.\n",
        _fence(_captured(cli.main, [])[1]),
        "Every model parameter is a `key=value` override of `run`, `compare`, `sweep` and "
        "`sensitivity`: see the [parameter reference](params.md). Config groups choose a whole "
        "set of values at once:\n",
        "| group | choices |\n|---|---|\n"
        + "".join(
            f"| `{g}=` | {', '.join(f'`{c}`' for c in cs)} |\n" for g, cs in _groups().items()
        ),
    ]
    for name, (summary, fn) in commands.items():
        parts.append(f"## `peerwell {name}`\n")
        parts.append(f"{_cell(summary)}\n")
        if name == "run":
            parts.append(
                _fence(
                    "usage: peerwell run [scenario=NAME] [network=KIND] [key=value ...] "
                    "[output_dir=PATH]\n       peerwell run --cfg job     # print the composed config"
                )
            )
            parts.append("Options besides the model parameters:\n")
            parts.append(
                _options_table(
                    RunConfig,
                    {"output_dir"},
                    {
                        "output_dir": "where trajectories.parquet, communities.parquet, groups.parquet, run.json "
                        "and trajectories.png go (not part of the run_id)"
                    },
                )
            )
            continue
        if name == "sweep":
            parts.append(
                _fence(
                    "usage: peerwell sweep -m [key=a,b,c ...] [design=lhs|random|morris|sobol "
                    "samples=N params=[...]]\n                      hydra.sweep.dir=/abs/path "
                    "[hydra/launcher=joblib|submitit_local|slurm]"
                )
            )
            parts.append("Sweep options (typed config `SweepConfig`; not part of a run's id):\n")
            parts.append(_options_table(SweepConfig, OPTION_KEYS))
            parts.append("\nSee [Sweeps and sensitivity analysis](../sweeps.md).\n")
            continue
        if name == "compare":
            parts.append(_fence(cli_compare.COMPARE_USAGE))
            parts.append("The comparison's own keys (typed config `CompareOptions`):\n")
            parts.append(_options_table(cli_compare.CompareOptions, cli_compare.OPTION_KEYS))
            continue
        if name == "sensitivity":
            parts.append(_fence(inspect.getdoc(fn).splitlines()[0].strip("`")))
            parts.append("| key | meaning |\n|---|---|\n")
            parts.append(
                "".join(f"| `{k}=` | {_cell(v)} |\n" for k, v in cli_sweep.SA_KEYS.items())
            )
            parts.append(
                "\nEvery other `key=value` is passed to the sweep (design options such as "
                "`samples=`, `params=[...]`, `levels=`, `second_order=`, model parameters, "
                "`hydra/launcher=...`).\n"
            )
            continue
        if name == "scenarios":
            from peerwell.scenarios.catalogue import list_scenarios

            parts.append(_fence("usage: peerwell scenarios"))
            rows = "".join(f"| `{n}` | {_cell(d)} |\n" for n, d in list_scenarios())
            parts.append(
                "The catalogue it prints:\n\n| scenario | question it answers |\n|---|---|\n" + rows
            )
            continue
        if name == "collect":
            parts.append(_fence(inspect.getdoc(fn).splitlines()[0].strip("`.")))
            parts.append(
                "Writes `SWEEP_DIR/collected.parquet` and `collected.csv`; with two numeric swept "
                "parameters (or `heatmap=X,Y`) also `heatmap_<outcome>.png`/`.svg`/`.csv`.\n"
            )
            continue
        code, text = _captured(cli.main, [name, "--help"])
        if code != 0 or "error:" in text:
            raise RuntimeError(f"`peerwell {name} --help` failed (exit {code}): {text[:500]}")
        parts.append(_fence(text))
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# The parameter reference


def params_reference() -> str:
    from peerwell.scenarios.evidence.paramdoc import render_markdown

    text = render_markdown(links=True, heading="##")
    # Box links point at the ODD's submodel sections (anchors of ODD.md).
    text = re.sub(r"\]\(#([\w-]+)\)", r"](../ODD.md#\1)", text)
    return (
        "Every parameter of the model, as `peerwell params` prints it: the name to type on the "
        "command line (or in the Python API, `population.size` or `population__size`), its "
        "meaning, unit, default, allowed range, the box of the "
        "[conceptual model](../conceptual-model.md) it belongs to (a link to the submodel in "
        "the [ODD](../ODD.md)), how its default relates to its source, and the source. Generated "
        "from the typed parameters in `simulation/params.py` when the documentation is built.\n\n"
        + text
    )


# ---------------------------------------------------------------------------------------------
# The conceptual model


def _raw_svg(svg: str) -> str:
    return '```{raw} html\n<figure class="pw-figure">\n' + svg.strip() + "\n</figure>\n```\n"


def odd_sections() -> dict[str, str]:
    """Anchor of each ODD section (``<a id="..."></a>`` before a heading) to its heading."""
    text = (DOCS / "ODD.md").read_text(encoding="utf-8")
    out = {}
    for m in re.finditer(r'^<a id="([\w-]+)"></a>\s*\n#+\s*(.+)$', text, flags=re.M):
        title = re.sub(r"\s*\(`[^`]*`\)\s*$", "", m.group(2)).strip()
        out[m.group(1)] = title
    return out


def conceptual_model() -> str:
    from peerwell.scenarios.evidence.paramdoc import BOXES, rows
    from peerwell.simulation.params import MECHANISMS, MechanismSwitches

    conceptual.check_mermaid((DOCS / "ODD.md").read_text(encoding="utf-8"))
    svg = conceptual.figure_svg(link_prefix="ODD.html")
    by_box: dict[str, list[str]] = {}
    for r in rows():
        if r.box:
            by_box.setdefault(r.box, []).append(r.name)
    switches = {f.name: f.metadata.get("box", "") for f in dataclasses.fields(MechanismSwitches)}
    sections = odd_sections()
    table = []
    for box, (label, anchor) in BOXES.items():
        params = [p for p in by_box.get(box, []) if not p.startswith("mechanisms.")]
        switch = [f"`mechanisms.{m}`" for m in MECHANISMS if m == box or switches.get(m) == box]
        shown = ", ".join(f"`{p}`" for p in params[:4]) + (
            f", … ({len(params)} in all)" if len(params) > 4 else ""
        )
        table.append(
            [
                _cell(label),
                f"[§{_cell(sections.get(anchor, anchor))}](ODD.md#{anchor})",
                ", ".join(switch) or "—",
                shown or "—",
            ]
        )
    header = ["box of the model", "submodel (equations)", "switch", "parameters"]
    return _raw_svg(svg) + "\n\n" + markdown_table(header, table)


# ---------------------------------------------------------------------------------------------
# Benchmarks


def benchmarks() -> str:
    results = ROOT / "benchmarks" / "RESULTS.md"
    if results.is_file():
        return (
            "```{include} ../benchmarks/RESULTS.md\n:relative-docs: ../\n:relative-images:\n```\n"
        )
    return (
        "```{note}\nThe benchmark results are not yet generated: run `make bench`, which writes "
        "`benchmarks/RESULTS.md`; this page shows it from the next build on.\n```\n"
    )


GENERATORS = {
    "cli-reference": cli_reference,
    "params-reference": params_reference,
    "conceptual-model": conceptual_model,
    "benchmarks": benchmarks,
}


# ---------------------------------------------------------------------------------------------
# ODD.md as the site reads it


ANCHOR = re.compile(r'^<a id="([\w-]+)"></a>\s*$', flags=re.M)
MERMAID = re.compile(r"^```mermaid\n.*?^```\n", flags=re.S | re.M)


def odd_for_sphinx(text: str) -> str:
    text = ANCHOR.sub(r"(\1)=", text)
    conceptual.check_mermaid(text)
    svg = conceptual.figure_svg(link_prefix="")
    return MERMAID.sub(lambda _m: _raw_svg(svg), text, count=1)


def on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    text = source[0]
    if docname == "ODD":
        text = odd_for_sphinx(text)

    def fill(m: re.Match) -> str:
        name = m.group(1)
        if name not in GENERATORS:
            raise ValueError(f"{docname}: unknown generated block {name!r}")
        return GENERATORS[name]()

    source[0] = GENERATE.sub(fill, text)


# ---------------------------------------------------------------------------------------------
# References to a defining module resolve to the documented public name


def public_names() -> dict[str, str]:
    """``module.qualname`` of each public object to the public name the API reference uses."""
    out: dict[str, str] = {}
    for package in PUBLIC_PACKAGES:
        mod = importlib.import_module(package)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            qual = getattr(obj, "__qualname__", None)
            where = getattr(obj, "__module__", None)
            if qual and where and (inspect.isclass(obj) or inspect.isfunction(obj)):
                out.setdefault(f"{where}.{qual}", f"{package}.{name}")
    return out


def on_missing_reference(app: Sphinx, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    aliases = app.env.peerwell_aliases  # type: ignore[attr-defined]
    target = node.get("reftarget", "")
    public = aliases.get(target)
    if public is None:
        # A member of an aliased class: peerwell.scenarios.experiments.compare.ComparisonResult.summary
        head, _, tail = target.rpartition(".")
        if head in aliases:
            public = f"{aliases[head]}.{tail}"
    if public is None:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node.get("refdoc", ""), app.builder, node["reftype"], public, node, contnode
    )


def on_builder_inited(app: Sphinx) -> None:
    app.env.peerwell_aliases = public_names()  # type: ignore[attr-defined]


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", on_builder_inited)
    app.connect("source-read", on_source_read)
    app.connect("missing-reference", on_missing_reference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
