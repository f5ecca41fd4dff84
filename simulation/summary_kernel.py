"""One pass over the people for all of a day's aggregates (the recorder's hot path).

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
    A_POSTS_L, A_POSTS_C, A_POSTS_S, A_ENROLLED, A_EMPLOYED,
    A_F_JOIN, A_F_LEAVE, A_F_POST, A_F_SUPPORT, A_F_ACC, A_F_MIS, A_F_HOST, A_F_ADOPT, A_F_CORR,
    A_F_SOUGHT, A_F_ENTER, A_F_ENROL,
    A_DX,  # then per diagnosis: count, activation, stigma, in care, mental wellbeing
) = range(49)  # fmt: skip
DX_FIELDS = 5
SLOTS = A_DX + 3 * DX_FIELDS


@njit(parallel=True, cache=True)
def summary_sums(
    cut1, cut2, cut3, stigma_high,
    activation, care, wellbeing_mental, wellbeing_physical, stigma, belonging, empowerment,
    uncertainty, recovery, community, misinfo, ever_online, ever_posted, posts, role, enrolled,
    employed, diagnosis, joined, left, posted, support, lam_accurate, lam_misinfo, hostile, adopted,
    corrected, sought, entered_care, enrolled_new,
):  # fmt: skip
    n = activation.shape[0]
    chunks = (n + CHUNK - 1) // CHUNK
    acc = np.zeros((chunks, SLOTS))
    for c in prange(chunks):
        a_ = acc[c]
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            a = activation[i]
            a_[A_ACT] += a
            a_[A_ACT2] += a * a
            if a < cut1:
                a_[A_L1] += 1.0
            elif a < cut2:
                a_[A_L2] += 1.0
            elif a < cut3:
                a_[A_L3] += 1.0
            else:
                a_[A_L4] += 1.0
            a_[A_C0 + care[i]] += 1.0
            a_[A_WM] += wellbeing_mental[i]
            a_[A_WM2] += wellbeing_mental[i] * wellbeing_mental[i]
            a_[A_WP] += wellbeing_physical[i]
            a_[A_WP2] += wellbeing_physical[i] * wellbeing_physical[i]
            a_[A_ST] += stigma[i]
            a_[A_ST2] += stigma[i] * stigma[i]
            a_[A_BE] += belonging[i]
            a_[A_BE2] += belonging[i] * belonging[i]
            a_[A_EM] += empowerment[i]
            a_[A_EM2] += empowerment[i] * empowerment[i]
            a_[A_UN] += uncertainty[i]
            a_[A_UN2] += uncertainty[i] * uncertainty[i]
            a_[A_RE] += recovery[i]
            a_[A_RE2] += recovery[i] * recovery[i]
            if stigma[i] > stigma_high:
                a_[A_STIGMA_HIGH] += 1.0
            if community[i] >= 0:
                a_[A_ONLINE] += 1.0
                a_[A_BE_ONLINE] += belonging[i]
            if misinfo[i] == 1:
                a_[A_MISLED] += 1.0
            elif misinfo[i] == 2:
                a_[A_CORRECTED] += 1.0
            a_[A_EVER_ONLINE] += ever_online[i]
            a_[A_EVER_POSTED] += ever_posted[i]
            a_[A_POSTS_L + role[i]] += posts[i]
            a_[A_ENROLLED] += enrolled[i]
            a_[A_EMPLOYED] += employed[i]
            a_[A_F_JOIN] += joined[i]
            a_[A_F_LEAVE] += left[i]
            a_[A_F_POST] += posted[i]
            a_[A_F_SUPPORT] += support[i]
            a_[A_F_ACC] += lam_accurate[i]
            a_[A_F_MIS] += lam_misinfo[i]
            a_[A_F_HOST] += hostile[i]
            a_[A_F_ADOPT] += adopted[i]
            a_[A_F_CORR] += corrected[i]
            a_[A_F_SOUGHT] += sought[i]
            a_[A_F_ENTER] += entered_care[i]
            a_[A_F_ENROL] += enrolled_new[i]
            d = A_DX + DX_FIELDS * diagnosis[i]
            a_[d] += 1.0
            a_[d + 1] += a
            a_[d + 2] += stigma[i]
            if care[i] == 2:
                a_[d + 3] += 1.0
            a_[d + 4] += wellbeing_mental[i]
    total = np.zeros(SLOTS)
    for c in range(chunks):  # in chunk order: independent of the thread count
        for k in range(SLOTS):
            total[k] += acc[c, k]
    return total
