"""lrbook.optimizers: the momentum schedule really drives the compiled train step.

A tiny linear model is trained by ``fit`` (graph mode, not ``run_eagerly``) and
its weights are compared with a NumPy re-implementation of Keras's SGD-momentum
/ Adam / AdamW updates fed with the per-step momentum sequence. A schedule that
alternates between two very different momenta catches any off-by-one in the
step the momentum is read at.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrbook.env import import_keras

import_keras()
import keras

from lrbook import optimizers
from lrbook.schedules import OneCycle

N, BATCH, EPOCHS = 48, 8, 2
STEPS = N // BATCH * EPOCHS


@keras.saving.register_keras_serializable(package="lrbook_tests")
class Alternating(keras.optimizers.schedules.LearningRateSchedule):
    """``high`` on even steps, ``low`` on odd ones."""

    def __init__(self, high=0.9, low=0.1):
        self.high, self.low = high, low

    def __call__(self, step):
        odd = keras.ops.equal(keras.ops.mod(keras.ops.cast(step, "int64"), 2), 1)
        return keras.ops.where(odd, self.low, self.high)

    def get_config(self):
        return {"high": self.high, "low": self.low}


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 3)).astype("float32")
    y = (
        x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.1 * rng.normal(size=(N, 1))
    ).astype("float32")
    return x, y


def train(optimizer, steps_per_execution=1, jit_compile=False):
    """Fit a Dense(1) on fixed batches; return (initial weights, final weights, model)."""
    keras.utils.set_random_seed(1)
    x, y = data()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    w0 = [w.copy() for w in model.get_weights()]
    model.compile(
        optimizer,
        "mse",
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    assert not model.run_eagerly
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    return w0, model.get_weights(), model


def grads(w, b, step):
    """Gradient of Keras's mean squared error on batch ``step`` (float64)."""
    x, y = data()
    i = step % (N // BATCH)
    xb, yb = (
        x[i * BATCH : (i + 1) * BATCH].astype(float),
        y[i * BATCH : (i + 1) * BATCH].astype(float),
    )
    r = xb @ w + b - yb
    return 2.0 / BATCH * xb.T @ r, 2.0 / BATCH * r.sum(axis=0)


def ref_sgd(w0, lrs, moms, nesterov=False):
    """Keras's SGD: m = mu * m - lr * g; w += m (or mu * m - lr * g with Nesterov)."""
    params = [p.astype(float) for p in w0]
    bufs = [np.zeros_like(p) for p in params]
    for i, (lr, mu) in enumerate(zip(lrs, moms)):
        gs = grads(*params, i)
        for p, m, g in zip(params, bufs, gs):
            m[...] = mu * m - lr * g
            p += (mu * m - lr * g) if nesterov else m
    return params


def ref_adam(w0, lrs, beta_1s, beta_2=0.999, eps=1e-7, weight_decay=None):
    """Keras's Adam (AdamW: w -= w * wd * lr first), with beta_1 of update i = beta_1s[i]."""
    params = [p.astype(float) for p in w0]
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    for i, (lr, b1) in enumerate(zip(lrs, beta_1s)):
        gs = grads(*params, i)
        t = i + 1
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - b1**t)
        for p, m, v, g in zip(params, ms, vs, gs):
            if weight_decay:
                p -= p * weight_decay * lr
            m += (g - m) * (1 - b1)
            v += (g * g - v) * (1 - beta_2)
            p -= m * alpha / (np.sqrt(v) + eps)
    return params


def one_cycle():
    return OneCycle(0.05, STEPS, base_momentum=0.5, max_momentum=0.95)


def seq(schedule, shift=0):
    return [float(schedule(i + shift)) for i in range(STEPS)]


def assert_close(got, want, rtol=1e-4):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-6)


def assert_far(got, want):
    assert max(np.max(np.abs(g - w)) for g, w in zip(got, want)) > 1e-3


def assert_same_training(got, want):
    """Two trainings that run the same maths: equal up to float32 summation order.

    Not bit for bit: without ``tf.config.experimental.enable_op_determinism()`` (which
    is process-wide and cannot be turned off again) a GPU sums gradients in whatever
    order its threads finish, so two identical runs may differ in the last bits. A
    different update (momentum a step off, another rate) lands beyond 1e-3 (``assert_far``).
    """
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- SGD


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("steps_per_execution", [1, 4])
def test_sgd_momentum_schedule_in_compiled_step(nesterov, steps_per_execution):
    if steps_per_execution > 1 and keras.backend.backend() == "torch":
        pytest.skip("Keras's PyTorch backend allows steps_per_execution=1 only")
    mom = Alternating(0.95, 0.05)
    w0, w, model = train(
        optimizers.SGD(0.05, momentum=mom, nesterov=nesterov), steps_per_execution
    )
    lrs = [0.05] * STEPS
    assert_close(w, ref_sgd(w0, lrs, seq(mom), nesterov))
    assert_far(w, ref_sgd(w0, lrs, seq(mom, shift=1), nesterov))  # off by one
    assert_far(w, ref_sgd(w0, lrs, [0.95] * STEPS, nesterov))  # momentum never changed
    assert float(model.optimizer.momentum) == pytest.approx(
        0.05
    )  # the last update's (odd step)


def test_sgd_one_cycle_with_cyclical_momentum():
    sched = one_cycle()
    w0, w, _ = train(optimizers.SGD(sched, momentum=sched.momentum_schedule()))
    assert_close(w, ref_sgd(w0, seq(sched), seq(sched.momentum_schedule())))
    assert_far(w, ref_sgd(w0, seq(sched), [0.95] * STEPS))


def test_sgd_under_xla():
    mom = Alternating(0.9, 0.2)
    w0, w, _ = train(optimizers.SGD(0.05, momentum=mom), jit_compile=True)
    assert_close(w, ref_sgd(w0, [0.05] * STEPS, seq(mom)))


def test_sgd_with_a_float_is_keras_sgd():
    _, w_ours, model = train(optimizers.SGD(0.05, momentum=0.9))
    _, w_keras, _ = train(keras.optimizers.SGD(0.05, momentum=0.9))
    assert_same_training(w_ours, w_keras)
    assert model.optimizer.momentum == 0.9 and model.optimizer.momentum_schedule is None


# ----------------------------------------------------------------------------- Adam / AdamW


@pytest.mark.parametrize(
    "cls,weight_decay", [(optimizers.Adam, None), (optimizers.AdamW, 0.01)]
)
def test_adam_beta_1_schedule_in_compiled_step(cls, weight_decay):
    b1 = Alternating(0.95, 0.3)
    kwargs = {"weight_decay": weight_decay} if weight_decay else {}
    w0, w, model = train(cls(0.01, beta_1=b1, **kwargs))
    lrs = [0.01] * STEPS
    assert_close(w, ref_adam(w0, lrs, seq(b1), weight_decay=weight_decay))
    assert_far(w, ref_adam(w0, lrs, seq(b1, shift=1), weight_decay=weight_decay))
    assert_far(w, ref_adam(w0, lrs, [0.95] * STEPS, weight_decay=weight_decay))
    assert float(model.optimizer.beta_1) == pytest.approx(0.3)


@pytest.mark.parametrize(
    "cls,weight_decay", [(optimizers.Adam, None), (optimizers.AdamW, 0.01)]
)
def test_adam_one_cycle_with_cyclical_beta_1(cls, weight_decay):
    sched = one_cycle()
    kwargs = {"weight_decay": weight_decay} if weight_decay else {}
    w0, w, _ = train(cls(sched, beta_1=sched.momentum_schedule(), **kwargs))
    assert_close(
        w,
        ref_adam(
            w0, seq(sched), seq(sched.momentum_schedule()), weight_decay=weight_decay
        ),
    )


def test_adam_with_a_float_is_keras_adam():
    _, w_ours, _ = train(optimizers.Adam(0.01, beta_1=0.8))
    _, w_keras, _ = train(keras.optimizers.Adam(0.01, beta_1=0.8))
    assert_same_training(w_ours, w_keras)


# ----------------------------------------------------------------------------- saving


@pytest.mark.parametrize(
    "make",
    [
        lambda s: optimizers.SGD(s, momentum=s.momentum_schedule(), nesterov=True),
        lambda s: optimizers.Adam(s, beta_1=s.momentum_schedule()),
        lambda s: optimizers.AdamW(s, weight_decay=1e-3, beta_1=s.momentum_schedule()),
    ],
)
def test_config_round_trip(make):
    opt = make(one_cycle())
    text = json.dumps(keras.saving.serialize_keras_object(opt))
    back = keras.saving.deserialize_keras_object(json.loads(text))
    assert type(back) is type(opt)
    assert json.dumps(keras.saving.serialize_keras_object(back)) == text
    name = optimizers.momentum_name(opt)
    schedule = getattr(back, f"{name}_schedule")
    assert schedule.get_config() == getattr(opt, f"{name}_schedule").get_config()


def test_saved_model_keeps_cycling_after_reload(tmp_path):
    sched = one_cycle()
    w0, _, model = train(optimizers.SGD(sched, momentum=sched.momentum_schedule()))
    # Train half the cycle only, save, reload with compile=True, train the rest.
    keras.utils.set_random_seed(1)
    x, y = data()
    fresh = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    fresh.set_weights(w0)
    s2 = one_cycle()
    fresh.compile(optimizers.SGD(s2, momentum=s2.momentum_schedule()), "mse")
    fresh.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    fresh.save(tmp_path / "half.keras")
    reloaded = keras.saving.load_model(tmp_path / "half.keras", compile=True)
    assert isinstance(reloaded.optimizer, optimizers.SGD)
    assert int(reloaded.optimizer.iterations) == STEPS // 2
    assert optimizers.current_momentum(reloaded.optimizer) == pytest.approx(
        float(sched.momentum(STEPS // 2))
    )
    reloaded.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    assert_close(reloaded.get_weights(), model.get_weights(), rtol=1e-5)


# ----------------------------------------------------------------------------- helpers, errors, docs


def test_momentum_name_and_current_momentum():
    sched = one_cycle()
    sgd = optimizers.SGD(sched, momentum=sched.momentum_schedule())
    assert optimizers.momentum_name(sgd) == "momentum"
    assert optimizers.current_momentum(sgd) == pytest.approx(0.95)
    assert optimizers.momentum_name(keras.optimizers.Adam()) == "beta_1"
    assert optimizers.current_momentum(
        keras.optimizers.Adam(beta_1=0.7)
    ) == pytest.approx(0.7)
    assert optimizers.current_momentum(
        keras.optimizers.Adam(beta_1=keras.Variable(0.6))
    ) == pytest.approx(0.6)
    assert optimizers.momentum_name(keras.optimizers.Adagrad()) is None
    assert optimizers.current_momentum(keras.optimizers.Adagrad()) is None


@pytest.mark.parametrize(
    "make,match",
    [
        (
            lambda: optimizers.SGD(momentum=lambda: 0.9),
            r"Argument `momentum` must be a float or a `LearningRateSchedule` of the step .* Received: momentum=<function",
        ),
        (
            lambda: optimizers.Adam(beta_1=keras.Variable(0.9)),
            r"Argument `beta_1` must be a float or a `LearningRateSchedule` of the step .* Received: beta_1=<Variable",
        ),
        (
            lambda: optimizers.AdamW(beta_1=lambda: 0.9),
            r"Argument `beta_1` must be a float or a `LearningRateSchedule`",
        ),
        (
            lambda: optimizers.SGD(momentum=1.5),
            r"`momentum` must be a float between \[0, 1\]",
        ),  # Keras's own check
    ],
)
def test_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
