"""`peerwell scenarios` and `peerwell compare`: the scenario catalogue and comparisons.

``peerwell compare scenarios=[baseline,moderated_community,offline_only] replicates=30
output_dir=/abs/path steps=120 population.size=1500``: the comparison's own keys are
``scenarios, replicates, output_dir, seed`` (the root seed), ``n_jobs``, ``progress`` and
``figures``; every other ``key=value`` is a model override applied to every scenario (checked by
Hydra against the typed schema, so an unknown key or a bad value is refused before anything runs).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from rich.console import Console
from rich.table import Table

from peerwell.simulation.errors import PeerwellError

from .catalogue import list_scenarios
from .cli import fail
from .config import DEFAULT_ROOT_SEED


@dataclass
class CompareOptions:
    """The comparison's own keys (everything else is a model override)."""

    scenarios: list[str] = field(default_factory=lambda: MISSING)
    replicates: int = 30
    output_dir: str = "outputs/compare"
    seed: int = DEFAULT_ROOT_SEED
    n_jobs: int = -1
    progress: bool = True
    figures: bool = True


OPTION_KEYS = tuple(CompareOptions.__dataclass_fields__)

COMPARE_USAGE = """usage: peerwell compare scenarios=[A,B,...] [replicates=30] [output_dir=PATH] [seed=N]
                        [n_jobs=-1] [progress=true] [figures=true] [MODEL_OVERRIDE ...]

Runs every scenario `replicates` times; replicate r of every scenario shares its seed (common
random numbers, seeds from SeedSequence(seed)). The first scenario is the reference of every
paired difference. Any model override (steps=120 population.size=1500 ...) applies to every
scenario. n_jobs runs are made at once: 1 one after another in this process, -1 one per core,
-2 all cores but one. Finished runs in OUTPUT_DIR/runs/ are reused, so rerunning a killed
comparison resumes. Writes runs/, summary.csv, figures/, report.md and comparison.json into
OUTPUT_DIR. `peerwell scenarios` lists the scenarios."""


def parse_compare_args(args: list[str]) -> tuple[CompareOptions, list[str]]:
    """Split ``key=value`` arguments into the comparison's options and model overrides.

    Raises
    ------
    PeerwellError
        (as ``ConfigError``) an argument is not ``key=value``, a comparison option has the wrong
        type, or ``scenarios`` is missing.
    """
    from peerwell.simulation.errors import ConfigError

    parser = OverridesParser.create()
    options: dict = {}
    model: list[str] = []
    for arg in args:
        try:
            override = parser.parse_overrides([arg])[0]
        except HydraException as exc:
            raise ConfigError(f"cannot parse {arg!r}: {str(exc).splitlines()[0]}") from None
        key = override.key_or_group
        if key in OPTION_KEYS:
            value = override.value()
            if key == "scenarios" and isinstance(value, str):
                value = [value]  # scenarios=baseline means a list of one
            options[key] = value
        elif key == "scenario":
            raise ConfigError("compare takes scenarios=[a,b,...] (a list), not scenario=")
        else:
            model.append(arg)
    if "scenarios" not in options:
        raise ConfigError(
            "compare needs scenarios=[a,b,...] (the first is the reference); "
            "`peerwell scenarios` lists them"
        )
    try:
        merged = OmegaConf.merge(OmegaConf.structured(CompareOptions), options)
        opts = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        key = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("full_key:")), "")
        raise ConfigError(f"{key}: {lines[0]}" if key else lines[0]) from None
    if opts.n_jobs == 0:
        # joblib's meaning of n_jobs: 1 runs in this process, N > 1 that many worker processes,
        # -1 one per core and -k all cores but k-1; 0 means nothing to it, and it would refuse it
        # only after the scenarios have been composed, with a traceback.
        raise ConfigError(
            "n_jobs=0: give the number of runs at once, n_jobs=1 (one after another, in this "
            "process) or more, or n_jobs=-1 for one per core (-2: all cores but one, ...)"
        )
    return opts, model


# Short column heads of the printed table (report.md and summary.csv have the full labels).
SHORT = {
    "activation_mean": "activation",
    "care_seeking_share": "seek+care %",
    "in_care_share": "in care %",
    "wellbeing_mental_mean": "mental wb",
    "wellbeing_physical_mean": "physical wb",
    "self_stigma_mean": "self-stigma",
    "belonging_mean": "belonging",
    "misinformation_belief_mean": "misinfo %",
}


def _differences_table(result) -> Table:
    """One row per scenario: the reference's levels, then each scenario's paired differences."""
    from peerwell.analysis.stats import MAIN, OUTCOME_BY_NAME

    s = result.summary
    ref = result.scenarios[0]
    outcomes = [o for o in MAIN if o in set(s["outcome"])]
    table = Table(
        title=f"day {int(s['step'].max())}: {ref} levels, then paired differences from {ref} "
        "(* 95% CI excludes 0; shares in %, differences in percentage points)"
    )
    table.add_column("scenario", no_wrap=True)
    for o in outcomes:
        table.add_column(SHORT.get(o, o), justify="right", no_wrap=True)
    by = s.set_index(["scenario", "outcome"])
    for scenario in result.scenarios:
        cells = []
        for o in outcomes:
            r = by.loc[(scenario, o)]
            k = 100.0 if OUTCOME_BY_NAME[o].unit == "share" else 1.0
            if scenario == ref:
                cells.append(f"{k * r['mean']:.4g}")
            else:
                star = "*" if bool(r["diff_excludes_zero"]) else " "
                cells.append(f"{k * r['diff']:+.3g}{star}")
        table.add_row(scenario, *cells)
    return table


def compare_command(args: list[str]) -> int:
    """`peerwell compare`: run a comparison and print the paired differences."""
    if any(a in ("-h", "--help", "help") for a in args):
        print(COMPARE_USAGE)
        return 0
    opts = None
    try:
        opts, model = parse_compare_args(args)
        # The model, joblib and the figures (seconds) load once the options are known good.
        from .compare import run_comparison

        result = run_comparison(
            opts.scenarios,
            opts.replicates,
            model,
            opts.output_dir,
            n_jobs=opts.n_jobs,
            progress=opts.progress,
            root_seed=opts.seed,
            figures=opts.figures,
            command=" ".join(["peerwell", "compare", *map(shlex.quote, args)]),
        )
    except PeerwellError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted: finished runs are kept in runs/; rerun the same command to resume", 130)
    except OSError as exc:
        where = opts.output_dir if opts is not None else "the output folder"
        fail(f"cannot write the comparison to {where!r}: {exc.strerror or exc}")
    # Piped output (a log file) gets a wide table rather than one squeezed to 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 160)
    if len(result.scenarios) > 1:
        console.print(_differences_table(result))
    n = len(result.runs)
    console.print(
        f"{n} runs: {result.reused} reused, {n - result.reused} run; "
        f"{result.wall_seconds:.1f} s. Wrote {result.output_dir}/: summary.csv, report.md, "
        f"figures/, comparison.json, runs/",
        highlight=False,
        soft_wrap=True,
    )
    return 0


def scenarios_command(args: list[str]) -> int:
    """`peerwell scenarios`: every scenario with its description."""
    if args in (["-h"], ["--help"], ["help"]):
        print(
            "usage: peerwell scenarios\n\nLists the scenario catalogue (conf/scenario/*.yaml and "
            "the generated ablations no_MECHANISM): the question each scenario asks and the part "
            "of the conceptual model it exercises. Run one with peerwell run scenario=NAME."
        )
        return 0
    if args:
        fail(f"`peerwell scenarios` takes no arguments, got {' '.join(args)!r}")
    table = Table(
        title="peerwell scenarios (peerwell run scenario=NAME; peerwell compare scenarios=[A,B])"
    )
    table.add_column("scenario", no_wrap=True, style="bold")
    table.add_column("question it answers, and the part of the conceptual model it exercises")
    for name, description in list_scenarios():
        table.add_row(name, description)
    Console(width=max(Console().width, 120) if not sys.stdout.isatty() else None).print(table)
    return 0


COMMANDS = {
    "scenarios": ("list the scenario catalogue with what each scenario asks", scenarios_command),
    "compare": (
        "compare scenarios over replicates: peerwell compare scenarios=[baseline,offline_only] "
        "replicates=30 output_dir=/abs/path",
        compare_command,
    ),
}
