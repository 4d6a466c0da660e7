"""lrbook.callbacks: ScheduleRecorder records what every update really used."""

from __future__ import annotations

import doctest
import json

import numpy as np

from lrbook.env import quiet_import_tensorflow

quiet_import_tensorflow()
import keras  # noqa: E402

from lrbook import callbacks, optimizers  # noqa: E402
from lrbook.callbacks import ScheduleRecorder  # noqa: E402
from lrbook.schedules import OneCycle, RampUpExpDecay  # noqa: E402

N, BATCH = 32, 8  # 4 updates an epoch


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
        inner = optimizers.unwrap(model.optimizer)
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


def test_doctests():
    result = doctest.testmod(
        callbacks,
        extraglobs={"np": np, "keras": keras},
        optionflags=doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted >= 5 and result.failed == 0


def test_mixed_precision_reads_the_inner_optimizer():
    """Under mixed_float16, compile wraps the optimizer in a LossScaleOptimizer: the trace and
    current_momentum must still read the one-cycle learning rate and momentum of every update."""
    from lrbook.training import current_learning_rate

    sched = OneCycle(max_lr=0.1, total_steps=8)
    momentum = sched.momentum_schedule()
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizers.SGD(sched, momentum=momentum), "mse")
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        recorder, _, model = fit(None, model=model)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    trace = recorder.trace
    steps = np.arange(8)
    assert trace.momentum_name == "momentum" and trace.momentum is not None
    np.testing.assert_allclose(
        trace.lr, keras.ops.convert_to_numpy(sched(steps)), rtol=1e-6
    )
    np.testing.assert_allclose(
        trace.momentum, keras.ops.convert_to_numpy(momentum(steps)), rtol=1e-6
    )
    # The next update's values, read through the wrapper.
    assert optimizers.current_momentum(model.optimizer) == float(
        keras.ops.convert_to_numpy(momentum(8))
    )
    assert np.isclose(
        current_learning_rate(model.optimizer),
        float(keras.ops.convert_to_numpy(sched(8))),
    )
