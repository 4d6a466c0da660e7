"""Fair, repeated training experiments: same initial weights, several seeds, one tidy table.

The practice comes from the cyclical-LR tutorial the book grew from
(``seeds/004``): save the initial weights once and start every arm of a
comparison from them. :func:`run_experiment` does that for every seed, trains
each arm with the same data order, and returns one row per (arm, seed, epoch).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from lrbook.env import quiet_import_tensorflow
from lrbook.stats import summarize, welch_t_test

quiet_import_tensorflow()
import keras  # noqa: E402

from lrbook.optimizers import unwrap  # noqa: E402

__all__ = [
    "set_seed",
    "initial_weights",
    "Arm",
    "run_experiment",
    "epochs_to_target",
    "compare",
    "current_learning_rate",
]


def set_seed(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and the backend; optionally make TensorFlow ops deterministic.

    Args:
        seed: the seed.
        deterministic: also call ``tf.config.experimental.enable_op_determinism()``
            (bit-identical reruns, slower on GPU; it cannot be switched off again
            in the same process).

    Example:
        >>> set_seed(0); a = np.random.rand()
        >>> set_seed(0); a == np.random.rand()
        True
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Argument `seed` must be a non-negative integer. Received: seed={seed!r}")
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


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
        >>> build = lambda: models.cnn1d()
        >>> model = models.compile_classifier(build(), keras.optimizers.SGD(momentum=0.9))
        >>> model.set_weights(initial_weights(build, seed=0))   # the sweep's seed-0 start
        >>> result = lr_range_test(model, x, y, batch_size=64)  # doctest: +SKIP

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
        build: a model builder for this arm, taking no arguments. It must give
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
    build: Callable | None = None
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
        results = self.model.evaluate(self.x, self.y, batch_size=self.batch_size, verbose=0, return_dict=True)
        for key, value in results.items():
            logs[f"test_{key}"] = float(value)


def _make_optimizer(spec):
    if isinstance(spec, str):
        return keras.optimizers.get(spec)
    if isinstance(spec, keras.optimizers.Optimizer):
        raise ValueError(
            "Argument `optimizer` of an Arm must be a zero-argument callable returning a new "
            "optimizer (e.g. `lambda: keras.optimizers.SGD(0.1)`), not an optimizer instance, "
            f"which would carry its state from one run into the next. Received: {spec!r}"
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
):
    """Train every arm from the same initial weights, for every seed.

    For each seed: seed everything, build the model once and save its initial
    weights; then for each arm, build the model again, load those weights,
    reseed (so every arm sees the same shuffling order), compile with the
    arm's optimizer and fit.

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

    Returns:
        A ``pandas.DataFrame`` with one row per (arm, seed, epoch): ``arm``,
        ``seed``, ``epoch`` (1-based), ``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy`` (with a validation set), ``test_loss``,
        ``test_accuracy`` (with ``evaluate_test``), ``lr`` (at the end of the
        epoch), ``epoch_time`` and ``time`` (cumulative training seconds).

    Example:
        >>> from lrbook import data, models, training
        >>> ds = data.load("mnist1d")
        >>> df = training.run_experiment(
        ...     lambda: models.cnn1d(ds.input_shape),
        ...     {"sgd": training.Arm(lambda: keras.optimizers.SGD(0.1)),
        ...      "adam": training.Arm(lambda: keras.optimizers.Adam(1e-3))},
        ...     ds, seeds=[0, 1], epochs=2)
        >>> sorted(df.arm.unique())
        ['adam', 'sgd']
    """
    import pandas as pd
    from tqdm import tqdm

    from lrbook.models import compile_classifier

    if not arms:
        raise ValueError(f"Argument `arms` must name at least one arm. Received: arms={arms!r}")
    for name, arm in arms.items():
        if not isinstance(arm, Arm):
            raise ValueError(f"Argument `arms` must map names to Arm objects. Received: {name!r}: {arm!r}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError(f"Argument `seeds` must hold at least one seed. Received: seeds={seeds!r}")

    rows = []
    bar = tqdm(total=len(seeds) * len(arms), disable=not progress, desc="runs", file=sys.stderr, mininterval=2.0)
    for seed in seeds:
        initial = initial_weights(build_model, seed)
        for name, arm in arms.items():
            bar.set_postfix_str(f"seed={seed} arm={name}")
            keras.backend.clear_session()
            set_seed(seed)
            model = (arm.build or build_model)()
            model.set_weights(initial)
            compile_classifier(model, _make_optimizer(arm.optimizer), **arm.compile_kwargs)
            bs = arm.batch_size or batch_size
            callbacks = [_EpochTimer()]
            if evaluate_test:
                callbacks.append(_TestEvaluator(data.x_test, data.y_test, max(bs, 256)))
            callbacks += list(arm.callbacks() if arm.callbacks else [])
            set_seed(seed)
            history = model.fit(
                data.x_train, data.y_train, batch_size=bs, epochs=arm.epochs or epochs,
                validation_data=data.validation_data, callbacks=callbacks, verbose=0,
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
        >>> hits = epochs_to_target(df, 0.9)               # df from run_experiment
        >>> hits.groupby("arm").epochs.median()            # doctest: +SKIP
    """
    import pandas as pd

    if metric not in df:
        raise ValueError(f"Argument `metric` must be a column of the table. Received: metric={metric!r}")
    out = []
    for (arm, seed), g in df.sort_values("epoch").groupby(["arm", "seed"], sort=False):
        hit = g[g[metric] >= target]
        first = hit.iloc[0] if len(hit) else None
        out.append({
            "arm": arm, "seed": seed,
            "epochs": float(first["epoch"]) if first is not None else float("nan"),
            "seconds": float(first["time"]) if first is not None else float("nan"),
        })
    return pd.DataFrame(out)


def compare(df, metric: str = "test_accuracy", *, epoch: int | None = None, baseline: str | None = None):
    """Summarize ``metric`` per arm at one epoch (default: each run's last), with p-values.

    Args:
        df: the table of :func:`run_experiment`.
        metric: the column to summarize.
        epoch: the epoch to read (1-based); ``None`` reads each run's last epoch.
        baseline: an arm name; adds Welch's t-test p-value of every other arm
            against it (column ``p_vs_<baseline>``).

    Returns:
        A DataFrame indexed by arm, in the order of first appearance, with
        ``mean``, ``std``, ``n`` (and the p-value column) plus ``time``, the
        mean training seconds up to that epoch.

    Example:
        >>> table = compare(df, "test_accuracy", baseline="sgd")   # df from run_experiment
        >>> table[["mean", "std", "n", "p_vs_sgd"]]                 # doctest: +SKIP
    """
    import pandas as pd

    if metric not in df:
        raise ValueError(f"Argument `metric` must be a column of the table. Received: metric={metric!r}")
    if epoch is None:
        at = df.sort_values("epoch").groupby(["arm", "seed"], sort=False).tail(1)
    else:
        at = df[df.epoch == epoch]
        if at.empty:
            raise ValueError(f"Argument `epoch` is past every run in the table. Received: epoch={epoch}")
    order = list(dict.fromkeys(df.arm))
    if baseline is not None and baseline not in order:
        raise ValueError(f"Argument `baseline` must be one of the arms {order}. Received: baseline={baseline!r}")
    rows = []
    for arm in order:
        sub = at[at.arm == arm]
        if sub.empty:
            continue
        s = summarize(sub[metric].to_numpy())
        row = {"arm": arm, "mean": s.mean, "std": s.std, "n": s.n, "time": float(sub["time"].mean())}
        if baseline is not None:
            base = at[at.arm == baseline][metric].to_numpy()
            if arm == baseline or len(base) < 2 or s.n < 2:
                row[f"p_vs_{baseline}"] = float("nan")
            else:
                row[f"p_vs_{baseline}"] = welch_t_test(sub[metric].to_numpy(), base)[2]
        rows.append(row)
    return pd.DataFrame(rows).set_index("arm")
