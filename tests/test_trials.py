"""Virtual trials (`peerwell trial`, scenarios/evidence/trials.py): the trial.json contract,
reproducibility from the seed, the tested mechanism carrying the effect, and clear errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from peerwell.scenarios.evidence import trials as T
from peerwell.simulation.errors import ConfigError

FAST = "misinformation_correction"  # a one-day follow-up: about a second a replicate


def _numbers(result: dict) -> dict:
    """The trial.json without what may differ between identical runs (time, version)."""
    return {k: v for k, v in result.items() if k not in ("seconds", "version")}


@pytest.fixture(scope="module")
def fast_trial() -> dict:
    return T.run_trial(FAST, population_size=1500, replicates=2, seed=3)


def test_contract_keys(fast_trial):
    r = fast_trial
    for key in ("design", "arms", "simulated", "published", "within", "seed", "config", "version"):
        assert key in r, key
    assert set(r["arms"]) == {"intervention", "control"}
    for arm in r["arms"].values():
        assert arm["n"] > 0
        assert {"baseline_share", "follow_up_share", "trajectory"} <= set(arm)
    assert set(r["simulated"]) >= {"effect", "ci", "statistic"}
    lo, hi = r["simulated"]["ci"]
    assert lo <= r["simulated"]["effect"] <= hi
    assert r["published"]["effect"] == 0.40 and r["published"]["ci"] == [0.25, 0.55]
    assert "Walter" in r["published"]["source"]
    assert isinstance(r["within"], bool)
    # Enrolment: everyone enrolled was misled on day 0; randomisation 1:1 (odd one to control).
    assert r["arms"]["intervention"]["baseline_share"] == 1.0
    assert 0 <= r["arms"]["control"]["n"] - r["arms"]["intervention"]["n"] <= r["replicates"]
    json.dumps(r, allow_nan=True)  # writable as it is


def test_every_design_is_complete():
    assert len(T.DESIGNS) >= 3
    # one design at least per family of evidence (peer support, HORYZONS, misinformation)
    families = {d.family for d in T.DESIGNS.values()}
    assert len(families) >= 3
    for name, d in T.DESIGNS.items():
        assert d.name == name and d.statistic in T.STATISTICS
        lo, hi = d.published.ci
        assert lo < d.published.effect < hi
        assert d.published.source and d.title and d.mechanism.startswith("mechanisms.")
        assert d.outcome_kind in ("continuous", "binary")


def test_same_seed_same_numbers(fast_trial):
    again = T.run_trial(FAST, population_size=1500, replicates=2, seed=3)
    assert _numbers(again) == _numbers(fast_trial)
    other = T.run_trial(FAST, population_size=1500, replicates=2, seed=4)
    assert other["simulated"]["per_replicate"] != fast_trial["simulated"]["per_replicate"]


def test_switching_off_the_tested_mechanism_shrinks_the_effect(fast_trial):
    """Correction off: nobody is corrected in either arm (stifling, not a correction route, still
    stops a few spreading), so the arms hardly differ."""
    d = T.DESIGNS[FAST]
    off = T.run_trial(FAST, population_size=1500, replicates=2, seed=3,
                      overrides=[f"{d.mechanism}=false"])  # fmt: skip
    on_effect, off_effect = fast_trial["simulated"]["effect"], off["simulated"]["effect"]
    assert on_effect > 0.3  # corrections work in the model
    assert abs(off_effect) < 0.5 * abs(on_effect)
    assert off["arms"]["intervention"]["follow_up_share"] > 0.95


def test_params_given_and_overrides_apply():
    from peerwell.simulation.params import ModelParams

    r = T.run_trial(FAST, ModelParams(), population_size=800, replicates=1, seed=1,
                    overrides=["communities.moderation=0.2"])  # fmt: skip
    assert r["config"]["params_given"] and r["config"]["population.size"] == 800
    assert "communities.moderation=0.2" in r["config"]["overrides"]


def test_bad_design_and_keys_are_refused():
    with pytest.raises(ConfigError, match=r"unknown design 'nope'.*horyzons_emergency"):
        T.run_trial("nope")
    with pytest.raises(ConfigError, match="steps"):
        T.run_trial(FAST, overrides=["steps=10"])
    with pytest.raises(ConfigError, match="moderaton"):
        T.run_trial(FAST, population_size=500, overrides=["communities.moderaton=0.2"])


def test_statistics():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 1, 50), rng.normal(0, 1, 40)
    g, var = T.hedges_g(a, b)
    sp = math.sqrt((49 * a.var(ddof=1) + 39 * b.var(ddof=1)) / 88)
    d = (a.mean() - b.mean()) / sp
    assert g == pytest.approx(d * (1 - 3 / (4 * 90 - 9)))
    assert var == pytest.approx(90 / 2000 + g * g / 180)
    # HORYZONS' published proportions (19% of 86 vs 39% of 84) give an OR near its 0.31-0.37
    lor, _ = T.log_odds_ratio(16, 86, 33, 84)
    assert 0.3 < math.exp(lor) < 0.4
    # an empty cell: Haldane-Anscombe, finite
    assert math.isfinite(T.log_odds_ratio(0, 10, 5, 10)[0])
    # d from OR: control's odds of being misled over the intervention's, positive for a benefit
    dd, _ = T.estimate("d_from_or", np.array([0.0] * 5 + [1.0] * 5), np.array([1.0] * 9 + [0.0]))
    assert dd == pytest.approx(math.log(9 / 1) * math.sqrt(3) / math.pi)


def _peerwell(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from peerwell.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, "trial", *args],
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_cli_lists_designs_and_refuses_unknown_ones():
    for args in (("--help",), ()):
        res = _peerwell(*args)
        assert res.returncode == 0
        for name, d in T.DESIGNS.items():
            assert f"design={name}" in res.stdout and d.title in res.stdout
    res = _peerwell("design=nope")
    assert res.returncode == 2
    assert "unknown design 'nope'" in res.stderr and "misinformation_correction" in res.stderr
    res = _peerwell(f"design={FAST}", "colour=blue")
    assert res.returncode == 2 and "'colour'" in res.stderr and "population.size" in res.stderr


def test_cli_writes_trial_json_and_figure(tmp_path):
    res = _peerwell(f"design={FAST}", "population.size=800", "replicates=1",
                    f"output_dir={tmp_path}")  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "trial.json").read_text())
    assert data["design"]["name"] == FAST and data["config"]["population.size"] == 800
    assert (tmp_path / "trial.png").stat().st_size > 10_000
