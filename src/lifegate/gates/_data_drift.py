"""Drift statistics for LG-DRIFT, vectorised with numpy.

Numeric features: both columns are sorted once (missing values set apart). PSI uses ``bins``
quantile bins of the reference (edges from the sorted reference; counts by binary search of
the edges, plus a bin for missing values); shares are floored at 1e-4 so that an empty bin
does not make PSI infinite. The two-sample Kolmogorov-Smirnov statistic is the largest
distance between the two empirical CDFs, evaluated at every observed value; its p-value is
the asymptotic one (``scipy.stats.kstwo`` at the effective sample size, as scipy's
``ks_2samp(method="asymp")``; its limit ``kstwobign`` above 10^5). After the sort, the KS
statistic is linear in the sample sizes: each chunk of one sorted column is merged with the
stretch of the other its values span. Categorical features:
PSI over the reference's ``max_categories`` most frequent values, the rest as "(other)".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FeatureDrift", "categorical_drift", "feature_drift", "numeric_drift"]

FLOOR = 1e-4
OTHER = "(other)"
MISSING = "(missing)"


@dataclass
class FeatureDrift:
    name: str
    kind: str
    psi: float
    bins: list[str]
    reference_share: list[float]
    current_share: list[float]
    ks: float | None = None
    ks_pvalue: float | None = None
    drift: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "psi": self.psi, "ks": self.ks,
                "ks_pvalue": self.ks_pvalue, "drift": self.drift, "bins": self.bins,
                "reference_share": self.reference_share, "current_share": self.current_share}


def psi(ref_share: Any, cur_share: Any) -> float:
    r = np.maximum(np.asarray(ref_share, dtype=np.float64), FLOOR)
    c = np.maximum(np.asarray(cur_share, dtype=np.float64), FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def _sorted_values(col: Any) -> tuple[Any, int]:
    """The non-missing values sorted, and how many were missing (sorted in place in the one
    copy ``to_numpy`` makes; NaN sorts last, so the missing are counted by one search)."""
    values = col.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    values.sort()
    valid = int(np.searchsorted(values, np.nan))
    return values[:valid], len(values) - valid


def _shares(sorted_vals: Any, missing: int, edges: Any) -> Any:
    total = len(sorted_vals) + missing
    cuts = np.searchsorted(sorted_vals, edges, side="right")
    counts = np.diff(np.concatenate(([0], cuts, [len(sorted_vals)])))
    return np.append(counts, missing) / max(total, 1)


# Values of ``a`` merged per step with the stretch of ``b`` they span: the work stays in cache,
# and each temporary array (under 64 KiB) is reused from the allocator's heap, not mapped afresh.
CHUNK = 1 << 11


def ks_statistic(a: Any, b: Any) -> float:
    """The largest distance between the empirical CDFs of sorted ``a`` and ``b``.

    ``a`` is taken a chunk at a time, merged with the stretch of ``b`` up to its last value
    (a stable argsort of two sorted runs is a linear merge); the CDFs are read at the last
    position of each run of equal values. Linear in the sample sizes after the sort, and
    every temporary array is chunk-sized."""
    na, nb = len(a), len(b)
    best, lo = 0.0, 0
    for start in range(0, na, CHUNK):
        stop = min(start + CHUNK, na)
        hi = nb if stop == na else int(np.searchsorted(b, a[stop - 1], side="right"))
        both = np.concatenate((a[start:stop], b[lo:hi]))
        order = np.argsort(both, kind="stable")
        both = both[order]
        from_a = np.cumsum(order < stop - start)
        last = np.empty(len(both), dtype=bool)
        np.not_equal(both[1:], both[:-1], out=last[:-1])
        last[-1] = stop == na or a[stop] != a[stop - 1]  # equal values go on: next chunk
        taken_a = from_a[last]
        taken_b = np.flatnonzero(last) + 1 - taken_a + lo
        gap = np.abs((taken_a + start) / na - taken_b / nb)
        best = max(best, float(gap.max(initial=0.0)))
        lo = hi
    return best


def ks_2samp_sorted(a: Any, b: Any) -> tuple[float, float]:
    """KS statistic and asymptotic p-value of two sorted, non-empty samples."""
    from scipy import stats  # type: ignore[import-untyped]

    na, nb = len(a), len(b)
    d = ks_statistic(a, b)
    en = max(round(na * nb / (na + nb)), 1)
    # kstwo at the effective size, as scipy's asymp method; its limit beyond 10^5 (kstwo can
    # take a second there for tiny p-values, and agrees to many digits)
    p = stats.kstwo.sf(d, en) if en <= 100_000 else stats.kstwobign.sf(d * np.sqrt(en))
    return d, float(min(1.0, max(0.0, p)))


def numeric_drift(name: str, ref: Any, cur: Any, bins: int) -> FeatureDrift:
    r, r_missing = _sorted_values(ref)
    c, c_missing = _sorted_values(cur)
    if len(r):
        idx = (np.linspace(0, 1, bins + 1)[1:-1] * (len(r) - 1)).round().astype(np.int64)
        edges = np.unique(r[idx])
    else:
        edges = np.empty(0)
    r_share, c_share = _shares(r, r_missing, edges), _shares(c, c_missing, edges)
    labels = [f"<= {e:.4g}" for e in edges] + [f"> {edges[-1]:.4g}" if len(edges) else "all",
                                               MISSING]
    ks, p = ks_2samp_sorted(r, c) if len(r) and len(c) else (None, None)
    return FeatureDrift(name, "numeric", psi(r_share, c_share), labels,
                        _rounded(r_share), _rounded(c_share), ks, p)


def categorical_drift(name: str, ref: Any, cur: Any, max_categories: int) -> FeatureDrift:
    r = ref.astype("string").fillna(MISSING).value_counts(normalize=True)
    c = cur.astype("string").fillna(MISSING).value_counts(normalize=True)
    keep = [str(k) for k in r.index[:max_categories]]
    r_share = [float(r.get(k, 0.0)) for k in keep]
    c_share = [float(c.get(k, 0.0)) for k in keep]
    r_share.append(max(0.0, 1.0 - sum(r_share)))
    c_share.append(max(0.0, 1.0 - sum(c_share)))
    return FeatureDrift(name, "categorical", psi(r_share, c_share), [*keep, OTHER],
                        _rounded(r_share), _rounded(c_share))


def feature_drift(name: str, ref: Any, cur: Any, bins: int, max_categories: int,
                  categorical: bool) -> FeatureDrift:
    if categorical or ref.dtype.kind not in "iufb" or cur.dtype.kind not in "iufb":
        return categorical_drift(name, ref, cur, max_categories)
    return numeric_drift(name, ref, cur, bins)


def _rounded(values: Any) -> list[float]:
    return [round(float(v), 6) for v in values]
