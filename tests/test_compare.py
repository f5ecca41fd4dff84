"""`peerwell compare`: common random numbers, the paper's directions with CIs, summary.csv
recomputed from runs/, reuse of finished runs, resuming after a kill, and clean CLI errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sstats
from util import one_numba_thread  # noqa: F401  (autouse: one Numba thread here)

from peerwell.analysis import stats
from peerwell.scenarios.cli.core import main as cli_main
from peerwell.scenarios.experiments.compare import run_comparison
from peerwell.scenarios.experiments.replicates import replicate_seeds
from peerwell.scenarios.experiments.store import read_metadata
from peerwell.simulation.errors import ConfigError

PEERWELL = str(Path(sys.executable).with_name("peerwell"))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small three-scenario comparison with every output (figures too)."""
    out = tmp_path_factory.mktemp("small")
    return run_comparison(
        ["baseline", "moderated_community", "offline_only"],
        3,
        ["steps=40", "population.size=400"],
        out,
        n_jobs=1,
        progress=False,
    )


@pytest.fixture(scope="module")
def directional(tmp_path_factory):
    """Replicates of the scenarios the paper's directional checks are about (one shared set of
    seeds, so every difference is paired)."""
    out = tmp_path_factory.mktemp("directional")
    return run_comparison(
        [
            "baseline",
            "moderated_community",
            "misinformation_surge",
            "offline_only",
            "anti_stigma_campaign",
        ],
        5,
        {"steps": 160, "population.size": 1000},
        out,
        n_jobs=1,
        progress=False,
        figures=False,
    )


def paired(result, at_step: int | None = None, outcomes=None) -> pd.DataFrame:
    h = stats.horizon_table(result.trajectories, at_step=at_step)
    return stats.summary_table(h, result.scenarios, outcomes=outcomes).set_index(
        ["scenario", "outcome"]
    )


# ----- seeds and common random numbers -----------------------------------------------------------


def test_replicate_seeds_are_spawned_from_the_root_seed():
    seeds = replicate_seeds(7, 4)
    children = np.random.SeedSequence(7).spawn(4)
    assert seeds == [int(c.generate_state(1, dtype=np.uint64)[0]) >> 1 for c in children]
    assert len(set(seeds)) == 4 and all(0 <= s < 2**63 for s in seeds)
    assert replicate_seeds(7, 6)[:4] == seeds  # adding replicates keeps the first ones
    with pytest.raises(ValueError):
        replicate_seeds(7, 0)


def test_replicate_r_of_every_scenario_shares_its_seed_and_the_seeds_are_recorded(small):
    runs = small.runs
    assert (runs.groupby("replicate")["seed"].nunique() == 1).all()
    assert sorted(runs["seed"].unique()) == sorted(small.seeds)
    manifest = json.loads((small.output_dir / "comparison.json").read_text())
    assert manifest["seeds"] == small.seeds and manifest["root_seed"] == small.root_seed
    for row in manifest["runs"]:
        assert read_metadata(small.output_dir / row["file"])["seed"] == row["seed"]


def test_common_random_numbers_make_paired_differences_far_less_noisy(directional):
    """Same replicates: Var(B - A) paired by seed is far below Var(A) + Var(B) (unpaired)."""
    h = stats.horizon_table(directional.trajectories)
    a = h[h["scenario"] == "baseline"].set_index("seed").sort_index()
    b = h[h["scenario"] == "anti_stigma_campaign"].set_index("seed").sort_index()
    for outcome in ("self_stigma_mean", "care_seeking_share", "wellbeing_mental_mean"):
        unpaired = a[outcome].var(ddof=1) + b[outcome].var(ddof=1)
        ratio = (b[outcome] - a[outcome]).var(ddof=1) / unpaired
        assert ratio < 0.1, f"{outcome}: paired/unpaired variance ratio {ratio:.3f}"
        # the check can fail: pairing replicate r with replicate r+1 (different seeds) loses it
        shifted = b[outcome].to_numpy() - np.roll(a[outcome].to_numpy(), 1)
        assert shifted.var(ddof=1) / unpaired > 0.2


# ----- directional checks against the paper, with CIs ---------------------------------------------


def test_a_moderated_community_beside_the_others_lowers_self_stigma_and_hostility(directional):
    # Only the people who go there are touched (about 5% of 1,000 by day 160), so the population
    # effect is small, but paired by seed it is clear: fewer hostile comments, less self-stigma.
    s = paired(directional)
    for outcome in ("self_stigma_mean", "hostile_daily_share"):
        row = s.loc[("moderated_community", outcome)]
        assert row["diff_ci_high"] < 0, (outcome, row[["diff", "diff_ci_low", "diff_ci_high"]])


def test_the_report_shows_who_moved_to_the_moderated_community(directional):
    g = directional.groups
    movers = g[(g["scenario"] == "moderated_community") & (g["group"] == "movers")]
    share = movers.set_index("measure").loc["share"]
    assert 0 < share["ci_low"] and share["ci_high"] < 0.5
    # nobody moves in the baseline: no community opens after day 0
    base = g[(g["scenario"] == "baseline") & (g["group"] == "movers")].set_index("measure")
    assert base.loc["share", "mean"] == 0

    # movers' belonging rose from day 0 more than stayers' (they joined recently: selection, not
    # an effect; the report says so)
    def change(group):
        rows = g[(g["scenario"] == "moderated_community") & (g["group"] == group)]
        return rows.set_index("measure").loc["belonging_change"]

    assert change("movers")["ci_low"] > 0
    text = (directional.output_dir / "report.md").read_text()
    assert "## Where people went" in text and "not effects" in text
    assert (directional.output_dir / "groups.csv").exists()


@pytest.mark.parametrize("day", [120, 150])
def test_misinformation_surge_lowers_belief_accuracy_and_care_seeking_during_the_surge(
    directional, day
):
    s = paired(directional, at_step=day, outcomes=["belief_accuracy_mean", "care_seeking_share"])
    for outcome in ("belief_accuracy_mean", "care_seeking_share"):
        row = s.loc[("misinformation_surge", outcome)]
        assert row["diff_ci_high"] < 0, (outcome, row[["diff", "diff_ci_low", "diff_ci_high"]])


def test_misinformation_surge_is_the_baseline_until_it_starts(directional):
    s = paired(directional, at_step=90, outcomes=["belief_accuracy_mean", "care_seeking_share"])
    assert (s.loc["misinformation_surge", "diff"] == 0).all()


def test_offline_only_has_no_online_benefits_and_no_online_risks(directional):
    t = directional.trajectories
    off = t[t["scenario"] == "offline_only"]
    # nobody is online, so nothing flows: no support, no peer information, no online risks
    for col in (
        "online_share",
        "enrolled_share",
        "disclosed_share",
        "privacy_harm_share",
        "flow_joins",
        "flow_posts",
        "flow_support",
        "flow_accurate_info",
        "flow_misinfo_exposure",
        "flow_hostile",
        "flow_enrolments",
        "flow_disclosures",
    ):
        assert (off[col] == 0).all(), col
    # ...but misleading and correcting items are met offline too (ODD §7.6): beliefs move
    assert off["flow_misinfo_adopted"].sum() > 0 and off["flow_corrected"].sum() > 0
    # states only the online world moves stay at their day-0 values in every replicate
    # (belonging at one's offline connectedness, trust at its baseline)
    for col in ("self_stigma_mean", "empowerment_mean", "uncertainty_mean", "belonging_mean",
                "trust_mean"):  # fmt: skip
        by_run = off.groupby("seed")[col]
        assert np.allclose(by_run.max() - by_run.min(), 0.0, atol=1e-12), col
    # against the baseline, with CIs: the online benefits and the hostility risk are gone
    s = paired(directional)
    for outcome in ("belonging_mean", "empowerment_mean", "hostile_daily_share"):
        assert s.loc[("offline_only", outcome), "diff_ci_high"] < 0, outcome


# ----- summary.csv, figures, report ----------------------------------------------------------------


def test_summary_csv_numbers_are_recomputed_from_runs(small):
    out = small.output_dir
    files = sorted((out / "runs").glob("*.parquet"))
    assert len(files) == 3 * 3
    rows = []
    for f in files:
        df = pd.read_parquet(f)
        people = read_metadata(f)["people"]
        last = df.iloc[-1]
        hostile = (df.loc[df["step"] > 0, "flow_hostile"] / people).mean()
        rows.append({**last.to_dict(), "hostile_daily_share": hostile})
    runs = pd.DataFrame(rows)
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["scenario"]) == set(runs["scenario"])
    ref = runs[runs["scenario"] == "baseline"].set_index("seed")
    checked = 0
    for _, row in summary.iterrows():
        x = runs[runs["scenario"] == row["scenario"]].set_index("seed")[row["outcome"]]
        assert row["n"] == len(x) == 3
        assert row["mean"] == pytest.approx(x.mean(), abs=1e-12)
        assert row["sd"] == pytest.approx(x.std(ddof=1), abs=1e-12)
        lo, hi = _bootstrap(x.to_numpy())
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi), abs=1e-12)
        if row["scenario"] != "baseline":
            d = (x - ref.loc[x.index, row["outcome"]]).to_numpy()
            assert row["diff"] == pytest.approx(d.mean(), abs=1e-12)
            dlo, dhi = _bootstrap(d)
            assert (row["diff_ci_low"], row["diff_ci_high"]) == pytest.approx((dlo, dhi), abs=1e-12)
            assert bool(row["diff_excludes_zero"]) == (dlo > 0 or dhi < 0)
        checked += 1
    assert checked == 3 * len(stats.OUTCOMES)
    for name in ("activation_mean", "care_seeking_share", "in_care_share", "wellbeing_mental_mean",
                 "wellbeing_physical_mean", "self_stigma_mean", "belonging_mean",
                 "misinformation_belief_mean"):  # fmt: skip
        assert name in set(summary["outcome"])


def _bootstrap(x: np.ndarray) -> tuple[float, float]:
    """The documented CI: percentile bootstrap of the mean, CI_SEED, N_RESAMPLES (scipy directly)."""
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    res = sstats.bootstrap(
        (x,),
        np.mean,
        n_resamples=stats.N_RESAMPLES,
        method="percentile",
        confidence_level=0.95,
        rng=np.random.default_rng(stats.CI_SEED),
    )
    return res.confidence_interval.low, res.confidence_interval.high


def test_figures_and_report_are_written(small):
    out = small.output_dir
    for stem in ("trajectories", "forest", "benefits_risks"):
        for suffix in (".png", ".svg"):
            assert (out / "figures" / f"{stem}{suffix}").stat().st_size > 5_000, stem + suffix
    report = (out / "report.md").read_text()
    for name in ("moderated_community", "offline_only"):
        assert f"**{name}** against baseline" in report
    assert "Rose:" in report and "Fell:" in report and "95% CI" in report
    assert "figures/forest.png" in report
    # the paragraph's numbers are the summary's
    s = small.summary.set_index(["scenario", "outcome"])
    belonging = s.loc[("offline_only", "belonging_mean"), "diff"]
    assert f"belonging {belonging:+.3g}" in report


def test_rerun_reuses_every_run_and_gives_the_same_summary(small, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(small.output_dir, out)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    figure_mtime = (out / "figures" / "forest.svg").stat().st_mtime_ns
    again = run_comparison(
        ["baseline", "moderated_community", "offline_only"],
        3,
        ["steps=40", "population.size=400"],
        out,
        n_jobs=1,
        progress=False,
    )
    assert again.reused == 9
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()} == mtimes
    pd.testing.assert_frame_equal(again.summary, small.summary)
    assert (out / "figures" / "forest.svg").stat().st_mtime_ns == figure_mtime  # same runs: kept


def test_a_damaged_run_file_is_run_again_and_reported(small, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(small.output_dir, out)
    victim = sorted((out / "runs").glob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:500])  # truncated, as by a full disk
    stale = out / "runs" / f".{victim.name}.tmp-999999999"  # a killed writer's leftover
    stale.write_bytes(b"partial")
    messages: list[str] = []
    again = run_comparison(
        ["baseline", "moderated_community", "offline_only"],
        3,
        ["steps=40", "population.size=400"],
        out,
        n_jobs=1,
        progress=False,
        figures=False,
        notify=messages.append,
    )
    assert len(messages) == 1 and victim.name in messages[0] and "again" in messages[0]
    assert dict(again.runs["status"].value_counts()) == {"reused": 8, "rerun": 1}
    assert len(pd.read_parquet(victim)) == 41
    assert not stale.exists()
    pd.testing.assert_frame_equal(again.summary, small.summary)


def test_killed_comparison_resumes_without_losing_or_duplicating_runs(tmp_path):
    out = tmp_path / "killed"
    cmd = [
        PEERWELL,
        "compare",
        "scenarios=[baseline,offline_only]",
        "replicates=6",
        "steps=150",
        "population.size=1500",
        f"output_dir={out}",
        "n_jobs=2",
        "progress=false",
        "figures=false",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((out / "runs").glob("*.parquet"))) >= 3:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, mid-run
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the comparison finished before it could be killed"
    done = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    assert 0 < len(done) < 12
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"{len(done)} reused" in r.stdout
    files = sorted((out / "runs").glob("*.parquet"))
    manifest = json.loads((out / "comparison.json").read_text())
    ids = [row["run_id"] for row in manifest["runs"]]
    assert len(ids) == len(set(ids)) == 12
    assert sorted(f.stem for f in files) == sorted(ids)
    assert not list((out / "runs").glob(".*"))  # no temporary files left behind
    for name, mtime in done.items():
        assert (out / "runs" / name).stat().st_mtime_ns == mtime  # reused, not rewritten
    summary = pd.read_csv(out / "summary.csv")
    assert (summary["n"] == 6).all()


# ----- argument checking --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["scenarios=[baseline,no_such_scenario]"],
            ["no_such_scenario", "baseline", "moderated_community", "no_hostility"],
        ),
        (["scenarios=[baseline]", "replicates=abc"], ["replicates", "abc"]),
        (["scenarios=[baseline]", "replicates=0"], ["replicates=0", "at least 1"]),
        (["scenarios=[baseline]", "no_such_key=1"], ["no_such_key"]),
        (["scenarios=[baseline]", "population.size=-5"], ["population.size", "-5"]),
        (["replicates=3"], ["scenarios=[a,b,...]"]),
        (["scenario=baseline"], ["scenarios=[a,b,...]"]),
        (["scenarios=[baseline,baseline]"], ["more than once"]),
        (
            ["scenarios=[baseline,misinformation_surge]", "steps=100"],
            ["misinformation_surge", "day 150"],
        ),
        (["scenarios=[baseline"], ["scenarios=[baseline"]),
    ],
)
def test_compare_rejects_bad_input_with_a_clear_error(args, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["compare", *args, f"output_dir={tmp_path / 'c'}", "progress=false"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    assert not (tmp_path / "c").exists()  # refused before anything ran


def test_run_comparison_refuses_a_per_run_seed_override(tmp_path):
    with pytest.raises(ConfigError, match="root_seed"):
        run_comparison(["baseline"], 2, ["seed=3"], tmp_path)


def test_peerwell_scenarios_lists_the_catalogue_and_run_accepts_a_generated_ablation(tmp_path):
    r = subprocess.run([PEERWELL, "scenarios"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in (
        "baseline",
        "offline_only",
        "misinformation_surge",
        "no_intervention_pathway",
        "no_hostility",
    ):
        assert name in r.stdout
    out = tmp_path / "run"
    r = subprocess.run(
        [
            PEERWELL,
            "run",
            "scenario=no_hostility",
            "steps=3",
            "population.size=200",
            f"output_dir={out}",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "run.json").read_text())["config"]["mechanisms"]["hostility"] is False
