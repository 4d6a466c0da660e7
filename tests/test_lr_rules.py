"""Tests of lrbook.lr_rules: the sweep, the smoothing, the rules and the result, by hand.

Every expected value is worked out in the comments from the rule's definition
(fastai's ``valley``/``slide``/``minimum``/``steep``, Lightning's ``gradient``),
never taken from the code under test. The module must import without
TensorFlow or Keras: a subprocess checks it with both blocked.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lrbook import lr_rules
from lrbook.lr_rules import LRFinderResult


def test_imports_and_runs_without_tensorflow_or_keras():
    code = textwrap.dedent(
        """
        import sys
        for name in ("tensorflow", "keras", "tf_keras", "jax", "torch"):
            sys.modules[name] = None  # any import of them raises ImportError
        from lrbook import lr_rules
        lrs = lr_rules.sweep_lrs(1e-4, 1.0, 5)
        print(lr_rules.minimum(lrs, [3.0, 2.0, 1.0, 2.0, 5.0]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == pytest.approx(
        1e-3
    )  # the minimum at 1e-2, divided by 10


def test_lr_finder_reexports_the_same_objects():
    from lrbook import lr_finder

    for name in lr_rules.__all__:
        assert getattr(lr_finder, name) is getattr(lr_rules, name), name
        assert name in lr_finder.__all__, name


# --------------------------------------------------------------------------
# Pure maths
# --------------------------------------------------------------------------


def test_sweep_lrs_endpoints_and_spacing():
    lrs = lr_rules.sweep_lrs(1e-4, 1.0, 5, "exponential")
    np.testing.assert_allclose(lrs, [1e-4, 1e-3, 1e-2, 1e-1, 1.0], rtol=1e-12)
    np.testing.assert_allclose(
        lr_rules.sweep_lrs(0.1, 0.5, 5, "linear"), [0.1, 0.2, 0.3, 0.4, 0.5]
    )


def test_smooth_losses_by_hand():
    # beta = 0.5: avg = 0.5, 1.25, 1.125; divided by 0.5, 0.75, 0.875.
    np.testing.assert_allclose(
        lr_rules.smooth_losses([1.0, 2.0, 1.0], 0.5), [1.0, 5 / 3, 9 / 7]
    )
    np.testing.assert_array_equal(lr_rules.smooth_losses([3.0, 1.0], 0.0), [3.0, 1.0])


# --------------------------------------------------------------------------
# Suggestion rules on hand-made curves
# --------------------------------------------------------------------------


def test_valley_by_hand():
    # Longest strictly decreasing subsequence: 5, 4.5, 4, ..., 1 (indices 0, 2..9), length 9, ending at 9.
    # (1.2 at index 10 also ends one of length 9, but the first maximum wins.)
    # start = 9 - 9 = 0, d = 9, index = 0 + floor(9/3) + floor(9/6) = 3 + 1 = 4.
    losses = [5, 5, 4.5, 4, 3.5, 3, 2.5, 2, 1.5, 1, 1.2, 3, 9]
    lrs = [10.0**k for k in range(-6, 7)]
    assert lr_rules.valley(lrs, losses) == 1e-2
    # A rising curve: every L is 1, end = 0, start = -1, index -1 -> clamped to the first LR
    # (fastai's lrs[-1] would give the largest).
    assert lr_rules.valley([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0


def test_slide_by_hand():
    # np.gradient([4, 3, 2, 1, 1, 1, 3]) = [-1, -1, -1, -0.5, 0, 1, 2]. With lr_diff=2, thresh=0.1:
    # windows (l, r) = (4, 6): |2 - 0| > .1; (3, 5): 1.5; (2, 4): 1; (1, 3): 0.5; (0, 2): 0 -> stop.
    # The last window still above thresh had l = 1.
    losses = [4, 3, 2, 1, 1, 1, 3]
    lrs = [1, 2, 3, 4, 5, 6, 7]
    assert lr_rules.slide(lrs, losses, lr_diff=2, thresh=0.1) == 2.0
    assert lr_rules.slide(lrs, losses, lr_diff=2, thresh=0.1, adjust_value=0.5) == 1.0
    # Never flat enough: the window runs off the left end; the last left end was index 0.
    assert lr_rules.slide(lrs, [1, 2, 4, 8, 16, 32, 64], lr_diff=2, thresh=0.1) == 1.0
    # Flat at once: the first window's left end, index n - 1 - lr_diff = 4.
    assert lr_rules.slide(lrs, [7, 6, 5, 4, 3, 2, 1], lr_diff=2, thresh=0.1) == 5.0
    with pytest.raises(ValueError, match="at least 4 points"):
        lr_rules.slide([1, 2, 3], [3, 2, 1], lr_diff=2)


def test_minimum_by_hand():
    assert lr_rules.minimum(
        [1e-3, 1e-2, 1e-1, 1.0, 10.0], [3, 2, 1, 2, 5]
    ) == pytest.approx(1e-2)


def test_steep_by_hand():
    # Uneven LR grid: drops of 1, 4, 1.2 over ln 2, ln 100, ln 2 -> slopes -1.44, -0.87, -1.73:
    # the last segment is steepest per unit of log LR (though the middle one drops most).
    assert lr_rules.steep([1.0, 2.0, 200.0, 400.0], [10.0, 9.0, 5.0, 3.8]) == 200.0


def test_gradient_by_hand():
    # Segment slopes against the LR: -0.5, -0.25, -1, -0.0125 on spacings 1, 2, 4, 8.
    # Central differences on an uneven grid: g_i = (h_i s_(i-1) + h_(i-1) s_i) / (h_(i-1) + h_i):
    # g = [-0.5, -0.4167, -0.5, -0.6708, -0.0125] -> argmin at index 3, lr = 8.
    # (A gradient per index would give index 2, lr = 4: this rule is per LR.)
    lrs, losses = [1.0, 2.0, 4.0, 8.0, 16.0], [10.0, 9.5, 9.0, 5.0, 4.9]
    assert lr_rules.gradient(lrs, losses) == 8.0
    # Per index (older Lightning, torch-lr-finder): np.gradient = [-0.5, -0.5, -2.25, -2.05, -0.1] -> lr 4.
    assert lr_rules.gradient(lrs, losses, wrt="index") == 4.0
    with pytest.raises(
        ValueError, match="Argument `wrt` must be 'lr' or 'index'. Received: wrt='log'"
    ):
        lr_rules.gradient(lrs, losses, wrt="log")


def test_result_uses_smoothed_losses_and_skips_the_ends():
    lrs = np.array([10.0**k for k in range(-7, 3)])  # 10 points
    raw = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0.5])
    smoothed = np.array([5, 5, 5, 5, 4, 1, 2, 9, 9, np.nan])
    result = LRFinderResult(
        lrs=lrs, losses=raw, smoothed_losses=smoothed, stopped_early=True, num_steps=10
    )
    # fastai's trimming: skip 10 // 10 = 1 at the start and 5 at the end -> smoothed[1:5] = [5, 5, 5, 4].
    assert result.suggestion("minimum") == pytest.approx(lrs[4] / 10)
    # Explicit skips: smoothed[0:8] -> minimum at index 5.
    assert result.suggestion("minimum", skip_begin=0, skip_end=2) == pytest.approx(
        lrs[5] / 10
    )
    # The NaN at the end cuts the curve: smoothed[0:9] -> still index 5.
    assert result.suggestion("minimum", skip_begin=0, skip_end=0) == pytest.approx(
        lrs[5] / 10
    )
    # Lightning's trimming skips 10 points: nothing left, so no suggestion.
    with pytest.raises(ValueError, match="at least 2 points"):
        result.suggestion("gradient")
    assert math.isnan(result.suggestions()["gradient"])
    with pytest.raises(ValueError, match="Argument `method` must be one of"):
        result.suggestion("best")


def test_plot_returns_axes_with_labels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lrs = lr_rules.sweep_lrs(1e-5, 1.0, 60)
    losses = 2.0 - np.tanh(np.log10(lrs) + 3) + np.where(lrs > 0.3, 50 * (lrs - 0.3), 0)
    result = LRFinderResult(
        lrs=lrs,
        losses=losses,
        smoothed_losses=lr_rules.smooth_losses(losses, 0.9),
        stopped_early=False,
        num_steps=60,
    )
    fig, ax = plt.subplots()
    assert result.plot(ax=ax) is ax
    assert ax.get_xscale() == "log" and ax.get_xlabel() and ax.get_ylabel()
    labels = ax.get_legend_handles_labels()[1]
    assert (
        sum(
            label.startswith(m) for m in lr_rules.SUGGESTION_METHODS for label in labels
        )
        == 5
    )
    plt.close(fig)
    assert "LRFinderResult(60 of 60 steps" in repr(result)


# --------------------------------------------------------------------------
# one_cycle_peak: the book's one recipe for one-cycle's peak
# --------------------------------------------------------------------------


def _curve_with_minimum_at(lr_at_min, num=50):
    """A result whose smoothed loss is lowest at ``lr_at_min`` (a point of the sweep)."""
    lrs = np.logspace(-4, 1, num)
    i = int(np.argmin(np.abs(lrs - lr_at_min)))
    losses = np.full(num, 3.0)
    losses[i] = 1.0
    r = LRFinderResult(lrs, losses, losses, stopped_early=False, num_steps=num)
    return r, float(lrs[i])


def test_one_cycle_peak_is_the_minimum_rule_by_default():
    r, at_min = _curve_with_minimum_at(0.2)
    # fastai's minimum: the lr of the lowest loss, divided by 10
    assert lr_rules.one_cycle_peak(r) == pytest.approx(at_min / 10)
    assert lr_rules.ONE_CYCLE_PEAK_RULE == "minimum"


def test_one_cycle_peak_is_the_geometric_mean_over_tests_times_factor():
    r1, a = _curve_with_minimum_at(0.01)
    r2, b = _curve_with_minimum_at(1.0)
    # geometric mean of a/10 and b/10 = sqrt(a * b) / 10, then times 3
    expected = 3 * math.sqrt(a * b) / 10
    assert lr_rules.one_cycle_peak([r1, r2], factor=3) == pytest.approx(expected)


def test_one_cycle_peak_skips_tests_without_a_finite_suggestion():
    r, at_min = _curve_with_minimum_at(0.05)
    nan = np.full(50, np.nan)
    dead = LRFinderResult(r.lrs, nan, nan, stopped_early=True, num_steps=50)
    assert lr_rules.one_cycle_peak([dead, r]) == pytest.approx(at_min / 10)
    with pytest.raises(ValueError, match="Argument `results`"):
        lr_rules.one_cycle_peak([dead])


@pytest.mark.parametrize(
    "kwargs, name",
    [({"rule": "edge"}, "rule"), ({"factor": 0}, "factor"), ({"factor": -1}, "factor")],
)
def test_one_cycle_peak_refuses_bad_arguments(kwargs, name):
    r, _ = _curve_with_minimum_at(0.1)
    with pytest.raises(ValueError, match=f"Argument `{name}`.*Received: {name}="):
        lr_rules.one_cycle_peak(r, **kwargs)


def test_one_cycle_peak_refuses_no_results():
    with pytest.raises(
        ValueError, match="Argument `results`.*Received: results=\\[\\]"
    ):
        lr_rules.one_cycle_peak([])
