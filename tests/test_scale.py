"""At scale (issue #8): the large-graph builder gives what it promises, threads do not change the
results, the lazy agent views show the arrays, and `python -m benchmarks --quick` writes its report.

Timings are the benchmarks' job (benchmarks/, `make bench`); these are the properties.
"""

from __future__ import annotations

import gc
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from peerwell.simulation.model import AGENT_VIEW_LIMIT, PeerwellModel
from peerwell.simulation.network import LARGE_GRAPH, sbm_csr, sbm_probabilities
from peerwell.simulation.params import CARE_STATES, DIAGNOSES, ROLES

ROOT = Path(__file__).resolve().parent.parent
BIG = 100_000
DEGREE = 20.0
WITHIN = 0.8


@pytest.fixture(scope="module")
def big_model():
    """A 100,000-person model (network from ``sbm_csr``, no agent views), three days in."""
    # Load every compiled kernel first (the model's, and sbm_csr's): loading makes Python objects.
    PeerwellModel(**{"population.size": 500, "steps": 1}).run_model()
    sbm_csr(np.zeros(100, dtype=np.int64), np.array([[0.1]]), 0)
    before = len(gc.get_objects())
    m = PeerwellModel(**{"population.size": BIG, "network.mean_degree": DEGREE,
                         "network.within_share": WITHIN, "steps": 3})  # fmt: skip
    created = len(gc.get_objects()) - before
    m.run_model()
    return m, created


# ---------------------------------------------------------------------------------------------
# The large-graph builder (sbm_csr): what its docstring promises


@pytest.mark.slow
def test_large_sbm_is_a_clean_symmetric_csr(big_model):
    m, _ = big_model
    g, n = m.graph, BIG
    assert n > LARGE_GRAPH  # built by sbm_csr, not networkx
    assert g.indptr.dtype == np.int64 and g.indices.dtype == np.int32
    assert g.indptr[0] == 0 and np.all(np.diff(g.indptr) >= 0) and g.indptr[-1] == len(g.indices)
    src = np.repeat(np.arange(n, dtype=np.int64), g.degree())
    dst = g.indices.astype(np.int64)
    assert not np.any(src == dst), "self-loops"
    key = src * n + dst
    assert np.all(np.diff(key) > 0), "rows sorted, no repeated ties"
    assert np.array_equal(np.sort(dst * n + src), key), "not symmetric"


def promised_degree(probs: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """sbm_csr's docstring: a person of block a has Poisson(probs[a, a]·(size_a - 1)
    + Σ_b≠a probs[a, b]·size_b) ties, less the dropped self-pairs (a share 1/size_a of the ties
    inside a block) and repeats (a share probs[a, b]/2 of the ties between blocks a and b)."""
    out = np.zeros(len(sizes))
    for a in range(len(sizes)):
        for b in range(len(sizes)):
            p = probs[a, b]
            if a == b:
                out[a] += p * (sizes[a] - 1) * (1 - 1 / sizes[a] - p / 2)
            else:
                out[a] += p * sizes[b] * (1 - p / 2)
    return out


@pytest.mark.slow
def test_large_sbm_has_the_promised_degrees(big_model):
    m, _ = big_model
    g, home = m.graph, m.state.static["home"]
    blocks = m.params.communities.count
    sizes = np.bincount(home, minlength=blocks)
    probs = sbm_probabilities(sizes, DEGREE, WITHIN)
    deg = g.degree()
    expected = promised_degree(probs, sizes)
    ties = g.edges
    se = 2 * math.sqrt(ties) / BIG  # the number of ties is a sum of binomials
    assert abs(deg.mean() - (expected * sizes).sum() / BIG) < 4 * se + 1e-3
    assert abs(deg.mean() - DEGREE) < 0.01 * DEGREE  # the configured mean degree
    for a in range(blocks):
        d = deg[home == a]
        # Poisson within a block: its mean, its variance, and its shape (χ² against the pmf).
        # (a tie inside the block adds to two of its people: at most twice Poisson's variance)
        assert abs(d.mean() - expected[a]) < 4 * math.sqrt(2 * expected[a] / len(d))
        se_var = math.sqrt((expected[a] + 2 * expected[a] ** 2) / len(d))
        assert abs(d.var() - expected[a]) < 4 * se_var
        lo, hi = stats.poisson.ppf([0.001, 0.999], expected[a]).astype(int)
        observed = np.bincount(np.clip(d, lo, hi) - lo, minlength=hi - lo + 1)
        pmf = stats.poisson.pmf(np.arange(lo, hi + 1), expected[a])
        pmf[0] += stats.poisson.cdf(lo - 1, expected[a])
        pmf[-1] += stats.poisson.sf(hi, expected[a])
        assert stats.chisquare(observed, pmf * len(d)).pvalue > 1e-3


@pytest.mark.slow
def test_large_sbm_has_the_promised_communities(big_model):
    m, _ = big_model
    g, home = m.graph, m.state.static["home"]
    blocks = m.params.communities.count
    sizes = np.bincount(home, minlength=blocks)
    # Homes are uniform over the communities: multinomial sizes.
    p = 1 / blocks
    assert np.all(np.abs(sizes - BIG * p) < 4 * math.sqrt(BIG * p * (1 - p)))
    src = np.repeat(np.arange(BIG), g.degree())
    inside = home[src] == home[g.indices]
    ties = g.edges
    assert abs(inside.mean() - WITHIN) < 4 * math.sqrt(WITHIN * (1 - WITHIN) / ties) + 2e-3
    # Ties inside each block: Binomial(size·(size-1)/2, probs[a, a]), less the dropped pairs.
    probs = sbm_probabilities(sizes, DEGREE, WITHIN)
    within_ties = np.bincount(home[src[inside]], minlength=blocks) / 2
    for a in range(blocks):
        mean = sizes[a] * (sizes[a] - 1) / 2 * probs[a, a]
        mean *= 1 - 1 / sizes[a] - probs[a, a] / 2
        assert abs(within_ties[a] - mean) < 4 * math.sqrt(mean)


# ---------------------------------------------------------------------------------------------
# Threads do not change results

THREADS_CHILD = r"""
import hashlib, sys, numpy as np, numba
from peerwell.simulation.model import PeerwellModel
m = PeerwellModel(**{"population.size": int(sys.argv[1]), "network.mean_degree": 20.0,
                     "steps": int(sys.argv[2])}, agent_views=False)
m.run_model()
h = hashlib.sha256()
traj = m.trajectories()
for c in traj.columns:
    h.update(c.encode()); h.update(traj[c].to_numpy().tobytes())
for name in sorted(m.state.cur):
    h.update(name.encode()); h.update(np.ascontiguousarray(m.state.cur[name]).tobytes())
print(numba.get_num_threads(), h.hexdigest())
"""


@pytest.mark.slow
def test_one_and_two_threads_are_bit_identical_at_100k():
    procs = {}
    for t in (1, 2):
        env = {**os.environ, "NUMBA_NUM_THREADS": str(t)}
        procs[t] = subprocess.Popen([sys.executable, "-c", THREADS_CHILD, str(BIG), "4"], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    out = {}
    for t, p in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-2000:]
        threads, digest = stdout.split()[-2:]
        assert int(threads) == t
        out[t] = digest
    assert out[1] == out[2]


# ---------------------------------------------------------------------------------------------
# Lazy agent views


def check_view(m: PeerwellModel, i: int) -> None:
    v = m.person(i)
    cur, static = m.state.cur, m.state.static
    assert v.index == i and v.model is m
    assert v.diagnosis == DIAGNOSES[static["diagnosis"][i]]
    assert v.role == ROLES[cur["role"][i]]
    c = int(cur["community"][i])
    assert v.community == (None if c < 0 else c) and v.online == (c >= 0)
    assert v.activation == cur["activation"][i]
    assert v.self_stigma == cur["stigma"][i]
    assert v.belonging == cur["belonging"][i]
    assert v.empowerment == cur["empowerment"][i]
    assert v.uncertainty == cur["uncertainty"][i]
    assert v.misinformed == (cur["misinfo"][i] == 1)
    assert v.care_status == CARE_STATES[cur["care"][i]]
    assert v.wellbeing_mental == cur["wellbeing_mental"][i]
    assert v.wellbeing_physical == cur["wellbeing_physical"][i]
    assert v.recovery == cur["recovery"][i]
    assert v.employed == bool(cur["employed"][i])
    assert v.enrolled == bool(cur["enrolled"][i])
    d = v.as_dict()
    assert d["index"] == i and d["activation"] == v.activation and d["care_status"] == v.care_status


@pytest.mark.slow
def test_lazy_views_at_100k_show_the_arrays_and_are_made_on_demand(big_model):
    m, created = big_model
    assert BIG > AGENT_VIEW_LIMIT
    # No view per person up front: far fewer new Python objects than people.
    assert created < 5_000, f"{created} Python objects created for {BIG} people"
    assert len(m.agents) == 0
    sample = np.random.default_rng(8).choice(BIG, 200, replace=False)
    for i in sample:
        check_view(m, int(i))
    assert len(m.agents) == len(sample)  # a view per person asked for, no more
    assert m.person(int(sample[0])) is m.person(int(sample[0]))  # one view per person
    m.step()  # the same views follow the arrays
    for i in sample[:50]:
        check_view(m, int(i))
    with pytest.raises(IndexError):
        m.person(BIG)


def test_small_models_have_every_view_in_agents():
    m = PeerwellModel(**{"population.size": 400, "steps": 5})
    m.run_model()
    assert len(m.agents) == 400
    assert {a.index for a in m.agents} == set(range(400))
    for a in list(m.agents)[::37]:
        assert m.person(a.index) is a
        check_view(m, a.index)


# ---------------------------------------------------------------------------------------------
# The benchmark suite (benchmarks/, run from the checkout)


@pytest.mark.slow
def test_bench_quick_writes_every_section(tmp_path):
    out = tmp_path / "report" / "RESULTS.md"
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--output", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    text = out.read_text()
    for heading in ("# peerwell performance results", "Quick smoke run", "## Machine",
                    "## Versions", "## Goals (issue #8)", "## 1. Full model vs the plain",
                    "## 2. SIS on one graph", "## 3. Scale", "## 4. One thread or two",
                    "## Exact command", "## Full output"):  # fmt: skip
        assert heading in text, heading
    for word in ("CPU", "RAM", "load average (1, 5, 15 min) at start", "at end", "numba", "mesa",
                 "git commit", "python -m benchmarks --quick --output"):  # fmt: skip
        assert word in text, word
    for goal in ("| 1. Full model, 365 days", "| 1. … peak memory", "| 2. Full model day",
                 "| 3. Full model vs plain", "| 3. peerwell's SIS", "| 3. … endemic prevalence",
                 "| 4. 2 threads vs 1", "| 5. Time per step per tie",
                 "| 6. A second thread never slows a run"):  # fmt: skip
        assert goal in text, goal
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["results"]["bench_sis"]["bit_identical"]
    assert all(p["bit_identical"] for p in data["results"]["bench_scale"]["pairs"])
    assert all(r["identical"] for r in data["results"]["bench_threads"]["rows"])
    if "ndlib" in data["results"]["bench_sis"]["rows"]:  # ratios are per round, with their range
        paired = data["results"]["bench_sis"]["paired"]["peerwell_auto"]
        assert paired["low"] <= paired["median"] <= paired["high"]
    try:
        import ndlib.models.epidemics  # noqa: F401

        assert "NDlib 6.0.1 SISModel" in text
    except ImportError:
        assert "pip install -e '.[bench]'" in text
