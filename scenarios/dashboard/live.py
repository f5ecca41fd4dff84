"""One browser session's live model and everything the pages draw from it (no Solara here).

A :class:`LiveModel` owns a ``PeerwellModel``, the settings it was built from, the day-by-day
history of its aggregates, and the network layout (computed once per model, never per frame).
Changes from the page go through :meth:`LiveModel.stage`: a parameter a running model can take
(simulation/params.py's rule, the one timed scenario events obey) is set at once; any other one
waits in :attr:`LiveModel.pending` until :meth:`LiveModel.restart_pending`. The page's controls
show the running model's parameters (``model.params``, which timed events change), so
:attr:`LiveModel.revision` counts every change of them, for the page to redraw its controls.
A lock serialises stepping (the play thread) and changes (the page), so neither sees half a day.
The page modules (controls, views and the pages) import this one, never the other way round.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

from peerwell.scenarios.dashboard.limits import MB, check_memory, estimate, release_memory
from peerwell.scenarios.dashboard.livechart import LiveChart
from peerwell.scenarios.hydra_guard import HYDRA_LOCK
from peerwell.simulation.errors import PeerwellError
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import (
    CARE_STATES,
    PLATFORMS,
    ModelParams,
    changes_mid_run,
    get_param,
    with_overrides,
)

# Draw at most this many people; a larger population is shown as a random sample of this size.
DRAW_MAX = 1000
# At most this many ties are drawn between the people shown.
EDGE_MAX = 4000
# The drawing's coordinate box (SVG viewBox units).
VIEW_W, VIEW_H = 1000.0, 720.0
# After a build this large, hand the memory its temporaries took back to the system (most of a
# networkx build's peak would otherwise stay in the process, see limits.release_memory).
RELEASE_AFTER = 64 * MB

# What the people can be coloured by. A scale runs one state array from ``lo`` to ``hi`` through a
# colormap; categories give each person one of a few colours, from one or more state arrays.


@dataclass(frozen=True)
class Scale:
    """Colour by a continuous state: ``key`` from ``lo`` to ``hi`` through colormap ``cmap``."""

    key: str
    lo: float
    hi: float
    cmap: str
    meaning: str  # what the legend says the colours stand for


@dataclass(frozen=True)
class Categories:
    """Colour by a state with a few values: ``of(state arrays, people)`` is each person's index
    into ``colors`` and ``labels`` (the legend)."""

    of: Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray]
    colors: tuple[str, ...]
    labels: tuple[str, ...]


CARE_COLORS = ("#9e9e9e", "#f59e0b", "#16a34a", "#dc2626")
CARE_LABELS = ("not seeking care", "seeking care", "in care", "disengaged")
DISCLOSURE_COLORS = ("#9e9e9e", "#7c3aed", "#dc2626")
DISCLOSURE_LABELS = ("not disclosed", "disclosed their diagnosis online", "harmed by a disclosure")


def disclosure_category(cur: dict[str, np.ndarray], people: np.ndarray) -> np.ndarray:
    """0 not disclosed, 1 disclosed, 2 harmed by a disclosure (harm outranks the disclosure it
    follows from), for the ``people`` given."""
    disclosed = cur["disclosed"][people].astype(np.int64)
    return np.where(cur["privacy_harm"][people] == 1, 2, disclosed)


COLOR_BY: dict[str, Scale | Categories] = {
    "activation": Scale("activation", 0.0, 100.0, "viridis", "activation (PAM)"),
    "self-stigma": Scale("stigma", 0.0, 1.0, "magma_r", "self-stigma"),
    "mental wellbeing": Scale("wellbeing_mental", 0.0, 1.0, "RdYlGn", "mental wellbeing"),
    "trust": Scale("trust", 0.0, 1.0, "cividis", "trust in online health information"),
    "care status": Categories(lambda cur, people: cur["care"][people], CARE_COLORS, CARE_LABELS),
    "disclosure": Categories(disclosure_category, DISCLOSURE_COLORS, DISCLOSURE_LABELS),
}
_LUTS = {
    name: [to_hex(colormaps[name](i / 255)) for i in range(256)]
    for name in {c.cmap for c in COLOR_BY.values() if isinstance(c, Scale)}
}


def platform_label(kind: str) -> str:
    """A platform as people name it ("Facebook group"), for labels on the page."""
    return {
        "facebook_group": "Facebook group",
        "youtube": "YouTube",
        "twitter": "Twitter/X",
        "forum": "forum",
        "moderated_platform": "moderated platform",
    }.get(kind, kind)


# ---------------------------------------------------------------------------------------------
# Scenarios (the catalogue is scenarios/catalogue.py)


# Hydra's compose API works on one process-wide GlobalHydra: sessions take turns using it, under
# the process's one lock around it (hydra_guard.HYDRA_LOCK, re-exported for the pages). The
# catalogue is imported on first use, to keep startup fast: a LiveModel built from ModelParams
# (tests, benchmarks) never needs it.
_LIST_TTL = 30.0
_list_cache: dict[str, Any] = {"at": -1e9, "value": []}


def scenario_list() -> list[tuple[str, str]]:
    """``[(name, description)]`` of the scenario catalogue (re-read at most every 30 s)."""
    from peerwell.scenarios.catalogue import list_scenarios

    with HYDRA_LOCK:
        if time.monotonic() - _list_cache["at"] > _LIST_TTL:
            _list_cache["value"] = list(list_scenarios())
            _list_cache["at"] = time.monotonic()
        return list(_list_cache["value"])


def scenario_params(name: str, overrides: dict[str, Any]) -> ModelParams:
    """The scenario's parameters with ``overrides``; ``PeerwellError`` for an unknown name."""
    from peerwell.scenarios.catalogue import load_scenario

    with HYDRA_LOCK:
        return load_scenario(name, dict(overrides))


# ---------------------------------------------------------------------------------------------
# Network layout: computed once per model


@dataclass
class NetworkLayout:
    """Where each drawn person sits, the ties between them, and where each community is."""

    nodes: np.ndarray  # indices of the people drawn
    x: list[float]
    y: list[float]
    edge_path: str  # one SVG path with every drawn tie
    communities: list[dict]  # {"x", "y", "r", "label"}
    n_total: int
    edges_drawn: int
    seconds: float


def _sunflower(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points evenly filling a unit-density disc, the first ones at the centre."""
    i = np.arange(n) + 0.5
    r = np.sqrt(i)
    theta = i * math.pi * (3 - math.sqrt(5))
    return r * np.cos(theta), r * np.sin(theta)


def compute_layout(model: PeerwellModel, draw_max: int = DRAW_MAX) -> NetworkLayout:
    """Communities as clusters (hubs at each centre), people placed once; a sample if large."""
    t0 = time.perf_counter()
    n = model.params.population.size
    rng = np.random.default_rng(model.params.seed)
    nodes = np.arange(n) if n <= draw_max else np.sort(rng.choice(n, draw_max, replace=False))
    home = model.state.static["home"][nodes]
    degree = model.graph.degree()[nodes]
    n_comm = int(model.state.n_communities)
    x = np.zeros(len(nodes))
    y = np.zeros(len(nodes))
    sizes = np.bincount(home, minlength=n_comm)
    radii = np.sqrt(np.maximum(sizes, 1))
    # community centres: a ring for a few communities, a sunflower for many
    if n_comm == 1:
        cx, cy = np.zeros(1), np.zeros(1)
    elif n_comm <= 12:
        ring = max(radii.sum() * 2.8 / (2 * math.pi), radii.max() * 1.8)
        ang = np.linspace(0, 2 * math.pi, n_comm, endpoint=False) - math.pi / 2
        cx, cy = ring * np.cos(ang), ring * np.sin(ang)
    else:
        sx, sy = _sunflower(n_comm)
        cx, cy = sx * radii.max() * 2.2, sy * radii.max() * 2.2
    for k in range(n_comm):
        members = np.flatnonzero(home == k)
        if not len(members):
            continue
        members = members[np.argsort(-degree[members], kind="stable")]
        dx, dy = _sunflower(len(members))
        x[members] = cx[k] + dx
        y[members] = cy[k] + dy
    # fit into the view box
    pad = 40.0
    lox, hix = float((cx - radii).min()), float((cx + radii).max())
    loy, hiy = float((cy - radii).min()), float((cy + radii).max())
    scale = min(
        (VIEW_W - 2 * pad) / max(hix - lox, 1e-9), (VIEW_H - 2 * pad) / max(hiy - loy, 1e-9)
    )
    offx = pad + ((VIEW_W - 2 * pad) - (hix - lox) * scale) / 2
    offy = pad + ((VIEW_H - 2 * pad) - (hiy - loy) * scale) / 2
    px = np.round(offx + (x - lox) * scale, 1)
    py = np.round(offy + (y - loy) * scale, 1)
    # ties between drawn people: only the drawn people's rows are read (rows in increasing order,
    # as a scan of every tie would meet them), so the memory this takes grows with the ties of
    # the people drawn, not with every tie of the network.
    local = np.full(n, -1, dtype=np.int32)
    local[nodes] = np.arange(len(nodes))
    indptr, indices = model.graph.indptr, model.graph.indices
    starts, lengths = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    dst = indices[offsets + np.arange(int(lengths.sum()))]
    src = np.repeat(nodes, lengths)
    keep = (src < dst) & (local[dst] >= 0)
    a, b = local[src[keep]].astype(np.int64), local[dst[keep]].astype(np.int64)
    if len(a) > EDGE_MAX:
        pick = np.sort(rng.choice(len(a), EDGE_MAX, replace=False))
        a, b = a[pick], b[pick]
    edge_path = "".join(f"M{px[i]:g} {py[i]:g}L{px[j]:g} {py[j]:g}" for i, j in zip(a, b))
    # Each community's own platform (an added one sets its own; communities.platforms in turn
    # only covers the generic ones).
    platforms = model.state.comm["platform"]
    comms = []
    for k in range(n_comm):
        if sizes[k] == 0 or n_comm > 24:
            continue
        kind = PLATFORMS[int(platforms[k])]
        comms.append(
            {
                "x": round(float(offx + (cx[k] - lox) * scale), 1),
                "y": round(float(offy + (cy[k] - loy) * scale), 1),
                "r": round(float(radii[k] * scale + 6), 1),
                "label": f"community {k + 1}: {platform_label(kind)}",
            }
        )
    return NetworkLayout(
        nodes=nodes,
        x=px.tolist(),
        y=py.tolist(),
        edge_path=edge_path,
        communities=comms,
        n_total=n,
        edges_drawn=len(a),
        seconds=time.perf_counter() - t0,
    )


# ---------------------------------------------------------------------------------------------
# The live model


@dataclass
class Change:
    """A change made from the page: on which day, what, and whether the model restarted."""

    day: int
    name: str
    value: Any
    restarted: bool


# History columns the pages draw (trajectories and the classroom's weekly flows).
HISTORY_KEYS = (
    "activation_mean",
    "activation_sd",
    "care_seeking_share",
    "in_care_share",
    "wellbeing_mental_mean",
    "wellbeing_mental_sd",
    "wellbeing_physical_mean",
    "self_stigma_mean",
    "belonging_mean",
    "empowerment_mean",
    "uncertainty_mean",
    "misinformation_belief_mean",
    "online_share",
    "recovery_mean",
    "employed_share",
    "enrolled_share",
)


@dataclass
class LiveModel:
    """A model that one browser session steps, changes and draws."""

    settings: ModelParams
    draw_max: int = DRAW_MAX
    model: PeerwellModel = field(init=False)
    layout: NetworkLayout = field(init=False)
    history: dict[str, list[float]] = field(init=False)
    changes: list[Change] = field(init=False, default_factory=list)
    lock: threading.RLock = field(init=False, default_factory=threading.RLock)
    last_step_seconds: float = field(init=False, default=0.0)
    # Changes that wait for a restart (parameters a running model cannot take): name -> value.
    pending: dict[str, Any] = field(init=False, default_factory=dict)
    # Counts changes of the running model's parameters or of ``pending``: a new model, a change
    # from the page, a timed event that fired.
    revision: int = field(init=False, default=0)

    def __post_init__(self):
        self._build(with_overrides(self.settings, {"record_every": 1}))

    # -- building ------------------------------------------------------------------------------
    def _build(self, settings: ModelParams) -> None:
        """Build a model with ``settings`` and make them current; on an error nothing changes.

        Raises
        ------
        MemoryBudgetError
            The model would take more memory than the dashboard allows a session (checked
            before anything is built).
        """
        need = check_memory(settings)
        model = PeerwellModel(settings, agent_views=False)
        layout = compute_layout(model, self.draw_max)
        with self.lock:
            old = getattr(self, "model", None)
            self.settings = settings
            self.model = model
            self.layout = layout
            self.history = {"day": [0]}
            self._record()
            self.revision += 1
        big = need.bytes >= RELEASE_AFTER
        if old is not None:
            big = big or estimate(old.params).bytes >= RELEASE_AFTER
            del old  # the replaced model goes now, so its memory is handed back too
        if big:
            release_memory()

    def _record(self) -> None:
        s = self.model.summary
        if self.history["day"][-1] != self.model.day:
            self.history["day"].append(self.model.day)
        for key, value in s.items():
            if key in HISTORY_KEYS or key.startswith("flow_"):
                col = self.history.setdefault(key, [])
                col.append(value)

    def reset(self) -> None:
        """Start again from day 0 with the settings the model runs (what is pending still waits)."""
        self._build(self.settings)
        self.changes = [c for c in self.changes if c.restarted]

    def replace(self, settings: ModelParams) -> None:
        """Start again from day 0 with new settings (e.g. another scenario)."""
        self._build(with_overrides(settings, {"record_every": 1}))
        self.changes = []
        self.pending = {}

    # -- changing ------------------------------------------------------------------------------
    def apply(self, changes: dict[str, Any]) -> bool:
        """Apply parameter changes; return True when the model had to restart.

        Raises
        ------
        PeerwellError
            A value is out of range or contradicts another, or the model it would restart with
            needs more memory than a session may take (the settings stay as they were).
        """
        new = with_overrides(self.settings, changes)
        restart = not all(changes_mid_run(k) for k in changes)
        if restart:
            self._build(new)
        else:
            with self.lock:
                # The model first: if it refuses, the settings a Reset would use stay as they were
                self.model.set_params(changes)
                self.settings = new
                self.model.running = self.model.day < self.model.params.steps
                self.revision += 1
        day = self.model.day
        self.changes += [Change(day, k, v, restart) for k, v in changes.items()]
        return restart

    def stage(self, name: str, value: Any) -> bool:
        """Set one parameter from the page; return True when it waits for a restart.

        A parameter a running model can take is set at once (:meth:`apply`). Any other one is
        checked with what else is pending and kept in :attr:`pending`, and the model runs on as
        it was: a restart from day 0 is never a side effect of moving a control.

        Raises
        ------
        PeerwellError
            The value is out of range or contradicts another (nothing changes).
        """
        if changes_mid_run(name):
            self.apply({name: value})
            return False
        wanted = {**self.pending, name: value}
        with_overrides(self.settings, wanted)  # refuse a contradiction now, not at the restart
        with self.lock:
            if value == get_param(self.settings, name) and type(value) is type(
                get_param(self.settings, name)
            ):
                self.pending.pop(name, None)  # set back to what runs: nothing waits
            else:
                self.pending[name] = value
            self.revision += 1
        return True

    def restart_pending(self) -> dict[str, Any]:
        """Start again from day 0 with what is pending; return what was applied.

        Raises
        ------
        PeerwellError
            The new settings are refused (e.g. too large for a session): nothing changes, and
            the changes stay pending.
        """
        applied = dict(self.pending)
        self._build(with_overrides(self.settings, applied))
        self.pending = {}
        self.changes += [Change(0, k, v, True) for k, v in applied.items()]
        return applied

    def discard_pending(self) -> None:
        """Forget the changes that wait for a restart."""
        with self.lock:
            self.pending = {}
            self.revision += 1

    # -- stepping ------------------------------------------------------------------------------
    def step(self, n: int = 1) -> int:
        """Advance up to ``n`` days (fewer if the run ends); return how many were stepped."""
        done = 0
        with self.lock:
            t0 = time.perf_counter()
            fired = len(self.model.events_fired)
            while done < n and self.model.running:
                self.model.step()
                self._record()
                done += 1
            if len(self.model.events_fired) != fired:  # a timed event changed a parameter
                self.revision += 1
            if done:
                self.last_step_seconds = (time.perf_counter() - t0) / done
        return done

    @property
    def day(self) -> int:
        return self.model.day

    @property
    def running(self) -> bool:
        return self.model.running

    # -- reading -------------------------------------------------------------------------------
    def node_colors(self, color_by: str) -> tuple[list[str], list[int]]:
        """Colour of each drawn person by ``color_by``, and 1/0 for online/offline."""
        colouring = COLOR_BY[color_by]
        nodes = self.layout.nodes
        with self.lock:
            cur = self.model.state.cur
            if isinstance(colouring, Categories):
                values = colouring.of(cur, nodes)
            else:
                values = cur[colouring.key][nodes]
            online = (cur["community"][nodes] >= 0).astype(int)
        if isinstance(colouring, Categories):
            colors = [colouring.colors[int(v)] for v in values]
        else:
            lut = _LUTS[colouring.cmap]
            span = colouring.hi - colouring.lo
            idx = np.clip(((values - colouring.lo) / span * 255).astype(int), 0, 255)
            colors = [lut[i] for i in idx]
        return colors, online.tolist()

    def person(self, drawn_index: int) -> dict:
        """Today's state of the ``drawn_index``-th person drawn, as labelled text values: the
        model's view of them, and their trust and disclosure (read here from the state arrays,
        which the view does not show)."""
        with self.lock:
            idx = int(self.layout.nodes[drawn_index])
            d = self.model.person(idx).as_dict()
            cur = self.model.state.cur
            d["trust"] = float(cur["trust"][idx])
            d["disclosure"] = DISCLOSURE_LABELS[int(disclosure_category(cur, np.array([idx]))[0])]
        return d

    def weekly(self, key: str, days: int = 7) -> float:
        """Sum of a daily flow over the last ``days`` days."""
        col = self.history.get(key, [])
        return float(sum(col[-days:])) if col else 0.0

    def series(self, key: str) -> list[float]:
        return list(self.history.get(key, []))

    def settings_copy(self) -> ModelParams:
        return copy.deepcopy(self.settings)


def describe_person(d: dict) -> list[str]:
    """Lines of text for a person's tooltip."""
    community = "offline" if d["community"] is None else f"community {d['community'] + 1}"
    care = CARE_LABELS[CARE_STATES.index(d["care_status"])]
    return [
        f"Person {d['index']} · {d['diagnosis']} · {d['role']}",
        f"{community}; {care}",
        f"activation {d['activation']:.1f} (PAM level {d['pam_level']})",
        f"self-stigma {d['self_stigma']:.2f} · belonging {d['belonging']:.2f}",
        f"mental wellbeing {d['wellbeing_mental']:.2f} · physical {d['wellbeing_physical']:.2f}",
        f"misled: {'yes' if d['misinformed'] else 'no'} · uncertainty {d['uncertainty']:.2f}",
        f"trust in online information {d['trust']:.2f} · {d['disclosure']}",
        f"recovery {d['recovery']:.2f} · employed: {'yes' if d['employed'] else 'no'}"
        + (" · in an online intervention" if d["enrolled"] else ""),
    ]


def build_live(
    scenario: str | None, overrides: dict[str, Any], extra: dict[str, Any] | None = None
) -> tuple[LiveModel, list[str]]:
    """A live model for ``scenario`` with ``overrides``, and with ``extra`` on top of either.

    ``extra`` is what a page always adds, whatever the address asks for (the Classroom's closed
    moderated community): set after the scenario and the overrides, with
    ``params.with_overrides``, which can add a community (the scenario composer cannot).
    On bad input it falls back (the baseline with the same overrides, then the bare baseline) and
    returns one message per problem, so the page can say what it did instead.
    """
    problems: list[str] = []
    attempts = [(scenario or "baseline", overrides)]
    if scenario not in (None, "baseline"):
        attempts.append(("baseline", overrides))
    if overrides:
        attempts.append(("baseline", {}))
    for k, (name, over) in enumerate(attempts):
        try:
            live = LiveModel(with_overrides(scenario_params(name, over), extra or {}))
        except PeerwellError as exc:
            if str(exc) not in problems:  # the fallback with the same overrides fails alike
                problems.append(str(exc))
            continue
        if k:
            problems.append(
                f"showing {name}" + (" with the address's other settings" if over else "")
            )
        return live, problems
    # The baseline always loads: never reached.
    return LiveModel(with_overrides(ModelParams(), extra or {})), problems  # pragma: no cover


def warm_up() -> float:
    """Load what the first page needs (compiled kernels, Hydra, the catalogue); return seconds.

    ``peerwell dashboard`` calls it before it starts listening, so the first visitor does not
    wait for imports and kernel loading.
    """
    t0 = time.perf_counter()
    scenario_list()
    live = LiveModel(scenario_params("baseline", {"population.size": 60, "steps": 3}))
    live.step(2)
    live.node_colors("activation")
    describe_person(live.person(0))
    LiveChart(3).render(live.history)
    return time.perf_counter() - t0
