"""The conceptual model of Naslund et al. (2016) as an SVG whose boxes link to the ODD.

The boxes, arrows, labels and links are read from the Mermaid diagram in ``docs/ODD.md`` (its
``click NODE "#anchor"`` lines name the ODD section of each box), so the figure cannot drift
from the model description; only where each box sits is set here (``POSITIONS``). A node of the
diagram without a position stops the docs build with a message saying so.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

# Where each box of ODD.md's diagram sits (x, y in inches on a 16 x 9.6 canvas; y up).
POSITIONS: dict[str, tuple[float, float]] = {
    "P": (1.3, 5.0),
    "E": (3.85, 5.0),
    "C": (6.4, 5.0),
    "R2": (6.4, 8.5),
    "K": (6.4, 1.1),
    "S": (9.2, 8.5),
    "A": (9.2, 6.2),
    "I": (9.2, 3.8),
    "R1": (9.2, 1.1),
    "ST": (12.1, 8.5),
    "CARE": (12.1, 4.6),
    "R3": (12.1, 1.1),
    "W": (15.0, 6.9),
    "O": (15.0, 2.9),
}
# Curvature of particular arrows (matplotlib's arc3 rad), where a straight line would cross boxes.
BEND: dict[tuple[str, str], float] = {
    ("R2", "R3"): -0.28,
    ("A", "O"): -0.2,
    ("R1", "W"): 0.22,
    ("R2", "E"): 0.1,
}
BOX_W, BOX_H = 2.35, 1.3
GREEN, RED, INK, GREY = "#1b7f5f", "#c0392b", "#1f2937", "#6b7280"
FILL = {"risk": "#fdecea", "benefit": "#e8f5ef", "neutral": "#eef2f7"}


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
            a, arrow, label, b = parts[i : i + 4]
            d.edges.append(
                Edge(a.strip(), b.strip(), (label or "").strip() or None, arrow == "-.->")
            )
    for e in d.edges:
        for n in (e.a, e.b):
            if n not in d.nodes:
                raise ValueError(f"the Mermaid diagram uses node {n!r} without defining it")
    return d


def _kind(node: Node) -> str:
    if node.label.lower().startswith("risk"):
        return "risk"
    if node.id in ("P", "E", "C", "K"):
        return "neutral"
    return "benefit"


def _inside_a_box(x: float, y: float, pad: float = 0.2) -> bool:
    return any(
        abs(x - bx) < BOX_W / 2 + pad and abs(y - by) < BOX_H / 2 + pad
        for bx, by in POSITIONS.values()
    )


def _label_point(e: Edge, rad: float) -> tuple[float, float]:
    """A point on the arrow (approximately: arc3 is a quadratic Bezier) clear of every box."""
    (xa, ya), (xb, yb) = POSITIONS[e.a], POSITIONS[e.b]
    # arc3's control point: the midpoint moved by rad * length, to the left of a -> b.
    cx, cy = (xa + xb) / 2 - rad * (yb - ya), (ya + yb) / 2 + rad * (xb - xa)
    for t in (0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74):
        x = (1 - t) ** 2 * xa + 2 * (1 - t) * t * cx + t**2 * xb
        y = (1 - t) ** 2 * ya + 2 * (1 - t) * t * cy + t**2 * yb
        if not _inside_a_box(x, y):
            return x, y
    return (xa + xb) / 2, (ya + yb) / 2


def render_svg(diagram: Diagram, link_prefix: str = "ODD.html") -> str:
    """The diagram drawn with matplotlib as SVG text (no XML header), boxes linked to the ODD."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    missing = [n for n in diagram.nodes if n not in POSITIONS]
    if missing:
        raise ValueError(
            f"docs/ODD.md's diagram has node(s) {missing} without a place in the figure: add "
            "them to POSITIONS in docs/_ext/conceptual_figure.py"
        )
    fig = Figure(figsize=(16.3, 9.8))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 16.3)
    ax.set_ylim(0, 9.8)
    ax.axis("off")
    patches = {}
    for node in diagram.nodes.values():
        x, y = POSITIONS[node.id]
        kind = _kind(node)
        edge = RED if kind == "risk" else (GREEN if kind == "benefit" else GREY)
        box = FancyBboxPatch(
            (x - BOX_W / 2, y - BOX_H / 2),
            BOX_W,
            BOX_H,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=FILL[kind],
            edgecolor=edge,
            linewidth=1.6,
            zorder=3,
        )
        ax.add_patch(box)
        patches[node.id] = box
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
        if node.link:
            url = f"{link_prefix}{node.link}" if node.link.startswith("#") else node.link
            box.set_url(url)
            text.set_url(url)
            box.set_gid(f"box-{node.id}")
    seen: dict[tuple[str, str], int] = {}
    labelled: set[tuple[str, str]] = set()  # (label, target): one label for arrows that share it
    for e in diagram.edges:
        key = (e.a, e.b)
        seen[key] = seen.get(key, 0) + 1
        colour = RED if e.dotted else GREEN
        rad = BEND.get(key, 0.12 if seen[key] == 1 else -0.12)
        arrow = FancyArrowPatch(
            POSITIONS[e.a],
            POSITIONS[e.b],
            patchA=patches[e.a],
            patchB=patches[e.b],
            arrowstyle="-|>,head_length=7,head_width=3.5",
            connectionstyle=f"arc3,rad={rad}",
            linestyle=(0, (3, 2.5)) if e.dotted else "-",
            color=colour,
            linewidth=1.4,
            shrinkA=2,
            shrinkB=2,
            zorder=2,
        )
        ax.add_patch(arrow)
        if e.label and (e.label, e.b) not in labelled:
            labelled.add((e.label, e.b))
            x, y = _label_point(e, rad)
            ax.text(
                x,
                y,
                e.label,
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


def figure_svg(odd_path: Path, link_prefix: str = "ODD.html") -> str:
    """The SVG of the conceptual model drawn from ``odd_path``'s Mermaid diagram."""
    return render_svg(parse(mermaid_block(odd_path.read_text(encoding="utf-8"))), link_prefix)


if __name__ == "__main__":  # a quick look: python docs/_ext/conceptual_figure.py out.svg
    import sys

    here = Path(__file__).resolve().parents[1]
    Path(sys.argv[1]).write_text(figure_svg(here / "ODD.md"))
