"""Cox proportional-hazards regression: Efron/Breslow ties, delayed entry, strata, weights, cluster-robust SE.

Same (start, stop] risk-set convention as the curve estimators (docs/methods.md §3): a
row with entry e and exit t is at risk at s iff e < s <= t, so no epsilon shift is needed for entries on
event days. The engine (`_coxcore`) is an own vectorised Newton-Raphson (why not PHReg: see there).
Results match R `survival::coxph` (tests/fixtures/r). The robust variance is R's: dfbeta residuals
(weighted score residuals times the inverse information) summed by cluster, V = D'D, in linear time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from djs_toolkit.errors import DJSUserError
from djs_toolkit.survival import _coxcore
from djs_toolkit.survival._concordance import concordance as _concordance
from djs_toolkit.survival._inputs import (
    check_entry,
    column,
    design_matrix,
    durations,
    event_codes,
    weights_array,
)
from djs_toolkit.survival._zph import ph_test as _ph_test

__all__ = ["CoxResult", "cox"]


@dataclass
class CoxResult:
    """A fitted Cox model (also returned by `finegray` and `recurrent`).

    Attributes:
        params: indexed by covariate: `coef`, `se`, (`robust_se` when clustered), `hr`, `ci_lower`,
            `ci_upper` (of the hazard ratio), `p`. CIs and p-values use the robust SE when clustered.
        n: rows used; events: number of event rows; loglik / loglik_null: partial log-likelihood at
            the estimate and at beta = 0; concordance: Harrell's C (R's coxph value).
        covariance: covariance used for inference (robust when clustered, as R's `fit$var`);
            naive_covariance: inverse information.
        ph_test: Schoenfeld-residual test per term and GLOBAL (`chisq`, `df`, `p`), R's cox.zph.
        df_model: number of coefficients; df_resid: n - df_model; n_clusters: clusters in the robust
            variance (or None).
        lr_chisq / lr_p: likelihood-ratio test against the null model.
    """

    params: pd.DataFrame
    n: int
    events: int
    loglik: float
    loglik_null: float
    concordance: float
    covariance: pd.DataFrame
    naive_covariance: pd.DataFrame
    ph_test: pd.DataFrame
    df_model: int
    n_clusters: int | None
    ties: str
    model: str = "cox"
    iterations: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def df_resid(self) -> int:
        """Rows used minus coefficients (statsmodels-style residual degrees of freedom)."""
        return self.n - self.df_model

    @property
    def lr_chisq(self) -> float:
        return 2.0 * (self.loglik - self.loglik_null)

    @property
    def lr_p(self) -> float:
        return float(chi2.sf(self.lr_chisq, self.df_model))

    def __str__(self) -> str:
        head = (
            f"{self.model}: n={self.n}, events={self.events}, ties={self.ties}, "
            f"loglik={self.loglik:.4f}, concordance={self.concordance:.4f}"
        )
        return head + "\n" + self.params.to_string()


def _strata_codes(df: pd.DataFrame, strata: str | Sequence[str] | None) -> np.ndarray | None:
    if strata is None:
        return None
    cols = [strata] if isinstance(strata, str) else list(strata)
    for c in cols:
        if c not in df.columns:
            raise DJSUserError(f"strata column `{c}` is not in the data frame: check the name.")
        miss = int(df[c].isna().sum())
        if miss:
            raise DJSUserError(f"strata column `{c}` has {miss} missing values: fill or drop them.")
    return df.groupby(cols, sort=True, observed=True).ngroup().to_numpy(dtype=np.int64)


@overload
def cluster_codes(df: pd.DataFrame | None, cluster: None) -> None: ...
@overload
def cluster_codes(df: pd.DataFrame | None, cluster: str) -> np.ndarray: ...
@overload
def cluster_codes(df: pd.DataFrame | None, cluster: object) -> np.ndarray | None: ...
def cluster_codes(df: pd.DataFrame | None, cluster: object) -> np.ndarray | None:
    """Integer codes of the cluster column (None when not clustered)."""
    if cluster is None:
        return None
    raw = column(df, cluster, "cluster")
    if pd.isna(raw).any():
        raise DJSUserError("the cluster column has missing ids: fill or drop those rows.")
    return pd.factorize(raw)[0].astype(np.int64)


def summarise(
    pb: _coxcore.CoxProblem,
    names: list[str],
    terms: dict[str, list[int]],
    entry: np.ndarray | None,
    stop: np.ndarray,
    event: np.ndarray,
    clusters: np.ndarray | None,
    ties: str,
    alpha: float,
    n: int,
    model: str = "cox",
    with_ph_test: bool = True,
) -> CoxResult:
    """Fit a prepared problem and build the result (shared by cox, finegray and recurrent)."""
    cf = _coxcore.fit(pb)
    try:
        naive = np.linalg.inv(cf.info)
    except np.linalg.LinAlgError:
        raise DJSUserError("the Cox information matrix is singular: drop collinear covariates.") from None
    se = np.sqrt(np.diag(naive))
    robust = None
    n_clusters = None
    if clusters is not None:
        resid = _coxcore.score_residuals(pb, cf)
        dfbeta = (pb.w[:, None] * resid) @ naive
        cl = clusters[pb.keep]
        codes, cl = np.unique(cl, return_inverse=True)
        n_clusters = len(codes)
        agg = np.column_stack([np.bincount(cl, dfbeta[:, c], n_clusters) for c in range(dfbeta.shape[1])])
        robust = agg.T @ agg
    cov = naive if robust is None else robust
    use_se = np.sqrt(np.diag(cov))
    z = norm.ppf(1 - alpha / 2)
    beta = cf.beta
    params = pd.DataFrame({"coef": beta, "se": se}, index=pd.Index(names, name=None))
    if robust is not None:
        params["robust_se"] = use_se
    params["hr"] = np.exp(beta)
    params["ci_lower"] = np.exp(beta - z * use_se)
    params["ci_upper"] = np.exp(beta + z * use_se)
    params["p"] = 2 * norm.sf(np.abs(beta / use_se))
    pos = pb.positive  # the zph transform uses the KM of every row with positive weight, as R
    keep_event = event[pb.keep]
    tv = pb.tv is not None and pb.tv.any()
    if with_ph_test and not tv:
        zph = _ph_test(pb, cf, None if entry is None else entry[pos], stop[pos], event[pos], terms)
    else:
        zph = pd.DataFrame(columns=["chisq", "df", "p"], dtype=float)
    conc = _concordance(pb, pb.x @ beta)

    def frame(m: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(m, index=names, columns=names)

    return CoxResult(
        params=params,
        n=n,
        events=int(np.count_nonzero(keep_event)),
        loglik=cf.loglik,
        loglik_null=cf.loglik0,
        concordance=conc,
        covariance=frame(cov),
        naive_covariance=frame(naive),
        ph_test=zph,
        df_model=len(names),
        n_clusters=n_clusters,
        ties=ties,
        model=model,
        iterations=cf.iterations,
    )


def terms_of(covariates: Sequence[str], names: list[str]) -> dict[str, list[int]]:
    """Map each covariate to the design columns it produced (indicators share one term)."""
    out: dict[str, list[int]] = {}
    for cov in covariates:
        out[cov] = [i for i, nm in enumerate(names) if nm == cov or nm.startswith(f"{cov}[T.")]
    return out


def cox(
    df: pd.DataFrame,
    duration: str,
    event: str,
    covariates: Sequence[str],
    entry: str | None = None,
    strata: str | Sequence[str] | None = None,
    cluster: str | None = None,
    ties: str = "efron",
    weights: str | None = None,
    alpha: float = 0.05,
) -> CoxResult:
    """Fit a Cox model with the package's (entry, exit] risk sets.

    Args:
        df: one row per subject (or per (entry, exit] interval).
        duration: exit time column.
        event: 1 = event at exit, 0 = censored.
        covariates: numeric columns, or categorical/string columns (expanded to `col[T.level]`
            indicators against the first level).
        entry: delayed-entry (interval start) column.
        strata: column(s) defining strata with separate baseline hazards.
        cluster: column of cluster ids (e.g. person): adds `robust_se` (R's cluster() sandwich).
        ties: "efron" (R's default) or "breslow".
        weights: case weights column (non-negative), as R's `weights=`.
        alpha: 1 - confidence level of the hazard-ratio intervals.

    Returns:
        A `CoxResult`.

    Example:
        >>> import pandas as pd
        >>> d = pd.DataFrame({"t": [2, 3, 5, 7, 8, 9], "e": [1, 1, 0, 1, 1, 0], "x": [1, 0, 1, 1, 0, 0]})
        >>> round(float(cox(d, "t", "e", ["x"]).params.loc["x", "coef"]), 4)  # R coxph: 1.0730678
        1.0731
    """
    if not isinstance(df, pd.DataFrame):
        raise DJSUserError("`df` must be a pandas DataFrame with the model columns.")
    stop = durations(df, duration, "duration")
    n = len(stop)
    ev = event_codes(df, event, n)
    start = None
    if entry is not None:
        start = durations(df, entry, "entry", allow_negative=True)
        check_entry(start, stop, entry, duration)
    w = weights_array(df, weights, n)
    x, names = design_matrix(df, covariates)
    st = _strata_codes(df, strata)
    cl = cluster_codes(df, cluster)
    if not 0 < alpha < 1:
        raise DJSUserError("`alpha` must be between 0 and 1, e.g. 0.05 for 95% intervals.")
    if not ev.any():
        raise DJSUserError(f"column `{event}` has no events: a Cox model needs at least one.")
    pb = _coxcore.prepare(start, stop, ev, x, w, st, ties)
    return summarise(
        pb,
        names,
        terms_of([covariates] if isinstance(covariates, str) else covariates, names),
        start,
        stop,
        ev,
        cl,
        ties,
        alpha,
        n,
    )
