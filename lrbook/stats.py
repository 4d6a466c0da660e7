"""Statistics of repeated runs: summaries, paired comparisons, adjusted p-values, verdicts.

Every arm of a seed in the book starts from the same initial weights and sees
the same data order (:func:`lrbook.training.run_experiment`), so two arms'
numbers are **paired** by seed. The questions the chapters ask are answered
here, on SciPy and statsmodels:

* :func:`paired_comparison`: the mean of the per-seed differences with its
  confidence interval and p-value (paired t-test, Wilcoxon signed-rank test, or
  a bootstrap interval with a sign-flip permutation test);
* :func:`adjust_pvalues`: Holm, Bonferroni or Benjamini-Hochberg adjustment
  within a family of comparisons (``statsmodels.stats.multitest``);
* :func:`verdict`: "better", "worse" or "no difference detected at this n",
  worded with the interval, e.g. ``+1.9 points (95% CI 0.8 to 3.0, n = 5,
  Holm-adjusted p = 0.004)``;
* :func:`summarize` and :func:`format_mean_std` for "mean ± std (n)";
* :func:`welch_t_test` for designs that really are unpaired.

Used in: every chapter that compares arms, :func:`lrbook.training.compare` and
:func:`lrbook.superconvergence.summarize_comparison`.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from lrbook._validation import check, fraction, one_of

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "NO_DIFFERENCE",
    "PairedComparison",
    "Summary",
    "Verdict",
    "WelchResult",
    "adjust_pvalues",
    "format_mean_std",
    "format_p",
    "paired_comparison",
    "summarize",
    "verdict",
    "welch_t_test",
]

#: The verdict when the (adjusted) p-value does not reach the level.
NO_DIFFERENCE = "no difference detected at this n"

_METHODS = ("t", "wilcoxon", "bootstrap")
_ADJUSTMENTS = {"holm": "holm", "bonferroni": "bonferroni", "bh": "fdr_bh"}
_ADJUSTMENT_WORDS = {"holm": "Holm", "bonferroni": "Bonferroni", "bh": "BH"}
#: Resamples of the bootstrap interval and of the sign-flip test.
BOOTSTRAP_RESAMPLES = 9999
_BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (ddof=1) and count of a set of runs.

    Example:
        >>> s = summarize([0.90, 0.92, 0.94]); (round(s.mean, 2), s.n)
        (0.92, 3)
    """

    mean: float
    std: float
    n: int

    def __str__(self) -> str:
        return format_mean_std(self.mean, self.std, self.n)


def _as_array(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    check(name, values, arr.size > 0, "a sequence of at least one value")
    return arr


def summarize(values) -> Summary:
    """Mean, sample standard deviation and n of ``values``.

    NaNs (for example "never reached the target") are dropped before the
    mean; ``n`` counts the values kept. The standard deviation of a single
    value is ``nan``.

    Example:
        >>> str(summarize([0.90, 0.92, 0.94]))
        '0.920 ± 0.020 (n=3)'
    """
    arr = _as_array(values, "values")
    arr = arr[~np.isnan(arr)]
    n = int(arr.size)
    if n == 0:
        return Summary(float("nan"), float("nan"), 0)
    std = float(np.std(arr, ddof=1)) if n > 1 else float("nan")
    return Summary(float(np.mean(arr)), std, n)


# ----------------------------------------------------------------------------- paired


@dataclass(frozen=True)
class PairedComparison:
    """The result of :func:`paired_comparison`.

    Attributes:
        mean_diff: ``mean(a - b)`` over the pairs.
        ci_low: lower end of the confidence interval.
        ci_high: upper end of the confidence interval.
        p_value: two-sided p-value of "no difference".
        n: the number of pairs.
        method: ``"t"``, ``"wilcoxon"`` or ``"bootstrap"``.
        confidence: the interval's confidence level.

    Example:
        >>> c = paired_comparison([0.95, 0.96, 0.94], [0.93, 0.93, 0.92])
        >>> round(c.mean_diff, 3), c.n, c.ci_low > 0
        (0.023, 3, True)
    """

    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    method: str
    confidence: float = 0.95

    def __str__(self) -> str:
        return (
            f"{self.mean_diff:+.3g} ({self.confidence:.0%} CI {self.ci_low:.3g} to "
            f"{self.ci_high:.3g}, n = {self.n}, {format_p(self.p_value)})"
        )


def _check_pairs(a, b, confidence, method):
    a = _as_array(a, "a")
    b = _as_array(b, "b")
    check(
        "b",
        b.tolist(),
        a.size == b.size,
        "as long as `a` (the two aligned by seed)",
        a=a.tolist(),
    )
    check(
        "a",
        a.tolist(),
        a.size >= 2,
        "at least two values (a paired comparison needs two pairs)",
        b=b.tolist(),
    )
    for name, arr in (("a", a), ("b", b)):
        check(name, arr.tolist(), bool(np.all(np.isfinite(arr))), "finite values only")
    one_of("method", method, _METHODS)
    fraction("confidence", confidence, lower_open=True)
    return a, b


def _rng_kwarg(function) -> dict:
    """A fixed generator, under the name this SciPy takes (``rng`` from 1.15)."""
    name = "rng" if "rng" in inspect.signature(function).parameters else "random_state"
    return {name: np.random.default_rng(_BOOTSTRAP_SEED)}


def _signed_rank_null_cdf(n: int) -> np.ndarray:
    """``P(T+ <= k)`` for k = 0..n(n+1)/2, the exact null law of Wilcoxon's T+.

    Under the null each rank 1..n enters T+ with probability 1/2, so the
    counts of subsets of {1..n} by their sum give the distribution.
    """
    top = n * (n + 1) // 2
    counts = np.zeros(top + 1)
    counts[0] = 1.0
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[: top + 1 - rank].copy()
    return np.cumsum(counts) / 2.0**n


def _walsh_interval(d: np.ndarray, confidence: float) -> tuple[float, float]:
    """Distribution-free interval for the pseudo-median of ``d`` (Hodges-Lehmann).

    The interval is ``[W_(k), W_(M+1-k)]`` over the ``M = n(n+1)/2`` sorted
    Walsh averages ``(d_i + d_j) / 2, i <= j``, with ``k - 1`` the largest
    ``c`` such that ``P(T+ <= c) <= (1 - confidence) / 2`` (Hollander, Wolfe &
    Chicken, *Nonparametric Statistical Methods*, section 3.3). When even
    ``c = 0`` is too likely (n = 5 at 95%: ``P(T+ = 0) = 1/32``), no finite
    interval reaches the level and the interval is ``(-inf, inf)``.
    """
    n = d.size
    cdf = _signed_rank_null_cdf(n)
    alpha_half = (1 - confidence) / 2
    below = np.nonzero(cdf <= alpha_half + 1e-12)[0]
    if below.size == 0:
        return -math.inf, math.inf
    k = int(below[-1]) + 1
    i, j = np.triu_indices(n)
    walsh = np.sort((d[i] + d[j]) / 2)
    return float(walsh[k - 1]), float(walsh[walsh.size - k])


def paired_comparison(a, b, *, confidence: float = 0.95, method: str = "t"):
    """Compare two arms run on the same seeds: ``mean(a - b)``, its interval and p-value.

    ``a[i]`` and ``b[i]`` must come from the same seed (same initial weights,
    same data order), so the seed-to-seed noise they share cancels in
    ``a[i] - b[i]``. The methods:

    * ``"t"``: ``scipy.stats.ttest_rel`` and its confidence interval for the
      mean difference, ``d̄ ± t_{n-1} · s_d / √n``;
    * ``"wilcoxon"``: ``scipy.stats.wilcoxon`` (signed-rank test, exact for
      small n); the interval is the distribution-free Hodges-Lehmann interval
      of the *pseudo-median* of the differences (``(-inf, inf)`` when n is too
      small for the level, e.g. n = 5 at 95%);
    * ``"bootstrap"``: ``scipy.stats.bootstrap`` (BCa) of the mean
      difference and a sign-flip permutation test
      (``scipy.stats.permutation_test``, exact when ``2**n`` is at most
      :data:`BOOTSTRAP_RESAMPLES`), both with a fixed random generator, so the
      same call gives the same numbers. With n = 5 a bootstrap interval is
      too narrow; prefer ``"t"``.

    When every difference is the same, the interval is that value and ``p``
    is 1 if it is 0; otherwise the t statistic is undefined (no spread) and
    no signed-rank or sign-flip test can go below ``2 ** (1 - n)`` (every
    sign the same, the exact two-sided bound), so ``p = 2 ** (1 - n)``: five
    seeds that all agree give 0.0625, not a certainty.

    Args:
        a: per-seed values of the first arm.
        b: per-seed values of the second arm, in the same seed order.
        confidence: the interval's level, in (0, 1).
        method: ``"t"``, ``"wilcoxon"`` or ``"bootstrap"``.

    Returns:
        A :class:`PairedComparison`.

    Raises:
        ValueError: if ``a`` and ``b`` differ in length, hold fewer than two
            pairs or a non-finite value, or ``method`` or ``confidence`` is
            not valid.

    Example:
        >>> one_cycle = [0.962, 0.958, 0.966, 0.960, 0.957]
        >>> constant = [0.950, 0.949, 0.951, 0.946, 0.948]
        >>> c = paired_comparison(one_cycle, constant)
        >>> print(c)
        +0.0118 (95% CI 0.00835 to 0.0152, n = 5, p < 0.001)
    """
    from scipy import stats as sps

    a, b = _check_pairs(a, b, confidence, method)
    d = a - b
    n = int(d.size)
    mean_diff = float(np.mean(d))

    def result(low, high, p):
        return PairedComparison(
            mean_diff, float(low), float(high), float(p), n, method, float(confidence)
        )

    if np.ptp(d) == 0:
        return result(d[0], d[0], 1.0 if d[0] == 0 else 2.0 ** (1 - n))
    if method == "t":
        res = sps.ttest_rel(a, b)
        ci = res.confidence_interval(confidence_level=confidence)
        return result(ci.low, ci.high, res.pvalue)
    if method == "wilcoxon":
        p = sps.wilcoxon(a, b).pvalue
        low, high = _walsh_interval(d, confidence)
        return result(low, high, p)
    boot = sps.bootstrap(
        (d,),
        np.mean,
        confidence_level=confidence,
        n_resamples=BOOTSTRAP_RESAMPLES,
        **_rng_kwarg(sps.bootstrap),
    )
    low, high = boot.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):  # BCa degenerate: percentile
        boot = sps.bootstrap(
            (d,),
            np.mean,
            confidence_level=confidence,
            n_resamples=BOOTSTRAP_RESAMPLES,
            method="percentile",
            **_rng_kwarg(sps.bootstrap),
        )
        low, high = boot.confidence_interval
    perm = sps.permutation_test(
        (d,),
        np.mean,
        permutation_type="samples",
        n_resamples=BOOTSTRAP_RESAMPLES,
        **_rng_kwarg(sps.permutation_test),
    )
    return result(low, high, perm.pvalue)


def adjust_pvalues(pvalues, method: str = "holm") -> np.ndarray:
    """Adjust a family of p-values for multiple comparisons.

    ``"holm"`` is Holm's step-down procedure (controls the family-wise error
    rate, uniformly better than Bonferroni): with the m p-values sorted,
    ``p_(i)`` becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``.
    ``"bonferroni"`` multiplies each by m; ``"bh"`` is Benjamini-Hochberg
    (controls the false discovery rate). All three come from
    ``statsmodels.stats.multitest.multipletests``. NaNs (comparisons not
    made) stay NaN and do not count in m.

    Args:
        pvalues: the family's p-values, in any order.
        method: ``"holm"``, ``"bonferroni"`` or ``"bh"``.

    Returns:
        The adjusted p-values, in the order given.

    Raises:
        ValueError: if ``method`` is unknown or a p-value is outside [0, 1].

    Example:
        >>> adjust_pvalues([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    one_of("method", method, tuple(_ADJUSTMENTS))
    p = np.asarray(pvalues, dtype=float).ravel()
    finite = ~np.isnan(p)
    check(
        "pvalues",
        p.tolist(),
        not np.any((p[finite] < 0) | (p[finite] > 1)),
        "values in [0, 1] (or NaN)",
    )
    out = np.full(p.shape, np.nan)
    if finite.any():
        from statsmodels.stats.multitest import multipletests

        out[finite] = multipletests(p[finite], method=_ADJUSTMENTS[method])[1]
    return out


def format_p(p: float, name: str = "p") -> str:
    """A p-value as the book prints it: two significant digits, ``< 0.001`` below that.

    Example:
        >>> format_p(0.0423), format_p(0.00004), format_p(1.0, "Holm-adjusted p")
        ('p = 0.042', 'p < 0.001', 'Holm-adjusted p = 1')
    """
    p = float(p)
    if math.isnan(p):
        return f"{name} = nan"
    return f"{name} < 0.001" if p < 0.001 else f"{name} = {p:.2g}"


@dataclass(frozen=True)
class Verdict:
    """What :func:`verdict` decides, and the words it uses.

    Attributes:
        label: ``"better"``, ``"worse"`` or :data:`NO_DIFFERENCE`.
        text: the difference with its interval, n and p, e.g.
            ``"+1.9 points (95% CI 0.8 to 3.0, n = 5, Holm-adjusted p = 0.004)"``.
        comparison: the :class:`PairedComparison` it came from.
        p_value: the p-value the label was decided on (adjusted when given).

    Example:
        >>> v = verdict(paired_comparison([0.91, 0.92, 0.90], [0.90, 0.92, 0.91]))
        >>> v.label == NO_DIFFERENCE, v.text
        (True, '+0.0 points (95% CI -2.5 to 2.5, n = 3, p = 1)')
    """

    label: str
    text: str
    comparison: PairedComparison
    p_value: float

    def __str__(self) -> str:
        return f"{self.label}: {self.text}"


def verdict(
    comparison: PairedComparison,
    *,
    p_adjusted: float | None = None,
    adjustment: str = "holm",
    alpha: float = 0.05,
    higher_is_better: bool = True,
    scale: float = 100.0,
    unit: str = "points",
    digits: int = 1,
) -> Verdict:
    """Turn a paired comparison into "better", "worse" or "no difference detected at this n".

    The label follows the p-value (the adjusted one when ``p_adjusted`` is
    given, as it should be within a family of comparisons): below ``alpha`` the
    sign of the difference decides "better" or "worse"; otherwise the verdict
    is :data:`NO_DIFFERENCE` — a result at this n, not a proof of equality.
    The text reports the difference and its interval in ``unit`` after
    multiplying by ``scale`` (accuracy 0.019 → "+1.9 points").

    Args:
        comparison: a :class:`PairedComparison` of the arm against its reference.
        p_adjusted: the p-value adjusted within the family (:func:`adjust_pvalues`).
        adjustment: the adjustment's name for the text (``"holm"``,
            ``"bonferroni"``, ``"bh"``).
        alpha: the level.
        higher_is_better: ``False`` for losses and epochs-to-target.
        scale: factor for the printed numbers (100 for accuracy in points).
        unit: the unit after the difference (``""`` for none).
        digits: decimals of the printed difference and interval.

    Returns:
        A :class:`Verdict`.

    Raises:
        ValueError: if ``alpha`` is not in (0, 1) or ``adjustment`` is unknown.

    Example:
        >>> c = paired_comparison([0.962, 0.958, 0.966, 0.960, 0.957],
        ...                       [0.950, 0.949, 0.951, 0.946, 0.948])
        >>> str(verdict(c, p_adjusted=0.0044))
        'better: +1.2 points (95% CI 0.8 to 1.5, n = 5, Holm-adjusted p = 0.0044)'
        >>> verdict(c, p_adjusted=0.2).label
        'no difference detected at this n'
    """
    fraction("alpha", alpha, lower_open=True)
    one_of("adjustment", adjustment, tuple(_ADJUSTMENT_WORDS))
    c = comparison
    p = c.p_value if p_adjusted is None else float(p_adjusted)
    if not math.isnan(p) and p < alpha and c.mean_diff != 0:
        label = "better" if (c.mean_diff > 0) == higher_is_better else "worse"
    else:
        label = NO_DIFFERENCE
    unit_text = f" {unit}" if unit else ""
    p_name = (
        "p" if p_adjusted is None else f"{_ADJUSTMENT_WORDS[adjustment]}-adjusted p"
    )
    text = (
        f"{c.mean_diff * scale:+.{digits}f}{unit_text} ({c.confidence:.0%} CI "
        f"{c.ci_low * scale:.{digits}f} to {c.ci_high * scale:.{digits}f}, n = {c.n}, "
        f"{format_p(p, p_name)})"
    )
    return Verdict(label, text, c, p)


# ----------------------------------------------------------------------------- unpaired


class WelchResult(NamedTuple):
    """What :func:`welch_t_test` returns; unpacks as ``t, dof, p``.

    Example:
        >>> WelchResult(statistic=2.5, dof=4.0, p_value=0.067).p_value
        0.067
    """

    #: Welch's t statistic.
    statistic: float
    #: Welch-Satterthwaite degrees of freedom.
    dof: float
    #: Two-sided p-value.
    p_value: float


def welch_t_test(a, b) -> WelchResult:
    """Welch's unequal-variance t-test of ``mean(a) == mean(b)``, two-sided, for unpaired data.

    Use it only when the two samples are not paired by seed (different
    models, different numbers of runs); arms of one
    :func:`lrbook.training.run_experiment` are paired, so use
    :func:`paired_comparison`. Computed by
    ``scipy.stats.ttest_ind(a, b, equal_var=False)``:

    .. math::
        t = \\frac{\\bar a - \\bar b}{\\sqrt{s_a^2/n_a + s_b^2/n_b}}, \\quad
        \\nu = \\frac{(s_a^2/n_a + s_b^2/n_b)^2}
               {\\frac{(s_a^2/n_a)^2}{n_a-1} + \\frac{(s_b^2/n_b)^2}{n_b-1}}

    Returns:
        A :class:`WelchResult` ``(statistic, dof, p_value)``, which unpacks as
        ``t, dof, p``. When both samples have zero variance, ``t`` is
        ``±inf`` (``p = 0``) if the means differ and ``nan`` otherwise.

    Raises:
        ValueError: if either sample has fewer than two values.

    Example:
        >>> result = welch_t_test([0.95, 0.94, 0.96], [0.90, 0.91, 0.89])
        >>> result.p_value < 0.01, round(result.dof, 6)
        (True, 4.0)
        >>> t, dof, p = result  # a named tuple
    """
    from scipy import stats as sps

    a = _as_array(a, "a")
    b = _as_array(b, "b")
    for name, arr in (("a", a), ("b", b)):
        check(name, arr.tolist(), arr.size >= 2, "at least two values for a t-test")
    if np.var(a) == 0 and np.var(b) == 0:
        diff = float(np.mean(a) - np.mean(b))
        if diff == 0:
            return WelchResult(float("nan"), float("nan"), float("nan"))
        return WelchResult(math.copysign(math.inf, diff), float("nan"), 0.0)
    res = sps.ttest_ind(a, b, equal_var=False)
    return WelchResult(float(res.statistic), float(res.df), float(res.pvalue))


def format_mean_std(
    mean: float, std: float, n: int | None = None, digits: int = 3
) -> str:
    """``"0.912 ± 0.004 (n=5)"``: the form every table and sentence uses.

    Example:
        >>> format_mean_std(0.91234, 0.0041, 5)
        '0.912 ± 0.004 (n=5)'
    """
    text = f"{mean:.{digits}f} ± {std:.{digits}f}"
    if n is not None:
        text += f" (n={n})"
    return text
