"""`peerwell calibrate method=abc|morris`: parameter uncertainty (priors, screen, posterior).

peerwell calibrate method=morris [trajectories=10] [output_dir=DIR] [docs=docs/uncertainty.md]
peerwell calibrate method=abc [budget=default|small|N] [population=N] [output_dir=DIR]
                              [launcher=dask address=tcp://HOST:8786] [key=value ...]
"""

from __future__ import annotations

import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from peerwell.scenarios.cli.core import fail, options_and_overrides
from peerwell.simulation.errors import PeerwellError

METHODS = ("least_squares", "abc", "morris")

ABC_KEYS = {
    "method": (str, "abc"),
    "budget": (str, "small, default or a number of model evaluations"),
    "population": (int, "an integer (particles per generation)"),
    "seed": (int, "an integer"),
    "n_jobs": (int, "an integer (-1: all cores)"),
    "launcher": (str, "local or dask"),
    "address": (str, "a Dask scheduler address, e.g. tcp://host:8786"),
    "priors": (str, "a priors YAML file"),
    "screen": (str, "a screen.csv of `peerwell calibrate method=morris`"),
    "output_dir": (str, "a folder"),
}
MORRIS_KEYS = {
    "method": (str, "morris"),
    "trajectories": (int, "an integer (Morris trajectories)"),
    "seed": (int, "an integer"),
    "n_jobs": (int, "an integer (-1: all cores)"),
    "priors": (str, "a priors YAML file"),
    "output_dir": (str, "a folder"),
    "docs": (str, "a Markdown file (docs/uncertainty.md)"),
}


def run_method(method: str, pairs: dict[str, str], command: str) -> int:
    """Dispatch ``method=abc`` and ``method=morris`` (``least_squares`` is ``fit=true``)."""
    if method == "abc":
        return _abc(pairs, command)
    if method == "morris":
        return _morris(pairs, command)
    fail(f"method={method!r}: choose one of {', '.join(METHODS)}")
    return 2


def _abc(pairs: dict[str, str], command: str) -> int:
    from peerwell.scenarios.evidence import abc as B

    opts, overrides = options_and_overrides(
        pairs, ABC_KEYS, "calibrate method=abc", ("steps", "record_every", "network")
    )
    out = Path(opts.get("output_dir", "outputs/abc"))
    try:
        result = B.run_abc(
            overrides,
            output_dir=out,
            budget=opts.get("budget", "default"),
            population=opts.get("population"),
            seed=opts.get("seed", 1),
            n_jobs=opts.get("n_jobs", -1),
            launcher=opts.get("launcher", "local"),
            address=opts.get("address"),
            priors_path=opts.get("priors"),
            screen_path=opts.get("screen"),
        )
    except PeerwellError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write results: {exc.strerror or exc}")
    d = result["diagnostics"]
    table = Table(
        title=f"peerwell calibrate method=abc: {d['total_simulations']} evaluations, "
        f"{len(d['generations'])} generations, ESS {d['final_effective_sample_size']:.0f} "
        f"({result['seconds']} s)"
    )
    for col in ("parameter", "prior", "default", "posterior mean", "95% CrI"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for r in result["summary"].itertuples():
        table.add_row(r.parameter, r.prior, f"{r.default:.4g}", f"{r.posterior_mean:.4g}",
                      f"[{r.ci_low:.4g}, {r.ci_high:.4g}]")  # fmt: skip
    Console().print(table)
    ppc = result["ppc"]
    print(f"posterior predictive: {int(ppc['covered'].sum())} of {len(ppc)} calibration "
          "targets in the 95% interval")  # fmt: skip
    print(f"wrote {out}/posterior.parquet, posterior.csv, ppc.csv, diagnostics.json, abc.md, "
          "figures/")  # fmt: skip
    return 0


def _morris(pairs: dict[str, str], command: str) -> int:
    from peerwell.scenarios.evidence import priors as P
    from peerwell.scenarios.evidence import screen as S

    opts, overrides = options_and_overrides(
        pairs, MORRIS_KEYS, "calibrate method=morris", ("steps", "record_every", "network")
    )
    out = Path(opts.get("output_dir", "outputs/screen"))
    try:
        priors = P.load_priors(opts.get("priors"))
        result = S.run_screen(
            priors,
            overrides,
            trajectories=opts.get("trajectories", 10),
            seed=opts.get("seed", 1),
            n_jobs=opts.get("n_jobs", -1),
        )
        S.write(result, out)
        if "docs" in opts:
            Path(opts["docs"]).write_text(S.docs_markdown(result, priors, command))
    except PeerwellError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write results: {exc.strerror or exc}")
    table = Table(title=f"peerwell calibrate method=morris ({result['seconds']} s)")
    for col in ("parameter", "μ*/SE target", "μ*/σ contrast", "selected"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for r in result["table"].itertuples():
        table.add_row(r.parameter, _f(r.target_mu_star), _f(r.contrast_mu_star),
                      "yes" if r.selected else "no")  # fmt: skip
    Console().print(table)
    print(f"wrote {out}/screen.csv, screen_effects.csv, screen_points.csv, screen.md"
          + (f" and {opts['docs']}" if "docs" in opts else ""))  # fmt: skip
    return 0


def _f(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:.2f}"
