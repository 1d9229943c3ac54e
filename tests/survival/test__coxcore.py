"""The vectorised Cox engine against a direct per-event-time loop (Efron with weights, entry, strata)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from djs_toolkit.survival import _coxcore


def naive_efron(entry, stop, event, x, w, strata, beta, ties="efron"):
    """Loop over strata and distinct event times; R coxph's weighted Efron, written out."""
    eta = x @ beta
    r = w * np.exp(eta)
    ll, score, info = 0.0, np.zeros(len(beta)), np.zeros((len(beta), len(beta)))
    for s in np.unique(strata):
        ins = strata == s
        for t in np.unique(stop[ins & (event == 1)]):
            risk = ins & (entry < t) & (t <= stop)
            dead = ins & (event == 1) & (stop == t)
            d = dead.sum()
            s0, s1 = r[risk].sum(), r[risk] @ x[risk]
            s2 = (x[risk] * r[risk][:, None]).T @ x[risk]
            d0, d1 = r[dead].sum(), r[dead] @ x[dead]
            d2 = (x[dead] * r[dead][:, None]).T @ x[dead]
            ll += w[dead] @ eta[dead]
            score += w[dead] @ x[dead]
            slots = range(d) if ties == "efron" else [0]
            mw = w[dead].sum() / (d if ties == "efron" else 1)
            for j in slots:
                f = j / d if ties == "efron" else 0.0
                den = s0 - f * d0
                a = (s1 - f * d1) / den
                ll -= mw * np.log(den)
                score -= mw * a
                info += mw * ((s2 - f * d2) / den - np.outer(a, a))
    return ll, score, info


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), ties=st.sampled_from(["efron", "breslow"]))
def test_loglik_score_information_match_naive(seed, ties):
    rng = np.random.default_rng(seed)
    n = 60
    entry = np.where(rng.uniform(size=n) < 0.4, rng.integers(0, 6, n), -1).astype(float)
    stop = entry.clip(0) + rng.integers(1, 10, n)
    event = rng.binomial(1, 0.7, n)
    x = rng.normal(size=(n, 2))
    w = rng.integers(1, 4, n).astype(float)
    strata = rng.integers(0, 2, n)
    beta = rng.normal(scale=0.5, size=2)
    pb = _coxcore.prepare(entry, stop, event, x, w, strata, ties)
    # the engine centres x; the partial likelihood is invariant to that
    ll, score, info, _ = _coxcore._evaluate(pb, beta)
    ll0, score0, info0 = naive_efron(entry, stop, event, x, w, strata, beta, ties)
    assert ll == pytest.approx(ll0, abs=1e-9)
    np.testing.assert_allclose(score, score0, atol=1e-9)
    np.testing.assert_allclose(info, info0, atol=1e-9)


def test_score_residuals_sum_to_score():
    rng = np.random.default_rng(1)
    n = 80
    stop = rng.integers(1, 12, n).astype(float)
    entry = np.where(rng.uniform(size=n) < 0.5, stop - rng.integers(1, 4, n), -np.inf)
    event = rng.binomial(1, 0.6, n)
    x = rng.normal(size=(n, 3))
    w = rng.uniform(0.5, 2, n)
    pb = _coxcore.prepare(entry, stop, event, x, w, None, "efron")
    cf = _coxcore.fit(pb)
    resid = _coxcore.score_residuals(pb, cf)
    np.testing.assert_allclose(pb.w @ resid, 0.0, atol=1e-8)  # zero score at the MLE
    beta = cf.beta + 0.1
    _, score, _, state = _coxcore._evaluate(pb, beta)
    moved = _coxcore.CoxFit(beta, 0.0, 0.0, np.eye(3), 0, state)
    np.testing.assert_allclose(pb.w @ _coxcore.score_residuals(pb, moved), score, atol=1e-9)


def test_time_varying_weight_rows_equal_split_rows():
    # A tv row with multiplier g[k] equals explicit rows carrying weight g on each event time's interval.
    rng = np.random.default_rng(2)
    n = 40
    stop = rng.integers(1, 10, n).astype(float)
    event = rng.binomial(1, 0.7, n)
    x = rng.normal(size=(n, 1))
    tail_x = rng.normal(size=(5, 1))
    g_of = lambda tau, s: 1.0 / (1.0 + tau)  # noqa: E731
    pb = _coxcore.prepare(
        np.r_[np.full(n, -np.inf), np.full(5, 2.0)],
        np.r_[stop, np.full(5, np.inf)],
        np.r_[event, np.zeros(5, int)],
        np.vstack([x, tail_x]),
        np.ones(n + 5),
        None,
        "efron",
        tv=np.r_[np.zeros(n, bool), np.ones(5, bool)],
        tv_weight=g_of,
    )
    taus = np.unique(stop[event == 1])
    later = taus[taus > 2]
    prev = np.r_[2.0, later[:-1]]
    split_entry = np.r_[np.full(n, -np.inf), np.repeat(prev, 5)]
    split_stop = np.r_[stop, np.repeat(later, 5)]
    split_x = np.vstack([x, np.tile(tail_x, (len(later), 1))])
    split_w = np.r_[np.ones(n), np.repeat(1.0 / (1.0 + later), 5)]
    pb2 = _coxcore.prepare(
        split_entry, split_stop, np.r_[event, np.zeros(5 * len(later), int)], split_x, split_w, None, "efron"
    )
    a, b = _coxcore.fit(pb), _coxcore.fit(pb2)
    np.testing.assert_allclose(a.beta, b.beta, atol=1e-10)
    np.testing.assert_allclose(a.info, b.info, atol=1e-9)
