import inspect
import math

import numpy as np
import pytest
from scipy import stats as sps

from lrbook import stats
from lrbook.stats import (
    NO_DIFFERENCE,
    Summary,
    _signed_rank_null_cdf,
    adjust_pvalues,
    format_mean_std,
    format_p,
    paired_comparison,
    summarize,
    verdict,
    welch_t_test,
)


def test_summarize_matches_hand_computation():
    s = summarize([0.90, 0.92, 0.94])
    assert s.n == 3
    assert s.mean == pytest.approx(0.92)
    # sample variance: ((-0.02)^2 + 0 + 0.02^2) / (3 - 1) = 0.0004 -> std 0.02
    assert s.std == pytest.approx(0.02)
    assert str(s) == "0.920 ± 0.020 (n=3)"


def test_summarize_drops_nan_and_single_value_has_nan_std():
    s = summarize([1.0, float("nan"), 3.0])
    assert (s.mean, s.n) == (2.0, 2)
    one = summarize([5.0])
    assert one.mean == 5.0 and one.n == 1 and math.isnan(one.std)
    none = summarize([float("nan")])
    assert none.n == 0 and math.isnan(none.mean)


def test_summarize_rejects_empty():
    with pytest.raises(
        ValueError,
        match="Argument `values` must be a sequence of at least one value. Received: values=\\[\\]",
    ):
        summarize([])


def test_welch_against_hand_computation():
    a = [1.0, 2.0, 3.0, 4.0]  # mean 2.5, var 5/3
    b = [2.0, 4.0, 6.0]  # mean 4.0, var 4
    va, vb = (5 / 3) / 4, 4 / 3
    t_hand = (2.5 - 4.0) / math.sqrt(va + vb)
    dof_hand = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 2)
    t, dof, p = welch_t_test(a, b)
    assert t == pytest.approx(t_hand)
    assert dof == pytest.approx(dof_hand)
    assert p == pytest.approx(2 * sps.t.sf(abs(t_hand), dof_hand))


def test_welch_agrees_with_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.9, 0.01, 5), rng.normal(0.88, 0.02, 7)
    t, _, p = welch_t_test(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert t == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue)


def test_welch_zero_variance_cases():
    t, _, p = welch_t_test([1.0, 1.0], [2.0, 2.0])
    assert t == -math.inf and p == 0.0
    t, _, p = welch_t_test([1.0, 1.0], [1.0, 1.0])
    assert math.isnan(t) and math.isnan(p)


def test_welch_needs_two_values():
    with pytest.raises(
        ValueError,
        match="Argument `b` must be at least two values for a t-test. Received: b=",
    ):
        welch_t_test([1.0, 2.0], [1.0])


def test_format_mean_std():
    assert format_mean_std(0.91234, 0.0041, 5) == "0.912 ± 0.004 (n=5)"
    assert format_mean_std(91.2, 0.41, digits=1) == "91.2 ± 0.4"
    assert str(Summary(1.0, 0.5, 2)) == "1.000 ± 0.500 (n=2)"


# ----------------------------------------------------------------------------- paired

A = [0.962, 0.958, 0.966, 0.960, 0.957, 0.955]
B = [0.950, 0.949, 0.951, 0.946, 0.948, 0.956]


def test_paired_t_matches_hand_computation_and_scipy():
    d = np.subtract(A, B)
    n, mean, sd = d.size, d.mean(), d.std(ddof=1)
    half = sps.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    t_hand = mean / (sd / math.sqrt(n))
    c = paired_comparison(A, B)
    assert (c.n, c.method, c.confidence) == (6, "t", 0.95)
    assert c.mean_diff == pytest.approx(mean)
    assert (c.ci_low, c.ci_high) == (
        pytest.approx(mean - half),
        pytest.approx(mean + half),
    )
    assert c.p_value == pytest.approx(2 * sps.t.sf(abs(t_hand), n - 1))
    assert c.p_value == pytest.approx(sps.ttest_rel(A, B).pvalue)
    c90 = paired_comparison(A, B, confidence=0.9)
    assert c90.ci_high - c90.ci_low < c.ci_high - c.ci_low


def test_paired_is_not_welch():
    # A shared seed effect: Welch sees the spread between seeds, the paired test cancels it.
    seed_effect = np.array([0.0, 0.05, -0.04, 0.02, -0.03])
    a, b = (
        0.9 + seed_effect + 0.01,
        0.9 + seed_effect + np.array([0, 0.001, -0.001, 0.002, 0]),
    )
    assert paired_comparison(a, b).p_value < 0.001
    assert welch_t_test(a, b)[2] > 0.5


def test_paired_t_interval_covers_about_95_percent():
    rng = np.random.default_rng(20261203)
    true_diff, covered, reps = 0.02, 0, 2000
    for _ in range(reps):
        seed = rng.normal(0.9, 0.03, 5)  # shared by both arms
        a = seed + true_diff + rng.normal(0, 0.01, 5)
        b = seed + rng.normal(0, 0.01, 5)
        c = paired_comparison(a, b)
        covered += c.ci_low <= true_diff <= c.ci_high
    # Binomial sd at 95%, 2000 reps: 0.5 points; a z interval would give about 88%.
    assert 0.935 <= covered / reps <= 0.965


def test_wilcoxon_p_is_scipy_and_interval_inverts_the_test():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.9, 0.01, 9), rng.normal(0.895, 0.01, 9)
    c = paired_comparison(a, b, method="wilcoxon")
    assert c.p_value == pytest.approx(sps.wilcoxon(a, b).pvalue)
    assert c.mean_diff == pytest.approx(np.mean(a - b))
    # The interval holds exactly the shifts the exact signed-rank test does not reject.
    d = a - b
    i, j = np.triu_indices(d.size)
    walsh = np.sort((d[i] + d[j]) / 2)
    cdf = _signed_rank_null_cdf(d.size)
    achieved = 2 * cdf[np.nonzero(cdf <= 0.025)[0][-1]]  # largest size <= 5%
    for mu in (walsh[:-1] + walsh[1:]) / 2:
        p = sps.wilcoxon(d - mu, method="exact").pvalue
        inside = c.ci_low <= mu <= c.ci_high
        assert inside == (p > achieved + 1e-12), (mu, p, c)


def test_signed_rank_null_law_by_enumeration():
    n = 6
    sums = [sum(r + 1 for r in range(n) if mask >> r & 1) for mask in range(2**n)]
    brute = np.cumsum(np.bincount(sums, minlength=n * (n + 1) // 2 + 1)) / 2**n
    np.testing.assert_allclose(_signed_rank_null_cdf(n), brute)


def test_wilcoxon_interval_too_small_n_is_infinite():
    c = paired_comparison(A[:5], B[:5], method="wilcoxon")  # P(T+ = 0) = 1/32 > 2.5%
    assert (c.ci_low, c.ci_high) == (-math.inf, math.inf)
    c90 = paired_comparison(A[:5], B[:5], method="wilcoxon", confidence=0.9)
    d = np.subtract(A[:5], B[:5])
    assert (c90.ci_low, c90.ci_high) == (pytest.approx(d.min()), pytest.approx(d.max()))


def test_bootstrap_is_reproducible_and_matches_scipy():
    c1 = paired_comparison(A, B, method="bootstrap")
    c2 = paired_comparison(A, B, method="bootstrap")
    assert c1 == c2
    d = np.subtract(A, B)
    gen = np.random.default_rng(0)  # SciPy < 1.15 names it random_state
    kw = (
        {"rng": gen}
        if "rng" in inspect.signature(sps.bootstrap).parameters
        else {"random_state": gen}
    )
    ref = sps.bootstrap((d,), np.mean, n_resamples=9999, **kw)
    assert c1.ci_low == pytest.approx(ref.confidence_interval.low)
    assert c1.ci_high == pytest.approx(ref.confidence_interval.high)
    # Exact sign-flip test: 5 of 6 differences positive, |negative| the smallest.
    flips = np.array(np.meshgrid(*[[-1, 1]] * d.size)).reshape(d.size, -1).T
    null = (flips * d).mean(axis=1)
    p_exact = np.mean(np.abs(null) >= abs(d.mean()) - 1e-15)
    assert c1.p_value == pytest.approx(p_exact)


def test_identical_differences():
    same = paired_comparison([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert (same.mean_diff, same.ci_low, same.ci_high, same.p_value) == (0, 0, 0, 1)
    shifted = paired_comparison([1.5, 2.5], [1.0, 2.0], method="wilcoxon")
    assert (shifted.ci_low, shifted.ci_high, shifted.p_value) == (0.5, 0.5, 0.5)


@pytest.mark.parametrize("method", ["t", "wilcoxon", "bootstrap"])
def test_a_constant_difference_is_not_a_certainty(method):
    # Five seeds that all moved by the same whole epoch count: scipy's exact
    # signed-rank test, the reference, gives 2 / 2**5; so must every method.
    from scipy import stats as sps

    a, b = np.full(5, 10.0), np.full(5, 5.0)
    c = paired_comparison(a, b, method=method)
    assert c.p_value == pytest.approx(sps.wilcoxon(a - b, method="exact").pvalue)
    assert c.p_value == pytest.approx(0.0625)
    assert (c.ci_low, c.ci_high) == (5.0, 5.0)


@pytest.mark.parametrize(
    "a, b, kwargs, message",
    [
        (
            [1, 2, 3],
            [1, 2],
            {},
            "Argument `b` must be as long as `a`.*Received: b=\\[1.0, 2.0\\], a=\\[1.0, 2.0, 3.0\\]",
        ),
        ([1], [2], {}, "a paired comparison needs two pairs"),
        ([1, float("nan")], [1, 2], {}, "Argument `a` must be finite values only"),
        ([1, 2], [1, float("inf")], {}, "Argument `b` must be finite values only"),
        ([1, 2], [1, 3], {"method": "welch"}, "Received: method='welch'"),
        ([1, 2], [1, 3], {"confidence": 95}, "Received: confidence=95"),
        ([1, 2], [1, 3], {"confidence": 0.0}, "Received: confidence=0.0"),
        ([], [], {}, "Argument `a` must be a sequence of at least one value"),
    ],
)
def test_paired_comparison_rejects(a, b, kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_comparison(a, b, **kwargs)


def test_adjust_pvalues_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 -> max 0.06.
    np.testing.assert_allclose(adjust_pvalues(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(
        adjust_pvalues(p, "bonferroni"), [0.04, 0.16, 0.12, 0.02]
    )
    # BH: p_(i) m / i = 0.02, 0.02, 0.04, 0.04, then the running minimum from the top.
    np.testing.assert_allclose(adjust_pvalues(p, "bh"), [0.02, 0.04, 0.04, 0.02])
    np.testing.assert_allclose(adjust_pvalues(p, "bh"), sps.false_discovery_control(p))
    np.testing.assert_allclose(adjust_pvalues([0.6, 0.9]), [1.0, 1.0])


def test_adjust_pvalues_keeps_nan_out_of_the_family():
    out = adjust_pvalues([0.01, float("nan"), 0.04])
    assert math.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.04])
    assert adjust_pvalues([]).size == 0


def test_adjust_pvalues_rejects():
    with pytest.raises(ValueError, match="Received: method='fdr'"):
        adjust_pvalues([0.1], method="fdr")
    with pytest.raises(ValueError, match="must be values in \\[0, 1\\] \\(or NaN\\)"):
        adjust_pvalues([0.1, 1.2])


def test_verdict_labels_and_words():
    c = paired_comparison(A, B)
    v = verdict(c, p_adjusted=0.004)
    assert v.label == "better" and v.p_value == 0.004
    assert v.text == (
        f"{c.mean_diff * 100:+.1f} points (95% CI {c.ci_low * 100:.1f} to "
        f"{c.ci_high * 100:.1f}, n = 6, Holm-adjusted p = 0.004)"
    )
    assert str(v) == f"better: {v.text}"
    assert verdict(c, p_adjusted=0.004, higher_is_better=False).label == "worse"
    assert verdict(paired_comparison(B, A)).label == "worse"
    assert verdict(c, p_adjusted=0.06).label == NO_DIFFERENCE
    assert verdict(c, p_adjusted=0.06, alpha=0.1).label == "better"
    unadjusted = verdict(c, scale=1, unit="", digits=4)
    assert (
        unadjusted.text.startswith(f"{c.mean_diff:+.4f} (95% CI")
        and ", p " in unadjusted.text
    )
    assert verdict(paired_comparison([1.0, 2.0], [1.0, 2.0])).label == NO_DIFFERENCE


def test_verdict_rejects():
    c = paired_comparison(A, B)
    with pytest.raises(ValueError, match="Received: alpha=5"):
        verdict(c, alpha=5)
    with pytest.raises(ValueError, match="Received: adjustment='sidak'"):
        verdict(c, adjustment="sidak")


def test_format_p():
    assert format_p(0.0423) == "p = 0.042"
    assert format_p(0.0004) == "p < 0.001"
    assert format_p(float("nan")) == "p = nan"


def test_welch_returns_a_named_result_that_unpacks_as_before():
    from scipy import stats as sps

    a, b = [0.95, 0.94, 0.96, 0.93], [0.90, 0.91, 0.89]
    result = stats.welch_t_test(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert isinstance(result, stats.WelchResult)
    assert result.statistic == pytest.approx(ref.statistic)
    assert result.dof == pytest.approx(ref.df)
    assert result.p_value == pytest.approx(ref.pvalue)
    t, dof, p = result
    assert (t, dof, p) == tuple(result)
