"""The maths of every lrbook schedule, as pure functions of the position in training.

No TensorFlow or Keras here: each function takes an array namespace ``xp``
(NumPy by default, ``keras.ops`` when :mod:`lrbook.schedules` calls it), so the
same code draws the curves in a notebook and runs inside a compiled train step.
Python numbers, NumPy arrays and (with ``xp=keras.ops``) tensors all work, and
a vector of steps gives a vector of values.

The annealers follow fastai's ``sched_*`` functions: ``f(start, end, pos)`` goes
from ``start`` at ``pos=0`` to ``end`` at ``pos=1``. :func:`anneal_phase` runs
one over a span of steps and evaluates it from the nearer end, so a value close
to a tiny ``end`` (one-cycle's last steps) keeps its relative precision in
float32.

Used in: the schedules chapter (every curve), and by :mod:`lrbook.schedules`.
"""

from __future__ import annotations

import math

import numpy as np

from lrbook._validation import fail, one_of

__all__ = [
    "ANNEAL_STRATEGIES",
    "anneal_linear",
    "anneal_cos",
    "anneal_phase",
    "piecewise_anneal",
    "linear_warmup",
    "rampup_exp_decay",
    "cyclical",
    "triangular_scale",
    "triangular2_scale",
    "exponential_scale",
    "one_cycle_phase_ends",
    "one_cycle",
    "one_cycle_momentum",
]

_HALF_PI = math.pi / 2


def anneal_linear(start, end, pos, xp=np):
    """Linear interpolation from ``start`` (``pos=0``) to ``end`` (``pos=1``).

    ```python
    def anneal_linear(start, end, pos):
        return start + (end - start) * pos
    ```

    Example:
        >>> float(anneal_linear(1.0, 3.0, 0.25))
        1.5

    Args:
        start: value at ``pos=0``.
        end: value at ``pos=1``.
        pos: position in the phase (scalar or array); values outside [0, 1]
            extrapolate.
        xp: array namespace (unused; kept so every annealer has one signature).

    Returns:
        The interpolated value(s).
    """
    del xp
    return start + (end - start) * pos


def anneal_cos(start, end, pos, xp=np):
    """Half a cosine from ``start`` (``pos=0``) to ``end`` (``pos=1``), flat at both ends.

    PyTorch's ``OneCycleLR`` (and fastai's ``sched_cos``) write it as

    ```python
    def anneal_cos(start, end, pos):
        return end + (start - end) / 2 * (math.cos(math.pi * pos) + 1)
    ```

    which is computed here as ``start + (end - start) * sin(pi * pos / 2) ** 2``
    (the same number, since ``1 + cos(2a) = 2 - 2 sin(a) ** 2``), exact to the
    last bit near ``pos=0``.

    Example:
        >>> [round(float(anneal_cos(1.0, 0.0, p)), 4) for p in (0.0, 0.25, 0.5, 1.0)]
        [1.0, 0.8536, 0.5, 0.0]

    Args:
        start: value at ``pos=0``.
        end: value at ``pos=1``.
        pos: position in the phase (scalar or array).
        xp: array namespace with ``sin`` and ``square`` (NumPy or ``keras.ops``).

    Returns:
        The annealed value(s).
    """
    return start + (end - start) * xp.square(xp.sin(_HALF_PI * pos))


#: The annealers :func:`anneal_phase` knows, by PyTorch's ``anneal_strategy`` names.
ANNEAL_STRATEGIES = {"linear": anneal_linear, "cos": anneal_cos}


def anneal_phase(strategy, start, end, step, start_step, end_step, xp=np):
    """Anneal from ``start`` at ``start_step`` to ``end`` at ``end_step``.

    ```python
    def anneal_phase(strategy, start, end, step, start_step, end_step):
        pos = (step - start_step) / (end_step - start_step)
        return ANNEAL_STRATEGIES[strategy](start, end, pos)
    ```

    Both annealers are symmetric (``f(start, end, pos) == f(end, start, 1 - pos)``);
    the second half of the phase is evaluated from its end, with
    ``1 - pos = (end_step - step) / (end_step - start_step)`` computed directly,
    so that float32 keeps the relative precision of values near a small ``end``.

    Example:
        >>> [float(anneal_phase("linear", 0.0, 1.0, s, 0, 4)) for s in range(5)]
        [0.0, 0.25, 0.5, 0.75, 1.0]

    Args:
        strategy: ``"cos"`` or ``"linear"`` (see :data:`ANNEAL_STRATEGIES`).
        start: value at ``start_step``.
        end: value at ``end_step``.
        step: the step(s), float.
        start_step: first step of the phase (a Python number).
        end_step: last step of the phase (a Python number); a phase of zero
            length gives ``start`` at ``start_step`` rather than dividing by zero.
        xp: array namespace (NumPy or ``keras.ops``).

    Returns:
        The value(s) at ``step``.

    Raises:
        ValueError: if ``strategy`` is unknown.
    """
    one_of("strategy", strategy, tuple(sorted(ANNEAL_STRATEGIES)))
    f = ANNEAL_STRATEGIES[strategy]
    length = float(end_step - start_step) or 1.0
    pos = (step - start_step) / length
    rem = (end_step - step) / length
    return xp.where(pos <= 0.5, f(start, end, pos, xp=xp), f(end, start, rem, xp=xp))


def piecewise_anneal(strategy, step, end_steps, values, xp=np):
    """Consecutive annealing phases, selected the way PyTorch's ``OneCycleLR`` does.

    Phase ``i`` runs from ``values[i]`` at ``start_i`` to ``values[i + 1]`` at
    ``end_steps[i]``, with ``start_0 = 0`` and ``start_i = end_steps[i - 1]``. A
    step belongs to the first phase whose end it does not pass
    (``step <= end_steps[i]``), or to the last phase.

    ```python
    def piecewise_anneal(strategy, step, end_steps, values):
        start = 0.0
        for i, end in enumerate(end_steps):
            if step <= end or i == len(end_steps) - 1:
                return anneal_phase(strategy, values[i], values[i + 1], step, start, end)
            start = end
    ```

    Example:
        >>> [float(piecewise_anneal("linear", s, (2, 4), (0.0, 1.0, 0.0))) for s in range(5)]
        [0.0, 0.5, 1.0, 0.5, 0.0]

    Args:
        strategy: ``"cos"`` or ``"linear"``.
        step: the step(s), float.
        end_steps: last step of each phase (Python numbers).
        values: ``len(end_steps) + 1`` values: where each phase starts and ends.
        xp: array namespace (NumPy or ``keras.ops``).

    Returns:
        The value(s) at ``step``.

    Raises:
        ValueError: if ``values`` is not one longer than ``end_steps``.
    """
    end_steps, values = list(end_steps), list(values)
    if not end_steps or len(values) != len(end_steps) + 1:
        fail(
            "values",
            values,
            "one value longer than a non-empty `end_steps` (a value at each phase "
            "boundary)",
            end_steps=end_steps,
        )
    starts = [0.0] + end_steps[:-1]
    out = anneal_phase(
        strategy, values[-2], values[-1], step, starts[-1], end_steps[-1], xp=xp
    )
    for i in range(len(end_steps) - 2, -1, -1):
        phase = anneal_phase(
            strategy, values[i], values[i + 1], step, starts[i], end_steps[i], xp=xp
        )
        out = xp.where(step <= end_steps[i], phase, out)
    return out


def linear_warmup(step, warmup_steps, initial, target):
    """Linear warmup from ``initial`` at step 0 to ``target`` at ``warmup_steps``.

    ```python
    def linear_warmup(step, warmup_steps, initial, target):
        return initial + (target - initial) * step / warmup_steps
    ```

    Example:
        >>> float(linear_warmup(5, 10, 0.0, 0.1))
        0.05

    Args:
        step: the step(s).
        warmup_steps: length of the warmup (> 0).
        initial: value at step 0.
        target: value reached at ``warmup_steps``.

    Returns:
        The warmup value(s) (extrapolated outside ``[0, warmup_steps]``).
    """
    return initial + (target - initial) * (step / warmup_steps)


def rampup_exp_decay(
    epoch, start_lr, min_lr, max_lr, rampup_epochs, sustain_epochs, exp_decay, xp=np
):
    """Linear ramp-up, a plateau, then exponential decay towards ``min_lr``.

    The ``lr_function`` of the one-cycle article the book grew from (VoAGI, in Japanese):

    ```python
    def rampup_exp_decay(epoch):
        if epoch < rampup_epochs:
            return (max_lr - start_lr) / rampup_epochs * epoch + start_lr
        elif epoch < rampup_epochs + sustain_epochs:
            return max_lr
        return (max_lr - min_lr) * exp_decay ** (epoch - rampup_epochs - sustain_epochs) + min_lr
    ```

    Example:
        >>> [round(float(rampup_exp_decay(e, 1e-3, 1e-3, 2e-3, 6, 0, 0.5)), 6) for e in (0, 3, 6, 7)]
        [0.001, 0.0015, 0.002, 0.0015]

    Args:
        epoch: the epoch(s) (0-based; fractional epochs interpolate).
        start_lr: value at epoch 0.
        min_lr: value the decay tends to.
        max_lr: value at the end of the ramp and on the plateau.
        rampup_epochs: length of the ramp (>= 0).
        sustain_epochs: length of the plateau (>= 0).
        exp_decay: factor per epoch of the decay, in (0, 1].
        xp: array namespace (NumPy or ``keras.ops``).

    Returns:
        The learning rate(s).
    """
    slope = (max_lr - start_lr) / rampup_epochs if rampup_epochs else 0.0
    ramp = slope * epoch + start_lr
    plateau_end = rampup_epochs + sustain_epochs
    # Clamped at 0 so that the branch not taken never overflows.
    decay = (max_lr - min_lr) * exp_decay ** xp.maximum(
        epoch - plateau_end, 0.0
    ) + min_lr
    return xp.where(
        epoch < rampup_epochs, ramp, xp.where(epoch < plateau_end, max_lr, decay)
    )


def triangular_scale(x):
    """The ``triangular`` policy's scale: 1 for every cycle (Smith, 2017).

    Example:
        >>> triangular_scale(3)
        1.0
    """
    del x
    return 1.0


def triangular2_scale(cycle):
    """The ``triangular2`` policy's scale: the amplitude halves every cycle.

    ```python
    def triangular2_scale(cycle):
        return 1 / 2 ** (cycle - 1)
    ```

    Example:
        >>> [triangular2_scale(c) for c in (1, 2, 3)]
        [1.0, 0.5, 0.25]
    """
    return 1.0 / (2.0 ** (cycle - 1.0))


def exponential_scale(step, gamma):
    """The ``exp_range`` policy's scale: ``gamma ** step``.

    Example:
        >>> exponential_scale(2, 0.5)
        0.25
    """
    return gamma**step


def cyclical(step, initial, maximal, step_size, scale_fn, scale_mode="cycle", xp=np):
    """Smith's cyclical learning rate (the formula of tensorflow-addons' ``CyclicalLearningRate``).

    ```python
    def cyclical(step):
        cycle = floor(1 + step / (2 * step_size))
        x = abs(step / step_size - 2 * cycle + 1)
        scale = scale_fn(cycle if scale_mode == "cycle" else step)
        return initial + (maximal - initial) * max(0, 1 - x) * scale
    ```

    ``cycle`` counts from 1; ``step_size`` is half a cycle (steps from the lower
    bound to the upper one).

    Example:
        >>> [float(cyclical(s, 1.0, 3.0, 2, triangular_scale)) for s in range(5)]
        [1.0, 2.0, 3.0, 2.0, 1.0]

    Args:
        step: the step(s), float.
        initial: lower bound (value at step 0).
        maximal: upper bound (reached at ``step_size``, times the scale).
        step_size: half a cycle, in steps (> 0).
        scale_fn: function of the cycle (1-based, float) or of the step.
        scale_mode: ``"cycle"`` or ``"iterations"``: what ``scale_fn`` gets.
        xp: array namespace with ``floor``, ``abs`` and ``maximum``.

    Returns:
        The learning rate(s).
    """
    cycle = xp.floor(1.0 + step / (2.0 * step_size))
    x = xp.abs(step / step_size - 2.0 * cycle + 1.0)
    scale = scale_fn(cycle if scale_mode == "cycle" else step)
    return initial + (maximal - initial) * xp.maximum(0.0, 1.0 - x) * scale


def one_cycle_phase_ends(total_steps, pct_start, three_phase=False):
    """The last step of each one-cycle phase, exactly as PyTorch's ``OneCycleLR`` defines them.

    ```python
    two_phase = (float(pct_start * total_steps) - 1, total_steps - 1)
    three_phase = (float(pct_start * total_steps) - 1,
                   float(2 * pct_start * total_steps) - 2,
                   total_steps - 1)
    ```

    Example:
        >>> one_cycle_phase_ends(100, 0.25)
        (24.0, 99.0)

    Args:
        total_steps: number of updates in training.
        pct_start: fraction of the updates spent increasing the learning rate.
        three_phase: PyTorch's three-phase variant.

    Returns:
        A tuple of Python floats.
    """
    first = float(pct_start * total_steps) - 1
    if three_phase:
        return (first, float(2 * pct_start * total_steps) - 2, float(total_steps - 1))
    return (first, float(total_steps - 1))


def one_cycle(
    step,
    max_lr,
    total_steps,
    pct_start=0.3,
    anneal_strategy="cos",
    div_factor=25.0,
    final_div_factor=1e4,
    three_phase=False,
    xp=np,
):
    """The one-cycle learning rate of PyTorch's ``OneCycleLR`` for update ``step``.

    From ``initial_lr = max_lr / div_factor`` up to ``max_lr`` over the first
    ``pct_start`` of training, then down to ``min_lr = initial_lr /
    final_div_factor`` (``three_phase``: back down to ``initial_lr`` over the
    same number of steps first, then to ``min_lr``). Steps outside
    ``[0, total_steps - 1]`` are clamped to it.

    Example:
        >>> float(one_cycle(0, 1.0, 100)), float(one_cycle(99, 1.0, 100))
        (0.04, 4e-06)

    Args:
        step: the update(s), float.
        max_lr: the peak learning rate.
        total_steps: number of updates in training.
        pct_start: fraction of the updates spent increasing the rate.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        div_factor: ``initial_lr = max_lr / div_factor``.
        final_div_factor: ``min_lr = initial_lr / final_div_factor``.
        three_phase: PyTorch's three-phase variant.
        xp: array namespace (NumPy or ``keras.ops``).

    Returns:
        The learning rate(s).
    """
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    values = (
        (initial_lr, max_lr, initial_lr, min_lr)
        if three_phase
        else (initial_lr, max_lr, min_lr)
    )
    step = xp.clip(step, 0.0, float(total_steps - 1))
    return piecewise_anneal(
        anneal_strategy,
        step,
        one_cycle_phase_ends(total_steps, pct_start, three_phase),
        values,
        xp=xp,
    )


def one_cycle_momentum(
    step,
    total_steps,
    pct_start=0.3,
    anneal_strategy="cos",
    three_phase=False,
    base_momentum=0.85,
    max_momentum=0.95,
    xp=np,
):
    """The one-cycle momentum (or Adam's ``beta_1``) of PyTorch's ``OneCycleLR`` for update ``step``.

    The mirror image of :func:`one_cycle`: from ``max_momentum`` down to
    ``base_momentum`` while the learning rate rises, then back up
    (``three_phase``: back up, then flat at ``max_momentum``).

    Example:
        >>> float(one_cycle_momentum(0, 100)), float(one_cycle_momentum(99, 100))
        (0.95, 0.95)

    Args:
        step: the update(s), float.
        total_steps: number of updates in training.
        pct_start: fraction of the updates spent increasing the learning rate.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        three_phase: PyTorch's three-phase variant.
        base_momentum: the lowest momentum, at the learning-rate peak.
        max_momentum: the momentum at the start and at the end.
        xp: array namespace (NumPy or ``keras.ops``).

    Returns:
        The momentum value(s).
    """
    if three_phase:
        values = (max_momentum, base_momentum, max_momentum, max_momentum)
    else:
        values = (max_momentum, base_momentum, max_momentum)
    step = xp.clip(step, 0.0, float(total_steps - 1))
    return piecewise_anneal(
        anneal_strategy,
        step,
        one_cycle_phase_ends(total_steps, pct_start, three_phase),
        values,
        xp=xp,
    )
