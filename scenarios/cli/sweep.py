"""Sub-commands `sweep`, `collect` and `sensitivity` of the `peerwell` command.

``peerwell sweep`` checks the command line (unknown parameter names, empty ranges, design
options, sample counts SALib rejects) before Hydra starts, adds ``-m`` and, for a sampled design,
the ``design_chunk=range(0,N)`` sweep that hands each job its share of the design points; the
Hydra app then validates every run's values (see ``sweep.SweepCallback``) before any job starts,
and runs them in a few batch jobs (``sweep._batched_sweep``).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import os
import sys
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, ValueType
from hydra.errors import HydraException
from rich.console import Console
from rich.table import Table

from peerwell.scenarios.cli.core import fail, quote_for_hydra
from peerwell.scenarios.experiments import design as dz
from peerwell.scenarios.experiments.sweep import (
    OPTION_KEYS,
    SweepConfig,
    command_started,
    design_spec,
    sweep_app,
)
from peerwell.simulation.errors import PeerwellError

DESIGN_OPTIONS = ("design", "samples", "params", "levels", "second_order", "design_seed")
DESIGN_OPTIONS += ("model", "chunk_size")


def _known_keys() -> tuple[set[str], set[str]]:
    """Dotted leaf keys and group-node keys of the sweep schema."""
    leaves, nodes = set(), set()
    for f in dataclasses.fields(SweepConfig):
        default = getattr(SweepConfig, f.name, None)
        sub = f.default_factory() if f.default_factory is not dataclasses.MISSING else default
        if dataclasses.is_dataclass(sub):
            nodes.add(f.name)
            for g in dataclasses.fields(sub):
                leaves.add(f"{f.name}.{g.name}")
        else:
            leaves.add(f.name)
    return leaves, nodes


def _config_groups() -> set[str]:
    root = importlib.resources.files("peerwell.conf")
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("__")}


def _split_args(args: list[str]) -> tuple[list[str], list[str]]:
    """(overrides, everything else: flags and their values), order kept within each."""
    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    return overrides, [a for a in args if a not in overrides]


def _parse(overrides: list[str]) -> list[Override]:
    try:
        return OverridesParser.create().parse_overrides(overrides)
    except HydraException as exc:
        fail(f"cannot read the command line: {exc}")
        raise  # not reached


def check_overrides(parsed: list[Override]) -> dict[str, Any]:
    """Refuse unknown keys and empty ranges; return the design options given (last one wins).

    Raises
    ------
    SystemExit
        Via ``fail`` with a message naming the key and what would be right.
    """
    leaves, nodes = _known_keys()
    groups = _config_groups()
    options: dict[str, Any] = {}
    for ov in parsed:
        key = ov.key_or_group
        if key == "hydra" or key.startswith(("hydra.", "hydra/")):
            continue
        if key in groups:
            continue  # Hydra names the options of a group when one does not exist
        if key not in leaves and key not in nodes:
            close = difflib.get_close_matches(key, sorted(leaves), n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            fail(
                f"unknown parameter {key!r} (in {ov.input_line}){hint} — "
                "`peerwell run --cfg job` lists every parameter"
            )
        if ov.is_sweep_override():
            if key in OPTION_KEYS:
                fail(f"{ov.input_line}: {key} is a sweep option and cannot take several values")
            if ov.value_type != ValueType.GLOB_CHOICE_SWEEP and ov.is_discrete_sweep():
                if not list(ov.sweep_string_iterator()):
                    fail(
                        f"{ov.input_line} is an empty range: it gives no values "
                        f"(e.g. {key}=range(1,5) gives 1,2,3,4)"
                    )
            elif not ov.is_discrete_sweep():
                fail(
                    f"{ov.input_line}: a sweep lists values (a,b,c or range(a,b,step)); "
                    "interval() is for optimizers — for a sampled design use design=lhs "
                    f"params=[{key}:LO:HI]"
                )
        if key in OPTION_KEYS:
            if key in ("design_chunk", "batch"):
                fail(f"{key} is set by `peerwell sweep` itself; do not give it")
            value = ov.value()
            if key == "batches" and (type(value) is not int or value < 0):
                fail(f"{ov.input_line}: give the number of batch jobs (0: one per worker)")
            options[key] = value
    return options


def parallel_workers(parsed: list[Override]) -> int:
    """How many jobs the chosen launcher runs at once (to cut a design into enough chunks)."""
    from joblib import cpu_count

    launcher, n_jobs, array = "joblib", None, None
    for ov in parsed:
        if ov.key_or_group == "hydra/launcher":
            launcher = str(ov.value())
        elif ov.key_or_group == "hydra.launcher.n_jobs":
            n_jobs = int(ov.value())
        elif ov.key_or_group == "hydra.launcher.array_parallelism":
            array = int(ov.value())
    cores = cpu_count()
    if launcher == "joblib" and n_jobs:
        # joblib's convention: -1 is every core, -2 all but one, ...
        return n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
    if launcher in ("slurm", "submitit_slurm"):
        return array or 64  # conf/hydra/launcher/slurm.yaml's array_parallelism
    return cores


def prepare_sweep_argv(args: list[str]) -> list[str]:
    """Check a `peerwell sweep` command line and return the argv of the Hydra app."""
    overrides, flags = _split_args(args)
    parsed = _parse(overrides)
    options = check_overrides(parsed)
    try:
        spec = design_spec({k: v for k, v in options.items() if k in DESIGN_OPTIONS})
    except PeerwellError as exc:
        fail(str(exc))
    if spec is not None:
        size = int(options.get("chunk_size") or 0)
        if size < 0:
            fail(f"chunk_size={size}: give a positive number of design points per job (0: auto)")
        if size == 0:
            size = dz.auto_chunk_size(spec, parallel_workers(parsed))
            overrides = [*overrides, f"chunk_size={size}"]
        overrides = [*overrides, f"design_chunk=range(0,{dz.n_chunks(spec, size)})"]
    if not any(ov.key_or_group == "hydra.sweep.dir" for ov in parsed):
        overrides = [*overrides, f"hydra.sweep.dir={default_sweep_dir(parsed)}"]
    # A sweep is always a multirun, unless the user asks Hydra to show something instead.
    showing = {"--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help"}
    showing |= {"--shell-completion", "-sc", "--resolve"}
    if not ({"-m", "--multirun"} | showing) & set(flags):
        flags = ["-m", *flags]
    return [*flags, *overrides]


def default_sweep_dir(parsed: list[Override]) -> str:
    """``$PWD/multirun/<scenario>/sweep-<key>``: a folder of the sweep's own, when none is given.

    The key is a hash of the overrides that choose the runs (every one but ``hydra...`` and the
    options of how the runs are shared out), in any order: the same command resumes its sweep,
    and another sweep (other keys or values) gets a folder of its own instead of pooling its
    runs with the first's (issue 24). A sweep extended with more values gets a new folder too;
    give both commands the same ``hydra.sweep.dir=...`` to extend one store.
    """
    import hashlib

    scenario = "baseline"  # conf/sweep.yaml's default
    chosen = []
    for ov in parsed:
        key = ov.key_or_group
        if key == "hydra" or key.startswith(("hydra.", "hydra/")):
            continue
        if key in ("batches", "chunk_size", "threads"):
            continue  # how the runs are shared out, not which runs
        if key == "scenario":
            scenario = "scenarios" if ov.is_sweep_override() else str(ov.value())
        chosen.append(ov.input_line.strip())
    key = hashlib.sha256("\n".join(sorted(chosen)).encode()).hexdigest()[:8]
    # Absolute: workers kept warm from an earlier sweep (or on other nodes) have their own cwd.
    return str(Path.cwd() / "multirun" / Path(scenario).stem / f"sweep-{key}")


def _one_thread_per_job_env() -> None:
    # Loky and submitit start fresh interpreters that read these when numpy loads: one BLAS
    # thread per job, as for Numba (threads=1), since the launcher fills the cores with jobs.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def sweep_help() -> str:
    """`peerwell sweep --help`: what a sweep writes, where, and its defaults, in one screen.

    Hydra's own help (about 190 lines of config) stays one command away: ``--hydra-help`` and
    ``--cfg job``. The defaults are read from the schema and the design module.
    """
    d = SweepConfig()
    samples = ", ".join(f"{k} {v}" for k, v in dz.DEFAULT_SAMPLES.items())
    return f"""usage: peerwell sweep -m KEY=A,B,C [KEY=range(1,11) ...] [key=value ...]
         [hydra.sweep.dir=DIR] [hydra/launcher=joblib|submitit_local|slurm|dask]
       peerwell sweep design=lhs|random|morris|sobol [samples=N] [params=[...]]

Runs every combination of the listed values (a grid; or a sampled design) and
writes each run once into a resumable store:
  DIR/runs/<run_id>.parquet  one run's trajectories (+ .json: config, seed, ...)
  DIR/sweep.json             the plan: overrides, swept keys, run_ids, designs
  DIR/design.csv             a sampled design's points
  DIR/jobs/, multirun.yaml   Hydra's record of the jobs
Gather them with `peerwell collect DIR` (one table, optional heatmap).

Where: DIR is hydra.sweep.dir, by default
  multirun/<scenario>/sweep-<hash of the overrides>
The same command again resumes its own store (finished runs are reused, even
after kill -9); another sweep gets a folder of its own. Give two commands the
same DIR to extend one sweep with more values.

Defaults: scenario=baseline network=sbm seed=42 (sweep: seed=range(1,11));
launcher joblib on every core, {d.threads} Numba thread per run, batches={d.batches} (one
per worker); design={d.design}; levels={d.levels} (Morris); design_seed={d.design_seed}.
samples=0 means {samples}
(Morris runs samples x (params+1), Sobol samples x (params+2)).

Examples:
  peerwell sweep -m communities.moderation=0,0.5,1 seed=range(1,11)
  peerwell sweep design=lhs samples=200 params=[communities.moderation:0:1]
  peerwell sweep -m seed=range(1,101) hydra/launcher=slurm hydra.sweep.dir=/abs
  peerwell sensitivity method=sobol outcome=care_seeking_share

A value is refused before any run starts: "peerwell: error: ..." on stderr,
exit code 2. Ctrl-C exits 130; rerun the same command to resume.
More: docs/sweeps.md, docs/reference/cli.md, --hydra-help, --cfg job."""


def sweep_command(args: list[str]) -> int:
    """`peerwell sweep`: run a Hydra multirun of the model into a resumable store."""
    if any(a in ("-h", "--help", "help") for a in args):
        print(sweep_help())
        return 0
    # The clock of the summary of where the time went; a `peerwell` process's own age is the
    # driver's start-up (not so when a program runs the command in its own process).
    fresh_process = Path(sys.argv[0]).name == "peerwell"
    command_started(fresh_process)
    argv = prepare_sweep_argv(args)
    _one_thread_per_job_env()
    _quiet_resource_trackers()
    saved = sys.argv
    sys.argv = ["peerwell-sweep", *argv]
    interrupted = False
    try:
        sweep_app()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        sys.argv = saved
    if interrupted:
        # Finished runs are in the store, which the same command resumes from; Python's
        # traceback through Hydra and joblib (about 170 lines) would say none of that.
        _stop_workers()
        fail("interrupted; run the same command again to resume", 130)
    if fresh_process:
        # The sweep is over and its workers idle: stopping them now spares the process's exit
        # waiting for each to wind down (about 0.4 s). A program running the command in its own
        # process keeps them, warm, for its next sweep.
        _stop_workers()
    return 0


# The resource trackers (multiprocessing's and loky's) are processes started with this
# interpreter's -W options. A worker stopped mid-run (Ctrl-C) cannot unregister the lock its
# progress bar made; the tracker removes it at exit, and says so in a warning that is no concern
# of the user's and would follow the one-line message.
TRACKER_WARNING = "ignore:resource_tracker:UserWarning"


def _quiet_resource_trackers() -> None:
    if TRACKER_WARNING not in sys.warnoptions:
        sys.warnoptions.append(TRACKER_WARNING)


def _stop_workers() -> None:
    """Stop the joblib launcher's worker processes now, not when their runs end.

    A SIGINT sent to this process alone (kill -INT, a scheduler) does not reach the workers, and
    loky keeps them for its next call; its exit hook stops them only when this process exits. A
    caller that catches the SystemExit (the command run in-process, as the tests do) would leave
    them computing runs nobody waits for. A second Ctrl-C meanwhile is ignored, so that the stop
    ends in the one-line message rather than a traceback from inside it.
    """
    loky = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(loky, "_executor", None)
    if executor is None:
        return
    import signal
    import threading

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        executor.shutdown(wait=True, kill_workers=True)
    except Exception as exc:  # the stop is a courtesy: never let it hide the message below
        print(f"peerwell: could not stop every worker: {exc}", file=sys.stderr)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------------------------------------


def _key_values(args: list[str], allowed: dict[str, str], command: str) -> dict[str, str]:
    out = {}
    for a in args:
        key, sep, value = a.partition("=")
        if not sep or key not in allowed:
            known = ", ".join(f"{k}= ({v})" for k, v in allowed.items())
            fail(f"peerwell {command}: cannot use {a!r}; it takes {known}")
        out[key] = value
    return out


COLLECT_KEYS = {
    "heatmap": "two swept parameters, x,y",
    "outcome": "outcome column of the heatmap, default care_seeking_share",
    "step": "day of the heatmap, default the last",
    "mixed": "true: merge runs of different sweep designs in one folder (refused by default)",
}
COLLECT_HELP = (
    "Gathers every finished run of a sweep folder into SWEEP_DIR/collected.parquet and .csv (one "
    "row per run and recorded day, the swept values as columns); a damaged run file is reported "
    "by name and left out. heatmap=X,Y also draws the outcome over two swept parameters."
)
SENSITIVITY_HELP = (
    "Samples the declared parameters with SALib (Morris elementary effects or Saltelli/Sobol), "
    "runs the samples as a resumable sweep, and writes sensitivity.csv and a figure. Every other "
    "key=value is a model override or a sweep option (params=[...], samples=N, seed=1,2,3, "
    "hydra/launcher=submitit_local); see docs/sweeps.md."
)


def _help(usage: str, keys: dict[str, str], text: str) -> str:
    lines = [f"usage: peerwell {usage} [key=value ...]", "", text, "", "keys:"]
    lines += [f"  {k:<12} {v}" for k, v in keys.items()]
    return "\n".join(lines)


def collect_command(args: list[str]) -> int:
    """`peerwell collect SWEEP_DIR [heatmap=X,Y] [outcome=NAME] [step=DAY]`."""
    from peerwell.scenarios.experiments.collect import collect, write_collected

    if any(a in ("-h", "--help", "help") for a in args):
        print(_help("collect SWEEP_DIR", COLLECT_KEYS, COLLECT_HELP))
        return 0
    if not args or "=" in args[0]:
        fail("usage: peerwell collect SWEEP_DIR [heatmap=PARAM_X,PARAM_Y] [outcome=NAME]")
    sweep_dir = Path(args[0])
    opts = _key_values(args[1:], COLLECT_KEYS, "collect")
    mixed = opts.get("mixed", "false").lower()
    if mixed not in ("true", "false"):
        fail(f"mixed={opts['mixed']}: give mixed=true or mixed=false")
    try:
        result = collect(sweep_dir, mixed=mixed == "true")
        pq_path, csv_path = write_collected(result, sweep_dir)
    except PeerwellError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write into {sweep_dir}: {exc.strerror or exc}")
    for name, reason in result.skipped:
        Console(stderr=True, soft_wrap=True).print(
            f"[yellow]peerwell: skipped {name}[/]: {reason}", highlight=False, markup=True
        )
    print(
        f"collected {result.runs} runs, {len(result.table)} rows "
        f"(swept: {', '.join(result.swept) or 'nothing besides seed/scenario'}) into {pq_path} "
        f"and {csv_path}"
        + (f"; skipped {len(result.skipped)} unreadable run files" if result.skipped else "")
    )
    numeric = [c for c in result.swept if _is_numeric(result.table[c])]
    pair = None
    if "heatmap" in opts:
        pair = [p.strip() for p in opts["heatmap"].split(",")]
        if len(pair) != 2 or not all(pair):
            fail(f"heatmap={opts['heatmap']}: give two swept parameters, heatmap=X,Y")
        for p in pair:
            if p not in result.table.columns:
                fail(f"heatmap: {p!r} is not a column of the collected table; swept: {numeric}")
    elif len(numeric) == 2 and result.table["scenario"].nunique() == 1:
        pair = numeric  # a two-parameter sweep gets its map without asking
    if pair:
        # seaborn and scipy.stats (about 2 s): only for a sweep that gets its map.
        from peerwell.analysis.heatmap import horizon_grid, plot_heatmap

        outcome = opts.get("outcome", "care_seeking_share")
        if outcome not in result.table.columns:
            fail(f"outcome={outcome!r} is not a column of the collected table")
        step = None
        if "step" in opts:
            try:
                step = int(opts["step"])
            except ValueError:
                fail(f"step={opts['step']!r} must be a whole day number")
        try:
            grid = horizon_grid(result.table, pair[0], pair[1], outcome, step=step)
        except (KeyError, ValueError) as exc:
            fail(str(exc).strip("'\""))
        base = sweep_dir / f"heatmap_{outcome}"
        png = plot_heatmap(
            grid,
            base,
            outcome=outcome,
            x=pair[0],
            y=pair[1],
            step_label=f"day {step}" if step is not None else "",
        )
        grid.to_csv(base.with_suffix(".csv"))
        print(f"heatmap of {outcome} over {pair[0]} × {pair[1]}: {png} (and .svg, .csv)")
    return 0


def _is_numeric(series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


# ---------------------------------------------------------------------------------------------

SA_KEYS = {
    "method": "morris or sobol",
    "outcome": "outcome column (default care_seeking_share)",
    "output_dir": "where the runs, sensitivity.csv and the figure go "
    "(default outputs/sensitivity/METHOD)",
    "conf_level": "confidence level of the intervals (default 0.95)",
}


def _sensitivity_budget() -> str:
    """The default sample counts and the runs they make, which decide how long it takes."""
    from peerwell.scenarios.experiments.hooks import DEFAULT_PARAMS

    k = len(DEFAULT_PARAMS)
    morris, sobol = dz.DEFAULT_SAMPLES["morris"], dz.DEFAULT_SAMPLES["sobol"]
    return (
        f"\n\nRuns (one per design point and seed; default seed: one): samples=N sets the budget. "
        f"method=morris takes N trajectories (default {morris}) of k+1 points; method=sobol N "
        f"(a power of two, default {sobol}) times k+2 points (2k+2 with second_order=true). "
        f"With the default k={k} parameters: {morris * (k + 1)} runs for morris and "
        f"{sobol * (k + 2)} for sobol. Writes OUTPUT_DIR/sensitivity.csv, sensitivity.png and "
        ".svg, and the sweep's runs/."
    )


def _near_own_key(key: str) -> str | None:
    """``key`` is not known to the sweep but is a near miss of a sensitivity key: the message."""
    leaves, nodes = _known_keys()
    if key in leaves or key in nodes or key in _config_groups() or "." in key:
        return None
    close = difflib.get_close_matches(key, list(SA_KEYS), n=1)
    if not close:
        return None
    return (
        f"unknown key {key!r}; did you mean {close[0]}? sensitivity's own keys are "
        f"{', '.join(SA_KEYS)}; every other key=value is a sweep option or model parameter"
    )


def sensitivity_command(args: list[str]) -> int:
    """`peerwell sensitivity method=morris|sobol [params=[...]] [outcome=...] [samples=N] ...`."""
    from peerwell.scenarios.experiments.hooks import get_model
    from peerwell.scenarios.experiments.sensitivity import METHODS, analyze_sweep

    if any(a in ("-h", "--help", "help") for a in args):
        text = SENSITIVITY_HELP + _sensitivity_budget()
        print(_help("sensitivity method=morris|sobol", SA_KEYS, text))
        return 0
    overrides, flags = _split_args(args)
    if flags:
        fail(
            f"peerwell sensitivity takes key=value arguments only, not {' '.join(flags)} "
            "(replicates: seed=1,2,3; another launcher: hydra/launcher=submitit_local)"
        )
    parsed = _parse(overrides)
    own: dict[str, Any] = {}
    forwarded = []
    for text, ov in zip(overrides, parsed):
        if ov.key_or_group in SA_KEYS:
            if ov.is_sweep_override():
                fail(f"{text}: {ov.key_or_group} takes one value")
            own[ov.key_or_group] = ov.value()
        elif ov.key_or_group == "design":
            fail(f"{text}: peerwell sensitivity chooses the design from method=morris|sobol")
        else:
            near = _near_own_key(ov.key_or_group)
            if near:
                fail(near)
            forwarded.append(text)
    method = str(own.get("method", "morris"))
    if method not in METHODS:
        fail(f"method={method!r} is unknown; choose one of {', '.join(METHODS)}")
    model_name = "peerwell"
    for ov in parsed:
        if ov.key_or_group == "model":
            model_name = str(ov.value())
    try:
        hook = get_model(model_name)
        outcomes = hook.outcomes
    except PeerwellError as exc:
        fail(str(exc))
    outcome = str(own.get("outcome", hook.default_outcome))
    if outcome not in outcomes:
        close = difflib.get_close_matches(outcome, outcomes, n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        fail(f"outcome={outcome!r} is not an outcome of the model{hint} (outcomes: {outcomes})")
    try:
        conf_level = float(own.get("conf_level", 0.95))
    except (TypeError, ValueError):
        conf_level = -1.0
    if not 0 < conf_level < 1:
        fail(f"conf_level={own.get('conf_level')!r} must be a number between 0 and 1, e.g. 0.95")
    out = Path(str(own.get("output_dir", f"outputs/sensitivity/{method}"))).resolve()
    sweep_command(quote_for_hydra([f"design={method}", f"hydra.sweep.dir={out}", *forwarded]))
    try:
        result = analyze_sweep(out, outcome, conf_level=conf_level)
    except PeerwellError as exc:
        fail(str(exc))
    _print_indices(result.table, method, outcome)
    print(
        f"wrote {result.csv} ({len(result.table)} parameters, {result.n_runs} runs) and "
        f"{result.figure} (and .svg)"
    )
    return 0


def _print_indices(table, method: str, outcome: str) -> None:
    cols = (
        ["rank", "parameter", "mu_star", "mu_star_conf", "sigma"]
        if method == "morris"
        else ["rank", "parameter", "S1", "S1_conf", "ST", "ST_conf"]
    )
    t = Table(title=f"{method} sensitivity of {outcome} at the horizon")
    for c in cols:
        t.add_column(c, justify="left" if c == "parameter" else "right")
    for row in table[cols].itertuples(index=False):
        t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    Console().print(t)


COMMANDS = {
    "sweep": (
        "parameter sweep (Hydra multirun, resumable): peerwell sweep -m "
        "communities.moderation=0,0.5,1 seed=range(1,11) hydra.sweep.dir=/abs/path "
        "(or design=lhs samples=200 params=[...])",
        sweep_command,
    ),
    "collect": (
        "gather a sweep into SWEEP_DIR/collected.parquet and .csv: peerwell collect SWEEP_DIR "
        "[heatmap=X,Y outcome=...]",
        collect_command,
    ),
    "sensitivity": (
        "Morris/Sobol' sensitivity (SALib): peerwell sensitivity method=morris "
        "outcome=care_seeking_share output_dir=/abs/path",
        sensitivity_command,
    ),
}
