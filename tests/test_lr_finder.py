"""Tests of lrbook.lr_finder: exact batch losses, bit-exact restoration, the rules, the errors.

Expected values come from references written here (a NumPy replay of SGD on a
softmax regression, the Hessian of a least-squares problem, curves whose
suggestions are worked out by hand in the comments), never from the code
under test.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from lrbook.env import import_keras

keras = import_keras()
TENSORFLOW = keras.backend.backend() == "tensorflow"
if TENSORFLOW:
    import tensorflow as tf

import lrbook
from lrbook import lr_finder
from lrbook.lr_finder import LRFinder, LRFinderResult, lr_range_test
from lrbook.training import set_seed

NUM_FEATURES, NUM_CLASSES, L2 = 6, 3, 0.01

#: Why the tests of the traced loop do not apply on JAX and PyTorch.
TRACED_LOOP = (
    "the traced loop is TensorFlow's tf.while_loop (JAX and PyTorch take one "
    "train_on_batch a step)"
)


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _dataset(*arrays, batch_size):
    """Batches of ``arrays``: a ``tf.data.Dataset`` on TensorFlow, else a list (a re-iterable)."""
    if TENSORFLOW:
        return tf.data.Dataset.from_tensor_slices(arrays).batch(batch_size)
    n = len(arrays[0])
    return _Reiterable(
        [tuple(a[s : s + batch_size] for a in arrays) for s in range(0, n, batch_size)]
    )


class _Reiterable:
    """Batches that can be iterated again and again (not a list: a list holds arrays)."""

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


def _as_numpy(dataset):
    return list(dataset.as_numpy_iterator()) if TENSORFLOW else list(dataset.batches)


def _classification_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, NUM_FEATURES)).astype("float32")
    w_true = rng.normal(size=(NUM_FEATURES, NUM_CLASSES))
    y = np.argmax(x @ w_true + 0.3 * rng.normal(size=(n, NUM_CLASSES)), axis=1).astype(
        "int32"
    )
    return x, y


def _softmax_regression(optimizer, l2=L2):
    """Dense softmax regression (logits) with an L2 kernel penalty: a loss we can replay in NumPy."""
    model = keras.Sequential(
        [
            keras.Input((NUM_FEATURES,)),
            keras.layers.Dense(
                NUM_CLASSES,
                kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
            ),
        ]
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _replay_sgd(kernel, bias, batches, lrs, l2=L2):
    """Plain SGD on softmax regression in float64: the loss of each batch *before* its step.

    loss = mean_i(logsumexp(z_i) - z_i[y_i]) + l2 * sum(W**2), z = x W + b.
    """
    w, b = kernel.astype(float), bias.astype(float)
    losses = []
    for (x, y), lr in zip(batches, lrs):
        x = x.astype(float)
        z = x @ w + b
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        rows = np.arange(len(y))
        losses.append(-logp[rows, y].mean() + l2 * np.sum(w**2))
        dz = np.exp(logp)
        dz[rows, y] -= 1.0
        dz /= len(y)
        grad_w, grad_b = x.T @ dz + 2 * l2 * w, dz.sum(axis=0)
        w, b = w - lr * grad_w, b - lr * grad_b
    return np.asarray(losses)


def _state(model):
    """Bytes of every variable training can change: model (incl. seed states), metrics, optimizer."""
    variables = (
        list(model.variables)
        + list(model.metrics_variables)
        + list(model.optimizer.variables)
    )
    return [(v.path, np.asarray(v.numpy()).tobytes()) for v in variables]


def _assert_same_state(before, after):
    assert [p for p, _ in before] == [p for p, _ in after]
    changed = [p for (p, a), (_, b) in zip(before, after) if a != b]
    assert not changed, f"variables not restored bit for bit: {changed}"


def _exp_plan(start, end, n):
    # Geometric steps from start to end, written independently of sweep_lrs.
    return np.array([start * (end / start) ** (i / (n - 1)) for i in range(n)])


def _bn_dropout_model(optimizer):
    """Small model with every kind of state: weights, BN moving stats, a dropout seed, an L2 loss."""
    model = keras.Sequential(
        [
            keras.Input((NUM_FEATURES,)),
            keras.layers.Dense(8, kernel_regularizer=keras.regularizers.L2(1e-3)),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(NUM_CLASSES),
        ]
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


class _Batches:
    """A re-iterable of (x, y) batches that raises ``error`` when batch number ``fail_at`` is asked for."""

    def __init__(self, x, y, batch_size, fail_at=None, error=RuntimeError):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.fail_at, self.error, self.served = fail_at, error, 0

    def __iter__(self):
        for start in range(0, len(self.x) - self.batch_size + 1, self.batch_size):
            if self.served == self.fail_at:
                raise self.error("injected failure")
            self.served += 1
            yield (
                self.x[start : start + self.batch_size],
                self.y[start : start + self.batch_size],
            )


# --------------------------------------------------------------------------
# The loss of each batch is exact
# --------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["arrays", "dataset"])
def test_records_true_batch_loss_with_regularization(source):
    """Each recorded loss is that batch's loss (data + L2) at the weights before its step.

    The dataset case (tf.data on TensorFlow, a list of batches elsewhere) has 4
    batches and 10 steps, so it also checks cycling in order.
    """
    x, y = _classification_data(n=64)
    set_seed(1)
    model = _softmax_regression(keras.optimizers.SGD(learning_rate=0.1))
    kernel, bias = (v.numpy() for v in model.weights)
    steps, bs = 10, 16
    if source == "arrays":
        result = lr_range_test(
            model,
            x,
            y,
            batch_size=bs,
            start_lr=0.05,
            end_lr=2.0,
            num_steps=steps,
            stop_factor=None,
            shuffle=False,
        )
    else:
        ds = _dataset(x, y, batch_size=bs)
        result = lr_range_test(
            model, ds, start_lr=0.05, end_lr=2.0, num_steps=steps, stop_factor=None
        )
    # The LR of each step, as the float32 variable holds it.
    np.testing.assert_array_equal(
        result.lrs, _exp_plan(0.05, 2.0, steps).astype("float32")
    )
    batches = [(x[s : s + bs], y[s : s + bs]) for s in range(0, 64, bs)]
    order = [batches[i % 4] for i in range(steps)]  # 4 batches a pass, cycled
    expected = _replay_sgd(kernel, bias, order, result.lrs)
    np.testing.assert_allclose(result.losses, expected, rtol=2e-5)
    assert len(result.losses) == steps and not result.stopped_early


def test_running_mean_demo_is_keras_running_mean_and_differs():
    x, y = _classification_data(n=64)
    set_seed(1)
    model = _softmax_regression(keras.optimizers.SGD(learning_rate=0.1))
    kernel, bias = (v.numpy() for v in model.weights)
    kw = {
        "batch_size": 16,
        "start_lr": 0.3,
        "end_lr": 3.0,
        "num_steps": 8,
        "stop_factor": None,
        "shuffle": False,
    }
    naive = lr_range_test(model, x, y, loss_source="running_mean", **kw)
    true = lr_range_test(model, x, y, **kw)
    batches = [(x[s : s + 16], y[s : s + 16]) for s in range(0, 64, 16)]
    expected = _replay_sgd(kernel, bias, [batches[i % 4] for i in range(8)], true.lrs)
    # An epoch is one pass (4 batches): the running mean restarts at steps 0 and 4.
    running = np.concatenate(
        [
            np.cumsum(expected[:4]) / np.arange(1, 5),
            np.cumsum(expected[4:]) / np.arange(1, 5),
        ]
    )
    np.testing.assert_allclose(naive.losses, running, rtol=2e-5)
    np.testing.assert_allclose(true.losses, expected, rtol=2e-5)
    assert naive.loss_source == "running_mean"
    # The loss falls fast here, so the running mean lags well above the batch loss.
    assert np.max(np.abs(naive.losses - true.losses) / true.losses) > 0.05


# --------------------------------------------------------------------------
# The traced loop (many steps per call) against one train_on_batch per step
# --------------------------------------------------------------------------


def _stop_length(values, smoothing=0.98, stop_factor=4.0):
    """``(kept, stopped)``: the steps a range test keeps, up to the first that diverged.

    The smoothed value is the bias-corrected moving average; a step diverged
    when it is not finite or exceeds ``stop_factor`` times its lowest value so far.
    """
    avg, best = 0.0, math.inf
    for i, value in enumerate(values):
        avg = smoothing * avg + (1 - smoothing) * value
        smoothed = avg / (1 - smoothing ** (i + 1))
        if not math.isfinite(smoothed):
            return i + 1, True
        best = min(best, smoothed)
        if stop_factor is not None and smoothed > stop_factor * best:
            return i + 1, True
    return len(values), False


def _reference_run(model, batches, lrs, smoothing=0.98, stop_factor=4.0):
    """The independent reference: a plain loop, one ``model.train_on_batch`` per step.

    Sets the learning rate before each step, records the loss Keras returns
    for the batch, and stops as the range test should (:func:`_stop_length`).
    Returns ``(losses, stopped_early)``; the model is left trained.
    """
    losses = []
    for batch, lr in zip(batches, lrs):
        x, y, w = (tuple(batch) + (None,))[:3]
        model.optimizer.learning_rate = float(lr)
        losses.append(
            float(model.train_on_batch(x, y, sample_weight=w, return_dict=True)["loss"])
        )
        if _stop_length(losses, smoothing, stop_factor)[1]:
            return np.array(losses), True
    return np.array(losses), False


def _no_train_on_batch(*args, **kwargs):
    raise AssertionError("the traced loop must not fall back to train_on_batch")


@pytest.mark.tensorflow_only(TRACED_LOOP)
@pytest.mark.parametrize(
    "chunk", [3, 7, 128], ids=["3-per-call", "7-per-call", "one-call"]
)
def test_traced_loop_matches_per_step_reference(trained_model, monkeypatch, chunk):
    """Batch norm, dropout, L2, Adam: each loss as train_on_batch gives it, same stop.

    The loop itself leaves at the step that diverged (it ran no step past it);
    with 3 or 7 steps per call, the test takes several calls.
    """
    model, x, y = trained_model
    monkeypatch.setattr(lr_finder, "_CHUNK_STEPS", chunk)
    monkeypatch.setattr(model, "train_on_batch", _no_train_on_batch)
    original, ran = lr_finder._TracedSteps.__call__, []

    def call(self, group, lrs, recorder):
        losses = original(self, group, lrs, recorder)
        ran.append(len(losses))
        return losses

    monkeypatch.setattr(lr_finder._TracedSteps, "__call__", call)
    before = _state(model)
    result = lr_range_test(
        model,
        x,
        y,
        batch_size=16,
        num_steps=40,
        start_lr=1e-4,
        end_lr=1e3,
        shuffle=False,
    )
    monkeypatch.undo()
    _assert_same_state(before, _state(model))
    assert (
        sum(ran) == len(result.losses) and ran[0] == min(8, chunk) <= max(ran) <= chunk
    )
    batches = [(x[s : s + 16], y[s : s + 16]) for s in range(0, 64, 16)]
    plan = _exp_plan(1e-4, 1e3, 40).astype("float32")
    expected, stopped = _reference_run(model, [batches[i % 4] for i in range(40)], plan)
    assert stopped and result.stopped_early
    assert len(result.losses) == len(expected) < 40
    np.testing.assert_allclose(result.losses, expected, rtol=1e-5)
    np.testing.assert_array_equal(result.lrs, plan[: len(expected)])


@pytest.mark.tensorflow_only(TRACED_LOOP)
def test_running_mean_stop_discards_the_steps_run_past_it(trained_model, monkeypatch):
    """The loop cannot see the running mean: it runs the whole call, extra steps go."""
    model, x, y = trained_model
    monkeypatch.setattr(lr_finder, "_FIRST_CALL_STEPS", 40)  # all 40 steps in one call
    original, ran = lr_finder._TracedSteps.__call__, []

    def call(self, group, lrs, recorder):
        losses = original(self, group, lrs, recorder)
        ran.append(len(losses))
        return losses

    monkeypatch.setattr(lr_finder._TracedSteps, "__call__", call)
    before = _state(model)
    result = lr_range_test(
        model,
        x,
        y,
        batch_size=16,
        num_steps=40,
        start_lr=1e-4,
        end_lr=1e3,
        shuffle=False,
        loss_source="running_mean",
    )
    _assert_same_state(before, _state(model))
    assert ran == [40]
    batches = [(x[s : s + 16], y[s : s + 16]) for s in range(0, 64, 16)]
    plan = _exp_plan(1e-4, 1e3, 40).astype("float32")
    losses, _ = _reference_run(
        model, [batches[i % 4] for i in range(40)], plan, stop_factor=None
    )
    # An epoch is one pass (4 equal batches): the running mean restarts every 4 steps.
    passes = [losses[a : a + 4] for a in range(0, len(losses), 4)]
    running = np.concatenate([np.cumsum(p) / np.arange(1, len(p) + 1) for p in passes])
    kept, stopped = _stop_length(running)
    assert stopped and result.stopped_early and len(result.losses) == kept < 40
    np.testing.assert_allclose(result.losses, running[:kept], rtol=1e-5)


@pytest.mark.tensorflow_only(TRACED_LOOP)
def test_loop_that_leaves_early_is_resumed(trained_model, monkeypatch):
    """If the loop stops before the recorder would, the next call goes on from there."""
    model, x, y = trained_model
    kw = {
        "batch_size": 16,
        "num_steps": 12,
        "start_lr": 1e-4,
        "end_lr": 1e-2,
        "shuffle": False,
    }
    plain = lr_range_test(model, x, y, **kw)
    original = lr_finder._TracedSteps.__call__
    sizes = []

    def leaves_early(self, group, lrs, recorder):
        keep = max(1, len(group) // 2)  # as if the loop saw a divergence half-way
        sizes.append((len(group), keep))
        return original(self, group[:keep], lrs[:keep], recorder)

    monkeypatch.setattr(lr_finder._TracedSteps, "__call__", leaves_early)
    resumed = lr_range_test(model, x, y, **kw)
    assert sizes[0] == (8, 4) and sum(keep for _, keep in sizes) == 12
    np.testing.assert_array_equal(resumed.lrs, plain.lrs)
    np.testing.assert_allclose(resumed.losses, plain.losses, rtol=1e-6)
    assert not resumed.stopped_early


@pytest.mark.tensorflow_only(TRACED_LOOP)
def test_calls_are_sized_by_their_duration(monkeypatch):
    """8 steps in the first call, then as many as fit in ``_CALL_SECONDS`` (here 1)."""
    x, y = _classification_data(n=64)
    set_seed(1)
    model = _softmax_regression(keras.optimizers.SGD(0.1, momentum=0.9))
    kw = {"batch_size": 16, "num_steps": 12, "start_lr": 1e-3, "end_lr": 1.0}
    default = lr_range_test(model, x, y, **kw)
    original, ran = lr_finder._TracedSteps.__call__, []

    def call(self, group, lrs, recorder):
        ran.append(len(group))
        return original(self, group, lrs, recorder)

    monkeypatch.setattr(lr_finder._TracedSteps, "__call__", call)
    monkeypatch.setattr(lr_finder, "_CALL_SECONDS", 0.0)
    one_by_one = lr_range_test(model, x, y, **kw)
    assert ran == [8, 1, 1, 1, 1]
    np.testing.assert_array_equal(one_by_one.lrs, default.lrs)
    np.testing.assert_allclose(one_by_one.losses, default.losses, rtol=1e-6)


def test_dataset_with_partial_batches_and_sample_weights(monkeypatch):
    """100 samples in batches of 32: 32, 32, 32, 4 a pass (two kinds), weighted."""
    x, y = _classification_data(n=100, seed=4)
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=100).astype("float32")
    set_seed(2)
    model = _bn_dropout_model(keras.optimizers.SGD(0.05, momentum=0.9))
    ds = _dataset(x, y, w, batch_size=32)
    if TENSORFLOW:  # the traced loop runs both kinds of batch
        monkeypatch.setattr(model, "train_on_batch", _no_train_on_batch)
    result = lr_range_test(
        model, ds, num_steps=10, start_lr=1e-3, end_lr=0.3, stop_factor=None
    )
    monkeypatch.undo()
    batches = _as_numpy(ds)
    expected, _ = _reference_run(
        model, [batches[i % 4] for i in range(10)], result.lrs, stop_factor=None
    )
    np.testing.assert_allclose(result.losses, expected, rtol=1e-5)


class _OwnTrainStep(keras.Sequential):
    """A model with its own ``train_step``: the loop runs it (not a copy of Keras's)."""

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        # Trains on every sample twice as heavily as Keras's step would.
        weights = keras.ops.full(keras.ops.shape(y), 2.0)
        return super().train_step((x, y, weights))


def test_custom_train_step_is_run():
    if keras.backend.backend() == "jax":
        pytest.skip(
            "a train_step(data) override is TensorFlow's and PyTorch's signature; "
            "JAX's is train_step(state, data)"
        )
    x, y = _classification_data(n=64)
    set_seed(1)
    model = _OwnTrainStep(
        [keras.Input((NUM_FEATURES,)), keras.layers.Dense(NUM_CLASSES)], name="own_step"
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    result = lr_range_test(
        model,
        x,
        y,
        batch_size=16,
        num_steps=8,
        start_lr=0.01,
        end_lr=1.0,
        shuffle=False,
        stop_factor=None,
    )
    initial = model.get_weights()
    batches = [(x[s : s + 16], y[s : s + 16]) for s in range(0, 64, 16)]
    expected, _ = _reference_run(
        model, [batches[i % 4] for i in range(8)], result.lrs, stop_factor=None
    )
    np.testing.assert_allclose(result.losses, expected, rtol=1e-5)
    # The weight of 2 doubles the (mean-reduced) data loss against a plain step's.
    plain = _softmax_regression(keras.optimizers.SGD(0.1), l2=0)
    plain.set_weights(initial)
    assert plain.train_on_batch(*batches[0], return_dict=True)["loss"] == pytest.approx(
        expected[0] / 2, rel=1e-5
    )


def test_mixed_precision_loss_scale_optimizer():
    """float16 layers, a LossScaleOptimizer: inner LR swept, loss scale restored."""
    x, y = _classification_data(n=64)
    set_seed(5)
    model = keras.Sequential(
        [
            keras.Input((NUM_FEATURES,)),
            keras.layers.Dense(8, dtype="mixed_float16"),
            keras.layers.BatchNormalization(dtype="mixed_float16"),
            keras.layers.Activation("relu", dtype="mixed_float16"),
            keras.layers.Dense(NUM_CLASSES, dtype="float32"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.LossScaleOptimizer(
            keras.optimizers.SGD(0.05, momentum=0.9)
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    before = _state(model)
    assert any("scale" in path for path, _ in before)
    result = lr_range_test(
        model,
        x,
        y,
        batch_size=16,
        num_steps=30,
        start_lr=1e-3,
        end_lr=1e3,
        shuffle=False,
    )
    _assert_same_state(before, _state(model))
    batches = [(x[s : s + 16], y[s : s + 16]) for s in range(0, 64, 16)]
    plan = _exp_plan(1e-3, 1e3, 30).astype("float32")
    expected, stopped = _reference_run(model, [batches[i % 4] for i in range(30)], plan)
    assert stopped == result.stopped_early and len(result.losses) == len(expected)
    np.testing.assert_allclose(result.losses, expected, rtol=1e-5)


def test_run_eagerly_takes_one_train_on_batch_per_step(monkeypatch):
    x, y = _classification_data(n=64)
    set_seed(1)
    model = _softmax_regression(keras.optimizers.SGD(learning_rate=0.1))
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        run_eagerly=True,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    kernel, bias = (v.numpy() for v in model.weights)
    calls = []
    original = model.train_on_batch
    monkeypatch.setattr(
        model, "train_on_batch", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    result = lr_range_test(
        model,
        x,
        y,
        batch_size=16,
        start_lr=0.05,
        end_lr=2.0,
        num_steps=6,
        stop_factor=None,
        shuffle=False,
    )
    assert len(calls) == 6
    batches = [(x[s : s + 16], y[s : s + 16]) for s in range(0, 64, 16)]
    expected = _replay_sgd(kernel, bias, [batches[i % 4] for i in range(6)], result.lrs)
    np.testing.assert_allclose(result.losses, expected, rtol=2e-5)


# --------------------------------------------------------------------------
# Restoration
# --------------------------------------------------------------------------


@pytest.fixture
def trained_model():
    """A model with BN, dropout and Adam state, trained a few steps (optimizer built, iterations > 0)."""
    x, y = _classification_data(n=64)
    set_seed(3)
    model = _bn_dropout_model(keras.optimizers.Adam(1e-2))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return model, x, y


def test_restores_everything_bit_for_bit(trained_model):
    model, x, y = trained_model
    lr_object, train_function = model.optimizer._learning_rate, model.train_function
    before = _state(model)
    result = lr_range_test(
        model, x, y, batch_size=16, num_steps=30, start_lr=1e-4, end_lr=10.0
    )
    assert len(result.lrs) >= 10
    _assert_same_state(before, _state(model))
    assert model.optimizer._learning_rate is lr_object
    assert model.train_function is train_function


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("where", ["data", "traced_loop", "per_batch_step"])
def test_restores_after_an_exception(trained_model, monkeypatch, error, where):
    """An exception while reading data, between two calls of the loop, or in a step.

    ``per_batch_step``: a model that runs eagerly takes one ``train_on_batch`` a step.
    """
    model, x, y = trained_model
    if where == "traced_loop" and not TENSORFLOW:
        pytest.skip(TRACED_LOOP)
    before = _state(model)
    if where == "data":
        # 4 batches a pass: fails in the 2nd pass.
        data = _Batches(x, y, 16, fail_at=6, error=error)
        with pytest.raises(error):
            lr_range_test(model, data, num_steps=20, start_lr=1e-3, end_lr=1.0)
        assert data.served == 6
    elif where == "traced_loop":
        # 4 steps a call: the first two calls train (the model moves), then the failure.
        monkeypatch.setattr(lr_finder, "_CHUNK_STEPS", 4)
        calls = {"n": 0}
        original = lr_finder._TracedSteps.__call__

        def call(self, *args, **kwargs):
            calls["n"] += 1
            losses = original(self, *args, **kwargs)
            if calls["n"] == 2:
                assert not np.array_equal(model.weights[0].numpy(), before_kernel)
                raise error("injected failure")
            return losses

        before_kernel = model.weights[0].numpy()
        monkeypatch.setattr(lr_finder._TracedSteps, "__call__", call)
        with pytest.raises(error):
            lr_range_test(
                model, x, y, batch_size=16, num_steps=20, start_lr=1e-3, end_lr=1.0
            )
        assert calls["n"] == 2
    else:
        monkeypatch.setattr(model, "run_eagerly", True)
        calls = {"n": 0}
        original = model.train_on_batch

        def train_on_batch(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 5:
                raise error("injected failure")
            return original(*args, **kwargs)

        monkeypatch.setattr(model, "train_on_batch", train_on_batch)
        with pytest.raises(error):
            lr_range_test(
                model, x, y, batch_size=16, num_steps=20, start_lr=1e-3, end_lr=1.0
            )
        assert calls["n"] == 5
    _assert_same_state(before, _state(model))


@pytest.mark.tensorflow_only(TRACED_LOOP)
def test_restores_after_an_error_inside_the_traced_loop(trained_model, monkeypatch):
    """A step that fails at run time inside the loop, after four updates in the call."""
    model, x, y = trained_model
    before = _state(model)
    start = int(model.optimizer.iterations.numpy())
    original = model.train_step

    def train_step(data):  # an instance override: the loop runs it, with its assertion
        tf.debugging.assert_less(
            model.optimizer.iterations, tf.constant(start + 4, "int64")
        )
        return original(data)

    monkeypatch.setattr(model, "train_step", train_step)
    with pytest.raises(tf.errors.InvalidArgumentError):
        lr_range_test(
            model, x, y, batch_size=16, num_steps=20, start_lr=1e-3, end_lr=1.0
        )
    _assert_same_state(before, _state(model))


def _global_generators():
    """The states of NumPy's, Python's (and PyTorch's) global generators, comparable with ``==``."""
    kind, key, *rest = np.random.get_state()
    states = [kind, key.tobytes(), tuple(rest), random.getstate()]
    if keras.backend.backend() == "torch":
        import torch

        states.append(torch.get_rng_state().numpy().tobytes())
    return states


def _twin_runs(make_optimizer, *, pre_train, use_finder, finder_kwargs=None):
    """Build, optionally pre-train, optionally run the finder, then train; return the final state.

    ``use_finder``: False, True (lr_range_test) or "callback" (a fit with the LRFinder callback).

    On JAX and PyTorch the first ``fit`` of a model that is not built reads a
    batch to build it first, and that read draws from a global generator: a
    permutation from NumPy's on JAX (Keras shuffles arrays with it), the
    DataLoader's seed from PyTorch's on PyTorch (which an unseeded ``Dropout``
    draws its masks from). The range test builds the model, so that ``fit`` no
    longer draws it: there both twins are built first, as that ``fit`` would
    build them. And the callback's own ``fit`` shuffles with NumPy's generator on
    JAX, so there it does not shuffle. The test itself draws nothing from the
    global generators, which is asserted here.
    """
    x, y = _classification_data(n=64, seed=5)
    keras.backend.clear_session()  # same layer names in both twins
    set_seed(7)
    model = _bn_dropout_model(make_optimizer())
    if pre_train:
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    elif not TENSORFLOW:
        model._symbolic_build(data_batch=(x[:16], y[:16], None))
    if use_finder == "callback":
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=10,
            verbose=0,
            shuffle=TENSORFLOW,
            callbacks=[LRFinder(num_steps=10, start_lr=1e-4, end_lr=10.0)],
        )
    elif use_finder:
        generators = _global_generators()
        lr_range_test(
            model,
            x,
            y,
            batch_size=16,
            num_steps=25,
            start_lr=1e-4,
            end_lr=10.0,
            **(finder_kwargs or {}),
        )
        # No reseeding: the finder must not consume any global random state either.
        assert _global_generators() == generators
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=True)
    # train_on_batch with the finder's input signature: a train_function left over from
    # the finder (tracing in a stand-in schedule) would be reused here.
    for start in (0, 16):
        model.train_on_batch(x[start : start + 16], y[start : start + 16])
    return _state(model)


@pytest.mark.parametrize(
    "pre_train", [False, True], ids=["unbuilt-optimizer", "trained-optimizer"]
)
@pytest.mark.parametrize(
    "finder", [True, "callback"], ids=["lr_range_test", "callback"]
)
def test_trains_afterwards_exactly_as_without_finder(pre_train, finder):
    make = lambda: keras.optimizers.SGD(0.05, momentum=0.9)
    without = _twin_runs(make, pre_train=pre_train, use_finder=False)
    with_finder = _twin_runs(make, pre_train=pre_train, use_finder=finder)
    _assert_same_state(without, with_finder)


def test_unbuilt_optimizer_is_left_freshly_built():
    x, y = _classification_data(n=64)
    model = _softmax_regression(keras.optimizers.SGD(0.1, momentum=0.9))
    assert not model.optimizer.built
    lr_range_test(model, x, y, batch_size=16, num_steps=10)
    assert int(model.optimizer.iterations.numpy()) == 0
    for v in model.optimizer.variables:
        if "momentum" in v.path:
            assert not np.any(v.numpy()), v.path  # as SGD.build creates them: zeros
    assert math.isclose(float(model.optimizer.learning_rate), 0.1, rel_tol=1e-7)


def test_schedule_is_swept_and_put_back():
    """An optimizer built with a LearningRateSchedule: swept all the same, schedule object back after."""
    schedule = keras.optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=4, decay_rate=0.5
    )
    make = lambda: keras.optimizers.SGD(learning_rate=schedule)
    # Pre-training traces a train_function with the schedule in it: the finder must not use it.
    x, y = _classification_data(n=64, seed=5)
    set_seed(7)
    model = _bn_dropout_model(make())
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    lr_before = float(model.optimizer.learning_rate)
    before = _state(model)
    result = lr_range_test(
        model, x, y, batch_size=16, num_steps=40, start_lr=1e-4, end_lr=1e3
    )
    # The sweep really reached the optimizer: the LRs recorded are the plan, and the huge ones diverged.
    np.testing.assert_array_equal(
        result.lrs, _exp_plan(1e-4, 1e3, 40)[: len(result.lrs)].astype("float32")
    )
    assert result.stopped_early
    assert model.optimizer._learning_rate is schedule
    assert float(model.optimizer.learning_rate) == lr_before
    _assert_same_state(before, _state(model))
    # ... and it trains afterwards exactly as without the finder (pre-trained: the harder case,
    # with a train_function traced with the schedule before the finder).
    _assert_same_state(
        _twin_runs(make, pre_train=True, use_finder=False),
        _twin_runs(make, pre_train=True, use_finder=True),
    )


def test_schedule_optimizer_is_swept_at_exactly_the_planned_rates():
    """With a schedule in the optimizer, each step still trains at the plan's rate.

    The losses are those of a NumPy replay of plain SGD at the recorded rates, so
    a step that read the schedule (or a stale rate) instead would show. On JAX
    and PyTorch this is the optimizer-tracked stand-in variable at work.
    """
    x, y = _classification_data(n=64)
    set_seed(1)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.5, 2, 0.1)
    model = _softmax_regression(keras.optimizers.SGD(learning_rate=schedule))
    kernel, bias = (v.numpy() for v in model.weights)
    result = lr_range_test(
        model,
        x,
        y,
        batch_size=16,
        start_lr=0.05,
        end_lr=2.0,
        num_steps=10,
        stop_factor=None,
        shuffle=False,
    )
    np.testing.assert_array_equal(
        result.lrs, _exp_plan(0.05, 2.0, 10).astype("float32")
    )
    batches = [(x[s : s + 16], y[s : s + 16]) for s in range(0, 64, 16)]
    expected = _replay_sgd(
        kernel, bias, [batches[i % 4] for i in range(10)], result.lrs
    )
    np.testing.assert_allclose(result.losses, expected, rtol=2e-5)
    assert model.optimizer._learning_rate is schedule
    # The iteration count alone (plain SGD has no slots): no stand-in left tracked.
    assert [v.name for v in model.optimizer.variables] == ["iteration"]


# --------------------------------------------------------------------------
# A problem whose divergence threshold is known
# --------------------------------------------------------------------------


def test_least_squares_stops_past_the_stability_limit():
    """Full-batch GD on mean squared error diverges exactly above lr = 2 / lambda_max(H).

    L(w) = mean((X w - y)^2) has Hessian H = 2/n X^T X. Below the limit
    every step lowers the loss (descent lemma), so the smoothed loss (a running
    convex combination of lower and lower values) never rises and the test
    cannot stop there; above it the error along the top eigenvector grows by
    |1 - lr * lambda_max| > 1 per step.
    """
    rng = np.random.default_rng(0)
    n, d = 32, 4
    x = (rng.normal(size=(n, d)) * np.array([3.0, 1.5, 1.0, 0.5])).astype("float32")
    y = (x @ rng.normal(size=(d, 1)) + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    hessian = 2.0 / n * x.astype(float).T @ x.astype(float)
    lr_limit = 2.0 / np.linalg.eigvalsh(hessian).max()

    model = keras.Sequential(
        [
            keras.Input((d,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    result = lr_range_test(
        model,
        x,
        y,
        batch_size=n,
        shuffle=False,
        num_steps=100,
        start_lr=1e-3 * lr_limit,
        end_lr=1e2 * lr_limit,
    )
    assert result.stopped_early
    assert result.lrs[-1] > lr_limit  # the step that triggered the stop
    below = result.lrs < lr_limit
    # Monotone descent below the limit.
    assert np.all(np.diff(result.losses[below]) <= 1e-6 * result.losses[0])
    suggestions = result.suggestions()
    assert set(suggestions) == set(lr_finder.SUGGESTION_METHODS)
    for method, lr in suggestions.items():
        assert 0 < lr < lr_limit, (method, lr, lr_limit)


# --------------------------------------------------------------------------
# The callback
# --------------------------------------------------------------------------


def test_callback_recovers_true_batch_losses_across_epochs():
    """fit with a partial last batch (100 = 3 * 32 + 4) over 3 epochs: 11 batches, epoch resets at 4 and 8."""
    x, y = _classification_data(n=100, seed=2)
    set_seed(1)
    model = _softmax_regression(keras.optimizers.SGD(learning_rate=0.1))
    kernel, bias = (v.numpy() for v in model.weights)
    finder = LRFinder(
        start_lr=0.05, end_lr=2.0, num_steps=11, stop_factor=None, restore_weights=False
    )
    naive = []

    class Naive(keras.callbacks.Callback):  # what a naive finder sees
        def on_train_batch_end(self, batch, logs=None):
            naive.append(float(logs["loss"]))

    model.fit(
        x,
        y,
        batch_size=32,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[finder, Naive()],
    )
    result = finder.result
    np.testing.assert_array_equal(
        result.lrs, _exp_plan(0.05, 2.0, 11).astype("float32")
    )
    batches = [(x[s : s + 32], y[s : s + 32]) for s in (0, 32, 64, 96)]
    expected = _replay_sgd(
        kernel, bias, [batches[i % 4] for i in range(11)], result.lrs
    )
    np.testing.assert_allclose(result.losses, expected, rtol=2e-5)
    # The logs hold the batch-size-weighted running mean, restarting each epoch.
    sizes = np.array([32, 32, 32, 4] * 3)[:11]
    weighted = [
        np.cumsum((expected * sizes)[a:b]) / np.cumsum(sizes[a:b])
        for a, b in ((0, 4), (4, 8), (8, 11))
    ]
    np.testing.assert_allclose(naive, np.concatenate(weighted), rtol=2e-5)
    assert np.max(np.abs(np.array(naive) - expected) / expected) > 0.05
    # restore_weights=False keeps the trained weights but not the swept LR.
    assert not np.array_equal(model.weights[0].numpy(), kernel)
    assert math.isclose(float(model.optimizer.learning_rate), 0.1, rel_tol=1e-7)


def test_callback_stops_and_restores(trained_model):
    model, x, y = trained_model
    before = _state(model)
    finder = LRFinder(start_lr=1e-4, end_lr=1e4, num_steps=30)
    history = model.fit(x, y, batch_size=16, epochs=20, verbose=0, callbacks=[finder])
    assert finder.result.stopped_early and len(finder.result.lrs) < 30
    assert len(history.epoch) < 20
    _assert_same_state(before, _state(model))
    # Stops after num_steps batches when the loss does not diverge.
    finder = LRFinder(start_lr=1e-6, end_lr=1e-5, num_steps=6)
    history = model.fit(x, y, batch_size=16, epochs=20, verbose=0, callbacks=[finder])
    assert (
        len(finder.result.lrs) == 6
        and not finder.result.stopped_early
        and len(history.epoch) == 2
    )
    _assert_same_state(before, _state(model))
    config = finder.get_config()
    assert LRFinder.from_config(config).get_config() == config


def test_callback_restore_after_fit_raised(trained_model):
    """Keras skips on_train_end when fit raises: LRFinder.restore() in a finally block puts all back."""
    model, x, y = trained_model
    before = _state(model)

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise KeyboardInterrupt

    finder = LRFinder(start_lr=1e-3, end_lr=1.0, num_steps=20)
    with pytest.raises(KeyboardInterrupt):
        try:
            model.fit(
                x,
                y,
                batch_size=16,
                epochs=5,
                verbose=0,
                callbacks=[finder, Interrupt()],
            )
        finally:
            finder.restore()
    assert len(finder.result.lrs) == 3
    _assert_same_state(before, _state(model))
    finder.restore()  # a second call does nothing
    _assert_same_state(before, _state(model))


def test_callback_with_schedule_puts_schedule_back():
    schedule = keras.optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=4, decay_rate=0.5
    )
    x, y = _classification_data(n=64)
    model = _softmax_regression(keras.optimizers.SGD(learning_rate=schedule))
    # Traces a train_function with the schedule.
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    before = _state(model)
    finder = LRFinder(start_lr=1e-3, end_lr=1e3, num_steps=40)
    model.fit(x, y, batch_size=16, epochs=10, verbose=0, callbacks=[finder])
    assert finder.result.stopped_early  # the swept LR reached the optimizer
    assert model.optimizer._learning_rate is schedule
    _assert_same_state(before, _state(model))


# --------------------------------------------------------------------------
# Input handling and errors
# --------------------------------------------------------------------------


def test_top_level_exports():
    assert lrbook.lr_range_test is lr_range_test
    assert lrbook.LRFinderResult is LRFinderResult
    assert lrbook.LRFinder is LRFinder


def test_linear_mode_and_small_data():
    x, y = _classification_data(n=10)
    model = _softmax_regression(keras.optimizers.SGD(0.1))
    # Fewer samples than batch_size: every step uses all 10.
    result = lr_range_test(
        model,
        x,
        y,
        batch_size=32,
        start_lr=0.01,
        end_lr=0.1,
        num_steps=4,
        mode="linear",
        stop_factor=None,
    )
    np.testing.assert_allclose(result.lrs, [0.01, 0.04, 0.07, 0.1], rtol=1e-6)
    assert result.mode == "linear"


def test_one_shot_generator_ends_the_test_with_a_warning():
    x, y = _classification_data(n=64)
    model = _softmax_regression(keras.optimizers.SGD(0.1))
    gen = ((x[s : s + 16], y[s : s + 16]) for s in range(0, 64, 16))
    with pytest.warns(UserWarning, match="ran out after 4 of 10 steps"):
        result = lr_range_test(model, gen, num_steps=10, stop_factor=None)
    assert len(result.lrs) == 4


@pytest.fixture(scope="module")
def compiled_model():
    """Trained for one epoch: every variable, the optimizer's momentum included, has a value."""
    model = _softmax_regression(keras.optimizers.SGD(0.1, momentum=0.9))
    model.fit(_X, _Y, batch_size=4, epochs=1, verbose=0)
    return model


_X, _Y = _classification_data(n=16)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"start_lr": 1.0, "end_lr": 0.1},
            "Argument `start_lr` must be < `end_lr`. Received: start_lr=1.0, end_lr=0.1",
        ),
        (
            {"start_lr": 0.0},
            "Argument `start_lr` must be a finite number > 0. Received: start_lr=0.0",
        ),
        (
            {"start_lr": -1e-3},
            "Argument `start_lr` must be a finite number > 0. Received: start_lr=-0.001",
        ),
        (
            {"end_lr": float("inf")},
            "Argument `end_lr` must be a finite number > 0. Received: end_lr=inf",
        ),
        (
            {"num_steps": 1},
            "Argument `num_steps` must be an integer >= 2. Received: num_steps=1",
        ),
        (
            {"num_steps": 10.0},
            "Argument `num_steps` must be an integer >= 2. Received: num_steps=10.0",
        ),
        (
            {"smoothing": 1.0},
            r"Argument `smoothing` must be a number in \[0, 1\). Received: smoothing=1.0",
        ),
        (
            {"smoothing": -0.1},
            r"Argument `smoothing` must be a number in \[0, 1\). Received: smoothing=-0.1",
        ),
        (
            {"stop_factor": 1.0},
            "Argument `stop_factor` must be > 1.*Received: stop_factor=1.0",
        ),
        (
            {"stop_factor": 0.5},
            "Argument `stop_factor` must be > 1.*Received: stop_factor=0.5",
        ),
        (
            {"mode": "cosine"},
            r"Argument `mode` must be one of \('exponential', 'linear'\). Received: mode='cosine'",
        ),
        (
            {"loss_source": "logs"},
            "Argument `loss_source` must be one of .*Received: loss_source='logs'",
        ),
        (
            {"y": None},
            "Argument `y` must be given when `x` holds arrays. Received: y=None",
        ),
        (
            {"batch_size": None},
            "Argument `batch_size` must be a positive integer .*Received: batch_size=None",
        ),
        (
            {"batch_size": 0},
            "Argument `batch_size` must be a positive integer .*Received: batch_size=0",
        ),
        (
            {"x": _X[:0], "y": _Y[:0]},
            r"Argument `x` must be arrays of at least one sample. Received: x=<arrays of shapes \[\(0, 6\)\]>",
        ),
        (
            {"y": _Y[:5]},
            "Argument `y` must be as long as `x`. Received: y=<5 samples>, x=<16 samples>",
        ),
        (
            {
                "x": _dataset(_X[:0], _Y[:0], batch_size=4),
                "y": None,
                "batch_size": None,
            },
            "Argument `x` must be a source of at least one batch. Received: x=<an empty",
        ),
        (
            {"x": _dataset(_X, _Y, batch_size=4), "y": None},
            "Argument `batch_size` must be None when `x` is a dataset.*Received: batch_size=4",
        ),
        (
            {
                "x": _dataset(_X, _Y, batch_size=4),
                "batch_size": None,
            },
            "Argument `y` must be None when `x` is a dataset",
        ),
    ],
)
def test_value_errors(compiled_model, kwargs, message):
    args = {"x": _X, "y": _Y, "batch_size": 4}
    args.update(kwargs)
    before = _state(compiled_model)
    assert any("momentum" in path for path, _ in before)  # the optimizer's state is in
    with pytest.raises(ValueError, match=message):
        lr_range_test(compiled_model, **args)
    _assert_same_state(before, _state(compiled_model))


def test_uncompiled_model_and_callback_errors():
    model = keras.Sequential(
        [keras.Input((NUM_FEATURES,)), keras.layers.Dense(NUM_CLASSES)]
    )
    with pytest.raises(ValueError, match="Argument `model` must be compiled"):
        lr_range_test(model, _X, _Y, batch_size=4)
    with pytest.raises(
        ValueError,
        match="Argument `start_lr` must be < `end_lr`. Received: start_lr=2, end_lr=1",
    ):
        LRFinder(start_lr=2, end_lr=1)
    with pytest.raises(
        ValueError,
        match="Argument `num_steps` must be an integer >= 2. Received: num_steps=0",
    ):
        LRFinder(num_steps=0)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1), loss="mse", steps_per_execution=2
    )
    with pytest.raises(ValueError, match="steps_per_execution=2"):
        model.fit(
            _X,
            keras.utils.to_categorical(_Y, NUM_CLASSES),
            batch_size=4,
            verbose=0,
            callbacks=[LRFinder(num_steps=4)],
        )
