import math

import numpy as np
import pytest
from scipy import stats as sps

from lrbook.stats import Summary, format_mean_std, summarize, welch_t_test


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
    with pytest.raises(ValueError, match="Argument `values` must hold at least one value"):
        summarize([])


def test_welch_against_hand_computation():
    a = [1.0, 2.0, 3.0, 4.0]  # mean 2.5, var 5/3
    b = [2.0, 4.0, 6.0]       # mean 4.0, var 4
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
    with pytest.raises(ValueError, match="Argument `b` needs at least two values"):
        welch_t_test([1.0, 2.0], [1.0])


def test_format_mean_std():
    assert format_mean_std(0.91234, 0.0041, 5) == "0.912 ± 0.004 (n=5)"
    assert format_mean_std(91.2, 0.41, digits=1) == "91.2 ± 0.4"
    assert str(Summary(1.0, 0.5, 2)) == "1.000 ± 0.500 (n=2)"
