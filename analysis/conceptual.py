"""The conceptual model of Naslund et al. (2016, Fig. 1): defined once, drawn twice.

``BOXES`` and ``ARROWS`` are the figure: every box with its label, kind (benefit, risk, ...),
mechanism switch and the ODD section that implements it, and every arrow with the switch that
turns it off (its label) and whether it is a risk (dashed). Two renderers draw that one table:

- ``figure_svg``: the static figure of the docs (matplotlib; each box links to its ODD section),
  on the conceptual-model page and in place of ``docs/ODD.md``'s Mermaid diagram;
- ``live_svg``: the Classroom's live diagram (plain SVG text), whose arrows are as wide as the
  flow they carried over the last seven days (the dashboard only wraps it in a page).

``docs/ODD.md`` keeps a Mermaid version of the diagram for readers of the plain file;
``check_mermaid`` (run by the docs build) stops the build when it no longer draws this table, and
``mermaid`` writes the block that does. paramdoc's ``BOXES`` (the ``box`` metadata of parameters)
is read from this table too. Only layout lives in the renderers: where each box sits.
"""

from __future__ import annotations

import html
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# ---------------------------------------------------------------------------------------------
# The figure: one table

Kind = Literal["neutral", "benefit", "risk", "outcome"]


@dataclass(frozen=True)
class Box:
    """A box of the conceptual model."""

    key: str  # the key parameters name in their ``box`` metadata
    node: str  # its id in docs/ODD.md's Mermaid diagram
    label: str  # its text in the docs figure (lines split by newlines)
    kind: Kind  # neutral (who and where), benefit, risk, or outcome
    anchor: str  # the ODD section that implements it
    name: str | None = None  # one line, in the parameter tables (None: no parameter's box)
    switch: str | None = None  # the mechanism switch that turns it off (mechanisms.<switch>)
    live: str | None = None  # the Classroom box that shows it (None: not shown there)
    title: tuple[str, ...] = ()  # that box's title, on the first box it shows


@dataclass(frozen=True)
class Arrow:
    """An arrow of the conceptual model, from box ``a`` to box ``b`` (box keys)."""

    a: str
    b: str
    switch: str | None = None  # the mechanism switch that turns it off, drawn as its label
    risk: bool = False  # a risk's arrow: dashed and red


BOXES: tuple[Box, ...] = (
    Box("people", "P", "People with SMI\ndiagnosis, activation,\nself-stigma, social-media use",
        "neutral", "initialisation", "People with SMI (who they are at the start)",
        live="people", title=("People with", "serious mental", "illness")),
    Box("entry", "E", "Critical point:\njoining an online\ncommunity of peers", "neutral",
        "sm-entry", "Entry: the critical point of joining an online community", "entry",
        live="entry", title=("Entry: joining a", "peer community")),
    Box("exchange", "C", "Online community\nposts, feed, ties", "neutral", "sm-exchange",
        "Exchange in the community: posts, feeds, ties"),
    Box("peer_support", "S", "Naturally occurring\npeer-to-peer support\nbelonging", "benefit",
        "sm-social", "Naturally occurring peer-to-peer support", "peer_support",
        live="support", title=("Peer-to-peer", "support")),
    Box("stigma", "ST", "Challenging stigma\nempowerment and hope,\nlower self-stigma",
        "benefit", "sm-social", "Pathway: challenging stigma", "stigma_pathway",
        live="stigma", title=("Challenging stigma",)),
    Box("activation", "A", "Increasing consumer\nactivation (PAM)", "benefit", "sm-activation",
        "Pathway: increasing consumer activation", "activation_pathway",
        live="activation", title=("Activation",)),
    Box("care", "CARE", "Mental-health care:\nseeking, in care,\nacute episodes", "outcome",
        "sm-care", "Care-seeking, care status and acute care", live="care", title=("Care",)),
    Box("intervention", "I", "Access to online\ninterventions", "benefit", "sm-intervention",
        "Pathway: access to online interventions", "intervention_pathway",
        live="intervention", title=("Online interventions",)),
    Box("misinformation", "R1", "Risk: misleading\ninformation", "risk", "sm-misinformation",
        "Risk: misleading information (and its correction)", "misinformation",
        live="misinformation", title=("Misinformation",)),
    Box("correction", "K", "Correction by moderators,\npeers, clinicians", "neutral",
        "sm-misinformation", switch="correction"),
    Box("hostility", "R2", "Risk: hostile or\nderogatory comments", "risk", "sm-exchange",
        "Risk: hostile or derogatory comments", "hostility",
        live="hostility", title=("Hostile comments",)),
    Box("uncertainty", "R3", "Risk: more uncertainty\nabout one's condition", "risk",
        "sm-activation", "Risk: more uncertainty about one's own condition", "uncertainty",
        live="uncertainty", title=("Uncertainty",)),
    # The paper's uncertainty about the reliability of information: how much people trust what
    # they read online, which weighs what posts teach and what they mislead (ODD §7.7).
    Box("trust", "TR", "Risk: uncertain\nreliability of online\ninformation (trust)", "risk",
        "sm-activation", switch="trust", live="trust", title=("Trust in online",)),
    Box("privacy", "PV", "Risk: disclosing one's\ndiagnosis, privacy harm", "risk",
        "sm-privacy", "Risk: disclosing one's diagnosis online, and privacy harm", "privacy",
        live="privacy", title=("Privacy and", "disclosure")),
    Box("wellbeing", "W", "Mental and physical\nwellbeing", "outcome", "sm-wellbeing",
        "Outcome: mental and physical wellbeing", live="outcomes", title=("Offline", "outcomes")),
    Box("offline", "O", "Offline world:\nrecovery, employment", "outcome", "sm-offline",
        "Outcome in the offline world: recovery, employment", "offline_translation",
        live="outcomes"),
)  # fmt: skip

ARROWS: tuple[Arrow, ...] = (
    Arrow("people", "entry", "entry"),
    Arrow("entry", "exchange"),
    Arrow("exchange", "peer_support", "peer_support"),
    Arrow("peer_support", "stigma", "stigma_pathway"),
    Arrow("exchange", "activation", "activation_pathway"),
    Arrow("activation", "care"),
    Arrow("exchange", "care", "activation_pathway"),
    Arrow("exchange", "intervention", "intervention_pathway"),
    Arrow("exchange", "misinformation", "misinformation", risk=True),
    Arrow("correction", "misinformation", "correction", risk=True),
    Arrow("exchange", "hostility", "hostility", risk=True),
    Arrow("misinformation", "uncertainty", "uncertainty", risk=True),
    Arrow("hostility", "uncertainty", "uncertainty", risk=True),
    Arrow("misinformation", "activation", risk=True),
    Arrow("misinformation", "care", risk=True),
    Arrow("hostility", "peer_support", risk=True),
    Arrow("hostility", "stigma", risk=True),
    Arrow("hostility", "entry", risk=True),
    Arrow("uncertainty", "activation", risk=True),
    Arrow("exchange", "trust", "trust", risk=True),
    Arrow("misinformation", "trust", risk=True),  # found out: a correction lowers trust
    Arrow("trust", "misinformation", risk=True),  # trust weighs what misleading posts do
    Arrow("trust", "activation"),  # and what accurate posts teach
    Arrow("exchange", "privacy", "privacy", risk=True),
    Arrow("privacy", "stigma", risk=True),
    Arrow("privacy", "entry", risk=True),  # having been harmed, people leave more
    # A harm can also cost work (ODD §7.11); that arrow is left out of the figure: from privacy,
    # top left, to the offline outcomes, bottom right, it would cross the whole figure.
    Arrow("peer_support", "wellbeing"),
    Arrow("stigma", "wellbeing"),
    Arrow("uncertainty", "wellbeing", risk=True),
    Arrow("care", "wellbeing"),
    Arrow("intervention", "wellbeing"),
    Arrow("intervention", "care"),
    Arrow("wellbeing", "offline", "offline_translation"),
    Arrow("activation", "offline", "offline_translation"),
    Arrow("care", "offline"),
    Arrow("wellbeing", "care", risk=True),  # acute care episodes, more as wellbeing falls
)


def box(key: str) -> Box:
    """The box ``key`` of the table."""
    for b in BOXES:
        if b.key == key:
            return b
    raise KeyError(f"the conceptual model has no box {key!r}")


def arrow(a: str, b: str) -> Arrow:
    """The (first) arrow of the table from box ``a`` to box ``b``."""
    for e in ARROWS:
        if (e.a, e.b) == (a, b):
            return e
    raise KeyError(f"the conceptual model has no arrow {a!r} -> {b!r}")


def parameter_boxes() -> dict[str, tuple[str, str]]:
    """The boxes a parameter's ``box`` metadata may name: key -> (name, ODD anchor)."""
    return {b.key: (b.name, b.anchor) for b in BOXES if b.name}


# ---------------------------------------------------------------------------------------------
# docs/ODD.md's Mermaid diagram: written from the table, and checked against it


def mermaid() -> str:
    """The table as the body of a Mermaid flowchart (what docs/ODD.md's block should hold)."""
    node = {b.key: b.node for b in BOXES}
    lines = ["flowchart LR"]
    lines += [f'  {b.node}["{b.label.replace(chr(10), "<br/>")}"]' for b in BOXES]
    for e in ARROWS:
        arrow_ = "-.->" if e.risk else "-->"
        label = f"|{e.switch}|" if e.switch else ""
        lines.append(f"  {node[e.a]} {arrow_}{label} {node[e.b]}")
    lines += [f'  click {b.node} "#{b.anchor}"' for b in BOXES]
    return "\n".join(lines) + "\n"


@dataclass
class Node:
    id: str
    label: str
    link: str | None = None


@dataclass
class Edge:
    a: str
    b: str
    label: str | None
    dotted: bool


@dataclass
class Diagram:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)


NODE = re.compile(r'^\s*(\w+)\["(.+)"\]\s*$')
CLICK = re.compile(r'^\s*click\s+(\w+)\s+"([^"]+)"')
ARROW = re.compile(r"\s*(-\.->|-->)\s*(?:\|([^|]*)\|)?\s*")


def mermaid_block(odd_text: str) -> str:
    """The first ```mermaid block of the ODD document."""
    m = re.search(r"^```mermaid\n(.*?)^```", odd_text, flags=re.S | re.M)
    if m is None:
        raise ValueError("docs/ODD.md has no ```mermaid block to draw the conceptual model from")
    return m.group(1)


def parse(block: str) -> Diagram:
    """Nodes, edges (with labels, dotted for risks) and click links of a Mermaid flowchart."""
    d = Diagram()
    for line in block.splitlines():
        if not line.strip() or line.strip().startswith(("flowchart", "%%")):
            continue
        if m := NODE.match(line):
            d.nodes[m.group(1)] = Node(m.group(1), m.group(2).replace("<br/>", "\n"))
            continue
        if m := CLICK.match(line):
            d.nodes[m.group(1)].link = m.group(2)
            continue
        parts = ARROW.split(line.strip())
        # parts: node, arrow, label, node, arrow, label, node, ...
        if len(parts) < 4:
            raise ValueError(f"cannot read this line of the Mermaid diagram: {line!r}")
        for i in range(0, len(parts) - 3, 3):
            a, arrow_, label, b = parts[i : i + 4]
            d.edges.append(
                Edge(a.strip(), b.strip(), (label or "").strip() or None, arrow_ == "-.->")
            )
    for e in d.edges:
        for n in (e.a, e.b):
            if n not in d.nodes:
                raise ValueError(f"the Mermaid diagram uses node {n!r} without defining it")
    return d


def check_mermaid(odd_text: str) -> None:
    """Raises ValueError, saying what differs, unless the ODD's Mermaid diagram draws the table."""
    d = parse(mermaid_block(odd_text))
    have = {(n.id, n.label, n.link) for n in d.nodes.values()}
    want = {(b.node, b.label, f"#{b.anchor}") for b in BOXES}
    node = {b.key: b.node for b in BOXES}
    have_e = sorted((e.a, e.b, e.label or "", e.dotted) for e in d.edges)
    want_e = sorted((node[e.a], node[e.b], e.switch or "", e.risk) for e in ARROWS)
    problems = [f"box {x} only in docs/ODD.md" for x in sorted(have - want, key=str)]
    problems += [f"box {x} only in the table" for x in sorted(want - have, key=str)]
    problems += [f"arrow {x} only in docs/ODD.md" for x in have_e if x not in want_e]
    problems += [f"arrow {x} only in the table" for x in want_e if x not in have_e]
    if problems or len(have_e) != len(want_e):
        raise ValueError(
            "docs/ODD.md's Mermaid diagram no longer draws the conceptual model of "
            "analysis/conceptual.py (BOXES, ARROWS): "
            + ("; ".join(problems) or "an arrow is drawn a different number of times")
            + ". Change the table, or put this block in docs/ODD.md:\n```mermaid\n"
            + mermaid()
            + "```"
        )


# ---------------------------------------------------------------------------------------------
# The docs' figure (matplotlib, static, each box a link to its ODD section)

# Where each box sits (x, y in inches on a FIG_W x FIG_H canvas; y up).
FIG_W, FIG_H = 16.3, 10.2
POSITIONS: dict[str, tuple[float, float]] = {
    "people": (1.3, 5.0),
    "entry": (3.85, 5.0),
    "privacy": (3.85, 8.5),
    "exchange": (6.4, 5.0),
    "hostility": (6.4, 8.5),
    "correction": (3.85, 1.1),
    "misinformation": (6.4, 1.1),
    "peer_support": (9.2, 8.5),
    "activation": (9.2, 6.2),
    "intervention": (9.2, 3.8),
    "trust": (9.2, 1.1),
    "stigma": (12.1, 8.5),
    "care": (12.1, 4.6),
    "uncertainty": (12.1, 1.1),
    "wellbeing": (15.0, 6.9),
    "offline": (15.0, 2.9),
}
# Curvature of particular arrows (matplotlib's arc3 rad: > 0 bows to the right of the arrow's
# direction, < 0 to its left), where a straight line would cross boxes.
BEND: dict[tuple[str, str], float] = {
    ("hostility", "uncertainty"): -0.28,
    ("activation", "offline"): -0.2,
    ("hostility", "entry"): 0.1,
    ("misinformation", "uncertainty"): -0.36,
    ("misinformation", "activation"): -0.15,
    ("trust", "activation"): -0.5,
    ("privacy", "stigma"): -0.28,
}
BOX_W, BOX_H = 2.35, 1.3
GREEN, RED, INK, GREY = "#1b7f5f", "#c0392b", "#1f2937", "#6b7280"
FILL = {"risk": "#fdecea", "benefit": "#e8f5ef", "outcome": "#e8f5ef", "neutral": "#eef2f7"}
EDGE = {"risk": RED, "benefit": GREEN, "outcome": GREEN, "neutral": GREY}


def _inside_a_box(x: float, y: float, pad: float = 0.2) -> bool:
    return any(
        abs(x - bx) < BOX_W / 2 + pad and abs(y - by) < BOX_H / 2 + pad
        for bx, by in POSITIONS.values()
    )


def _label_point(e: Arrow, rad: float) -> tuple[float, float]:
    """A point on the arrow (approximately: arc3 is a quadratic Bezier) clear of every box."""
    (xa, ya), (xb, yb) = POSITIONS[e.a], POSITIONS[e.b]
    # arc3's control point (matplotlib's ConnectionStyle.Arc3): the midpoint moved by
    # rad * length to the right of a -> b (to its left for rad < 0).
    cx, cy = (xa + xb) / 2 + rad * (yb - ya), (ya + yb) / 2 - rad * (xb - xa)
    for t in (0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74):
        x = (1 - t) ** 2 * xa + 2 * (1 - t) * t * cx + t**2 * xb
        y = (1 - t) ** 2 * ya + 2 * (1 - t) * t * cy + t**2 * yb
        if not _inside_a_box(x, y):
            return x, y
    return (xa + xb) / 2, (ya + yb) / 2


def figure_svg(link_prefix: str = "ODD.html") -> str:
    """The figure drawn with matplotlib as SVG text (no XML header), boxes linked to the ODD
    (``link_prefix`` + ``#anchor``)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    missing = [b.key for b in BOXES if b.key not in POSITIONS]
    if missing:
        raise ValueError(
            f"box(es) {missing} of the conceptual model have no place in the figure: add them to "
            "POSITIONS in analysis/conceptual.py"
        )
    fig = Figure(figsize=(FIG_W, FIG_H))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, FIG_W)
    ax.set_ylim(0, FIG_H)
    ax.axis("off")
    patches = {}
    for node in BOXES:
        x, y = POSITIONS[node.key]
        kind = node.kind
        box_ = FancyBboxPatch(
            (x - BOX_W / 2, y - BOX_H / 2),
            BOX_W,
            BOX_H,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=FILL[kind],
            edgecolor=EDGE[kind],
            linewidth=1.6,
            zorder=3,
        )
        ax.add_patch(box_)
        patches[node.key] = box_
        text = ax.text(
            x,
            y,
            node.label,
            ha="center",
            va="center",
            fontsize=10.5,
            color=INK,
            zorder=4,
            linespacing=1.25,
        )
        url = f"{link_prefix}#{node.anchor}"
        box_.set_url(url)
        text.set_url(url)
        box_.set_gid(f"box-{node.node}")
    seen: dict[tuple[str, str], int] = {}
    labelled: set[tuple[str, str]] = set()  # (label, target): one label for arrows that share it
    for e in ARROWS:
        key = (e.a, e.b)
        seen[key] = seen.get(key, 0) + 1
        colour = RED if e.risk else GREEN
        rad = BEND.get(key, 0.12 if seen[key] == 1 else -0.12)
        patch = FancyArrowPatch(
            POSITIONS[e.a],
            POSITIONS[e.b],
            patchA=patches[e.a],
            patchB=patches[e.b],
            arrowstyle="-|>,head_length=7,head_width=3.5",
            connectionstyle=f"arc3,rad={rad}",
            linestyle=(0, (3, 2.5)) if e.risk else "-",
            color=colour,
            linewidth=1.4,
            shrinkA=2,
            shrinkB=2,
            zorder=2,
        )
        ax.add_patch(patch)
        if e.switch and (e.switch, e.b) not in labelled:
            labelled.add((e.switch, e.b))
            x, y = _label_point(e, rad)
            ax.text(
                x,
                y,
                e.switch,
                ha="center",
                va="center",
                fontsize=8.5,
                color=colour,
                family="monospace",
                zorder=5,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9},
            )
    ax.text(
        0.2,
        0.25,
        "solid: benefits   dashed: risks   labels: the switch mechanisms.<name> "
        "that turns an arrow off   click a box for its submodel, equations and parameters",
        fontsize=9,
        color=GREY,
        ha="left",
        va="bottom",
    )
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    # Scale with the page: keep the viewBox, drop the fixed size.
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", svg, count=1)
    svg = svg.replace(
        "<svg",
        '<svg class="pw-conceptual-model" role="img" '
        'aria-label="The conceptual model of Naslund et al. (2016)"',
        1,
    )
    return svg


# ---------------------------------------------------------------------------------------------
# The Classroom's live diagram: an SVG drawn in a fixed frame of VIEW_W x VIEW_H units and scaled,
# whole, to fit the panel the page gives it (the smaller of its width and height decides).
#
# The frame has about the shape of that panel on a 16:9 projector, and one unit is about one CSS
# pixel at 1280 x 720, so the font sizes below are close to what the back row gets there; the
# layout test (tests/test_classroom_layout.py) checks >= 16 px. Every flow label sits beside its
# own arrow, in a gap that no other arrow crosses, on a white halo; the arrows run straight
# (horizontal or vertical) between boxes so that those gaps exist by construction. Boxes show
# the table's boxes (``Box.live``, titled ``Box.title``), coloured by kind: blue the people's path
# and outcomes, green the opportunities, red the risks; an arrow is red if it is a risk's, green
# if it touches an opportunity, else blue, and thins out, grey, when its switch is off.

LIVE_GREEN, LIVE_RED, LIVE_BLUE, LIVE_GREY, LIVE_INK = (
    "#15803d",
    "#b91c1c",
    "#1d4ed8",
    "#94a3b8",
    "#0f172a",
)
LIVE_COLOUR = {
    "neutral": LIVE_BLUE,
    "outcome": LIVE_BLUE,
    "benefit": LIVE_GREEN,
    "risk": LIVE_RED,
}
VIEW_W, VIEW_H = 1000, 670
TITLE, TEXT = 20, 18  # font sizes in units: box titles, everything else
LINE_T, LINE = 24, 22  # their line heights
MAX_WIDTH = 12  # the widest arrow; labels keep CLEAR units away from an arrow's centre line
CLEAR = MAX_WIDTH / 2 + 4
HALO = 5  # padding inside a label's white halo
HEAD = 16  # arrowhead size; it reaches HEAD * 0.3 past the end of its path
GAP_TO_BOX = 5  # so arrows end that far short of the box they point at


@dataclass
class Flows:
    """What the live diagram shows: weekly flows, their running maxima, and today's states."""

    week: dict[str, float]
    peak: dict[str, float]
    state: dict[str, float]
    switches: dict[str, bool]
    day: int


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


# Columns, left to right: people, entry and privacy | peer support | the three opportunities
# above the four risks | care and the offline outcomes. Stigma is the last opportunity so that it
# sits right above "Hostile comments": the dashed arrow from hostility to stigma is then a short
# hop that crosses nothing. Trust sits under misinformation, whose corrections lower it. Privacy
# hangs below entry: members disclose as they post, and a harm pushes people out (two vertical
# arrows, as joining and leaving are above it). Keys: the table's ``Box.live``; drawn in this
# order.
COLUMN_X, COLUMN_W = 545, 240
RISER_X = 805  # the vertical leg of the hostility -> stigma arrow
LIVE_BOXES = {
    "people": Rect(8, 90, 192, 110),
    "entry": Rect(8, 296, 192, 110),
    "privacy": Rect(8, 482, 192, 100),
    "support": Rect(280, 34, 130, 616),
    "activation": Rect(COLUMN_X, 34, COLUMN_W, 66),
    "intervention": Rect(COLUMN_X, 120, COLUMN_W, 84),
    "stigma": Rect(COLUMN_X, 224, COLUMN_W, 66),
    "hostility": Rect(COLUMN_X, 338, COLUMN_W, 66),
    "misinformation": Rect(COLUMN_X, 420, COLUMN_W, 66),
    "trust": Rect(COLUMN_X, 502, COLUMN_W, 66),
    "uncertainty": Rect(COLUMN_X, 584, COLUMN_W, 66),
    "care": Rect(828, 34, 167, 132),
    "outcomes": Rect(828, 232, 167, 418),
}


def shown_in(live_key: str) -> list[Box]:
    """The table's boxes that the live diagram's box ``live_key`` shows."""
    return [b for b in BOXES if b.live == live_key]


def _live_box_on(live_key: str, switches: dict[str, bool]) -> bool:
    return all(switches[b.switch] for b in shown_in(live_key) if b.switch)


def _tone(e: Arrow) -> str:
    """An arrow's colour in the live diagram: a risk's red, touching an opportunity green."""
    if e.risk:
        return LIVE_RED
    if "benefit" in (box(e.a).kind, box(e.b).kind):
        return LIVE_GREEN
    return LIVE_BLUE


def _via(a: str, b: str, switches: dict[str, bool], unless: tuple[str, ...] = ()):
    """The colour of the table's arrow a -> b and whether it is on: its own switch, or (an arrow
    without one) the switches ``unless`` that the live diagram shows it under."""
    e = arrow(a, b)
    names = (e.switch,) if e.switch else unless
    return _tone(e), all(switches[n] for n in names)


def fmt_flow(x: float) -> str:
    """A flow or count as the diagram writes it: no decimals from 10 on, thousands separated."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.0f}"
    if x == int(x):
        return f"{int(x)}"
    return f"{x:.1f}"


_n = fmt_flow


def _text_width(line: str, size: float, bold: bool) -> float:
    """A generous estimate of a line's width (Roboto averages ~0.5 em a character)."""
    return len(line) * size * (0.6 if bold else 0.55)


def _text(x, y, lines, size=TEXT, weight=400, fill=LIVE_INK, anchor="middle", cls="", step=LINE):
    return "".join(
        f"<text x='{x:.0f}' y='{y + i * step:.0f}' font-size='{size}' font-weight='{weight}' "
        f"fill='{fill}' text-anchor='{anchor}' class='{cls}'>{html.escape(line)}</text>"
        for i, line in enumerate(lines)
    )


def _box(key: str, lines: list[str], switches: dict[str, bool]) -> str:
    """A live box with the table's title and ``lines`` of details centred in it, coloured by its
    kind; switched off (any switch of a box it shows): grey, dashed, and a badge."""
    r = LIVE_BOXES[key]
    shown = shown_in(key)
    title = list(next(b.title for b in shown if b.title))
    color = LIVE_COLOUR[shown[0].kind]
    on = _live_box_on(key, switches)
    stroke, ink, body = (color, LIVE_INK, "#334155") if on else (LIVE_GREY, "#64748b", "#64748b")
    dash = "" if on else " stroke-dasharray='10 7'"
    block = len(title) * LINE_T + len(lines) * LINE
    top = r.y + (r.h - block) / 2 + 17  # the first baseline (17: a 20-unit font's ascent)
    out = [
        f"<g class='pw-box pw-box-{key}'><rect x='{r.x}' y='{r.y}' width='{r.w}' height='{r.h}' "
        f"rx='12' fill='{'#ffffff' if on else '#f1f5f9'}' stroke='{stroke}' stroke-width='3'"
        f"{dash}/>",
        _text(r.cx, top, title, size=TITLE, weight=700, fill=ink, cls="pw-box-title", step=LINE_T),
        _text(r.cx, top + len(title) * LINE_T, lines, fill=body, cls="pw-box-detail"),
    ]
    if not on:
        out.append(_badge(r))
    out.append("</g>")
    return "".join(out)


def _badge(r: Rect) -> str:
    """'switched off' on the box's bottom edge, where it takes no room from the details (and no
    arrow starts or ends, and no heading sits)."""
    text = "switched off"
    w = _text_width(text, TEXT, True) + 2 * HALO
    y = r.bottom
    return (
        f"<rect x='{r.cx - w / 2:.0f}' y='{y - 8:.0f}' width='{w:.0f}' height='22' rx='8' "
        f"fill='#ffffff' stroke='{LIVE_GREY}' stroke-width='2'/>"
        + _text(r.cx, y + 9, [text], weight=700, fill="#64748b", cls="pw-badge")
    )


def _arrow(key, points, value, peak, color, on=True, dashed=False):
    """A straight-segment arrow whose width grows with ``value / peak`` (``peak=0``: thin)."""
    if peak > 0:
        width = 3 + (MAX_WIDTH - 3) * math.sqrt(min(1.0, max(0.0, value) / peak))
    else:
        width = 3.5
    col = color if on else LIVE_GREY
    d = "M" + " L".join(f"{x:.0f} {y:.0f}" for x, y in points)
    dash = " stroke-dasharray='14 9'" if dashed or not on else ""
    marker = {LIVE_GREEN: "g", LIVE_RED: "r", LIVE_BLUE: "b"}.get(col, "k")
    return (
        f"<path class='pw-arrow pw-arrow-{key}' data-arrow='{key}' d='{d}' fill='none' "
        f"stroke='{col}' stroke-width='{width:.1f}' stroke-linejoin='round' "
        f"marker-end='url(#pw-head-{marker})'{dash}/>"
    )


def label_rect(lines: list[str], x: float, y: float, side: str) -> Rect:
    """The halo of a label beside the point (x, y) of an arrow: 'above', 'left' or 'right' of it,
    CLEAR units from the arrow's centre line (so clear of the widest arrow)."""
    w = max(_text_width(s, TEXT, i == 0) for i, s in enumerate(lines)) + 2 * HALO
    h = LINE * len(lines) + 6
    if side == "above":
        return Rect(x - w / 2, y - CLEAR - h, w, h)
    if side == "left":
        return Rect(x - CLEAR - w, y - h / 2, w, h)
    return Rect(x + CLEAR, y - h / 2, w, h)


def _label(key: str, lines: list[str], x: float, y: float, side: str, color: str) -> str:
    """A flow label (first line bold) on a white halo beside its arrow, tagged with the arrow."""
    r = label_rect(lines, x, y, side)
    anchor, tx = {
        "above": ("middle", r.cx),
        "left": ("end", r.right - HALO),
        "right": ("start", r.x + HALO),
    }[side]
    texts = "".join(
        _text(
            tx,
            r.y + 3 + 17 + i * LINE,
            [s],
            weight=700 if i == 0 else 400,
            fill=color,
            anchor=anchor,
            cls="pw-flow",
        )
        for i, s in enumerate(lines)
    )
    return (
        f"<g class='pw-flow-label' data-arrow='{key}'><rect x='{r.x:.0f}' y='{r.y:.0f}' "
        f"width='{r.w:.0f}' height='{r.h:.0f}' rx='6' fill='#ffffff' fill-opacity='0.95' "
        f"stroke='{color}' stroke-opacity='0.35'/>{texts}</g>"
    )


def _boxes(f: Flows, intervention_communities: int, communities: int) -> list[str]:
    s, w = f.state, f.week
    online = s["online_share"]
    hosted = (
        [f"{100 * s['enrolled_share']:.1f}% enrolled", f"in {intervention_communities} of "
         f"{communities} communities"]
        if intervention_communities
        else ["none hosted", f"(0 of {communities} communities)"]
    )  # fmt: skip
    details = {
        "people": [f"{100 * (1 - online):.0f}% offline"],
        "entry": ["the critical point", f"{100 * online:.0f}% are members"],
        "support": ["stories,", "coping,", "belonging", f"{s['belonging_mean']:.2f}"],
        "activation": [f"mean {s['activation_mean']:.1f} PAM"],
        "intervention": hosted,
        "stigma": [f"self-stigma {s['self_stigma_mean']:.3f}"],
        "hostility": ["push self-stigma up"],
        "misinformation": [f"{100 * s['misinformation_belief_mean']:.1f}% misled now"],
        "trust": [f"information {s['trust_mean']:.2f}"],
        "uncertainty": [f"about own health {s['uncertainty_mean']:.2f}"],
        "privacy": [f"{100 * s['disclosed_share']:.1f}% disclosed",
                    f"{100 * s['privacy_harm_share']:.1f}% harmed"],
        "care": [f"{_n(w['flow_new_seekers'])} began seeking", "care this week",
                 f"{100 * s['care_seeking_share']:.0f}% seeking", "or in care"],
        "outcomes": ["recovery", f"{s['recovery_mean']:.3f}", "employed",
                     f"{100 * s['employed_share']:.1f}%", "mental", "wellbeing",
                     f"{s['wellbeing_mental_mean']:.3f}", "physical", "wellbeing",
                     f"{s['wellbeing_physical_mean']:.3f}"],
    }  # fmt: skip
    return [_box(key, details[key], f.switches) for key in LIVE_BOXES]


def _entry_arrows(f: Flows) -> list[str]:
    """Joining and leaving (vertical, labels outside them), posting into peer support, and below
    entry disclosing and being harmed for it (vertical too, labels outside them)."""
    w, p, sw = f.week, f.peak, f.switches
    b = LIVE_BOXES
    people, entry, support = b["people"], b["entry"], b["support"]
    mid = (people.bottom + entry.y) / 2
    x_in, x_out = people.x + 82, people.x + 134
    joins, joins_on = _via("people", "entry", sw)
    posts, posts_on = _via("exchange", "peer_support", sw)
    posts_mid = (entry.right + support.x) / 2
    return [
        _arrow("joins", [(x_in, people.bottom), (x_in, entry.y - GAP_TO_BOX)],
               w["flow_joins"], p["flow_joins"], joins, on=joins_on),
        _label("joins", [_n(w["flow_joins"]), "joined"], x_in, mid, "left",
               joins if joins_on else LIVE_GREY),
        # leaving is in no box's arrow of the figure: grey, whatever the switches
        _arrow("leaves", [(x_out, entry.y), (x_out, people.bottom + GAP_TO_BOX)],
               w["flow_leaves"], p["flow_leaves"], LIVE_GREY),
        _label("leaves", [_n(w["flow_leaves"]), "left"], x_out, mid, "right", "#475569"),
        _arrow("posts", [(entry.right, entry.cy), (support.x - GAP_TO_BOX, entry.cy)],
               w["flow_posts"], p["flow_posts"], posts, on=posts_on),
        _label("posts", [_n(w["flow_posts"]), "posts"], posts_mid, entry.cy, "above",
               posts if posts_on else LIVE_GREY),
        *_privacy_arrows(f),
    ]  # fmt: skip


def _privacy_arrows(f: Flows) -> list[str]:
    """Members disclosing (entry down to privacy) and the harm that pushes people out of their
    community (privacy up to entry), each label on the outer side of its arrow."""
    w, p, sw = f.week, f.peak, f.switches
    entry, privacy = LIVE_BOXES["entry"], LIVE_BOXES["privacy"]
    mid = (entry.bottom + privacy.y) / 2
    x_down, x_up = entry.x + 112, entry.x + 152  # room on the left for "disclosed"
    tell, tell_on = _via("exchange", "privacy", sw)
    harm, harm_on = _via("privacy", "entry", sw, ("privacy",))
    return [
        _arrow("privacy", [(x_down, entry.bottom), (x_down, privacy.y - GAP_TO_BOX)],
               w["flow_disclosures"], p["flow_disclosures"], tell, on=tell_on),
        _label("privacy", [_n(w["flow_disclosures"]), "disclosed"], x_down, mid, "left",
               tell if tell_on else LIVE_GREY),
        _arrow("harms", [(x_up, privacy.y), (x_up, entry.bottom + GAP_TO_BOX)],
               w["flow_privacy_harms"], p["flow_privacy_harms"], harm, on=harm_on, dashed=True),
        _label("harms", [_n(w["flow_privacy_harms"]), "harmed"], x_up, mid, "right",
               harm if harm_on else LIVE_GREY),
    ]  # fmt: skip


def _fan_arrows(f: Flows) -> list[str]:
    """Peer support to each pathway and risk: parallel arrows, each label above its own (the
    table's arrows out of the community and into uncertainty, keyed by their switch; the arrow
    into trust carries the corrections that lower it)."""
    w, p, sw = f.week, f.peak, f.switches
    fan = [
        ("exchange", "activation", "flow_accurate_info",
         [_n(w["flow_accurate_info"]), "health posts"]),
        ("exchange", "intervention", "flow_enrolments", [_n(w["flow_enrolments"]), "enrolled"]),
        ("peer_support", "stigma", "flow_support", [_n(w["flow_support"]), "support"]),
        ("exchange", "hostility", "flow_hostile", [_n(w["flow_hostile"]), "hostile"]),
        ("exchange", "misinformation", "flow_misinfo_exposure",
         [_n(w["flow_misinfo_adopted"]), "misled"]),
        # found out: being corrected online lowers trust in what one reads there
        ("exchange", "trust", "flow_corrected", [_n(w["flow_corrected"]), "corrected"]),
        ("misinformation", "uncertainty", None, None),
    ]  # fmt: skip
    x0 = LIVE_BOXES["support"].right
    out = []
    for a, b, key, lines in fan:
        e = arrow(a, b)
        r, (color, on) = LIVE_BOXES[box(b).live], _via(a, b, sw)
        value, peak = (w[key], p[key]) if key else (0.0, 0.0)
        x1 = r.x - GAP_TO_BOX
        out.append(_arrow(e.switch, [(x0, r.cy), (x1, r.cy)], value, peak, color, on=on))
        if lines:
            out.append(
                _label(e.switch, lines, (x0 + x1) / 2, r.cy, "above", color if on else LIVE_GREY)
            )
    return out


def _outcome_arrows(f: Flows) -> list[str]:
    """Hostility -> stigma, activation -> care -> outcomes, acute care episodes back up from the
    outcomes (wellbeing) to care, interventions and risks -> outcomes."""
    w, p, sw = f.week, f.peak, f.switches
    b = LIVE_BOXES
    hostile, stigma, care, out_ = b["hostility"], b["stigma"], b["care"], b["outcomes"]
    h_color, h_on = _via("hostility", "stigma", sw, ("hostility",))
    s_color, s_on = _via("activation", "care", sw, ("activation_pathway",))
    c_color, c_on = _via("care", "wellbeing", sw)
    i_color, i_on = _via(
        "intervention", "wellbeing", sw, ("offline_translation", "intervention_pathway")
    )
    u_color, u_on = _via("uncertainty", "wellbeing", sw, ("offline_translation", "uncertainty"))
    a_color, a_on = _via("wellbeing", "care", sw)
    # care down to the outcomes and acute care back up, side by side at the left of the gap
    # between them, so the acute label fits to the right of its arrow
    x_care, x_acute = care.x + 20, care.x + 48
    gap_mid = (care.bottom + out_.y) / 2
    return [
        _arrow("hostility-stigma",
               [(hostile.right, hostile.cy), (RISER_X, hostile.cy), (RISER_X, stigma.cy),
                (stigma.right + GAP_TO_BOX, stigma.cy)],
               w["flow_hostile"], p["flow_hostile"], h_color, on=h_on, dashed=True),
        _arrow("seekers", [(b["activation"].right, b["activation"].cy),
                           (care.x - GAP_TO_BOX, b["activation"].cy)],
               w["flow_new_seekers"], p["flow_new_seekers"], s_color, on=s_on),
        _arrow("care", [(x_care, care.bottom), (x_care, out_.y - GAP_TO_BOX)], 0, 0, c_color,
               on=c_on),
        _arrow("acute", [(x_acute, out_.y), (x_acute, care.bottom + GAP_TO_BOX)],
               w["flow_acute_care"], p["flow_acute_care"], a_color, on=a_on, dashed=True),
        _label("acute", [_n(w["flow_acute_care"]), "acute care"], x_acute, gap_mid, "right",
               a_color if a_on else LIVE_GREY),
        _arrow("out-intervention", [(b["intervention"].right, b["intervention"].bottom - 24),
                                    (out_.x - GAP_TO_BOX, out_.y + 26)],
               0, 0, i_color, on=i_on),
        _arrow("out-risks", [(b["uncertainty"].right, b["uncertainty"].cy),
                             (out_.x - GAP_TO_BOX, b["uncertainty"].cy)],
               0, 0, u_color, on=u_on, dashed=True),
    ]  # fmt: skip


def _captions(f: Flows) -> list[str]:
    """The title (top left), the two group headings, and how to read the arrows (bottom left)."""
    col = COLUMN_X + COLUMN_W / 2
    b = LIVE_BOXES
    risks_y = (b["stigma"].bottom + b["hostility"].y) / 2 + 9  # below a stigma badge
    return [
        _text(8, 24, ["Naslund et al. (2016)"], size=TITLE, weight=700, anchor="start"),
        _text(8, 48, ["peer support online:", "its opportunities, risks"], fill="#334155",
              anchor="start"),
        _text(col, 24, ["OPPORTUNITIES"], weight=700, fill=LIVE_GREEN, cls="pw-heading"),
        _text(col, risks_y, ["RISKS"], weight=700, fill=LIVE_RED, cls="pw-heading"),
        _text(8, VIEW_H - 58, ["Arrows: the last 7 days", f"to day {f.day}; thicker = more",
                               "green helps, red harms"], fill="#475569", anchor="start",
              cls="pw-footnote"),
    ]  # fmt: skip


def live_svg(f: Flows, intervention_communities: int = 0, communities: int = 0) -> str:
    """The conceptual model with the last seven days' flows on its arrows (VIEW_W x VIEW_H)."""
    defs = "".join(
        f"<marker id='pw-head-{k}' viewBox='0 0 10 10' refX='7' refY='5' markerWidth='{HEAD}' "
        f"markerHeight='{HEAD}' markerUnits='userSpaceOnUse' orient='auto'>"
        f"<path d='M0 0 L10 5 L0 10 z' fill='{c}'/></marker>"
        for k, c in (("g", LIVE_GREEN), ("r", LIVE_RED), ("b", LIVE_BLUE), ("k", LIVE_GREY))
    )
    # Boxes first, then arrows, then labels on top: a label's halo is never painted over.
    arrows = _entry_arrows(f) + _fan_arrows(f) + _outcome_arrows(f)
    labels = [a for a in arrows if a.startswith("<g class='pw-flow-label'")]
    paths = [a for a in arrows if not a.startswith("<g class='pw-flow-label'")]
    return "".join(
        [
            f"<svg viewBox='0 0 {VIEW_W} {VIEW_H}' preserveAspectRatio='xMidYMax meet' "
            "xmlns='http://www.w3.org/2000/svg' class='pw-diagram' role='img' "
            "aria-label='The conceptual model with this week's flows' "
            "font-family='Roboto, Helvetica, Arial, sans-serif' "
            "style='width:100%;height:100%;display:block'>",
            f"<defs>{defs}</defs>",
            *_captions(f),
            *_boxes(f, intervention_communities, communities),
            *paths,
            *labels,
            "</svg>",
        ]
    )


if __name__ == "__main__":
    # A quick look at the docs' figure: python -m peerwell.analysis.conceptual out.svg
    import sys

    Path(sys.argv[1]).write_text(figure_svg())
