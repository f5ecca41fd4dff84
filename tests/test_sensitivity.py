"""`peerwell sensitivity`: SALib's answers through the sweep machinery, on Ishigami and the model.

The Ishigami function (SALib's own, known indices) runs through exactly the code path of the model
(`model=ishigami` is the test hook): the same Hydra launcher, run store and analysis.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from SALib.test_functions import Ishigami
from util import peerwell_here

ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
# Analytic values for A=7, B=0.1 (Saltelli et al. 2008; SALib's test_functions.Ishigami).
KNOWN_S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
KNOWN_ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def test_sobol_on_ishigami_gives_salibs_known_indices_and_resumes(tmp_path, capsys):
    d = tmp_path / "sobol"
    args = ["sensitivity", "method=sobol", "model=ishigami", "samples=256", f"output_dir={d}"]
    code, out = peerwell_here(capsys, *args)
    assert code == 0, out
    table = pd.read_csv(d / "sensitivity.csv").set_index("parameter")
    assert len(list((d / "runs").glob("*.parquet"))) == 256 * 5  # N (D + 2) runs, one each
    # The same numbers as SALib on its own sample of the function...
    x = sobol_sample.sample(ISHIGAMI, 256, calc_second_order=False, seed=0)
    np.testing.assert_array_equal(pd.read_csv(d / "design.csv")[["x1", "x2", "x3"]], x)
    y = Ishigami.evaluate(x)
    rng = np.random.default_rng(0)  # peerwell seeds SALib's bootstrap with a Generator
    want = sobol_analyze.analyze(ISHIGAMI, y, calc_second_order=False, seed=rng)
    for k in ("S1", "S1_conf", "ST", "ST_conf"):
        np.testing.assert_allclose(table.loc[["x1", "x2", "x3"], k], want[k], rtol=1e-12)
    # ...and those are the known answers, within SALib's own 95% intervals (twice, for margin).
    for name in ("x1", "x2", "x3"):
        row = table.loc[name]
        assert abs(row["S1"] - KNOWN_S1[name]) <= 2 * row["S1_conf"], (name, row["S1"])
        assert abs(row["ST"] - KNOWN_ST[name]) <= 2 * row["ST_conf"], (name, row["ST"])
    assert table.loc["x3", "rank"] == 3  # x3 acts only through its interaction with x1
    assert (d / "sensitivity.png").stat().st_size > 5_000 and (d / "sensitivity.svg").exists()
    # Rerun: every run is found in the store, nothing recomputed, the same indices.
    before = (d / "sensitivity.csv").read_text()
    code, out = peerwell_here(capsys, *args)
    assert code == 0 and "(0 new, 1280 already there)" in out, out
    assert (d / "sensitivity.csv").read_text() == before


def test_morris_on_ishigami_is_salibs_answer(tmp_path, capsys):
    d = tmp_path / "morris"
    code, out = peerwell_here(
        capsys,
        "sensitivity",
        "method=morris",
        "model=ishigami",
        "samples=20",
        "design_seed=3",
        "conf_level=0.9",
        f"output_dir={d}",
    )
    assert code == 0, out
    table = pd.read_csv(d / "sensitivity.csv").set_index("parameter").loc[["x1", "x2", "x3"]]
    x = morris_sample.sample(ISHIGAMI, 20, num_levels=4, seed=3)
    want = morris_analyze.analyze(
        ISHIGAMI,
        x,
        Ishigami.evaluate(x),
        num_levels=4,
        conf_level=0.9,
        seed=np.random.default_rng(3),
    )
    for k in ("mu", "mu_star", "sigma", "mu_star_conf"):
        np.testing.assert_allclose(table[k], np.asarray(want[k], dtype=float), rtol=1e-12)
    assert (table["conf_level"] == 0.9).all()
    np.testing.assert_allclose(table["mu_star_lo"], table["mu_star"] - table["mu_star_conf"])


def test_morris_on_the_model_runs_end_to_end_and_ranks_the_parameters(tmp_path, capsys):
    d = tmp_path / "model"
    code, out = peerwell_here(
        capsys,
        "sensitivity",
        "method=morris",
        "params=[communities.moderation,communities.hostility:0:0.5,care.seek_stigma_barrier]",
        "outcome=care_seeking_share",
        "samples=4",
        "steps=30",
        "population.size=400",
        f"output_dir={d}",
    )
    assert code == 0, out
    design = pd.read_csv(d / "design.csv")
    assert len(design) == 4 * (3 + 1)  # r (D + 1) Morris points
    # Points that coincide (trajectories can share a point) are one run: same config, same run_id.
    n_distinct = len(design.drop(columns="point").drop_duplicates())
    assert len(list((d / "runs").glob("*.parquet"))) == n_distinct
    table = pd.read_csv(d / "sensitivity.csv")
    assert len(table) == 3 and sorted(table["rank"]) == [1, 2, 3]
    assert list(table["mu_star"]) == sorted(table["mu_star"], reverse=True)
    for col in ("mu_star", "mu_star_conf", "mu_star_lo", "mu_star_hi", "sigma", "lo", "hi"):
        assert table[col].notna().all()
    hostility = table.set_index("parameter").loc["communities.hostility"]
    assert (hostility["lo"], hostility["hi"]) == (0, 0.5)  # range narrowed on the command line
    # A barrier on care-seeking itself moves care-seeking most, clearly beyond the others.
    top = table.iloc[0]
    assert top["parameter"] == "care.seek_stigma_barrier"
    assert top["mu_star_lo"] > table.iloc[1:]["mu_star_hi"].max()
    assert (d / "sensitivity.png").stat().st_size > 5_000 and (d / "sensitivity.svg").exists()
    assert "care.seek_stigma_barrier" in out  # the printed table


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["method=fast"], ["method='fast'", "morris", "sobol"]),
        (["outcome=care_seeking"], ["care_seeking", "care_seeking_share"]),
        (["method=sobol", "samples=100"], ["samples=100", "power of two", "samples=128"]),
        (["method=morris", "samples=1"], ["samples=1", "SALib"]),
        (["method=morris", "levels=3"], ["levels=3"]),
        (["params=[communities.moderation:0.3:0.3]"], ["empty range"]),
        (["params=[no_such.param]"], ["no_such.param"]),
        (["no_such_param=1"], ["unknown parameter", "no_such_param"]),
        (["conf_level=2"], ["conf_level", "between 0 and 1"]),
        (["design=lhs"], ["method="]),
        (["-m"], ["key=value"]),
    ],
)
def test_bad_sensitivity_input_is_refused_before_any_run(tmp_path, capsys, args, words):
    d = tmp_path / "bad"
    code, out = peerwell_here(
        capsys, "sensitivity", "steps=5", "population.size=100", *args, f"output_dir={d}"
    )
    assert code == 2, out
    assert "Traceback" not in out
    for w in words:
        assert w in out, f"{w!r} not in: {out}"
    assert not (d / "runs").exists() or not any((d / "runs").iterdir())


def test_default_parameter_set_and_ranges_come_from_the_typed_config():
    from peerwell.scenarios.experiments.hooks import DEFAULT_PARAMS, MODELS
    from peerwell.simulation.params import ModelParams, iter_fields

    meta = {name: m for name, _, m in iter_fields(ModelParams())}
    space = MODELS["peerwell"].space
    for name in DEFAULT_PARAMS:
        lo, hi = meta[name].get("sweep") or (meta[name]["lo"], meta[name]["hi"])
        assert (space[name].lo, space[name].hi) == (lo, hi)
    # Everything numeric with a declared range can be sampled; switches and names cannot.
    assert "mechanisms.entry" not in space and "network.kind" not in space
    assert "seed" not in space and "communities.peer_supporters" in space


def test_analysis_functions_are_salibs(tmp_path):
    from peerwell.analysis.sensitivity import morris_indices, plot_morris

    x = morris_sample.sample(ISHIGAMI, 10, num_levels=4, seed=1)
    y = Ishigami.evaluate(x)
    table = morris_indices(["x1", "x2", "x3"], [(-np.pi, np.pi)] * 3, x, y, seed=1)
    want = morris_analyze.analyze(ISHIGAMI, x, y, num_levels=4, seed=1)
    got = table.set_index("parameter").loc[["x1", "x2", "x3"], "mu_star"]
    np.testing.assert_allclose(got, want["mu_star"])
    png = plot_morris(table, Path(tmp_path) / "m.png", outcome="y")
    assert png.stat().st_size > 5_000
