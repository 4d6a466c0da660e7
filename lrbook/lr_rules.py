"""The LR range test's arithmetic: the sweep, the smoothing, the rules, the result.

Everything about the range test that is a pure function of ``(lrs, losses)``,
in NumPy only (matplotlib for :meth:`LRFinderResult.plot`), with no
TensorFlow or Keras import: the learning rates of the sweep
(:func:`sweep_lrs`), the bias-corrected moving average (:func:`smooth_losses`),
the stop rule, the suggestion rules and :class:`LRFinderResult`, which holds a
test's curve and applies them. :mod:`lrbook.lr_finder` runs the test on a Keras
model and re-exports every public name here, so ``lrbook.lr_finder.valley`` and
``lrbook.lr_rules.valley`` are the same function. Use this module alone to read
curves recorded elsewhere (another framework, a saved run).

The suggestion rules :func:`valley`, :func:`slide`, :func:`minimum` and
:func:`steep` follow fastai's definitions (``fastai/callback/schedule.py``),
:func:`gradient` follows PyTorch Lightning's ``_LRFinder.suggestion``. Each
docstring states its exact rule.

Used in: the LR-finder chapter (through :mod:`lrbook.lr_finder`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lrbook._validation import (
    check,
    fail,
    fraction,
    integer,
    one_of,
    positive_real,
    shown,
)

__all__ = [
    "LOSS_SOURCES",
    "MODES",
    "ONE_CYCLE_PEAK_RULE",
    "SUGGESTION_METHODS",
    "LRFinderResult",
    "gradient",
    "minimum",
    "one_cycle_peak",
    "slide",
    "smooth_losses",
    "steep",
    "sweep_lrs",
    "valley",
]

#: How the learning rate grows from ``start_lr`` to ``end_lr``.
MODES = ("exponential", "linear")
#: The loss recorded for a step, either the loss of that batch (right) or
#: Keras's running mean of the epoch (the trap, for demonstrations).
LOSS_SOURCES = ("batch", "running_mean")
#: The rules :meth:`LRFinderResult.suggestion` knows, in the order plotted.
SUGGESTION_METHODS = ("valley", "slide", "minimum", "steep", "gradient")
#: The rule :func:`one_cycle_peak` applies by default: the book's one recipe
#: for one-cycle's peak, chosen in the LR-finder chapter.
ONE_CYCLE_PEAK_RULE = "minimum"


# --------------------------------------------------------------------------
# Argument checks (shared by the function and the callback)
# --------------------------------------------------------------------------


def _check_sweep_args(
    start_lr, end_lr, num_steps, mode, smoothing, stop_factor, loss_source
):
    for name, value in (("start_lr", start_lr), ("end_lr", end_lr)):
        positive_real(name, value)
    check("start_lr", start_lr, start_lr < end_lr, "< `end_lr`", end_lr=end_lr)
    integer("num_steps", num_steps, low=2)
    one_of("mode", mode, MODES)
    fraction("smoothing", smoothing)
    if stop_factor is not None and (
        isinstance(stop_factor, bool)
        or not isinstance(stop_factor, (int, float, np.floating, np.integer))
        or not stop_factor > 1
    ):
        fail(
            "stop_factor",
            stop_factor,
            "> 1, or None to stop only on a non-finite loss",
        )
    one_of("loss_source", loss_source, LOSS_SOURCES)


# --------------------------------------------------------------------------
# Pure maths: the LR sweep and the smoothed loss
# --------------------------------------------------------------------------


def sweep_lrs(
    start_lr: float, end_lr: float, num_steps: int, mode: str = "exponential"
) -> np.ndarray:
    """The learning rate of every step of the range test.

    Step ``i`` of ``n = num_steps`` (``i = 0 .. n-1``) uses::

        def lr(i):
            t = i / (n - 1)
            if mode == "exponential":
                return start_lr * (end_lr / start_lr) ** t
            return start_lr + (end_lr - start_lr) * t

    so the first step uses ``start_lr`` and the last ``end_lr``.

    Example:
        >>> sweep_lrs(1e-3, 1e-1, 3).tolist()
        [0.001, 0.01, 0.1]
    """
    _check_sweep_args(start_lr, end_lr, num_steps, mode, 0.0, None, "batch")
    t = np.arange(num_steps, dtype=float) / (num_steps - 1)
    if mode == "exponential":
        return start_lr * (end_lr / start_lr) ** t
    return start_lr + (end_lr - start_lr) * t


def smooth_losses(losses, smoothing: float = 0.98) -> np.ndarray:
    """Bias-corrected exponential moving average of ``losses`` (fastai's and Lightning's)::

        avg = 0
        for i, loss in enumerate(losses):
            avg = beta * avg + (1 - beta) * loss
            smoothed[i] = avg / (1 - beta ** (i + 1))

    with ``beta = smoothing``. ``smoothing=0`` returns the losses unchanged.

    Example:
        >>> smooth_losses([1.0, 3.0], smoothing=0.5).tolist()  # (0.25 + 1.5) / 0.75
        [1.0, 2.3333333333333335]
    """
    fraction("smoothing", smoothing)
    out, avg = [], 0.0
    for i, loss in enumerate(np.asarray(losses, dtype=float)):
        avg = smoothing * avg + (1.0 - smoothing) * loss
        out.append(avg / (1.0 - smoothing ** (i + 1)))
    return np.asarray(out, dtype=float)


class _Recorder:
    """Records (lr, loss) pairs, smooths the loss and decides when the test diverged."""

    def __init__(self, smoothing: float, stop_factor: float | None):
        self.smoothing, self.stop_factor = float(smoothing), stop_factor
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.avg = 0.0  # the moving average before bias correction
        self.best = math.inf
        self.diverged = False

    def add(self, lr: float, loss: float) -> bool:
        """Record one step; return True when the test should stop (the loss diverged)."""
        beta = self.smoothing
        i = len(self.losses)
        self.avg = beta * self.avg + (1.0 - beta) * loss
        smoothed = self.avg / (1.0 - beta ** (i + 1))
        self.lrs.append(float(lr))
        self.losses.append(float(loss))
        self.smoothed.append(float(smoothed))
        if not (math.isfinite(loss) and math.isfinite(smoothed)):
            self.diverged = True
        else:
            self.best = min(self.best, smoothed)
            if self.stop_factor is not None and smoothed > self.stop_factor * self.best:
                self.diverged = True
        return self.diverged

    def result(self, num_steps: int, mode: str, loss_source: str) -> LRFinderResult:
        return LRFinderResult(
            lrs=np.asarray(self.lrs, dtype=float),
            losses=np.asarray(self.losses, dtype=float),
            smoothed_losses=np.asarray(self.smoothed, dtype=float),
            stopped_early=self.diverged,
            num_steps=int(num_steps),
            mode=mode,
            smoothing=self.smoothing,
            loss_source=loss_source,
        )


# --------------------------------------------------------------------------
# Suggestion rules: pure functions of (lrs, losses)
# --------------------------------------------------------------------------


def _as_curve(lrs, losses, min_points: int = 2):
    lrs = np.asarray(lrs, dtype=float).ravel()
    losses = np.asarray(losses, dtype=float).ravel()
    if lrs.shape != losses.shape:
        fail(
            "lrs",
            shown(f"<{lrs.size} values>"),
            "as long as `losses`",
            losses=shown(f"<{losses.size} values>"),
        )
    if lrs.size < min_points:
        fail(
            "lrs",
            lrs.tolist(),
            f"a curve of at least {min_points} points for a suggestion (run more "
            "steps, or skip fewer points at the ends)",
        )
    if not np.all(np.isfinite(lrs)) or np.any(lrs <= 0):
        fail("lrs", lrs.tolist(), "finite values > 0")
    check("losses", losses.tolist(), bool(np.all(np.isfinite(losses))), "finite values")
    return lrs, losses


def valley(lrs, losses) -> float:
    """fastai's ``valley``: the middle of the longest descent.

    Rule: let ``L[i]`` be the length of the longest strictly decreasing
    subsequence of ``losses`` that ends at index ``i``
    (``L[i] = 1 + max(L[j] for j < i if losses[j] > losses[i])``, or 1). Let
    ``end`` be the first index with the largest ``L`` and ``start = end - L[end]``
    (fastai's arithmetic, which treats the subsequence as one contiguous span).
    With ``d = end - start``, the suggestion is
    ``lrs[start + floor(d / 3) + floor(d / 6)]`` (about half-way down the valley).
    One deliberate difference: when no descent longer than 2 points starts at
    the first index, that index is -1 and fastai's ``lrs[-1]`` wraps round to
    the *largest* LR; here it is clamped to the first LR.

    Example:
        >>> valley([1, 2, 3, 4], [3.0, 2.0, 1.0, 5.0])  # L = 1,2,3,1; end=2, start=-1, d=3 -> index 0
        1.0
    """
    lrs, losses = _as_curve(lrs, losses, min_points=1)
    n = losses.size
    length = np.ones(n, dtype=int)
    for i in range(1, n):
        higher = losses[:i] > losses[i]
        if higher.any():
            length[i] = 1 + length[:i][higher].max()
    end = int(np.argmax(length))  # first index of the maximum
    start = end - int(length[end])
    d = end - start
    idx = max(0, start + int(d / 3) + int(d / 3 / 2))
    return float(lrs[idx])


def slide(
    lrs, losses, *, lr_diff: int = 15, thresh: float = 0.005, adjust_value: float = 1.0
) -> float:
    """fastai's ``slide``: slide a window left from the end until the slope flattens.

    Rule: ``g = np.gradient(losses)`` (per index, not per LR). A window spans
    indices ``(l, r) = (r - lr_diff, r)``, starting at ``r = n - 1`` and moving
    one index left per step while ``l >= 0`` and ``|g[r] - g[l]| > thresh``.
    The suggestion is ``adjust_value`` times the LR at the left end of the last
    window that still satisfied the condition (the first window's left end,
    ``lrs[n - 1 - lr_diff]``, if none did). ``thresh`` is in loss units per step,
    so the rule depends on the scale of the loss.

    Raises:
        ValueError: with ``lr_diff + 1`` points or fewer.

    Example:
        >>> # g = -1, -1, -1, -0.5, 0, 0; windows (3, 5), (2, 4), (1, 3) differ by more
        >>> # than 0.1, (0, 2) does not: the last one that did starts at index 1
        >>> slide([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [5.0, 4.0, 3.0, 2.0, 2.0, 2.0], lr_diff=2, thresh=0.1)
        2.0
    """
    check("lr_diff", lr_diff, int(lr_diff) >= 1, "an integer >= 1")
    lrs, losses = _as_curve(lrs, losses, min_points=int(lr_diff) + 2)
    g = np.gradient(losses)
    n = losses.size
    r = n - 1
    left = r - lr_diff
    chosen = left
    while left >= 0 and abs(g[r] - g[left]) > thresh:
        chosen = left
        r -= 1
        left -= 1
    return float(lrs[chosen]) * adjust_value


def minimum(lrs, losses) -> float:
    """fastai's ``minimum``: one tenth of the LR at the lowest loss.

    Rule: ``lrs[argmin(losses)] / 10`` (first minimum on ties).

    Example:
        >>> minimum([0.01, 0.1, 1.0], [2.0, 1.0, 3.0])
        0.01
    """
    lrs, losses = _as_curve(lrs, losses, min_points=1)
    return float(lrs[int(np.argmin(losses))]) / 10.0


def steep(lrs, losses) -> float:
    """fastai's ``steep``: where the loss falls fastest per decade of LR.

    Rule: the slopes of the segments between consecutive points in log LR,
    ``s[i] = (losses[i+1] - losses[i]) / (ln lrs[i+1] - ln lrs[i])``; the
    suggestion is ``lrs[argmin(s)]``, the left end of the steepest descending
    segment (first on ties).

    Example:
        >>> steep([1.0, 10.0, 100.0], [3.0, 2.5, 0.5])  # the segment 10 -> 100 drops most
        10.0
    """
    lrs, losses = _as_curve(lrs, losses)
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[int(np.argmin(slopes))])


def gradient(lrs, losses, *, wrt: str = "lr") -> float:
    """PyTorch Lightning's rule: the steepest negative slope of the loss.

    Rule (``wrt="lr"``, current Lightning, which calls
    ``torch.gradient(losses, spacing=[lrs])``): ``g = np.gradient(losses, lrs)``,
    the slope with respect to the LR itself (second-order central differences
    on the uneven LR grid, one-sided at the ends); suggestion ``lrs[argmin(g)]``.
    On an exponential sweep this favours small LRs, where a step in LR is tiny,
    so noise there has a huge slope.

    ``wrt="index"``: ``g = np.gradient(losses)`` per step, as older Lightning
    releases and torch-lr-finder compute it; on an exponential sweep that is
    the slope against log LR (like :func:`steep`, with central differences).

    Example:
        >>> gradient([1.0, 2.0, 3.0], [5.0, 4.0, 1.0])  # g = -1, -2, -3
        3.0
    """
    check("wrt", wrt, wrt in ("lr", "index"), "'lr' or 'index'")
    lrs, losses = _as_curve(lrs, losses)
    g = np.gradient(losses, lrs) if wrt == "lr" else np.gradient(losses)
    return float(lrs[int(np.argmin(g))])


_RULES = {
    "valley": valley,
    "slide": slide,
    "minimum": minimum,
    "steep": steep,
    "gradient": gradient,
}


def _default_skips(method: str, num_steps: int) -> tuple[int, int]:
    """Points dropped at the start and end before a rule runs, as each library does."""
    if method == "gradient":
        return 10, 1  # Lightning: suggestion(skip_begin=10, skip_end=1)
    return num_steps // 10, 5  # fastai lr_find: recorder.losses[num_it // 10 : -5]


# --------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------


@dataclass(eq=False, repr=False)
class LRFinderResult:
    """What a range test recorded, with the suggestion rules and a plot.

    Attributes:
        lrs: the learning rate used at each step (as the optimizer holds it).
        losses: the loss of each step: the batch's own loss, or Keras's running
            mean with ``loss_source="running_mean"``.
        smoothed_losses: their bias-corrected exponential moving average
            (:func:`smooth_losses`), on which the test stops and the rules run.
        stopped_early: True when the test stopped because the smoothed loss
            passed ``stop_factor`` times its best or became non-finite (the last
            recorded step is the one that triggered it).
        num_steps: the planned number of steps.
        mode, smoothing, loss_source: the settings of the test.

    Example:
        A curve recorded elsewhere (:func:`lrbook.lr_finder.lr_range_test`
        returns this object; here a made-up loss that falls between 1e-4
        and 1e-2, then blows up past 0.1):

        >>> lrs = sweep_lrs(1e-5, 1.0, 50)
        >>> losses = 2.3 - 0.5 * np.tanh(np.log10(lrs) + 2.5) + 20 * np.maximum(lrs - 0.1, 0)
        >>> result = LRFinderResult(
        ...     lrs, losses, smooth_losses(losses, 0.9), stopped_early=False, num_steps=50, smoothing=0.9
        ... )
        >>> result
        LRFinderResult(50 of 50 steps, lr 1e-05..1, mode='exponential', stopped_early=False, loss_source='batch')
        >>> {rule: f"{lr:.1e}" for rule, lr in result.suggestions().items()}
        {'valley': '1.1e-03', 'slide': '2.8e-03', 'minimum': '9.5e-03', 'steep': '9.1e-03', 'gradient': '1.0e-04'}
        >>> ax = result.plot()
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    stopped_early: bool
    num_steps: int
    mode: str = "exponential"
    smoothing: float = 0.98
    loss_source: str = "batch"

    def __repr__(self) -> str:
        span = (
            f"lr {self.lrs[0]:.3g}..{self.lrs[-1]:.3g}" if len(self.lrs) else "no steps"
        )
        return (
            f"LRFinderResult({len(self.lrs)} of {self.num_steps} steps, {span}, mode={self.mode!r}, "
            f"stopped_early={self.stopped_early}, loss_source={self.loss_source!r})"
        )

    def curve(
        self,
        method: str = "valley",
        *,
        skip_begin: int | None = None,
        skip_end: int | None = None,
    ):
        """The ``(lrs, smoothed_losses)`` a rule sees: the ends skipped, cut at the first non-finite loss."""
        check("method", method, method in _RULES, f"one of {SUGGESTION_METHODS}")
        default_begin, default_end = _default_skips(method, self.num_steps)
        begin = default_begin if skip_begin is None else int(skip_begin)
        end = default_end if skip_end is None else int(skip_end)
        check("skip_begin", skip_begin, begin >= 0, "None or >= 0")
        check("skip_end", skip_end, end >= 0, "None or >= 0")
        n = len(self.lrs)
        lrs = np.asarray(self.lrs, dtype=float)[begin : max(begin, n - end)]
        losses = np.asarray(self.smoothed_losses, dtype=float)[
            begin : max(begin, n - end)
        ]
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size:
            lrs, losses = lrs[: bad[0]], losses[: bad[0]]
        return lrs, losses

    def suggestion(
        self,
        method: str = "valley",
        *,
        skip_begin: int | None = None,
        skip_end: int | None = None,
        **kwargs,
    ) -> float:
        """A learning rate suggested by one rule, applied to the smoothed losses.

        As fastai and Lightning do, the rule sees the *smoothed* curve with
        the ends dropped: fastai's rules (``"valley"``, ``"slide"``,
        ``"minimum"``, ``"steep"``) skip the first ``num_steps // 10`` and the
        last 5 recorded points; ``"gradient"`` skips the first 10 and the last
        one. The curve is cut at its first non-finite loss.

        Args:
            method: one of :data:`SUGGESTION_METHODS`; see :func:`valley`,
                :func:`slide`, :func:`minimum`, :func:`steep`, :func:`gradient`.
            skip_begin, skip_end: override the points skipped at either end.
            **kwargs: passed to the rule (``slide``'s ``lr_diff``, ``thresh``,
                ``adjust_value``; ``gradient``'s ``wrt``).

        Raises:
            ValueError: unknown method, or too few points left for the rule.
        """
        lrs, losses = self.curve(method, skip_begin=skip_begin, skip_end=skip_end)
        return _RULES[method](lrs, losses, **kwargs)

    def suggestions(self) -> dict[str, float]:
        """Every rule's suggestion, ``{method: lr}``; ``nan`` where a rule has too few points."""
        out = {}
        for method in SUGGESTION_METHODS:
            try:
                out[method] = self.suggestion(method)
            except ValueError:
                out[method] = float("nan")
        return out

    def plot(self, ax=None):
        """Loss against learning rate (log x): raw and smoothed, every suggestion marked.

        Returns:
            The matplotlib ``Axes``.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4.0))
        lrs = np.asarray(self.lrs, dtype=float)
        raw = np.asarray(self.losses, dtype=float)
        smooth = np.asarray(self.smoothed_losses, dtype=float)
        what = (
            "batch loss" if self.loss_source == "batch" else "running mean (Keras logs)"
        )
        ax.plot(lrs, raw, color="0.6", lw=0.8, alpha=0.8, label=what)
        ax.plot(lrs, smooth, color="C0", lw=2, label=f"smoothed (β={self.smoothing:g})")
        ok = np.isfinite(smooth)
        markers = {
            "valley": "o",
            "slide": "s",
            "minimum": "v",
            "steep": "^",
            "gradient": "D",
        }
        for k, (method, lr) in enumerate(self.suggestions().items()):
            if not math.isfinite(lr) or not ok.any():
                continue
            y = float(np.interp(np.log(lr), np.log(lrs[ok]), smooth[ok]))
            ax.plot(
                [lr],
                [y],
                linestyle="none",
                marker=markers[method],
                markersize=8,
                color=f"C{k + 1}",
                label=f"{method}: {lr:.2g}",
            )
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        # Fit the y range to the smoothed curve without the divergence at its
        # end (as fastai drops the last 5 points), so the blow-up does not
        # squash the part that matters; raw spikes may be clipped.
        cut = (
            len(smooth) - 5 if self.stopped_early and len(smooth) > 10 else len(smooth)
        )
        shown = smooth[:cut][np.isfinite(smooth[:cut])]
        if shown.size:
            raw_shown = raw[:cut][np.isfinite(raw[:cut])]
            low = min(shown.min(), raw_shown.min()) if raw_shown.size else shown.min()
            high = shown.max()
            pad = 0.05 * (high - low) or 0.05 * abs(high) or 0.05
            ax.set_ylim(low - pad, high + 2 * pad)
        ax.legend(fontsize="small", loc="best")
        return ax


def one_cycle_peak(
    results, *, rule: str = ONE_CYCLE_PEAK_RULE, factor: float = 1.0
) -> float:
    """One-cycle's peak learning rate from range tests: the book's one recipe.

    Rule: ``factor`` times the geometric mean, over the range tests in
    ``results``, of each test's ``rule`` suggestion ``s_i``,
    ``peak = factor * exp(mean(ln s_i))``, skipping tests whose suggestion is not finite and positive (a test too
    short for the rule). The default, ``rule="minimum"`` and ``factor=1``, is
    the learning rate at the lowest smoothed loss divided by 10: the "edge"
    of the sweep over ten. The LR-finder chapter tuned one-cycle's peak over
    the edge itself, the edge / 3 and the edge / 10 on validation: the edge
    diverged, and the edge / 3 and the edge / 10 were within seed noise of each
    other, but only the edge / 10 trained every arm (constant, cyclical,
    one-cycle) on every seed, so the recipe takes it for its margin below the
    edge. Every later chapter uses it unless it says why not. Several tests (one per seed) give
    one peak for all of them, so that every seed's arms share it.

    Args:
        results: one :class:`LRFinderResult`, or a sequence of them.
        rule: one of :data:`SUGGESTION_METHODS`.
        factor: a multiplier > 0 applied to the geometric mean.

    Returns:
        The peak learning rate, a float.

    Raises:
        ValueError: an unknown ``rule``, a ``factor`` that is not > 0, empty
            ``results``, or no test with a finite positive suggestion.

    Example:
        >>> lrs = np.logspace(-4, 1, 60)
        >>> losses = 2.0 - np.log10(lrs) / 10 + (lrs > 0.5) * 5.0   # lowest at the last lr <= 0.5
        >>> r = LRFinderResult(lrs, losses, losses, stopped_early=False, num_steps=60)
        >>> round(one_cycle_peak(r), 4), round(one_cycle_peak([r, r], factor=2), 4)
        (0.0441, 0.0881)
    """
    one_of("rule", rule, SUGGESTION_METHODS)
    factor = positive_real("factor", factor)
    tests = [results] if isinstance(results, LRFinderResult) else list(results)
    check(
        "results",
        results,
        bool(tests),
        "an LRFinderResult or a non-empty sequence of them",
    )
    values = []
    for test in tests:
        try:
            value = test.suggestion(rule)
        except ValueError:
            continue
        if value > 0 and math.isfinite(value):
            values.append(value)
    if not values:
        fail(
            "results",
            shown(f"<{len(tests)} range tests, none finite>"),
            f"range tests of which one at least has a finite {rule!r} suggestion",
        )
    return float(factor * np.exp(np.mean(np.log(values))))
