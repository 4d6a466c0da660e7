"""lrbook.callbacks: ScheduleRecorder records what every update really used."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lrbook.env import import_keras

import_keras()
import keras

from lrbook import optimizers, training
from lrbook.callbacks import ScheduleRecorder
from lrbook.schedules import OneCycle, RampUpExpDecay

N, BATCH = 32, 8  # 4 updates an epoch


def synced(model):
    """``model`` with the running ``fit``'s state in its variables.

    On JAX that state lives apart from the variables during ``fit``; a callback's
    ``self.model`` syncs it, a closure over the model (as in these spies) must ask.
    """
    if hasattr(model, "jax_state_sync"):
        model.jax_state_sync()
    return model


def fit(optimizer, epochs=2, callbacks_before=(), steps_per_execution=1, model=None):
    keras.utils.set_random_seed(0)
    x = np.random.normal(size=(N, 3)).astype("float32")
    y = np.random.normal(size=(N, 1)).astype("float32")
    if model is None:
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer, "mse", steps_per_execution=steps_per_execution)
    recorder = ScheduleRecorder()
    used = []  # what the optimizer holds after each update: the momentum that update used

    def after_batch(batch, logs):
        inner = optimizers.unwrap(synced(model).optimizer)
        used.append(
            float(getattr(inner, optimizers.momentum_name(inner) or "iterations"))
        )

    spy = keras.callbacks.LambdaCallback(on_train_batch_end=after_batch)
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        shuffle=False,
        callbacks=[*callbacks_before, recorder, spy],
    )
    return recorder, used, model


def test_one_cycle_with_momentum_is_recorded_exactly():
    sched = OneCycle(0.1, 8, base_momentum=0.6)
    recorder, used, _ = fit(optimizers.SGD(sched, momentum=sched.momentum_schedule()))
    trace = recorder.trace
    steps = np.arange(8)
    np.testing.assert_array_equal(trace.steps, steps)
    np.testing.assert_array_equal(trace.epochs, [0] * 4 + [1] * 4)
    np.testing.assert_allclose(trace.lr, np.asarray(sched(steps)), rtol=1e-7)
    np.testing.assert_allclose(
        trace.momentum, np.asarray(sched.momentum(steps)), rtol=1e-7
    )
    np.testing.assert_allclose(
        trace.momentum, used, rtol=1e-7
    )  # the values the updates used
    assert trace.momentum_name == "momentum" and len(trace) == 8
    assert trace.lr.max() <= 0.1 * (1 + 1e-6) and trace.momentum.min() >= 0.6 * (
        1 - 1e-6
    )


def test_steps_per_execution_still_gives_every_update():
    if keras.backend.backend() == "torch":
        pytest.skip("Keras's PyTorch backend allows steps_per_execution=1 only")
    sched = OneCycle(0.1, 8)
    recorder, _, _ = fit(
        optimizers.Adam(sched, beta_1=sched.momentum_schedule()), steps_per_execution=4
    )
    trace = recorder.trace
    np.testing.assert_array_equal(trace.steps, np.arange(8))
    np.testing.assert_allclose(
        trace.momentum, np.asarray(sched.momentum(np.arange(8))), rtol=1e-7
    )
    assert trace.momentum_name == "beta_1"


def test_float_learning_rate_changed_by_a_callback_is_read_per_batch():
    seed = RampUpExpDecay.article_defaults()
    recorder, _, _ = fit(
        keras.optimizers.Adam(1e-3, beta_1=0.8),
        epochs=3,
        callbacks_before=[keras.callbacks.LearningRateScheduler(seed)],
    )
    trace = recorder.trace
    np.testing.assert_array_equal(trace.steps, np.arange(12))
    np.testing.assert_allclose(
        trace.lr, np.repeat([1e-3, 1e-3 + 1e-3 / 6, 1e-3 + 2e-3 / 6], 4), rtol=1e-6
    )
    np.testing.assert_allclose(trace.momentum, 0.8, rtol=1e-7)


def test_keras_optimizer_with_schedule_and_constant_momentum():
    sched = OneCycle(0.1, 8)
    recorder, _, _ = fit(keras.optimizers.SGD(sched, momentum=0.9))
    trace = recorder.trace
    np.testing.assert_allclose(trace.lr, np.asarray(sched(np.arange(8))), rtol=1e-7)
    np.testing.assert_allclose(trace.momentum, 0.9, rtol=1e-7)


def test_keras_schedule_that_needs_scalar_steps():
    # Keras's CosineDecay with warmup uses ops.cond, which a vector of steps cannot take.
    sched = keras.optimizers.schedules.CosineDecay(
        0.01, 6, warmup_target=0.1, warmup_steps=2
    )
    recorder, _, _ = fit(keras.optimizers.SGD(sched))
    np.testing.assert_allclose(
        recorder.trace.lr, [float(sched(i)) for i in range(8)], rtol=1e-7
    )


def test_optimizer_without_momentum_and_frame():
    recorder, _, _ = fit(keras.optimizers.Adagrad(0.05), epochs=1)
    trace = recorder.trace
    assert trace.momentum is None and trace.momentum_name is None
    frame = trace.to_frame()
    assert list(frame.columns) == ["step", "epoch", "lr"] and len(frame) == 4
    assert np.allclose(frame.lr, 0.05)


def test_records_accumulate_over_fits_until_reset():
    sched = OneCycle(0.1, 16)
    recorder = ScheduleRecorder()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizers.SGD(sched, momentum=sched.momentum_schedule()), "mse")
    x, y = np.zeros((N, 3)), np.zeros((N, 1))
    model.fit(x, y, batch_size=BATCH, verbose=0, callbacks=[recorder])
    model.fit(x, y, batch_size=BATCH, verbose=0, callbacks=[recorder])
    trace = recorder.trace
    np.testing.assert_array_equal(trace.steps, np.arange(8))
    assert list(trace.to_frame().columns) == ["step", "epoch", "lr", "momentum"]
    recorder.reset()
    assert len(recorder.trace) == 0


def test_serializable():
    back = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(ScheduleRecorder())))
    )
    assert isinstance(back, ScheduleRecorder) and len(back.trace) == 0


def ref_one_cycle(
    step,
    total_steps,
    max_lr,
    pct_start=0.3,
    div_factor=25.0,
    final_div_factor=1e4,
    base_momentum=0.85,
    max_momentum=0.95,
):
    """PyTorch's OneCycleLR (two phases, cosine) at ``step``, as its loop writes it: (lr, momentum)."""
    step = min(step, total_steps - 1)
    initial = max_lr / div_factor
    phases = [
        (
            float(pct_start * total_steps) - 1,
            initial,
            max_lr,
            max_momentum,
            base_momentum,
        ),
        (
            float(total_steps - 1),
            max_lr,
            initial / final_div_factor,
            base_momentum,
            max_momentum,
        ),
    ]
    start = 0.0
    for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
        if step <= end or i == len(phases) - 1:
            pct = (step - start) / (end - start)
            cos = math.cos(math.pi * pct) + 1
            return lr1 + (lr0 - lr1) / 2 * cos, m1 + (m0 - m1) / 2 * cos
        start = end


@pytest.fixture
def mixed_float16():
    """The mixed_float16 global policy for one test; float32 again afterwards, whatever happens."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _mixed_fit(optimizer, n, epochs=1, callbacks_before=()):
    """Fit a Dense(1) for ``epochs`` under the current policy; small data, so that no scaled
    gradient overflows float16 and every batch is an update (the loss scale skips the update
    of a batch whose gradient overflows, and keeps the iteration count where it was)."""
    keras.utils.set_random_seed(0)
    x = 0.1 * np.random.normal(size=(n, 3)).astype("float32")
    y = 0.1 * np.random.normal(size=(n, 1)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer, "mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    recorder, seen = ScheduleRecorder(), []

    def before_batch(
        batch, logs
    ):  # what lrbook reads, through the wrapper, before each update
        seen.append(
            (
                optimizers.current_momentum(synced(model).optimizer),
                training.current_learning_rate(model.optimizer),
            )
        )

    def after_batch(
        batch, logs
    ):  # the momentum the update used (the inner optimizer's variable)
        inner = synced(model).optimizer.inner_optimizer
        seen[-1] += (float(keras.ops.convert_to_numpy(inner.momentum)),)

    spy = keras.callbacks.LambdaCallback(
        on_train_batch_begin=before_batch, on_train_batch_end=after_batch
    )
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        shuffle=False,
        callbacks=[*callbacks_before, recorder, spy],
    )
    assert (
        int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        == n // BATCH * epochs
    ), (
        "a batch was skipped by the loss scale: the data must keep the scaled gradients finite"
    )
    return model, recorder.trace, np.asarray(seen, dtype=np.float64)


def test_mixed_precision_one_cycle_reads_the_inner_optimizer(mixed_float16):
    """Under mixed_float16, compile wraps the optimizer in a LossScaleOptimizer, which has a
    learning rate of its own (0.0) and no momentum: every read goes to the inner optimizer."""
    total = 10
    sched = OneCycle(0.1, total)
    model, trace, seen = _mixed_fit(
        optimizers.SGD(sched, momentum=sched.momentum_schedule()), n=total * BATCH
    )
    ref = np.array([ref_one_cycle(s, total, 0.1) for s in range(total + 1)])
    assert trace.momentum_name == "momentum" and trace.momentum is not None
    np.testing.assert_array_equal(trace.steps, np.arange(total))
    np.testing.assert_allclose(trace.lr, ref[:total, 0], rtol=1e-6)
    np.testing.assert_allclose(trace.momentum, ref[:total, 1], rtol=1e-6)
    np.testing.assert_allclose(
        seen[:, 0], ref[:total, 1], rtol=1e-6
    )  # current_momentum
    np.testing.assert_allclose(
        seen[:, 1], ref[:total, 0], rtol=1e-6
    )  # current_learning_rate
    np.testing.assert_allclose(
        seen[:, 2], ref[:total, 1], rtol=1e-6
    )  # what each update used
    # After training: the next update's values (the schedules hold their last value).
    assert optimizers.current_momentum(model.optimizer) == pytest.approx(
        ref[total, 1], rel=1e-6
    )
    assert training.current_learning_rate(model.optimizer) == pytest.approx(
        ref[total, 0], rel=1e-6
    )
    assert (
        float(keras.ops.convert_to_numpy(model.optimizer._learning_rate)) == 0.0
    )  # the wrapper's own


def test_mixed_precision_float_rates_are_read_per_batch(mixed_float16):
    """The per-batch path (a LearningRateScheduler, a float momentum) reads the inner optimizer too."""
    scheduler = keras.callbacks.LearningRateScheduler(
        lambda epoch, lr: 0.1 / (epoch + 1)
    )
    _, trace, seen = _mixed_fit(
        keras.optimizers.SGD(0.5, momentum=0.8),
        n=N,
        epochs=2,
        callbacks_before=[scheduler],
    )
    np.testing.assert_array_equal(trace.steps, np.arange(8))
    np.testing.assert_allclose(trace.lr, np.repeat([0.1, 0.05], 4), rtol=1e-6)
    np.testing.assert_allclose(trace.momentum, 0.8, rtol=1e-6)
    np.testing.assert_allclose(seen[:, 0], 0.8, rtol=1e-6)
    np.testing.assert_allclose(seen[:, 1], np.repeat([0.1, 0.05], 4), rtol=1e-6)
