"""`peerwell scenarios` and `peerwell compare`: the scenario catalogue and comparisons.

``peerwell compare scenarios=[baseline,moderated_community,offline_only] replicates=30
output_dir=/abs/path steps=120 population.size=1500``: the comparison's own keys are
``scenarios, replicates, output_dir, seed`` (the root seed), ``n_jobs``, ``progress``,
``figures``, ``subgroups`` (groups whose effects report.md shows) and ``posterior, draws,
seeds_per_draw`` (parameter uncertainty from a posterior sample); every other ``key=value`` is a model override applied to every scenario (checked by
Hydra against the typed schema, so an unknown key or a bad value is refused before anything runs).
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
import textwrap
from dataclasses import dataclass, field

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from rich.console import Console
from rich.table import Table

from peerwell.scenarios.catalogue import list_scenarios
from peerwell.scenarios.cli.core import did_you_mean, fail, flag_problem
from peerwell.scenarios.config import DEFAULT_ROOT_SEED, RunConfig
from peerwell.simulation.errors import PeerwellError


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
    subgroups: list[str] = field(default_factory=list)
    posterior: str | None = None  # posterior.parquet (or its folder) to draw parameters from
    draws: int | None = None  # parameter draws from the posterior (default 20)
    seeds_per_draw: int | None = None  # seeds (replicates) per draw (default 2)


OPTION_KEYS = tuple(CompareOptions.__dataclass_fields__)


def _usage() -> str:
    from peerwell.analysis.stats import ALPHA, MIN_PAIRS, SOBOL_MIN_DRAWS
    from peerwell.simulation.recorder import GROUPS

    d = CompareOptions()
    paragraphs = [
        f"Runs every scenario `replicates` times; replicate r of every scenario shares its "
        f"seed (common random numbers, seeds from SeedSequence(seed), default seed={d.seed}). "
        "The first scenario is the reference of every paired difference. Any model override "
        "(steps=120 population.size=1500 ...) applies to every scenario. n_jobs runs are made "
        "at once: 1 one after another in this process, -1 (the default) one per core, -2 all "
        "cores but one. Finished runs in OUTPUT_DIR/runs/ are reused, so rerunning a killed "
        "comparison resumes, and more replicates add to the ones there.",
        f"Writes into OUTPUT_DIR (default {d.output_dir}): runs/ (one file per run), "
        "summary.csv, groups.csv (every subgroup), figures/, report.md and comparison.json; "
        "prints the paired differences. A difference is marked * when its paired t-test, "
        "Holm-adjusted over every outcome and scenario of the table, gives "
        f"p < {ALPHA:g}; with fewer than {MIN_PAIRS} replicates nothing is marked (too few "
        "pairs to test), and the table and report.md say so. `peerwell scenarios` lists the "
        "scenarios.",
        "subgroups=[vulnerable,not_vulnerable] adds a table to report.md for each group "
        "named: its outcomes in the first scenario and every scenario's paired difference. "
        f"The groups: {', '.join(GROUPS)}.",
        "posterior=FILE carries parameter uncertainty: FILE is a posterior.parquet (of "
        "`peerwell calibrate method=abc`, or its folder). draws parameter sets (default 20) "
        "are drawn from it by weight, each run with seeds_per_draw seeds (default 2): "
        "replicate r = (draw d, seed s) of every scenario runs draw d's parameters (after the "
        "model overrides) with the same seed. replicates= is then draws × seeds_per_draw and "
        "cannot be given. summary.csv gains diff_ui_low, diff_ui_high (95% of the "
        "per-replicate differences over draws and seeds), param_var_share (the share of a "
        "difference's variance due to the parameters; needs 2+ draws and 2+ seeds per draw) "
        f"and ui_low, ui_high of each level; with draws >= {SOBOL_MIN_DRAWS}, sobol.csv holds "
        "each difference's first-order Sobol' index of each parameter. report.md adds "
        '"Parameter uncertainty".',
    ]
    fill = "\n\n".join(
        textwrap.fill(p, width=80, break_on_hyphens=False, break_long_words=False)
        for p in paragraphs
    )
    return f"""usage: peerwell compare scenarios=[A,B,...] [replicates={d.replicates}]
         [output_dir=PATH] [seed=N] [n_jobs={d.n_jobs}] [progress=true]
         [figures=true] [subgroups=[G,...]]
         [posterior=FILE [draws=20] [seeds_per_draw=2]] [MODEL_OVERRIDE ...]

{fill}"""


def __getattr__(name: str) -> str:
    # COMPARE_USAGE (the docs print it) is made on use: its numbers come from the statistics
    # module, which loads SciPy, and a command line must be checked before that (seconds).
    if name == "COMPARE_USAGE":
        return _usage()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_compare_args(args: list[str]) -> tuple[CompareOptions, list[str]]:
    """Split ``key=value`` arguments into the comparison's options and model overrides.

    Raises
    ------
    PeerwellError
        (as ``ConfigError``) an argument is not ``key=value``, a comparison option has the wrong
        type, or ``scenarios`` is missing.
    """
    from peerwell.simulation.errors import ConfigError

    problem = flag_problem("compare", list(args))
    if problem:
        raise ConfigError(problem)
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
            if override.is_sweep_override():
                raise ConfigError(_sweep_message(arg, key))
            value = override.value()
            if key in ("scenarios", "subgroups") and isinstance(value, str):
                value = [value]  # scenarios=baseline (subgroups=vulnerable) is a list of one
            options[key] = value
        elif key == "scenario":
            raise ConfigError("compare takes scenarios=[a,b,...] (a list), not scenario=")
        else:
            _check_model_key(key.lstrip("+~"))
            model.append(arg)
    if options.get("posterior") is not None and "replicates" in options:
        raise ConfigError(
            f"replicates={options['replicates']} with posterior=: the replicates are draws × "
            "seeds_per_draw (give draws=N and seeds_per_draw=M instead)"
        )
    if options.get("posterior") is None:
        for key in ("draws", "seeds_per_draw"):
            if options.get(key) is not None:
                raise ConfigError(f"{key}= needs posterior=FILE (the posterior to draw from)")
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


def _sweep_message(arg: str, key: str) -> str:
    """`scenarios=a,b` is Hydra's sweep syntax; compare takes a list in brackets."""
    value = arg.partition("=")[2]
    if key in ("scenarios", "subgroups"):
        return (
            f"{arg}: write the {key} as a list in brackets, {key}=[{value}] (without "
            "brackets, a,b is a sweep over values, which compare does not take)"
        )
    return f"{arg}: {key} takes one value, not a sweep over several"


def _model_keys() -> list[str]:
    """The top-level keys of the model's config (and its config groups)."""
    return [f.name for f in dataclasses.fields(RunConfig) if f.name not in ("output_dir",)]


def _check_model_key(key: str) -> None:
    """Refuse a key that is neither the comparison's nor the model's, naming both lists.

    Hydra would refuse it too, but listing the model's keys only: `replicate=2` must be told
    about `replicates`, which is the comparison's own key.
    """
    from peerwell.simulation.errors import ConfigError

    head = key.split(".")[0].split("/")[0]
    known = _model_keys()
    if head in known or head == "hydra":
        return
    if "." in key:
        hint = did_you_mean(head, known, f"{{}}.{key.partition('.')[2]}")
    else:
        hint = did_you_mean(head, [*OPTION_KEYS, *known])
    raise ConfigError(
        f"unknown key {key!r}; {hint + ' ' if hint else ''}compare's own keys are "
        f"{', '.join(OPTION_KEYS)}; the model's are {', '.join(known)} (`peerwell params` "
        "lists every parameter)"
    )


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


def _header(name: str, width: int = 12) -> str:
    """A scenario name broken after its underscores into lines of at most ``width`` characters
    (where it can be), so that a column is as wide as its numbers, not its name."""
    parts = name.split("_")
    pieces = [p + "_" for p in parts[:-1]] + parts[-1:]
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1]) + len(piece) <= width:
            lines[-1] += piece
        else:
            lines.append(piece)
    return "\n".join(lines)


def _cells(result) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The table's outcomes, and per scenario and outcome the printed cell: the reference's
    level, or a paired difference with its mark (none when there are too few pairs)."""
    import pandas as pd

    from peerwell.analysis.stats import MAIN, OUTCOME_BY_NAME, too_few_pairs

    s = result.summary
    ref = result.scenarios[0]
    marks = too_few_pairs(s) is None
    outcomes = [o for o in MAIN if o in set(s["outcome"])]
    by = s.set_index(["scenario", "outcome"])
    cells: dict[str, dict[str, str]] = {}
    for scenario in result.scenarios:
        row = cells[scenario] = {}
        for o in outcomes:
            r = by.loc[(scenario, o)]
            k = 100.0 if OUTCOME_BY_NAME[o].unit == "share" else 1.0
            if scenario == ref:
                row[o] = f"{k * r['mean']:.4g}"
            elif marks:
                star = "*" if bool(pd.notna(r["significant"]) and r["significant"]) else " "
                row[o] = f"{k * r['diff']:+.3g}{star}"
            else:
                row[o] = f"{k * r['diff']:+.3g}"
    return outcomes, cells


def _title(result) -> str:
    ref = result.scenarios[0]
    return f"day {int(result.summary['step'].max())}: {ref} levels, paired differences from {ref}"


def _wide_table(result, outcomes, cells) -> Table:
    """One row per scenario, one column per outcome (for a wide terminal)."""
    table = Table(title=_title(result))
    table.add_column("scenario", no_wrap=True)
    for o in outcomes:
        table.add_column(SHORT.get(o, o), justify="right", no_wrap=True)
    for scenario in result.scenarios:
        table.add_row(scenario, *(cells[scenario][o] for o in outcomes))
    return table


def _tall_table(result, outcomes, cells, scenarios: list[str]) -> Table:
    """One row per outcome, one column per scenario (for a narrow terminal)."""
    table = Table(title=_title(result))
    table.add_column("outcome", no_wrap=True)
    for scenario in scenarios:
        table.add_column(_header(scenario), justify="right", no_wrap=True)
    for o in outcomes:
        table.add_row(SHORT.get(o, o), *(cells[s][o] for s in scenarios))
    return table


def _fits(console: Console, table: Table) -> bool:
    from rich.measure import Measurement

    # Measured without the console's limit (which rich would apply), as it would print unsqueezed.
    unbounded = console.options.update_width(1_000_000)
    return Measurement.get(console, unbounded, table).maximum <= console.width


def differences_tables(result, console: Console) -> list[Table]:
    """The printed table of a comparison, laid out to fit ``console.width`` without cutting a
    number: scenarios as rows when that fits, else outcomes as rows, with the scenarios split
    over as many tables (each led by the reference) as the width needs."""
    outcomes, cells = _cells(result)
    wide = _wide_table(result, outcomes, cells)
    if _fits(console, wide):
        return [wide]
    ref, others = result.scenarios[0], result.scenarios[1:]
    tables: list[Table] = []
    while others:
        take = len(others)
        while take > 1 and not _fits(
            console, _tall_table(result, outcomes, cells, [ref, *others[:take]])
        ):
            take -= 1
        tables.append(_tall_table(result, outcomes, cells, [ref, *others[:take]]))
        others = others[take:]
    return tables


def table_notes(result) -> list[str]:
    """What the printed numbers are, and what a mark means (or why there is none)."""
    from peerwell.analysis.report import marks_rule, power_warning

    notes = ["Shares in %, their differences in percentage points; activation in PAM points."]
    warning = power_warning(result.summary)
    notes.append(f"Not tested. {warning}" if warning else marks_rule(result.summary) + ".")
    return notes


def compare_command(args: list[str]) -> int:
    """`peerwell compare`: run a comparison and print the paired differences."""
    if any(a in ("-h", "--help", "help") for a in args):
        print(_usage())
        return 0
    opts = None
    try:
        opts, model = parse_compare_args(args)
        # The model, joblib and the figures (seconds) load once the options are known good.
        from peerwell.scenarios.experiments.compare import run_comparison

        result = run_comparison(
            opts.scenarios,
            None if opts.posterior is not None else opts.replicates,
            model,
            opts.output_dir,
            n_jobs=opts.n_jobs,
            progress=opts.progress,
            root_seed=opts.seed,
            figures=opts.figures,
            command=" ".join(["peerwell", "compare", *map(shlex.quote, args)]),
            subgroups=opts.subgroups,
            posterior=opts.posterior,
            draws=opts.draws,
            seeds_per_draw=opts.seeds_per_draw,
        )
    except PeerwellError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted: finished runs are kept in runs/; rerun the same command to resume", 130)
    except OSError as exc:
        where = opts.output_dir if opts is not None else "the output folder"
        fail(f"cannot write the comparison to {where!r}: {exc.strerror or exc}")
    # The terminal's width (COLUMNS first); piped output (a log file), where there is no
    # terminal, gets a wide table rather than one squeezed to 80 columns.
    console = Console(width=shutil.get_terminal_size((160, 24)).columns)
    if len(result.scenarios) > 1:
        for table in differences_tables(result, console):
            console.print(table)
        for note in table_notes(result):
            console.print(note, highlight=False, markup=False)
    n = len(result.runs)
    console.print(
        f"{n} runs: {result.reused} reused, {n - result.reused} run; "
        f"{result.wall_seconds:.1f} s. Wrote {result.output_dir}/: summary.csv, "
        f"{'sobol.csv, ' if 'sobol' in result.files else ''}groups.csv, report.md, "
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
    # The terminal's width (COLUMNS first); 120 when piped, where there is no terminal.
    Console(width=shutil.get_terminal_size((120, 24)).columns).print(table)
    return 0


COMMANDS = {
    "scenarios": ("list the scenario catalogue with what each scenario asks", scenarios_command),
    "compare": (
        "compare scenarios over replicates: peerwell compare scenarios=[baseline,offline_only] "
        "replicates=30 output_dir=/abs/path",
        compare_command,
    ),
}
