"""The production kernels reduce to classic models (issue 6): SIR, SIS, SISa, Maki–Thompson, DeGroot.

Every case runs ``PeerwellModel`` with the parameter mappings of ``scenarios/evidence/classic.py`` and
checks the result against the analytic answer with the tolerance the validation itself states,
which follows from N:

- SIR final size: 4·σ/√(N·R) + 1/N, σ from the final-size CLT (Andersson & Britton 2000, Thm
  4.2): at N = 5000 about ±0.02-0.08, depending on R0 (σ grows as R0 → 1).
- SIS/SISa endemic share: 4 standard errors of the time average, from the linear-noise
  approximation of the kernel's binomial transitions (long-run variance / days), + 1/N: at
  N = 3000 and 1000 days about ±0.005.
- Rumour: 4·1.15·σ_W/√(N·R) + 1/N, σ_W² = θ(1-θ)/(1-2θ) (Watson 1987), ×1.15 measured for the
  daily kernel: ±0.03 at N = 4000.
- DeGroot: 4 × the resolution at which the exchange kernel sees neighbours' self-stigma (it is
  quantised to 1/16383 in the packed tag: 2.4e-4), for every person's final value: the
  degree-weighted mean is conserved exactly in exact arithmetic, so only that rounding counts.
- One-step checks of each mapping: the daily transition counts are binomial, so ±4 SD.

Four SDs: a correct kernel fails a check about once in 16,000 — and the seeds are fixed, so a
passing case stays passing until the code changes.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from util import one_numba_thread  # noqa: F401  (autouse: one Numba thread here)

from peerwell.analysis import classic as A
from peerwell.scenarios.cli.core import main
from peerwell.scenarios.evidence import classic as V
from peerwell.simulation.errors import ConfigError

PEERWELL = str(Path(sys.executable).with_name("peerwell"))


# ---------------------------------------------------------------------------------------------
# The analytic answers themselves


def test_analytic_answers_known_values():
    assert A.sir_final_size(2.0) == pytest.approx(0.796812, abs=1e-6)  # z = 1 - e^{-2z}
    assert A.sir_final_size(0.9) == 0.0
    assert A.maki_thompson_theta() == pytest.approx(0.203188, abs=1e-6)
    assert A.maki_thompson_sd() ** 2 == pytest.approx(0.2727, abs=1e-4)
    # SISa with a = 0 is SIS: 1 - 1/R0 with R0 = βk/g.
    assert A.sisa_steady_state(0.0, 0.02, 0.1, 10) == pytest.approx(0.5)
    # the discrete map tends to the continuous answers as the daily rates shrink
    p = A.recovery_probability(1e-4)
    assert A.endemic_share_discrete(0.0, 2 * p, p) == pytest.approx(0.5, abs=1e-3)
    assert A.rumour_map_theta(1e-3, 1e-7) == pytest.approx(A.maki_thompson_theta(), abs=1e-3)
    # DeGroot on a star: the centre carries half the weight
    assert A.degroot_consensus(np.array([1.0, 0.0, 0.0, 0.0]), np.array([3, 1, 1, 1])) == 0.5


def test_enough_spreaders_that_early_extinction_is_negligible():
    for r0 in (1.3, 1.8, 4.0):
        m = A.spreaders_for(r0, 0.2)
        assert A.minor_outbreak_probability(r0, 0.2) ** m < 1e-6


# ---------------------------------------------------------------------------------------------
# One step of each mapping: the daily transition probabilities are exactly the classic ones


def _one_step(overrides, misled, corrected=0, seed=11):
    """One day from ``misled`` misled and ``corrected`` corrected people; states before and after."""
    model = V.make_model(overrides)
    n = model.params.population.size
    V.seed_spreaders(model, misled + corrected, seed)
    mi = model.state.cur["misinfo"]
    idx = np.flatnonzero(mi == 1)[:corrected]
    mi[idx] = 2
    before = mi.copy()
    model.step()
    after = model.state.cur["misinfo"]
    return n, before, after


def _binomial_ok(count, trials, p):
    sd = math.sqrt(trials * p * (1 - p))
    assert abs(count - trials * p) <= 4 * sd + 1e-9, (count, trials * p, sd)


def test_the_mapping_keeps_everyone_posting_one_health_post_a_day():
    """The contacts of the well-mixed contagion are everyone's one daily post: nobody's role may
    change over a run (a superuser burning out to contributing would post less, and the
    contagion would slow)."""
    ov = V.well_mixed_overrides(3000, 5, k=10.0, adoption=0.01, g=0.1, renewal=1.0, steps=300)
    model = V.make_model(ov)
    for _ in range(300):
        model.step()
    assert (model.state.cur["role"] == 2).all()
    assert model.state.scratch["posted"].all()


@pytest.mark.parametrize("kind", ["sir", "sisa", "rumor"])
def test_one_day_of_each_mapping(kind):
    n, k, g = 20_000, 10.0, 0.2
    if kind == "sir":
        beta, a = 0.03, 0.0
        ov = V.well_mixed_overrides(n, 5, k=k, adoption=beta, g=g)
        n, before, after = _one_step(ov, misled=4000)
        i = 4000 / n
        _binomial_ok(
            ((before == 0) & (after == 1)).sum(), (before == 0).sum(), -math.expm1(-beta * k * i)
        )
        _binomial_ok(((before == 1) & (after == 2)).sum(), (before == 1).sum(), -math.expm1(-g))
    elif kind == "sisa":
        a, beta = 0.05, 0.05
        hazard = a + beta * k
        ov = V.well_mixed_overrides(n, 5, k=k, adoption=hazard / k, g=g, renewal=1.0,
                                    prevalence=a / hazard)  # fmt: skip
        n, before, after = _one_step(ov, misled=4000, corrected=1000)
        i = 4000 / n
        _binomial_ok(
            ((before == 0) & (after == 1)).sum(),
            (before == 0).sum(),
            -math.expm1(-(a + beta * k * i)),
        )
        assert ((before == 2) & (after == 0)).sum() == 1000  # renewal 1: one day corrected
    else:
        beta, k = 0.05, 4.0
        ov = V.well_mixed_overrides(n, 5, k=k, adoption=beta, stifling=beta, correction=False)
        n, before, after = _one_step(ov, misled=4000, corrected=2000)
        i, aware = 4000 / n, 6000 / n
        _binomial_ok(
            ((before == 0) & (after == 1)).sum(), (before == 0).sum(), -math.expm1(-beta * k * i)
        )
        _binomial_ok(
            ((before == 1) & (after == 2)).sum(),
            (before == 1).sum(),
            -math.expm1(-beta * k * aware),
        )


# ---------------------------------------------------------------------------------------------
# The classic results, three or more parameter values each


@pytest.mark.parametrize("r0", [1.3, 1.8, 3.0])
def test_sir_final_size(r0):
    res = V.validate_model("sir", {"r0": r0, "population.size": 5000, "seed": 21})
    assert res["within_tolerance"], (
        res["simulated"]["final_size"],
        res["analytic"],
        res["tolerance"],
    )
    # the final size counts the initial spreaders; they move it from the classic z = 1 - exp(-R0 z)
    # by about their own share (and the pressure they add), no more
    i0 = res["simulated"]["initial_spreaders"] / 5000
    assert 0 < res["analytic"]["final_size"] - res["analytic"]["classic"] < 4 * i0
    assert res["analytic"]["minor_outbreak_risk"] < 1e-6


@pytest.mark.parametrize("r0", [1.5, 2.0, 3.0])
def test_sis_endemic_share(r0):
    res = V.validate_model("sis", {"r0": r0, "population.size": 3000, "days": 1000, "seed": 21})
    assert res["within_tolerance"], (
        res["simulated"]["endemic_share"],
        res["analytic"],
        res["tolerance"],
    )
    assert res["analytic"]["classic"] == pytest.approx(1 - 1 / r0)
    assert res["expected_textbook"] == pytest.approx(1 - 1 / r0)


def test_discrete_sis_fixed_point_and_its_step_limit():
    """The daily map's fixed point solves p·i = (1-i)(1-e^(-R0·p·i)); its closed-form inverse
    gives R0 back; it tends to 1 - 1/R0 as the step shrinks, at the first-order rate -γ·i0/2."""
    for r0, g in ((1.5, 0.5), (2.0, 0.05), (3.0, 0.2)):
        p = A.recovery_probability(g)
        star = A.sis_discrete(0.0, r0 * p, p)
        assert p * star == pytest.approx((1 - star) * -math.expm1(-r0 * p * star), abs=1e-14)
        assert A.sis_r0_for_share(star, p) == pytest.approx(r0, rel=1e-9)
        rows = A.sis_step_limit(0.0, r0 * p, p, steps=(1.0, 0.1, 0.01, 0.001))
        gaps = [abs(r["gap"]) for r in rows]
        assert gaps == sorted(gaps, reverse=True) and gaps[-1] < 1e-3 * p
        # first order: the gap is -γh·i0/2 + O(h²)
        i0 = 1 - 1 / r0
        assert rows[-1]["gap"] / (0.001 * p) == pytest.approx(-i0 / 2, rel=0.01)
    # SISa: the textbook is Hill et al.'s quadratic, the daily map tends to it
    a, b, p = 0.01, 0.1, A.recovery_probability(0.05)
    top = A.sis_textbook(a, b, p)
    assert (a + b * top) * (1 - top) == pytest.approx(p * top, abs=1e-14)
    assert abs(A.sis_step_limit(a, b, p, steps=(1e-4,))[0]["gap"]) < 1e-5
    assert A.sis_textbook(0.0, 0.2, 0.1) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("model", "given", "textbook_in"),
    [
        # a small step (daily rates ~0.005): the textbook 1 - 1/R0 lies within the interval
        ("sis", {"r0": 2.0, "g": 0.005, "days": 2000}, True),
        ("sisa", {"a": 0.001, "beta": 0.001, "g": 0.005, "k": 10, "days": 2000}, True),
        # a large step: the interval is tight enough that only the discrete correction fits
        ("sis", {"r0": 2.0, "g": 0.5, "days": 1000}, False),
        ("sisa", {"a": 0.1, "beta": 0.05, "g": 0.5, "k": 10, "days": 1000}, False),
    ],
)
def test_pure_sis_against_the_textbook_and_the_daily_map(model, given, textbook_in):
    """Pure SIS(a) (``exchange.renewal_same_day``): the simulated endemic share against the
    textbook steady state and the exact daily map, at N = 20,000."""
    res = V.validate_model(model, {**given, "population.size": 20_000, "seed": 21})
    assert res["mapping"]["exchange.renewal_same_day"] is True
    assert res["within"], (
        res["simulated"]["endemic_share"],
        res["simulated_ci"],
        res["expected_discrete"],
    )
    assert res["textbook_within"] is textbook_in, (res["simulated_ci"], res["expected_textbook"])
    lo, hi = res["simulated_ci"]
    if not textbook_in:  # the gap is many intervals wide, not a near miss
        assert res["expected_textbook"] - res["expected_discrete"] > 10 * (hi - lo)


@pytest.mark.parametrize(
    ("a", "beta", "g", "k"), [(0.002, 0.01, 0.05, 10), (0.01, 0.01, 0.05, 10), (0.04, 0.02, 0.1, 5)]
)
def test_sisa_steady_state(a, beta, g, k):
    res = V.validate_model(
        "sisa",
        {"a": a, "beta": beta, "g": g, "k": k, "population.size": 3000, "days": 1000, "seed": 21},
    )
    assert res["within_tolerance"], (
        res["simulated"]["endemic_share"],
        res["analytic"],
        res["tolerance"],
    )
    # Hill et al.'s steady state with the recovery rate 1/E[D] = 1 - e^-g (R0 = βk·E[D])
    p = A.recovery_probability(g)
    assert res["analytic"]["classic"] == pytest.approx(A.sis_textbook(a, beta * k, p))
    assert res["analytic"]["classic"] == pytest.approx(A.sisa_steady_state(a, beta, p, k))


@pytest.mark.parametrize(
    ("n", "beta", "k"), [(2000, 0.005, 4.0), (4000, 0.01, 4.0), (8000, 0.005, 6.0)]
)
def test_maki_thompson_share_never_reached(n, beta, k):
    res = V.validate_model("rumor", {"population.size": n, "beta": beta, "k": k, "seed": 21})
    assert res["within_tolerance"], (
        res["simulated"]["never_reached"],
        res["analytic"],
        res["tolerance"],
    )
    # the exact discrete-time answer is within a hundredth of θ = 0.2032 at these β·k
    assert abs(res["analytic"]["discrete_map"] - 0.2032) < 0.01


def _edge_list(path: Path, edges) -> Path:
    path.write_text("# a user's network\n" + "\n".join(f"{u} {v}" for u, v in edges) + "\n")
    return path


@pytest.mark.parametrize("network", ["barabasi_albert", "watts_strogatz", "complete", "edgelist"])
def test_degroot_consensus_is_the_degree_weighted_mean(network, tmp_path):
    given = {"network": network, "population.size": 300, "w": 0.5, "seed": 21}
    if network == "edgelist":  # a user's file: a random 6-regular graph
        edges = nx.random_regular_graph(6, 300, seed=4).edges()
        given["network.path"] = str(_edge_list(tmp_path / "net.txt", edges))
    if network == "watts_strogatz":
        given["network.rewire"] = 0.3
    res = V.validate_model("degroot", given)
    assert res["within_tolerance"], (res["simulated"], res["analytic"], res["tolerance"])
    if network == "barabasi_albert":  # unequal degrees: the simple mean is not the answer
        gap = abs(res["analytic"]["consensus"] - res["analytic"]["simple_mean"])
        assert gap > 10 * res["tolerance"]


def test_degroot_on_a_long_ring_stops_short_of_consensus_by_quantisation(tmp_path):
    # The exchange kernel sees neighbours' self-stigma in steps of 1/16383. On a graph of large
    # diameter (a ring of 300 with sparse chords: diameter 20) rounded averaging freezes in a
    # staircase: measured spread 1.3e-3 (21 steps) and the conserved mean off by 3.8e-4. This
    # records the size of that effect: about one step per unit of diameter.
    n = 300
    edges = [(i, (i + 1) % n) for i in range(n)] + [(i, (i * 7 + 3) % n) for i in range(0, n, 5)]
    path = _edge_list(tmp_path / "ring.txt", edges)
    res = V.validate_model(
        "degroot",
        {"network": "edgelist", "network.path": str(path), "population.size": n, "w": 0.9},
    )
    diameter = nx.diameter(nx.Graph(edges))
    step = res["analytic"]["peer_norm_resolution"]
    assert res["simulated"]["max_deviation"] <= 2 * diameter * step


# ---------------------------------------------------------------------------------------------
# The command


def test_contract_command_writes_validation_json(tmp_path):
    out = tmp_path / "sir"
    r = subprocess.run(
        [PEERWELL, "validate", "model=sir", "r0=1.8", "population.size=3000", "seed=3", f"output_dir={out}"],
        capture_output=True, text=True, env={**os.environ, "NUMBA_NUM_THREADS": "1"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    data = json.loads((out / "validation.json").read_text())
    assert {"model", "params", "simulated", "analytic"} <= set(data)
    assert data["model"] == "sir" and data["params"]["r0"] == 1.8
    assert data["params"]["population.size"] == 3000 and data["params"]["seed"] == 3
    assert "final_size" in data["simulated"] and "final_size" in data["analytic"]
    assert (out / "validation.png").stat().st_size > 5000
    assert "0.7" in r.stdout  # simulated and analytic printed side by side


SMALL_TABLE = {
    "sir": [{"r0": 2.0, "population.size": 2000}],
    "sis": [{"r0": 2.0, "population.size": 1000, "days": 300}],
    "sisa": [{"a": 0.01, "population.size": 1000, "days": 300}],
    "rumor": [{"population.size": n, "beta": 0.01} for n in (500, 1000)],
    "degroot": [{"network": "barabasi_albert", "population.size": 200}],
}


def test_validate_all_writes_table_report_and_one_figure_per_model(tmp_path, capsys, monkeypatch):
    # The command's plumbing on a small table (the full table takes minutes: see docs/validation.md).
    for name, cases in SMALL_TABLE.items():
        monkeypatch.setattr(V.MODELS[name], "table", cases)
    code = main(["validate", "all", f"output_dir={tmp_path}"])
    assert code == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "validation.json").read_text())
    assert {r["model"] for r in data["results"]} == set(V.MODELS)
    for name in V.MODELS:
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 5000
        assert f"figures/{name}.png" in (tmp_path / "validation.md").read_text()


def test_docs_page_links_figures_beside_it_wherever_the_data_go(tmp_path, capsys, monkeypatch):
    # `docs=` regenerates docs/validation.md: its figure links must resolve from the page, even
    # when output_dir sends the data to a scratch folder.
    for name, cases in SMALL_TABLE.items():
        monkeypatch.setattr(V.MODELS[name], "table", cases)
    page = tmp_path / "docs" / "validation.md"
    page.parent.mkdir()
    args = [f"docs={page}", f"output_dir={tmp_path / 'scratch'}", "calibration_replicates=1"]
    assert main(["validate", "all", *args]) == 0, capsys.readouterr().err
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", page.read_text())
    assert len(links) == len(V.MODELS)
    for link in links:
        assert not link.startswith(("/", "..")), link
        assert (page.parent / link).stat().st_size > 5000, link
    assert (tmp_path / "scratch" / "validation.json").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["model=seir"], ["seir", "sir", "sis", "sisa", "rumor", "degroot"]),
        (["model=sir", "gamma=0.1"], ["gamma", "r0", "k", "g", "seeds"]),
        (["model=sis", "r0=0.9"], ["r0=0.9", "endemic"]),
        (["model=sis", "r0=1"], ["r0=1.0", "endemic"]),
        (["model=sisa", "r0=2"], ["r0", "a", "beta", "g", "k"]),
        (["model=degroot", "network=edgelist"], ["network.path"]),
        (["model=degroot", "network=moebius"], ["moebius", "barabasi_albert"]),
        (["model=sir", "r0=abc"], ["r0", "abc"]),
        (["all", "r0=2"], ["r0", "seed", "scale"]),
        ([], ["model=MODEL", "all"]),
    ],
)
def test_bad_input_is_a_clear_error(args, words, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(
            ["validate", *args, f"output_dir={tmp_path}"]
            if args and args[0] != "all"
            else ["validate", *args]
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


def test_disconnected_network_is_refused():
    with pytest.raises(ConfigError, match="connected"):
        V.validate_model(
            "degroot", {"network": "sbm", "network.mean_degree": 0.5, "population.size": 200}
        )
