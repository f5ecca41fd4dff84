"""The Classroom page: the conceptual model of Naslund et al. (2016) drawn as a live diagram.

Boxes are the parts of the model (entry, peer support, the three opportunity pathways, the three
risks, the offline outcomes); each arrow carries the flow the model moved along it over the last
seven days (``recorder.FLOWS``), drawn thicker when it carries more. A box whose mechanism is
switched off is drawn grey and dashed. Presets change a few parameters from today on and say, in
two sentences, what to watch.

The page is made for a projector: it fits one window of 1280×720 to 1920×1080 without scrolling
(the diagram is scaled to the height and width beside the controls, which stay in view), the
diagram's text is at least 16 px at 1280×720, and flow labels sit clear of every arrow.
``?present=1`` or the *Present* button hides the app's top bar. ``tests/test_classroom_layout.py``
checks all of that in a browser.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import solara

from peerwell.scenarios.dashboard.live import LiveModel, build_live, parse_query
from peerwell.scenarios.dashboard.session import use_session
from peerwell.scenarios.dashboard.views import DayCounter, Expander, Message, RunControls
from peerwell.simulation.errors import PeerwellError
from peerwell.simulation.params import get_param
from peerwell.simulation.recorder import FLOWS

GREEN, RED, BLUE, GREY, INK = "#15803d", "#b91c1c", "#1d4ed8", "#94a3b8", "#0f172a"
WEEK = 7


@dataclass(frozen=True)
class Preset:
    """A story in one click: parameter changes from today on, and what to tell the class."""

    key: str
    title: str
    changes: dict[str, Any] = field(default_factory=dict)
    text: str = ""


PRESETS = (
    Preset(
        "moderation",
        "What moderation does",
        {"communities.moderation": 0.9},
        "Moderators now remove most hostile and misleading posts in every community and correct "
        "false beliefs. Watch the red arrows: fewer hostile comments reach people, so hostility "
        "stops pushing self-stigma up, and fewer people are misled each week.",
    ),
    Preset(
        "surge",
        "A misinformation surge",
        {"communities.misinformation_prevalence": 0.244},
        "A quarter of the health content people meet online is now misleading (24.4%, the share "
        "of inappropriate advice found in one peer forum). Watch the number misled each week "
        "climb, and care-seeking slip as misled people hold back from care.",
    ),
    Preset(
        "no_activation",
        "Turn off the activation pathway",
        {"mechanisms.activation_pathway": False},
        "Learning from peers no longer raises patient activation: people still find support, but "
        "not insight into their health-care decisions. Watch the arrow into care-seeking thin "
        "out while belonging and self-stigma carry on as before.",
    ),
    Preset(
        "baseline",
        "Back to the baseline",
        {},
        "Today's mix of platforms: light moderation, some hostility and some misleading content, "
        "with every pathway on. Run it for a few weeks as the reference before trying a preset.",
    ),
)
_PRESET_KEYS = sorted({k for p in PRESETS for k in p.changes})


def preset_changes(preset: Preset, base) -> dict[str, Any]:
    """The preset's changes on top of ``base``: every other preset's parameters back to ``base``."""
    out = {k: get_param(base, k) for k in _PRESET_KEYS}
    out.update(preset.changes)
    return out


# ---------------------------------------------------------------------------------------------
# What the diagram shows


@dataclass
class _Flows:
    """What the diagram shows: weekly flows, their running maxima, and today's states."""

    week: dict[str, float]
    peak: dict[str, float]
    state: dict[str, float]
    switches: dict[str, bool]
    day: int


def flows_now(live: LiveModel) -> _Flows:
    """Sums of each daily flow over the last seven days, and the largest such sum so far."""
    with live.lock:
        week, peak = {}, {}
        for key in FLOWS:
            col = np.asarray(live.history.get(key, [0.0])[1:] or [0.0], dtype=float)
            csum = np.concatenate([[0.0], np.cumsum(col)])
            rolling = csum[WEEK:] - csum[:-WEEK] if len(col) >= WEEK else csum[-1:]
            week[key] = float(csum[-1] - csum[max(0, len(col) - WEEK)])
            peak[key] = max(float(rolling.max()), week[key], 1e-9)
        s = dict(live.model.summary)
        switches = {
            name: bool(getattr(live.model.params.mechanisms, name))
            for name in vars(live.model.params.mechanisms)
        }
        return _Flows(week, peak, s, switches, live.day)


# ---------------------------------------------------------------------------------------------
# The diagram: an SVG drawn in a fixed frame of VIEW_W x VIEW_H units and scaled, whole, to fit
# the panel the page gives it (the smaller of its width and height decides).
#
# The frame has about the shape of that panel on a 16:9 projector, and one unit is about one CSS
# pixel at 1280 x 720, so the font sizes below are close to what the back row gets there; the
# layout test (tests/test_classroom_layout.py) checks >= 16 px. Every flow label sits beside its
# own arrow, in a gap that no other arrow crosses, on a white halo; the arrows run straight
# (horizontal or vertical) between boxes so that those gaps exist by construction.

VIEW_W, VIEW_H = 1000, 640
TITLE, TEXT = 20, 18  # font sizes in units: box titles, everything else
LINE_T, LINE = 24, 22  # their line heights
MAX_WIDTH = 12  # the widest arrow; labels keep CLEAR units away from an arrow's centre line
CLEAR = MAX_WIDTH / 2 + 4
HALO = 5  # padding inside a label's white halo
HEAD = 16  # arrowhead size; it reaches HEAD * 0.3 past the end of its path
GAP_TO_BOX = 5  # so arrows end that far short of the box they point at


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


# Columns, left to right: people and entry | peer support | the three opportunities above the
# three risks | care and the offline outcomes. Stigma is the last opportunity so that it sits
# right above "Hostile comments": the dashed arrow from hostility to stigma is then a short hop
# that crosses nothing.
COLUMN_X, COLUMN_W = 545, 240
RISER_X = 805  # the vertical leg of the hostility -> stigma arrow
BOXES = {
    "people": Rect(8, 96, 192, 110),
    "entry": Rect(8, 330, 192, 110),
    "support": Rect(280, 34, 130, 588),
    "activation": Rect(COLUMN_X, 34, COLUMN_W, 66),
    "intervention": Rect(COLUMN_X, 130, COLUMN_W, 90),
    "stigma": Rect(COLUMN_X, 250, COLUMN_W, 66),
    "hostility": Rect(COLUMN_X, 364, COLUMN_W, 66),
    "misinformation": Rect(COLUMN_X, 460, COLUMN_W, 66),
    "uncertainty": Rect(COLUMN_X, 556, COLUMN_W, 66),
    "care": Rect(828, 34, 167, 132),
    "outcomes": Rect(828, 214, 167, 408),
}


def _n(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.0f}"
    if x == int(x):
        return f"{int(x)}"
    return f"{x:.1f}"


def _text_width(line: str, size: float, bold: bool) -> float:
    """A generous estimate of a line's width (Roboto averages ~0.5 em a character)."""
    return len(line) * size * (0.6 if bold else 0.55)


def _text(x, y, lines, size=TEXT, weight=400, fill=INK, anchor="middle", cls="", step=LINE):
    return "".join(
        f"<text x='{x:.0f}' y='{y + i * step:.0f}' font-size='{size}' font-weight='{weight}' "
        f"fill='{fill}' text-anchor='{anchor}' class='{cls}'>{html.escape(line)}</text>"
        for i, line in enumerate(lines)
    )


def _box(key: str, title: list[str], lines: list[str], color: str, on: bool = True) -> str:
    """A box with its title and details centred in it; switched off: grey, dashed, and a badge."""
    r = BOXES[key]
    stroke, ink, body = (color, INK, "#334155") if on else (GREY, "#64748b", "#64748b")
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
        f"fill='#ffffff' stroke='{GREY}' stroke-width='2'/>"
        + _text(r.cx, y + 9, [text], weight=700, fill="#64748b", cls="pw-badge")
    )


def _arrow(key, points, value, peak, color, on=True, dashed=False):
    """A straight-segment arrow whose width grows with ``value / peak`` (``peak=0``: thin)."""
    if peak > 0:
        width = 3 + (MAX_WIDTH - 3) * math.sqrt(min(1.0, max(0.0, value) / peak))
    else:
        width = 3.5
    col = color if on else GREY
    d = "M" + " L".join(f"{x:.0f} {y:.0f}" for x, y in points)
    dash = " stroke-dasharray='14 9'" if dashed or not on else ""
    marker = {GREEN: "g", RED: "r", BLUE: "b"}.get(col, "k")
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


def _boxes(f: _Flows, intervention_communities: int, communities: int) -> list[str]:
    s, sw, w = f.state, f.switches, f.week
    online = s["online_share"]
    hosted = (
        [f"{100 * s['enrolled_share']:.1f}% enrolled", f"in {intervention_communities} of "
         f"{communities} communities"]
        if intervention_communities
        else ["none hosted", f"(0 of {communities} communities)"]
    )  # fmt: skip
    return [
        _box("people", ["People with", "serious mental", "illness"],
             [f"{100 * (1 - online):.0f}% offline"], BLUE),
        _box("entry", ["Entry: joining a", "peer community"],
             ["the critical point", f"{100 * online:.0f}% are members"], BLUE, sw["entry"]),
        _box("support", ["Peer-to-peer", "support"],
             ["stories,", "coping,", "belonging", f"{s['belonging_mean']:.2f}"], GREEN,
             sw["peer_support"]),
        _box("activation", ["Activation"], [f"mean {s['activation_mean']:.1f} PAM"], GREEN,
             sw["activation_pathway"]),
        _box("intervention", ["Online interventions"], hosted, GREEN, sw["intervention_pathway"]),
        _box("stigma", ["Challenging stigma"], [f"self-stigma {s['self_stigma_mean']:.3f}"],
             GREEN, sw["stigma_pathway"]),
        _box("hostility", ["Hostile comments"], ["push self-stigma up"], RED, sw["hostility"]),
        _box("misinformation", ["Misinformation"],
             [f"{100 * s['misinformation_belief_mean']:.1f}% misled now"], RED,
             sw["misinformation"]),
        _box("uncertainty", ["Uncertainty"], [f"about own health {s['uncertainty_mean']:.2f}"],
             RED, sw["uncertainty"]),
        _box("care", ["Care"], [f"{_n(w['flow_new_seekers'])} began seeking", "care this week",
             f"{100 * s['care_seeking_share']:.0f}% seeking", "or in care"], BLUE),
        _box("outcomes", ["Offline", "outcomes"],
             ["recovery", f"{s['recovery_mean']:.3f}", "employed",
              f"{100 * s['employed_share']:.1f}%", "mental", "wellbeing",
              f"{s['wellbeing_mental_mean']:.3f}", "physical", "wellbeing",
              f"{s['wellbeing_physical_mean']:.3f}"], BLUE, sw["offline_translation"]),
    ]  # fmt: skip


def _entry_arrows(f: _Flows) -> list[str]:
    """Joining and leaving (vertical, labels outside them) and posting into peer support."""
    w, p, sw = f.week, f.peak, f.switches
    people, entry, support = BOXES["people"], BOXES["entry"], BOXES["support"]
    mid = (people.bottom + entry.y) / 2
    x_in, x_out = people.x + 82, people.x + 134
    blue = BLUE if sw["entry"] else GREY
    green = GREEN if sw["peer_support"] else GREY
    posts_mid = (entry.right + support.x) / 2
    return [
        _arrow("joins", [(x_in, people.bottom), (x_in, entry.y - GAP_TO_BOX)],
               w["flow_joins"], p["flow_joins"], BLUE, on=sw["entry"]),
        _label("joins", [_n(w["flow_joins"]), "joined"], x_in, mid, "left", blue),
        _arrow("leaves", [(x_out, entry.y), (x_out, people.bottom + GAP_TO_BOX)],
               w["flow_leaves"], p["flow_leaves"], GREY),
        _label("leaves", [_n(w["flow_leaves"]), "left"], x_out, mid, "right", "#475569"),
        _arrow("posts", [(entry.right, entry.cy), (support.x - GAP_TO_BOX, entry.cy)],
               w["flow_posts"], p["flow_posts"], GREEN, on=sw["peer_support"]),
        _label("posts", [_n(w["flow_posts"]), "posts"], posts_mid, entry.cy, "above", green),
    ]  # fmt: skip


def _fan_arrows(f: _Flows) -> list[str]:
    """Peer support to each pathway and risk: parallel arrows, each label above its own."""
    w, p, sw = f.week, f.peak, f.switches
    fan = [
        ("activation", "flow_accurate_info", GREEN, "activation_pathway",
         [_n(w["flow_accurate_info"]), "health posts"]),
        ("intervention", "flow_enrolments", GREEN, "intervention_pathway",
         [_n(w["flow_enrolments"]), "enrolled"]),
        ("stigma", "flow_support", GREEN, "stigma_pathway", [_n(w["flow_support"]), "support"]),
        ("hostility", "flow_hostile", RED, "hostility", [_n(w["flow_hostile"]), "hostile"]),
        ("misinformation", "flow_misinfo_exposure", RED, "misinformation",
         [f"{_n(w['flow_misinfo_adopted'])} misled", f"{_n(w['flow_corrected'])} corrected"]),
        ("uncertainty", None, RED, "uncertainty", None),
    ]  # fmt: skip
    x0 = BOXES["support"].right
    out = []
    for box, key, color, mech, lines in fan:
        r, on = BOXES[box], sw[mech]
        value, peak = (w[key], p[key]) if key else (0.0, 0.0)
        x1 = r.x - GAP_TO_BOX
        out.append(_arrow(mech, [(x0, r.cy), (x1, r.cy)], value, peak, color, on=on))
        if lines:
            out.append(_label(mech, lines, (x0 + x1) / 2, r.cy, "above", color if on else GREY))
    return out


def _outcome_arrows(f: _Flows) -> list[str]:
    """Hostility -> stigma, activation -> care -> outcomes, interventions and risks -> outcomes."""
    w, p, sw = f.week, f.peak, f.switches
    b = BOXES
    hostile, stigma, care, out_ = b["hostility"], b["stigma"], b["care"], b["outcomes"]
    off = sw["offline_translation"]
    return [
        _arrow("hostility-stigma",
               [(hostile.right, hostile.cy), (RISER_X, hostile.cy), (RISER_X, stigma.cy),
                (stigma.right + GAP_TO_BOX, stigma.cy)],
               w["flow_hostile"], p["flow_hostile"], RED, on=sw["hostility"], dashed=True),
        _arrow("seekers", [(b["activation"].right, b["activation"].cy),
                           (care.x - GAP_TO_BOX, b["activation"].cy)],
               w["flow_new_seekers"], p["flow_new_seekers"], GREEN, on=sw["activation_pathway"]),
        _arrow("care", [(care.cx, care.bottom), (care.cx, out_.y - GAP_TO_BOX)], 0, 0, BLUE),
        _arrow("out-intervention", [(b["intervention"].right, b["intervention"].bottom - 24),
                                    (out_.x - GAP_TO_BOX, out_.y + 26)],
               0, 0, GREEN, on=off and sw["intervention_pathway"]),
        _arrow("out-risks", [(b["uncertainty"].right, b["uncertainty"].cy),
                             (out_.x - GAP_TO_BOX, b["uncertainty"].cy)],
               0, 0, RED, on=off and sw["uncertainty"], dashed=True),
    ]  # fmt: skip


def _captions(f: _Flows) -> list[str]:
    """The title (top left), the two group headings, and how to read the arrows (bottom left)."""
    col = COLUMN_X + COLUMN_W / 2
    risks_y = (BOXES["stigma"].bottom + BOXES["hostility"].y) / 2 + 9  # below a stigma badge
    return [
        _text(8, 24, ["Naslund et al. (2016)"], size=TITLE, weight=700, anchor="start"),
        _text(8, 48, ["peer support online:", "its opportunities, risks"], fill="#334155",
              anchor="start"),
        _text(col, 24, ["OPPORTUNITIES"], weight=700, fill=GREEN, cls="pw-heading"),
        _text(col, risks_y, ["RISKS"], weight=700, fill=RED, cls="pw-heading"),
        _text(8, 560, ["Arrows: the last 7 days", f"to day {f.day}; thicker = more",
                       "green helps, red harms"], fill="#475569", anchor="start",
              cls="pw-footnote"),
    ]  # fmt: skip


def diagram_svg(f: _Flows, intervention_communities: int = 0, communities: int = 0) -> str:
    """The conceptual model with the last seven days' flows on its arrows (VIEW_W x VIEW_H)."""
    defs = "".join(
        f"<marker id='pw-head-{k}' viewBox='0 0 10 10' refX='7' refY='5' markerWidth='{HEAD}' "
        f"markerHeight='{HEAD}' markerUnits='userSpaceOnUse' orient='auto'>"
        f"<path d='M0 0 L10 5 L0 10 z' fill='{c}'/></marker>"
        for k, c in (("g", GREEN), ("r", RED), ("b", BLUE), ("k", GREY))
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


FLOW_ROWS = (
    ("flow_joins", "Entry", "people who joined a community"),
    ("flow_leaves", "Entry", "people who left their community"),
    ("flow_posts", "Peer support", "posts written"),
    ("flow_support", "Challenging stigma", "support exchanged (sum of support signals)"),
    ("flow_accurate_info", "Activation", "accurate health posts met"),
    ("flow_new_seekers", "Activation → care", "people who started seeking care"),
    ("flow_care_entries", "Activation → care", "people who entered care"),
    ("flow_enrolments", "Online interventions", "people who enrolled in an intervention"),
    ("flow_misinfo_exposure", "Misinformation risk", "misleading posts met"),
    ("flow_misinfo_adopted", "Misinformation risk", "people misled"),
    ("flow_corrected", "Misinformation risk", "misleading beliefs corrected"),
    ("flow_hostile", "Hostility risk", "hostile or derogatory comments received"),
)


def flows_table_html(f: _Flows) -> str:
    rows = "".join(
        f"<tr data-flow='{key}'><td>{box}</td><td>{what}</td>"
        f"<td class='pw-num'>{_n(f.week[key])}</td></tr>"
        for key, box, what in FLOW_ROWS
    )
    return (
        "<table class='pw-table pw-flows'><thead><tr><th>Part of the model</th>"
        "<th>What the arrow carries</th><th>Last 7 days</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


# ---------------------------------------------------------------------------------------------
# The page
#
# One screen, no scrolling: the controls in a column on the left that stays in view (sticky), the
# diagram to its right in a panel exactly as tall as what is left of the window. The diagram is
# laid out by height because a projector's window is wide and short: scaled to the width (as it
# once was) it ran off the bottom of the screen. The flows table comes below, off-screen until
# asked for. Presentation mode hides the app's top bar, so the diagram gets the whole window.

TOPBAR = 52  # the app's top bar (app.py), pinned to this height here so the panel can subtract it
PAD = 8  # space above and below the page

CSS = f"""
.pw-classroom {{ --pw-top: {TOPBAR}px; }}
.pw-classroom.pw-present {{ --pw-top: 0px; }}
body:has(.pw-classroom) .pw-topbar {{
  height: {TOPBAR}px; min-height: {TOPBAR}px; flex-wrap: nowrap !important; overflow: hidden;
}}
body:has(.pw-classroom.pw-present) .pw-topbar {{ display: none !important; }}
body:has(.pw-classroom) .pw-body {{ padding: {PAD}px 14px !important; }}
.pw-stage {{ display: flex; flex-wrap: nowrap !important; align-items: flex-start; gap: 12px; }}
.pw-side {{
  position: sticky; top: {PAD}px; flex: 0 0 clamp(270px, 20vw, 360px); min-width: 0;
  max-height: calc(100vh - var(--pw-top) - {2 * PAD}px); overflow: hidden;
}}
.pw-main {{ flex: 1 1 auto; min-width: 0; position: relative; }}
/* Top right of the panel: the diagram keeps that corner empty (see BOXES["care"]). */
.pw-main > .pw-present-toggle {{
  position: absolute; top: 0; right: 0; z-index: 2; background: #ffffff !important;
}}
.pw-run > .v-sheet {{ row-gap: 2px !important; }}
.pw-classroom .pw-diagram-box {{ height: calc(100vh - var(--pw-top) - {2 * PAD}px); }}
.pw-classroom .pw-diagram {{ max-height: none; }}
.pw-side .pw-daycounter {{ font-size: 18px; }}
.pw-side .pw-day {{ font-size: 26px; }}
.pw-side .v-btn:not(.v-btn--text) {{ padding: 0 12px !important; min-width: 0 !important; }}
.pw-classroom .pw-side .pw-speed {{ min-width: 0 !important; flex: 0 0 auto !important; }}
.pw-side .pw-speed .v-input__slot {{ flex-wrap: wrap; }}
.pw-side .pw-speed .v-label {{ width: 100%; font-size: 16px !important; }}
.pw-side .pw-preset.v-btn {{
  font-size: 16px !important; height: auto !important; min-height: 40px; width: 100%;
  padding: 6px 12px !important; justify-content: flex-start;
}}
.pw-side .pw-preset .v-btn__content {{ white-space: normal; flex: 1 1 auto; line-height: 1.25; }}
.pw-side .pw-story {{ flex: 1 1 auto; min-height: 0; overflow-y: auto; margin: 0 !important;
  padding: 8px 12px !important; }}
.pw-side .pw-story .v-card__text {{ padding: 0 !important; }}
.pw-side .pw-story-text {{ font-size: 16px; line-height: 1.3; }}
.pw-side .pw-caption {{ font-size: 16px; margin: 0; overflow-wrap: anywhere; }}
.pw-side .pw-message {{ font-size: 16px; }}
/* A full-HD projector has room for larger controls and story text (the diagram scales itself). */
@media (min-width: 1600px) and (min-height: 900px) {{
  .pw-side .pw-daycounter {{ font-size: 22px; }}
  .pw-side .pw-day {{ font-size: 32px; }}
  .pw-side .v-btn, .pw-side .pw-preset.v-btn {{ font-size: 19px !important; }}
  .pw-side .pw-run .v-btn {{ height: 44px !important; }}
  .pw-side .pw-speed .v-label {{ font-size: 18px !important; }}
  .pw-side .pw-story-text {{ font-size: 21px; }}
  .pw-side .pw-caption {{ font-size: 18px; }}
  .pw-main > .pw-present-toggle {{ font-size: 19px !important; }}
}}
"""


@solara.component
def Diagram(live: LiveModel, version: solara.Reactive[int]):
    """The diagram, and below it (off-screen until opened) the same flows as a table."""
    _ = version.value
    f = flows_now(live)
    solara.HTML(
        tag="div",
        unsafe_innerHTML=diagram_svg(
            f,
            live.model.params.communities.intervention_communities,
            live.model.params.communities.count,
        ),
        classes=["pw-diagram-box"],
    )
    # The table is built from ``f`` (not from ``live``) so that a new week's flows re-render it.
    Expander(
        "The flows as numbers", lambda: solara.HTML(tag="div", unsafe_innerHTML=flows_table_html(f))
    )


def _make_live(search: str):
    scenario, overrides, problems = parse_query(search)
    live, more = build_live(scenario, overrides)
    return live, problems + more


def split_present(search: str) -> tuple[str, bool]:
    """The address without its ``present=1`` part (not a model setting), and whether it had one."""
    parts, present = [], False
    for part in search.lstrip("?").split("&"):
        key, _, value = part.partition("=")
        if key == "present":
            present = value.lower() not in ("0", "false", "no", "off")
        elif part:
            parts.append(part)
    return "&".join(parts), present


@solara.component
def Story(preset: Preset | None, live: LiveModel):
    """What to watch: the chosen preset's two sentences, or how to start."""
    with solara.Card(classes=["pw-story"]):
        if preset is None:
            solara.HTML(
                tag="p",
                unsafe_innerHTML="Press <b>Play</b>, let the model run a few weeks, then pick "
                "a preset: it changes the model from that day on. Each arrow shows what "
                "moved along it over the last seven days; green arrows are opportunities, "
                "red ones risks.",
                classes=["pw-story-text"],
            )
            return
        changed = ", ".join(f"{k} = {v}" for k, v in preset.changes.items())
        solara.HTML(
            tag="p",
            unsafe_innerHTML=f"<b>{html.escape(preset.title)}.</b> {html.escape(preset.text)}",
            classes=["pw-story-text"],
        )
        solara.HTML(
            tag="p",
            unsafe_innerHTML=f"From day {_applied_day(live)}: "
            f"{html.escape(changed or 'every preset setting back to the baseline')}.",
            classes=["pw-caption"],
        )


@solara.component
def ClassroomPage():
    router = solara.use_router()
    session = use_session()
    search, present_asked = split_present(router.search or "")
    live, first_problems = session.get("classroom", lambda: _make_live(search))
    base = session.get("classroom-base", live.settings_copy)
    version = solara.use_reactive(0)
    playing = solara.use_reactive(False)
    present = solara.use_reactive(present_asked)
    chosen = solara.use_reactive(session.get("classroom-preset", lambda: [None])[0])
    message = solara.use_reactive(("error", " · ".join(first_problems)) if first_problems else None)

    def apply(preset: Preset):
        try:
            live.apply(preset_changes(preset, base))
        except PeerwellError as exc:
            message.set(("error", str(exc)))
            return
        session.set("classroom-preset", [preset.key])
        chosen.set(preset.key)
        message.set(None)
        version.set(version.value + 1)

    def on_error(text: str | None):
        message.set(("error", text) if text else None)

    preset = next((p for p in PRESETS if p.key == chosen.value), None)
    solara.Style(CSS)
    classes = ["pw-page", "pw-classroom"] + (["pw-present"] if present.value else [])
    with solara.Column(classes=classes):
        with solara.Row(classes=["pw-stage"], gap="12px"):
            with solara.Column(classes=["pw-side"], gap="8px"):
                DayCounter(live, version)
                with solara.Column(classes=["pw-run"], gap="0px"):
                    RunControls(live, version, playing, on_error=on_error)
                with solara.Column(classes=["pw-presets"], gap="6px"):
                    for p in PRESETS:
                        solara.Button(
                            p.title,
                            on_click=lambda p=p: apply(p),
                            color="primary",
                            outlined=p.key != chosen.value,
                            classes=["pw-preset", f"pw-preset-{p.key}"],
                        )
                if message.value:
                    Message(*message.value)
                Story(preset, live)
            with solara.Column(classes=["pw-main"], gap="8px"):
                solara.Button(
                    "Exit presentation" if present.value else "Present",
                    on_click=lambda: present.set(not present.value),
                    outlined=True,
                    color="primary",
                    classes=["pw-present-toggle"],
                )
                Diagram(live, version)


def _applied_day(live: LiveModel) -> int:
    return live.changes[-1].day if live.changes else 0
