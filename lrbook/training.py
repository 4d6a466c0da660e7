"""Fair, repeated training experiments: same initial weights, several seeds, one tidy table.

The practice comes from the tensorflow-addons cyclical-LR tutorial the book grew
from: save the initial weights once and start every arm of a
comparison from them. :func:`run_experiment` does that for every seed, trains
each arm with the same data order, and returns one row per (arm, seed, epoch).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lrbook._validation import check, fail, integer
from lrbook.env import import_keras
from lrbook.stats import adjust_pvalues, paired_comparison, summarize

import_keras()
import keras

from lrbook.optimizers import unwrap

__all__ = [
    "Arm",
    "compare",
    "current_learning_rate",
    "epochs_to_target",
    "has_batch_hooks",
    "initial_weights",
    "paired_values",
    "run_experiment",
    "set_seed",
]


def set_seed(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and the backend; optionally make the backend's ops deterministic.

    Args:
        seed: the seed.
        deterministic: also make the backend's ops deterministic (bit-identical
            reruns, slower on GPU): on TensorFlow
            ``tf.config.experimental.enable_op_determinism()`` (it cannot be
            switched off again in the same process), on PyTorch
            ``torch.use_deterministic_algorithms(True)``; JAX's ops are
            deterministic already (on a GPU, set
            ``XLA_FLAGS=--xla_gpu_deterministic_ops=true`` before starting).

    Example:
        >>> set_seed(0); a = np.random.rand()
        >>> set_seed(0); a == np.random.rand()
        True
    """
    keras.utils.set_random_seed(integer("seed", seed, low=0))
    if deterministic:
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        elif backend == "torch":
            import torch

            torch.use_deterministic_algorithms(True)


def initial_weights(build_model: Callable[[], keras.Model], seed: int) -> list:
    """The initial weights :func:`run_experiment` gives every arm for ``seed``.

    Seeds everything with :func:`set_seed` and builds the model once, exactly as
    :func:`run_experiment` does before its arms, so anything else run on these
    weights (an LR range test, say) starts where the experiment's runs start::

        model = build_model()
        model.set_weights(initial_weights(build_model, seed))

    Returns:
        The list of arrays of ``build_model().get_weights()``.

    Example:
        >>> from lrbook import models
        >>> build = lambda: models.cnn1d()
        >>> model = models.compile_classifier(build(), keras.optimizers.SGD(momentum=0.9))
        >>> model.set_weights(initial_weights(build, seed=0))   # the sweep's seed-0 start
        >>> all(np.array_equal(a, b) for a, b in zip(model.get_weights(), initial_weights(build, seed=0)))
        True

    Used in: the LR-finder chapter (the range test on the sweep's initial weights).
    """
    set_seed(seed)
    return build_model().get_weights()


def current_learning_rate(optimizer) -> float:
    """The learning rate ``optimizer`` uses for its next step, as a float.

    Works for a constant rate and for a ``LearningRateSchedule`` (evaluated at
    the optimizer's iteration count), and reads a ``LossScaleOptimizer`` (mixed
    precision) through its inner optimizer.

    Example:
        >>> current_learning_rate(keras.optimizers.SGD(0.1))
        0.10000000149011612
    """
    return float(keras.ops.convert_to_numpy(unwrap(optimizer).learning_rate))


@dataclass
class Arm:
    """One arm of a comparison: how to optimize, starting from the shared weights.

    Args:
        optimizer: a zero-argument callable returning a fresh optimizer (called
            once per seed, so no state leaks between runs), or an optimizer name.
        callbacks: a zero-argument callable returning a list of callbacks, or ``None``.
        epochs: this arm's epoch budget (default: the experiment's).
        batch_size: this arm's batch size (default: the experiment's).
        build_model: a model builder for this arm, taking no arguments (the
            experiment's ``build_model`` when ``None``). It must give
            the same architecture as the experiment's builder (the shared
            initial weights are loaded into it); use it to change, for example,
            dropout rates, which have no weights.

    Example:
        >>> arms = {
        ...     "sgd": Arm(lambda: keras.optimizers.SGD(0.1, momentum=0.9)),
        ...     "adam, 5 epochs": Arm(lambda: keras.optimizers.Adam(3e-3), epochs=5),
        ...     "step decay": Arm(lambda: keras.optimizers.SGD(0.1), callbacks=lambda: [
        ...         keras.callbacks.LearningRateScheduler(lambda e, lr: 0.1 * 0.5 ** (e // 5))]),
        ... }
    """

    optimizer: Callable | str
    callbacks: Callable | None = None
    epochs: int | None = None
    batch_size: int | None = None
    build_model: Callable | None = None
    compile_kwargs: dict = field(default_factory=dict)


class _EpochTimer(keras.callbacks.Callback):
    """Adds ``time`` (seconds of this epoch, training + validation) and ``lr`` to the logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_time"] = time.perf_counter() - self._t0
            logs["lr"] = current_learning_rate(self.model.optimizer)


class _TestEvaluator(keras.callbacks.Callback):
    """Evaluates the test set after each epoch (after timing, so it costs no recorded time)."""

    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        results = self.model.evaluate(
            self.x, self.y, batch_size=self.batch_size, verbose=0, return_dict=True
        )
        for key, value in results.items():
            logs[f"test_{key}"] = float(value)


_BATCH_HOOKS = (
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_batch_begin",
    "on_batch_end",
)


def has_batch_hooks(callbacks) -> bool:
    """Whether any callback acts per batch (overrides a ``on_*batch_*`` training hook).

    Such a callback must see every step, so its run cannot group steps with
    ``steps_per_execution``; an epoch-level callback (``LearningRateScheduler``,
    ``EarlyStopping``) can.

    Example:
        >>> has_batch_hooks([keras.callbacks.LearningRateScheduler(lambda e, lr: lr)])
        False
        >>> has_batch_hooks([keras.callbacks.TerminateOnNaN()])
        True
    """
    base = keras.callbacks.Callback
    return any(
        getattr(type(cb), hook) is not getattr(base, hook)
        for cb in callbacks
        for hook in _BATCH_HOOKS
    )


def _steps_per_execution(setting, n_samples: int, batch_size: int, callbacks) -> int:
    """The ``steps_per_execution`` of one run: a whole epoch per call unless a callback needs each batch.

    On PyTorch, one step per call: Keras's PyTorch backend allows nothing else.
    """
    if setting == "auto":
        return (
            1
            if has_batch_hooks(callbacks) or keras.backend.backend() == "torch"
            else max(1, math.ceil(n_samples / batch_size))
        )
    return int(setting)


def _make_optimizer(spec):
    if isinstance(spec, str):
        return keras.optimizers.get(spec)
    if isinstance(spec, keras.optimizers.Optimizer):
        fail(
            "optimizer",
            spec,
            "a zero-argument callable returning a new optimizer (e.g. `lambda: "
            "keras.optimizers.SGD(0.1)`), not an optimizer instance, which would "
            "carry its state from one run into the next",
        )
    return spec()


def run_experiment(
    build_model: Callable[[], keras.Model],
    arms: dict[str, Arm],
    data,
    *,
    seeds=(0, 1, 2),
    epochs: int = 10,
    batch_size: int = 64,
    evaluate_test: bool = True,
    progress: bool = True,
    steps_per_execution: int | str = "auto",
):
    """Train every arm from the same initial weights, for every seed.

    For each seed: seed everything, build the model once and save its initial
    weights; then for each arm, build the model again, load those weights,
    reseed (so every arm sees the same shuffling order), compile with the
    arm's optimizer and fit.

    Speed: most of a small model's epoch is Python overhead per step, so by
    default a run executes a whole epoch per call of the compiled train
    function (Keras's ``steps_per_execution``), unless one of the arm's
    callbacks acts per batch (:func:`has_batch_hooks`), which then gets
    every step as usual. Learning-rate schedules run inside the compiled step
    either way, and the numbers are the same as one step per call (same
    updates, same order; tested to float tolerance).

    Args:
        build_model: zero-argument callable returning an uncompiled model that
            outputs logits.
        arms: ``{name: Arm}``, in the order to run.
        data: a :class:`lrbook.data.Dataset`; its validation split (if any) is
            the ``val_*`` columns, its test set the ``test_*`` columns.
        seeds: the seeds; each gives new initial weights and data order.
        epochs: default epoch budget of an arm.
        batch_size: default batch size of an arm.
        evaluate_test: evaluate the test set after every epoch.
        progress: show a progress bar over runs (on stderr).
        steps_per_execution: ``"auto"`` (a whole epoch per call when no
            callback of the arm acts per batch, else 1; always 1 on PyTorch,
            whose Keras backend allows nothing else) or a positive integer
            for every arm. An arm's ``compile_kwargs`` may set its own.

    Returns:
        A ``pandas.DataFrame`` with one row per (arm, seed, epoch): ``arm``,
        ``seed``, ``epoch`` (1-based), ``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy`` (with a validation set), ``test_loss``,
        ``test_accuracy`` (with ``evaluate_test``), ``lr`` (at the end of the
        epoch), ``epoch_time`` and ``time`` (cumulative training seconds).

    Example:
        >>> from lrbook import data, models, training
        >>> ds = data.load("mnist1d", n_train=400)   # the chapters: all 4000
        >>> df = training.run_experiment(
        ...     lambda: models.cnn1d(ds.input_shape),
        ...     {"sgd": training.Arm(lambda: keras.optimizers.SGD(0.1)),
        ...      "adam": training.Arm(lambda: keras.optimizers.Adam(1e-3))},
        ...     ds, seeds=[0, 1], epochs=2, progress=False)
        >>> sorted(df.arm.unique()), len(df)   # one row per arm, seed and epoch
        (['adam', 'sgd'], 8)
    """
    import pandas as pd
    from tqdm import tqdm

    from lrbook.models import compile_classifier

    check("arms", arms, bool(arms), "a mapping that names at least one arm")
    for name, arm in arms.items():
        check(f"arms[{name!r}]", arm, isinstance(arm, Arm), "an Arm")
    seeds = list(seeds)
    check("seeds", seeds, bool(seeds), "a sequence of at least one seed")
    if steps_per_execution != "auto" and not (
        isinstance(steps_per_execution, (int, np.integer))
        and not isinstance(steps_per_execution, bool)
        and steps_per_execution >= 1
    ):
        fail("steps_per_execution", steps_per_execution, "'auto' or a positive integer")

    rows = []
    bar = tqdm(
        total=len(seeds) * len(arms),
        disable=not progress,
        desc="runs",
        file=sys.stderr,
        mininterval=2.0,
    )
    for seed in seeds:
        initial = initial_weights(build_model, seed)
        for name, arm in arms.items():
            bar.set_postfix_str(f"seed={seed} arm={name}")
            keras.backend.clear_session()
            set_seed(seed)
            model = (arm.build_model or build_model)()
            model.set_weights(initial)
            bs = arm.batch_size or batch_size
            arm_callbacks = list(arm.callbacks() if arm.callbacks else [])
            compile_kwargs = dict(arm.compile_kwargs)
            compile_kwargs.setdefault(
                "steps_per_execution",
                _steps_per_execution(
                    steps_per_execution, len(data.x_train), bs, arm_callbacks
                ),
            )
            compile_classifier(model, _make_optimizer(arm.optimizer), **compile_kwargs)
            callbacks = [_EpochTimer()]
            if evaluate_test:
                callbacks.append(_TestEvaluator(data.x_test, data.y_test, max(bs, 256)))
            callbacks += arm_callbacks
            set_seed(seed)
            history = model.fit(
                data.x_train,
                data.y_train,
                batch_size=bs,
                epochs=arm.epochs or epochs,
                validation_data=data.validation_data,
                callbacks=callbacks,
                verbose=0,
            )
            total = 0.0
            for e in range(len(history.epoch)):
                row = {"arm": name, "seed": seed, "epoch": e + 1}
                row.update({k: float(v[e]) for k, v in history.history.items()})
                total += row["epoch_time"]
                row["time"] = total
                rows.append(row)
            bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def epochs_to_target(df, target: float, metric: str = "test_accuracy"):
    """First epoch (and cumulative seconds) at which ``metric`` reaches ``target``, per arm and seed.

    Returns:
        A DataFrame with ``arm``, ``seed``, ``epochs`` and ``seconds``; both
        are NaN for a run that never reached the target.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({   # as run_experiment returns it
        ...     "arm": ["sgd"] * 3 + ["adam"] * 3, "seed": 0, "epoch": [1, 2, 3] * 2,
        ...     "time": [1.5, 3.0, 4.5, 2.0, 4.0, 6.0],
        ...     "test_accuracy": [0.80, 0.91, 0.93, 0.85, 0.88, 0.89]})
        >>> epochs_to_target(df, 0.9)   # adam never gets there: NaN
            arm  seed  epochs  seconds
        0   sgd     0     2.0      3.0
        1  adam     0     NaN      NaN
    """
    import pandas as pd

    check("metric", metric, metric in df, "a column of the table")
    out = []
    for (arm, seed), g in df.sort_values("epoch").groupby(["arm", "seed"], sort=False):
        hit = g[g[metric] >= target]
        first = hit.iloc[0] if len(hit) else None
        out.append(
            {
                "arm": arm,
                "seed": seed,
                "epochs": float(first["epoch"]) if first is not None else float("nan"),
                "seconds": float(first["time"]) if first is not None else float("nan"),
            }
        )
    return pd.DataFrame(out)


def _at_epoch(df, epoch):
    if epoch is None:
        return df.sort_values("epoch").groupby(["arm", "seed"], sort=False).tail(1)
    at = df[df.epoch == epoch]
    check("epoch", epoch, not at.empty, "an epoch that a run in the table reached")
    return at


def paired_values(df, metric: str = "test_accuracy", *, epoch: int | None = None):
    """``metric`` per seed (rows) and arm (columns) at one epoch: the paired layout.

    Every arm of a seed starts from the same weights and data order, so a row
    holds numbers that belong together; a difference of two columns is a
    per-seed paired difference.

    Args:
        df: the table of :func:`run_experiment`.
        metric: the column to read.
        epoch: the epoch (1-based); ``None`` reads each run's last epoch.

    Returns:
        A DataFrame indexed by ``seed`` with one column per arm, in the order
        of first appearance.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({   # as run_experiment returns it (the last epoch of each run)
        ...     "arm": ["constant"] * 2 + ["one-cycle"] * 2, "seed": [0, 1] * 2, "epoch": 5,
        ...     "test_accuracy": [0.90, 0.86, 0.93, 0.87]})
        >>> wide = paired_values(df, "test_accuracy")
        >>> list(wide.columns), (wide["one-cycle"] - wide["constant"]).round(3).tolist()
        (['constant', 'one-cycle'], [0.03, 0.01])
    """
    check("metric", metric, metric in df, "a column of the table")
    at = _at_epoch(df, epoch)
    order = list(dict.fromkeys(df.arm))
    wide = at.pivot_table(
        index="seed", columns="arm", values=metric, aggfunc="first", dropna=False
    )
    return wide[[a for a in order if a in wide.columns]]


def compare(
    df,
    metric: str = "test_accuracy",
    *,
    epoch: int | None = None,
    baseline: str | None = None,
    higher_is_better: bool | None = None,
    method: str = "t",
    adjust: str = "holm",
    confidence: float = 0.95,
    alpha: float = 0.05,
):
    """Summarize ``metric`` per arm at one epoch and compare every arm with a baseline, paired by seed.

    Each arm's runs share initial weights and data order with the baseline's
    run of the same seed, so the comparison is paired
    (:func:`lrbook.stats.paired_comparison` on the per-seed differences
    ``arm - baseline``), and the p-values of the arms against the baseline
    are one family, adjusted together (Holm by default). The verdict reads
    the adjusted p-value.

    Args:
        df: the table of :func:`run_experiment`.
        metric: the column to summarize.
        epoch: the epoch to read (1-based); ``None`` reads each run's last epoch.
        baseline: an arm name; adds the paired comparison of every other arm
            against it.
        higher_is_better: for the verdict; default ``False`` for a metric
            whose name contains ``"loss"``, else ``True``.
        method: the paired method (``"t"``, ``"wilcoxon"``, ``"bootstrap"``).
        adjust: the adjustment within the family (``"holm"``,
            ``"bonferroni"``, ``"bh"``).
        confidence: the level of the intervals.
        alpha: the level of the verdicts.

    Returns:
        A DataFrame indexed by arm, in the order of first appearance, with
        ``mean``, ``std``, ``n`` and ``time`` (mean training seconds up to
        that epoch); with a ``baseline``, also ``diff`` (mean of ``arm -
        baseline`` over the seeds both have a finite value for), ``ci_low``,
        ``ci_high``, ``p_vs_<baseline>`` (the paired test's p-value),
        ``p_adj_vs_<baseline>`` (adjusted within the table) and ``verdict``
        (``"better"``, ``"worse"`` or ``"no difference detected at this n"``).
        The baseline's row, and an arm with fewer than two pairs, have NaN
        there.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({   # as run_experiment returns it
        ...     "arm": ["sgd"] * 4 + ["adam"] * 4, "seed": [0, 1, 2, 3] * 2, "epoch": 5, "time": 10.0,
        ...     "test_accuracy": [0.90, 0.88, 0.91, 0.89, 0.92, 0.91, 0.93, 0.91]})
        >>> table = compare(df, "test_accuracy", baseline="sgd")
        >>> list(table.index), table.loc["adam", "verdict"], round(float(table.loc["adam", "diff"]), 4)
        (['sgd', 'adam'], 'better', 0.0225)
    """
    import pandas as pd

    from lrbook.stats import verdict

    check("metric", metric, metric in df, "a column of the table")
    at = _at_epoch(df, epoch)
    order = list(dict.fromkeys(df.arm))
    check(
        "baseline",
        baseline,
        baseline is None or baseline in order,
        f"None or one of the arms {order}",
    )
    if higher_is_better is None:
        higher_is_better = "loss" not in metric
    rows = []
    for arm in order:
        sub = at[at.arm == arm]
        if sub.empty:
            continue
        s = summarize(sub[metric].to_numpy())
        rows.append(
            {
                "arm": arm,
                "mean": s.mean,
                "std": s.std,
                "n": s.n,
                "time": float(sub["time"].mean()),
            }
        )
    table = pd.DataFrame(rows).set_index("arm")
    if baseline is None:
        return table

    wide = paired_values(df, metric, epoch=epoch)
    comparisons = {}
    for arm in table.index:
        if arm == baseline:
            continue
        pair = wide[[arm, baseline]].replace([np.inf, -np.inf], np.nan).dropna()
        if len(pair) >= 2:
            comparisons[arm] = paired_comparison(
                pair[arm].to_numpy(),
                pair[baseline].to_numpy(),
                confidence=confidence,
                method=method,
            )
    adjusted = dict(
        zip(
            comparisons,
            adjust_pvalues([c.p_value for c in comparisons.values()], adjust),
        )
    )
    nan = float("nan")
    for col in (
        "diff",
        "ci_low",
        "ci_high",
        f"p_vs_{baseline}",
        f"p_adj_vs_{baseline}",
    ):
        table[col] = nan
    table["verdict"] = ""
    for arm, c in comparisons.items():
        v = verdict(
            c,
            p_adjusted=adjusted[arm],
            adjustment=adjust,
            alpha=alpha,
            higher_is_better=higher_is_better,
        )
        table.loc[
            arm,
            ["diff", "ci_low", "ci_high", f"p_vs_{baseline}", f"p_adj_vs_{baseline}"],
        ] = [c.mean_diff, c.ci_low, c.ci_high, c.p_value, adjusted[arm]]
        table.loc[arm, "verdict"] = v.label
    return table
