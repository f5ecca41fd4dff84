"""Per-community output: ``communities.parquet``, one row per community per recorded day, whose
sums over the communities are the population's flows of ``trajectories.parquet``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from util import one_numba_thread, params, peerwell_here  # noqa: F401 (a fixture)

from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import PLATFORMS, Event, community_names
from peerwell.simulation.recorder import COMMUNITY_COLUMNS

REQUIRED = ["step", "community", "platform", "members", "joined", "left", "posts", "hostile",
            "misleading_read", "moderation"]  # fmt: skip
# Per-community sums and the trajectories' flow they add up to.
FLOW_OF = {
    "joined": "flow_joins",
    "left": "flow_leaves",
    "posts": "flow_posts",
    "hostile": "flow_hostile",
    "misleading_read": "flow_misinfo_exposure",
    "accurate_read": "flow_accurate_info",
    "support": "flow_support",
}
# Busy communities: many joins, leaves, hostile comments and misleading posts in a short run.
BUSY = dict(
    population__size=1500, steps=30, seed=5, entry__join_rate=0.05, entry__leave_rate=0.03,
    communities__hostility=0.3, communities__count=5,
)  # fmt: skip


@pytest.fixture(scope="module")
def busy():
    m = PeerwellModel(params(**BUSY), agent_views=False)
    m.run_model()
    return m, m.community_table(), m.trajectories()


def test_one_row_per_community_per_recorded_day_with_the_columns(busy):
    m, table, traj = busy
    assert list(table.columns) == list(COMMUNITY_COLUMNS)
    assert set(REQUIRED) <= set(table.columns)
    names = community_names(m.params)
    nc = m.state.n_communities
    assert len(names) == nc == 5
    assert len(table) == nc * len(traj)
    for step, day in table.groupby("step", observed=True):
        assert list(day["community"]) == names, step
    assert sorted(table["step"].unique()) == list(traj["step"])
    platforms = [PLATFORMS[k] for k in m.state.comm["platform"]]
    assert list(table["platform"].astype(str)[:nc]) == platforms
    assert list(table["community"].astype(str)[:nc]) == names
    for col in ("members", "joined", "left", "posts", "hostile"):
        assert table[col].dtype == np.int64, col


def test_members_add_up_to_the_people_online_and_flows_to_the_trajectories_flows(busy):
    m, table, traj = busy
    by_day = table.groupby("step", observed=True).sum(numeric_only=True)
    traj = traj.set_index("step")
    online = np.rint(traj["online_share"] * m.params.population.size).astype(np.int64)
    assert (by_day["members"] == online).all()
    for col, flow in FLOW_OF.items():
        assert traj[flow].abs().sum() > 0 or col == "support", flow  # the run exercises it
        np.testing.assert_allclose(by_day[col], traj[flow], rtol=1e-12, atol=1e-9, err_msg=col)
    for col in ("joined", "left", "posts", "hostile"):
        assert (by_day[col] == traj[FLOW_OF[col]].astype(np.int64)).all(), col  # counts: exact
    first = table[table["step"] == 0]
    flows = [*FLOW_OF, "volume"]
    assert (first[flows] == 0).all().all(), "day 0 has no flows"
    assert (first["members"] > 0).all()


def test_members_change_by_the_day_s_joins_and_leaves(busy):
    _, table, _ = busy
    for name, rows in table.groupby("community", observed=True):
        rows = rows.sort_values("step")
        members = rows["members"].to_numpy()
        change = (rows["joined"] - rows["left"]).to_numpy()
        assert (members[1:] == members[:-1] + change[1:]).all(), name
        assert rows["left"].sum() > 0 and rows["joined"].sum() > 0, name


def test_the_sums_are_those_of_the_people_in_each_community_that_day():
    """Recomputed from the state after a recorded day: today's community for members, joins,
    posts and exposures; the community a leaver left (``st.nxt`` after the swap) for leaves."""
    m = PeerwellModel(params(**{**BUSY, "steps": 6}), agent_views=False)
    nc = m.state.n_communities
    while m.running:
        m.step()
        st = m.state
        now, before = st.cur["community"], st.nxt["community"]
        on = now >= 0
        count = lambda x, at=now, sel=on: np.bincount(at[sel], weights=x, minlength=nc)  # noqa: E731
        row = m.community_table().iloc[-nc:]
        assert (row["step"] == m.day).all()
        np.testing.assert_array_equal(row["members"], count(None).astype(np.int64))
        np.testing.assert_array_equal(row["joined"], count(st.scratch["joined"][on]))
        left = st.scratch["left"] == 1
        np.testing.assert_array_equal(row["left"], count(None, before, left).astype(np.int64))
        np.testing.assert_array_equal(row["posts"], count(st.scratch["posted"][on]))
        np.testing.assert_array_equal(row["hostile"], count(st.scratch["hostile"][on]))
        np.testing.assert_allclose(row["misleading_read"], count(st.scratch["lam_misinfo"][on]))
        members = np.maximum(count(None), 1)
        np.testing.assert_allclose(row["belonging_mean"], count(st.cur["belonging"][on]) / members)
        np.testing.assert_array_equal(row["moderation"], st.comm["moderation"])
        np.testing.assert_array_equal(row["volume"], st.comm["volume"])
        # a leaver was in a community and is now offline or, having moved, in another one
        assert ((before[left] >= 0) & (now[left] != before[left])).all()


def test_recorded_days_follow_record_every_and_moderation_follows_the_events():
    p = params(population__size=600, steps=23, record_every=5, seed=2)
    p.scenario.events = [Event(day=12, param="communities.moderation", value=0.6)]
    m = PeerwellModel(p, agent_views=False)
    m.run_model()
    table, traj = m.community_table(), m.trajectories()
    assert list(traj["step"]) == [0, 5, 10, 15, 20, 23]
    assert sorted(table["step"].unique()) == [0, 5, 10, 15, 20, 23]
    # Flows on a recorded day are that day's, as in the trajectories (not since the last record).
    by_day = table.groupby("step", observed=True)[["joined", "posts"]].sum()
    assert list(by_day["joined"]) == list(traj["flow_joins"].astype(np.int64))
    assert list(by_day["posts"]) == list(traj["flow_posts"].astype(np.int64))
    plain = table[table["platform"] != "moderated_platform"]
    # Day 12's event applies from day 12's step on: the row of step 13 and later.
    assert (plain.loc[plain["step"] <= 10, "moderation"] == 0.1).all()
    assert (plain.loc[plain["step"] >= 15, "moderation"] == 0.6).all()


SCRIPT = """
import sys, numba
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.summary_kernel import community_blocks
t = int(sys.argv[2])
cfg = {"population.size": 70_000, "steps": 3, "seed": 9, "communities.count": 7,
       "network.mean_degree": 4.0}
m = PeerwellModel(**cfg, threads=t)
assert community_blocks(m.state.n, m.state.n_communities) > 1  # summed in parallel blocks
m.run_model()
assert m.day_threads(numba.get_num_threads()) == t
m.community_table().to_parquet(sys.argv[1])
"""


def test_the_table_is_the_same_to_the_bit_on_one_and_two_threads(tmp_path):
    frames = []
    for t in (1, 2):
        env = {**os.environ, "NUMBA_NUM_THREADS": str(t)}
        path = tmp_path / f"t{t}.parquet"
        subprocess.run([sys.executable, "-c", SCRIPT, str(path), str(t)], env=env, check=True)
        frames.append(pd.read_parquet(path))
    assert frames[0]["misleading_read"].sum() > 0
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)


def test_peerwell_run_writes_communities_parquet(tmp_path, capsys):
    out = tmp_path / "run"
    code, text = peerwell_here(
        capsys, "run", "seed=3", "steps=8", "population.size=400", f"output_dir={out}"
    )
    assert code == 0, text
    table = pd.read_parquet(out / "communities.parquet")
    traj = pd.read_parquet(out / "trajectories.parquet")
    assert list(table.columns) == ["run_id", "scenario", "seed", *COMMUNITY_COLUMNS]
    assert (table["run_id"] == traj["run_id"].iloc[0]).all()
    nc = table["community"].nunique()
    assert len(table) == nc * len(traj) == nc * 9
    members = table.groupby("step", observed=True)["members"].sum()
    assert (members.to_numpy() == np.rint(traj["online_share"] * 400).astype(np.int64)).all()
    assert not list(out.glob(".*tmp*")), "no temp file is left"


def test_the_api_s_result_holds_the_table_the_folder_holds(tmp_path):
    import peerwell

    r = peerwell.run("baseline", seed=4, steps=5, population__size=300, output_dir=tmp_path)
    assert set(REQUIRED) <= set(r.communities.columns)
    stored = pd.read_parquet(tmp_path / "communities.parquet")
    pd.testing.assert_frame_equal(stored, r.communities, check_exact=True)


def test_the_odd_lists_every_community_column():
    odd = (Path(__file__).parents[1] / "docs" / "ODD.md").read_text(encoding="utf-8")
    assert "communities.parquet" in odd
    for col in COMMUNITY_COLUMNS:
        assert f"`{col}`" in odd, col
