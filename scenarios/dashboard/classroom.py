"""The Classroom page: the conceptual model of Naslund et al. (2016) drawn as a live diagram.

Boxes are the parts of the model (entry, peer support, the three opportunity pathways, the risks
— hostility, misinformation, trust in online information, uncertainty, privacy and disclosure —
care and the offline outcomes); each arrow carries the flow the model moved along it over the last
seven days (``recorder.FLOWS``), drawn thicker when it carries more. A box whose mechanism is
switched off is drawn grey and dashed. Presets change a few parameters from today on and say, in
two sentences, what to watch.

The Classroom's model always has one community more than the address asks for: a moderated
community, laid out on day 0 but closed (``MODERATED_COMMUNITY``), which the preset "A moderated
community opens" opens on the day the class chooses; a line under the day counter counts the
people in it, so the class sees them move.

The page is made for a projector: it fits one window of 1280×720 to 1920×1080 without scrolling
(the diagram is scaled to the height and width beside the controls, which stay in view), the
diagram's text is at least 16 px at 1280×720, and flow labels sit clear of every arrow.
``?present=1`` or the *Present* button hides the app's top bar. ``tests/test_classroom_layout.py``
checks all of that in a browser.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import solara

from peerwell.analysis.conceptual import Flows, fmt_flow
from peerwell.analysis.conceptual import live_svg as diagram_svg
from peerwell.scenarios.dashboard.communities import community_week
from peerwell.scenarios.dashboard.controls import parse_query
from peerwell.scenarios.dashboard.live import LiveModel, build_live
from peerwell.scenarios.dashboard.session import use_session
from peerwell.scenarios.dashboard.views import DayCounter, Expander, Message, RunControls
from peerwell.simulation.errors import PeerwellError
from peerwell.simulation.params import community_names, get_param
from peerwell.simulation.recorder import FLOWS

WEEK = 7

# The community the preset "A moderated community opens" opens: a HORYZONS-like moderated
# platform (clinician and peer moderators: moderation 0.9, one trained peer supporter, as the
# moderated_community scenario assumes). It is built into the Classroom's model only (not the
# defaults, not Explore), closed: it opens on a day beyond any run (steps are at most 100,000).
MODERATED = "horyzons"
CLOSED_UNTIL = 100_000
MODERATED_COMMUNITY = {
    f"community.{MODERATED}.platform": "moderated_platform",
    f"community.{MODERATED}.moderation": 0.9,
    f"community.{MODERATED}.peer_supporters": 1,
    f"community.{MODERATED}.size": 86,  # the HORYZONS trial arm (Alvarez-Jimenez 2021)
    f"community.{MODERATED}.opens": CLOSED_UNTIL,
}


class _Today:
    """A preset's value that stands for the day the preset is applied (see ``preset_changes``)."""

    def __repr__(self) -> str:
        return "today"


TODAY = _Today()


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
        "moderated_opens",
        "A moderated community opens",
        {f"community.{MODERATED}.opens": TODAY},
        "A moderated community opens today: moderators remove most hostile and misleading posts "
        "there, and a peer supporter posts support. Watch the count under the day: people who "
        "join a community may now pick it, so it fills week by week, and its members meet few "
        "hostile comments.",
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


def preset_changes(preset: Preset, base, day: int = 0) -> dict[str, Any]:
    """The preset's changes on top of ``base``: every other preset's parameters back to ``base``.

    ``TODAY`` becomes ``day``. So the moderated community opens on the day its preset is chosen
    (the engine opens it from the next step), and any other preset sets its opening day back to
    the base's, beyond the run: an open community then closes, and its members leave. A
    community ``base`` does not have (a model built without the Classroom's) has nothing to put
    back; its own preset is then refused by the model, with a message.
    """
    communities = set(community_names(base))
    out = {
        k: get_param(base, k)
        for k in _PRESET_KEYS
        if not k.startswith("community.") or k.split(".")[1] in communities
    }
    out.update({k: day if v is TODAY else v for k, v in preset.changes.items()})
    return out


def changes_text(preset: Preset, day: int) -> str:
    """The preset's changes as the story's caption shows them, ``TODAY`` as the day applied."""
    return ", ".join(f"{k} = {day if v is TODAY else v}" for k, v in preset.changes.items())


# ---------------------------------------------------------------------------------------------
# What the diagram shows (drawn by peerwell.analysis.conceptual.live_svg from the table of the
# conceptual model that the docs' figure is drawn from too)


def flows_now(live: LiveModel) -> Flows:
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
        return Flows(week, peak, s, switches, live.day)


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
    ("flow_corrected", "Misinformation → trust", "misleading beliefs corrected (lowers trust)"),
    ("flow_hostile", "Hostility risk", "hostile or derogatory comments received"),
    ("flow_disclosures", "Privacy risk", "people who disclosed their diagnosis online"),
    ("flow_privacy_harms", "Privacy risk", "people harmed by a disclosure"),
    ("flow_acute_care", "Wellbeing → care", "acute care episodes"),
)


def flows_table_html(f: Flows) -> str:
    rows = "".join(
        f"<tr data-flow='{key}'><td>{box}</td><td>{what}</td>"
        f"<td class='pw-num'>{fmt_flow(f.week[key])}</td></tr>"
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
/* Top right of the panel: the diagram keeps that corner empty (see conceptual.LIVE_BOXES). */
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
.pw-side .pw-moving {{ font-size: 16px; line-height: 1.25; }}
.pw-side .pw-moving b {{ font-size: 20px; }}
/* A full-HD projector has room for larger controls and story text (the diagram scales itself). */
@media (min-width: 1600px) and (min-height: 900px) {{
  .pw-side .pw-daycounter {{ font-size: 22px; }}
  .pw-side .pw-day {{ font-size: 32px; }}
  .pw-side .v-btn, .pw-side .pw-preset.v-btn {{ font-size: 19px !important; }}
  .pw-side .pw-run .v-btn {{ height: 44px !important; }}
  .pw-side .pw-speed .v-label {{ font-size: 18px !important; }}
  .pw-side .pw-story-text {{ font-size: 21px; }}
  .pw-side .pw-caption {{ font-size: 18px; }}
  .pw-side .pw-moving {{ font-size: 19px; }}
  .pw-side .pw-moving b {{ font-size: 24px; }}
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
    live, more = build_live(scenario, overrides, MODERATED_COMMUNITY)
    return live, problems + more


def _people(n: int) -> str:
    return "person" if n == 1 else "people"


def moving_html(live: LiveModel, name: str = MODERATED) -> str:
    """One line on the moderated community: closed, or how many people are in it and how many
    joined over the last seven days (what the class watches after "A moderated community opens").
    """
    week = community_week(live, name)
    if week["open"]:
        text = (
            f"In the moderated community: <b>{week['members']:,}</b> {_people(week['members'])} "
            f"({week['joined']:,} joined this week)"
        )
    else:
        n = week["members"]
        leaving = f"; the {n:,} {_people(n)} in it leave" if n else ""
        text = f"The moderated community is closed{leaving}"
    # The count as data too, for whoever reads the page by machine (the tests).
    return f"<span data-members='{week['members']}' data-open='{int(week['open'])}'>{text}</span>"


@solara.component
def MovingPeople(live: LiveModel, version: solara.Reactive[int]):
    """The line on the moderated community, under the day counter (redrawn every day)."""
    _ = version.value
    try:
        text = moving_html(live)
    except ValueError:  # a model without the community (never built here): say so
        text = "This model has no moderated community."
    solara.HTML(tag="div", unsafe_innerHTML=text, classes=["pw-moving"])


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
        changed = changes_text(preset, _applied_day(live))
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
            live.apply(preset_changes(preset, base, live.day))
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
                MovingPeople(live, version)
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
