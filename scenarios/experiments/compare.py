"""Scenario comparison with replicates and common random numbers (``peerwell compare``).

``run_comparison`` loads each scenario with the same overrides, runs every (scenario, replicate)
pair — replicate r of every scenario shares its seed — reusing finished runs in
``output_dir/runs/``, and writes into ``output_dir``:

- ``runs/<run_id>.parquet``: one file per run (the result store);
- ``summary.csv``: per scenario and outcome at the horizon, mean, SD, 95% bootstrap CI, and the
  paired difference from the first-named scenario with its CI;
- ``groups.csv``: the same for every group of ``recorder.GROUPS`` (everyone, online or offline at
  day 0, each diagnosis, vulnerable or not, movers, stayers, offline), read from each run's
  stored metadata;
- ``figures/``: trajectories with CI bands, a forest plot of paired differences, and a
  benefits-vs-risks panel per scenario (PNG and SVG);
- ``report.md``: the tables and figures with one paragraph per scenario, where people went when
  a community opened, and a table for each subgroup asked for (``subgroups=``);
- ``comparison.json``: the settings, the seeds and every run_id with whether it was reused.

With a posterior sample of parameters (``posterior=``, :mod:`.posterior`) the comparison carries
parameter uncertainty: ``draws`` parameter sets are drawn from it by weight, and each runs
``seeds_per_draw`` seeds, so replicate r = (draw d, seed s) of every scenario runs draw d's
parameters (overrides on top of the user's) with replicate r's seed: common random numbers and
common parameters. ``summary.csv`` then gains each level's and each paired difference's 95%
uncertainty interval over all draws and seeds (``ui_low, ui_high, diff_ui_low, diff_ui_high``)
and the share of a difference's variance due to the parameters (``param_var_share``, a one-way
random-effects ANOVA over the draws); with at least ``stats.SOBOL_MIN_DRAWS`` draws ``sobol.csv``
holds each difference's first-order Sobol' index of each parameter over the draws.

The comparison holds ``output_dir``'s lock (``store.folder_lock``) from before its first write to
its end: a second ``compare`` (or ``run``, or ``sweep``) into the same folder is refused with the
holder's pid and command, so ``summary.csv``, ``report.md`` and ``comparison.json`` always come
from one comparison. SIGTERM, like SIGINT, stops it at once and kills its workers.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from peerwell.analysis import compare_figures, report, stats
from peerwell.scenarios.catalogue import check_scenario_names, load_scenario
from peerwell.scenarios.config import DEFAULT_ROOT_SEED
from peerwell.scenarios.experiments import posterior as post
from peerwell.scenarios.experiments.replicates import (
    PlannedRun,
    execute,
    plan,
    plan_replicates,
    replicate_seeds,
    signals_interrupt,
)
from peerwell.scenarios.experiments.store import (
    atomic_write_bytes,
    atomic_write_json,
    clean_store,
    folder_lock,
    provenance,
    read_metadata,
    remove_stale_temp_files,
)
from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import ModelParams
from peerwell.simulation.recorder import GROUP_COLUMNS, GROUPS


@dataclass
class PosteriorDraws:
    """The parameter draws of a comparison with a posterior (``posterior=``).

    Attributes
    ----------
    path : Path
        The posterior file read.
    sha256 : str
        Its checksum (comparison.json records it).
    seeds_per_draw : int
        Replicates per draw: replicate r runs draw ``r // seeds_per_draw``.
    draws : DataFrame
        One row per draw: ``row`` (the file's row) and a column per parameter.
    """

    path: Path
    sha256: str
    seeds_per_draw: int
    draws: pd.DataFrame

    @property
    def n_draws(self) -> int:
        return len(self.draws)

    @property
    def parameters(self) -> list[str]:
        return [c for c in self.draws.columns if c != "row"]

    def draw_of_replicate(self, replicate: int) -> int:
        return replicate // self.seeds_per_draw

    def describe(self) -> dict:
        """What a result says of the posterior it drew from (comparison.json, report.md)."""
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "draws": self.n_draws,
            "seeds_per_draw": self.seeds_per_draw,
            "parameters": self.parameters,
        }


@dataclass
class ComparisonResult:
    """What a comparison produced.

    Attributes
    ----------
    summary : DataFrame
        The contents of ``summary.csv``.
    trajectories : DataFrame
        Every run stacked: ``run_id, scenario, seed, replicate, people, step`` and all outcomes.
    runs : DataFrame
        One row per run: ``scenario, replicate, seed, run_id, file, status`` (``reused``,
        ``ran`` or ``rerun`` when a damaged file was run again).
    groups : DataFrame
        The contents of ``groups.csv``: every group of ``recorder.GROUPS`` per scenario, its
        measures over the replicates and their paired differences from the reference
        (``analysis.stats.groups_summary``), read from each run's stored metadata.
    subgroups : list of str
        The groups ``report.md`` has a table of (``subgroups=``).
    posterior : PosteriorDraws, optional
        With ``posterior=``: the posterior file and its draws (replicate r ran draw
        ``r // seeds_per_draw``).
    sobol : DataFrame, optional
        The contents of ``sobol.csv`` (at least ``stats.SOBOL_MIN_DRAWS`` draws).
    """

    output_dir: Path
    scenarios: list[str]
    replicates: int
    root_seed: int
    seeds: list[int]
    summary: pd.DataFrame
    trajectories: pd.DataFrame
    runs: pd.DataFrame
    params: dict[str, ModelParams]
    files: dict[str, Path] = field(default_factory=dict)
    wall_seconds: float = 0.0
    groups: pd.DataFrame | None = None
    subgroups: list[str] = field(default_factory=list)
    posterior: PosteriorDraws | None = None
    sobol: pd.DataFrame | None = None

    @property
    def reused(self) -> int:
        """How many runs were read back from ``runs/`` instead of run."""
        return int((self.runs["status"] == "reused").sum())


def _notify_stderr(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"peerwell: {message}", file=sys.stderr)


def _check_arguments(scenarios: Sequence[str], replicates: Any, root_seed: Any) -> list[str]:
    if isinstance(scenarios, str) or not isinstance(scenarios, Sequence) or not scenarios:
        raise ConfigError(
            f"scenarios must be a non-empty list of scenario names, e.g. [baseline,offline_only]; got {scenarios!r}"
        )
    names = [str(s) for s in scenarios]
    dupes = sorted({s for s in names if names.count(s) > 1})
    if dupes:
        raise ConfigError(f"scenarios lists {dupes} more than once; name each scenario once")
    check_scenario_names(names)
    if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
        raise ConfigError(f"replicates={replicates!r}: need a whole number of at least 1 (e.g. 30)")
    if isinstance(root_seed, bool) or not isinstance(root_seed, int) or root_seed < 0:
        raise ConfigError(f"seed={root_seed!r}: the root seed must be a non-negative integer")
    return names


def _check_subgroups(subgroups) -> list[str]:
    """The subgroups to report, each a group of ``recorder.GROUPS``, named once."""
    if subgroups is None:
        return []
    if isinstance(subgroups, str) or not isinstance(subgroups, Sequence):
        raise ConfigError(
            f"subgroups must be a list of group names, e.g. [vulnerable,not_vulnerable]; got "
            f"{subgroups!r}"
        )
    names = [str(g) for g in subgroups]
    for name in names:
        if name not in GROUPS:
            close = difflib.get_close_matches(name, list(GROUPS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(
                f"unknown subgroup {name!r}{hint}; the subgroups are {', '.join(GROUPS)}"
            )
    dupes = sorted({g for g in names if names.count(g) > 1})
    if dupes:
        raise ConfigError(f"subgroups lists {dupes} more than once; name each group once")
    return names


def _check_overrides(overrides) -> list[str] | dict:
    if overrides is None:
        return []
    if isinstance(overrides, str):
        raise ConfigError(
            f"overrides must be a list of 'key=value' strings or a dict, got {overrides!r}"
        )
    keys = (
        list(overrides)
        if isinstance(overrides, Mapping)
        else [str(o).split("=", 1)[0].lstrip("+~") for o in overrides]
    )
    if "seed" in keys:
        raise ConfigError(
            "seed is set per replicate (replicate r of every scenario shares its seed); "
            "choose the root seed instead (root_seed=..., or seed=... on `peerwell compare`)"
        )
    if "output_dir" in keys:
        raise ConfigError("output_dir is an argument of the comparison, not a model override")
    return dict(overrides) if isinstance(overrides, Mapping) else [str(o) for o in overrides]


def _check_posterior(posterior, draws, seeds_per_draw, replicates) -> tuple[int, int]:
    """The replicates of a comparison with or without a posterior, checked: ``(draws,
    seeds_per_draw)`` with a posterior (draws default 20), ``(replicates, 1)`` without."""

    def whole(name, value, least):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{name}={value!r}: need a whole number of at least {least}")
        return value

    if posterior is None:
        for name, value in (("draws", draws), ("seeds_per_draw", seeds_per_draw)):
            if value is not None:
                raise ConfigError(
                    f"{name}= needs posterior=FILE (the posterior.parquet to draw parameters from)"
                )
        return (30 if replicates is None else replicates), 1
    if replicates is not None:
        raise ConfigError(
            f"replicates={replicates} with posterior=: the replicates are draws × seeds_per_draw "
            "(give draws=N and seeds_per_draw=M instead of replicates=)"
        )
    n = whole("draws", 20 if draws is None else draws, 1)
    m = whole("seeds_per_draw", 2 if seeds_per_draw is None else seeds_per_draw, 1)
    return n, m


def _posterior_draws(
    path, n_draws: int, seeds_per_draw: int, root_seed: int, overrides
) -> PosteriorDraws:
    """Read the posterior and draw its parameter sets (refusing a user override of one)."""
    frame = post.load_posterior(path)
    keys = (
        list(overrides)
        if isinstance(overrides, Mapping)
        else [str(o).split("=", 1)[0].lstrip("+~") for o in overrides]
    )
    clash = [k for k in keys if k in post.parameters(frame)]
    if clash:
        raise ConfigError(
            f"{', '.join(clash)} is drawn from the posterior={path}; drop the override (or the "
            "posterior's column)"
        )
    p = post.posterior_file(path).resolve()
    return PosteriorDraws(p, post.sha256(p), seeds_per_draw, post.draw(frame, n_draws, root_seed))


def _load_draws(names: list[str], overrides, info: PosteriorDraws) -> list[dict[str, ModelParams]]:
    """Every scenario's params under each draw: the user's overrides, then the draw's (a row
    of the file drawn more than once is composed once)."""
    loaded: dict[int, dict[str, ModelParams]] = {}
    out = []
    for _, row in info.draws.iterrows():
        key = int(row["row"])
        if key not in loaded:
            if isinstance(overrides, Mapping):
                merged = {**overrides, **{k: float(row[k]) for k in info.parameters}}
            else:
                merged = [*overrides, *post.overrides(row)]
            loaded[key] = _load_all(names, merged)
        out.append(loaded[key])
    return out


def _load_all(names: list[str], overrides) -> dict[str, ModelParams]:
    """Every scenario's params, all validated before anything runs; one horizon for all."""
    base = {name: load_scenario(name, overrides) for name in names}
    steps = {name: p.steps for name, p in base.items()}
    if len(set(steps.values())) > 1:
        raise ConfigError(
            f"scenarios end on different days {steps}: set steps=... so all share one horizon"
        )
    return base


def _stack(planned: list[PlannedRun], frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All runs in one table, with ``replicate`` and ``people`` (population size) added."""
    parts = []
    for pr in planned:
        df = frames[pr.run_id].copy()
        df.insert(df.columns.get_loc("seed") + 1, "replicate", pr.replicate)
        df.insert(df.columns.get_loc("replicate") + 1, "people", pr.params.population.size)
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def _groups(planned: list[PlannedRun]) -> pd.DataFrame:
    """Every run's groups on its last day, from the metadata stored in its file (its columns
    in the order of ``recorder.GROUP_COLUMNS``: the metadata's keys are sorted)."""
    rows = []
    for pr in planned:
        for g in read_metadata(pr.path).get("groups", []):
            rows.append({"scenario": pr.scenario, "replicate": pr.replicate, **g})
    df = pd.DataFrame(rows)
    order = ["scenario", "replicate", *GROUP_COLUMNS]
    return df[[c for c in order if c in df] + [c for c in df if c not in order]]


def _save_figure(fig, stem: Path) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg``, each atomically, and close it."""
    paths = []
    for suffix, kw in ((".png", {"dpi": 110}), (".svg", {})):
        buf = io.BytesIO()
        fig.savefig(buf, format=suffix[1:], **kw)
        path = stem.with_suffix(suffix)
        atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    plt.close(fig)
    return paths


def write_figures(result: ComparisonResult, events: dict[str, list[int]]) -> dict[str, Path]:
    """Trajectories with bands, forest plot and benefits-vs-risks panel (PNG + SVG)."""
    folder = result.output_dir / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    outcomes = [o for o in stats.MAIN if o in result.trajectories.columns]
    bands = stats.trajectory_bands(result.trajectories, outcomes)
    files: dict[str, Path] = {}
    fig = compare_figures.trajectory_figure(bands, result.scenarios, outcomes, events)
    files["trajectories"] = _save_figure(fig, folder / "trajectories")[0]
    if len(result.scenarios) > 1:
        fig = compare_figures.forest_figure(result.summary)
        files["forest"] = _save_figure(fig, folder / "forest")[0]
        fig = compare_figures.benefits_risks_figure(result.summary)
        files["benefits_risks"] = _save_figure(fig, folder / "benefits_risks")[0]
    return files


def figures_fingerprint(result: ComparisonResult) -> str:
    """What the figures depend on: the runs, the scenario order, and the code that draws them."""
    h = hashlib.sha256(json.dumps([result.scenarios, list(result.runs["run_id"])]).encode())
    for module in (compare_figures, stats):
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()[:16]


def _previous_figures(out: Path, fingerprint: str) -> dict[str, Path] | None:
    """The figures of the last comparison in ``out`` if they were drawn from the same runs."""
    try:
        old = json.loads((out / "comparison.json").read_text())
    except (OSError, ValueError):
        return None
    files = {k: out / v for k, v in (old.get("figures") or {}).items()}
    if old.get("figures_fingerprint") != fingerprint or not files:
        return None
    for path in files.values():
        if not (path.exists() and path.with_suffix(".svg").exists()):
            return None
    return files


def _manifest(result: ComparisonResult, overrides, command: str | None) -> dict:
    any_params = next(iter(result.params.values()))
    return {
        "scenarios": result.scenarios,
        "reference": result.scenarios[0],
        "subgroups": result.subgroups,
        "replicates": result.replicates,
        "root_seed": result.root_seed,
        "seeds": result.seeds,
        "overrides": overrides,
        "command": command,
        "horizon": any_params.steps,
        "people": any_params.population.size,
        "runs": result.runs.to_dict(orient="records"),
        "posterior": _posterior_manifest(result.posterior),
        "figures": {
            k: str(result.files[k].relative_to(result.output_dir))
            for k in ("trajectories", "forest", "benefits_risks")
            if k in result.files
        },
        "figures_fingerprint": figures_fingerprint(result)
        if "trajectories" in result.files
        else None,
        "reused": result.reused,
        "ran": int(len(result.runs) - result.reused),
        "wall_time_seconds": round(result.wall_seconds, 3),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ci": {
            "level": stats.CI_LEVEL,
            "method": stats.CI_METHOD,
            "resamples": stats.N_RESAMPLES,
            "seed": stats.CI_SEED,
        },
        # The rule of the * marks of the table and report.md (stats' module doc).
        "marks": {
            "test": stats.TEST_METHOD,
            "adjust": stats.ADJUST_METHOD,
            "alpha": stats.ALPHA,
            "family": stats.marks_family(result.summary),
            "min_pairs": stats.MIN_PAIRS,
            "tested": len(result.scenarios) > 1 and stats.too_few_pairs(result.summary) is None,
        },
        **provenance(),
    }


def _uncertainty(
    summary: pd.DataFrame,
    horizon: pd.DataFrame,
    names: list[str],
    info: PosteriorDraws,
    seeds: list[int],
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """summary.csv with the uncertainty columns, and sobol.csv's table (None below
    ``stats.SOBOL_MIN_DRAWS`` draws)."""
    draw_of = {int(seed): info.draw_of_replicate(r) for r, seed in enumerate(seeds)}
    outcomes = list(dict.fromkeys(summary["outcome"]))
    extra = stats.uncertainty_table(horizon, draw_of, names, names[0], outcomes)
    summary = summary.merge(extra, on=["scenario", "outcome"], how="left", validate="1:1")
    if info.n_draws < stats.SOBOL_MIN_DRAWS or len(names) < 2:
        return summary, None
    means = stats.draw_mean_differences(horizon, draw_of, names, names[0], outcomes)
    inputs = info.draws[info.parameters]
    parts = []
    for scenario, g in means.groupby("scenario", sort=False):
        x = inputs.iloc[g["draw"].to_numpy()].reset_index(drop=True)
        for o in outcomes:
            s1 = stats.draw_sobol(x, g[o].to_numpy())
            s1.insert(0, "outcome", o)
            s1.insert(0, "scenario", scenario)
            parts.append(s1)
    return summary, pd.concat(parts, ignore_index=True)[stats.SOBOL_COLUMNS]


def _report_uncertainty(info: PosteriorDraws | None, sobol, out: Path) -> dict | None:
    """What report.md's section "Parameter uncertainty" needs (None without a posterior)."""
    if info is None:
        return None
    described = info.describe()
    return {
        "posterior": described.pop("path"),
        **described,
        "sobol": sobol,
        "sobol_file": "sobol.csv" if sobol is not None else None,
    }


def _posterior_manifest(info: PosteriorDraws | None) -> dict | None:
    if info is None:
        return None
    return {
        **info.describe(),
        "rows": [
            {"draw": d, "row": int(r["row"]), **{k: float(r[k]) for k in info.parameters}}
            for d, (_, r) in enumerate(info.draws.iterrows())
        ],
    }


def run_comparison(
    scenarios: list[str],
    replicates: int | None = None,
    overrides: list[str] | dict | None = None,
    output_dir: str | Path = "outputs/compare",
    n_jobs: int = -1,
    progress: bool = True,
    root_seed: int = DEFAULT_ROOT_SEED,
    *,
    figures: bool = True,
    notify: Callable[[str], None] | None = None,
    command: str | None = None,
    subgroups: Sequence[str] | None = None,
    posterior: str | Path | None = None,
    draws: int | None = None,
    seeds_per_draw: int | None = None,
) -> ComparisonResult:
    """Compare scenarios over replicates with common random numbers.

    Parameters
    ----------
    scenarios : list of str
        Scenario names; the first is the reference of every paired difference.
    replicates : int, optional
        Runs per scenario (default 30); replicate r of every scenario shares its seed. Not with
        ``posterior`` (its replicates are ``draws × seeds_per_draw``).
    overrides : list of str or dict, optional
        Model overrides applied to every scenario (``["steps=120", "population.size=1500"]`` or
        ``{"steps": 120}``); not ``seed`` (use ``root_seed``).
    output_dir : path
        Where ``runs/``, ``summary.csv``, ``figures/``, ``report.md`` and ``comparison.json``
        go. Runs already in ``runs/`` are reused; damaged ones are run again.
    n_jobs : int
        Parallel workers (joblib loky): -1 all cores, 1 serial in this process.
    progress : bool
        Show a progress bar on stderr.
    root_seed : int
        Root of ``numpy.random.SeedSequence(root_seed).spawn(replicates)``.
    figures : bool
        Draw the figures (the slowest output; the tables and report do not need them).
    notify : callable, optional
        Receives one-line messages (default: stderr).
    command : str, optional
        The command line, recorded in the report and manifest.
    subgroups : list of str, optional
        Groups of ``recorder.GROUPS`` (``["vulnerable", "not_vulnerable"]``) that ``report.md``
        shows, each in a table of its outcomes: the reference's level and every scenario's
        paired difference. ``groups.csv`` holds every group either way.
    posterior : path, optional
        A ``posterior.parquet`` (or the folder holding it) to draw parameter sets from
        (:mod:`.posterior`): replicate r = (draw d, seed s) of every scenario runs draw d's
        parameters, applied as overrides after ``overrides``, with replicate r's seed.
    draws : int, optional
        Parameter draws (default 20 with a posterior).
    seeds_per_draw : int, optional
        Seeds (replicates) per draw (default 2 with a posterior).

    Returns
    -------
    ComparisonResult
        ``.summary`` (summary.csv), ``.trajectories`` (all runs stacked), ``.runs``, ``.files``.

    Raises
    ------
    ConfigError
        An unknown scenario or subgroup (the message lists the known ones), a bad override or
        value, or scenarios with different horizons. Nothing is run then.
    PeerwellError
        ``FolderBusy`` (from ``peerwell.scenarios.experiments.store``): another command is writing into
        ``output_dir`` (named with its pid and command line). Nothing is written then.
    KeyboardInterrupt
        SIGINT or SIGTERM (``replicates.Terminated``): the workers are killed, finished runs kept.
    OSError
        ``output_dir`` cannot be written.
    """
    t0 = time.perf_counter()
    notify = notify or _notify_stderr
    n_draws, per_draw = _check_posterior(posterior, draws, seeds_per_draw, replicates)
    replicates = n_draws * per_draw
    names = _check_arguments(scenarios, replicates, root_seed)
    chosen = _check_subgroups(subgroups)
    overrides = _check_overrides(overrides)
    info = None
    if posterior is not None:
        info = _posterior_draws(posterior, n_draws, per_draw, root_seed, overrides)
    base = _load_all(names, overrides)
    by_draw = _load_draws(names, overrides, info) if info is not None else None
    seeds = replicate_seeds(root_seed, replicates)
    out = Path(output_dir).expanduser().resolve()
    # Nothing is written before the lock is held, and everything under it; SIGTERM unwinds
    # through here like SIGINT, so the workers are killed and the lock given back.
    with signals_interrupt(), folder_lock(out, command, hint="give another output_dir=..."):
        result = _compare_locked(
            names, base, seeds, root_seed, out, overrides, n_jobs, progress, figures, notify,
            command, t0, chosen, info, by_draw,
        )  # fmt: skip
        # The run locks the workers took, and temp files of figures a killed comparison left.
        clean_store(out)
        remove_stale_temp_files(out / "figures")
    return result


def _compare_locked(
    names: list[str],
    base: dict[str, ModelParams],
    seeds: list[int],
    root_seed: int,
    out: Path,
    overrides,
    n_jobs: int,
    progress: bool,
    figures: bool,
    notify: Callable[[str], None],
    command: str | None,
    t0: float,
    subgroups: list[str],
    info: PosteriorDraws | None = None,
    by_draw: list[dict[str, ModelParams]] | None = None,
) -> ComparisonResult:
    """The comparison proper, run while holding ``out``'s lock (see :func:`run_comparison`)."""
    replicates = len(seeds)
    if info is None or by_draw is None:
        planned = plan(base, seeds, out / "runs")
    else:
        per_replicate = [by_draw[info.draw_of_replicate(r)] for r in range(replicates)]
        planned = plan_replicates(per_replicate, seeds, out / "runs")
    frames = execute(planned, n_jobs=n_jobs, progress=progress, notify=notify, desc="compare")
    trajectories = _stack(planned, frames)
    horizon = stats.horizon_table(trajectories)
    summary = stats.summary_table(horizon, names, reference=names[0])
    sobol = None
    if info is not None:
        summary, sobol = _uncertainty(summary, horizon, names, info, seeds)
    runs = pd.DataFrame(
        [
            {
                "scenario": pr.scenario,
                "replicate": pr.replicate,
                **({"draw": info.draw_of_replicate(pr.replicate)} if info is not None else {}),
                "seed": pr.params.seed,
                "run_id": pr.run_id,
                "file": f"runs/{pr.path.name}",
                "status": pr.status,
            }
            for pr in planned
        ]
    )
    result = ComparisonResult(
        out,
        names,
        replicates,
        root_seed,
        seeds,
        summary,
        trajectories,
        runs,
        base,
        subgroups=subgroups,
        posterior=info,
        sobol=sobol,
    )
    atomic_write_bytes(out / "summary.csv", summary.to_csv(index=False).encode())
    result.files["summary"] = out / "summary.csv"
    (out / "sobol.csv").unlink(missing_ok=True)  # a previous comparison's, with more draws
    if sobol is not None:
        atomic_write_bytes(out / "sobol.csv", sobol.to_csv(index=False).encode())
        result.files["sobol"] = out / "sobol.csv"
    result.groups = stats.groups_summary(_groups(planned), reference=names[0])
    atomic_write_bytes(out / "groups.csv", result.groups.to_csv(index=False).encode())
    result.files["groups"] = out / "groups.csv"
    if figures:
        # Same runs, same drawing code: the figures on disk are already these figures.
        previous = _previous_figures(out, figures_fingerprint(result))
        if previous is None:
            events = {n: sorted({e.day for e in p.scenario.events}) for n, p in base.items()}
            previous = write_figures(result, events)
        result.files.update(previous)
    p0 = next(iter(base.values()))
    override_list = (
        [f"{k}={v}" for k, v in overrides.items()] if isinstance(overrides, dict) else overrides
    )
    text = report.render_report(
        summary,
        names,
        {n: " ".join(p.scenario.description.split()) for n, p in base.items()},
        {
            "replicates": replicates,
            "root_seed": root_seed,
            "horizon": p0.steps,
            "people": p0.population.size,
            "overrides": override_list,
            "command": command,
        },
        {
            caption: str(result.files[key].relative_to(out))
            for key, caption in (
                ("trajectories", "Trajectories with 95% CI bands"),
                ("forest", "Paired differences (forest plot)"),
                ("benefits_risks", "Benefits vs risks"),
            )
            if key in result.files
        },
        result.groups,
        {g: GROUPS[g] for g in subgroups},
        _report_uncertainty(info, sobol, out),
    )
    atomic_write_bytes(out / "report.md", text.encode())
    result.files["report"] = out / "report.md"
    result.wall_seconds = time.perf_counter() - t0
    atomic_write_json(out / "comparison.json", _manifest(result, override_list, command))
    result.files["manifest"] = out / "comparison.json"
    return result
