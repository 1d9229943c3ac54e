"""Concordance (wavelet-matrix counting) against an O(n^2) pair loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from djs_toolkit.survival import _coxcore
from djs_toolkit.survival._concordance import _prefix_below, concordance


def brute(entry, stop, event, eta, w, strata):
    conc = disc = tie = 0.0
    for i in np.flatnonzero(event == 1):
        t = stop[i]
        for j in range(len(stop)):
            if strata[j] != strata[i] or not (entry[j] < t <= stop[j]):
                continue
            if event[j] == 1 and stop[j] == t:
                continue  # tied on time
            pair = w[i] * w[j]
            if eta[i] > eta[j]:
                conc += pair
            elif eta[i] < eta[j]:
                disc += pair
            else:
                tie += pair
    return (conc + tie / 2) / (conc + disc + tie)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_matches_pair_loop(seed):
    rng = np.random.default_rng(seed)
    n = 70
    entry = np.where(rng.uniform(size=n) < 0.5, rng.integers(0, 5, n), -1).astype(float)
    stop = entry.clip(0) + rng.integers(1, 9, n)
    event = rng.binomial(1, 0.6, n)
    event[0] = 1
    x = rng.integers(0, 4, (n, 1)).astype(float)  # many tied predictors
    w = rng.integers(1, 3, n).astype(float)
    strata = rng.integers(0, 2, n)
    pb = _coxcore.prepare(entry, stop, event, x, w, strata, "efron")
    eta = pb.x[:, 0] * 0.7
    got = concordance(pb, eta)
    k = pb.keep
    want = brute(entry[k], stop[k], event[k], eta, w[k], strata[k])
    assert got == pytest.approx(want, abs=1e-12)


def test_prefix_below_small_case():
    vals = np.array([3, 0, 2, 5, 1, 4])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    prefix = np.array([0, 3, 6, 6, 4])
    thresh = np.array([9, 3, 3, 0, 6])
    want = [sum(w[j] for j in range(p) if vals[j] < t) for p, t in zip(prefix, thresh)]
    np.testing.assert_allclose(_prefix_below(vals, w, prefix, thresh), want)
