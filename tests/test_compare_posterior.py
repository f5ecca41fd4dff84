"""`peerwell compare posterior=FILE draws=N`: comparisons that carry parameter uncertainty.

Replicate r = (draw d, seed s) of every scenario runs the same parameter draw and the same seed;
summary.csv gains the uncertainty interval of each contrast and the parameters' share of its
variance (a one-way random-effects ANOVA over the draws, tested alone on synthetic data of known
variance components); bad input is refused before anything runs; a rerun reuses every run.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from util import one_numba_thread  # noqa: F401  (autouse: one Numba thread here)

from peerwell.analysis import stats
from peerwell.scenarios.cli.core import main as cli_main
from peerwell.scenarios.experiments.compare import run_comparison
from peerwell.scenarios.experiments.store import read_metadata
from peerwell.simulation.errors import ConfigError

SCENARIOS = ["baseline", "offline_only"]
MODEL = ["steps=30", "population.size=300"]
GAIN, LEAVE = "activation.learning_gain", "entry.leave_rate"


def _posterior(path, gains, leaves):
    pd.DataFrame({GAIN: gains, LEAVE: leaves, "weight": np.ones(len(gains))}).to_parquet(path)
    return path


def _compare(out, posterior, **kw):
    return run_comparison(
        SCENARIOS,
        None,
        MODEL,
        out,
        n_jobs=1,
        progress=False,
        figures=False,
        posterior=posterior,
        **{"draws": 4, "seeds_per_draw": 2, **kw},
    )


@pytest.fixture(scope="module")
def posterior_file(tmp_path_factory):
    # Learning from peers (online only) changes activation, so the gain moves the contrast of
    # baseline with offline_only; 0 and a large gain make that dominate the runs' own noise.
    folder = tmp_path_factory.mktemp("posterior")
    return _posterior(folder / "posterior.parquet", [0.0, 0.02, 0.0, 0.02],
                      [0.001, 0.003, 0.002, 0.004])  # fmt: skip


@pytest.fixture(scope="module")
def compared(tmp_path_factory, posterior_file):
    return _compare(tmp_path_factory.mktemp("compared"), posterior_file)


def _run_params(result) -> pd.DataFrame:
    rows = []
    for r in result.runs.itertuples():
        meta = read_metadata(result.output_dir / r.file)
        rows.append(
            {
                "scenario": r.scenario,
                "replicate": r.replicate,
                "draw": r.draw,
                "seed": meta["seed"],
                GAIN: meta["config"]["activation"]["learning_gain"],
                LEAVE: meta["config"]["entry"]["leave_rate"],
            }
        )
    return pd.DataFrame(rows)


def test_replicate_r_of_every_scenario_runs_the_same_draw_and_seed(compared):
    runs = _run_params(compared)
    assert len(runs) == 2 * 4 * 2 and set(runs["replicate"]) == set(range(8))
    manifest = json.loads((compared.output_dir / "comparison.json").read_text())
    drawn = manifest["posterior"]["rows"]
    assert manifest["posterior"]["draws"] == 4 and manifest["posterior"]["seeds_per_draw"] == 2
    assert len(manifest["posterior"]["sha256"]) == 64
    for rep, g in runs.groupby("replicate"):
        assert len(g) == 2 and g[["seed", GAIN, LEAVE, "draw"]].nunique().max() == 1, g
        d = rep // 2
        assert g["draw"].iloc[0] == d
        assert g[GAIN].iloc[0] == drawn[d][GAIN] and g[LEAVE].iloc[0] == drawn[d][LEAVE]
    # The seeds are the replicates' own: one per replicate, so differences pair by seed.
    assert runs.groupby("scenario")["seed"].nunique().eq(8).all()


def test_replicates_of_different_draws_run_their_own_draw(compared):
    runs = _run_params(compared)
    manifest = json.loads((compared.output_dir / "comparison.json").read_text())
    rows = [r["row"] for r in manifest["posterior"]["rows"]]
    assert len(set(rows)) >= 2  # 4 draws of 4 rows by weight (the draw's seed is fixed)
    per_draw = runs[runs["scenario"] == "baseline"].groupby("draw")[[GAIN, LEAVE]].first()
    for a in range(4):
        for b in range(4):
            same = tuple(per_draw.loc[a]) == tuple(per_draw.loc[b])
            assert same == (rows[a] == rows[b]), (a, b, per_draw)


def test_summary_has_uncertainty_intervals_and_parameter_shares(compared):
    s = pd.read_csv(compared.output_dir / "summary.csv")
    for column in stats.UNCERTAINTY_COLUMNS:
        assert column in s.columns
    ref = s[s["scenario"] == "baseline"]
    assert ref[["diff_ui_low", "diff_ui_high", "param_var_share"]].isna().all().all()
    assert (ref["ui_low"] <= ref["mean"] + 1e-12).all() and (
        ref["mean"] <= ref["ui_high"] + 1e-12
    ).all()
    other = s[s["scenario"] == "offline_only"]
    tol = 1e-12
    assert (other["diff_ui_low"] <= other["diff"] + tol).all()
    assert (other["diff"] <= other["diff_ui_high"] + tol).all()
    share = other["param_var_share"].dropna()
    assert len(share) > 0 and share.between(0, 1).all()
    # The learning gain (0 or 0.02) drives the online-offline contrast of activation.
    act = other.set_index("outcome").loc["activation_mean"]
    assert act["param_var_share"] > 0.8, act
    # The uncertainty interval carries the draws' spread: wider than the stochastic CI.
    assert act["diff_ui_high"] - act["diff_ui_low"] > act["diff_ci_high"] - act["diff_ci_low"]
    report = (compared.output_dir / "report.md").read_text()
    assert "## Parameter uncertainty" in report
    assert "too few draws for Sobol indices (4 given, 20 needed)" in report
    assert not (compared.output_dir / "sobol.csv").exists()


def test_rerunning_the_same_comparison_reuses_every_run(compared, posterior_file):
    again = _compare(compared.output_dir, posterior_file)
    assert again.reused == len(again.runs) == 16
    pd.testing.assert_frame_equal(again.summary, compared.summary)


@pytest.mark.parametrize(
    ("sigma_b", "sigma_w", "per", "expected"),
    [(2.0, 1.0, 2, 0.8), (1.0, 1.0, 4, 0.5), (0.0, 1.0, 3, 0.0), (1.0, 0.0, 2, 1.0)],
)
def test_variance_split_recovers_known_components(sigma_b, sigma_w, per, expected):
    rng = np.random.default_rng(7)
    k = 4000
    groups = np.repeat(np.arange(k), per)
    values = 5.0 + rng.normal(0, sigma_b, k)[groups] + rng.normal(0, sigma_w, k * per)
    split = stats.variance_split(values, groups)
    assert split.share == pytest.approx(expected, abs=0.03)
    assert split.within == pytest.approx(sigma_w**2, rel=0.05, abs=1e-9)
    assert split.param == pytest.approx(sigma_b**2, rel=0.08, abs=0.02)


def test_variance_split_needs_two_draws_of_two_and_is_never_negative():
    assert np.isnan(stats.variance_split([1.0, 2.0], [0, 0]).share)  # one draw
    assert np.isnan(stats.variance_split([1.0, 2.0, 3.0], [0, 1, 1]).share)  # a draw of one
    # Draw means closer than the noise would make them: no parameter variance, not a negative.
    split = stats.variance_split([0.0, 1.0, 0.5, 0.5], [0, 0, 1, 1])
    assert split.param == 0.0 and split.share == 0.0
    assert stats.uncertainty_interval(np.arange(101.0)) == pytest.approx((2.5, 97.5))


def test_sobol_of_draws_finds_the_driving_parameter_and_survives_a_flat_output():
    rng = np.random.default_rng(3)
    x = pd.DataFrame({GAIN: rng.uniform(0, 1, 40), LEAVE: rng.uniform(0, 1, 40)})
    s1 = stats.draw_sobol(x, 3.0 * x[GAIN] + 0.01 * rng.normal(size=40)).set_index("parameter")
    assert s1.loc[GAIN, "S1"] > s1.loc[LEAVE, "S1"]
    flat = stats.draw_sobol(x, np.ones(40))
    assert list(flat["parameter"]) == [GAIN, LEAVE] and flat["S1"].isna().all()


def test_replicates_with_a_posterior_is_refused(tmp_path, posterior_file, capsys):
    with pytest.raises(ConfigError, match="draws × seeds_per_draw"):
        run_comparison(SCENARIOS, 4, MODEL, tmp_path / "c", posterior=posterior_file)
    code = None
    with pytest.raises(SystemExit) as exc:
        code = cli_main(["compare", "scenarios=[baseline,offline_only]", "replicates=4",
                         f"posterior={posterior_file}", f"output_dir={tmp_path / 'c'}"])  # fmt: skip
    err = capsys.readouterr().err
    assert code is None and exc.value.code != 0
    assert "draws × seeds_per_draw" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "c").exists()


def test_a_missing_or_bad_posterior_is_refused_in_one_line(tmp_path, capsys):
    missing = tmp_path / "nope.parquet"
    with pytest.raises(SystemExit):
        cli_main(["compare", "scenarios=[baseline,offline_only]", f"posterior={missing}",
                  f"output_dir={tmp_path / 'c'}"])  # fmt: skip
    err = capsys.readouterr().err
    assert "no such file" in err and str(missing) in err and len(err.strip().splitlines()) == 1
    unknown = tmp_path / "unknown.parquet"
    pd.DataFrame({"activation.no_such": [0.1], "weight": [1.0]}).to_parquet(unknown)
    with pytest.raises(ConfigError, match="not a model parameter"):
        _compare(tmp_path / "c", unknown)
    with pytest.raises(ConfigError, match="needs posterior"):
        run_comparison(SCENARIOS, None, MODEL, tmp_path / "c", draws=3)
    assert not (tmp_path / "c").exists()
