"""The Python API: what the ``peerwell`` command does, in a few lines of a notebook.

Every function here is a thin layer over the code behind the matching command, so the API and
the CLI give identical results for the same scenario, seed and overrides:

==============================  ==========================================================
Python                          command line
==============================  ==========================================================
:func:`run`                     ``peerwell run scenario=NAME key=value ...``
:func:`compare`                 ``peerwell compare scenarios=[A,B] replicates=N ...``
:func:`sweep`                   ``peerwell sweep -m key=a,b,c ... hydra.sweep.dir=DIR``
:func:`collect`                 ``peerwell collect DIR``
:func:`sensitivity`             ``peerwell sensitivity method=morris|sobol ...``
:func:`list_scenarios`          ``peerwell scenarios``
:func:`list_params`             ``peerwell params``
==============================  ==========================================================

**Overrides** are the command line's ``key=value`` pairs. Give them as keyword arguments with a
double underscore for each dot (``population__size=500``), or as a mapping of the dotted names
the command line uses (``{"population.size": 500}``), or as the command line's own strings
(``["population.size=500"]``); the three are the same. Every override is turned into the
command line's ``key=value`` text and goes through the same Hydra composition and the same
validation as on the command line, so an unknown key or a bad value raises
:class:`~peerwell.simulation.ConfigError` before anything runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from peerwell.scenarios.experiments.collect import Collected
from peerwell.scenarios.experiments.compare import DEFAULT_ROOT_SEED, ComparisonResult
from peerwell.scenarios.experiments.runner import RunResult
from peerwell.scenarios.experiments.sensitivity import SensitivityResult
from peerwell.simulation.errors import ConfigError, PeerwellError
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import ModelParams

Overrides = Mapping[str, Any] | Sequence[str] | None
"""What the functions take as overrides: a mapping of dotted names, or ``key=value`` strings."""

__all__ = [
    "DEFAULT_ROOT_SEED",
    "Collection",
    "CommandError",
    "Comparison",
    "Heatmap",
    "Overrides",
    "Posterior",
    "Result",
    "Sensitivity",
    "calibrate_abc",
    "collect",
    "compare",
    "list_params",
    "list_scenarios",
    "load_scenario",
    "make_model",
    "override_strings",
    "run",
    "sensitivity",
    "sweep",
]

# Design options of `peerwell sweep` whose value is itself a list (never a list of sweep values).
_LIST_OPTIONS = frozenset({"params"})
# A string Hydra reads as the same string without quotes.
_PLAIN = re.compile(r"^[A-Za-z_/.][\w./:+-]*$")
_HYDRA_WORDS = frozenset({"true", "false", "null", "none", "inf", "nan"})


class CommandError(PeerwellError):
    """A sweep or a sensitivity analysis failed once started (a busy folder, a failed job).

    The engine's error is its ``__cause__``. Bad arguments raise :class:`ConfigError` instead.
    """


# ---------------------------------------------------------------------------------------------
# Overrides: Python values to the command line's key=value strings


def _value(value: Any) -> str:
    """One value as the command line types it (Hydra's override grammar)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        if _PLAIN.match(value) and value.lower() not in _HYDRA_WORDS:
            return value
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    raise ConfigError(f"cannot pass a {type(value).__name__} ({value!r}) as an override value")


def _is_sweep(value: Any) -> bool:
    return isinstance(value, (list, tuple, range, set, frozenset)) or (
        hasattr(value, "ndim") and getattr(value, "ndim", 0) == 1
    )


def override_strings(
    overrides: Overrides = None, *, sweep: bool = False, **kwargs: Any
) -> list[str]:
    """The command line's ``key=value`` strings for Python overrides.

    Parameters
    ----------
    overrides : mapping or sequence of str, optional
        Dotted names to values (``{"population.size": 500}``) or ``key=value`` strings, which
        are passed through unchanged.
    sweep : bool
        Read a list, tuple or range value as the values to sweep over (``seed=range(1, 4)``
        becomes ``seed=1,2,3``), as ``peerwell sweep`` does; otherwise a list is one list value.
        The design option ``params`` is always one list.
    **kwargs
        More overrides, with ``__`` standing for each dot (``population__size=500``).

    Returns
    -------
    list of str
        E.g. ``["population.size=500", "communities.moderation=0.5"]``.

    Raises
    ------
    ConfigError
        A key is given twice, a value cannot be written on the command line, or a sweep has no
        values.

    Examples
    --------
    >>> override_strings({"population.size": 500}, communities__moderation=0.5)
    ['population.size=500', 'communities.moderation=0.5']
    >>> override_strings(seed=range(1, 4), sweep=True)
    ['seed=1,2,3']
    """
    if isinstance(overrides, str):
        raise ConfigError(
            f"overrides must be a mapping of dotted names or a list of 'key=value' strings, "
            f"got the string {overrides!r}"
        )
    out: list[str] = []
    keys: set[str] = set()

    def add(key: str, text: str) -> None:
        if key in keys:
            raise ConfigError(f"override {key!r} is given twice")
        keys.add(key)
        out.append(text)

    pairs: list[tuple[str, Any]] = []
    if isinstance(overrides, Mapping):
        pairs += [(str(k), v) for k, v in overrides.items()]
    elif overrides is not None:
        for item in overrides:
            text = str(item)
            key, eq, _ = text.partition("=")
            if not eq:
                raise ConfigError(f"override {text!r} is not key=value")
            add(key.lstrip("+~"), text)
    pairs += [(k.replace("__", "."), v) for k, v in kwargs.items()]
    for key, value in pairs:
        if sweep and key not in _LIST_OPTIONS and _is_sweep(value):
            values = list(value)
            if not values:
                raise ConfigError(f"{key}: an empty list of values to sweep over")
            add(key, f"{key}=" + ",".join(_value(v) for v in values))
        else:
            add(key, f"{key}={_value(value)}")
    return out


# ---------------------------------------------------------------------------------------------
# Running a sweep in this process


@contextlib.contextmanager
def _kept_logging() -> Iterator[None]:
    """Restore the root logger after Hydra has configured logging for a multirun."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@contextlib.contextmanager
def _output(verbose: bool) -> Iterator[io.StringIO]:
    """What a sweep prints (Hydra's job list, the progress), kept unless ``verbose``."""
    out = io.StringIO()
    with _kept_logging(), contextlib.ExitStack() as stack:
        if not verbose:
            stack.enter_context(contextlib.redirect_stdout(out))
            stack.enter_context(contextlib.redirect_stderr(out))
        yield out


def _sweep(args: list[str], *, verbose: bool) -> str:
    """Run the sweep of ``peerwell sweep ARGS`` in this process; return what it printed.

    Raises
    ------
    ConfigError
        The sweep was refused (a key, a value, the sweep directory); nothing ran.
    CommandError
        The sweep failed once started: a busy folder, a failed job, runs missing.
    KeyboardInterrupt
        After the launcher's workers are stopped; the same call resumes.
    """
    from peerwell.scenarios.experiments.sweep import run_sweep, stop_workers

    with _output(verbose) as out:
        try:
            outcome = run_sweep(args, notify=lambda note: print(f"peerwell: {note}"))
        except KeyboardInterrupt:
            stop_workers()
            raise
        except ConfigError:
            raise
        except PeerwellError as exc:
            raise CommandError(str(exc)) from exc
        if outcome is not None:
            print(outcome.report())
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Building and running one model


def load_scenario(
    scenario: str = "baseline", overrides: Overrides = None, **kwargs: Any
) -> ModelParams:
    """The validated parameters of a scenario with overrides (what ``peerwell run`` composes).

    Parameters
    ----------
    scenario : str
        A scenario name (see :func:`list_scenarios`).
    overrides : mapping or sequence of str, optional
        Dotted names to values, or ``key=value`` strings (see :func:`override_strings`).
    **kwargs
        More overrides, ``__`` for each dot: ``population__size=500``, ``seed=7``,
        ``network="barabasi_albert"``.

    Returns
    -------
    ModelParams
        Validated; ``params.scenario.name == scenario``.

    Raises
    ------
    ConfigError
        An unknown scenario or parameter, or a value that is out of range or of the wrong type.

    Examples
    --------
    >>> p = load_scenario("moderated_community", population__size=500, steps=60)
    >>> p.population.size, p.scenario.name
    (500, 'moderated_community')
    """
    from peerwell.scenarios.catalogue import load_scenario as _load

    return _load(scenario, override_strings(overrides, **kwargs))


def make_model(
    scenario: str = "baseline",
    overrides: Overrides = None,
    *,
    agent_views: bool | None = None,
    **kwargs: Any,
) -> PeerwellModel:
    """A :class:`~peerwell.simulation.PeerwellModel` (a ``mesa.Model``) of a scenario, ready to step.

    Parameters
    ----------
    scenario : str
        A scenario name (see :func:`list_scenarios`).
    overrides : mapping or sequence of str, optional
        As for :func:`load_scenario`.
    agent_views : bool, optional
        Make a ``mesa.Agent`` view per person in ``model.agents`` (default: up to 50,000 people).
    **kwargs
        More overrides, ``__`` for each dot.

    Returns
    -------
    PeerwellModel
        At day 0; ``model.step()`` advances a day, ``model.run_model()`` runs to the end,
        ``model.trajectories()`` gives the recorded days.

    Raises
    ------
    ConfigError
        As :func:`load_scenario`.

    Examples
    --------
    >>> model = make_model("baseline", population__size=300, steps=10)
    >>> model.run_model()
    >>> int(model.trajectories()["step"].iloc[-1])
    10
    """
    params = load_scenario(scenario, overrides, **kwargs)
    return PeerwellModel(params, agent_views=agent_views)


@dataclass
class Result(RunResult):
    """One finished run (what :func:`run` returns).

    Attributes
    ----------
    run_id : str
        Hash of the scientific config, the seed and the model code (as ``peerwell run`` prints).
    trajectories : pandas.DataFrame
        One row per recorded day: ``run_id, scenario, seed, step`` and every outcome; the table
        ``trajectories.parquet`` holds.
    communities : pandas.DataFrame
        One row per community per recorded day: ``run_id, scenario, seed, step, community,
        platform, members, joined, left, posts, hostile, misleading_read`` and more (the
        community's state that day); the table ``communities.parquet`` holds.
    groups : pandas.DataFrame
        One row per group per recorded day: ``run_id, scenario, seed, step, group, people,
        share``, each outcome's mean (``activation_mean``, ...) and mean change from day 0
        (``activation_change``, ...) and ``acute_care_rate``; the table ``groups.parquet``
        holds. The groups (``recorder.GROUPS``): ``all``, ``online_day0`` and ``offline_day0``
        (in a community on day 0 or not), ``schizophrenia``, ``bipolar``, ``depression``,
        ``vulnerable`` and ``not_vulnerable``, and ``movers`` (into a community that opened
        after day 0), ``stayers`` and ``offline`` (never online).
    meta : dict
        What ``run.json`` holds: full config, seed, versions, git revision, wall time.
    params : ModelParams
        The validated parameters of the run.
    output_dir : pathlib.Path or None
        Where the files were written, if anywhere.
    """

    params: ModelParams | None = None
    output_dir: Path | None = None

    def start_end(self) -> pd.DataFrame:
        """Each main outcome on the first and the last day, and the change (the printed table).

        Returns
        -------
        pandas.DataFrame
            Columns ``outcome, day 0, day N, change``.
        """
        from peerwell.analysis.summary import start_end_table

        return start_end_table(self.trajectories)

    def plot(self, outcomes: Sequence[str] | None = None):
        """Activation, care-seeking and wellbeing over the days, one panel each.

        Parameters
        ----------
        outcomes : sequence of str, optional
            Outcome columns to draw (default: the four panels of ``trajectories.png``).

        Returns
        -------
        matplotlib.figure.Figure
            Shown by Jupyter when it ends a cell; ``fig.savefig(path)`` writes it.
        """
        from peerwell.analysis.plots import plot_trajectories

        return plot_trajectories(self.trajectories, outcomes=outcomes)


def run(
    scenario: str = "baseline",
    overrides: Overrides = None,
    *,
    output_dir: str | Path | None = None,
    progress: bool = False,
    **kwargs: Any,
) -> Result:
    """Run one scenario, as ``peerwell run scenario=NAME key=value ...`` does.

    Parameters
    ----------
    scenario : str
        A scenario name (see :func:`list_scenarios`).
    overrides : mapping or sequence of str, optional
        Dotted names to values, or ``key=value`` strings.
    output_dir : path, optional
        Also write ``trajectories.parquet``, ``communities.parquet``, ``groups.parquet``,
        ``run.json`` and ``trajectories.png`` there, as the command does. By default nothing is written.
    progress : bool
        Show a progress bar.
    **kwargs
        More overrides, ``__`` for each dot: ``seed=7``, ``steps=180``, ``population__size=500``.

    Returns
    -------
    Result
        ``.trajectories`` (a DataFrame, one row per day), ``.communities`` (one row per
        community per day), ``.groups`` (one row per group per day), ``.meta``, ``.run_id``,
        ``.plot()``.

    Raises
    ------
    ConfigError
        An unknown scenario or parameter, or a bad value; nothing is run.
    OSError
        ``output_dir`` cannot be written.

    Examples
    --------
    >>> r = run("baseline", seed=7, steps=20, population__size=300)
    >>> list(r.trajectories["step"])[-1]
    20
    """
    from peerwell.scenarios.experiments.runner import simulate, write_run

    params = load_scenario(scenario, overrides, **kwargs)
    done = simulate(params, progress=progress)
    out = None
    if output_dir is not None:
        out = write_run(done, Path(output_dir).expanduser())
    return Result(
        done.run_id,
        done.trajectories,
        done.meta,
        done.communities,
        done.groups,
        params=params,
        output_dir=out,
    )


# ---------------------------------------------------------------------------------------------
# Comparisons


@dataclass
class Comparison(ComparisonResult):
    """A finished comparison (what :func:`compare` returns).

    Attributes
    ----------
    summary : pandas.DataFrame
        The table ``summary.csv`` holds: per scenario and outcome at the horizon, mean, SD,
        bootstrap 95% CI, and the paired difference from the first scenario with its CI.
    trajectories : pandas.DataFrame
        Every run stacked: ``run_id, scenario, seed, replicate, people, step`` and the outcomes.
    runs : pandas.DataFrame
        One row per run: ``scenario, replicate, seed, run_id, file, status``.
    groups : pandas.DataFrame
        The table ``groups.csv`` holds: every group of ``recorder.GROUPS`` per scenario on the
        last day, one row per measure (``share``, each ``<outcome>_mean`` and
        ``<outcome>_change``, ``acute_care_rate``) with its mean over the replicates and
        bootstrap 95% CI, and for the day's levels the paired difference from the first
        scenario with its CI (``diff``, ``diff_ci_low``, ``diff_ci_high``).
    files : dict
        ``summary``, ``report``, ``manifest`` and the figures, as paths.
    """

    @property
    def report(self) -> str:
        """The text of ``report.md`` (Markdown)."""
        return Path(self.files["report"]).read_text(encoding="utf-8")

    def differences(self) -> pd.DataFrame:
        """The paired differences from the reference: one row per scenario and outcome.

        Returns
        -------
        pandas.DataFrame
            ``scenario, outcome, label``, the paired difference ``diff`` with ``diff_sd``,
            ``diff_ci_low``, ``diff_ci_high``, ``diff_excludes_zero`` and the ``verdict``
            (better, worse, no clear change, or too few replicates; it follows the marks'
            rule, a Holm-adjusted paired t-test), without the reference's own rows.
        """
        s = self.summary
        keep = ("scenario", "outcome", "label", "verdict")
        cols = [c for c in s.columns if c in keep or c.startswith("diff")]
        return s.loc[s["scenario"] != self.scenarios[0], cols].reset_index(drop=True)

    def plot(self, outcomes: Sequence[str] | None = None):
        """Mean trajectories over replicates with 95% bootstrap bands (``figures/trajectories``).

        Parameters
        ----------
        outcomes : sequence of str, optional
            One panel each (default: the main outcomes).

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt

        from peerwell.analysis import compare_figures, stats

        names = [o for o in (outcomes or stats.MAIN) if o in self.trajectories.columns]
        bands = stats.trajectory_bands(self.trajectories, names)
        events = {n: sorted({e.day for e in p.scenario.events}) for n, p in self.params.items()}
        fig = compare_figures.trajectory_figure(bands, self.scenarios, names, events)
        plt.close(fig)
        return fig


def compare(
    scenarios: Sequence[str],
    replicates: int | None = None,
    overrides: Overrides = None,
    *,
    output_dir: str | Path = "outputs/compare",
    seed: int = DEFAULT_ROOT_SEED,
    n_jobs: int = -1,
    progress: bool = False,
    figures: bool = True,
    subgroups: Sequence[str] | None = None,
    posterior: str | Path | None = None,
    draws: int | None = None,
    seeds_per_draw: int | None = None,
    **kwargs: Any,
) -> Comparison:
    """Compare scenarios over replicates, as ``peerwell compare`` does.

    Replicate *r* of every scenario shares its seed (common random numbers), so differences are
    paired. Finished runs in ``output_dir/runs/`` are reused.

    Parameters
    ----------
    scenarios : sequence of str
        Scenario names; the first is the reference of every paired difference.
    replicates : int, optional
        Runs per scenario (default 30; with ``posterior``, ``draws × seeds_per_draw``).
    overrides : mapping or sequence of str, optional
        Model overrides applied to every scenario (not ``seed``: see ``seed`` below).
    output_dir : path
        Where ``runs/``, ``summary.csv``, ``report.md``, ``comparison.json`` and ``figures/``
        go (the command's ``output_dir=``).
    seed : int
        The root seed of the replicates' seeds (the command's ``seed=``).
    n_jobs : int
        Parallel workers: -1 all cores, 1 in this process.
    progress : bool
        Show a progress bar.
    figures : bool
        Draw the PNG/SVG figures.
    subgroups : sequence of str, optional
        Groups of ``recorder.GROUPS`` (``["vulnerable", "not_vulnerable"]``) whose outcomes
        ``report.md`` shows, each in a table: the first scenario's level and every scenario's
        paired difference (the command's ``subgroups=``). ``.groups`` has every group anyway.
    posterior : path, optional
        A ``posterior.parquet`` of :func:`calibrate_abc` (or its folder): replicate r of every
        scenario runs parameter draw r // seeds_per_draw on the same seed, so each difference
        carries parameter and stochastic uncertainty (``summary.csv`` gains ``diff_ui_low``,
        ``diff_ui_high`` and ``param_var_share``; ``sobol.csv`` from 20 draws).
    draws, seeds_per_draw : int, optional
        Parameter draws (default 20) and seeds per draw (default 2) with ``posterior``.
    **kwargs
        More model overrides, ``__`` for each dot: ``steps=120``, ``population__size=1500``.

    Returns
    -------
    Comparison
        ``.summary`` (equal to ``summary.csv``), ``.trajectories``, ``.runs``, ``.report``,
        ``.plot()``.

    Raises
    ------
    ConfigError
        An unknown scenario, subgroup or parameter, a bad value, or scenarios with different
        horizons; nothing is run.
    OSError
        ``output_dir`` cannot be written.

    Examples
    --------
    >>> c = compare(["baseline", "moderated_community"], replicates=3, steps=60,
    ...             population__size=300, output_dir="/tmp/cmp", figures=False)
    >>> sorted(c.summary["scenario"].unique())
    ['baseline', 'moderated_community']
    """
    from peerwell.scenarios.experiments.compare import run_comparison

    strings = override_strings(overrides, **kwargs)
    names = [scenarios] if isinstance(scenarios, str) else list(scenarios)
    call = f"{names!r}, replicates={replicates}, overrides={strings!r}"
    if isinstance(subgroups, str):
        subgroups = [subgroups]
    if subgroups:
        call += f", subgroups={list(subgroups)!r}"
    if posterior is not None:
        call += f", posterior={str(posterior)!r}, draws={draws}, seeds_per_draw={seeds_per_draw}"
    result = run_comparison(
        names,
        replicates,
        strings,
        output_dir,
        n_jobs=n_jobs,
        progress=progress,
        root_seed=seed,
        figures=figures,
        command=f"peerwell.compare({call}, seed={seed})",
        subgroups=subgroups,
        posterior=posterior,
        draws=draws,
        seeds_per_draw=seeds_per_draw,
    )
    values = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    return Comparison(**values)


# ---------------------------------------------------------------------------------------------
# Parameter uncertainty


@dataclass
class Posterior:
    """A Bayesian calibration (what :func:`calibrate_abc` returns; the files it wrote).

    Attributes
    ----------
    posterior : pandas.DataFrame
        ``posterior.parquet``: one row per accepted parameter set, a column per parameter and
        ``weight`` (summing to 1).
    summary : pandas.DataFrame
        ``posterior.csv``: per parameter its prior, default, posterior mean and median, 95%
        credible interval (``ci_low``, ``ci_high``) and ``narrowing`` (1 − the interval's width
        over the prior's).
    ppc : pandas.DataFrame
        ``ppc.csv``: per calibration target the published figure, the posterior predictive mean
        and 95% interval, and ``covered``.
    diagnostics : dict
        ``diagnostics.json``: per generation the threshold, simulations, acceptance rate and
        effective sample size.
    output_dir : pathlib.Path
        Where the files are (``posterior.parquet`` is ``output_dir / "posterior.parquet"``).
    """

    posterior: pd.DataFrame
    summary: pd.DataFrame
    ppc: pd.DataFrame
    diagnostics: dict
    output_dir: Path

    @property
    def path(self) -> Path:
        """The posterior file, as :func:`compare` (``posterior=``) takes it."""
        return self.output_dir / "posterior.parquet"


def calibrate_abc(
    output_dir: str | Path = "outputs/abc",
    budget: str | int = "default",
    overrides: Overrides = None,
    *,
    population: int | None = None,
    seed: int = 1,
    n_jobs: int = -1,
    launcher: str = "local",
    address: str | None = None,
    **kwargs: Any,
) -> Posterior:
    """Fit the screened parameters to the calibration targets by ABC-SMC, as
    ``peerwell calibrate method=abc`` does (held-out targets never enter the fit).

    Parameters
    ----------
    output_dir : path
        Where ``posterior.parquet``, ``posterior.csv``, ``ppc.csv``, ``diagnostics.json``,
        ``abc.md``, ``figures/`` and ``abc.db`` go; a folder holding an interrupted calibration
        with the same settings is resumed.
    budget : str or int
        Model evaluations in all: ``"small"`` (300), ``"default"`` (6,000) or a number.
    overrides : mapping or sequence of str, optional
        Model overrides applied to the calibration scenarios.
    population : int, optional
        Particles per generation (default: set by the budget).
    seed : int
        Root seed (with ``n_jobs=1`` the posterior is the same to the bit).
    n_jobs : int
        Local workers: -1 all cores, 1 in this process.
    launcher : str
        ``"local"`` (this machine's cores) or ``"dask"``: the particles run on the Dask cluster
        at ``address`` (default: Dask's configured scheduler), as ``hydra/launcher=dask`` sweeps.
    address : str, optional
        The Dask scheduler, ``tcp://HOST:PORT``.
    **kwargs
        More model overrides, ``__`` for each dot.

    Returns
    -------
    Posterior
        ``.posterior`` (the parquet file's table), ``.summary``, ``.ppc``, ``.diagnostics``,
        ``.path``.

    Raises
    ------
    ConfigError
        A bad budget, override, prior or screen file, or an ``output_dir`` holding a calibration
        with other settings; nothing is run.

    Examples
    --------
    >>> cal = calibrate_abc("/tmp/abc", budget=80, population=12, n_jobs=1,
    ...                     population__size=300, steps=120)  # doctest: +SKIP
    >>> cal.summary[["parameter", "posterior_mean", "ci_low", "ci_high"]]  # doctest: +SKIP
    """
    from peerwell.scenarios.evidence.abc import run_abc

    out = Path(output_dir).expanduser().resolve()
    res = run_abc(
        override_strings(overrides, **kwargs), output_dir=out, budget=budget,
        population=population, seed=seed, n_jobs=n_jobs, launcher=launcher, address=address,
        notify=lambda message: None,
    )  # fmt: skip
    return Posterior(res["posterior"], res["summary"], res["ppc"], res["diagnostics"], out)


# ---------------------------------------------------------------------------------------------
# Sweeps, collections, sensitivity


@dataclass
class Heatmap:
    """An outcome at the horizon over two swept parameters (what ``peerwell collect`` draws).

    Attributes
    ----------
    grid : pandas.DataFrame
        Rows: values of ``y``; columns: values of ``x``; cells: the mean over runs (seeds).
    png, svg, csv : pathlib.Path
        The files written (``heatmap_<outcome>.*`` in the sweep directory).
    """

    grid: pd.DataFrame
    png: Path
    svg: Path
    csv: Path

    def _repr_png_(self) -> bytes:
        return self.png.read_bytes()


@dataclass
class Collection(Collected):
    """A collected sweep (what :func:`collect` and :func:`sweep` return).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per run and recorded day: ``run_id, step, scenario, seed``, the swept
        parameters, then the outcomes; what ``collected.parquet`` and ``collected.csv`` hold.
    swept : list of str
        The swept parameters (columns of ``table``).
    runs : int
        Number of runs.
    skipped : list of (str, str)
        Run files left out (damaged), with the reason.
    sweep_dir : pathlib.Path
        The sweep directory.
    log : str
        What the sweep printed (empty for :func:`collect`).
    """

    sweep_dir: Path | None = None
    log: str = ""

    def horizon(self) -> pd.DataFrame:
        """One row per run: its last recorded day (the table the heatmap and indices read)."""
        t = self.table
        last = t.groupby("run_id")["step"].transform("max")
        return t[t["step"] == last].reset_index(drop=True)

    def heatmap(
        self,
        x: str,
        y: str,
        outcome: str = "care_seeking_share",
        *,
        step: int | None = None,
    ) -> Heatmap:
        """Draw ``outcome`` over two swept parameters, as ``peerwell collect DIR heatmap=X,Y``.

        Parameters
        ----------
        x, y : str
            Swept parameters (columns of the grid and rows).
        outcome : str
            Outcome column; the mean over runs (seeds) on the last day is drawn.
        step : int, optional
            The day to read instead of the last.

        Returns
        -------
        Heatmap
            The grid and the files; Jupyter shows the picture.

        Raises
        ------
        KeyError
            ``x``, ``y`` or ``outcome`` is not a column of the table.
        """
        from peerwell.analysis.heatmap import horizon_grid, plot_heatmap

        if self.sweep_dir is None:
            raise ValueError("this collection has no sweep directory to write the heatmap into")
        grid = horizon_grid(self.table, x, y, outcome, step=step)
        base = Path(self.sweep_dir) / f"heatmap_{outcome}"
        png = plot_heatmap(
            grid,
            base,
            outcome=outcome,
            x=x,
            y=y,
            step_label=f"day {step}" if step is not None else "",
        )
        grid.to_csv(base.with_suffix(".csv"))
        return Heatmap(grid, png, base.with_suffix(".svg"), base.with_suffix(".csv"))


def collect(sweep_dir: str | Path, *, mixed: bool = False) -> Collection:
    """Gather a sweep's result store into one table, as ``peerwell collect SWEEP_DIR`` does.

    Writes ``collected.parquet`` and ``collected.csv`` into ``sweep_dir``.

    Parameters
    ----------
    sweep_dir : path
        The sweep directory (the ``hydra.sweep.dir`` or ``output_dir`` of a sweep or a
        sensitivity analysis).
    mixed : bool
        Merge the runs of sweeps of different designs run into the same folder (refused by
        default, as ``peerwell collect`` refuses it without ``mixed=true``).

    Returns
    -------
    Collection
        ``.table`` (equal to ``collected.parquet``), ``.swept``, ``.heatmap(x, y)``.

    Raises
    ------
    peerwell.scenarios.CollectError
        No ``runs/`` folder, no readable run in it, or runs of different designs.

    Examples
    --------
    >>> c = collect("/abs/sweep")  # doctest: +SKIP
    >>> c.table.groupby("communities.moderation")["care_seeking_share"].mean()  # doctest: +SKIP
    """
    from peerwell.scenarios.experiments.collect import collect as _collect
    from peerwell.scenarios.experiments.collect import write_collected

    sweep_dir = Path(sweep_dir).expanduser()
    found = _collect(sweep_dir, mixed=mixed)
    write_collected(found, sweep_dir)
    return Collection(found.table, found.swept, found.runs, found.skipped, sweep_dir=sweep_dir)


def _absolute(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


def _hydra_path(key: str, path: Path) -> str:
    """``key=path`` as Hydra's grammar reads it: a path may hold any character, so quoted."""
    return f"{key}='" + str(path).replace("\\", "\\\\").replace("'", "\\'") + "'"


def sweep(
    sweep_dir: str | Path,
    overrides: Overrides = None,
    *,
    launcher: str | None = None,
    n_jobs: int | None = None,
    verbose: bool = False,
    **kwargs: Any,
) -> Collection:
    """Run a sweep, as ``peerwell sweep -m ... hydra.sweep.dir=SWEEP_DIR``, and collect it.

    The sweep is the command itself, run in this process: the same Hydra multirun, launcher,
    plan, result store and resume. Rerunning the same call skips finished runs.

    Parameters
    ----------
    sweep_dir : path
        The sweep directory (``hydra.sweep.dir``; made absolute).
    overrides : mapping or sequence of str, optional
        Dotted names to values. A list, tuple or range is swept over:
        ``{"communities.moderation": [0, 0.5, 1], "seed": range(1, 11)}``. Design options are
        overrides too: ``design="lhs", samples=50, params=[...]``. ``key=value`` strings
        (``"seed=range(1,11)"``) pass through unchanged.
    launcher : str, optional
        Hydra launcher (``hydra/launcher=``): ``joblib`` (the default), ``submitit_local``,
        ``slurm``.
    n_jobs : int, optional
        Parallel jobs of the joblib launcher (``hydra.launcher.n_jobs``).
    verbose : bool
        Print what the command prints (Hydra's job list, the summary line) instead of keeping
        it in ``.log``.
    **kwargs
        More overrides, ``__`` for each dot.

    Returns
    -------
    Collection
        The collected table, as :func:`collect` returns it (and ``collected.parquet`` written).

    Raises
    ------
    ConfigError
        The command refused the sweep (unknown parameter, bad value or range); nothing ran.
    CommandError
        A job failed, or another command is writing into the sweep directory.
    KeyboardInterrupt
        Interrupted; the launcher's workers are stopped, finished runs kept: the same call
        resumes.

    Examples
    --------
    >>> s = sweep("/abs/sweep", {"communities.moderation": [0, 1], "seed": [1, 2]},
    ...           steps=30, population__size=300)  # doctest: +SKIP
    >>> s.runs  # doctest: +SKIP
    4
    """
    directory = _absolute(sweep_dir)
    args = override_strings(overrides, sweep=True, **kwargs)
    if launcher is not None:
        args.append(f"hydra/launcher={launcher}")
    if n_jobs is not None:
        args.append(f"hydra.launcher.n_jobs={int(n_jobs)}")
    args.append(_hydra_path("hydra.sweep.dir", directory))
    log = _sweep(args, verbose=verbose)
    found = collect(directory)
    found.log = log
    return found


@dataclass
class Sensitivity(SensitivityResult):
    """Morris or Sobol' indices of one analysis (what :func:`sensitivity` returns).

    Attributes
    ----------
    table : pandas.DataFrame
        ``sensitivity.csv``: one row per parameter, ranked; Morris ``mu_star``,
        ``mu_star_conf``, ``sigma``; Sobol' ``S1``, ``ST`` with their intervals.
    pairs : pandas.DataFrame or None
        Second-order Sobol' indices (``second_order=True``).
    csv, figure : pathlib.Path
        ``sensitivity.csv`` and ``sensitivity.png`` (an SVG beside it).
    n_runs : int
        Runs of the design.
    output_dir : pathlib.Path
        The analysis' sweep directory; :func:`collect` reads it.
    log : str
        What the command printed.
    """

    output_dir: Path | None = None
    log: str = ""

    def _repr_png_(self) -> bytes:
        return Path(self.figure).read_bytes()


def sensitivity(
    method: str = "morris",
    overrides: Overrides = None,
    *,
    outcome: str = "care_seeking_share",
    output_dir: str | Path | None = None,
    conf_level: float = 0.95,
    launcher: str | None = None,
    n_jobs: int | None = None,
    verbose: bool = False,
    **kwargs: Any,
) -> Sensitivity:
    """Morris screening or Sobol' indices, as ``peerwell sensitivity method=...`` does.

    Parameters
    ----------
    method : {"morris", "sobol"}
        The analysis.
    overrides : mapping or sequence of str, optional
        Design options and model overrides: ``samples=``, ``params=[...]`` (names, or
        ``NAME:LO:HI``), ``levels=``, ``second_order=``, ``steps=``, ``population.size=``;
        ``seed=[1, 2, 3]`` averages each point over three seeds.
    outcome : str
        Outcome column read on the last day.
    output_dir : path, optional
        The analysis' sweep directory (default ``outputs/sensitivity/<method>``).
    conf_level : float
        Confidence level of the intervals.
    launcher, n_jobs, verbose
        As for :func:`sweep`.
    **kwargs
        More overrides, ``__`` for each dot.

    Returns
    -------
    Sensitivity
        ``.table`` (``sensitivity.csv``), ``.figure``; Jupyter shows the figure.

    Raises
    ------
    ConfigError
        The command refused its arguments (unknown method, parameter or outcome; a sample
        count SALib rejects); nothing ran.
    CommandError
        A run failed.

    Examples
    --------
    >>> s = sensitivity("morris", samples=4, steps=60, population__size=500,
    ...                 output_dir="/abs/morris")  # doctest: +SKIP
    >>> s.table[["parameter", "mu_star"]]  # doctest: +SKIP
    """
    from peerwell.scenarios.experiments.sensitivity import analyze_sweep
    from peerwell.scenarios.experiments.sweep import plan_sensitivity

    out = _absolute(output_dir if output_dir is not None else f"outputs/sensitivity/{method}")
    args = override_strings(overrides, sweep=True, **kwargs)
    if launcher is not None:
        args.append(f"hydra/launcher={launcher}")
    if n_jobs is not None:
        args.append(f"hydra.launcher.n_jobs={int(n_jobs)}")
    own = [
        f"method={_value(method)}",
        f"outcome={_value(outcome)}",
        f"conf_level={_value(float(conf_level))}",
        _hydra_path("output_dir", out),
    ]
    plan = plan_sensitivity([*own, *args])
    log = _sweep(plan.sweep_args, verbose=verbose)
    r = analyze_sweep(plan.output_dir, plan.outcome, conf_level=plan.conf_level)
    return Sensitivity(r.table, r.pairs, r.csv, r.figure, r.n_runs, output_dir=out, log=log)


# ---------------------------------------------------------------------------------------------
# The catalogue and the parameters


def list_scenarios() -> pd.DataFrame:
    """The scenario catalogue, as ``peerwell scenarios`` lists it.

    Returns
    -------
    pandas.DataFrame
        ``scenario, description`` (the question each answers and the part of the conceptual
        model it exercises), in catalogue order.

    Examples
    --------
    >>> list_scenarios()["scenario"].iloc[0]
    'baseline'
    """
    from peerwell.scenarios.catalogue import list_scenarios as _list

    return pd.DataFrame(_list(), columns=["scenario", "description"])


def list_params(groups: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Every parameter with meaning, unit, default, range, box and source (``peerwell params``).

    Parameters
    ----------
    groups : str or sequence of str, optional
        Only these groups (``"communities"``, ``["care", "offline"]``); default all.

    Returns
    -------
    pandas.DataFrame
        One row per parameter: ``name`` (as typed on the command line), ``group``,
        ``default``, ``type``, ``unit``, ``lo``, ``hi``, ``choices``, ``help``, ``box``,
        ``basis``, ``source``, ... — the records of ``peerwell params --format json``.

    Raises
    ------
    ConfigError
        An unknown group.

    Examples
    --------
    >>> list_params("communities").set_index("name").loc["communities.moderation", "lo"]
    0.0
    """
    from peerwell.scenarios.evidence.paramdoc import group_names, records

    wanted = [groups] if isinstance(groups, str) else groups
    if wanted is not None:
        unknown = [g for g in wanted if g not in group_names()]
        if unknown:
            raise ConfigError(
                f"unknown parameter group(s) {unknown}; known groups: {', '.join(group_names())}"
            )
    return pd.DataFrame(records(wanted))
