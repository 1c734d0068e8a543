"""Differential test: lifegate's chunked two-sample KS against ``scipy.stats.ks_2samp``.

lifegate re-implements the statistic for speed (linear after the sort, chunk-sized temporaries;
see ``gates/_data_drift.py``). Here scipy's own function is the oracle, on random samples of
several sizes and shapes, ties, infinities, missing values and samples whose sizes sit around
the chunk length. The statistic must be bit-for-bit scipy's; the p-value is scipy's
``method="asymp"`` one exactly up to an effective size of 10^5, and its documented limit
(``kstwobign``) beyond.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from lifegate.gates import _data_drift
from lifegate.gates._data_drift import CHUNK, ks_2samp_sorted, numeric_drift

BOUNDED = settings(max_examples=150, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow])


def scipy_ks(a: Any, b: Any) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's p at one element each
        r = stats.ks_2samp(a, b, method="asymp")
    return float(r.statistic), float(r.pvalue)


def assert_same(a: Any, b: Any) -> None:
    """lifegate's (d, p) on sorted copies of ``a`` and ``b`` is scipy's, both orders."""
    sa, sb = np.sort(np.asarray(a, dtype=np.float64)), np.sort(np.asarray(b, dtype=np.float64))
    d_ref, p_ref = scipy_ks(a, b)
    for x, y in ((sa, sb), (sb, sa)):
        d, p = ks_2samp_sorted(x, y)
        assert d == d_ref, (len(x), len(y))
        en = len(x) * len(y) / (len(x) + len(y))
        if round(en) == 0:
            # one value each: scipy's kstwo at n=0 is NaN; lifegate uses n=1, which gives
            # p=1 for equal values and p=0 for different ones (the exact p at n=1)
            assert math.isnan(p_ref)
            assert p == (1.0 if d == 0.0 else 0.0)
        elif round(en) <= 100_000:
            assert p == p_ref, (len(x), len(y))
        else:
            assert p == pytest.approx(p_ref, abs=1e-3), (len(x), len(y))


# -- generated samples -------------------------------------------------------------------------

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
SPECIAL = st.sampled_from([0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, 5e-324, 1e308])


@st.composite
def sample(draw: st.DrawFn, max_size: int = 60) -> list[float]:
    """Small samples with many ties (a few distinct values), or wide floats, or both."""
    pool = draw(st.lists(FINITE | SPECIAL, min_size=1, max_size=6))
    values = st.sampled_from(pool) | FINITE if draw(st.booleans()) else st.sampled_from(pool)
    return draw(st.lists(values, min_size=1, max_size=max_size))


@BOUNDED
@given(a=sample(), b=sample())
def test_random_small_samples_with_ties_match_scipy(a: list[float], b: list[float]) -> None:
    assert_same(a, b)


@BOUNDED
@given(a=sample(), b=sample(), chunk=st.sampled_from([1, 2, 3, 5, 8]))
def test_tiny_chunks_match_scipy(a: list[float], b: list[float], chunk: int) -> None:
    """Chunks of a few values: every run of ties and every stretch of the other sample
    crosses chunk ends (the shipped chunk is restored after each example)."""
    shipped = _data_drift.CHUNK
    _data_drift.CHUNK = chunk
    try:
        assert_same(a, b)
    finally:
        _data_drift.CHUNK = shipped


DISTRIBUTIONS = ["normal", "shifted", "uniform", "lognormal", "integers", "rounded", "constant"]


def draw_from(rng: np.random.Generator, kind: str, n: int) -> Any:
    makers: dict[str, Callable[[], Any]] = {
        "normal": lambda: rng.normal(size=n),
        "shifted": lambda: rng.normal(0.3, 1.5, size=n),
        "uniform": lambda: rng.uniform(-2, 2, size=n),
        "lognormal": lambda: rng.lognormal(size=n),
        "integers": lambda: rng.integers(0, 7, size=n).astype(float),
        "rounded": lambda: rng.normal(size=n).round(1),
        "constant": lambda: np.full(n, 2.0),
    }
    return makers[kind]()


@BOUNDED
@given(seed=st.integers(0, 2**32 - 1),
       kinds=st.tuples(st.sampled_from(DISTRIBUTIONS), st.sampled_from(DISTRIBUTIONS)),
       sizes=st.tuples(st.integers(1, 3 * CHUNK + 5), st.integers(1, 3 * CHUNK + 5)))
def test_distributions_and_sizes_match_scipy(seed: int, kinds: tuple[str, str],
                                             sizes: tuple[int, int]) -> None:
    rng = np.random.default_rng(seed)
    assert_same(draw_from(rng, kinds[0], sizes[0]), draw_from(rng, kinds[1], sizes[1]))


# -- fixed cases -------------------------------------------------------------------------------

AROUND_CHUNK = [CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 1]


@pytest.mark.parametrize("na", AROUND_CHUNK)
@pytest.mark.parametrize("kind", ["normal", "integers", "rounded"])
def test_sizes_around_the_chunk_length(na: int, kind: str) -> None:
    rng = np.random.default_rng(na)
    for nb in (1, 7, CHUNK, na):
        assert_same(draw_from(rng, kind, na), draw_from(rng, "shifted", nb))


def test_a_run_of_ties_spanning_a_chunk_end() -> None:
    """The chunk ends inside a run of equal values that the other sample also holds."""
    a = np.concatenate((np.zeros(CHUNK - 3), np.ones(10), np.full(CHUNK, 2.0)))
    b = np.concatenate((np.full(5, 0.5), np.ones(CHUNK), np.full(3, 2.0), np.full(4, 9.0)))
    assert_same(a, b)
    assert_same(np.ones(CHUNK + 1), np.ones(3))
    assert ks_2samp_sorted(np.ones(CHUNK + 1), np.ones(3)) == (0.0, 1.0)


@pytest.mark.parametrize(("a", "b"), [
    ([1.0], [1.0]), ([1.0], [2.0]), ([2.0], [1.0]), ([1.0], [1.0, 2.0]),
    ([0.0], [-0.0]), ([-math.inf], [math.inf]), ([1.0, 1.0], [1.0]),
])
def test_one_element_samples(a: list[float], b: list[float]) -> None:
    assert_same(a, b)


def test_disjoint_and_identical_samples() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=3000)
    assert_same(x, x + 100.0)
    assert_same(x, x.copy())
    assert ks_2samp_sorted(np.sort(x), np.sort(x + 100.0))[0] == 1.0


def test_large_samples_use_the_documented_limit() -> None:
    """Effective size above 10^5: the statistic is still exact, the p-value is kstwobign's,
    within 1e-3 of scipy's kstwo (and exactly 0 or 1 where both saturate)."""
    rng = np.random.default_rng(7)
    for shift in (0.0, 0.004, 0.01, 0.5):
        assert_same(rng.normal(size=250_000), rng.normal(shift, size=210_001))


# -- missing values, as lifegate documents them: set apart, not part of the KS ----------------

@BOUNDED
@given(a=sample(40), b=sample(40),
       holes=st.tuples(st.integers(0, 5), st.integers(0, 5)))
def test_missing_values_are_set_apart_like_nan_policy_omit(
        a: list[float], b: list[float], holes: tuple[int, int]) -> None:
    ref = pd.Series([*a, *[np.nan] * holes[0]], dtype="float64")
    cur = pd.Series([*[None] * holes[1], *b], dtype="float64")
    got = numeric_drift("x", ref, cur, bins=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        omit = stats.ks_2samp(ref.to_numpy(), cur.to_numpy(), method="asymp",
                              nan_policy="omit")
        propagate = stats.ks_2samp(ref.to_numpy(), cur.to_numpy(), method="asymp")
    assert got.ks == float(omit.statistic)
    if len(a) + len(b) > 2:  # one value each: see assert_same
        assert got.ks_pvalue == float(omit.pvalue)
    if holes != (0, 0):
        assert math.isnan(propagate.statistic)  # scipy's default propagates; lifegate omits


def test_nullable_integer_column_with_missing_values() -> None:
    ref = pd.Series([1, 2, None, 2, 3, 5], dtype="Int64")
    cur = pd.Series([2, 2, 4, None, None, 7, 1], dtype="Int64")
    got = numeric_drift("x", ref, cur, bins=4)
    omit = stats.ks_2samp(ref.dropna().to_numpy(float), cur.dropna().to_numpy(float),
                          method="asymp")
    assert (got.ks, got.ks_pvalue) == (float(omit.statistic), float(omit.pvalue))


@pytest.mark.parametrize(("ref", "cur"), [
    ([], [1.0, 2.0]), ([1.0, 2.0], []), ([np.nan, np.nan], [1.0]), ([1.0], [np.nan]), ([], []),
])
def test_no_values_on_one_side_gives_no_statistic(ref: list[float], cur: list[float]) -> None:
    """lifegate reports no KS (None) where scipy has none either (it refuses, or is NaN)."""
    got = numeric_drift("x", pd.Series(ref, dtype="float64"), pd.Series(cur, dtype="float64"),
                        bins=5)
    assert got.ks is None and got.ks_pvalue is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            r = stats.ks_2samp(np.asarray(ref), np.asarray(cur), method="asymp",
                               nan_policy="omit")
        except ValueError:
            return
    assert math.isnan(float(r.statistic))


def test_integer_columns_are_compared_as_float64() -> None:
    """Numeric columns are read as float64 (``_sorted_values``): integers are exact below
    2**53, where the statistic is scipy's on the integers; above, neighbours that float64
    cannot tell apart tie, and the statistic is scipy's on the float64 values (not on the
    integers: a known limit, e.g. for nanosecond timestamps stored as int64)."""
    rng = np.random.default_rng(5)
    small_r, small_c = rng.integers(-1000, 1000, 500), rng.integers(-900, 1100, 400)
    got = numeric_drift("x", pd.Series(small_r), pd.Series(small_c), bins=10)
    assert got.ks == scipy_ks(small_r, small_c)[0]
    big_r, big_c = np.full(3, 2**53, dtype=np.int64), np.full(3, 2**53 + 1, dtype=np.int64)
    got = numeric_drift("x", pd.Series(big_r), pd.Series(big_c), bins=4)
    assert got.ks == scipy_ks(big_r.astype(np.float64), big_c.astype(np.float64))[0] == 0.0
    assert scipy_ks(big_r, big_c)[0] == 1.0
