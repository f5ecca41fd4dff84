"""The baseline reproduces the empirical anchors it is calibrated to (model-brief.md).

Tolerances are stated next to each anchor; they are wide enough for two replicates of 3,000
people and narrow enough that a change which breaks calibration fails here.
"""

import numpy as np
import pytest
from util import params, run

from peerwell.simulation.recorder import STIGMA_MODERATE_HIGH


@pytest.fixture(scope="module")
def baseline():
    runs = [run(params(population__size=3000, steps=365, seed=s)).trajectories() for s in (1, 2)]
    return runs


def at(runs, day, col):
    return float(np.mean([df.loc[df["step"] == day, col].iloc[0] for df in runs]))


def test_share_online_is_near_seventy_percent(baseline):
    # Naslund 2016 (71%), Brunette 2019 (67.9%), Aschbrenner 2018 (72%): target 0.70 ± 0.07.
    for day in (0, 180, 365):
        assert at(baseline, day, "online_share") == pytest.approx(0.70, abs=0.07)


def test_participation_inequality(baseline):
    # van Mierlo 2014: < 25% ever post; superusers produce 74.7%, lurkers 1.3% of content.
    assert at(baseline, 365, "ever_posted_share") < 0.25
    assert at(baseline, 365, "content_share_superuser") == pytest.approx(0.747, abs=0.08)
    assert at(baseline, 365, "content_share_lurker") < 0.05


@pytest.mark.parametrize(
    ("diagnosis", "mean"), [("schizophrenia", 57.4), ("bipolar", 66.6), ("depression", 55.4)]
)
def test_pam_means_by_diagnosis(baseline, diagnosis, mean):
    # PAM-MH validation study means; the SDs (10-17) make ±4 points a strict but fair window.
    for day in (0, 365):
        assert at(baseline, day, f"activation_mean_{diagnosis}") == pytest.approx(mean, abs=4.0)


def test_moderate_or_high_self_stigma_share(baseline):
    # Brohan 2010 (41.7%, schizophrenia), Dubreucq 2021 (31.3% average): between 30% and 45%.
    assert STIGMA_MODERATE_HIGH == 0.5
    for day in (0, 365):
        assert 0.30 <= at(baseline, day, "stigma_moderate_high_share") <= 0.45
