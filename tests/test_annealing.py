"""lrbook.annealing: the pure maths, against the published formulas written out here."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from lrbook import annealing

# ----------------------------------------------------------------------------- references


def ref_cos(start, end, pct):
    """PyTorch's OneCycleLR._annealing_cos."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def ref_linear(start, end, pct):
    """PyTorch's OneCycleLR._annealing_linear."""
    return (end - start) * pct + start


def ref_seed_lr_function(
    epoch, start_lr, min_lr, max_lr, rampup_epochs, sustain_epochs, exp_decay
):
    """The article's lr_function (seeds/000), verbatim but for the parameters."""
    if epoch < rampup_epochs:
        lr = (max_lr - start_lr) / rampup_epochs * epoch + start_lr
    elif epoch < rampup_epochs + sustain_epochs:
        lr = max_lr
    else:
        lr = (max_lr - min_lr) * exp_decay ** (
            epoch - rampup_epochs - sustain_epochs
        ) + min_lr
    return lr


def ref_clr(step, initial, maximal, step_size, scale_fn, scale_mode):
    cycle = math.floor(1 + step / (2 * step_size))
    x = abs(step / step_size - 2 * cycle + 1)
    return initial + (maximal - initial) * max(0.0, 1 - x) * scale_fn(
        cycle if scale_mode == "cycle" else step
    )


def ref_piecewise(step, end_steps, values, anneal):
    start = 0.0
    for i, end in enumerate(end_steps):
        if step <= end or i == len(end_steps) - 1:
            return anneal(values[i], values[i + 1], (step - start) / (end - start))
        start = end


# ----------------------------------------------------------------------------- tests


def test_no_tensorflow_import():
    code = "import sys, lrbook.annealing; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("strategy,ref", [("cos", ref_cos), ("linear", ref_linear)])
@pytest.mark.parametrize(
    "start,end", [(0.004, 0.1), (0.1, 4e-7), (0.95, 0.85), (1.0, 1.0)]
)
def test_annealers_match_pytorch(strategy, ref, start, end):
    pct = np.linspace(0.0, 1.0, 101)
    got = annealing.ANNEAL_STRATEGIES[strategy](start, end, pct)
    np.testing.assert_allclose(
        got, [ref(start, end, p) for p in pct], rtol=1e-12, atol=1e-15
    )
    assert annealing.anneal_cos(start, end, 0.0) == start


@pytest.mark.parametrize("strategy,ref", [("cos", ref_cos), ("linear", ref_linear)])
def test_anneal_phase_keeps_float32_precision_near_a_tiny_end(strategy, ref):
    start, end, first, last = 0.1, 4e-7, 29.0, 999.0
    steps = np.arange(first, last + 1)
    got = annealing.anneal_phase(
        strategy,
        np.float32(start),
        np.float32(end),
        steps.astype(np.float32),
        first,
        last,
    )
    want = np.array([ref(start, end, (s - first) / (last - first)) for s in steps])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_anneal_phase_of_zero_length_gives_its_start():
    assert annealing.anneal_phase("cos", 2.0, 5.0, 3.0, 3.0, 3.0) == 2.0


def test_piecewise_matches_loop():
    ends, values = (3.5, 10.0, 19.0), (0.1, 1.0, 0.1, 0.001)
    steps = np.arange(0, 20, 0.5)
    got = annealing.piecewise_anneal("cos", steps, ends, values)
    np.testing.assert_allclose(
        got, [ref_piecewise(s, ends, values, ref_cos) for s in steps], rtol=1e-12
    )


def test_one_cycle_phase_ends_are_pytorchs():
    assert annealing.one_cycle_phase_ends(100, 0.3) == (float(0.3 * 100) - 1, 99.0)
    assert annealing.one_cycle_phase_ends(100, 0.3, True) == (
        float(0.3 * 100) - 1,
        float(2 * 0.3 * 100) - 2,
        99.0,
    )


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle_and_momentum_match_loop(three_phase, strategy):
    total, pct, max_lr = 37, 0.27, 0.4
    ends = annealing.one_cycle_phase_ends(total, pct, three_phase)
    init, low = max_lr / 25.0, max_lr / 25.0 / 1e4
    lr_values = (init, max_lr, init, low) if three_phase else (init, max_lr, low)
    mom_values = (0.95, 0.85, 0.95, 0.95) if three_phase else (0.95, 0.85, 0.95)
    anneal = ref_cos if strategy == "cos" else ref_linear
    steps = np.arange(total)
    np.testing.assert_allclose(
        annealing.one_cycle(
            steps, max_lr, total, pct, strategy, three_phase=three_phase
        ),
        [ref_piecewise(s, ends, lr_values, anneal) for s in steps],
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        annealing.one_cycle_momentum(steps, total, pct, strategy, three_phase),
        [ref_piecewise(s, ends, mom_values, anneal) for s in steps],
        rtol=1e-12,
    )
    # Clamped outside [0, total - 1].
    assert annealing.one_cycle(
        total + 5, max_lr, total, pct, strategy, three_phase=three_phase
    ) == pytest.approx(low, rel=1e-12)
    assert annealing.one_cycle(-3, max_lr, total, pct, strategy) == pytest.approx(
        init, rel=1e-12
    )


@pytest.mark.parametrize(
    "params",
    [
        (1e-3, 1e-3, 2e-3, 6, 0, 0.5),
        (0.0, 1e-4, 0.1, 3, 2, 0.8),
        (0.05, 0.0, 0.05, 0, 0, 0.9),
    ],
)
def test_rampup_exp_decay_matches_the_article(params):
    epochs = np.arange(0, 30)
    got = annealing.rampup_exp_decay(epochs, *params)
    np.testing.assert_allclose(
        got, [ref_seed_lr_function(e, *params) for e in epochs], rtol=1e-13
    )


@pytest.mark.parametrize(
    "scale_fn,scale_mode",
    [
        (annealing.triangular_scale, "cycle"),
        (annealing.triangular2_scale, "cycle"),
        (lambda s: annealing.exponential_scale(s, 0.99), "iterations"),
        (lambda c: 0.7**c, "cycle"),
    ],
)
def test_cyclical_matches_formula(scale_fn, scale_mode):
    steps = np.arange(0, 100, 0.5)
    got = annealing.cyclical(steps, 1e-4, 1e-2, 7, scale_fn, scale_mode)
    want = [ref_clr(s, 1e-4, 1e-2, 7, scale_fn, scale_mode) for s in steps]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_linear_warmup():
    np.testing.assert_allclose(
        annealing.linear_warmup(np.arange(5), 4, 0.01, 0.05),
        [0.01, 0.02, 0.03, 0.04, 0.05],
        rtol=1e-12,
    )


def test_value_errors():
    with pytest.raises(
        ValueError,
        match=r"Argument `strategy` must be one of \('cos', 'linear'\). "
        r"Received: strategy='exp'",
    ):
        annealing.anneal_phase("exp", 0.0, 1.0, 0.5, 0, 1)
    with pytest.raises(
        ValueError,
        match=r"Argument `values` must be one value longer than a non-empty "
        r"`end_steps` .*Received: values=\[0, 1\], end_steps=\[1, 2\]",
    ):
        annealing.piecewise_anneal("cos", 0.5, [1, 2], [0, 1])
