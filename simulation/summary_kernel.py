"""One pass over the people for all of a day's aggregates (the recorder's hot path), one for
each community's (``community_sums``) and one for each group's (``group_cell_sums``).

Sums are taken per fixed-size chunk of people in parallel, then the chunk sums are added in
chunk order: the result does not depend on the number of threads (a plain parallel reduction
would add in a thread-dependent order and change the last bits). ``calls.summary_sums`` passes
the state arrays by their names in ``state.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

CHUNK = 1 << 15

# Accumulator slots.
(
    A_ACT, A_ACT2, A_L1, A_L2, A_L3, A_L4, A_C0, A_C1, A_C2, A_C3,
    A_WM, A_WM2, A_WP, A_WP2, A_ST, A_ST2, A_BE, A_BE2, A_EM, A_EM2, A_UN, A_UN2, A_RE, A_RE2,
    A_STIGMA_HIGH, A_BE_ONLINE, A_ONLINE, A_MISLED, A_CORRECTED, A_EVER_ONLINE, A_EVER_POSTED,
    A_ENROLLED, A_EMPLOYED,
    A_F_JOIN, A_F_LEAVE, A_F_POST, A_F_SUPPORT, A_F_ACC, A_F_MIS, A_F_HOST, A_F_ADOPT, A_F_CORR,
    A_F_SOUGHT, A_F_ENTER, A_F_ENROL,
    A_TR, A_TR2, A_DISCLOSED, A_HARMED, A_ACUTE, A_F_DISCLOSE, A_F_HARM, A_F_ACUTE,
    A_DX,  # then per diagnosis: count, activation, stigma, in care, mental wellbeing
) = range(54)  # fmt: skip
DX_FIELDS = 5
SLOTS = A_DX + 3 * DX_FIELDS

# The counts (0/1 per person) are summed as integers, four 16-bit lanes to a uint64 word: one
# integer add for four counts instead of four float adds (about 2 ms of a recorded day's 38 at a
# million people, measured at issue 19). A block of people (at most ``MAX_BLOCK``) cannot overflow a
# lane. ``LANE_SLOTS[q]`` is the slot of lane q (word q // 4, bits 16·(q % 4)), -1 if unused.
LANES = 4
WORDS = 10
MAX_BLOCK = 0xFFFF
LANE_MASK = np.uint64(0xFFFF)
_L1, _L2, _L3 = np.uint64(16), np.uint64(32), np.uint64(48)
LANE_SLOTS = np.array(
    [
        A_L1, A_L2, A_L3, A_L4,  # PAM level (one-hot)
        A_C0, A_C1, A_C2, A_C3,  # care state (one-hot)
        A_STIGMA_HIGH, A_ONLINE, A_MISLED, A_CORRECTED,
        A_EVER_ONLINE, A_EVER_POSTED, A_ENROLLED, A_EMPLOYED,
        A_F_JOIN, A_F_LEAVE, A_F_POST, A_F_HOST,
        A_F_ADOPT, A_F_CORR, A_F_SOUGHT, A_F_ENTER,
        A_F_ENROL, A_DISCLOSED, A_HARMED, A_F_DISCLOSE,
        A_F_HARM, A_F_ACUTE, -1, -1,
        A_DX, A_DX + DX_FIELDS, A_DX + 2 * DX_FIELDS, -1,  # people of each diagnosis
        A_DX + 3, A_DX + DX_FIELDS + 3, A_DX + 2 * DX_FIELDS + 3, -1,  # ... of them in care
    ],
    dtype=np.int64,
)  # fmt: skip


@njit(inline="always")
def _flag(b):
    return np.uint64(1) if b else np.uint64(0)


@njit(inline="always")
def _lane(k):
    """A one in lane ``k`` (0-3) of a word."""
    return np.uint64(1) << (np.uint64(16) * np.uint64(k))


@njit(parallel=True, cache=True)
def summary_sums(
    cut1, cut2, cut3, stigma_high, groups,
    activation, care, wellbeing_mental, wellbeing_physical, stigma, belonging, empowerment,
    uncertainty, recovery, community, misinfo, ever_online, ever_posted, enrolled,
    employed, diagnosis, joined, left, posted, support, lam_accurate, lam_misinfo, hostile, adopted,
    corrected, sought, entered_care, enrolled_new, trust, disclosed, privacy_harm, acute_visits,
    disclosed_new, harmed, acute_new,
):  # fmt: skip
    """The day's aggregates (slots ``A_*``) and, with ``groups``, the groups' cell sums, in one
    pass over the people.

    Each person is summed into their cell's slots only (one cell without groups): a group's
    outcomes are slots of the population's aggregates (``cell_fields``), so a recorded day adds
    each person's values once, and the population's totals are the cells' sums (at a million
    people, summing the groups' outcomes apart cost as much as the population's own sums).

    ``groups`` is None, or ``(block, n_cells, fixed_cell, moved, status, *start)``
    (``recorder.GroupTracker``): people are then summed in blocks of ``block`` (else ``CHUNK``),
    and each person's cell is ``fixed_cell * STATUSES + status`` with today's status (a mover has
    moved; a stayer has not and has been online; anyone else has never been online). ``status``
    is each person's status at the last call (``NO_CELL`` before the first), brought up to date
    here: only a person whose status changed is read in ``start`` (the day-0 outcomes,
    ``group_outcome_values``), so the cells' day-0 sums are kept without reading every person's
    day-0 values each day. (Numba compiles the two cases apart: without groups their code is not
    there.)

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        The totals (``SLOTS``); each cell's sums of the day (rows: cells; columns ``G_*``); and
        the day-0 outcomes of the people who came into each cell since the last call less those
        of the people who left it (rows: cells; columns: slots). Without groups the last two
        have no rows.

    Blocks are summed in parallel and added in block order (and cells in cell order): the same
    bits on any number of threads.
    """
    n = activation.shape[0]
    if groups is not None:
        block, n_cells, fixed_cell, moved, status, start_scores, start_flags = groups
    else:  # never read (the group code is compiled out): the types of the other case
        block, n_cells = CHUNK, 0
        fixed_cell = np.empty(0, dtype=np.int8)
        moved = np.empty(0, dtype=np.bool_)
        status = np.empty(0, dtype=np.int8)
        start_scores = np.empty((0, START_SCORES.shape[0]))
        start_flags = np.empty(0, dtype=np.int8)
    chunks = max(1, (n + block - 1) // block)
    slots_cells = max(1, n_cells)
    acc = np.zeros((chunks, slots_cells * SLOTS))
    lanes = np.zeros((chunks, slots_cells * WORDS), dtype=np.uint64)
    came = np.zeros((chunks, n_cells * G_OUTCOMES))
    for c in prange(chunks):
        for i in range(c * block, min(n, (c + 1) * block)):
            cell = 0
            if groups is not None:
                if moved[i]:
                    s = STATUS_MOVER
                elif ever_online[i] != 0:
                    s = STATUS_STAYER
                else:
                    s = STATUS_OFFLINE
                cell = fixed_cell[i] * STATUSES + s
                if s != status[i]:
                    into = cell * G_OUTCOMES
                    if status[i] != NO_CELL:
                        out_of = (fixed_cell[i] * STATUSES + status[i]) * G_OUTCOMES
                        _move_start(came[c], out_of, -1.0, start_scores[i], start_flags[i])
                    _move_start(came[c], into, 1.0, start_scores[i], start_flags[i])
                    status[i] = s  # person i is in one block: one thread writes it
            # Offsets into the block's row, not views of it: a view made per person costs two
            # atomic reference counts on the shared array (the threads fight over its line).
            j = cell * SLOTS
            jw = cell * WORDS
            a = activation[i]
            acc[c, j + A_ACT] += a
            acc[c, j + A_ACT2] += a * a
            if a < cut1:
                level = 0
            elif a < cut2:
                level = 1
            elif a < cut3:
                level = 2
            else:
                level = 3
            # The counts, four 16-bit lanes to a word (``LANE_SLOTS``): one integer add for four.
            lanes[c, jw + 0] += _lane(level)
            lanes[c, jw + 1] += _lane(care[i])
            misled = misinfo[i] == 1
            lanes[c, jw + 2] += (
                _flag(stigma[i] > stigma_high)
                | _flag(community[i] >= 0) << _L1
                | _flag(misled) << _L2
                | _flag(misinfo[i] == 2) << _L3
            )
            lanes[c, jw + 3] += (
                np.uint64(ever_online[i])
                | np.uint64(ever_posted[i]) << _L1
                | np.uint64(enrolled[i]) << _L2
                | np.uint64(employed[i]) << _L3
            )
            lanes[c, jw + 4] += (
                np.uint64(joined[i])
                | np.uint64(left[i]) << _L1
                | np.uint64(posted[i]) << _L2
                | np.uint64(hostile[i]) << _L3
            )
            lanes[c, jw + 5] += (
                np.uint64(adopted[i])
                | np.uint64(corrected[i]) << _L1
                | np.uint64(sought[i]) << _L2
                | np.uint64(entered_care[i]) << _L3
            )
            lanes[c, jw + 6] += (
                np.uint64(enrolled_new[i])
                | np.uint64(disclosed[i]) << _L1
                | np.uint64(privacy_harm[i]) << _L2
                | np.uint64(disclosed_new[i]) << _L3
            )
            lanes[c, jw + 7] += np.uint64(harmed[i]) | np.uint64(acute_new[i]) << _L1
            dx = diagnosis[i]
            lanes[c, jw + 8] += _lane(dx)
            lanes[c, jw + 9] += _flag(care[i] == 2) << (_L1 * np.uint64(dx))
            acc[c, j + A_WM] += wellbeing_mental[i]
            acc[c, j + A_WM2] += wellbeing_mental[i] * wellbeing_mental[i]
            acc[c, j + A_WP] += wellbeing_physical[i]
            acc[c, j + A_WP2] += wellbeing_physical[i] * wellbeing_physical[i]
            acc[c, j + A_ST] += stigma[i]
            acc[c, j + A_ST2] += stigma[i] * stigma[i]
            acc[c, j + A_BE] += belonging[i]
            acc[c, j + A_BE2] += belonging[i] * belonging[i]
            acc[c, j + A_EM] += empowerment[i]
            acc[c, j + A_EM2] += empowerment[i] * empowerment[i]
            acc[c, j + A_UN] += uncertainty[i]
            acc[c, j + A_UN2] += uncertainty[i] * uncertainty[i]
            acc[c, j + A_RE] += recovery[i]
            acc[c, j + A_RE2] += recovery[i] * recovery[i]
            if community[i] >= 0:
                acc[c, j + A_BE_ONLINE] += belonging[i]
            acc[c, j + A_F_SUPPORT] += support[i]
            acc[c, j + A_F_ACC] += lam_accurate[i]
            acc[c, j + A_F_MIS] += lam_misinfo[i]
            acc[c, j + A_TR] += trust[i]
            acc[c, j + A_TR2] += trust[i] * trust[i]
            acc[c, j + A_ACUTE] += acute_visits[i]
            d = A_DX + DX_FIELDS * dx
            acc[c, j + d + 1] += a
            acc[c, j + d + 2] += stigma[i]
            acc[c, j + d + 4] += wellbeing_mental[i]
    cell_slots = np.zeros((slots_cells, SLOTS))
    moves = np.zeros((n_cells, G_OUTCOMES))
    for c in range(chunks):  # in block order: independent of the thread count
        for m in range(slots_cells):
            for k in range(SLOTS):
                cell_slots[m, k] += acc[c, m * SLOTS + k]
            for q in range(WORDS * LANES):
                if LANE_SLOTS[q] >= 0:
                    word = lanes[c, m * WORDS + q // LANES]
                    count = (word >> np.uint64(16 * (q % LANES))) & LANE_MASK
                    cell_slots[m, LANE_SLOTS[q]] += np.float64(count)
        for m in range(n_cells):
            for k in range(G_OUTCOMES):
                moves[m, k] += came[c, m * G_OUTCOMES + k]
    total = np.zeros(SLOTS)
    for m in range(slots_cells):  # in cell order
        for k in range(SLOTS):
            total[k] += cell_slots[m, k]
    cell_total = np.zeros((n_cells, G_FIELDS))
    for m in range(n_cells):
        cell_fields(cell_slots[m], cell_total[m])
    return total, cell_total, moves


# Per-community columns of ``community_sums`` (the recorder's ``communities.parquet``).
(
    M_MEMBERS, M_JOINED, M_LEFT, M_POSTS, M_HOSTILE, M_MISINFO_READ, M_ACCURATE_READ, M_SUPPORT,
    M_BELONGING, M_MISLED,
) = range(10)  # fmt: skip
M_FIELDS = 10
# At most this many accumulator cells (blocks x communities x fields) per call: the blocks' sums
# are zeroed and added every recorded day, so many communities get fewer, longer blocks.
BLOCK_CELLS = 1 << 16


@njit(cache=True)
def community_blocks(n, n_communities):
    """How many contiguous blocks of people ``community_sums`` sums apart: from the sizes only
    (never the thread count), so the sums are added in the same order on any number of threads."""
    chunks = (n + CHUNK - 1) // CHUNK
    return max(1, min(chunks, BLOCK_CELLS // (n_communities * M_FIELDS)))


@njit(parallel=True, cache=True)
def community_sums(
    community, community_next, joined, left, posted, hostile, lam_misinfo, lam_accurate, support,
    belonging, misinfo, n_communities,
):  # fmt: skip
    """Each community's sums of a recorded day (rows: communities; columns ``M_*``).

    Called after the day's swap: ``community`` (``st.cur``) is then where people are after the
    day's joining and leaving, the community of today's exchange; ``community_next``
    (``st.nxt``) where they were at the start of the day, the community a leaver left. (On day 0
    nobody has left, and ``community_next`` is not read.) Members, joins, posts, hostile comments
    met, misleading and accurate posts met (λ), support, belonging and misleading beliefs are
    counted by today's community; leaves by yesterday's. Blocks of people are summed in parallel
    and added in block order: the same bits on any number of threads.
    """
    n = community.shape[0]
    blocks = community_blocks(n, n_communities)
    size = (n + blocks - 1) // blocks
    acc = np.zeros((blocks, n_communities * M_FIELDS))  # one flat row per block
    for b in prange(blocks):
        a_ = acc[b]
        for i in range(b * size, min(n, (b + 1) * size)):
            if left[i] != 0:
                a_[community_next[i] * M_FIELDS + M_LEFT] += 1.0
            c = community[i]
            if c >= 0:
                j = c * M_FIELDS
                a_[j + M_MEMBERS] += 1.0
                a_[j + M_JOINED] += joined[i]
                a_[j + M_POSTS] += posted[i]
                a_[j + M_HOSTILE] += hostile[i]
                a_[j + M_MISINFO_READ] += lam_misinfo[i]
                a_[j + M_ACCURATE_READ] += lam_accurate[i]
                a_[j + M_SUPPORT] += support[i]
                a_[j + M_BELONGING] += belonging[i]
                if misinfo[i] == 1:
                    a_[j + M_MISLED] += 1.0
    total = np.zeros((n_communities, M_FIELDS))
    for b in range(blocks):  # in block order: independent of the thread count
        for c in range(n_communities):
            for k in range(M_FIELDS):
                total[c, k] += acc[b, c * M_FIELDS + k]
    return total


# groups.parquet (``recorder.GroupTracker``): people are summed by *cell*, one cell for each
# combination of the groups' partitions. A cell is ``fixed * STATUSES + status``: ``fixed`` the
# part fixed at day 0 (diagnosis, vulnerable, online at day 0; ``recorder.fixed_cells``), the
# status whether the person is a mover, a stayer or has never been online, read on the day.
STATUS_MOVER, STATUS_STAYER, STATUS_OFFLINE = range(3)
STATUSES = 3
NO_CELL = -1  # the status of a person not yet summed into any cell
# The outcomes summed per cell, in their slots: scores as they are, shares as 0 or 1, so none is
# negative (``recorder.GROUP_OUTCOMES`` names them and relies on that for the changes' rounding).
(
    G_ACTIVATION, G_STIGMA, G_BELONGING, G_EMPOWERMENT, G_WELLBEING_MENTAL, G_CARE_SEEKING,
    G_MISLED, G_UNCERTAINTY, G_TRUST, G_DISCLOSED, G_HARMED, G_ONLINE, G_EMPLOYED, G_RECOVERY,
) = range(14)  # fmt: skip
G_OUTCOMES = 14
# A cell's sums of the day: its people, their acute care episodes so far, and each outcome's sum
# (G_SUM + slot).
G_PEOPLE, G_ACUTE = 0, 1
G_SUM = 2
G_FIELDS = G_SUM + G_OUTCOMES


@njit(inline="always")
def person_outcomes(
    i, out, activation, stigma, belonging, empowerment, wellbeing_mental, care, misinfo,
    uncertainty, trust, disclosed, privacy_harm, community, employed, recovery,
):  # fmt: skip
    """Person ``i``'s group outcomes into ``out`` (slots ``G_*``): the one definition of each,
    for the day-0 values and for every recorded day."""
    out[G_ACTIVATION] = activation[i]
    out[G_STIGMA] = stigma[i]
    out[G_BELONGING] = belonging[i]
    out[G_EMPOWERMENT] = empowerment[i]
    out[G_WELLBEING_MENTAL] = wellbeing_mental[i]
    out[G_CARE_SEEKING] = 1.0 if care[i] == 1 or care[i] == 2 else 0.0  # seeking or in care
    out[G_MISLED] = 1.0 if misinfo[i] == 1 else 0.0
    out[G_UNCERTAINTY] = uncertainty[i]
    out[G_TRUST] = trust[i]
    out[G_DISCLOSED] = disclosed[i]
    out[G_HARMED] = privacy_harm[i]
    out[G_ONLINE] = 1.0 if community[i] >= 0 else 0.0
    out[G_EMPLOYED] = employed[i]
    out[G_RECOVERY] = recovery[i]


@njit(inline="always")
def cell_fields(slots, out):
    """A cell's group fields (``G_*``) from its population slots (``A_*``): the one mapping of
    each group outcome to the aggregate it is a sum of (as ``person_outcomes`` defines it for a
    person)."""
    out[G_PEOPLE] = (
        slots[A_C0] + slots[A_C1] + slots[A_C2] + slots[A_C3]
    )  # everyone has a care state
    out[G_ACUTE] = slots[A_ACUTE]
    out[G_SUM + G_ACTIVATION] = slots[A_ACT]
    out[G_SUM + G_STIGMA] = slots[A_ST]
    out[G_SUM + G_BELONGING] = slots[A_BE]
    out[G_SUM + G_EMPOWERMENT] = slots[A_EM]
    out[G_SUM + G_WELLBEING_MENTAL] = slots[A_WM]
    out[G_SUM + G_CARE_SEEKING] = slots[A_C1] + slots[A_C2]  # seeking or in care
    out[G_SUM + G_MISLED] = slots[A_MISLED]
    out[G_SUM + G_UNCERTAINTY] = slots[A_UN]
    out[G_SUM + G_TRUST] = slots[A_TR]
    out[G_SUM + G_DISCLOSED] = slots[A_DISCLOSED]
    out[G_SUM + G_HARMED] = slots[A_HARMED]
    out[G_SUM + G_ONLINE] = slots[A_ONLINE]
    out[G_SUM + G_EMPLOYED] = slots[A_EMPLOYED]
    out[G_SUM + G_RECOVERY] = slots[A_RE]


# A person's day-0 outcomes as ``group_outcome_values`` keeps them: the scores as float64, the
# shares (0 or 1) as bits of one int8 (bit q is outcome START_FLAGS[q]). At a million people the
# fourteen float64 columns took 112 MB; these take 65.
START_SCORES = np.array(
    [
        G_ACTIVATION, G_STIGMA, G_BELONGING, G_EMPOWERMENT, G_WELLBEING_MENTAL, G_UNCERTAINTY,
        G_TRUST, G_RECOVERY,
    ],
    dtype=np.int64,
)  # fmt: skip
START_FLAGS = np.array(
    [G_CARE_SEEKING, G_MISLED, G_DISCLOSED, G_HARMED, G_ONLINE, G_EMPLOYED], dtype=np.int64
)


@njit(inline="always")
def _move_start(came, at, sign, scores, flags):
    """Add ``sign`` times a person's day-0 outcomes to a cell's (``came[at:at + G_OUTCOMES]``)."""
    for q in range(START_SCORES.shape[0]):
        came[at + START_SCORES[q]] += sign * scores[q]
    for q in range(START_FLAGS.shape[0]):
        if (flags >> q) & 1:
            came[at + START_FLAGS[q]] += sign


@njit(parallel=True, cache=True)
def group_outcome_values(
    activation, stigma, belonging, empowerment, wellbeing_mental, care, misinfo, uncertainty,
    trust, disclosed, privacy_harm, community, employed, recovery,
):  # fmt: skip
    """Every person's group outcomes on day 0, the values the changes are taken from, as
    ``(scores, flags)``: the scores (rows: people; columns: ``START_SCORES``) and the shares as
    bits (``START_FLAGS``), from ``person_outcomes``.

    Raises if a share is neither 0 nor 1 (a state out of its range would otherwise be counted
    as 1)."""
    n = activation.shape[0]
    scores = np.empty((n, START_SCORES.shape[0]))
    flags = np.zeros(n, dtype=np.int8)
    bad = np.zeros(n, dtype=np.bool_)
    for b in prange((n + CHUNK - 1) // CHUNK):
        out = np.empty(G_OUTCOMES)  # one person's outcomes (one array per block, not per person)
        for i in range(b * CHUNK, min(n, (b + 1) * CHUNK)):
            person_outcomes(
                i, out, activation, stigma, belonging, empowerment, wellbeing_mental, care,
                misinfo, uncertainty, trust, disclosed, privacy_harm, community, employed,
                recovery,
            )  # fmt: skip
            for q in range(START_SCORES.shape[0]):
                scores[i, q] = out[START_SCORES[q]]
            f = 0
            for q in range(START_FLAGS.shape[0]):
                v = out[START_FLAGS[q]]
                if v == 1.0:
                    f |= 1 << q
                elif v != 0.0:
                    bad[i] = True
            flags[i] = f
    if bad.any():
        raise ValueError("a day-0 share (disclosed, privacy_harm, employed) is neither 0 nor 1")
    return scores, flags


@njit(parallel=True, cache=True)
def post_histogram(posts, among, top):
    """How many people wrote each number of posts, 0 to ``top`` (at least the largest), counting
    person i ``among[i]`` times (``np.bincount(posts, weights=among)``, in parallel: at a million
    people the serial count cost a recorded day 5 ms).

    Blocks of people are counted apart and added in block order, in integers: the same counts on
    any number of threads."""
    n = posts.shape[0]
    blocks = max(1, min((n + CHUNK - 1) // CHUNK, BLOCK_CELLS // (top + 1)))
    size = (n + blocks - 1) // blocks
    acc = np.zeros((blocks, top + 1), dtype=np.int64)
    for b in prange(blocks):
        for i in range(b * size, min(n, (b + 1) * size)):
            if among[i] != 0:
                acc[b, posts[i]] += among[i]
    out = np.zeros(top + 1, dtype=np.int64)
    for b in range(blocks):  # in block order
        for k in range(top + 1):
            out[k] += acc[b, k]
    return out
