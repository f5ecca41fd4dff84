"""The Classroom page: the conceptual model of Naslund et al. (2016) drawn as a live diagram.

Boxes are the parts of the model (entry, peer support, the three opportunity pathways, the three
risks, the offline outcomes); each arrow carries the flow the model moved along it over the last
seven days (``recorder.FLOWS``), drawn thicker when it carries more. A box whose mechanism is
switched off is drawn grey and dashed. Presets change a few parameters from today on and say, in
two sentences, what to watch.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import solara

from peerwell.simulation.errors import PeerwellError
from peerwell.simulation.params import get_param
from peerwell.simulation.recorder import FLOWS

from .live import LiveModel, build_live, parse_query
from .session import use_session
from .views import DayCounter, Expander, Message, RunControls

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
# The diagram (an SVG string, 1600 x 900 units)


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


def _n(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.0f}"
    if x == int(x):
        return f"{int(x)}"
    return f"{x:.1f}"


def _text(x, y, lines, size=22, weight=400, fill=INK, anchor="middle", cls=""):
    out = []
    for i, line in enumerate(lines):
        w = weight if i == 0 else 400
        s = size if i == 0 else size - 3
        out.append(
            f"<text x='{x}' y='{y + i * (size + 5)}' font-size='{s}' font-weight='{w}' fill='{fill}' "
            f"text-anchor='{anchor}' class='{cls}'>{html.escape(line)}</text>"
        )
    return "".join(out)


def _box(x, y, w, h, title, lines, color, on=True, cls=""):
    stroke = color if on else GREY
    dash = "" if on else " stroke-dasharray='10 7'"
    fill = "#ffffff" if on else "#f1f5f9"
    t = _text(x + w / 2, y + 34, title, size=24, weight=700, fill=INK if on else "#64748b")
    body_y = y + 34 + len(title) * 29 + 6
    body = _text(
        x + w / 2,
        body_y,
        lines if on else ["(switched off)", *lines],
        size=21,
        fill="#334155" if on else "#64748b",
    )
    return (
        f"<g class='pw-box {cls}'><rect x='{x}' y='{y}' width='{w}' height='{h}' rx='14' "
        f"fill='{fill}' stroke='{stroke}' stroke-width='3'{dash}/>{t}{body}</g>"
    )


def _pill(x, y, lines, color):
    """A label with a white background centred on (x, y): first line bold."""
    wpx = max(len(s) for s in lines) * 12 + 24
    hpx = 30 * len(lines) + 8
    top = y - hpx / 2
    out = (
        f"<rect x='{x - wpx / 2:.0f}' y='{top:.0f}' width='{wpx:.0f}' height='{hpx:.0f}' rx='10' "
        f"fill='#ffffff' fill-opacity='0.95' stroke='{color}' stroke-width='2'/>"
    )
    return out + _text(x, top + 27, lines, size=22, weight=700, fill=color, cls="pw-flow")


def _arrow(points, value, peak, color, on=True, dashed=False, cls=""):
    """A polyline arrow whose width grows with ``value / peak`` (``peak=0``: a fixed thin arrow)."""
    if peak > 0:
        width = 3 + 13 * math.sqrt(min(1.0, max(0.0, value) / peak))
    else:
        width = 3.5
    col = color if on else GREY
    d = "M" + " L".join(f"{x:.0f} {y:.0f}" for x, y in points)
    dash = " stroke-dasharray='14 9'" if dashed or not on else ""
    marker = {GREEN: "g", RED: "r", BLUE: "b"}.get(col, "k")
    return (
        f"<path class='pw-arrow {cls}' d='{d}' fill='none' stroke='{col}' stroke-width='{width:.1f}'"
        f" stroke-linejoin='round' marker-end='url(#pw-head-{marker})'{dash}/>"
    )


def diagram_svg(f: _Flows, intervention_communities: int = 0, communities: int = 0) -> str:
    """The conceptual model with the last seven days' flows on its arrows (1600 x 900 units)."""
    w, p, s, sw = f.week, f.peak, f.state, f.switches
    defs = "".join(
        f"<marker id='pw-head-{k}' viewBox='0 0 10 10' refX='7' refY='5' markerWidth='3.2' "
        f"markerHeight='3.2' orient='auto'><path d='M0 0 L10 5 L0 10 z' fill='{c}'/></marker>"
        for k, c in (("g", GREEN), ("r", RED), ("b", BLUE), ("k", GREY))
    )
    online = s["online_share"]
    out = [
        "<svg viewBox='0 0 1600 900' xmlns='http://www.w3.org/2000/svg' class='pw-diagram' "
        "font-family='Roboto, Helvetica, Arial, sans-serif' style='width:100%;height:auto;display:block'>",
        f"<defs>{defs}</defs>",
        _text(1180, 30, ["OPPORTUNITIES"], size=22, weight=700, fill=GREEN),
        _text(1180, 518, ["RISKS"], size=22, weight=700, fill=RED),
    ]
    # -- boxes --------------------------------------------------------------------------------
    out.append(
        _box(
            10,
            330,
            210,
            240,
            ["People with", "serious mental", "illness"],
            [f"{100 * (1 - online):.0f}% offline"],
            BLUE,
            cls="pw-box-people",
        )
    )
    out.append(
        _box(
            300,
            345,
            230,
            210,
            ["Entry: joining", "a peer community"],
            ["the critical point", f"{100 * online:.0f}% are members"],
            BLUE,
            on=sw["entry"],
            cls="pw-box-entry",
        )
    )
    out.append(
        _box(
            610,
            345,
            230,
            210,
            ["Peer-to-peer", "support"],
            ["stories, coping,", f"belonging {s['belonging_mean']:.2f}"],
            GREEN,
            on=sw["peer_support"],
            cls="pw-box-support",
        )
    )
    out.append(
        _box(
            1030,
            45,
            300,
            120,
            ["Challenging stigma"],
            [f"self-stigma {s['self_stigma_mean']:.3f}"],
            GREEN,
            on=sw["stigma_pathway"],
            cls="pw-box-stigma",
        )
    )
    out.append(
        _box(
            1030,
            190,
            300,
            120,
            ["Activation"],
            [f"mean {s['activation_mean']:.1f} PAM"],
            GREEN,
            on=sw["activation_pathway"],
            cls="pw-box-activation",
        )
    )
    hosted = f"in {intervention_communities} of {communities} communities"
    out.append(
        _box(
            1030,
            335,
            300,
            120,
            ["Online interventions"],
            [
                f"{100 * s['enrolled_share']:.1f}% enrolled, {hosted}"
                if intervention_communities
                else f"none hosted (0 of {communities})"
            ],
            GREEN,
            on=sw["intervention_pathway"],
            cls="pw-box-intervention",
        )
    )
    out.append(
        _box(
            1030,
            530,
            300,
            110,
            ["Misinformation"],
            [f"{100 * s['misinformation_belief_mean']:.1f}% misled now"],
            RED,
            on=sw["misinformation"],
            cls="pw-box-misinformation",
        )
    )
    out.append(
        _box(
            1030,
            655,
            300,
            110,
            ["Hostile comments"],
            ["hostile or derogatory"],
            RED,
            on=sw["hostility"],
            cls="pw-box-hostility",
        )
    )
    out.append(
        _box(
            1030,
            780,
            300,
            110,
            ["Uncertainty"],
            [f"about own health {s['uncertainty_mean']:.2f}"],
            RED,
            on=sw["uncertainty"],
            cls="pw-box-uncertainty",
        )
    )
    out.append(
        _box(
            1420,
            45,
            170,
            220,
            ["Care"],
            [
                f"{_n(w['flow_new_seekers'])} began",
                "seeking care",
                "(last 7 days)",
                f"{100 * s['care_seeking_share']:.0f}% seeking",
                "or in care",
            ],
            BLUE,
            cls="pw-box-care",
        )
    )
    out.append(
        _box(
            1420,
            300,
            170,
            590,
            ["Offline", "outcomes"],
            [
                "recovery",
                f"{s['recovery_mean']:.3f}",
                "employed",
                f"{100 * s['employed_share']:.1f}%",
                "mental",
                "wellbeing",
                f"{s['wellbeing_mental_mean']:.3f}",
                "physical",
                "wellbeing",
                f"{s['wellbeing_physical_mean']:.3f}",
            ],
            BLUE,
            on=sw["offline_translation"],
            cls="pw-box-outcomes",
        )
    )
    # -- entry and exchange ---------------------------------------------------------------------
    out.append(
        _arrow(
            [(220, 420), (290, 420)],
            w["flow_joins"],
            p["flow_joins"],
            BLUE,
            on=sw["entry"],
            cls="pw-arrow-joins",
        )
    )
    out.append(_pill(258, 300, [f"{_n(w['flow_joins'])} joined"], BLUE if sw["entry"] else GREY))
    out.append(
        _arrow(
            [(300, 500), (230, 500)],
            w["flow_leaves"],
            p["flow_leaves"],
            GREY,
            cls="pw-arrow-leaves",
        )
    )
    out.append(_pill(258, 605, [f"{_n(w['flow_leaves'])} left"], GREY))
    out.append(
        _arrow(
            [(530, 450), (600, 450)],
            w["flow_posts"],
            p["flow_posts"],
            GREEN,
            on=sw["peer_support"],
            cls="pw-arrow-posts",
        )
    )
    out.append(
        _pill(570, 300, [f"{_n(w['flow_posts'])} posts"], GREEN if sw["peer_support"] else GREY)
    )
    # -- support fans out to the pathways and the risks -----------------------------------------
    fan = [
        ("flow_support", 105, GREEN, "stigma_pathway", [f"support {_n(w['flow_support'])}"]),
        (
            "flow_accurate_info",
            250,
            GREEN,
            "activation_pathway",
            ["health info", f"{_n(w['flow_accurate_info'])} posts"],
        ),
        (
            "flow_enrolments",
            395,
            GREEN,
            "intervention_pathway",
            [f"{_n(w['flow_enrolments'])} enrolled"],
        ),
        (
            "flow_misinfo_exposure",
            585,
            RED,
            "misinformation",
            [f"{_n(w['flow_misinfo_adopted'])} misled", f"{_n(w['flow_corrected'])} corrected"],
        ),
        ("flow_hostile", 710, RED, "hostility", [f"{_n(w['flow_hostile'])} hostile", "comments"]),
        (None, 835, RED, "uncertainty", None),
    ]
    for i, (key, ty, color, mech, label) in enumerate(fan):
        y0 = 365 + i * 34
        on = sw[mech]
        value, peak = (w[key], p[key]) if key else (0.0, 0.0)
        out.append(
            _arrow([(840, y0), (1022, ty)], value, peak, color, on=on, cls=f"pw-arrow-{mech}")
        )
        if label:
            t = {"misinformation": 0.42, "hostility": 0.64}.get(mech, 0.5)
            lx = 840 + t * 182
            ly = y0 + t * (ty - y0)
            out.append(_pill(lx, ly, label, color if on else GREY))
    # -- hostility pushes stigma up (the risk acting on a pathway) ------------------------------
    on_h = sw["hostility"]
    out.append(
        _arrow(
            [(1330, 690), (1375, 690), (1375, 120), (1338, 120)],
            w["flow_hostile"],
            p["flow_hostile"],
            RED,
            on=on_h,
            dashed=True,
            cls="pw-arrow-hostility-stigma",
        )
    )
    out.append(
        "<g transform='translate(1398 405) rotate(-90)'>"
        + _text(
            0,
            0,
            ["hostility pushes self-stigma up"],
            size=21,
            weight=700,
            fill=RED if on_h else GREY,
        )
        + "</g>"
    )
    # -- pathways to care and the offline world ------------------------------------------------
    out.append(
        _arrow(
            [(1330, 240), (1412, 160)],
            w["flow_new_seekers"],
            p["flow_new_seekers"],
            GREEN,
            on=sw["activation_pathway"],
            cls="pw-arrow-seekers",
        )
    )
    out.append(_arrow([(1505, 265), (1505, 292)], 0, 0, BLUE, cls="pw-arrow-care"))
    off = sw["offline_translation"]
    out.append(
        _arrow(
            [(1330, 395), (1412, 420)],
            0,
            0,
            GREEN,
            on=off and sw["intervention_pathway"],
            cls="pw-arrow-out-intervention",
        )
    )
    out.append(
        _arrow(
            [(1330, 835), (1412, 835)],
            0,
            0,
            RED,
            on=off and sw["uncertainty"],
            dashed=True,
            cls="pw-arrow-out-risks",
        )
    )
    out.append(
        _text(
            10,
            890,
            [f"Arrows carry the last 7 days (to day {f.day}); thicker = more."],
            size=21,
            anchor="start",
            fill="#475569",
        )
    )
    out.append("</svg>")
    return "".join(out)


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


@solara.component
def Diagram(live: LiveModel, version: solara.Reactive[int]):
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
    Expander(
        "The flows as numbers", lambda: solara.HTML(tag="div", unsafe_innerHTML=flows_table_html(f))
    )


def _make_live(search: str):
    scenario, overrides, problems = parse_query(search)
    live, more = build_live(scenario, overrides)
    return live, problems + more


@solara.component
def ClassroomPage():
    router = solara.use_router()
    session = use_session()
    live, first_problems = session.get("classroom", lambda: _make_live(router.search or ""))
    base = session.get("classroom-base", live.settings_copy)
    version = solara.use_reactive(0)
    playing = solara.use_reactive(False)
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
    with solara.Column(classes=["pw-page", "pw-classroom"]):
        with solara.Row(style={"align-items": "center", "gap": "28px", "flex-wrap": "wrap"}):
            solara.HTML(
                tag="h2",
                unsafe_innerHTML="The conceptual model, live <span class='pw-sub'>"
                "(Naslund et al. 2016: peer support online, its opportunities and risks)</span>",
                classes=["pw-title"],
            )
            DayCounter(live, version)
        with solara.Row(style={"align-items": "center", "gap": "16px", "flex-wrap": "wrap"}):
            RunControls(live, version, playing, on_error=on_error)
        with solara.Row(
            classes=["pw-presets"],
            style={"align-items": "center", "gap": "12px", "flex-wrap": "wrap"},
        ):
            solara.HTML(tag="span", unsafe_innerHTML="Presets:", classes=["pw-presets-label"])
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
        with solara.Card(classes=["pw-story"]):
            if preset is not None:
                changed = ", ".join(f"{k} = {v}" for k, v in preset.changes.items())
                solara.HTML(
                    tag="p",
                    unsafe_innerHTML=f"<b>{html.escape(preset.title)}.</b> "
                    f"{html.escape(preset.text)}",
                    classes=["pw-story-text"],
                )
                solara.HTML(
                    tag="p",
                    unsafe_innerHTML=f"From day {_applied_day(live)}: "
                    f"{html.escape(changed or 'every preset setting back to the baseline')}.",
                    classes=["pw-caption"],
                )
            else:
                solara.HTML(
                    tag="p",
                    unsafe_innerHTML="Press <b>Play</b>, let the model run a few weeks, then pick "
                    "a preset: it changes the model from that day on. Each arrow shows what "
                    "moved along it over the last seven days; green arrows are opportunities, "
                    "red ones risks.",
                    classes=["pw-story-text"],
                )
        Diagram(live, version)


def _applied_day(live: LiveModel) -> int:
    return live.changes[-1].day if live.changes else 0
