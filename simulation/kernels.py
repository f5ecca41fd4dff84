"""Numba kernels: one per mechanism of the conceptual model (Naslund et al. 2016, Fig. 1).

Each kernel loops over people (``prange``), reads day t (and what earlier kernels wrote today)
and writes day t+1. Random draws come from ``rng.uniform(key, person, draw)``, so a person's draws
do not depend on threads or visiting order, nor on whether another draw was taken: a draw whose
answer is known (a chance of 0 or 1: ``rng.chance``) or an exponential that cannot change it
(``rng.hazard_chance``) is skipped, which changes no result and saves most of the work on people
a mechanism cannot touch today. The plain-Python twin of every kernel is in
``reference.py``; ``tests/test_reference.py`` holds the two equal to 1e-9.

Parameters are named after the state arrays they take (``community`` day t's, ``community_next``
day t+1's, ``c_volume`` a community's, as in ``state.py``), and ``calls.py`` passes each by that
name: keep the names, and put the others (``th``, random keys, switches) first.

Notation in the comments: S support signal, H hostile comment today (0/1), λ expected posts met.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import theta as T
from .rng import chance, hazard_chance, uniform


@njit(inline="always")
def _clip01(x):
    return min(max(x, 0.0), 1.0)


@njit(inline="always")
def _one_minus_exp(x):
    """1 - exp(-x), without the exponential when x is 0 (most people meet nothing on most days)."""
    return 1.0 - math.exp(-x) if x != 0.0 else 0.0


@njit(inline="always")
def _pick(cum, n_open, t):
    """The first open community whose cumulative weight exceeds ``t`` (binary search)."""
    lo = 0
    hi = n_open - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] > t:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(parallel=True, cache=True)
def membership_kernel(
    th, key, community, ever_online, belonging, hostile_recent, privacy_harm, use, home, c_open,
    c_attraction, n_communities, community_next, ever_online_next, joined, left,
):  # fmt: skip
    """Entry (the critical point), leaving and moving (ODD §7.1).

    Offline: join with probability ``join_rate * use``; pick the home community with probability
    ``home_bias`` if it is open, else choose among the open communities with probability
    proportional to their ``attraction`` (moderation draws, hostility repels). Online: leave with
    probability
    ``leave_rate * (1 + leave_after_hostility * hostile_recent) * (1 - belonging_retention * belonging)
    * (1 + [privacy] harm_leave * privacy_harm)``,
    or for certain when one's community is not open today (it closed); a share ``switch_share``
    of those who leave move the same day to another open community, chosen by attraction among
    the others (counted as leaving one and joining the other).

    A choice is one uniform draw ``v`` against the open communities' cumulative weights ``W``:
    the first with ``W > v * W_total`` (a choice among the others skips the current community's
    interval). Equal weights give ``open_ids[floor(v * n_open)]``, the uniform pick.
    """
    n = community.shape[0]
    open_ids = np.empty(n_communities, dtype=np.int64)
    position = np.full(n_communities, -1, dtype=np.int64)
    cum = np.empty(n_communities, dtype=np.float64)
    n_open = 0
    total = 0.0
    for k in range(n_communities):
        if c_open[k] == 1:
            total += c_attraction[k]
            open_ids[n_open] = k
            position[k] = n_open
            cum[n_open] = total
            n_open += 1
    switch = th[T.SWITCH_SHARE]
    for i in prange(n):
        c = community[i]
        j = 0
        lv = 0
        if c < 0:
            if n_open > 0 and th[T.SW_ENTRY] > 0.0 and chance(key, i, 0, th[T.JOIN_RATE] * use[i]):
                c = home[i]
                if not chance(key, i, 1, th[T.HOME_BIAS]) or c_open[c] == 0:
                    c = open_ids[_pick(cum, n_open, uniform(key, i, 2) * total)]
                j = 1
        else:
            if c_open[c] == 0:
                go = True
            else:
                p = (
                    th[T.LEAVE_RATE]
                    * (1.0 + th[T.LEAVE_HOSTILITY] * hostile_recent[i])
                    * (1.0 - th[T.BELONGING_RETENTION] * belonging[i])
                    * (1.0 + th[T.SW_PRIVACY] * th[T.HARM_LEAVE] * privacy_harm[i])
                )
                go = chance(key, i, 0, p)
            if go:
                lv = 1
                pos = position[c]  # -1 when it closed: then every open community is another
                others = n_open - (1 if pos >= 0 else 0)
                if others > 0 and chance(key, i, 3, switch):
                    w_here = c_attraction[c] if pos >= 0 else 0.0
                    t = uniform(key, i, 4) * (total - w_here)
                    if pos >= 0 and t >= cum[pos] - w_here:
                        t += w_here  # skip the current community's interval
                    k = _pick(cum, n_open, t)
                    if k == pos:  # only by rounding at the last interval
                        k = pos - 1 if pos > 0 else pos + 1
                    c = open_ids[k]
                    j = 1
                else:
                    c = -1
        community_next[i] = c
        ever_online_next[i] = 1 if (ever_online[i] == 1 or c >= 0) else 0
        joined[i] = j
        left[i] = lv


@njit(inline="always")
def _role_rate(th, role):
    """The daily posting chance of a role (population.post_rate_lurker … _superuser)."""
    return th[T.POST_RATE_LURKER + role]


@njit(parallel=True, cache=True)
def posting_kernel(
    th, key, pack, community_next, role, misinfo, ever_posted, posts, belonging, hostile_recent,
    posted, post_misinfo, post_accurate, post_aware, ever_posted_next, posts_next, role_next,
    stigma, tag,
):  # fmt: skip
    """Lurk or post, and roles that change (ODD §7.2). A member posts with their role's daily rate;
    a share ``health_post_share`` of posts carries health information, misleading if the poster
    holds a misleading belief.

    Then, with the role-change mechanism, a member's role for tomorrow: a lurker becomes a
    contributor with probability become_contributor·belonging; a contributor becomes a superuser
    with probability become_superuser, or burns out back to lurking with probability
    burnout·(1 + burnout_hostility·hostile_recent); a superuser burns out to contributing with
    that probability. (One draw for the contributor: up below become_superuser, down at or above
    1 - burnout·(…).)

    With ``pack`` (the exchange runs today), also writes each person's ``tag`` for the exchange
    (``pack_kernel``'s work, in the same pass: at 10,000 people a pass costs as much to start as
    to run)."""
    n = community_next.shape[0]
    roles_on = th[T.SW_ROLES] > 0.0
    # The parameters as locals: read from ``th`` in the loop, they are read again for every person
    # (the stores to the day's arrays might, for all the compiler knows, have changed them).
    rate_lurker, rate_contributor, rate_superuser = (
        _role_rate(th, 0),
        _role_rate(th, 1),
        _role_rate(th, 2),
    )
    health_share = th[T.HEALTH_POST_SHARE]
    misleads = th[T.SW_MISINFO] > 0.0
    burnout, burnout_hostility = th[T.BURNOUT], th[T.BURNOUT_HOSTILITY]
    become_contributor, become_superuser = th[T.BECOME_CONTRIBUTOR], th[T.BECOME_SUPERUSER]
    for i in prange(n):
        c = community_next[i]
        p = 0
        pm = 0
        pa = 0
        r = role[i]
        rate = rate_lurker if r == 0 else (rate_contributor if r == 1 else rate_superuser)
        if c >= 0 and chance(key, i, 0, rate):
            p = 1
            if chance(key, i, 1, health_share):
                if misinfo[i] == 1 and misleads:
                    pm = 1
                else:
                    pa = 1
        aw = 1 if (p == 1 and misinfo[i] >= 1) else 0
        posted[i] = p
        post_aware[i] = aw
        post_misinfo[i] = pm
        post_accurate[i] = pa
        ever_posted_next[i] = 1 if (ever_posted[i] == 1 or p == 1) else 0
        posts_next[i] = posts[i] + p
        if c >= 0 and roles_on:
            # One draw for every member (``chance(key, i, 2, p)`` is ``uniform(key, i, 2) < p``
            # for any p, so taking the draw always changes no answer), the role picked by selects.
            v = uniform(key, i, 2)
            down = burnout * (1.0 + burnout_hostility * hostile_recent[i])
            up_lurker = v < become_contributor * belonging[i]
            contributor = 2 if v < become_superuser else (0 if v >= 1.0 - down else 1)
            superuser = 1 if v < down else 2
            r = (1 if up_lurker else 0) if r == 0 else (contributor if r == 1 else superuser)
        role_next[i] = r
        if pack:
            tag[i] = _tag(c, stigma[i], p, pm, pa, aw)


@njit(cache=True)
def feed_kernel(
    th, community_next, role, misinfo, c_size, c_moderation, c_misinfo_prevalence,
    c_supporters, c_members, c_volume, c_feed_misinfo, c_feed_accurate, c_feed_aware,
    c_member_share,
):  # fmt: skip
    """Each community's feed today, as its real members write it (ODD §7.3).

    The simulated members are a sample of the community's ``size`` real members, so the feed is
    the sample's expected posts scaled up: member posts ``P = size / m · Σ π_role`` over the
    ``m`` simulated members, of which a share ``health_post_share`` carries health information,
    misleading from members who hold a misleading belief. The volume is ``P`` plus the peer
    supporters' posts; the shares of it that are misleading (outside sources plus members, less
    what moderators remove), accurate, and from members who know the claim follow. Expected
    rather than drawn posts: what a person reads then depends on the real community, not on how
    many simulated people share it (the draws of who posted still decide replies on ties).
    A community without simulated members has an empty feed (nobody reads it).
    Serial: a few additions per person, in a fixed order."""
    nc = c_members.shape[0]
    rate = np.zeros(nc)
    mis = np.zeros(nc)
    acc = np.zeros(nc)
    aware = np.zeros(nc)
    sw_mis = th[T.SW_MISINFO] > 0.0
    for c in range(nc):
        c_members[c] = 0
    for i in range(community_next.shape[0]):
        c = community_next[i]
        if c >= 0:
            c_members[c] += 1
            r = _role_rate(th, role[i])
            rate[c] += r
            # What posting_kernel draws, in expectation: a misled member's health posts mislead
            # (while the misinformation mechanism is on); everyone else's are accurate.
            if misinfo[i] == 1 and sw_mis:
                mis[c] += r
            else:
                acc[c] += r
            if misinfo[i] >= 1:
                aware[c] += r
    hs = th[T.HEALTH_POST_SHARE]
    for c in range(nc):
        m = c_members[c]
        scale = c_size[c] / m if m > 0 else 0.0
        posts = scale * rate[c]
        sup = c_supporters[c] * th[T.SUPPORTER_POST_RATE] if m > 0 else 0.0
        v = posts + sup
        c_volume[c] = v
        prev = th[T.SW_MISINFO] * c_misinfo_prevalence[c]
        if v > 0.0:
            keep = 1.0 - c_moderation[c] * th[T.MODERATION_EFFICACY]
            # Outside misleading content and hostile replies come with the members' own posts (a
            # share `prev` of the member threads); peer supporters' posts add clean volume.
            c_feed_misinfo[c] = (
                th[T.SW_MISINFO] * keep * (prev * posts + (1.0 - prev) * scale * hs * mis[c]) / v
            )
            c_feed_accurate[c] = ((1.0 - prev) * scale * hs * acc[c] + sup * hs) / v
            c_feed_aware[c] = scale * aware[c] / v
            c_member_share[c] = posts / v
        else:
            c_feed_misinfo[c] = 0.0
            c_feed_accurate[c] = 0.0
            c_feed_aware[c] = 0.0
            c_member_share[c] = 0.0


# Self-stigma as the peer norms see it: 14 bits (steps of 1/16383), packed beside the tag.
STIGMA_LEVELS = 16383

# The tag's four flag bits spread into four 16-bit lanes of one int64: the exchange counts tie
# posts, misleading, accurate and aware posts with one addition per tie instead of four, adding
# the lanes out every LANE_MAX ties (measured 8% off the exchange at a million people).
LANE_MAX = 65535
FLAG_LANES = np.array(
    [
        (b & 1) | ((b >> 1) & 1) << 16 | ((b >> 2) & 1) << 32 | ((b >> 3) & 1) << 48
        for b in range(16)
    ],
    dtype=np.int64,
)


@njit(inline="always")
def _tag(c, stigma, posted, post_misinfo, post_accurate, post_aware):
    """One person's tag (see ``pack_kernel``): -1 when offline."""
    if c < 0:
        return -1
    q = np.int32(math.floor(stigma * STIGMA_LEVELS + 0.5))
    flags = posted | (post_misinfo << 1) | (post_accurate << 2) | (post_aware << 3)
    return (c << 18) | (q << 4) | flags


@njit(parallel=True, cache=True)
def pack_kernel(community_next, posted, post_misinfo, post_accurate, post_aware, stigma, tag):
    """What the exchange reads of each neighbour, packed into one int32 per person.

    The gather over ties is the model's one random-access pass (about 20 million reads a day at a
    million people): one 4-byte read per neighbour, instead of one from each of six arrays, keeps
    a day near the cost of a bare neighbour sum. ``tag[i]`` is
    ``community << 18 | q << 4 | posted | misinfo << 1 | accurate << 2 | aware << 3`` with
    ``q = round(16383 · self-stigma)``, or -1 when offline (hence at most 8,191 communities).
    ``posting_kernel`` writes the same tags when it runs (``pack=True``); this pass is for days
    without posting.
    """
    for i in prange(community_next.shape[0]):
        c = community_next[i]
        tag[i] = _tag(c, stigma[i], posted[i], post_misinfo[i], post_accurate[i], post_aware[i])


@njit(parallel=True, cache=True)
def exchange_kernel(
    th, key, belief_key, peer_norms, beliefs, all_flows, indptr, indices,
    community_next, posted, tag, use, diagnosis, stigma, c_moderation, c_hostility, c_anti_stigma,
    c_volume, c_feed_misinfo, c_feed_accurate, c_feed_aware, c_member_share, reads, support,
    lam_misinfo, lam_accurate, lam_aware, anti_stigma, hostile, norm_stigma,
    misinfo, care, post_misinfo, trust, misinfo_next, adopted, corrected,
):  # fmt: skip
    """What each member meets today: posts of tied co-members (replies, follows) and a read of the
    community feed. Sets the support signal S = 1 - exp(-support_per_post · (tie posts + posts read
    + 2·[posted today])) — sharing one's own story draws replies —, the
    expected misleading and accurate posts met, anti-stigma posts read, and whether a hostile or
    derogatory comment arrives (on one's own post, or read), less what moderation removes.
    The same gather takes the mean self-stigma of tied co-members (peer norms), when
    ``peer_norms`` (only the social submodel reads them; without it, one's own self-stigma).

    With ``beliefs``, also applies ``misinformation_kernel``'s update to each person right after
    their exposures (it reads only their own; one pass instead of two, the same draws).

    Without ``all_flows`` (allowed only with ``beliefs``: the update is today's one reader), a
    member's exposures are gathered only when their own belief update reads them
    (``_belief_reads_exposures``), and nobody's support, reads, anti-stigma, hostile comment or
    peer norm is computed: those arrays keep older values and the skipped members' λ are 0. The
    beliefs are the same to the bit (a skipped λ only ever meets a zero coefficient). In the SIS
    configuration only the unaware gather: about 40% of the people at the endemic level."""
    n = community_next.shape[0]
    lean = beliefs and not all_flows
    for i in prange(n):
        c = community_next[i]
        lam_m = 0.0
        lam_a = 0.0
        lam_w = 0.0
        if c < 0:
            reads[i] = 0.0
            support[i] = 0.0
            anti_stigma[i] = 0.0
            hostile[i] = 0
            norm_stigma[i] = stigma[i]
        elif lean and not _belief_reads_exposures(th, misinfo[i]):
            pass  # nobody reads this member's exposures today
        else:
            tp = 0.0
            tm = 0.0
            ta = 0.0
            tw = 0.0
            ns = 0
            nk = 0
            # Blocks of at most LANE_MAX ties, so no 16-bit lane can overflow, whatever the degree
            # (a while loop: a stepped range costs a division per person).
            start = indptr[i]
            end = indptr[i + 1]
            while start < end:
                stop = min(start + LANE_MAX, end)
                lanes = 0
                # Two copies of the loop, with and without the peer norms: the compiler no longer
                # splits it by the flag itself since the rest of this pass grew (issue 19).
                if peer_norms:
                    for k in range(start, stop):
                        # Unsigned indices: Numba then skips its negative-index wrap-around (~20%).
                        t = tag[np.uint64(indices[k])]
                        # A tie is active while both are in the same community (t = -1 offline).
                        if (t >> 18) == c:
                            lanes += FLAG_LANES[np.uint64(t & 15)]
                            ns += (t >> 4) & STIGMA_LEVELS
                            nk += 1
                else:
                    for k in range(start, stop):
                        t = tag[np.uint64(indices[k])]
                        if (t >> 18) == c:
                            lanes += FLAG_LANES[np.uint64(t & 15)]
                tp += lanes & 0xFFFF
                tm += (lanes >> 16) & 0xFFFF
                ta += (lanes >> 32) & 0xFFFF
                tw += (lanes >> 48) & 0xFFFF
                start = stop
            r = min(th[T.READ_RATE] * use[i], c_volume[c])
            keep = 1.0 - c_moderation[c] * th[T.MODERATION_EFFICACY]
            lam_m = th[T.SW_MISINFO] * keep * tm + r * c_feed_misinfo[c]
            lam_a = ta + r * c_feed_accurate[c]
            lam_w = tw + r * c_feed_aware[c]
            if not lean:
                norm_stigma[i] = ns / nk / STIGMA_LEVELS if nk > 0 else stigma[i]
                reads[i] = r
                # Support by content (ODD §7.4): misleading tie posts and the misleading and
                # hostile share of what is read support nobody (without the switch every post
                # read supports, whatever it says: the rule before issue 19).
                by_content = th[T.SW_CONTENT]
                hostile_share = (
                    th[T.SW_HOSTILITY] * c_hostility[c] * keep * th[T.HOSTILE_PER_READ]
                    * c_member_share[c]
                )  # fmt: skip
                supportive = (
                    (tp - by_content * tm)
                    + r * max(0.0, 1.0 - by_content * (c_feed_misinfo[c] + hostile_share))
                    + 2.0 * posted[i]
                )
                sw_support = th[T.SW_SUPPORT]
                support[i] = (
                    sw_support * _one_minus_exp(th[T.SUPPORT_PER_POST] * supportive)
                    if sw_support != 0.0
                    else 0.0
                )
                anti_stigma[i] = r * c_anti_stigma[c]
                lam_h = (
                    th[T.SW_HOSTILITY]
                    * c_hostility[c]
                    * keep
                    * (posted[i] + th[T.HOSTILE_PER_READ] * r * c_member_share[c])
                )
                if diagnosis[i] == 0:
                    lam_h *= th[T.PSYCHOSIS_HOSTILITY]
                hostile[i] = 1 if hazard_chance(key, i, 0, lam_h) else 0
        lam_misinfo[i] = lam_m
        lam_accurate[i] = lam_a
        lam_aware[i] = lam_w
        if beliefs:
            misinfo_next[i], adopted[i], corrected[i] = _belief(
                th, belief_key, i, misinfo[i], c, care[i], post_misinfo[i], lam_m, lam_a, lam_w,
                _trust_weight(th, trust[i]), c_moderation, c_feed_accurate,
            )  # fmt: skip


@njit(inline="always")
def _hostility_weight(th, vulnerable):
    """How much one hostile comment counts: ``vulnerable_hostility`` for a vulnerable person
    (with the vulnerability mechanism), else 1 (ODD §7.5)."""
    return 1.0 + th[T.SW_VULNERABILITY] * (th[T.VULNERABLE_HOSTILITY] - 1.0) * vulnerable


@njit(parallel=True, cache=True)
def social_kernel(
    th, community_next, support, hostile, harmed, anti_stigma, norm_stigma, belonging, empowerment,
    stigma, hostile_recent, empowerment0, stigma0, belonging_offline, use, vulnerable,
    belonging_next, empowerment_next, stigma_next, hostile_recent_next,
):  # fmt: skip
    """Peer support and the stigma pathway, against hostility and privacy harms.

    b' = b + belonging_gain·S·(1-b) - belonging_decay·(b - b_off·(1 - [displacement]·displacement·use·[online]))
           - v·H·hostility_belonging_loss·b
    E' = E + [stigma]·empowerment_gain·S·(1-E) - empowerment_relaxation·(E-E0) - v·H·loss·E
    s' = s - [stigma]·(stigma_reduction·S·E + campaign_effect·(1-e^-anti))·s
           + v·H·hostility_stigma_gain·(1-s) + [privacy]·harm_stigma·[harmed]·(1-s)
           + stigma_relaxation·(s0-s) + [stigma]·peer_norm_weight·(mean of tied co-members' s - s)

    Belonging returns to one's offline connectedness b_off, which heavy use while online
    displaces; v is 1, or ``vulnerable_hostility`` for a vulnerable person.
    """
    n = support.shape[0]
    sw = th[T.SW_STIGMA]
    displace = th[T.SW_DISPLACEMENT] * th[T.DISPLACEMENT]
    for i in prange(n):
        s_sig = support[i]
        h = float(hostile[i]) * _hostility_weight(th, vulnerable[i])
        b = belonging[i]
        e = empowerment[i]
        s = stigma[i]
        online = 1.0 if community_next[i] >= 0 else 0.0
        offline_part = belonging_offline[i] * (1.0 - displace * use[i] * online)
        belonging_next[i] = _clip01(
            b
            + th[T.BELONGING_GAIN] * s_sig * (1.0 - b)
            - th[T.BELONGING_DECAY] * (b - offline_part)
            - h * th[T.HOSTILITY_BELONGING_LOSS] * b
        )
        empowerment_next[i] = _clip01(
            e
            + sw * th[T.EMPOWERMENT_GAIN] * s_sig * (1.0 - e)
            - th[T.EMPOWERMENT_RELAXATION] * (e - empowerment0[i])
            - h * th[T.HOSTILITY_EMPOWERMENT_LOSS] * e
        )
        campaign = _one_minus_exp(anti_stigma[i])
        stigma_next[i] = _clip01(
            s
            - sw * (th[T.STIGMA_REDUCTION] * s_sig * e + th[T.CAMPAIGN_EFFECT] * campaign) * s
            + h * th[T.HOSTILITY_STIGMA_GAIN] * (1.0 - s)
            + th[T.SW_PRIVACY] * th[T.HARM_STIGMA] * harmed[i] * (1.0 - s)
            + th[T.STIGMA_RELAXATION] * (stigma0[i] - s)
            + sw * th[T.PEER_NORM] * (norm_stigma[i] - s)
        )
        hostile_recent_next[i] = th[T.HOSTILITY_MEMORY] * hostile_recent[i] + hostile[i]


@njit(inline="always")
def _belief_reads_exposures(th, m):
    """Whether ``_belief`` reads the exposures (λ) of a person with belief ``m`` today: the
    unaware meet misleading posts (adoption); the misled are corrected by accurate posts met
    (``correction_peer``) and stifled by posts of people who know the claim (``stifling``); the
    corrected read none, unless they can renew and be misled the same day (``renewal_same_day``).
    Mirrors ``_belief``: where this says no, every λ meets a zero factor."""
    if m == 0:
        return th[T.SW_MISINFO] > 0.0
    if m == 1:
        return th[T.SW_CORRECTION] * th[T.CORRECTION_PEER] != 0.0 or th[T.STIFLING] != 0.0
    return th[T.RENEWAL_SAME_DAY] * th[T.MISINFO_RENEWAL] > 0.0 and th[T.SW_MISINFO] > 0.0


@njit(inline="always")
def _trust_weight(th, trust):
    """How much of an online post a person takes in: their trust in online health information
    relative to the population's baseline mean (ODD §7.7); 1 without the trust mechanism."""
    return trust / th[T.TRUST_REF] if th[T.SW_TRUST] > 0.0 else 1.0


@njit(inline="always")
def _belief(
    th, key, i, m, c, care, post_misinfo, lam_misinfo, lam_accurate, lam_aware, weight,
    c_moderation, c_feed_accurate,
):  # fmt: skip
    """Person i's belief tomorrow, and whether they adopted or were corrected today, from their
    belief ``m`` and community ``c`` today, their care state, today's exposures and the weight
    their trust gives online posts (the rule is ``misinformation_kernel``'s; the exchange applies
    it in its own pass). Outside peer communities everyone meets misleading and correcting items
    too, online or not (ODD §7.6). With ``renewal_same_day`` a corrected person who renews is
    unaware at once and can be misled the same day (pure SIS when ``misinfo_renewal`` is 1)."""
    ad = 0
    co = 0
    off = th[T.SW_OFFLINE_INFO]
    same_day = th[T.RENEWAL_SAME_DAY] > 0.0
    if m == 2 and same_day and chance(key, i, 2, th[T.MISINFO_RENEWAL]):
        m = 0
    if m == 0:
        if th[T.SW_MISINFO] > 0.0:
            hazard = (
                th[T.MISINFO_ADOPTION] * weight * lam_misinfo
                + off * th[T.MISINFO_EFFECT] * th[T.OFFLINE_MISINFO]
            )
            if hazard_chance(key, i, 0, hazard):
                m = 1
                ad = 1
    elif m == 1:
        rate = off * th[T.CORRECTION_EFFECT] * th[T.OFFLINE_CORRECTION]
        if c >= 0:
            rate += (
                c_moderation[c] * th[T.CORRECTION_MODERATOR]
                + th[T.CORRECTION_PEER] * weight * lam_accurate
                + th[T.CORRECTION_REPLY] * c_feed_accurate[c] * post_misinfo
            )
        if care == 2:
            rate += th[T.CORRECTION_CLINICIAN]
        hazard = th[T.SW_CORRECTION] * rate + th[T.STIFLING] * lam_aware
        if hazard_chance(key, i, 1, hazard):
            m = 2
            co = 1
    elif not same_day and chance(key, i, 2, th[T.MISINFO_RENEWAL]):
        m = 0
    return m, ad, co


@njit(parallel=True, cache=True)
def misinformation_kernel(
    th, key, community_next, misinfo, care, post_misinfo, lam_misinfo, lam_accurate, lam_aware,
    trust, c_moderation, c_feed_accurate, misinfo_next, adopted, corrected,
):  # fmt: skip
    """Misleading health beliefs: unaware (0) -> misled (1) -> corrected (2) -> unaware (new claims).

    0→1 with probability 1 - exp(-misinfo_adoption·λ_mis);
    0→1 adds [offline_information]·misinfo_effect·offline_misinfo (items met outside peer
        communities, online or not), and an online post counts w = trust/trust_mean of itself;
    1→2 with probability 1 - exp(-[correction]·([offline_information]·correction_effect·offline_correction
        + moderation·correction_moderator + correction_peer·w·λ_acc
        + correction_reply·f_acc·[posted a misleading post] [online]
        + correction_clinician [in care]) - stifling·λ_aware)
        (replies: a misleading post draws correcting replies from the community's accurate
        posters the same day; stifling: meeting posts of people who already know the claim, as
        in Maki-Thompson);
    2→0 with probability misinfo_renewal (with renewal_same_day, before today's 0→1 draw).

    The exchange applies the same rule in its own pass (``beliefs=True``) on days it skips the
    flows nobody reads (``loop.run_day``); this pass is for every other day, where it is the
    faster, and for timing each submodel on its own.
    """
    for i in prange(misinfo.shape[0]):
        misinfo_next[i], adopted[i], corrected[i] = _belief(
            th, key, i, misinfo[i], community_next[i], care[i], post_misinfo[i], lam_misinfo[i],
            lam_accurate[i], lam_aware[i], _trust_weight(th, trust[i]), c_moderation,
            c_feed_accurate,
        )  # fmt: skip


@njit(parallel=True, cache=True)
def activation_kernel(
    th, community_next, hostile, corrected, lam_misinfo, lam_accurate, misinfo, empowerment,
    uncertainty, activation, trust, uncertainty0, activation0, trust0, c_moderation,
    uncertainty_next, activation_next, trust_next,
):  # fmt: skip
    """Uncertainty (a risk), consumer activation (learning from peers) and trust in online
    health information (uncertainty about its reliability).

    L = 1 - exp(-w·λ_acc) (learning from accurate peer information, w = trust/trust_mean)
    U' = U + [uncertainty]·uncertainty_gain·(1 - e^-(λ_mis+H))·(1-U) - uncertainty_relief·L·U
           + uncertainty_relaxation·(U0-U)
    a' = a + [activation]·learning_gain·L·(1 + empowerment_boost·E)·(100-a) - misinfo_drag·[misled]·a
           - uncertainty_drag·max(U-U0, 0)·a + relaxation·(a0-a)
    τ' = τ + [trust]·(learning_gain·L·(1-τ) + moderation_gain·q·[online]·(1-τ)
           - found_out_loss·[corrected today, online]·τ - hostility_loss·H·τ) + relaxation·(τ0-τ)
    """
    n = activation.shape[0]
    sw_trust = th[T.SW_TRUST]
    for i in prange(n):
        u = uncertainty[i]
        a = activation[i]
        tau = trust[i]
        learn = _one_minus_exp(_trust_weight(th, tau) * lam_accurate[i])
        conflict = _one_minus_exp(lam_misinfo[i] + hostile[i])
        uncertainty_next[i] = _clip01(
            u
            + th[T.SW_UNCERTAINTY] * th[T.UNCERTAINTY_GAIN] * conflict * (1.0 - u)
            - th[T.UNCERTAINTY_RELIEF] * learn * u
            + th[T.UNCERTAINTY_RELAXATION] * (uncertainty0[i] - u)
        )
        misled = 1.0 if misinfo[i] == 1 else 0.0
        a_new = (
            a
            + th[T.SW_ACTIVATION]
            * th[T.LEARNING_GAIN]
            * learn
            * (1.0 + th[T.EMPOWERMENT_BOOST] * empowerment[i])
            * (100.0 - a)
            - th[T.MISINFO_DRAG] * misled * a
            - th[T.UNCERTAINTY_DRAG] * max(u - uncertainty0[i], 0.0) * a
            + th[T.ACTIVATION_RELAXATION] * (activation0[i] - a)
        )
        activation_next[i] = min(max(a_new, 0.0), 100.0)
        c = community_next[i]
        online = 1.0 if c >= 0 else 0.0
        q = c_moderation[c] if c >= 0 else 0.0
        trust_next[i] = _clip01(
            tau
            + sw_trust
            * (
                (th[T.TRUST_LEARNING] * learn + th[T.TRUST_MODERATION] * q) * (1.0 - tau)
                - (
                    th[T.TRUST_FOUND_OUT] * corrected[i] * online
                    + th[T.TRUST_HOSTILITY] * hostile[i]
                )
                * tau
            )
            + th[T.TRUST_RELAXATION] * (trust0[i] - tau)
        )


@njit(parallel=True, cache=True)
def care_kernel(
    th, key, care, activation, stigma, misinfo, enrolled, lam_accurate, recovery, trust,
    care_next, sought, entered_care,
):  # fmt: skip
    """Care-seeking: not seeking (0) / disengaged (3) -> seeking (1) -> in care (2) -> disengaged (3),
    or in care -> not seeking (0) on completing care.

    p_seek = seek_rate·exp(slope·(a-55))·(1 - stigma_barrier·s)·(1 - misinfo_barrier·[misled])
             ·(1 + [activation]·peer_encouragement·L)   (× reseek_factor when disengaged;
             L = 1 - exp(-w·λ_acc) as in ``activation_kernel``)
    p_disengage = disengage_rate·(1 + disengage_misinfo·[misled])·(1 - disengage_activation·a/100)
             ·(1 - [intervention]·engagement_effect·[enrolled])
    p_complete = completion_rate·recovery   (drawn first; a person who completes does not disengage)
    """
    n = care.shape[0]
    # chance(key, i, 0, p_seek) with the exponentials only for the draws below a bound p_seek
    # cannot exceed (a in [0, 100]; s, [misled] and L in [0, 1]): an answer is the same, and
    # most people not seeking care are decided by their draw alone (at a million people the
    # kernel took 11 ms a day with an exponential for each of them, 9-11 ms this way: the gain is
    # within this machine's noise). The margin covers the rounding of the two products, which
    # multiply the same factors in different orders.
    slope = th[T.SEEK_SLOPE]
    seek_bound = (
        th[T.SEEK_RATE]
        * math.exp(max(slope * 45.0, -slope * 55.0))
        * max(1.0, 1.0 - th[T.SEEK_STIGMA])
        * max(1.0, 1.0 - th[T.SEEK_MISINFO])
        * max(1.0, 1.0 + th[T.SW_ACTIVATION] * th[T.PEER_ENCOURAGEMENT])
        * (1.0 + 1e-12)
    )
    reseek_bound = seek_bound * max(1.0, th[T.RESEEK_FACTOR])
    for i in prange(n):
        c = care[i]
        so = 0
        en = 0
        a = activation[i]
        misled = 1.0 if misinfo[i] == 1 else 0.0
        if c == 0 or c == 3:
            u = uniform(key, i, 0)
            if u < (seek_bound if c == 0 else reseek_bound):
                learn = _one_minus_exp(_trust_weight(th, trust[i]) * lam_accurate[i])
                p = (
                    th[T.SEEK_RATE]
                    * math.exp(slope * (a - 55.0))
                    * (1.0 - th[T.SEEK_STIGMA] * stigma[i])
                    * (1.0 - th[T.SEEK_MISINFO] * misled)
                    * (1.0 + th[T.SW_ACTIVATION] * th[T.PEER_ENCOURAGEMENT] * learn)
                )
                if c == 3:
                    p *= th[T.RESEEK_FACTOR]
                if p >= 1.0 or (p > 0.0 and u < p):  # chance(key, i, 0, p), u its draw
                    c = 1
                    so = 1
        elif c == 1:
            if chance(key, i, 0, th[T.CARE_ENTRY]):
                c = 2
                en = 1
        else:
            p = (
                th[T.DISENGAGE_RATE]
                * (1.0 + th[T.DISENGAGE_MISINFO] * misled)
                * (1.0 - th[T.DISENGAGE_ACTIVATION] * a / 100.0)
                * (1.0 - th[T.SW_INTERVENTION] * th[T.INT_ENGAGEMENT] * enrolled[i])
            )
            if chance(key, i, 1, th[T.CARE_COMPLETION] * recovery[i]):
                c = 0
            elif chance(key, i, 0, p):
                c = 3
        care_next[i] = c
        sought[i] = so
        entered_care[i] = en


@njit(parallel=True, cache=True)
def intervention_kernel(
    th, key, community_next, enrolled, activation, c_intervention, enrolled_next, enrolled_new
):
    """Online interventions: a member of a community that hosts one enrols with probability
    ``enrol_rate·a/100``; enrolment ends on dropout or on leaving the community."""
    n = enrolled.shape[0]
    on = th[T.SW_INTERVENTION] > 0.0
    for i in prange(n):
        e = enrolled[i]
        new = 0
        c = community_next[i]
        hosts = on and c >= 0 and c_intervention[c] == 1
        if e == 1:
            if not hosts or chance(key, i, 1, th[T.DROPOUT_RATE]):
                e = 0
        elif hosts and chance(key, i, 0, th[T.ENROL_RATE] * activation[i] / 100.0):
            e = 1
            new = 1
        enrolled_next[i] = e
        enrolled_new[i] = new


@njit(parallel=True, cache=True)
def wellbeing_kernel(
    th, hostile, care, enrolled, belonging, empowerment, stigma, uncertainty,
    wellbeing_mental, wellbeing_physical, wm_base, wp_base, empowerment0, stigma0, uncertainty0,
    vulnerable, wellbeing_mental_next, wellbeing_physical_next,
):  # fmt: skip
    """Mental and physical wellbeing approach targets set by the other states.

    T_m = base + belonging_effect·b + empowerment_effect·(E-E0) - stigma_effect·(s-s0)
          - uncertainty_effect·(U-U0) + care_effect_mental·[in care] + mental_effect·[enrolled]
    T_p = base + care_effect_physical·[in care] + physical_effect·[enrolled]
    w' = w + adjust_rate·(T - w)   (mental also - v·hostility_shock·H, v as in ``social_kernel``)
    """
    n = care.shape[0]
    for i in prange(n):
        ic = 1.0 if care[i] == 2 else 0.0
        en = th[T.SW_INTERVENTION] * enrolled[i]
        tm = (
            wm_base[i]
            + th[T.WB_BELONGING] * belonging[i]
            + th[T.WB_EMPOWERMENT] * (empowerment[i] - empowerment0[i])
            - th[T.WB_STIGMA] * (stigma[i] - stigma0[i])
            - th[T.WB_UNCERTAINTY] * (uncertainty[i] - uncertainty0[i])
            + th[T.WB_CARE_MENTAL] * ic
            + th[T.INT_MENTAL] * en
        )
        wm = wellbeing_mental[i]
        wellbeing_mental_next[i] = _clip01(
            wm
            + th[T.WB_ADJUST] * (tm - wm)
            - th[T.WB_HOSTILITY] * hostile[i] * _hostility_weight(th, vulnerable[i])
        )
        tp = wp_base[i] + th[T.WB_CARE_PHYSICAL] * ic + th[T.INT_PHYSICAL] * en
        wp = wellbeing_physical[i]
        wellbeing_physical_next[i] = _clip01(wp + th[T.WB_ADJUST] * (tp - wp))


@njit(parallel=True, cache=True)
def offline_kernel(
    th, key, care, wellbeing_mental, activation, recovery, employed, acute_visits, harmed, r_base,
    wellbeing_mental0, activation0, vulnerable, recovery_next, employed_next, acute_visits_next,
    acute_new,
):  # fmt: skip
    """Offline outcomes: recovery, employment or education, and acute care.

    T_r = base + [offline_translation]·(recovery_wellbeing·(w_m - w_m0) + recovery_activation·(a - a0)/100)
          + recovery_care·[in care];   r' = r + recovery_rate·(T_r - r)
    find work with probability employment_gain·r; lose it with probability employment_loss·(1 - r),
    or with probability [privacy]·harm_employment on the day a disclosure harms (drawn first);
    an acute care episode with probability
    acute_rate·(vulnerable_ratio if vulnerable)·e^(wellbeing_effect·(w_m0 - w_m)).
    """
    n = care.shape[0]
    # The largest p_acute can be: mental wellbeing and its baseline lie in [0, 1].
    acute_bound = (
        th[T.ACUTE_RATE] * max(th[T.ACUTE_VULNERABLE], 1.0) * math.exp(abs(th[T.ACUTE_WELLBEING]))
    )
    # The parameters as locals (see ``posting_kernel``): read once, not once per person.
    sw_offline, rate = th[T.SW_OFFLINE], th[T.RECOVERY_RATE]
    by_wellbeing, by_activation = th[T.RECOVERY_WELLBEING], th[T.RECOVERY_ACTIVATION]
    by_care = th[T.RECOVERY_CARE]
    gain, loss = th[T.EMPLOYMENT_GAIN], th[T.EMPLOYMENT_LOSS]
    harm_loss = th[T.SW_PRIVACY] * th[T.HARM_EMPLOYMENT]
    for i in prange(n):
        ic = 1.0 if care[i] == 2 else 0.0
        r = recovery[i]
        target = (
            r_base[i]
            + sw_offline
            * (
                by_wellbeing * (wellbeing_mental[i] - wellbeing_mental0[i])
                + by_activation * (activation[i] - activation0[i]) / 100.0
            )
            + by_care * ic
        )
        recovery_next[i] = _clip01(r + rate * (target - r))
        e = employed[i]
        if e == 0:
            if chance(key, i, 0, gain * r):
                e = 1
        elif harmed[i] == 1 and chance(key, i, 1, harm_loss):
            e = 0
        elif chance(key, i, 0, loss * (1.0 - r)):
            e = 0
        employed_next[i] = e
        # chance(key, i, 2, p_acute) in two passes: here only whether the draw falls below a bound
        # p_acute cannot exceed (nearly never: an episode is rare), then the exponential for those
        # few alone. With no exponential in it, this loop is vectorised (the kernel took 8.9 ms a
        # day at a million people, 4.2 in two passes).
        acute_new[i] = 1 if (acute_bound > 0.0 and uniform(key, i, 2) < acute_bound) else 0
        acute_visits_next[i] = acute_visits[i]
    if acute_bound > 0.0:
        for i in prange(n):
            if acute_new[i] == 1:
                u = uniform(key, i, 2)
                p_acute = (
                    th[T.ACUTE_RATE]
                    * (th[T.ACUTE_VULNERABLE] if vulnerable[i] == 1 else 1.0)
                    * math.exp(th[T.ACUTE_WELLBEING] * (wellbeing_mental0[i] - wellbeing_mental[i]))
                )
                ev = 1 if p_acute >= 1.0 or (p_acute > 0.0 and u < p_acute) else 0
                acute_new[i] = ev
                acute_visits_next[i] += ev


@njit(inline="always")
def _privacy(th, key, i, on, c, posted, d, harm, c_disclosure, c_exposure):
    """Person i's disclosure and harm today (the rule of ``privacy_kernel``): (disclosed
    tomorrow, ever harmed tomorrow, disclosed today, harmed today)."""
    new = 0
    hm = 0
    if on and c >= 0:
        if d == 0 and posted == 1:
            if chance(key, i, 0, th[T.DISCLOSE_PER_POST] * c_disclosure[c]):
                d = 1
                new = 1
        if d == 1 and chance(key, i, 1, th[T.HARM_RATE] * c_exposure[c]):
            hm = 1
    return d, 1 if (harm == 1 or hm == 1) else 0, new, hm


@njit(parallel=True, cache=True)
def privacy_kernel(
    th, key, community_next, posted, disclosed, privacy_harm, c_disclosure, c_exposure,
    disclosed_next, privacy_harm_next, disclosed_new, harmed,
):  # fmt: skip
    """Disclosure of one's diagnosis online, and the harm it can bring (ODD §7.12).

    A member who posts today and has not disclosed discloses with probability
    disclose_per_post·d (d: the platform's disclosure norm); a disclosed member is harmed today
    (identified, judged, contacted unwanted) with probability harm_rate·x, x the community's
    exposure (the platform's, less what moderators protect). A disclosure cannot be taken back;
    ``privacy_harm`` marks who has ever been harmed. Today's harm raises self-stigma
    (``social_kernel``) and can cost work (``offline_kernel``); having been harmed raises leaving
    (``membership_kernel``). Without the privacy mechanism nothing happens.
    """
    on = th[T.SW_PRIVACY] > 0.0
    for i in prange(community_next.shape[0]):
        disclosed_next[i], privacy_harm_next[i], disclosed_new[i], harmed[i] = _privacy(
            th, key, i, on, community_next[i], posted[i], disclosed[i], privacy_harm[i],
            c_disclosure, c_exposure,
        )  # fmt: skip
