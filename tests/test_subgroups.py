"""Subgroup outputs: ``groups.parquet`` holds every group of ``recorder.GROUPS`` on every recorded
day, each group's means and changes equal those computed directly from the state arrays, the
sums are the same to the bit on one and two threads, and ``compare`` reports any subgroup."""

from __future__ import annotations

import json

import numba
import numpy as np
import pandas as pd
import pytest
from util import one_numba_thread, peerwell_here  # noqa: F401 (a fixture)

from peerwell.scenarios.catalogue import load_scenario
from peerwell.simulation.model import PeerwellModel
from peerwell.simulation.params import DIAGNOSES
from peerwell.simulation.recorder import GROUP_COLUMNS, GROUP_OUTCOMES, GROUPS, GroupTracker

# Each group outcome as the test reads it from the state arrays, written out independently of
# the kernel: a score as it is, a share as 0/1.
DIRECT = {
    "activation": lambda c: c["activation"],
    "self_stigma": lambda c: c["stigma"],
    "belonging": lambda c: c["belonging"],
    "empowerment": lambda c: c["empowerment"],
    "wellbeing_mental": lambda c: c["wellbeing_mental"],
    "care_seeking": lambda c: np.isin(c["care"], (1, 2)).astype(np.float64),
    "misinformation_belief": lambda c: (c["misinfo"] == 1).astype(np.float64),
    "uncertainty": lambda c: c["uncertainty"],
    "trust": lambda c: c["trust"],
    "disclosed": lambda c: c["disclosed"].astype(np.float64),
    "privacy_harm": lambda c: c["privacy_harm"].astype(np.float64),
    "online": lambda c: (c["community"] >= 0).astype(np.float64),
    "employed": lambda c: c["employed"].astype(np.float64),
    "recovery": lambda c: c["recovery"],
}


class Watched:
    """A run of ``moderated_community`` (a community opens on day 30, so there are movers),
    with what the test needs to know about each person, kept day by day apart from the model:
    the day-0 outcomes, who was online at day 0, and who has been in the new community."""

    def __init__(self, steps: int = 60):
        p = load_scenario(
            "moderated_community",
            {"population.size": 2000, "steps": steps, "record_every": 7, "seed": 3},
        )
        self.model = m = PeerwellModel(p, agent_views=False)
        self.day0 = {name: f(m.state.cur).copy() for name, f in DIRECT.items()}
        self.online0 = m.state.cur["community"] >= 0
        self.moved = np.zeros(m.state.n, dtype=bool)
        later = np.flatnonzero(m.state.comm["opens"] > 0)
        while m.running:
            m.step()
            self.moved |= np.isin(m.state.cur["community"], later)

    def members(self) -> dict[str, np.ndarray]:
        """Each group's people today, from the state arrays."""
        st = self.model.state
        ever = st.cur["ever_online"] == 1
        return {
            "all": np.ones(st.n, dtype=bool),
            "online_day0": self.online0,
            "offline_day0": ~self.online0,
            **{name: st.static["diagnosis"] == k for k, name in enumerate(DIAGNOSES)},
            "vulnerable": st.static["vulnerable"] == 1,
            "not_vulnerable": st.static["vulnerable"] == 0,
            "movers": self.moved,
            "stayers": ever & ~self.moved,
            "offline": ~ever & ~self.moved,
        }


@pytest.fixture(scope="module")
def watched() -> Watched:
    return Watched()


def test_the_groups_partition_everyone_on_every_recorded_day(watched):
    table = watched.model.group_trajectories()
    n = watched.model.state.n
    assert list(table.columns) == list(GROUP_COLUMNS)
    for step, day in table.groupby("step"):
        people = day.set_index("group")["people"]
        assert list(people.index) == list(GROUPS), step
        assert people["all"] == n
        for partition in (
            ["online_day0", "offline_day0"],
            list(DIAGNOSES),
            ["vulnerable", "not_vulnerable"],
            ["movers", "stayers", "offline"],
        ):
            assert people[partition].sum() == n, (step, partition)
    last = table[table["step"] == table["step"].max()].set_index("group")
    members = watched.members()
    for group in GROUPS:
        assert last.at[group, "people"] == members[group].sum(), group
    # the partitions are not trivial: each group fixed at day 0 has people, and some moved
    assert (last["people"] > 0).all()
    assert last.at["movers", "people"] < last.at["stayers", "people"]


def test_each_group_mean_is_the_mean_of_its_people_in_the_state_arrays(watched):
    m = watched.model
    cur = m.state.cur
    last = m.group_trajectories().query(f"step == {m.day}").set_index("group")
    today = m.group_table().set_index("group")
    pd.testing.assert_frame_equal(today, last, check_exact=True)
    for group, sel in watched.members().items():
        for name, f in DIRECT.items():
            want = f(cur)[sel].mean()
            np.testing.assert_allclose(last.at[group, f"{name}_mean"], want, rtol=1e-12,
                                       err_msg=f"{group} {name}")  # fmt: skip
        years = sel.sum() * m.day / 365.0
        rate = cur["acute_visits"][sel].sum() / years
        np.testing.assert_allclose(last.at[group, "acute_care_rate"], rate, rtol=1e-12)
    # everyone's row is the population's, as trajectories.parquet has it
    traj = m.trajectories().iloc[-1]
    for name, o in GROUP_OUTCOMES.items():
        np.testing.assert_allclose(last.at["all", f"{name}_mean"], traj[o.column], rtol=1e-12)
    assert last.at["movers", "acute_care_rate"] >= 0 and last.at["all", "acute_care_rate"] > 0


def test_each_group_change_is_the_mean_change_of_the_same_people_from_day_0(watched):
    m = watched.model
    last = m.group_trajectories().query(f"step == {m.day}").set_index("group")
    for group, sel in watched.members().items():
        for name, f in DIRECT.items():
            change = (f(m.state.cur)[sel] - watched.day0[name][sel]).mean()
            # The changes are the group's sum less the same people's day-0 sum: a difference of
            # two sums, exact to rounding on the scale of the outcome itself.
            scale = max(1.0, abs(last.at[group, f"{name}_mean"]))
            np.testing.assert_allclose(last.at[group, f"{name}_change"], change, rtol=1e-9,
                                       atol=1e-12 * scale, err_msg=f"{group} {name}")  # fmt: skip
    assert last.at["movers", "belonging_change"] != 0


def test_an_empty_group_has_no_means():
    m = PeerwellModel(**{"population.size": 300, "steps": 3}, agent_views=False)
    m.run_model()
    movers = m.group_table().set_index("group").loc["movers"]  # no community opens later
    assert movers["people"] == 0 and movers["share"] == 0
    assert movers.drop(["step", "people", "share"]).isna().all()


def test_a_tracker_refuses_a_block_its_lanes_cannot_count_or_a_share_out_of_range():
    """A block of more than 65,535 people would overflow the 16-bit counts
    (``summary_kernel.MAX_BLOCK``); a day-0 share other than 0 or 1 would be kept as 1."""
    m = PeerwellModel(**{"population.size": 500, "steps": 1}, agent_views=False)
    with pytest.raises(ValueError, match="block must be 1 to 65535 people, not 65536"):
        GroupTracker(m.state, block=65_536)
    m.state.cur["employed"][7] = 2
    with pytest.raises(ValueError, match="neither 0 nor 1"):
        GroupTracker(m.state)


def test_rows_for_every_recorded_step_as_in_the_trajectories():
    m = PeerwellModel(**{"population.size": 500, "steps": 30, "record_every": 7}, agent_views=False)
    m.run_model()
    table = m.group_trajectories()
    steps = [0, 7, 14, 21, 28, 30]
    assert list(m.trajectories()["step"]) == steps
    assert list(table["step"].unique()) == steps
    assert len(table) == len(steps) * len(GROUPS)
    day0 = table[(table["step"] == 0) & (table["people"] > 0)]
    assert set(GROUPS) - set(day0["group"]) == {"movers"}  # nobody has moved yet
    changes = [c for c in table.columns if c.endswith("_change")]
    assert (day0[changes] == 0).all().all()  # nobody has changed on day 0
    assert (day0["acute_care_rate"] == 0).all()


def test_the_sums_are_the_same_to_the_bit_on_one_and_two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has one thread here")
    m = PeerwellModel(**{"population.size": 2000, "steps": 40}, agent_views=False)
    # Blocks of 64 people: a small population in many blocks, as a million people are in many.
    one, two = GroupTracker(m.state, block=64), GroupTracker(m.state, block=64)
    before = numba.get_num_threads()

    def record():
        for tracker, threads in ((one, 1), (two, 2)):
            numba.set_num_threads(threads)
            tracker.record(m.state, m.day)

    try:
        record()
        status0 = one.status.copy()
        while m.running:
            m.step()
            one.update(m.state)
            two.update(m.state)
            if m.day % 10 == 0:
                record()
    finally:
        numba.set_num_threads(before)
    assert len(one.sums) == len(two.sums) == 5
    for a, b in zip(one.sums, two.sums):
        assert np.array_equal(a, b)  # every bit, not to a tolerance
    pd.testing.assert_frame_equal(one.trajectories(), two.trajectories(), check_exact=True)
    assert (one.status != status0).any()  # people went online: the day-0 sums moved with them


def test_peerwell_run_writes_every_recorded_day_to_groups_parquet(tmp_path, capsys):
    out = tmp_path / "run"
    code, text = peerwell_here(
        capsys, "run", "seed=5", "steps=30", "record_every=7", "population.size=600",
        f"output_dir={out}",
    )  # fmt: skip
    assert code == 0, text
    groups = pd.read_parquet(out / "groups.parquet")
    traj = pd.read_parquet(out / "trajectories.parquet")
    assert list(groups.columns) == ["run_id", "scenario", "seed", *GROUP_COLUMNS]
    assert list(groups["step"].unique()) == list(traj["step"]) == [0, 7, 14, 21, 28, 30]
    assert groups["group"].nunique() == len(GROUPS) >= 4
    assert (groups["run_id"] == traj["run_id"].iloc[0]).all()
    # The run's metadata keeps the last day only (it is in every file's footer).
    meta = json.loads((out / "run.json").read_text())
    assert [g["group"] for g in meta["groups"]] == list(GROUPS)
    assert {g["step"] for g in meta["groups"]} == {30}
    last = groups[groups["step"] == 30].drop(columns=["run_id", "scenario", "seed"])
    assert meta["groups"][0]["activation_mean"] == last["activation_mean"].iloc[0]


# ----- compare: groups.csv and the subgroups of report.md --------------------------------------


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    import peerwell

    out = tmp_path_factory.mktemp("compare")
    return peerwell.compare(
        ["baseline", "anti_stigma_campaign"],
        replicates=3,
        steps=30,
        population__size=400,
        n_jobs=1,
        figures=False,
        output_dir=out,
        subgroups=["vulnerable", "schizophrenia"],
    )


def test_groups_csv_holds_every_group_and_its_paired_differences(compared):
    from peerwell.scenarios.experiments.store import read_metadata

    g = pd.read_csv(compared.output_dir / "groups.csv")
    assert set(g["group"]) == set(GROUPS)
    pd.testing.assert_frame_equal(
        g, compared.groups.astype({"n_pairs": "float64"}), check_dtype=False
    )
    # The difference of a group's mean, paired by replicate, from the runs' own tables.
    level = {}
    for _, run in compared.runs.iterrows():
        rows = read_metadata(compared.output_dir / run["file"])["groups"]
        mine = next(r for r in rows if r["group"] == "vulnerable")
        level[(run["scenario"], run["replicate"])] = mine["self_stigma_mean"]
    want = np.mean([level[("anti_stigma_campaign", r)] - level[("baseline", r)] for r in range(3)])
    row = g[
        (g["scenario"] == "anti_stigma_campaign")
        & (g["group"] == "vulnerable")
        & (g["measure"] == "self_stigma_mean")
    ].iloc[0]
    np.testing.assert_allclose(row["diff"], want, rtol=1e-12)
    assert row["n_pairs"] == 3 and row["diff_ci_low"] <= row["diff"] <= row["diff_ci_high"]
    assert row["diff"] < 0  # the campaign lowers self-stigma: the check is not of zeros
    assert g.loc[g["scenario"] == "baseline", "diff"].isna().all()  # the reference: no pairs


def test_the_report_has_a_table_for_each_subgroup_asked_for(compared):
    text = compared.report
    assert "## Subgroups" in text
    for group in ("vulnerable", "schizophrenia"):
        section = text.split(f"### {group}\n", 1)[1].split("###", 1)[0]
        assert GROUPS[group][1:] in section
        assert "| outcome | baseline | anti_stigma_campaign |" in section
        assert "| self-stigma |" in section and "| acute care episodes per person-year |" in section
    assert "### not_vulnerable" not in text  # only those asked for
    manifest = json.loads((compared.output_dir / "comparison.json").read_text())
    assert manifest["subgroups"] == ["vulnerable", "schizophrenia"]


def test_an_unknown_subgroup_is_refused_before_anything_runs(tmp_path, capsys):
    from peerwell.scenarios.experiments.compare import run_comparison
    from peerwell.simulation.errors import ConfigError

    out = tmp_path / "api"
    with pytest.raises(ConfigError) as err:
        run_comparison(["baseline"], 2, ["steps=5"], out, n_jobs=1, subgroups=["vulnerabel"])
    assert "vulnerabel" in str(err.value) and "did you mean vulnerable" in str(err.value)
    assert ", ".join(GROUPS) in str(err.value)  # every known name
    assert not out.exists()
    out = tmp_path / "cli"
    code, text = peerwell_here(
        capsys, "compare", "scenarios=[baseline]", "replicates=2", "steps=5", "n_jobs=1",
        f"output_dir={out}", "subgroups=[movers,women]",
    )  # fmt: skip
    assert code == 2, text
    assert "unknown subgroup 'women'" in text and "not_vulnerable" in text
    assert not out.exists()


def test_subgroups_without_brackets_are_told_to_use_a_list():
    from peerwell.scenarios.cli.compare import parse_compare_args
    from peerwell.simulation.errors import ConfigError

    opts, _ = parse_compare_args(["scenarios=[baseline]", "subgroups=vulnerable"])
    assert opts.subgroups == ["vulnerable"]
    with pytest.raises(ConfigError, match=r"subgroups=\[vulnerable,movers\]"):
        parse_compare_args(["scenarios=[baseline]", "subgroups=vulnerable,movers"])


def test_bootstrap_cis_are_each_column_s_bootstrap_ci():
    from peerwell.analysis.stats import bootstrap_ci, bootstrap_cis

    x = np.random.default_rng(4).random((6, 5))
    x[:, 1] = 0.25  # every replicate agrees
    x[2, 3] = np.nan  # a replicate without the measure
    lo, hi = bootstrap_cis(x)
    for k in range(x.shape[1]):
        np.testing.assert_allclose((lo[k], hi[k]), bootstrap_ci(x[:, k]), rtol=1e-12)
    assert lo[1] == hi[1] == 0.25 and lo[0] < hi[0]
