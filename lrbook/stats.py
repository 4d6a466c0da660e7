"""Summaries of repeated runs: mean, spread and Welch's t-test. Pure NumPy/SciPy.

Every comparison in the book is over several seeds; these helpers turn the
per-seed numbers into the "mean ± std (n)" and p-values the prose quotes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Summary", "summarize", "welch_t_test", "format_mean_std"]


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


def _as_finite_array(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise ValueError(f"Argument `{name}` must hold at least one value. Received: {values!r}")
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
    arr = _as_finite_array(values, "values")
    arr = arr[~np.isnan(arr)]
    n = int(arr.size)
    if n == 0:
        return Summary(float("nan"), float("nan"), 0)
    std = float(np.std(arr, ddof=1)) if n > 1 else float("nan")
    return Summary(float(np.mean(arr)), std, n)


def welch_t_test(a, b) -> tuple[float, float, float]:
    """Welch's unequal-variance t-test of ``mean(a) == mean(b)``, two-sided.

    .. math::
        t = \\frac{\\bar a - \\bar b}{\\sqrt{s_a^2/n_a + s_b^2/n_b}}, \\quad
        \\nu = \\frac{(s_a^2/n_a + s_b^2/n_b)^2}
               {\\frac{(s_a^2/n_a)^2}{n_a-1} + \\frac{(s_b^2/n_b)^2}{n_b-1}}

    Returns:
        ``(t, dof, p)``. When both samples have zero variance, ``t`` is
        ``±inf`` (``p = 0``) if the means differ and ``nan`` otherwise.

    Raises:
        ValueError: if either sample has fewer than two values.

    Example:
        >>> t, dof, p = welch_t_test([0.95, 0.94, 0.96], [0.90, 0.91, 0.89])
        >>> p < 0.01
        True
    """
    from scipy import stats as sps

    a = _as_finite_array(a, "a")
    b = _as_finite_array(b, "b")
    for name, arr in (("a", a), ("b", b)):
        if arr.size < 2:
            raise ValueError(
                f"Argument `{name}` needs at least two values for a t-test. Received: {arr.tolist()}"
            )
    va, vb = np.var(a, ddof=1) / a.size, np.var(b, ddof=1) / b.size
    diff = float(np.mean(a) - np.mean(b))
    se2 = va + vb
    if se2 == 0:
        if diff == 0:
            return float("nan"), float("nan"), float("nan")
        return math.copysign(math.inf, diff), float("nan"), 0.0
    t = diff / math.sqrt(se2)
    dof = se2**2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    p = float(2 * sps.t.sf(abs(t), dof))
    return float(t), float(dof), p


def format_mean_std(mean: float, std: float, n: int | None = None, digits: int = 3) -> str:
    """``"0.912 ± 0.004 (n=5)"``: the form every table and sentence uses.

    Example:
        >>> format_mean_std(0.91234, 0.0041, 5)
        '0.912 ± 0.004 (n=5)'
"""
    text = f"{mean:.{digits}f} ± {std:.{digits}f}"
    if n is not None:
        text += f" (n={n})"
    return text
