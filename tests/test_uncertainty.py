"""Parameter uncertainty: priors, the Morris screen and `peerwell calibrate method=abc` (issue 21).

- ``conf/evidence/priors.yaml`` loads, every range holds its default and has a basis, and a wrong
  entry is refused naming the prior and what would be right;
- the screen's selection rule, and a small screen that finds the parameter a target is made of
  (the schizophrenia self-stigma mean moves the schizophrenia self-stigma target the most);
- ABC: held-out targets never reach the distance (a held-out anchor is refused, and the fitted
  anchors are exactly calibration targets); the posterior file's contract; the calibration pins
  down a parameter the targets identify and leaves one they do not near its prior (direction and
  size); one process is reproducible to the bit; an interrupted calibration resumes from its
  database, and other settings in the same folder are refused.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from util import one_numba_thread, peerwell_here  # noqa: F401  (autouse: one Numba thread here)

from peerwell.scenarios.evidence import abc as B
from peerwell.scenarios.evidence import calibrate as C
from peerwell.scenarios.evidence import priors as P
from peerwell.scenarios.evidence import screen as S
from peerwell.scenarios.evidence import targets as T
from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import ModelParams, get_param

SMALL = ["population.size=300", "steps=120"]
PINNED, LOOSE = "population.stigma_mean_schizophrenia", "care.seek_rate"


# ---------------------------------------------------------------------------------------------
# Priors


def test_every_prior_holds_its_default_and_says_why():
    priors = P.load_priors()
    assert len(priors) >= 15
    defaults = ModelParams()
    for p in priors:
        assert p.lo <= float(get_param(defaults, p.name)) <= p.hi, p
        assert len(p.basis) > 10, p
        u = np.array([0.0, 0.5, 1.0])
        assert np.allclose(p.ppf(u)[[0, 2]], [p.lo, p.hi]), p  # the unit interval onto the range
    log = next(p for p in priors if p.distribution == "loguniform")
    assert log.ppf(0.5) == pytest.approx(np.sqrt(log.lo * log.hi))  # flat in log(value)


@pytest.mark.parametrize(
    "entry, words",
    [
        ({"name": "entry.nope"}, ["entry.nope", "not a model parameter"]),
        ({"distribution": "normal"}, ["distribution 'normal'", "uniform"]),
        ({"lo": 0.03, "hi": 0.04}, ["must hold the default 0.02"]),
        ({"distribution": "loguniform", "lo": 0.0}, ["log-uniform", "lo > 0"]),
        ({"hi": 2.0}, ["allowed [0, 1]"]),
    ],
)
def test_a_wrong_prior_is_refused_naming_what_is_wrong(tmp_path, entry, words):
    good = {"name": "entry.join_rate", "distribution": "uniform", "lo": 0.01, "hi": 0.04,
            "basis": "plausible range"}  # fmt: skip
    path = tmp_path / "priors.yaml"
    path.write_text(json.dumps({"priors": [{**good, **entry}]}))
    with pytest.raises(ConfigError) as err:
        P.load_priors(path)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_the_screen_file_selects_only_parameters_with_priors():
    fitted = P.screened(P.load_priors())
    assert 3 <= len(fitted) <= S.MAX_SELECTED
    table = pd.read_csv(P.default_path("screen.csv"))
    assert set(table["parameter"]) == {p.name for p in P.load_priors()}  # the screen is current


def test_the_selection_rule():
    effects = pd.DataFrame([
        {"parameter": "a", "output": "t1", "kind": "target", "normalised": 1.5},
        {"parameter": "a", "output": "c1", "kind": "contrast", "normalised": 0.1},
        {"parameter": "b", "output": "t1", "kind": "target", "normalised": 0.5},
        {"parameter": "b", "output": "c1", "kind": "contrast", "normalised": 0.5},
        {"parameter": "c", "output": "t1", "kind": "target", "normalised": 0.0},
        {"parameter": "c", "output": "c1", "kind": "contrast", "normalised": 3.0},
    ])  # fmt: skip
    t = S.rank(effects, ["a", "b", "c"]).set_index("parameter")
    assert list(t.index) == ["c", "a", "b"]  # by influence: 3.0/1.0, 1.5/1.0, 0.5
    assert t["selected"].to_dict() == {"c": True, "a": True, "b": False}
    assert t.loc["a", "target_output"] == "t1" and t.loc["c", "contrast_output"] == "c1"


def test_a_small_screen_finds_what_a_target_is_made_of():
    priors = P.by_name(P.load_priors())
    chosen = [priors[PINNED], priors[LOOSE], priors["roles.burnout"]]
    res = S.run_screen(chosen, ["population.size=300", "steps=60"], trajectories=3, n_jobs=1,
                       notify=lambda m: None)  # fmt: skip
    t = res["table"].set_index("parameter")
    assert len(res["points"]) == 3 * (len(chosen) + 1)
    for p in chosen:  # the design stays in the priors' ranges
        assert res["points"][p.name].between(p.lo, p.hi).all()
    assert t.loc[PINNED, "target_output"] == "stigma_schizophrenia"
    # moving the mean by 2/3 of its range moves the target by many of its standard errors
    assert t.loc[PINNED, "target_mu_star"] > 5 * max(t.loc[LOOSE, "target_mu_star"], 0.1)
    assert t.loc[LOOSE, "contrast_mu_star"] > t.loc[LOOSE, "target_mu_star"]


# ---------------------------------------------------------------------------------------------
# ABC


def test_held_out_targets_never_reach_the_distance():
    base = C.scenario_params(["population.size=300"], C.FIT_SCENARIOS)
    fitted = B.fitted_anchors(base)
    calibration = {t.name for t in T.load_targets("calibration")}
    held_out = {t.name for t in T.load_targets("held_out")}
    assert {a.id for a in fitted} <= calibration and not {a.id for a in fitted} & held_out
    leak = dataclasses.replace(fitted[0], id=sorted(held_out)[0])
    with pytest.raises(ConfigError, match="held-out"):
        B.Distance([*fitted, leak])({a.measure: 0.5 for a in fitted})


def test_a_particle_seed_depends_on_the_values_only():
    assert B.particle_seed(1, [0.1, 0.2]) == B.particle_seed(1, [0.1, 0.2])
    assert B.particle_seed(1, [0.1, 0.2]) != B.particle_seed(1, [0.1, 0.2000000001])
    assert B.particle_seed(1, [0.1, 0.2]) != B.particle_seed(2, [0.1, 0.2])


def test_weighted_quantiles():
    x = np.arange(1.0, 101.0)
    assert B.weighted_quantiles(x, np.ones(100), [0.5])[0] == pytest.approx(50.5)
    w = np.where(x > 50, 3.0, 1.0)  # three quarters of the weight above 50
    assert B.weighted_quantiles(x, w, [0.25])[0] == pytest.approx(50.5, abs=0.6)


def _screen(path, loose_fitted=True):
    rows = [{"parameter": PINNED, "selected": True, "fitted": True},
            {"parameter": LOOSE, "selected": True, "fitted": loose_fitted}]  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("abc")
    screen = _screen(tmp / "screen.csv")
    kw = dict(budget=80, population=12, n_jobs=1, screen_path=screen, notify=lambda m: None)
    result = B.run_abc(SMALL, output_dir=tmp / "out", **kw)
    return tmp, screen, kw, result


def test_the_posterior_file_and_diagnostics(calibrated):
    tmp, *_ = calibrated
    out = tmp / "out"
    post = pd.read_parquet(out / "posterior.parquet")
    assert list(post.columns) == [PINNED, LOOSE, "weight"]
    assert len(post) == 12 and post["weight"].sum() == pytest.approx(1.0)
    priors = P.by_name(P.load_priors())
    for name in (PINNED, LOOSE):
        assert post[name].between(priors[name].lo, priors[name].hi).all()
        assert post[name].std() > 0
    diag = json.loads((out / "diagnostics.json").read_text())
    # the budget stops the run: the last generation started within it (and ends what it began)
    assert diag["total_simulations"] - diag["generations"][-1]["simulations"] < 80
    for g in diag["generations"]:
        assert 0 < g["acceptance_rate"] <= 1 and 1 <= g["effective_sample_size"] <= 12
    eps = [g["epsilon"] for g in diag["generations"]]
    assert eps == sorted(eps, reverse=True)  # the threshold falls generation by generation
    ppc = pd.read_csv(out / "ppc.csv")
    assert set(ppc["target"]) == set(diag["targets"])
    assert set(diag["left_out"]) == {"retention_6m", "retention_9m"}  # no cohort of 20 at N=300
    assert (ppc["predictive_lo"] <= ppc["predictive_hi"]).all()
    for name in ("marginals.png", "pairwise.png"):
        assert (out / "figures" / name).stat().st_size > 5000


def test_the_calibration_pins_down_what_the_targets_identify(calibrated):
    *_, result = calibrated
    s = result["summary"].set_index("parameter")
    # Brohan 2010's share with moderate or high self-stigma fixes the mean: the 95% credible
    # interval is under half the prior's, and holds the value the least-squares fit found
    assert s.loc[PINNED, "narrowing"] > 0.4
    assert s.loc[PINNED, "ci_low"] < 0.456 < s.loc[PINNED, "ci_high"]
    # no calibration target reads care-seeking's rate: its posterior stays near its prior
    assert s.loc[LOOSE, "narrowing"] < s.loc[PINNED, "narrowing"] - 0.2


def test_one_process_is_reproducible_to_the_bit(calibrated, tmp_path):
    tmp, _, kw, _ = calibrated
    B.run_abc(SMALL, output_dir=tmp_path / "again", **kw)
    first = pd.read_parquet(tmp / "out" / "posterior.parquet")
    again = pd.read_parquet(tmp_path / "again" / "posterior.parquet")
    pd.testing.assert_frame_equal(first, again, check_exact=True)


def test_an_interrupted_calibration_resumes_and_other_settings_are_refused(calibrated, tmp_path):
    tmp, _, kw, first = calibrated
    import shutil

    shutil.copytree(tmp / "out", tmp_path / "out")
    gens = len(first["diagnostics"]["generations"])
    more = B.run_abc(SMALL, output_dir=tmp_path / "out", **{**kw, "budget": 160})
    assert more["resumed"]
    g = more["diagnostics"]["generations"]
    assert len(g) > gens and g[:gens] == first["diagnostics"]["generations"]  # kept, not rerun
    with pytest.raises(ConfigError, match="other settings"):
        B.run_abc(SMALL, output_dir=tmp_path / "out", **{**kw, "population": 20})


@pytest.mark.parametrize(
    "args, words",
    [
        (["method=abc", "budget=10"], ["budget=10", "at least 60"]),
        (["method=abc", "budget=lots"], ["budget=lots", "small"]),
        (["method=bayes"], ["method='bayes'", "abc"]),
        (["method=abc", "trajectories=3"], ["takes no 'trajectories'"]),
    ],
)
def test_bad_calibrate_options_are_refused_in_one_line(capsys, args, words, tmp_path):
    code, err = peerwell_here(capsys, "calibrate", *args, f"output_dir={tmp_path}")
    assert code == 2 and all(w in err for w in words), err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "posterior.parquet").exists()


def test_the_calibration_benchmark_runs(capsys):
    from benchmarks import bench_calibration

    assert bench_calibration.main(["--quick", "--subprocess", "0"]) == 0
    out = capsys.readouterr().out
    for way in ("serial, composed per run", "serial, composed once", "calibration batch"):
        assert way in out, out


def test_a_parameter_the_screen_carries_joins_the_posterior_at_its_prior(calibrated, tmp_path):
    *_, kw, _ = calibrated
    screen = _screen(tmp_path / "screen.csv", loose_fitted=False)
    res = B.run_abc(SMALL, output_dir=tmp_path / "out", **{**kw, "screen_path": screen})
    post = pd.read_parquet(tmp_path / "out" / "posterior.parquet")
    assert list(post.columns) == [PINNED, LOOSE, "weight"]
    assert [p["name"] for p in res["settings"]["parameters"]] == [PINNED]  # only it is fitted
    prior = P.by_name(P.load_priors())[LOOSE]
    assert post[LOOSE].between(prior.lo, prior.hi).all() and post[LOOSE].nunique() == len(post)
    assert res["summary"].set_index("parameter")["fitted"].to_dict() == {PINNED: True, LOOSE: False}
