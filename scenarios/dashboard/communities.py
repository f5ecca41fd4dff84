"""The Explore page's community panel, and what the Classroom reads about one community.

Every simulated community (``params.community_names``) is one row: its platform, whether it is
open today, its members today and its settings (a community's own, else ``communities.*``: the
rule of ``params.community_setting``). Below the table, members over time per community, read
from ``model.community_table()``. A modeler picks one community and one property a running
model takes (``params.COMMUNITY_MID_RUN``), types a value and applies it: it goes through the
page's own ``on_change`` (``LiveModel.stage``, the path of every other control), so a refused
value gives the page's message and the model runs on as it was.

The panel lives in an Expander (built only while open) and refreshes at the pace of the
trajectory figure (``views.use_throttled``), never on every day of play.
"""

from __future__ import annotations

import dataclasses
import html
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import reacton.ipywidgets as rw
import solara
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from peerwell.scenarios.dashboard.controls import ControlSpec, format_value, parse_value
from peerwell.scenarios.dashboard.live import LiveModel, platform_label
from peerwell.scenarios.dashboard.session import use_task
from peerwell.scenarios.dashboard.views import CHART_PERIOD, use_throttled
from peerwell.scenarios.evidence.paramdoc import ParamRow
from peerwell.simulation.params import (
    COMMUNITY_MID_RUN,
    COMMUNITY_SETTING_KINDS,
    PLATFORMS,
    CommunitySettings,
    community_names,
    community_setting,
)
from peerwell.simulation.population import open_on

WEEK = 7
# The settings the table shows for each community (all of them a running model takes).
TABLE_SETTINGS = ("moderation", "hostility", "misinformation_prevalence", "peer_supporters")
# At most this many rows in the table and lines in the chart: the largest communities today.
# (A run may have thousands of communities; a table that long helps nobody, and each row costs
# a look-up of its settings.)
ROWS_MAX = 40
LINES_MAX = 10
# While playing, the chart is redrawn at most this often (seconds): a full matplotlib draw takes
# a few tenths of a second inside the server, more than the table's refresh period.
MEMBERS_CHART_PERIOD = 1.0
# What "never" may be typed as for a closing day (``closes`` is null when the community stays).
_NEVER = ("", "never", "none", "null")


# ---------------------------------------------------------------------------------------------
# What the panel shows (no Solara)


def community_rows(live: LiveModel, limit: int | None = None) -> pd.DataFrame:
    """One row per community: name, platform, open today, members today and its settings.

    ``open`` is the engine's rule ``opens <= day < closes`` for the day the next step simulates
    (the day the page's counter shows), so a community opened or closed from the page says so at
    once; its members follow on that step. ``members`` is everyone whose community it is now.
    With ``limit``, at most that many rows: the communities with most members (ties: the first),
    in index order as always.
    """
    with live.lock:
        model = live.model
        params = model.params
        names = community_names(params)
        community = model.state.cur["community"]
        members = np.bincount(community[community >= 0], minlength=len(names))
        comm = model.state.comm
        opens = comm["opens"].astype(np.int64)
        is_open = open_on(model.state, model.day)
        platforms = comm["platform"].astype(np.int64)
        order = np.arange(len(names))
        if limit is not None and len(names) > limit:
            order = np.sort(np.argsort(-members, kind="stable")[:limit])
        rows = []
        for k in order:
            name = names[k]
            row = {
                "community": name,
                "platform": PLATFORMS[platforms[k]],
                "open": bool(is_open[k]),
                "opens": int(opens[k]),
                "closes": community_setting(params, name, "closes"),
                "members": int(members[k]),
            }
            row.update({p: community_setting(params, name, p) for p in TABLE_SETTINGS})
            rows.append(row)
    return pd.DataFrame(rows)


def members_over_time(live: LiveModel, communities: list[str]) -> pd.DataFrame:
    """Members of each of ``communities`` on every day so far: one column each, indexed by day."""
    with live.lock:
        table = live.model.community_table()
    table = table[table["community"].isin(communities)]
    wide = table.pivot_table(
        index="step", columns="community", values="members", aggfunc="sum", observed=True
    )
    return wide.reindex(columns=[c for c in communities if c in wide.columns])


def community_week(live: LiveModel, name: str) -> dict[str, Any]:
    """Community ``name`` today: open or not, members, and who joined and left over a week.

    ``open`` and ``members`` as in :func:`community_rows`; ``joined`` and ``left`` sum the last
    seven recorded days (the diagram's week); ``hostile`` is the hostile comments its members
    received in those days.
    """
    with live.lock:
        model = live.model
        k = community_names(model.params).index(name)  # ValueError: no such community
        day = model.day
        is_open = bool(open_on(model.state, day)[k])
        members = int((model.state.cur["community"] == k).sum())
        table = model.community_table()
    mine = table[(table["community"] == name) & (table["step"] > day - WEEK)]
    return {
        "open": is_open,
        "members": members,
        "joined": int(mine["joined"].sum()),
        "left": int(mine["left"].sum()),
        "hostile": int(mine["hostile"].sum()),
    }


def _open_text(row, day: int) -> str:
    """Open or not on ``day``; a closed community that still has members loses them that day."""
    if row["open"]:
        return "open"
    text = f"opens day {row['opens']:,}" if row["opens"] > day else "closed"
    return text + (" (its members leave)" if row["members"] else "")


def rows_html(rows: pd.DataFrame, day: int) -> str:
    """The table of ``community_rows`` as HTML, one ``<tr data-community=NAME>`` per community."""
    head = "".join(
        f"<th class='{'pw-num' if num else ''}'>{title}</th>"
        for title, num in (
            ("Community", False),
            ("Platform", False),
            (f"Open on day {day}", False),
            ("Members", True),
            ("Moderation", True),
            ("Hostile comments per post", True),
            ("Misinformation", True),
            ("Peer supporters", True),
        )
    )
    body = []
    for _, r in rows.iterrows():
        cells = [
            ("community", html.escape(r["community"]), False),
            ("platform", html.escape(platform_label(r["platform"])), False),
            ("open", _open_text(r, day), False),
            ("members", f"{r['members']:,}", True),
        ] + [(p, format_value(p, r[p]), True) for p in TABLE_SETTINGS]
        tds = "".join(
            f"<td data-col='{col}'{' class=pw-num' if num else ''}>{text}</td>"
            for col, text, num in cells
        )
        body.append(f"<tr data-community='{html.escape(r['community'])}'>{tds}</tr>")
    return (
        "<table class='pw-table pw-communities'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def members_png(wide: pd.DataFrame) -> bytes:
    """Members over time, one line per community, as PNG bytes (a figure of its own: no pyplot,
    whose global state threads would share)."""
    fig = Figure(figsize=(7.0, 2.8), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for name in wide.columns:
        ax.plot(wide.index, wide[name], lw=2, marker="o", ms=4, markevery=[-1], label=str(name))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # days, not fractions of one
    ax.set_xlabel("day", fontsize=12)
    ax.set_ylabel("members", fontsize=12)
    ax.tick_params(labelsize=11)
    ax.grid(alpha=0.3)
    if len(wide.columns):
        ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.subplots_adjust(left=0.1, right=0.72, top=0.95, bottom=0.18)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Changing one community

_SETTING_FIELDS = {f.name: f for f in dataclasses.fields(CommunitySettings)}


def setting_spec(prop: str) -> ControlSpec:
    """How a typed value of community property ``prop`` is checked: its kind and range come from
    ``CommunitySettings``' metadata, as every other control's come from its field's."""
    meta = _SETTING_FIELDS[prop].metadata
    kind = "integer" if isinstance(COMMUNITY_SETTING_KINDS[prop], int) else "number"
    # Basis and source as the ODD's table of named-community settings gives them.
    row = ParamRow(f"community.<name>.{prop}", "community", None, dict(meta))
    return ControlSpec(
        name=f"community.<name>.{prop}",
        label=prop.replace("_", " ").capitalize(),
        kind=kind,
        default=COMMUNITY_SETTING_KINDS[prop],
        lo=meta.get("lo"),
        hi=meta.get("hi"),
        step=1.0,
        unit=meta.get("unit", ""),
        help=meta.get("help", ""),
        basis=row.basis,
        source=row.source,
    )


def parse_setting(prop: str, raw: str) -> Any:
    """A typed value of community property ``prop``; ``closes`` also takes "never" (null).

    Raises
    ------
    ValueError
        With a sentence for the page: what was wrong and what is allowed.
    """
    if prop == "closes" and str(raw).strip().lower() in _NEVER:
        return None
    return parse_value(setting_spec(prop), raw)


def setting_text(live: LiveModel, name: str, prop: str) -> str:
    """What the value field shows for community ``name``'s ``prop`` before anything is typed."""
    with live.lock:
        value = community_setting(live.model.params, name, prop)
    return "never" if value is None else format_value(prop, value)


# ---------------------------------------------------------------------------------------------
# The panel


@solara.component
def CommunityEditor(live: LiveModel, names: list[str], on_change: Callable[[str, Any], str | None]):
    """Pick a community and a property a running model takes, type a value, apply it."""
    chosen = solara.use_reactive(names[0])
    prop = solara.use_reactive(COMMUNITY_MID_RUN[0])
    text = solara.use_reactive("")
    error = solara.use_reactive(None)

    def show_current():
        text.set(setting_text(live, chosen.value, prop.value))
        error.set(None)

    solara.use_effect(show_current, [chosen.value, prop.value, id(live.model)])

    def apply():
        try:
            value = parse_setting(prop.value, text.value)
        except ValueError as exc:
            error.set(str(exc))
            return
        # The page's own path: LiveModel.stage, its lock and its message.
        error.set(on_change(f"community.{chosen.value}.{prop.value}", value))

    spec = setting_spec(prop.value)
    with solara.Row(style={"align-items": "baseline", "flex-wrap": "wrap", "gap": "12px"}):
        solara.Select("Community", values=names, value=chosen, classes=["pw-community-pick"])
        solara.Select(
            "Property", values=list(COMMUNITY_MID_RUN), value=prop, classes=["pw-community-prop"]
        )
        solara.InputText(
            "Value" + (f" ({spec.unit})" if spec.unit else ""),
            value=text,
            continuous_update=True,
            classes=["pw-community-value"],
        )
        solara.Button(
            "Apply to this community",
            on_click=apply,
            color="primary",
            classes=["pw-community-apply"],
        )
    solara.Text(spec.help, classes=["pw-caption"])
    solara.Text(spec.provenance, classes=["pw-caption", "pw-provenance"])
    if error.value:
        solara.Error(error.value, dense=True, classes=["pw-community-error"])


@solara.component
def MembersChart(live: LiveModel, communities: list[str], key):
    """Members over time of ``communities``, drawn in a thread of its own for each new ``key``."""

    def draw() -> bytes:
        return members_png(members_over_time(live, communities))

    task = use_task(draw, dependencies=[key, tuple(communities)])
    png = task.value if task.finished else task.latest
    with solara.Column(classes=["pw-members-chart"]):
        if png:
            rw.Image(value=png, format="png", layout={"width": "100%", "max_width": "760px"})
        else:
            solara.ProgressLinear(True)


@solara.component
def CommunityPanel(
    live: LiveModel,
    version: solara.Reactive[int],
    playing: bool,
    on_change: Callable[[str, Any], str | None],
):
    """Every community as a row, members over time, and a way to change one community."""
    _ = version.value
    state = (id(live.model), live.day, len(live.changes), live.revision)
    table_key = use_throttled(state, playing, CHART_PERIOD)
    chart_key = use_throttled(state, playing, MEMBERS_CHART_PERIOD)
    rows = solara.use_memo(lambda: community_rows(live, limit=ROWS_MAX), [table_key])
    with live.lock:
        names = community_names(live.model.params)
        day = live.day
    with solara.Column(gap="6px", classes=["pw-community-panel"]):
        shown = "" if len(names) <= ROWS_MAX else f" (the {ROWS_MAX} largest of {len(names):,})"
        solara.Text(
            f"Each community today{shown}. Moderation and hostility are as set; the platform "
            "adjusts them (a moderated platform keeps moderation at 0.8 or more, and each "
            "platform scales hostility).",
            classes=["pw-caption"],
        )
        solara.HTML(tag="div", unsafe_innerHTML=rows_html(rows, day), classes=["pw-table-box"])
        # Drawn anew for another set of communities (another scenario): its choice would be stale.
        CommunityEditor(live, names, on_change).key(f"editor-{hash(tuple(names))}")
        # The largest communities, in index order: each keeps its colour as sizes change.
        largest = set(rows.nlargest(LINES_MAX, "members")["community"])
        MembersChart(live, [n for n in names if n in largest], chart_key)
