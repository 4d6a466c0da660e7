"""Super-convergence experiments: one-cycle against tuned baselines, at equal budgets.

Smith & Topin (2017) report that one-cycle training with a large peak learning
rate reaches a given accuracy in a fraction of the iterations a piecewise-
constant schedule needs ("super-convergence"). Testing that claim fairly takes
three things this module provides:

* **arms** (:func:`constant_arm`, :func:`step_decay_arm`, :func:`adam_arm`,
  :func:`article_arm`, :func:`one_cycle_arm`) built the same way, each a
  :class:`lrbook.training.Arm`;
* **budgets**: a schedule that depends on the length of training (one-cycle,
  step decay) is trained once per epoch budget, a schedule that does not
  (constant, Adam, the article's per-epoch ramp) once for the longest budget
  and read at each budget's epoch (:class:`Family`, :func:`run_comparison`);
* **the summary** (:func:`summarize_comparison`): epochs (and seconds) to a
  target accuracy per seed, where the target follows a rule fixed before the
  runs (:func:`target_accuracy`); accuracy at every budget with mean, std, n;
  the paired difference of the method and every baseline at every budget
  (same seed, same initial weights), with its interval and Holm-adjusted
  p-value over that family of comparisons; the ratio of median epochs to
  target (:func:`ratio_epochs_to_target`).

Epochs to target are read the same way for every family: the smallest budget
whose run *ends* at or above the target. A budget-dependent family has one run
per budget; a family that does not depend on the budget is read at each
budget's epoch of its single run, which is exactly what a run of that length
gives. An epoch inside a longer one-cycle run does not count (a run of that
length would not reproduce it), nor does the best of several runs: every family
gets one reading per budget, so none gets a best-of-k advantage. The price is
resolution: epochs to target can only be a budget.

Used in: the super-convergence chapter and ``benchmarks/superconvergence.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from lrbook._validation import (
    fail as _fail,
)
from lrbook._validation import (
    positive_int as _positive_int,
)
from lrbook._validation import (
    positive_real as _positive_real,
)
from lrbook.env import import_keras
from lrbook.lr_rules import ONE_CYCLE_PEAK_RULE, SUGGESTION_METHODS, one_cycle_peak
from lrbook.stats import adjust_pvalues, paired_comparison, summarize, verdict

if TYPE_CHECKING:
    import pandas as pd

    from lrbook.training import Arm

import_keras()
import keras

__all__ = [
    "ComparisonSummary",
    "Family",
    "LRSweep",
    "RangeTestPeak",
    "adam_arm",
    "article_arm",
    "constant_arm",
    "median_epochs",
    "one_cycle_arm",
    "range_test_max_lr",
    "ratio_epochs_to_target",
    "run_comparison",
    "set_batch_norm_momentum",
    "step_decay",
    "step_decay_arm",
    "steps_per_epoch",
    "summarize_comparison",
    "target_accuracy",
    "tune_lr",
]


# ----------------------------------------------------------------------------- pure functions


def set_batch_norm_momentum(model, momentum: float):
    """Set the moving-average momentum of every ``BatchNormalization`` layer of ``model``; returns the model.

    Keras's default, 0.99, averages the batch statistics the model uses at
    test time over roughly the last 100 updates; in a short run (a few epochs
    of 50 updates) while the weights still move fast, those statistics lag
    behind the weights and test accuracy reads far below what the weights can
    do. PyTorch's default (its ``momentum=0.1``) is Keras's ``0.9``. Call it
    before compiling (the value is read when the train step is traced).

    Raises:
        ValueError: if ``momentum`` is not in [0, 1).

    Example:
        >>> from lrbook import models
        >>> model = set_batch_norm_momentum(models.cnn1d(norm="batch"), 0.9)
        >>> {layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
        {0.9}
    """
    if (
        isinstance(momentum, bool)
        or not isinstance(momentum, (int, float, np.number))
        or not 0.0 <= momentum < 1.0
    ):
        _fail("momentum", momentum, "in [0, 1)")
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
    return model


def steps_per_epoch(n_samples: int, batch_size: int) -> int:
    """Optimizer updates in one epoch: ``ceil(n_samples / batch_size)`` (Keras keeps the last, smaller batch).

    Example:
        >>> steps_per_epoch(3200, 64), steps_per_epoch(3201, 64)
        (50, 51)
    """
    return math.ceil(
        _positive_int("n_samples", n_samples) / _positive_int("batch_size", batch_size)
    )


def step_decay(
    epoch: int, *, base_lr: float, epochs: int, drops=(0.5, 0.75), factor: float = 0.1
) -> float:
    """Piecewise-constant decay: ``base_lr`` times ``factor`` once for every drop already passed.

    A drop at fraction ``d`` of a budget of ``epochs`` takes effect from epoch
    ``round(d * epochs)`` (0-based), the schedule of He et al.'s ResNets (x0.1
    at 50% and 75% of training) that Smith & Topin compare one-cycle with::

        def step_decay(epoch, base_lr, epochs, drops, factor):
            return base_lr * factor ** sum(epoch >= round(d * epochs) for d in drops)

    Every argument after ``epoch`` is keyword-only, and ``base_lr`` is the rate
    before any drop, not the current one: a ``keras.callbacks.LearningRateScheduler``
    calls its function as ``f(epoch, lr)`` with the optimizer's *current* rate,
    which would compound the decay. Passed to that callback as is, this
    function raises ``TypeError``; :func:`step_decay_arm` wraps it correctly
    (``lambda epoch, _lr: step_decay(epoch, base_lr=..., epochs=...)``).

    Raises:
        ValueError: if ``base_lr`` or ``factor`` is not > 0, ``epochs`` is not an
            integer >= 1 or a drop is outside (0, 1).

    Example:
        >>> [step_decay(e, base_lr=0.1, epochs=8) for e in range(8)]  # doctest: +NORMALIZE_WHITESPACE
        [0.1, 0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002,
         0.0010000000000000002, 0.0010000000000000002]
    """
    base_lr = _positive_real("base_lr", base_lr)
    epochs = _positive_int("epochs", epochs)
    factor = _positive_real("factor", factor)
    for d in drops:
        if not 0.0 < d < 1.0:
            _fail("drops", tuple(drops), "fractions of the budget in (0, 1)")
    return base_lr * factor ** sum(int(epoch >= round(d * epochs)) for d in drops)


def target_accuracy(reference_accuracies, fraction: float) -> float:
    """The target accuracy: ``fraction`` times the mean of ``reference_accuracies``.

    The book's rule, fixed before any run: the target is a fraction of the
    final accuracy of the tuned baseline, so "epochs to target" asks how soon
    each arm gets close to what a careful practitioner's run ends with.

    Raises:
        ValueError: if ``fraction`` is not in (0, 1] or there is no finite reference value.

    Example:
        >>> round(target_accuracy([0.90, 0.92], 0.98), 4)
        0.8918
    """
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, (int, float, np.number))
        or not 0.0 < fraction <= 1.0
    ):
        _fail("fraction", fraction, "in (0, 1]")
    values = np.asarray(reference_accuracies, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        _fail(
            "reference_accuracies",
            list(np.asarray(reference_accuracies).ravel()),
            "at least one finite value",
        )
    return float(fraction * values.mean())


def median_epochs(epochs) -> float:
    """Median of epochs to target over seeds; a run that never got there (NaN) counts as infinitely many.

    So the median is finite only if at least half the seeds reached the target.

    Example:
        >>> median_epochs([3, 4, float("nan")]), median_epochs([3, float("nan"), float("nan")])
        (4.0, inf)
    """
    values = np.asarray(epochs, dtype=float).ravel()
    if values.size == 0:
        _fail("epochs", list(values), "at least one value")
    values = np.where(np.isnan(values), np.inf, values)
    values = np.sort(values)
    n = values.size
    if n % 2:
        return float(values[n // 2])
    lo, hi = values[n // 2 - 1], values[n // 2]
    return float(hi) if math.isinf(hi) else float((lo + hi) / 2)


def ratio_epochs_to_target(baseline_epochs, method_epochs) -> float:
    """Median epochs to target of the baseline divided by the method's (> 1: the method is faster).

    ``inf`` when only the method reached the target (median), ``0`` when only
    the baseline did, ``nan`` when neither did.

    Example:
        >>> ratio_epochs_to_target([8, 9, 10], [2, 3, 3])
        3.0
        >>> ratio_epochs_to_target([float("nan")] * 3, [2, 3, 3])
        inf
    """
    b, m = median_epochs(baseline_epochs), median_epochs(method_epochs)
    if math.isinf(b) and math.isinf(m):
        return float("nan")
    if math.isinf(b):
        return float("inf")
    if math.isinf(m):
        return 0.0
    return b / m


# ----------------------------------------------------------------------------- arms


def _sgd_kwargs(weight_decay):
    return {} if not weight_decay else {"weight_decay": float(weight_decay)}


def constant_arm(
    learning_rate: float,
    *,
    momentum: float = 0.9,
    weight_decay: float | None = None,
    batch_size: int | None = None,
) -> Arm:
    """SGD with momentum at a constant learning rate (the baseline a sweep tunes).

    ``learning_rate`` is the optimizer's (Keras's name for it);
    ``weight_decay`` is Keras's optimizer weight decay (``w -= lr * wd * w``
    every step).

    Example:
        >>> arm = constant_arm(0.05)
        >>> round(float(arm.optimizer().learning_rate), 3)
        0.05
    """
    from lrbook.training import Arm

    lr = _positive_real("learning_rate", learning_rate)
    return Arm(
        lambda: keras.optimizers.SGD(
            lr, momentum=momentum, **_sgd_kwargs(weight_decay)
        ),
        batch_size=batch_size,
    )


def step_decay_arm(
    learning_rate: float,
    epochs: int,
    *,
    drops=(0.5, 0.75),
    factor: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float | None = None,
    batch_size: int | None = None,
) -> Arm:
    """SGD with momentum and :func:`step_decay` for a budget of ``epochs`` (per epoch,
    through ``keras.callbacks.LearningRateScheduler``).

    Example:
        >>> arm = step_decay_arm(0.1, epochs=8)
        >>> arm.epochs, type(arm.callbacks()[0]).__name__
        (8, 'LearningRateScheduler')
    """
    from lrbook.training import Arm

    lr = _positive_real("learning_rate", learning_rate)
    step_decay(0, base_lr=lr, epochs=epochs, drops=drops, factor=factor)  # validates
    drops = tuple(drops)
    return Arm(
        lambda: keras.optimizers.SGD(
            lr, momentum=momentum, **_sgd_kwargs(weight_decay)
        ),
        callbacks=lambda: [
            keras.callbacks.LearningRateScheduler(
                lambda e, _lr: step_decay(
                    e, base_lr=lr, epochs=epochs, drops=drops, factor=factor
                )
            )
        ],
        epochs=int(epochs),
        batch_size=batch_size,
    )


def adam_arm(learning_rate: float = 1e-3, *, batch_size: int | None = None) -> Arm:
    """Adam at a constant learning rate (Keras's default 1e-3: the article's plain "MobileNetV2" arm).

    Example:
        >>> round(float(adam_arm().optimizer().learning_rate), 6)   # a float32 variable
        0.001
    """
    from lrbook.training import Arm

    lr = _positive_real("learning_rate", learning_rate)
    return Arm(lambda: keras.optimizers.Adam(lr), batch_size=batch_size)


def article_arm(*, batch_size: int | None = None) -> Arm:
    """The article's "MobileNetV2_lr" arm: Adam with its ramp-up / exponential-decay ``lr_function``
    (:meth:`lrbook.schedules.RampUpExpDecay.article_defaults`) set every epoch by
    ``keras.callbacks.LearningRateScheduler``, exactly as the one-cycle article does.

    Example:
        >>> sched = article_arm().callbacks()[0].schedule
        >>> [round(sched(e, 0.0), 6) for e in (0, 6, 7)]
        [0.001, 0.002, 0.0015]
    """
    from lrbook.schedules import RampUpExpDecay
    from lrbook.training import Arm

    return Arm(
        lambda: keras.optimizers.Adam(1e-3),
        callbacks=lambda: [
            keras.callbacks.LearningRateScheduler(RampUpExpDecay.article_defaults())
        ],
        batch_size=batch_size,
    )


def one_cycle_arm(
    max_lr: float,
    epochs: int,
    steps_per_epoch: int,
    *,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
    weight_decay: float | None = None,
    batch_size: int | None = None,
    recorder=None,
) -> Arm:
    """One-cycle learning rate *and* momentum (Smith & Topin 2017) over a budget of ``epochs``.

    ``lrbook.optimizers.SGD(OneCycle(max_lr, epochs * steps_per_epoch, ...),
    momentum=schedule.momentum_schedule())``: the learning rate rises from
    ``max_lr / div_factor`` to ``max_lr`` over ``pct_start`` of the updates
    and anneals to ``max_lr / div_factor / final_div_factor``, while the
    momentum falls from ``max_momentum`` to ``base_momentum`` and comes back.

    Args:
        max_lr: the peak learning rate (from the LR range test, say).
        epochs: the budget; the cycle spans exactly ``epochs * steps_per_epoch``
            updates (``OneCycle``'s ``total_steps``).
        steps_per_epoch: updates per epoch (the function
            :func:`steps_per_epoch` computes it from the data and batch size).
        pct_start, div_factor, final_div_factor, base_momentum, max_momentum:
            as :class:`lrbook.schedules.OneCycle`.
        weight_decay: Keras's optimizer weight decay, or ``None``.
        batch_size: this arm's batch size (``steps_per_epoch`` must match it).
        recorder: a :class:`lrbook.callbacks.ScheduleRecorder` to attach (to
            plot the learning rate and momentum that ran), or ``None``. It is
            reset at the start of every run, so it holds the last run's trace.

    Example:
        >>> arm = one_cycle_arm(0.3, epochs=4, steps_per_epoch=50)
        >>> opt = arm.optimizer()
        >>> opt._learning_rate.total_steps, round(float(opt.momentum_schedule(60)), 2)
        (200, 0.85)
    """
    from lrbook.optimizers import SGD
    from lrbook.schedules import OneCycle
    from lrbook.training import Arm

    max_lr = _positive_real("max_lr", max_lr)
    epochs = _positive_int("epochs", epochs)
    total_steps = epochs * _positive_int("steps_per_epoch", steps_per_epoch)
    OneCycle(
        max_lr,
        total_steps,
        pct_start=pct_start,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        base_momentum=base_momentum,
        max_momentum=max_momentum,
    )  # validates

    def make():
        sched = OneCycle(
            max_lr,
            total_steps,
            pct_start=pct_start,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            base_momentum=base_momentum,
            max_momentum=max_momentum,
        )
        return SGD(
            sched, momentum=sched.momentum_schedule(), **_sgd_kwargs(weight_decay)
        )

    def callbacks():
        recorder.reset()  # one run's trace: the last run of this arm
        return [recorder]

    return Arm(
        make,
        callbacks=callbacks if recorder is not None else None,
        epochs=epochs,
        batch_size=batch_size,
    )


# ----------------------------------------------------------------------------- tuning


class LRSweep(NamedTuple):
    """What :func:`tune_lr` returns; unpacks as ``best_lr, table``.

    Example:
        >>> import pandas as pd
        >>> sweep = LRSweep(0.1, pd.DataFrame({"mean": [0.90, 0.93]}, index=[0.03, 0.1]))
        >>> best_lr, table = sweep
        >>> best_lr, len(table)
        (0.1, 2)
    """

    #: The rate with the best mean of the metric on the validation split.
    best_lr: float
    #: Indexed by rate (``lr``): ``mean``, ``std``, ``n`` and ``rank`` of the metric.
    table: pd.DataFrame


class RangeTestPeak(NamedTuple):
    """What :func:`range_test_max_lr` returns; unpacks as ``max_lr, results``.

    Example:
        >>> max_lr, results = RangeTestPeak(0.4, [])
        >>> max_lr
        0.4
    """

    #: ``factor`` times the geometric mean over seeds of the rule's suggestion.
    max_lr: float
    #: One :class:`lrbook.lr_rules.LRFinderResult` per seed.
    results: list


def tune_lr(
    build_model,
    make_arm: Callable,
    lrs,
    data,
    *,
    seeds,
    epochs: int,
    batch_size: int = 64,
    metric: str = "val_accuracy",
    progress: bool = False,
):
    """A learning-rate sweep on the validation split: :func:`lrbook.tuning.tune` over ``lrs``.

    Args:
        build_model: the model builder, ``build_model() -> keras.Model``.
        make_arm: ``make_arm(learning_rate) -> Arm`` (e.g. ``constant_arm`` or
            ``lambda lr: step_decay_arm(lr, epochs)``).
        lrs: the candidate rates.
        data: a :class:`lrbook.data.Dataset` with a validation split.
        seeds: the seeds of every point.
        epochs: the budget of every run.
        batch_size: the batch size.
        metric: the column that decides (never a ``test_*`` one).
        progress: show a progress bar.

    Returns:
        An :class:`LRSweep` ``(best_lr, table)``: the table is indexed by rate
        (``lr``) with ``mean``, ``std``, ``n`` and ``rank`` of ``metric``.

    Raises:
        ValueError: as :func:`lrbook.tuning.tune` (no rate, a test metric, no
            validation split).

    Example:
        >>> from lrbook import data, models
        >>> ds = data.load("mnist1d", n_train=160, validation_split=0.2)   # the chapter: 4000
        >>> best, table = tune_lr(lambda: models.cnn1d(filters=(8,)), constant_arm, [0.01, 0.1], ds,
        ...                       seeds=[0], epochs=1)   # the chapter: more seeds and epochs
        >>> best in (0.01, 0.1), table.index.name, list(table.columns)
        (True, 'lr', ['mean', 'std', 'n', 'rank'])
    """
    from lrbook.tuning import tune

    lrs = [float(lr) for lr in lrs]
    if not lrs:
        _fail("lrs", lrs, "at least one learning rate")
    result = tune(
        build_model,
        make_arm,
        lrs,
        data,
        seeds=seeds,
        epochs=epochs,
        batch_size=batch_size,
        metric=metric,
        progress=progress,
    )
    table = result.table[["mean", "std", "n", "rank"]].rename_axis("lr")
    return LRSweep(float(result.best), table)


def range_test_max_lr(
    build_model,
    data,
    *,
    seeds,
    rule: str = ONE_CYCLE_PEAK_RULE,
    factor: float = 1.0,
    batch_size: int = 64,
    momentum: float = 0.9,
    num_steps: int = 100,
):
    """One-cycle's peak from the LR range test: ``factor`` times the geometric mean over seeds of ``rule``.

    Runs one range test per seed and applies
    :func:`lrbook.lr_rules.one_cycle_peak`, the book's one recipe (by default
    the ``minimum`` suggestion: the learning rate at the lowest smoothed loss
    / 10).
    Each seed's test runs on the initial weights :func:`run_comparison` gives
    that seed (``training.initial_weights``), with SGD and ``momentum``.

    Returns:
        A :class:`RangeTestPeak` ``(max_lr, results)``, ``results`` the list of
        :class:`lrbook.lr_rules.LRFinderResult`, one per seed.

    Raises:
        ValueError: if ``factor`` is not > 0 or no seed gives a finite suggestion.

    Example:
        >>> from lrbook import data, models
        >>> ds = data.load("mnist1d", n_train=320)   # the chapter: 4000
        >>> max_lr, results = range_test_max_lr(lambda: models.cnn1d(filters=(8,)), ds, seeds=[0, 1],
        ...                                     num_steps=30)
        >>> len(results), bool(results[0].lrs[0] <= max_lr <= results[0].lrs[-1])
        (2, True)
    """
    from lrbook.lr_finder import lr_range_test
    from lrbook.models import compile_classifier
    from lrbook.training import initial_weights

    factor = _positive_real("factor", factor)
    if rule not in SUGGESTION_METHODS:
        _fail("rule", rule, f"one of {SUGGESTION_METHODS}")
    results = []
    for seed in seeds:
        keras.backend.clear_session()
        weights = initial_weights(build_model, seed)
        model = build_model()
        model.set_weights(weights)
        compile_classifier(model, keras.optimizers.SGD(0.01, momentum=momentum))
        result = lr_range_test(
            model,
            data.x_train,
            data.y_train,
            batch_size=batch_size,
            num_steps=num_steps,
            seed=seed,
        )
        results.append(result)
    try:
        peak = one_cycle_peak(results, rule=rule, factor=factor)
    except ValueError:
        _fail(
            "seeds",
            list(seeds),
            f"seeds whose range test gives a finite {rule!r} suggestion",
        )
    return RangeTestPeak(peak, results)


# ----------------------------------------------------------------------------- running


@dataclass
class Family:
    """A family of arms: one schedule, one model, possibly one run per budget.

    Args:
        make: ``make(epochs) -> Arm``, the arm for a budget of ``epochs``.
        per_budget: ``True`` when the schedule depends on the length of
            training (one-cycle, step decay): one run per budget. ``False``
            (constant LR, Adam, a per-epoch schedule): one run of the longest
            budget, read at each budget's epoch (the same numbers a shorter
            run would give, since nothing in it depends on the budget).
        model: the key of the model builder in :func:`run_comparison`'s
            ``builders``.

    Example:
        >>> fam = Family(lambda e: one_cycle_arm(0.3, e, steps_per_epoch=50), per_budget=True)
        >>> fam.make(5).epochs
        5
    """

    make: Callable
    per_budget: bool = False
    model: str = "default"


def run_comparison(
    builders: dict,
    families: dict,
    data,
    *,
    budgets,
    seeds,
    batch_size: int = 64,
    evaluate_test: bool = True,
    progress: bool = False,
):
    """Train every family at every budget it needs, over ``seeds``, from shared initial weights per model.

    One :func:`lrbook.training.run_experiment` per model (so every arm of a
    model and seed starts from the same weights and sees the same data order);
    the arms are named ``"<family>@<budget>"``.

    Args:
        builders: ``{model_key: zero-argument model builder}``.
        families: ``{name: Family}``, in the order to report.
        data: a :class:`lrbook.data.Dataset`.
        budgets: epoch budgets, e.g. ``[5, 10, 20]``.
        seeds: the seeds.
        batch_size: default batch size of the arms.
        evaluate_test: evaluate the test set after every epoch.
        progress: show a progress bar per model.

    Returns:
        The tidy table of ``run_experiment`` (all models), with extra columns
        ``family``, ``budget`` and ``model``.

    Raises:
        ValueError: no family, a family whose model has no builder, or no budget.

    Example:
        >>> fams = {"constant": Family(lambda e: constant_arm(0.05)),
        ...         "one-cycle": Family(lambda e: one_cycle_arm(0.3, e, 50), per_budget=True)}
        >>> from lrbook import data, models
        >>> ds = data.load("mnist1d", n_train=160)   # the chapter: 4000, more budgets and seeds
        >>> df = run_comparison({"default": lambda: models.cnn1d(filters=(8,))}, fams, ds,
        ...                     budgets=[1, 2], seeds=[0])
        >>> {fam: sorted(int(b) for b in g.budget.unique()) for fam, g in df.groupby("family", sort=False)}
        {'constant': [2], 'one-cycle': [1, 2]}
        >>> len(df)   # constant: one run of 2 epochs; one-cycle: a run of 1 and one of 2
        5
    """
    import pandas as pd

    from lrbook.training import run_experiment

    if not families:
        _fail("families", families, "a non-empty dict of Family")
    budgets = sorted({_positive_int("budgets", b) for b in budgets})
    if not budgets:
        _fail("budgets", budgets, "at least one epoch budget")
    for name, fam in families.items():
        if not isinstance(fam, Family):
            _fail("families", {name: fam}, "a dict of Family")
        if fam.model not in builders:
            _fail(
                "builders",
                sorted(builders),
                f"a dict with the model {fam.model!r} of family {name!r}",
            )
    frames = []
    for key, build in builders.items():
        arms, meta = {}, {}
        for name, fam in families.items():
            if fam.model != key:
                continue
            for b in budgets if fam.per_budget else [budgets[-1]]:
                arm = fam.make(b)
                arm.epochs = b
                arms[f"{name}@{b}"] = arm
                meta[f"{name}@{b}"] = (name, b)
        if not arms:
            continue
        df = run_experiment(
            build,
            arms,
            data,
            seeds=seeds,
            epochs=budgets[-1],
            batch_size=batch_size,
            evaluate_test=evaluate_test,
            progress=progress,
        )
        df["family"] = [meta[a][0] for a in df.arm]
        df["budget"] = [meta[a][1] for a in df.arm]
        df["model"] = key
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    order = {name: i for i, name in enumerate(families)}
    return out.sort_values(
        ["family", "budget", "seed", "epoch"],
        key=lambda s: s.map(order) if s.name == "family" else s,
        kind="stable",
    ).reset_index(drop=True)


# ----------------------------------------------------------------------------- summary


@dataclass
class ComparisonSummary:
    """What :func:`summarize_comparison` computes.

    Attributes:
        target: the target accuracy.
        metric: the column read (``"test_accuracy"``).
        method: the family compared with every baseline.
        baselines: the other families.
        budgets: the epoch budgets.
        hits: one row per (family, seed): ``epochs`` and ``seconds`` to the
            target (NaN if never): the smallest budget whose run ends at or
            above the target, and its training seconds; ``budget`` repeats it.
        at_budget: one row per (family, budget): ``mean``, ``std``, ``n`` of the
            accuracy at that budget, ``time`` (mean training seconds), and for
            a baseline the paired comparison of the method with it: ``diff``
            (method minus baseline, mean over seeds), ``ci_low``, ``ci_high``
            (95%), ``p_vs_<method>`` (paired t-test), ``p_adj_vs_<method>``
            (Holm over every baseline × budget of the table) and ``verdict``
            (for the method: ``"better"``, ``"worse"`` or
            ``"no difference detected at this n"``).
        ratios: ``{baseline: ratio_epochs_to_target(baseline, method)}``.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame([   # a run_comparison table: constant runs once, one-cycle per budget
        ...     {"family": fam, "budget": b, "arm": f"{fam} {b}", "seed": s, "epoch": e,
        ...      "time": 2.0 * e, "test_accuracy": acc + step * s}
        ...     for fam, b, step, accs in [("constant", 3, 0.01, [0.70, 0.80, 0.85]),
        ...                                ("one-cycle", 2, 0.02, [0.75, 0.90]),
        ...                                ("one-cycle", 3, 0.02, [0.70, 0.86, 0.92])]
        ...     for s in (0, 1, 2) for e, acc in enumerate(accs, start=1)])
        >>> s = summarize_comparison(df, target=0.85, method="one-cycle")
        >>> s.ratios["constant"], round(s.p_value("constant"), 4)   # 3 epochs against 2
        (1.5, 0.0052)
    """

    target: float
    metric: str
    method: str
    baselines: list
    budgets: list
    hits: object
    at_budget: object
    ratios: dict = field(default_factory=dict)

    def p_value(
        self, baseline: str, budget: int | None = None, *, adjusted: bool = False
    ) -> float:
        """Paired t-test p-value of the method against ``baseline`` at ``budget`` (default: the largest).

        With ``adjusted=True``, Holm-adjusted over the table's family of comparisons.
        """
        budget = self.budgets[-1] if budget is None else budget
        col = f"p_adj_vs_{self.method}" if adjusted else f"p_vs_{self.method}"
        return float(self.at_budget.loc[(baseline, budget), col])

    def to_dict(self) -> dict:
        """Plain, JSON-ready numbers: ``target``, and per family ``n``, ``accuracy``
        (``{budget: {mean, std}}``), ``epochs_to_target`` and ``seconds_to_target``
        (per seed, ``None`` = never), ``median_epochs_to_target``, ``wall_s``
        (mean training seconds of the longest budget), and per budget ``diff``,
        ``ci`` (``[low, high]``), ``p_vs_<method>`` and ``p_adj_vs_<method>``."""

        def num(v, digits=4):
            v = float(v)
            return None if not math.isfinite(v) else round(v, digits)

        arms = {}
        for fam in [self.method, *self.baselines]:
            rows = self.at_budget.loc[fam]
            h = self.hits[self.hits.family == fam].sort_values("seed")
            arms[fam] = {
                "n": int(rows["n"].max()),
                "accuracy": {
                    str(b): {"mean": num(r["mean"]), "std": num(r["std"])}
                    for b, r in rows.iterrows()
                },
                "epochs_to_target": [num(v, 0) for v in h.epochs],
                "seconds_to_target": [num(v, 2) for v in h.seconds],
                "median_epochs_to_target": num(median_epochs(h.epochs.to_numpy()), 2),
                "wall_s": num(rows["time"].iloc[-1], 2),
                "diff": {str(b): num(r["diff"], 6) for b, r in rows.iterrows()},
                "ci": {
                    str(b): [num(r["ci_low"], 6), num(r["ci_high"], 6)]
                    for b, r in rows.iterrows()
                },
                f"p_vs_{self.method}": {
                    str(b): num(r[f"p_vs_{self.method}"], 6) for b, r in rows.iterrows()
                },
                f"p_adj_vs_{self.method}": {
                    str(b): num(r[f"p_adj_vs_{self.method}"], 6)
                    for b, r in rows.iterrows()
                },
            }
        return {
            "target": num(self.target),
            "metric": self.metric,
            "budgets": list(self.budgets),
            "arms": arms,
        }


def summarize_comparison(
    df, *, target: float, method: str, baselines=None, metric: str = "test_accuracy"
):
    """Epochs to target, accuracy at every budget, p-values and ratios of a :func:`run_comparison` table.

    Args:
        df: the table of :func:`run_comparison`.
        target: the target accuracy (see :func:`target_accuracy`).
        method: the family compared with the others (``"one-cycle"``).
        baselines: the families to compare with (default: all others).
        metric: the column to read.

    Returns:
        A :class:`ComparisonSummary`.

    Raises:
        ValueError: if ``metric`` is not a column, ``method`` or a baseline is not a family,
            or the table lacks the ``family``/``budget`` columns.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame([   # a run_comparison table: constant runs once, one-cycle per budget
        ...     {"family": fam, "budget": b, "arm": f"{fam} {b}", "seed": s, "epoch": e,
        ...      "time": 2.0 * e, "test_accuracy": acc + step * s}
        ...     for fam, b, step, accs in [("constant", 3, 0.01, [0.70, 0.80, 0.85]),
        ...                                ("one-cycle", 2, 0.02, [0.75, 0.90]),
        ...                                ("one-cycle", 3, 0.02, [0.70, 0.86, 0.92])]
        ...     for s in (0, 1, 2) for e, acc in enumerate(accs, start=1)])
        >>> s = summarize_comparison(df, target=0.85, method="one-cycle")
        >>> s.at_budget.loc["constant", ["mean", "diff", "verdict"]].round(3)
                mean  diff verdict
        budget
        2       0.81  0.11  better
        3       0.86  0.08  better
    """
    import pandas as pd

    for col in ("family", "budget", "arm", "seed", "epoch", "time"):
        if col not in df:
            _fail(
                "df",
                f"columns {list(df.columns)}",
                f"a table of run_comparison (with a {col!r} column)",
            )
    if metric not in df:
        _fail("metric", metric, f"a column of the table {list(df.columns)}")
    families = list(dict.fromkeys(df.family))
    if method not in families:
        _fail("method", method, f"one of the families {families}")
    baselines = (
        [f for f in families if f != method] if baselines is None else list(baselines)
    )
    for b in baselines:
        if b not in families or b == method:
            _fail(
                "baselines",
                baselines,
                f"families among {families} other than the method",
            )
    budgets = sorted(int(b) for b in df.budget.unique())

    # Accuracy at the end of each budget: the budget's own run (per-budget families), or the
    # single run read at that epoch (what a run of that length gives, since nothing in it
    # depends on the budget). Both readings are one run per budget, read at its end.
    values, times = {}, {}
    rows = []
    for fam in [method, *baselines]:
        sub = df[df.family == fam]
        for b in budgets:
            if sub.budget.nunique() > 1:  # one run per budget
                at = sub[(sub.budget == b) & (sub.epoch == b)]
            else:
                at = sub[sub.epoch == b]
            at = at.sort_values("seed").set_index("seed")
            values[(fam, b)], times[(fam, b)] = at[metric], at["time"]
            s = summarize(at[metric].to_numpy())
            rows.append(
                {
                    "family": fam,
                    "budget": b,
                    "mean": s.mean,
                    "std": s.std,
                    "n": s.n,
                    "time": float(at["time"].mean()) if len(at) else math.nan,
                }
            )

    # Hits: the smallest budget whose run ends at or above the target, per seed, the same
    # reading for every family (no best-of-k: a budget-dependent family is not credited with
    # an epoch inside a longer run, which a run of that length would not reproduce).
    hit_rows = []
    for fam in [method, *baselines]:
        for seed in sorted(set(df[df.family == fam].seed)):
            hit = (math.nan, math.nan, math.nan)
            for b in budgets:
                v = values[(fam, b)]
                if seed in v.index and v.loc[seed] >= target:
                    hit = (float(b), float(times[(fam, b)].loc[seed]), float(b))
                    break
            hit_rows.append(
                {
                    "family": fam,
                    "seed": seed,
                    "epochs": hit[0],
                    "seconds": hit[1],
                    "budget": hit[2],
                }
            )
    hits = pd.DataFrame(hit_rows)

    # Paired comparisons of the method with each baseline at each budget: one family, Holm.
    comparisons = {}
    for fam in baselines:
        for b in budgets:
            pair = pd.concat(
                [values[(method, b)], values[(fam, b)]], axis=1, keys=["m", "f"]
            ).dropna()
            if len(pair) >= 2:
                comparisons[(fam, b)] = paired_comparison(
                    pair["m"].to_numpy(), pair["f"].to_numpy()
                )
    adjusted = dict(
        zip(
            comparisons,
            adjust_pvalues([c.p_value for c in comparisons.values()], "holm"),
        )
    )
    for row in rows:
        c = comparisons.get((row["family"], row["budget"]))
        row.update(
            {
                "diff": math.nan,
                "ci_low": math.nan,
                "ci_high": math.nan,
                f"p_vs_{method}": math.nan,
                f"p_adj_vs_{method}": math.nan,
                "verdict": "",
            }
        )
        if c is not None:
            p_adj = adjusted[(row["family"], row["budget"])]
            row.update(
                {
                    "diff": c.mean_diff,
                    "ci_low": c.ci_low,
                    "ci_high": c.ci_high,
                    f"p_vs_{method}": c.p_value,
                    f"p_adj_vs_{method}": p_adj,
                    "verdict": verdict(c, p_adjusted=p_adj).label,
                }
            )
    at_budget = pd.DataFrame(rows).set_index(["family", "budget"])
    ratios = {
        b: ratio_epochs_to_target(
            hits[hits.family == b].epochs.to_numpy(),
            hits[hits.family == method].epochs.to_numpy(),
        )
        for b in baselines
    }
    return ComparisonSummary(
        target=float(target),
        metric=metric,
        method=method,
        baselines=baselines,
        budgets=budgets,
        hits=hits,
        at_budget=at_budget,
        ratios=ratios,
    )
