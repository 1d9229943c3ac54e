"""Harrell's concordance for (start, stop] data with strata and weights, as R coxph reports it.

For each death i at event time t and each row j at risk at t (entry_j < t <= stop_j, same stratum) that
does not itself die at t, the pair is concordant if eta_i > eta_j, discordant if eta_i < eta_j and tied
if equal; pairs are weighted w_i w_j. concordance = (concordant + tied / 2) / (all three), R's
`concordancefit(..., timewt = "n", reverse = TRUE)`.

"Rows at risk at k with eta below v" is a two-dimensional dominance count. It is answered offline with a
merge-sort tree over the event-time index, one vectorised sort and searchsorted per tree level (about
log2 K levels), so the cost is O(n log n log K) with no Python loop over rows or times.
"""

from __future__ import annotations

import numpy as np

from djs_toolkit.survival._coxcore import CoxProblem

__all__ = ["concordance"]


def _prefix_below(vals: np.ndarray, w: np.ndarray, prefix: np.ndarray, thresh: np.ndarray) -> np.ndarray:
    """For each query q: sum of w[j] over j < prefix[q] with vals[j] < thresh[q].

    A wavelet matrix over the bits of `vals` (small non-negative ints: event-time indices), walked one
    level at a time for all queries at once; each level is a stable 0/1 partition plus prefix sums, so
    the cost is O((n + queries) log K) and only one level is held in memory.
    """
    out = np.zeros(len(prefix))
    if len(vals) == 0 or len(prefix) == 0:
        return out
    top = int(max(vals.max(initial=0), thresh.max(initial=0)))
    levels = max(top.bit_length(), 1)
    unit = bool(np.all(w == 1.0))  # unweighted: weight sums are the rank counts themselves
    # Queries sorted by prefix: each level maps ranges monotonically within a branch, so the gathers
    # below stay nearly sequential (cache-friendly) instead of random.
    q_order = np.argsort(prefix, kind="stable")
    thresh = thresh[q_order]
    s = np.zeros(len(prefix), dtype=np.int64)
    e = prefix[q_order].astype(np.int64)
    v, wv = vals, w
    for lev in range(levels - 1, -1, -1):
        zero = ((v >> lev) & 1) == 0
        rank0 = np.zeros(len(v) + 1, dtype=np.int64)
        np.cumsum(zero, out=rank0[1:])
        n_zero = int(rank0[-1])
        qbit = ((thresh >> lev) & 1) == 1
        s0, e0 = rank0[s], rank0[e]
        # threshold bit 1: everything in range with bit 0 is below; continue among the ones
        if unit:
            out += np.where(qbit, e0 - s0, 0)
        else:
            cw0 = np.concatenate([[0.0], np.cumsum(np.where(zero, wv, 0.0))])
            out += np.where(qbit, cw0[e] - cw0[s], 0.0)
        s = np.where(qbit, n_zero + (s - s0), s0)
        e = np.where(qbit, n_zero + (e - e0), e0)
        order = np.concatenate([np.flatnonzero(zero), np.flatnonzero(~zero)])  # stable 0/1 partition
        v = v[order]
        if not unit:
            wv = wv[order]
    result = np.empty_like(out)
    result[q_order] = out
    return result


def _at_risk_counts(
    pb: CoxProblem, rows: np.ndarray, rank: np.ndarray, qk: np.ndarray, qr: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weight of `rows` at risk at each query's event index: below its rank, up to it, and in total.

    lo <= k <= hi  <=>  (hi >= k) minus (lo > k), because lo > k implies hi >= k for kept rows.
    """
    order = rows[np.argsort(rank[rows], kind="stable")]
    w = pb.w[order]
    per_rank = np.concatenate([[0], np.cumsum(np.bincount(rank[rows], minlength=int(qr.max(initial=0)) + 2))])
    p_below = per_rank[qr]  # rows with rank < v
    p_upto = per_rank[qr + 1]  # rows with rank <= v
    prefix = np.concatenate([p_below, p_upto])
    kk = np.concatenate([qk, qk]).astype(np.int64)
    cw = np.concatenate([[0.0], np.cumsum(w)])
    hi = pb.hi[order]
    count = cw[prefix] - _prefix_below(hi, w, prefix, kk)  # hi >= k
    late = pb.lo[order] > 0
    if late.any():
        lo_l, w_l = pb.lo[order][late], w[late]
        pre_l = np.concatenate([[0], np.cumsum(late)])[prefix]
        cw_l = np.concatenate([[0.0], np.cumsum(w_l)])
        count -= cw_l[pre_l] - _prefix_below(lo_l, w_l, pre_l, kk + 1)  # lo > k  <=>  lo >= k + 1
    m = len(qk)
    total = np.cumsum(
        np.bincount(pb.lo[rows], pb.w[rows], pb.n_times + 1) - np.bincount(pb.hi[rows] + 1, pb.w[rows], pb.n_times + 1)
    )[qk]
    return count[:m], count[m:], total


def concordance(pb: CoxProblem, eta: np.ndarray) -> float:
    """Concordance of the linear predictor `eta` (rows of `pb`).

    Rows of the time-varying-weight class (Fine-Gray tails) count with weight w * g[k] at event index
    k, as the rows of R's expanded finegray() data do.
    """
    uniq, rank = np.unique(eta, return_inverse=True)
    rank = rank.astype(np.int64)
    n_ranks = len(uniq)
    ok = pb.lo <= pb.hi  # always true after prepare(); kept as a guard
    tv = np.zeros(len(ok), dtype=bool) if pb.tv is None else pb.tv
    dd = pb.death
    qk, qr, qw = pb.dk, rank[dd], pb.w[dd]
    below, upto, total = _at_risk_counts(pb, np.flatnonzero(ok & ~tv), rank, qk, qr)
    if tv.any():
        assert pb.g is not None  # set with tv
        b2, u2, t2 = _at_risk_counts(pb, np.flatnonzero(ok & tv), rank, qk, qr)
        gq = pb.g[qk]
        below, upto, total = below + gq * b2, upto + gq * u2, total + gq * t2
    # remove the tied deaths themselves (they are tied on time, not comparable)
    key = qk.astype(np.int64) * (n_ranks + 2) + qr
    order = np.argsort(key, kind="stable")
    skey, sk = key[order], qk[order]
    cw = np.concatenate([[0.0], np.cumsum(qw[order])])
    idx = np.arange(len(skey))
    new_key = np.r_[True, skey[1:] != skey[:-1]]
    key_start = np.maximum.accumulate(np.where(new_key, idx, 0))
    key_end = np.minimum.accumulate(np.where(np.r_[skey[1:] != skey[:-1], True], idx + 1, len(idx))[::-1])[::-1]
    k_start = np.maximum.accumulate(np.where(np.r_[True, sk[1:] != sk[:-1]], idx, 0))
    d_below, d_upto = np.empty(len(idx)), np.empty(len(idx))
    d_below[order] = cw[key_start] - cw[k_start]
    d_upto[order] = cw[key_end] - cw[k_start]
    d_total = np.bincount(qk, qw, pb.n_times)[qk]
    below = below - d_below
    tied = (upto - d_upto) - below
    above = (total - d_total) - (upto - d_upto)
    conc, disc, tie = qw @ below, qw @ above, qw @ tied
    denom = conc + disc + tie
    return float((conc + tie / 2) / denom) if denom > 0 else float("nan")
