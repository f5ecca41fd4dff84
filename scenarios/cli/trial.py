"""`peerwell trial`: a published trial's design run inside the model.

peerwell trial design=horyzons_emergency population.size=1500 replicates=4 output_dir=/abs/path
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from peerwell.scenarios.cli.core import fail, options_and_overrides

# The designs are plain data (no model is loaded to list them): a wrong key is refused at once.
from peerwell.scenarios.evidence import trials as T
from peerwell.simulation.errors import PeerwellError

TRIAL_USAGE = """usage: peerwell trial design=NAME [population.size=N] [replicates=4] [seed=1]
                     [group.name=value ...] [output_dir=DIR]

Runs a published trial's design inside the model: who is enrolled (from the simulated people on
day 0), randomisation 1:1 (reproducible from the seed), what each arm receives, the follow-up,
the outcome and the effect-size statistic the publication reports, with a 95% CI over replicates
and people. Writes DIR/trial.json (design, arms, simulated, published, within, seed, config,
version) and DIR/trial.png (default DIR: outputs/trial/NAME). A simulated effect outside the
published interval is a finding about the model, reported, not an error.

designs:
{designs}

options:
  population.size=N   simulated people per replicate (default: the scenario's, 3000)
  replicates=4        worlds the trial is run in (the CI covers them and the people)
  seed=1              root seed (replicate seeds from SeedSequence(seed))
  output_dir=DIR      where trial.json and trial.png go
  group.name=value    any model parameter, e.g. mechanisms.hostility=false
"""

OPTIONS = {
    "design": (str, "a design name"),
    "replicates": (int, "a whole number, 1 or more"),
    "seed": (int, "a whole number, 0 or more"),
    "output_dir": (str, "a folder"),
}


def usage() -> str:
    return TRIAL_USAGE.format(designs="\n".join("  " + line for line in T.design_lines()))


def _pairs(args: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for arg in args:
        if "=" not in arg:
            fail(f"expected key=value, got {arg!r}\n\n{usage()}")
        key, value = arg.split("=", 1)
        key = key.strip()
        if key in out:
            fail(f"{key}= given twice ({out[key]!r} and {value.strip()!r}); give it once")
        out[key] = value.strip()
    return out


def _fmt(x: float, statistic: str) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:.2f}" if statistic == "odds_ratio" else f"{x:+.2f}"


def _print(result: dict) -> None:
    d, sim, pub = result["design"], result["simulated"], result["published"]
    st = sim["statistic"]
    table = Table(title=f"peerwell trial {d['name']}: {result['replicates']} replicates, N = "
                  f"{result['config']['population.size']}, {d['follow_up_days']} days "
                  f"({result['seconds']} s)")  # fmt: skip
    for col in ("arm", "n", "baseline", "follow-up"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    label = "share" if d["outcome_kind"] == "binary" else "mean"
    for arm in ("intervention", "control"):
        a = result["arms"][arm]
        table.add_row(arm, str(a["n"]), f"{a[f'baseline_{label}']:.3f}",
                      f"{a[f'follow_up_{label}']:.3f}")  # fmt: skip
    Console().print(table)
    lo, hi = sim["ci"]
    plo, phi = pub["ci"]
    print(f"outcome: {d['outcome']}")
    print(f"simulated {st}: {_fmt(sim['effect'], st)} [{_fmt(lo, st)}, {_fmt(hi, st)}]")
    print(f"published {st}: {_fmt(pub['effect'], st)} [{_fmt(plo, st)}, {_fmt(phi, st)}]  "
          f"({pub['source'].split('.')[0]} ...)")  # fmt: skip
    within = result["within"]
    word = "compatible" if within else "NOT compatible" if within is False else "not measured"
    print(f"within: {word} (z = {result['z']:.2f}; {result['within_rule']})")


def trial_command(args: list[str]) -> int:
    """`peerwell trial design=NAME ...`: run one virtual trial, write trial.json and trial.png."""
    if not args or any(a in ("-h", "--help", "help") for a in args):
        print(usage())
        return 0
    pairs = _pairs(args)
    if "design" not in pairs:
        fail(f"give design=NAME, one of: {', '.join(T.DESIGNS)}\n\n{usage()}")
    known = {**OPTIONS, "population.size": (int, "a whole number of people")}
    opts, overrides = options_and_overrides(pairs, known, "trial", model_keys=())
    population_size = opts.pop("population.size", None)
    name = opts["design"]
    if name not in T.DESIGNS:
        fail(f"unknown design {name!r}; known designs: {', '.join(T.DESIGNS)}")
    if opts.get("replicates", 4) < 1:
        fail(f"replicates={opts['replicates']}: give 1 or more")
    if opts.get("seed", 1) < 0:
        fail(f"seed={opts['seed']}: give 0 or more")
    out = Path(opts.get("output_dir", f"outputs/trial/{name}"))
    try:
        result = T.run_trial(
            name,
            population_size=population_size,
            replicates=opts.get("replicates", 4),
            seed=opts.get("seed", 1),
            overrides=overrides,
        )
        from peerwell.analysis.trials import trial_figure

        out.mkdir(parents=True, exist_ok=True)
        text = json.dumps(result, indent=1, allow_nan=True, default=_json) + "\n"
        (out / "trial.json").write_text(text)
        trial_figure(result, out / "trial.png")
    except PeerwellError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write results: {exc.strerror or exc}")
    _print(result)
    print(f"wrote {out}/trial.json, trial.png")
    return 0


def _json(x):
    import numpy as np

    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(type(x))


COMMANDS = {
    "trial": (
        "a published trial's design in the model: peerwell trial design=NAME (--help lists them)",
        trial_command,
    ),
}
