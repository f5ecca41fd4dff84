"""The peerwell model: a ``mesa.Model`` that owns the state arrays and calls the kernels."""

from __future__ import annotations

import copy
import statistics
import time
from functools import partial

import mesa
import numba
import pandas as pd

from .agents import PersonView
from .loop import StepTimer, run_day
from .network import build_network
from .params import RUN_FIELDS_MID_RUN, Event, ModelParams, set_param, validate, with_overrides
from .population import init_state, set_community_properties
from .recorder import CommunityLog, GroupTracker, summarize
from .state import frozen_variables
from .theta import pack_theta

# Above this many people, agent views are made on demand (``model.person(i)``), not up front.
AGENT_VIEW_LIMIT = 50_000

# How many threads a day runs on, when the caller does not say. A second thread pays only when a
# day's parallel passes outweigh waking it (about 20 µs a pass, passive waiting:
# peerwell/__init__.py), and what a day costs per person differs tenfold between configurations:
# on 2 cores here the whole model gains from 2 threads from about 3,000 people, the lean SIS
# configuration only from about 30,000 (benchmarks/bench_threads.py, 1,000 to 100,000 people).
# So no size threshold is right for every configuration: below ONE_THREAD_BELOW (people + tie
# ends) a day always runs on one thread, from ALL_THREADS_FROM on all of them, and in between the
# model times its first days on each count in turn (ThreadChoice) and keeps the faster. Results
# are bit-identical for any count (tests/test_determinism.py): the choice changes the speed only.
ONE_THREAD_BELOW = 20_000
ALL_THREADS_FROM = 1_000_000
PROBE_DAYS = 4  # days timed on each count before choosing
GAIN_NEEDED = 0.95  # more threads must make the median day at least 5% faster


def auto_threads(people: int, tie_ends: int, available: int) -> int | None:
    """The threads a day runs on by size alone: one, all of them, or None (measure: in between)."""
    work = people + tie_ends
    if available <= 1 or work < ONE_THREAD_BELOW:
        return 1
    return available if work >= ALL_THREADS_FROM else None


class ThreadChoice:
    """Times the first days on one thread and on ``available`` threads, in turn, and keeps the
    count whose median day is faster (more threads must gain ``GAIN_NEEDED``)."""

    def __init__(self, available: int):
        self.available = available
        self.seconds: dict[int, list[float]] = {1: [], available: []}
        self.chosen: int | None = None

    def next(self) -> int:
        """The count for the next day: the choice once made, else the one with fewer days timed."""
        if self.chosen is not None:
            return self.chosen
        return 1 if len(self.seconds[1]) <= len(self.seconds[self.available]) else self.available

    def record(self, threads: int, seconds: float) -> None:
        if self.chosen is not None or threads not in self.seconds:
            return
        self.seconds[threads].append(seconds)
        if min(len(v) for v in self.seconds.values()) >= PROBE_DAYS:
            one = statistics.median(self.seconds[1])
            many = statistics.median(self.seconds[self.available])
            self.chosen = self.available if many < GAIN_NEEDED * one else 1


def report(name: str, model: PeerwellModel) -> float:
    """Model reporter: one aggregate of the current day (bound to a name with ``partial``)."""
    return model.summary[name]


def report_day(model: PeerwellModel) -> int:
    """Model reporter: the day just recorded."""
    return model.day


class PeerwellModel(mesa.Model):
    """Online peer networks of people with serious mental illness (Naslund et al. 2016).

    Parameters
    ----------
    params : ModelParams, optional
        Parameters; defaults to ``ModelParams()``. Copied, so timed events never change the caller's.
    timing : bool
        Collect the wall time of each mechanism in ``model.timer.seconds``. Each kernel then runs
        as a parallel pass of its own (untimed days fold two rules into the passes before them,
        ODD §3); the results are the same.
    agent_views : bool, optional
        Create a ``PersonView`` per person in ``model.agents``; default: only up to
        ``AGENT_VIEW_LIMIT`` people.
    daily_flows : bool
        Compute every flow in ``model.state.scratch`` every day, for code that reads them day by
        day (the calibration does). By default they are complete on the recorded days, which is
        all the recorder reads; on other days the exchange skips what no running submodel reads
        (ODD §3: in the SIS configuration, the gather for people who are not susceptible). The
        state and the trajectories are the same either way, to the bit.
    threads : int, optional
        Numba threads for each day, at most those Numba has (``NUMBA_NUM_THREADS``,
        ``numba.set_num_threads``). By default one for a small model, all for a large one, and
        in between the faster of the two as timed on the first days (``auto_threads``,
        ``ThreadChoice``). Results are the same to the bit for any count; only the speed
        changes.
    **overrides
        Dotted parameter overrides, e.g. ``**{"population.size": 500}``.

    Raises
    ------
    ConfigError
        A parameter is out of range or parameters contradict each other.
    NetworkFileError
        A user's network file is missing or malformed.

    Examples
    --------
    >>> m = PeerwellModel(**{"population.size": 200, "steps": 10})
    >>> m.run_model()
    >>> m.trajectories()["activation_mean"].iloc[-1] > 0
    True
    """

    def __init__(
        self,
        params: ModelParams | None = None,
        *,
        timing=False,
        agent_views=None,
        daily_flows=False,
        threads: int | None = None,
        **overrides,
    ):
        params = copy.deepcopy(params) if params is not None else ModelParams()
        params = with_overrides(params, overrides) if overrides else validate(params)
        super().__init__(rng=params.seed)
        self.params = params
        self.day = 0
        self.state = init_state(params)
        self.state.freeze(frozen_variables(params.submodels))
        self.graph = build_network(params, self.state.static["home"])
        if threads is not None and threads < 1:
            raise ValueError(f"threads={threads}: give 1 or more, or None for the automatic choice")
        self.threads = threads
        self._thread_choice: ThreadChoice | None = None  # made on the first day that measures
        self.theta = pack_theta(params)
        self.timer = StepTimer(timing)
        self.daily_flows = bool(daily_flows)  # a kernel switch (calls.GIVEN): a bool
        self.events_fired: list[tuple[int, str, object]] = []
        if agent_views is None:
            agent_views = params.population.size <= AGENT_VIEW_LIMIT
        self._views: dict[int, PersonView] = {}
        if agent_views:
            for i in range(params.population.size):
                self._views[i] = PersonView(self, i)
        self.running = params.steps > 0
        self._fire_events(0)
        self.groups = GroupTracker(self.state)  # recorder.GROUPS' outcomes (groups.parquet)
        # Day 0 is summed as every recorded day is, with the groups' cells in the same pass (so
        # the population's totals are added in the same order each day, to the bit).
        self.summary = summarize(self.state, 0, groups=self.groups)
        reporters = {"step": partial(report_day)}
        reporters.update({k: partial(report, k) for k in self.summary})
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.datacollector.collect(self)
        self.community_log = CommunityLog()  # each community's aggregates (communities.parquet)
        self.community_log.record(self.state, 0)

    def person(self, index: int) -> PersonView:
        """The view of person ``index`` (made on demand for large populations)."""
        if not 0 <= index < self.params.population.size:
            raise IndexError(f"person {index} is outside 0..{self.params.population.size - 1}")
        if index not in self._views:
            self._views[index] = PersonView(self, index)
        return self._views[index]

    def set_params(self, changes: dict[str, object]) -> None:
        """Change parameters from the next step on (what a timed event does, on demand).

        Only what may change during a run: the run length (``steps``, ``record_every``), the rate
        groups, the mechanism switches and the community properties other than their number and
        platforms (the same rule as timed events).

        Raises
        ------
        ConfigError
            A name cannot change during a run, or a value is out of range (nothing is changed).
        """
        trial = copy.deepcopy(self.params)
        run_control = {k: v for k, v in changes.items() if k in RUN_FIELDS_MID_RUN}
        for k, v in run_control.items():
            set_param(trial, k, v)
        trial.scenario.events = [
            Event(day=min(self.day, trial.steps), param=k, value=v)
            for k, v in changes.items()
            if k not in run_control
        ]
        validate(trial)  # each change checked as an event: may it change, is it in range
        for k, v in changes.items():
            set_param(self.params, k, v)
        self.theta = pack_theta(self.params)
        set_community_properties(self.state, self.params)
        self.running = self.day < self.params.steps

    def _fire_events(self, day: int) -> None:
        """Apply the timed events of ``day`` before that day's step."""
        todays = [e for e in self.params.scenario.events if e.day == day]
        for ev in todays:
            set_param(self.params, ev.param, ev.value)
            self.events_fired.append((day, ev.param, ev.value))
        if todays:
            self.theta = pack_theta(self.params)
            set_community_properties(self.state, self.params)

    def step(self) -> None:
        """Advance one day: events due today, the mechanisms in order, then record."""
        if self.day > 0:
            self._fire_events(self.day)
        recorded = self._records(self.day + 1)
        have = numba.get_num_threads()  # the caller's setting, restored after the day
        use = self.day_threads(have)
        if use != have:
            numba.set_num_threads(use)
        t0 = time.perf_counter()
        try:
            run_day(
                self.state, self.graph, self.theta, self.params.seed, self.day, self.timer,
                self.params.submodels, flows_read=recorded or self.daily_flows,
            )  # fmt: skip
        finally:
            if use != have:
                numba.set_num_threads(have)
        # Day 0 loads the compiled kernels: not a day to judge the thread counts by.
        if self._thread_choice is not None and self.day > 0:
            self._thread_choice.record(use, time.perf_counter() - t0)
        self.day += 1
        self.groups.update(self.state)
        if recorded:
            # the population's aggregates and the groups' in one pass over the people
            self.summary = summarize(self.state, self.day, groups=self.groups)
            self.datacollector.collect(self)
            self.community_log.record(self.state, self.day)
        if self.day >= self.params.steps:
            self.running = False

    def day_threads(self, available: int) -> int:
        """The threads a day runs on, given the ``available`` ones (see ``threads``)."""
        if self.threads is not None:
            return min(self.threads, available)
        by_size = auto_threads(self.params.population.size, self.graph.indices.shape[0], available)
        if by_size is not None:
            return by_size
        if self._thread_choice is None or self._thread_choice.available != available:
            self._thread_choice = ThreadChoice(available)
        return self._thread_choice.next()

    def _records(self, day: int) -> bool:
        """Whether the recorder keeps ``day``: every ``record_every`` days, and the last."""
        return day % self.params.record_every == 0 or day >= self.params.steps

    def run_model(self) -> None:
        """Run to ``params.steps`` days."""
        while self.running:
            self.step()

    def trajectories(self) -> pd.DataFrame:
        """One row per recorded day: ``step`` and every aggregate."""
        df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        df["step"] = df["step"].astype("int64")
        return df

    def group_table(self) -> pd.DataFrame:
        """Each group of ``recorder.GROUPS`` today, one row each (everyone, online or offline at
        day 0, each diagnosis, vulnerable or not, movers, stayers and people never online):
        ``people``, ``share``, each outcome's mean and mean change from day 0, and
        ``acute_care_rate`` (``recorder.GROUP_COLUMNS``), read from the state as it is now."""
        return self.groups.table(self.state, self.day)

    def group_trajectories(self) -> pd.DataFrame:
        """``group_table``'s rows for every recorded day, the days of ``trajectories()``, in day
        then group order: the table of ``groups.parquet``."""
        return self.groups.trajectories()

    def community_table(self) -> pd.DataFrame:
        """One row per community per recorded day (``communities.parquet``): ``step``,
        ``community`` (its name), ``platform``, ``members``, ``joined``, ``left``, ``posts``,
        ``hostile``, ``misleading_read``, ``moderation`` and more (``recorder.COMMUNITY_COLUMNS``)."""
        from .params import community_names

        return self.community_log.table(community_names(self.params), self.state)
