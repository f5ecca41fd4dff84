"""Kernel arguments bound by name (simulation/calls.py): a swapped or mistyped argument fails
with an error naming it, never runs."""

from __future__ import annotations

import numpy as np
import pytest

from peerwell.simulation import calls as C
from peerwell.simulation import kernels as K
from peerwell.simulation import summary_kernel as SK
from peerwell.simulation.params import ModelParams, with_overrides
from peerwell.simulation.population import init_state
from peerwell.simulation.state import State
from peerwell.simulation.theta import pack_theta

KEY = np.uint64(12345)


@pytest.fixture
def st() -> State:
    return init_state(with_overrides(ModelParams(), {"population.size": 200}))


@pytest.fixture
def th() -> np.ndarray:
    return pack_theta(ModelParams())


def test_every_kernel_is_called_by_name():
    """Every kernel of kernels.py and summary_kernel.py has its wrapper, each parameter bound."""
    kernels = {getattr(K, n) for n in dir(K) if n.endswith("_kernel")} | {
        SK.summary_sums,
        SK.community_sums,
    }
    wrapped = {f.binding.kernel for f in vars(C).values() if hasattr(f, "binding")}
    assert wrapped == kernels


def test_swapped_float64_arrays_fail_naming_both(st, th):
    x = st.cur
    before = {k: v.copy() for k, v in st.nxt.items()}
    with pytest.raises(TypeError) as err:
        C.social(st, th=th, belonging=x["stigma"], stigma=x["belonging"])
    assert "belonging and stigma are state arrays" in str(err.value)
    assert all(np.array_equal(before[k], st.nxt[k]) for k in before), "the kernel ran"


def test_a_state_array_given_as_itself_is_refused_too(st, th):
    # Even the right array: the state is the one source, so a call can never drift from it.
    with pytest.raises(TypeError, match="social_kernel: stigma is a state array"):
        C.social(st, th=th, stigma=st.cur["stigma"])


def test_swapped_keyword_arrays_fail_on_dtype(st, th):
    g_indptr = np.zeros(st.n + 1, dtype=np.int64)
    g_indices = np.zeros(0, dtype=np.int32)
    with pytest.raises(TypeError, match="exchange_kernel: indptr must be a 1-d int64 array"):
        C.exchange(
            st, th=th, key=KEY, peer_norms=True, indptr=g_indices, indices=g_indptr,
            beliefs=True, belief_key=KEY, all_flows=True,
        )  # fmt: skip


def test_missing_unknown_and_mistyped_keywords_fail(st, th):
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'key'"):
        C.care(st, th=th)
    with pytest.raises(TypeError, match="no parameter seed"):
        C.care(st, th=th, key=KEY, seed=1)
    with pytest.raises(TypeError, match="care_kernel: key must be uint64, not int"):
        C.care(st, th=th, key=12345)
    with pytest.raises(TypeError, match="th must be a 1-d float64 array of length"):
        C.care(st, th=th[:-1], key=KEY)
    with pytest.raises(TypeError, match="pack must be bool, not int"):
        C.posting(st, th=th, key=KEY, pack=1)
    with pytest.raises(TypeError):
        C.care(st, th, KEY)  # positional arguments: the call that could be swapped


def test_a_state_array_of_the_wrong_dtype_or_length_fails(st, th):
    st.bindings.clear()
    st.cur["stigma"] = st.cur["stigma"].astype(np.float32)
    with pytest.raises(TypeError, match="social_kernel: stigma must be a 1-d float64 array"):
        C.social(st, th=th)
    st.bindings.clear()
    st.cur["stigma"] = np.zeros(st.n + 1)
    with pytest.raises(TypeError, match=f"of length {st.n}, not float64 of shape"):
        C.social(st, th=th)


def test_a_parameter_named_after_no_state_array_fails_on_wrapping():
    def bad_kernel(th, stigma, stigmaa):
        pass

    bad_kernel.py_func = bad_kernel
    with pytest.raises(TypeError, match="bad_kernel: parameter 'stigmaa' names no state array"):
        C.KernelCall(bad_kernel)


def test_arguments_follow_the_day_and_freeze(st, th):
    """``cur``/``nxt`` swap daily and ``freeze`` rebinds: each call gets today's arrays."""

    def bound(name):
        call = C.social.binding
        return st.bindings[call][call.params.index(name) - 1]  # after th

    C.social(st, th=th)
    assert bound("stigma") is st.cur["stigma"] and bound("stigma_next") is st.nxt["stigma"]
    st.swap()
    C.social(st, th=th)
    assert bound("stigma") is st.cur["stigma"] and bound("stigma_next") is st.nxt["stigma"]
    st.freeze(["stigma"])
    assert not st.bindings and not st.swapped_bindings
    C.social(st, th=th)
    assert bound("stigma_next") is st.cur["stigma"]
