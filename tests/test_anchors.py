"""The baseline reproduces the empirical anchors it is calibrated to (model-brief.md).

The anchors' numbers are read from ``scenarios/evidence/anchors.py``, where they are typed once;
the windows below are this test's own, stated next to each: wide enough for two replicates of
3,000 people and narrow enough that a change which breaks calibration fails here.
"""

import math

import numpy as np
import pytest
from util import params, run

from peerwell.scenarios.evidence import anchors as anchors_module
from peerwell.scenarios.evidence import calibrate, paramdoc
from peerwell.scenarios.evidence.anchors import FINDINGS, Finding, anchors
from peerwell.simulation.params import DIAGNOSES, ModelParams
from peerwell.simulation.recorder import STIGMA_MODERATE_HIGH

ANCHORS = {a.id: a for a in anchors()}


@pytest.fixture(scope="module")
def baseline():
    runs = [run(params(population__size=3000, steps=365, seed=s)).trajectories() for s in (1, 2)]
    return runs


def at(runs, day, col):
    return float(np.mean([df.loc[df["step"] == day, col].iloc[0] for df in runs]))


def test_share_online_is_near_seventy_percent(baseline):
    # The input set from the three surveys (Naslund 2016, Brunette 2019, Aschbrenner 2018) holds
    # through the year within ±0.07.
    start = ModelParams().population.initial_online_share
    assert start == pytest.approx(anchors_module.pooled_online()[0], abs=0.01)
    for day in (0, 180, 365):
        assert at(baseline, day, "online_share") == pytest.approx(start, abs=0.07)


def test_participation_inequality(baseline):
    # van Mierlo 2014: < 25% ever post; superusers produce 74.7% (±8 points), lurkers 1.3% of
    # content (at most 5%): the calibration anchors' own tolerances.
    assert at(baseline, 365, "ever_posted_share") < FINDINGS["ever_posted_max"].value
    assert ANCHORS["content_superuser"].within(at(baseline, 365, "content_share_superuser"))
    assert at(baseline, 365, "content_share_lurker") < ANCHORS["content_lurker"].hi


@pytest.mark.parametrize("diagnosis", DIAGNOSES)
def test_pam_means_by_diagnosis(baseline, diagnosis):
    # PAM-MH validation study means; the SDs (10-17) make ±4 points a strict but fair window.
    mean = FINDINGS[f"pam_{diagnosis}"].value
    for day in (0, 365):
        assert at(baseline, day, f"activation_mean_{diagnosis}") == pytest.approx(mean, abs=4.0)


def test_moderate_or_high_self_stigma_share(baseline):
    # Dubreucq 2021 (31.3% average) to Brohan 2010 (41.7%, schizophrenia), each rounded outward
    # to 5 points: between 30% and 45%.
    lo = math.floor(20 * FINDINGS["stigma_smi"].value) / 20
    hi = math.ceil(20 * FINDINGS["stigma_schizophrenia"].value) / 20
    assert (lo, hi) == (0.30, 0.45)
    assert STIGMA_MODERATE_HIGH == 0.5
    for day in (0, 365):
        assert lo <= at(baseline, day, "stigma_moderate_high_share") <= hi


def test_anchors_are_typed_once(monkeypatch):
    # Change one finding: the calibration targets, the anchors not checked and the ODD's
    # parameter checks all follow, so none of them holds a copy of the number.
    before = paramdoc.render_checks_block()
    assert "41.7% (Brohan 2010)" in before and "55.5% logged on (HORYZONS RCT)" in before
    monkeypatch.setitem(FINDINGS, "stigma_schizophrenia", Finding(0.5, "Brohan 2010", n=1229))
    monkeypatch.setitem(FINDINGS, "horyzons_6m", Finding(0.6, "HORYZONS RCT", n=86))
    targets = {a.id: a for a in calibrate.anchors()}
    assert targets["stigma_schizophrenia"].target == 0.5
    assert targets["stigma_population"].label.endswith("50.0%")
    assert targets["retention_6m"].target == 0.6
    assert "−ln 0.6 / 182.6" in calibrate.not_checked_markdown()
    after = paramdoc.render_checks_block()
    assert "50.0% (Brohan 2010)" in after and "41.7%" not in after
    assert "60.0% logged on (HORYZONS RCT)" in after
