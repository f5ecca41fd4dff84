"""The parameter tables of the ODD document and of ``peerwell params``, rendered from the code.

Every parameter's meaning, unit, range, source and conceptual-model box live in its metadata in
``simulation/params.py`` (see ``spec``); this module only renders them, as Markdown (one table per
group), CSV or JSON. The generated blocks of ``docs/ODD.md`` sit between HTML-comment markers and
are rewritten by::

    peerwell params --write docs/ODD.md
    peerwell params --check docs/ODD.md   # exit 1 if the doc is stale

so the document cannot drift from the code (``tests/test_paramdoc.py`` checks it).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from peerwell.analysis.conceptual import parameter_boxes
from peerwell.analysis.tables import markdown_table
from peerwell.scenarios.experiments.store import atomic_write_bytes
from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import (
    DIAGNOSES,
    GROUPS,
    NETWORK_KINDS,
    PLATFORMS,
    ModelParams,
    iter_fields,
)

# The top-level fields of ModelParams (seed, steps, record_every) form the group "run": they are
# typed without a prefix on the command line (``seed=7``).
RUN_GROUP = "run"

GROUP_TITLES = {
    RUN_GROUP: "Run control",
    "population": "Population",
    "communities": "Communities",
    "network": "Network",
    "mechanisms": "Mechanism switches",
    "submodels": "Submodel switches",
    "entry": "Entry and leaving",
    "exchange": "Exchange",
    "stigma": "Belonging, empowerment and self-stigma",
    "activation": "Activation and uncertainty",
    "care": "Care status",
    "intervention": "Online interventions",
    "wellbeing": "Wellbeing",
    "offline": "Offline outcomes and acute care",
    "roles": "Roles that change",
    "information": "Health information met outside peer communities",
    "trust": "Trust in online health information",
    "privacy": "Disclosure and privacy",
    "acute": "Acute care",
}

# The boxes of the conceptual model (Naslund et al. 2016, Fig. 1) that a parameter's ``box``
# metadata names: (label, anchor of the ODD section that implements the box). Read from the
# figure's table in analysis/conceptual.py, which both drawings of the figure use.
BOXES: dict[str, tuple[str, str]] = parameter_boxes()
RUN_CONTROL_BOX = "run control"

# How a default relates to its empirical anchor. A parameter whose source starts with "assumption"
# is an assumption (what informs it, if anything, follows in parentheses: "assumption (informed by
# X, which measured Y)"); one that cites an anchor is "informed" unless listed here with a stronger
# claim. Each source says what the study measured and why it applies (issue 20).
#   input   the default is the anchor's number, or a direct transformation of it;
#   target  the default was chosen so that a model output reproduces the anchor (a pattern);
#   informed  the anchor motivates the direction or rough size; the number itself is assumed.
BASIS_MEANING = {
    "input": "the default is the anchor's number, or a direct transformation of it",
    "target": "the default is set so that a model output reproduces the anchor (a pattern to check)",
    "informed": "the anchor motivates the direction or rough size; the number itself is assumed",
    "assumption": "no empirical anchor: a modelling assumption, not calibrated to data",
}
BASIS: dict[str, str] = {
    "population.pam_mean_schizophrenia": "input",
    "population.pam_sd_schizophrenia": "input",
    "population.pam_mean_bipolar": "input",
    "population.pam_sd_bipolar": "input",
    "population.pam_mean_depression": "input",
    "population.pam_sd_depression": "input",
    "population.share_superuser": "input",
    "population.share_contributor": "input",
    "intervention.dropout_rate": "input",
    "population.stigma_mean_schizophrenia": "target",
    "population.stigma_mean_other": "target",
    "population.post_rate_lurker": "target",
    "population.post_rate_contributor": "target",
    "population.post_rate_superuser": "target",
    "entry.leave_rate": "target",
    "activation.learning_gain": "target",
    "exchange.correction_reply": "target",
    "information.misinfo_effect": "input",
    "information.correction_effect": "input",
    "acute.vulnerable_ratio": "input",
    "roles.burnout": "target",
}

# Groups whose values are choices of the experimenter, not quantities calibrated (or not) to data:
# run control, and the mechanism switches (all on in the baseline).
NO_BASIS_GROUPS = (RUN_GROUP, "mechanisms", "submodels")

# Allowed values of the parameters that are not numbers.
CHOICES: dict[str, tuple[str, ...]] = {
    "network.kind": NETWORK_KINDS,
    "communities.platforms": PLATFORMS,
}

COLUMNS = ("parameter", "meaning", "unit", "default", "range", "box", "basis", "source")


@dataclasses.dataclass(frozen=True)
class ParamRow:
    """One parameter, ready to render."""

    name: str  # dotted, exactly as typed on the command line
    group: str
    value: Any
    meta: dict

    @property
    def help(self) -> str:
        return self.meta.get("help", "")

    @property
    def unit(self) -> str:
        return self.meta.get("unit", "")

    @property
    def box(self) -> str:
        return self.meta.get("box", "")

    @property
    def source(self) -> str:
        return self.meta.get("source", "assumption") or "assumption"

    @property
    def is_assumption(self) -> bool:
        # "assumption (…)": an assumption, with what motivates it in parentheses
        return self.source.strip().lower().startswith("assumption")

    @property
    def basis(self) -> str:
        if self.group in NO_BASIS_GROUPS:
            return "n/a"
        if self.is_assumption:
            return "assumption"
        return BASIS.get(self.name, "informed")


def group_names() -> list[str]:
    """Groups in the order the tables are printed: run control first, then ``GROUPS``."""
    return [RUN_GROUP, *GROUPS]


def rows(params: ModelParams | None = None, groups: Iterable[str] | None = None) -> list[ParamRow]:
    """Every scalar parameter of ``params`` (defaults if None), optionally only of ``groups``."""
    params = ModelParams() if params is None else params
    wanted = None if groups is None else set(groups)
    out = []
    for name, value, meta in iter_fields(params):
        group = name.split(".", 1)[0] if "." in name else RUN_GROUP
        if wanted is None or group in wanted:
            out.append(ParamRow(name, group, value, meta))
    order = {g: k for k, g in enumerate(group_names())}
    return sorted(out, key=lambda r: order.get(r.group, len(order)))  # stable within a group


def group_doc(group: str) -> str:
    """The first line of a group's dataclass docstring (its one-line meaning)."""
    if group == RUN_GROUP:
        return "How long to run, how to seed it, how often to record (not part of the model's science)."
    doc = GROUPS[group].__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


# ---------------------------------------------------------------------------------------------
# Value formatting: as a user types it on the command line (Hydra / YAML syntax).


def format_value(value: Any) -> str:
    """A default as typed on the command line: ``true``, ``null``, ``[a,b]``, ``0.00015``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _format_bound(x: float) -> str:
    if isinstance(x, int) and x == 2**63 - 1:
        return "2^63−1"
    if isinstance(x, int) and abs(x) >= 100_000:
        return f"{x:,}".replace(",", "_")
    return format_value(x)


def format_range(row: ParamRow) -> str:
    """The allowed values: ``[lo, hi]``, ``≥ lo``, a list of choices, or ``true, false``."""
    if row.name in CHOICES:
        prefix = "list of: " if isinstance(row.value, list) else "one of: "
        return prefix + ", ".join(CHOICES[row.name])
    if isinstance(row.value, bool):
        return "true, false"
    lo, hi = row.meta.get("lo"), row.meta.get("hi")
    if lo is not None and hi is not None:
        return f"[{_format_bound(lo)}, {_format_bound(hi)}]"
    if lo is not None:
        return f"≥ {_format_bound(lo)}"
    if hi is not None:
        return f"≤ {_format_bound(hi)}"
    if row.value is None or isinstance(row.value, str):
        return "file path" if row.name.endswith("path") else "text"
    return "any"


# ---------------------------------------------------------------------------------------------
# Markdown


def _md(text: str) -> str:
    """Escape what would break a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _box_cell(row: ParamRow, links: bool) -> str:
    if not row.box:
        return RUN_CONTROL_BOX if row.group == RUN_GROUP else "—"
    if links and row.box in BOXES:
        return f"[{row.box}](#{BOXES[row.box][1]})"
    return row.box


@functools.cache
def prior_texts() -> dict[str, str]:
    """Each parameter with a prior (``conf/evidence/priors.yaml``): ``U(lo, hi)`` or
    ``logU(lo, hi)``, and ``, fitted`` when the screen selects it for ``calibrate method=abc``."""
    from peerwell.scenarios.evidence.priors import load_priors, screened

    priors = load_priors()
    fitted = {p.name for p in screened(priors)}
    return {p.name: p.text() + (", fitted" if p.name in fitted else "") for p in priors}


def _cells(row: ParamRow, links: bool) -> list[str]:
    # A bare "assumption" has nothing to show; "assumption (…)" shows what motivates it.
    bare = row.source.strip().lower() == "assumption"
    source = "—" if bare or row.basis == "n/a" else _md(row.source)
    basis = f"**{row.basis}**" if row.basis == "assumption" else row.basis
    if row.name in prior_texts():
        basis += f"; prior `{prior_texts()[row.name]}`"
    return [
        f"`{row.name}`",
        _md(row.help),
        _md(row.unit) if row.unit else "—",
        f"`{_md(format_value(row.value))}`",
        _md(format_range(row)),
        _box_cell(row, links),
        basis,
        source,
    ]


def render_markdown(
    groups: Iterable[str] | None = None,
    params: ModelParams | None = None,
    *,
    links: bool = False,
    heading: str = "###",
) -> str:
    """One Markdown table per group, each under a heading with the group's meaning.

    ``links`` makes each box a link to the ODD section that implements it (for ``docs/ODD.md``).
    """
    by_group: dict[str, list[ParamRow]] = {}
    for r in rows(params, groups):
        by_group.setdefault(r.group, []).append(r)
    parts = []
    for group, grows in by_group.items():
        title = GROUP_TITLES.get(group, group)
        parts.append(f"{heading} `{group}` — {title}\n")
        parts.append(f"{group_doc(group)}\n")
        parts.append(markdown_table(COLUMNS, [_cells(r, links) for r in grows]))
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# CSV and JSON

RECORD_FIELDS = (
    "name",
    "group",
    "default",
    "type",
    "unit",
    "lo",
    "hi",
    "choices",
    "help",
    "box",
    "box_label",
    "basis",
    "source",
    "sweep_lo",
    "sweep_hi",
    "prior",
)


def records(
    groups: Iterable[str] | None = None, params: ModelParams | None = None
) -> list[dict[str, Any]]:
    """One plain dict per parameter (JSON-ready values)."""
    out = []
    for r in rows(params, groups):
        sweep = r.meta.get("sweep")
        out.append(
            {
                "name": r.name,
                "group": r.group,
                "default": list(r.value) if isinstance(r.value, (list, tuple)) else r.value,
                "type": type(r.value).__name__ if r.value is not None else "str",
                "unit": r.unit,
                "lo": r.meta.get("lo"),
                "hi": r.meta.get("hi"),
                "choices": list(CHOICES.get(r.name, ())),
                "help": r.help,
                "box": r.box or (RUN_CONTROL_BOX if r.group == RUN_GROUP else ""),
                "box_label": BOXES.get(r.box, ("",))[0],
                "basis": r.basis,
                "source": r.source,
                "sweep_lo": sweep[0] if sweep else None,
                "sweep_hi": sweep[1] if sweep else None,
                "prior": prior_texts().get(r.name, ""),
            }
        )
    return out


def render_json(groups: Iterable[str] | None = None, params: ModelParams | None = None) -> str:
    return json.dumps(records(groups, params), indent=2, ensure_ascii=False) + "\n"


def render_csv(groups: Iterable[str] | None = None, params: ModelParams | None = None) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=RECORD_FIELDS, lineterminator="\n")
    w.writeheader()
    for rec in records(groups, params):
        rec = dict(rec)
        rec["default"] = format_value(rec["default"])
        rec["choices"] = " ".join(rec["choices"])
        w.writerow({k: "" if v is None else v for k, v in rec.items()})
    return buf.getvalue()


RENDERERS: dict[str, Callable[..., str]] = {
    "markdown": render_markdown,
    "csv": render_csv,
    "json": render_json,
}


# ---------------------------------------------------------------------------------------------
# The generated blocks of docs/ODD.md


def render_boxes() -> str:
    """The legend of conceptual-model boxes: label, ODD section, parameters that belong to it."""
    counts: dict[str, int] = {}
    for r in rows():
        if r.box:
            counts[r.box] = counts.get(r.box, 0) + 1
    return markdown_table(
        ["box", "conceptual-model box (link: where it is implemented)", "parameters"],
        [
            [f"`{key}`", f"[{label}](#{anchor})", counts.get(key, 0)]
            for key, (label, anchor) in BOXES.items()
        ],
    )


def render_basis_summary() -> str:
    """How many defaults are inputs, targets, informed by an anchor, or assumptions."""
    all_rows = [r for r in rows() if r.basis != "n/a"]
    table = [
        [basis, meaning, f"{sum(r.basis == basis for r in all_rows)} of {len(all_rows)}"]
        for basis, meaning in BASIS_MEANING.items()
    ]
    table.append(
        [
            "n/a",
            "run control, mechanism and submodel switches: the experimenter's choice, not a "
            "quantity to calibrate",
            sum(r.basis == "n/a" for r in rows()),
        ]
    )
    return markdown_table(["basis", "meaning", "parameters"], table)


def render_platforms() -> str:
    """The fixed platform constants of ``population.py`` (not parameters: set in code)."""
    from peerwell.simulation.population import PLATFORM_HOSTILITY, PLATFORM_MIN_MODERATION

    floors = {kind: PLATFORM_MIN_MODERATION.get(kind) for kind in PLATFORMS}
    return markdown_table(
        ["platform", "hostility multiplier", "moderation floor"],
        [
            [
                f"`{kind}`",
                f"×{format_value(PLATFORM_HOSTILITY[kind])}",
                format_value(floor) if floor is not None else "—",
            ]
            for kind, floor in floors.items()
        ],
    )


def render_params_block() -> str:
    """Everything between ``<!-- params:start -->`` and ``<!-- params:end -->`` in docs/ODD.md."""
    parts = [
        "_Generated by `peerwell params --write docs/ODD.md` from the "
        "metadata in `simulation/params.py`; do not edit by hand. `peerwell params` prints the "
        "same tables (`--format csv|json` for machines)._\n",
        "Columns: **parameter** as typed on the command line (`peerwell run population.size=3000`); "
        "**unit** (`1/day` = daily probability or daily relaxation fraction; `share` = fraction "
        "of people or posts); **range** is enforced when a run starts; **box** links to the "
        "section implementing that box of the conceptual model; **basis** says how the default "
        "relates to data:\n",
        render_basis_summary(),
        f"An uncertain parameter that might matter ({len(prior_texts())} of them) also has a "
        "**prior** in its basis cell: its distribution on a stated range "
        "(`conf/evidence/priors.yaml`, each range with its basis), and `fitted` when the Morris "
        "screen selects it for the Bayesian calibration (`peerwell calibrate method=abc`; see "
        "[Parameter uncertainty](uncertainty.md)).\n",
        "Boxes of the conceptual model used in the **box** column:\n",
        render_boxes(),
        render_markdown(links=True, heading="####"),
        "#### Fixed constants (in code, not parameters)\n",
        "Platforms are assigned to communities in turn from `communities.platforms`. Each "
        "platform multiplies `communities.hostility` and may impose a floor on "
        "`communities.moderation` (`simulation/population.py`: `PLATFORM_HOSTILITY`, "
        "`PLATFORM_MIN_MODERATION`); these multipliers and floors are **assumptions**: Alvarez-Mon "
        "2019 studied Twitter only (pejorative tweets about psychosis), so no study orders the "
        "platforms; the moderated platform's floor stands for a space like HORYZONS.\n",
        render_platforms(),
        "#### `community` — Named communities\n",
        render_community_settings(links=True),
    ]
    return "\n".join(parts)


def render_community_settings(links: bool = False) -> str:
    """The per-community settings ``community.<name>.<property>`` (``CommunitySettings``)."""
    from peerwell.simulation.params import CommunitySettings

    doc = " ".join((CommunitySettings.__doc__ or "").split())
    table = [
        _cells(
            ParamRow(f"community.<name>.{f.name}", "community", f.default, dict(f.metadata)), links
        )
        for f in dataclasses.fields(CommunitySettings)
    ]
    return f"{_md(doc)}\n\n" + markdown_table(COLUMNS, table)


def render_outputs_block() -> str:
    """The main outcome and flow columns of ``trajectories.parquet`` (``recorder.py``)."""
    from peerwell.simulation.recorder import FLOWS, OUTCOMES, PAM_CUTS, STIGMA_MODERATE_HIGH

    cuts = ", ".join(format_value(c) for c in PAM_CUTS)
    lines = [
        "_Generated from `OUTCOMES` and `FLOWS` in `simulation/recorder.py`; do not edit by hand._\n",
        markdown_table(
            ["outcome column", "meaning"], [[f"`{k}`", _md(v)] for k, v in OUTCOMES.items()]
        ),
        markdown_table(
            ["daily flow column", "what the arrow carried today"],
            [[f"`{k}`", _md(v)] for k, v in FLOWS.items()],
        ),
        f"PAM levels use the cut-points {cuts} (level k = number of cut-points below the score), "
        f"i.e. Hibbard's L1 ≤ 47.0, L2 47.1–55.1, L3 55.2–67.0, L4 ≥ 67.1. Self-stigma counts as "
        f"moderate/high above {format_value(STIGMA_MODERATE_HIGH)} (ISMI 2.5 on its 1–4 scale). "
        f"Diagnoses in by-diagnosis columns: {', '.join(DIAGNOSES)}.",
    ]
    return "\n".join(lines) + "\n"


def render_groups_block() -> str:
    """The groups and columns of ``groups.parquet`` (``recorder.py``)."""
    from peerwell.simulation.recorder import GROUP_COLUMNS, GROUPS

    lines = [
        "_Generated from `GROUPS` and `GROUP_COLUMNS` in `simulation/recorder.py`; do not edit by "
        "hand._\n",
        markdown_table(["group", "who is in it"], [[f"`{k}`", _md(v)] for k, v in GROUPS.items()]),
        markdown_table(
            ["column", "meaning"], [[f"`{k}`", _md(v)] for k, v in GROUP_COLUMNS.items()]
        ),
    ]
    return "\n".join(lines) + "\n"


def render_checks_block() -> str:
    """Anchors the parameters determine by themselves, recomputed from the current defaults."""
    # Imported here: the anchors need scipy, which `peerwell params` does not.
    from peerwell.scenarios.evidence.anchors import anchor_checks

    return "\n".join(
        [
            "_Generated from the current defaults by `scenarios/evidence/anchors.py` "
            "(`anchor_checks`); do not edit by hand._\n",
            markdown_table(
                ["check", "anchor", "model at the defaults", "how it is computed"], anchor_checks()
            ),
        ]
    )


BLOCKS: dict[str, Callable[[], str]] = {
    "params": render_params_block,
    "outputs": render_outputs_block,
    "groups": render_groups_block,
    "checks": render_checks_block,
}


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def extract_block(text: str, name: str) -> str:
    """The text between a block's markers (without the marker lines' newlines)."""
    start, end = _markers(name)
    m = re.search(re.escape(start) + r"\n(.*?)" + re.escape(end), text, flags=re.S)
    if m is None:
        raise ValueError(f"markers {start} ... {end} not found (each on a line of its own)")
    return m.group(1)


def fill_blocks(text: str) -> str:
    """``text`` with every generated block replaced by what the code produces now."""
    for name, render in BLOCKS.items():
        start, end = _markers(name)
        if start not in text:
            continue
        extract_block(text, name)  # raises if the end marker is missing
        body = render()
        pattern = re.escape(start) + r"\n.*?" + re.escape(end)
        text = re.sub(pattern, lambda _m, b=body, s=start, e=end: f"{s}\n{b}{e}", text, flags=re.S)
    return text


def stale_blocks(path: str | os.PathLike) -> list[str]:
    """Names of the generated blocks of ``path`` that differ from what the code produces."""
    if not Path(path).is_file():
        raise ConfigError(f"{path} does not exist; give the ODD's path, e.g. docs/ODD.md")
    text = Path(path).read_text(encoding="utf-8")
    out = []
    for name, render in BLOCKS.items():
        if _markers(name)[0] in text and extract_block(text, name) != render():
            out.append(name)
    return out


def write_doc(path: str | os.PathLike) -> bool:
    """Regenerate the blocks of ``path`` in place (atomically); True if the file changed.

    Raises
    ------
    ConfigError
        ``path`` does not exist or has no ``params`` marker to fill.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; give the ODD's path, e.g. docs/ODD.md")
    old = path.read_text(encoding="utf-8")
    if _markers("params")[0] not in old:
        raise ConfigError(f"{path}: no {_markers('params')[0]} marker to fill")
    new = fill_blocks(old)
    if new == old:
        return False
    atomic_write_bytes(path, new.encode("utf-8"))
    return True
