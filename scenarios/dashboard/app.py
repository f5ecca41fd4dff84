"""The Solara app: three routes (Explore, Compare, Classroom) in one layout.

Serve it with ``peerwell dashboard`` (loopback, offline assets). The layout creates one
:class:`~.session.Session` per browser tab, so every tab has its own models.
"""

from __future__ import annotations

import solara

from peerwell.scenarios.dashboard.classroom import ClassroomPage
from peerwell.scenarios.dashboard.compare_page import ComparePage
from peerwell.scenarios.dashboard.explore import ExplorePage
from peerwell.scenarios.dashboard.session import Session, session_context

# Large, high-contrast text for projectors; Vuetify 2's defaults are sized for laptops.
CSS = """
html, body, .v-application { font-size: 18px; }
.v-application { font-family: Roboto, Helvetica, Arial, sans-serif; color: #0f172a; }
.v-btn { font-size: 17px !important; letter-spacing: 0.02em; text-transform: none !important; }
.v-label, .v-input input, .v-select__selection, .v-input__slot { font-size: 17px !important; }
.v-messages__message { font-size: 14px; line-height: 1.3; }
.v-slider__thumb-label { font-size: 14px; }
.solara-content-main, .pw-body { padding: 12px 22px !important; }
.pw-topbar { background: #0f3d5e; color: #ffffff; padding: 8px 22px; align-items: center; gap: 10px; }
.pw-brand { font-size: 24px; margin-right: 28px; }
.pw-brand small { font-size: 16px; opacity: 0.85; margin-left: 8px; }
.pw-nav.v-btn { color: #ffffff !important; font-size: 20px !important; font-weight: 600; }
.pw-nav-active.v-btn { background: rgba(255, 255, 255, 0.22) !important; }
.pw-daycounter { font-size: 24px; }
.pw-day { font-size: 30px; }
.pw-kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 6px 0 10px 0; }
.pw-kpi { background: #f1f5f9; border-radius: 10px; padding: 8px 16px; min-width: 150px; }
.pw-kpi-label { font-size: 15px; color: #475569; }
.pw-kpi-value { font-size: 28px; font-weight: 700; }
.pw-kpi-unit { font-size: 13px; color: #64748b; }
.pw-legend { font-size: 16px; margin-top: 6px; display: flex; align-items: center; flex-wrap: wrap; gap: 6px; }
.pw-swatch { display: inline-block; width: 16px; height: 16px; border-radius: 50%; margin: 0 4px 0 12px;
             vertical-align: middle; }
.pw-hollow { border: 2px solid #64748b; background: #fff; }
.pw-gradient { display: inline-block; width: 160px; height: 14px; margin: 0 8px; vertical-align: middle; }
.pw-caption { font-size: 15px; color: #475569; }
.pw-person { font-size: 17px; }
.pw-message { font-size: 17px; }
.pw-title { font-size: 28px; margin: 0; }
.pw-sub { font-size: 18px; font-weight: 400; color: #475569; }
.pw-presets-label { font-size: 22px; font-weight: 700; }
.pw-preset.v-btn { font-size: 20px !important; height: 48px !important; }
.pw-story { padding: 10px 18px !important; margin: 6px 0 !important; background: #f8fafc !important; }
.pw-story-text { font-size: 22px; line-height: 1.45; margin: 0 0 4px 0; }
.pw-table { border-collapse: collapse; font-size: 17px; margin: 8px 0; }
.pw-table th, .pw-table td { border-bottom: 1px solid #cbd5e1; padding: 6px 12px; text-align: left; }
.pw-table td.pw-num, .pw-table th.pw-num { text-align: right; font-variant-numeric: tabular-nums; }
.pw-diagram-box { width: 100%; }
.pw-diagram { max-height: 82vh; }
.pw-classroom .pw-speed { min-width: 480px !important; }
.pw-expander-button.v-btn { justify-content: flex-start; font-size: 18px !important; font-weight: 600; }
.pw-expander-body { padding-left: 12px; border-left: 3px solid #e2e8f0; }
"""


@solara.component
def Layout(children=None):
    """Top bar with the three pages; one session per browser tab for everything below it."""
    session = solara.use_memo(Session, [])
    session_context.provide(session)
    route_current, routes_all = solara.use_route()
    solara.Style(CSS)
    solara.Title("peerwell dashboard")
    with solara.Column(gap="0px", style={"min-height": "100vh"}):
        with solara.Row(
            classes=["pw-topbar"],
            style={"background": "#0f3d5e", "padding": "8px 22px", "align-items": "center"},
        ):
            solara.HTML(
                tag="div",
                unsafe_innerHTML="<b>peerwell</b><small>online peer support for people with "
                "serious mental illness</small>",
                classes=["pw-brand"],
            )
            for route in routes_all:
                active = route_current is not None and route.path == route_current.path
                with solara.Link("/" if route.path == "/" else f"/{route.path}"):
                    solara.Button(
                        route.label,
                        text=True,
                        classes=["pw-nav", f"pw-nav-{route.label.lower()}"]
                        + (["pw-nav-active"] if active else []),
                    )
        solara.Column(children=children or [], classes=["pw-body"])


routes = [
    solara.Route(path="/", component=ExplorePage, label="Explore", layout=Layout),
    solara.Route(path="compare", component=ComparePage, label="Compare"),
    solara.Route(path="classroom", component=ClassroomPage, label="Classroom"),
]
