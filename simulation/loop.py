"""The whole order of one day, in one function (after Starsim's ``loop.py``).

Each line says why it stands where it does. A kernel takes its state arrays by name
(``calls.py``: ``community`` is day t's, ``community_next`` day t+1's, ``c_volume`` a
community's), so a call here gives only what is not state: the parameters, today's random keys,
switches. ``StepTimer`` collects the CPU time of each submodel when asked
(``PeerwellModel(..., timing=True)``). A submodel switched off (``submodels.<name>=false``) is
skipped.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict

import numpy as np

from . import calls as C
from . import rng
from .network import CSRGraph
from .params import SubmodelSwitches
from .population import set_open
from .state import State


class StepTimer:
    """Accumulates wall time per mechanism; a no-op when disabled."""

    def __init__(self, enabled: bool = False):
        self.enabled = enabled
        self.seconds: dict[str, float] = defaultdict(float)
        self._t = 0.0

    def start(self) -> None:
        if self.enabled:
            self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        if self.enabled:
            now = time.perf_counter()
            self.seconds[name] += now - self._t
            self._t = now


# Each mechanism's random-number stream (rng.DAY_STREAMS), and its place in a day's key array.
STREAMS = np.array(list(rng.DAY_STREAMS.values()), dtype=np.int64)
MEMBERSHIP, POSTING, HOSTILITY, MISINFO, CARE, INTERVENTION, OFFLINE, PRIVACY = range(len(STREAMS))


@functools.lru_cache(maxsize=64)
def _stream_keys(seed: int) -> np.ndarray:
    return np.array([rng.stream_key(seed, int(s)) for s in STREAMS], dtype=np.uint64)


def step_keys(seed: int, t: int) -> np.ndarray:
    """The random-number key of every mechanism on day t (indexed by ``MEMBERSHIP`` … ``OFFLINE``);
    ``rng.step_key(seed, stream, t)`` for each, in one compiled call (a day at 10,000 people is
    about a millisecond, so twenty-one Python hashes a day were worth removing)."""
    return rng.day_keys(_stream_keys(seed), t)


# The submodels that read the exchange's flows (support, hostility, exposures, peer norms) for
# everyone; the fused belief update reads only some people's (``kernels._belief_reads_exposures``).
EXPOSURE_READERS = ("social", "activation", "care", "wellbeing")


def run_day(
    st: State,
    g: CSRGraph,
    th: np.ndarray,
    seed: int,
    t: int,
    timer: StepTimer,
    on: SubmodelSwitches,
    flows_read: bool = True,
) -> None:
    """Advance the state from day t to day t+1 (``st.cur`` then holds day t+1).

    ``on`` says which submodels run. One that does not run costs nothing: its variables were
    frozen at the start (``State.freeze``) and its flows in ``st.scratch`` stay zero.
    ``flows_read`` says whether anyone reads today's flows after the day (the recorder on a
    recorded day, a day-by-day reader): if not, and no running submodel reads the exchange's
    flows, the exchange computes only what the belief update reads (``exchange_kernel``).
    """
    key = step_keys(seed, t)
    # Posting also writes the exchange's tags: each rule reads only its own person's values, so
    # one parallel pass does both with the same draws (at 10,000 people, starting a pass costs
    # about as much as running it). Timed days keep them apart, so each submodel's time can be
    # told; the results are the same (tests/test_model.py).
    fuse = not timer.enabled
    tags_in_posting = fuse and on.posting and on.exchange
    all_flows = flows_read or any(getattr(on, name) for name in EXPOSURE_READERS)
    # The exchange can also update beliefs in its pass, and must when it is to skip the flows
    # nobody reads (``exchange_kernel``: then only the belief update's exposures are gathered,
    # the SIS configuration's day). With every flow computed, the belief update's own pass is
    # the faster: in one pass with the gather, a day at a million people took 70 ms for both
    # against 42 + 5 apart (measured at issue 19). Privacy likewise runs in its own pass (inside
    # posting it kept that loop from vectorising: 19 ms against 6 + 2).
    beliefs_in_exchange = fuse and on.exchange and on.misinformation and not all_flows
    # Which communities are open today (opens <= t < closes): membership takes members only into
    # open ones, and everyone leaves a closed one.
    set_open(st, t)
    timer.start()
    # 1. Entry first: today's exchange happens among today's members (the critical point).
    if on.membership:
        C.membership(st, th=th, key=key[MEMBERSHIP])
        timer.lap("membership")
    # 2. Who posts what: needs today's membership, and yesterday's beliefs (what people post).
    if on.posting:
        C.posting(st, th=th, key=key[POSTING], pack=tags_in_posting)
        timer.lap("posting")
    # 3. Each community's feed, as its real members write it (the simulated ones are a sample):
    #    read by everyone in the exchange below.
    if on.feed:
        C.feed(st, th=th)
        timer.lap("feed")
    # 4. Exchange over ties and feeds: the one neighbour gather; every update below reads its output.
    #    Peer norms are gathered only for the social submodel, their one reader.
    if on.exchange:
        if not tags_in_posting:
            C.pack(st)
        C.exchange(
            st, th=th, key=key[HOSTILITY], peer_norms=on.social, indptr=g.indptr, indices=g.indices,
            beliefs=beliefs_in_exchange, belief_key=key[MISINFO], all_flows=all_flows,
        )  # fmt: skip
        timer.lap("exchange")
    elif on.social:
        # Nobody met: peer norms are one's own self-stigma (what the exchange writes with no ties).
        np.copyto(st.scratch["norm_stigma"], st.cur["stigma"])
    # 5. Who discloses their diagnosis in today's posts, and whom a disclosure harms today: after
    #    posting (a disclosure is in a post), before the updates that feel the harm (self-stigma,
    #    work).
    if on.privacy:
        C.privacy(st, th=th, key=key[PRIVACY])
        timer.lap("privacy")
    # 6. Support, empowerment, hostility and privacy harms move belonging and self-stigma.
    if on.social:
        C.social(st, th=th)
        timer.lap("social")
    # 7. Misleading beliefs: adopted from today's misleading posts, corrected by moderators, peers'
    #    replies to today's misleading posts (the feed above) and care. (In the exchange's pass
    #    when both run untimed.)
    if on.misinformation and not beliefs_in_exchange:
        C.misinformation(st, th=th, key=key[MISINFO])
        timer.lap("misinformation")
    # 8. Learning from peers raises activation; misleading content and hostility raise uncertainty.
    if on.activation:
        C.activation(st, th=th)
        timer.lap("activation")
    # 9. Care-seeking follows yesterday's activation, stigma and beliefs (activation pathway).
    if on.care:
        C.care(st, th=th, key=key[CARE])
        timer.lap("care")
    # 10. Online interventions: only members of a hosting community can enrol or stay enrolled.
    if on.intervention:
        C.intervention(st, th=th, key=key[INTERVENTION])
        timer.lap("intervention")
    # 11. Wellbeing follows yesterday's states; hostility today is an immediate shock.
    if on.wellbeing:
        C.wellbeing(st, th=th)
        timer.lap("wellbeing")
    # 12. Offline outcomes last: they integrate wellbeing and activation (the translation question).
    if on.offline:
        C.offline(st, th=th, key=key[OFFLINE])
        timer.lap("offline")
    # 13. Day t+1 becomes today. Kernels 1-5 must run in this order (each reads what the one
    #     before wrote today); kernels 6-12 read only day t, today's exposures and harms, and
    #     (trust, in 8) whom today's belief update corrected, so 7 comes before 8; the order of the
    #     others among themselves does not matter.
    st.swap()
