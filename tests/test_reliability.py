"""Long runs, extreme parameters, fuzzed bad configs, unwritable folders and kill -9 mid-run."""

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from util import params, run

from peerwell.simulation.errors import ConfigError
from peerwell.simulation.params import MECHANISMS, ModelParams, iter_fields, with_overrides

PEERWELL = str(Path(sys.executable).with_name("peerwell"))


def test_ten_years_stay_in_range_without_drift():
    m = run(params(population__size=300, steps=3650, record_every=30))
    df = m.trajectories()
    assert np.isfinite(df.to_numpy(dtype=float)).all()
    for col in (
        "online_share",
        "in_care_share",
        "self_stigma_mean",
        "belonging_mean",
        "employed_share",
    ):
        last_years = df.loc[df["step"] >= 1825, col]
        # No invariant drifts: over the last five years each aggregate stays within a band.
        assert last_years.max() - last_years.min() < 0.25, col
    assert 0 <= df["activation_mean"].min() and df["activation_mean"].max() <= 100


def test_every_switch_off_and_everything_at_zero_gives_a_still_world():
    off = {f"mechanisms__{m}": False for m in MECHANISMS}
    m = run(params(population__size=200, steps=50, population__initial_online_share=0.0, **off))
    df = m.trajectories()
    for col in ("online_share", "misinformation_belief_mean", "enrolled_share", "disclosed_share"):
        assert (df[col] == 0).all(), col
    # Nothing online and no pathway: self-stigma, empowerment, uncertainty, trust and belonging
    # (offline connectedness) stay at baseline.
    for col in ("self_stigma_mean", "empowerment_mean", "uncertainty_mean", "trust_mean",
                "belonging_mean"):  # fmt: skip
        assert np.allclose(df[col], df[col].iloc[0], atol=1e-12), col


@pytest.mark.parametrize(
    "extreme",
    [
        {"population__size": 1, "communities__count": 1},
        {"population__size": 50, "network__mean_degree": 0.0},
        {"population__size": 50, "communities__count": 1, "network__kind": "complete"},
        {"population__size": 200, "entry__join_rate": 1.0, "entry__leave_rate": 1.0},
        {"population__size": 200, "communities__hostility": 1.0, "communities__moderation": 1.0},
        {
            "population__size": 200,
            "population__post_rate_lurker": 1.0,
            "exchange__read_rate": 1000.0,
        },
        {
            "population__size": 200,
            "exchange__misinfo_adoption": 1.0,
            "exchange__misinfo_renewal": 1.0,
        },
    ],
)
def test_extreme_but_valid_parameters_run(extreme):
    m = run(params(steps=30, **extreme))
    assert np.isfinite(m.trajectories().to_numpy(dtype=float)).all()


def test_everyone_joins_and_leaves_daily_at_rate_one():
    m = run(params(population__size=300, steps=4, entry__join_rate=1.0, entry__leave_rate=1.0,
                   entry__belonging_retention=0.0, entry__switch_share=0.0,
                   population__social_media_use_concentration=0.0,
                   population__social_media_use_mean=0.99))  # fmt: skip
    shares = m.trajectories()["online_share"].to_numpy()
    # online people all leave (none moves), offline people join with probability 0.99: the share
    # flips.
    assert shares[1] < 0.35 and shares[2] > 0.6


NUMERIC = [(name, meta) for name, value, meta in iter_fields(ModelParams())
           if isinstance(value, (int, float)) and not isinstance(value, bool)]  # fmt: skip

bad_value = st.one_of(
    st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.floats(-1e12, -1e-9),
    st.floats(1e7, 1e12), st.text(max_size=5), st.none(), st.lists(st.integers(), max_size=2),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(NUMERIC), bad_value)
def test_fuzzed_bad_values_end_in_a_config_error_naming_the_field(field, value):
    name, meta = field
    lo, hi = meta["lo"], meta["hi"]
    if isinstance(value, float) and math.isfinite(value) and lo <= value <= hi:
        return  # happened to be valid for this field
    try:
        with_overrides(ModelParams(), {name: value})
    except ConfigError as exc:
        assert name in str(exc) or name.split(".")[-1] in str(exc)
    else:
        pytest.fail(f"{name}={value!r} was accepted")


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=30))
def test_fuzzed_unknown_names_are_refused(name):
    known = {n for n, _, _ in iter_fields(ModelParams())}
    if name in known or name in ("scenario",) or name.startswith("scenario."):
        return
    with pytest.raises(ConfigError):
        with_overrides(ModelParams(), {name: 1})


def test_unwritable_output_folder_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    t0 = time.time()
    r = subprocess.run(
        [PEERWELL, "run", "steps=365", f"output_dir={blocker}/out"], capture_output=True, text=True
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "cannot write to output_dir" in r.stderr
    assert time.time() - t0 < 60


def test_kill_minus_nine_during_run_leaves_no_partial_file(tmp_path):
    out = tmp_path / "run"
    for delay in (3.0, 6.0, 9.0):
        p = subprocess.Popen(
            [PEERWELL, "run", "steps=2000", "population.size=3000", f"output_dir={out}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        time.sleep(delay)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        names = [f.name for f in out.iterdir()] if out.exists() else []
        assert not [n for n in names if n.startswith(".") and "tmp" in n], names
        if "trajectories.parquet" in names:  # only ever a whole file
            import pandas as pd

            assert len(pd.read_parquet(out / "trajectories.parquet")) == 2001
    r = subprocess.run(
        [PEERWELL, "run", "steps=20", "population.size=300", f"output_dir={out}"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
