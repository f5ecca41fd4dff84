"""Components the Explore and Classroom pages share: run controls, the network, the trajectories.

The pages keep one :class:`~.live.LiveModel` per browser session and a ``version`` reactive that
the play loop and the buttons bump after each change; only the components that read ``version``
re-render, so a step redraws the network colours, the counters and (at most about three times a
second while playing, in a thread of its own) the trajectory figure, never the whole page.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import reacton.ipywidgets as rw
import solara

from peerwell.scenarios.dashboard.live import (
    _LUTS,
    COLOR_BY,
    VIEW_H,
    VIEW_W,
    Categories,
    LiveModel,
    describe_person,
)
from peerwell.scenarios.dashboard.livechart import LiveChart
from peerwell.scenarios.dashboard.session import use_task
from peerwell.simulation.errors import PeerwellError

# While playing, the trajectory figure is redrawn at most this often (seconds).
CHART_PERIOD = 0.3
# The play loop sleeps at least this long between days (seconds), so the page's events get in.
MIN_YIELD = 0.03


def fmt_pct(x: float) -> str:
    return f"{100 * x:.1f}%"


@solara.component
def Message(kind: str, text: str):
    """A message that stays on the page until the next change (bad input, a restart...)."""
    if kind == "error":
        solara.Error(text, classes=["pw-message"])
    elif kind == "warning":
        solara.Warning(text, classes=["pw-message"])
    else:
        solara.Info(text, classes=["pw-message"])


def _kernel_context():
    try:
        # Imported here, inside the try: outside a Solara server it may be missing or fail.
        from solara.server import kernel_context

        return kernel_context.get_current_context()
    except Exception:  # not under a Solara server (e.g. a notebook)
        return None


def _connected(context) -> bool:
    """Whether a browser page still shows this session (a play loop stops when none does)."""
    if context is None:
        return True
    try:
        if context.closed_event.is_set():
            return False
        return any(getattr(st, "value", st) == "connected" for st in context.page_status.values())
    except AttributeError:  # another Solara version: assume connected
        return True


@solara.component
def Expander(summary: str, render: Callable[[], None], classes: list[str] | None = None):
    """A section that builds its contents only while open.

    ``solara.Details`` keeps its (hidden) children in the page, and every re-render of the page
    walks every widget: a hundred parameter controls would slow each step down.
    """
    open_, set_open = solara.use_state(False)
    with solara.Column(gap="0px", classes=["pw-expander", *(classes or [])]):
        solara.Button(
            ("▾ " if open_ else "▸ ") + summary,
            text=True,
            on_click=lambda: set_open(not open_),
            classes=["pw-expander-button"],
        )
        if open_:
            with solara.Column(classes=["pw-expander-body"]):
                render()


@solara.component
def FollowParams(live: LiveModel, version: solara.Reactive[int], seen: solara.Reactive[int]):
    """Set ``seen`` to the live model's parameter revision whenever a step or change moves it.

    It draws nothing. The controls read ``seen``, not ``version``: they are redrawn when the
    running model's parameters change (a timed event fired, a Reset, a change from the page), not
    on every day of play.
    """
    _ = version.value
    revision = live.revision

    def follow():
        seen.set(revision)

    solara.use_effect(follow, [revision])


@solara.component
def DayCounter(live: LiveModel, version: solara.Reactive[int]):
    _ = version.value
    p = live.model.params
    status = "" if live.running else " — finished (Reset, or raise Steps)"
    # What the running model leaves out, read from the model itself (not from any control).
    off = [name for name, on in vars(p.submodels).items() if not on]
    left_out = f" · <span class='pw-submodels-off'>submodels off: {', '.join(off)}</span>"
    solara.HTML(
        tag="div",
        unsafe_innerHTML=f"Day <b class='pw-day'>{live.day}</b> of {p.steps}"
        f" · {p.population.size:,} people{left_out if off else ''}{status}",
        classes=["pw-daycounter"],
    )


@solara.component
def RunControls(
    live: LiveModel,
    version: solara.Reactive[int],
    playing: solara.Reactive[bool],
    on_error: Callable[[str | None], None],
    on_reset: Callable[[], None] | None = None,
):
    """Step, Play/Pause, Reset and a speed slider; the play loop runs in a thread of its own."""
    speed = solara.use_reactive(10)
    alive = solara.use_ref(True)

    def on_unmount():
        def cleanup():
            alive.current = False
            playing.set(False)

        return cleanup

    solara.use_effect(on_unmount, [])

    def bump():
        version.set(version.value + 1)

    def play_loop():
        if not playing.value:
            return
        context = _kernel_context()
        while playing.value and alive.current and task.is_current() and _connected(context):
            t0 = time.perf_counter()
            try:
                stepped = live.step(1)
            except Exception as exc:  # a kernel error must not kill the page
                on_error(f"the model stopped with an error on day {live.day}: {exc}")
                playing.set(False)
                return
            if not stepped:
                playing.set(False)
                bump()
                return
            bump()
            # Always yield a moment, or clicks (Pause!) wait behind a busy loop.
            wait = 1.0 / max(speed.value, 1) - (time.perf_counter() - t0)
            time.sleep(max(wait, MIN_YIELD))
        closed = context is None or context.closed_event.is_set()
        if not closed and not _connected(context):  # the tab went away: pause, do not run on
            with contextlib.suppress(Exception):
                playing.set(False)

    task = use_task(play_loop, dependencies=[playing.value])

    def step_once():
        try:
            live.step(1)
        except PeerwellError as exc:
            on_error(str(exc))
        bump()

    def toggle():
        playing.set(not playing.value)

    def reset():
        playing.set(False)
        try:
            live.reset()
            on_error(None)
        except PeerwellError as exc:
            on_error(str(exc))
        if on_reset:
            on_reset()
        bump()

    _ = version.value
    with solara.Row(
        classes=["pw-runcontrols"], style={"align-items": "center", "flex-wrap": "wrap"}
    ):
        solara.Button(
            "Step",
            on_click=step_once,
            color="primary",
            disabled=playing.value or not live.running,
            classes=["pw-step"],
        )
        solara.Button(
            "Pause" if playing.value else "Play",
            on_click=toggle,
            color="primary",
            disabled=not live.running and not playing.value,
            classes=["pw-play"],
        )
        solara.Button("Reset", on_click=reset, outlined=True, classes=["pw-reset"])
    with solara.Column(style={"min-width": "280px", "flex": "1"}, classes=["pw-speed"]):
        solara.SliderInt(f"Speed: {speed.value} days per second", value=speed, min=1, max=30)


@solara.component_vue("network.vue", vuetify=False)
def _NetworkDrawing(
    width: float,
    height: float,
    xs: list,
    ys: list,
    colors: list,
    online: list,
    radius: float,
    edge_path: str,
    communities: list,
    tooltip: list,
    event_hover: Callable[[int], None] | None = None,
):
    pass


@solara.component
def Legend(color_by: str):
    solara.HTML(tag="div", unsafe_innerHTML=legend_html(color_by), classes=["pw-legend"])


def legend_html(color_by: str) -> str:
    """What the colours of the people stand for: a swatch per category, or the scale's gradient
    between its ends; and how offline people are drawn."""
    colouring = COLOR_BY[color_by]
    if isinstance(colouring, Categories):
        items = "".join(
            f"<span class='pw-swatch' style='background:{c}'></span>{label}"
            for c, label in zip(colouring.colors, colouring.labels)
        )
    else:
        stops = ",".join(_LUTS[colouring.cmap][i] for i in range(0, 256, 32))
        items = (
            f"{colouring.lo:g}<span class='pw-gradient' style='background:linear-gradient(90deg,"
            f"{stops})'></span>{colouring.hi:g} {colouring.meaning}"
        )
    return items + (
        "<span class='pw-swatch pw-hollow'></span>offline (not in a community)"
        " · hover a person to see their state"
    )


@solara.component
def LiveNetwork(live: LiveModel, version: solara.Reactive[int], color_by: str):
    """The people and their ties, coloured by ``color_by``; hovering a person shows their state."""
    _ = version.value
    hovered, set_hovered = solara.use_state(-1)
    layout = live.layout
    colors, online = live.node_colors(color_by)
    tooltip: list[str] = []
    if 0 <= hovered < len(layout.nodes):
        tooltip = describe_person(live.person(hovered))
    n = len(layout.nodes)
    radius = 7.0 if n <= 300 else 5.0 if n <= 700 else 4.0
    _NetworkDrawing(
        width=VIEW_W,
        height=VIEW_H,
        xs=layout.x,
        ys=layout.y,
        colors=colors,
        online=online,
        radius=radius,
        edge_path=layout.edge_path,
        communities=layout.communities,
        tooltip=tooltip,
        event_hover=lambda i: set_hovered(int(i)),
    )
    shown = (
        f"all {layout.n_total:,} people"
        if n == layout.n_total
        else f"a random sample of {n:,} of {layout.n_total:,} people (the model runs all of them)"
    )
    Legend(color_by)
    solara.Text(
        f"Showing {shown} and {layout.edges_drawn:,} of their ties.", classes=["pw-caption"]
    )
    if tooltip:
        with solara.Card(classes=["pw-person"]):
            solara.HTML(
                tag="div",
                unsafe_innerHTML="<br>".join(tooltip),
                classes=["pw-person-text"],
            )


def use_throttled(key, playing: bool, period: float):
    """``key`` as last taken: a new one is taken at once when stopped, at most every ``period``
    seconds while playing.

    What depends on the returned key (a figure, a table) is redrawn at that pace, not on every
    day of play; when play stops, the page's re-render takes the last key, so nothing stays
    behind.
    """
    shown = solara.use_ref(None)  # (key, time taken)
    now = time.monotonic()
    if shown.current is None or (
        key != shown.current[0] and (not playing or now - shown.current[1] >= period)
    ):
        shown.current = (key, now)
    return shown.current[0]


@solara.component
def TrajectoryChart(live: LiveModel, version: solara.Reactive[int], playing: bool):
    """Activation, care-seeking and wellbeing so far, drawn in a thread of its own.

    Stepping never waits for the figure: while playing it is redrawn at most every
    ``CHART_PERIOD`` seconds (by blitting, see ``livechart``); when stopped, after every change.
    """
    _ = version.value
    chart = solara.use_memo(lambda: LiveChart(live.model.params.steps), [id(live.model)])
    key = use_throttled((id(live.model), live.day, len(live.changes)), playing, CHART_PERIOD)

    def draw() -> bytes:
        with live.lock:
            history = {k: list(v) for k, v in live.history.items()}
        return chart.render(history)

    task = use_task(draw, dependencies=[key])
    png = task.value if task.finished else task.latest
    with solara.Column(classes=["pw-chart"]):
        if png:
            rw.Image(value=png, format="png", layout={"width": "100%"})
        else:
            solara.ProgressLinear(True)


@solara.component
def Readouts(live: LiveModel, version: solara.Reactive[int]):
    """Today's activation, care-seeking, wellbeing, self-stigma and online share, in large type."""
    _ = version.value
    s = live.model.summary
    items = [
        ("Activation", f"{s['activation_mean']:.1f}", "PAM 0-100"),
        ("Seeking or in care", fmt_pct(s["care_seeking_share"]), "of people"),
        ("Mental wellbeing", f"{s['wellbeing_mental_mean']:.3f}", "0-1"),
        ("Self-stigma", f"{s['self_stigma_mean']:.3f}", "0-1"),
        ("Online", fmt_pct(s["online_share"]), "in a community"),
    ]
    html = "".join(
        f"<div class='pw-kpi' data-kpi='{label.lower()}'><div class='pw-kpi-label'>{label}</div>"
        f"<div class='pw-kpi-value'>{value}</div><div class='pw-kpi-unit'>{unit}</div></div>"
        for label, value, unit in items
    )
    solara.HTML(tag="div", unsafe_innerHTML=html, classes=["pw-kpis"])
