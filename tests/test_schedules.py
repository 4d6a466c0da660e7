"""lrbook.schedules: each schedule against an independent reference, plus invariants over all of them.

The references are written here from the published formulas (the article's
``lr_function``, tensorflow-addons' CLR formula, PyTorch's ``OneCycleLR``
algorithm); ``tests/data`` holds numbers produced by tensorflow-addons 0.23 and
PyTorch themselves (see the ``make_*.py`` scripts beside them).
"""

from __future__ import annotations

import inspect
import json
import math
import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from lrbook.env import import_keras

keras = import_keras()
ops = keras.ops

from lrbook import optimizers, schedules
from lrbook.schedules import (
    CyclicalLearningRate,
    ExponentialCyclicalLearningRate,
    OneCycle,
    OneCycleMomentum,
    RampUpExpDecay,
    Triangular2CyclicalLearningRate,
    TriangularCyclicalLearningRate,
    Warmup,
)

DATA = pathlib.Path(__file__).parent / "data"


def compiled(fn):
    """``fn`` compiled as the backend compiles a train step: ``tf.function``, ``jax.jit``.

    PyTorch's train step is not compiled by Keras by default (``jit_compile`` is
    off there), so on PyTorch this is ``fn`` itself.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def _float32_atol(want) -> dict:
    """Tolerance for float32 arithmetic done in another order than TensorFlow's.

    On TensorFlow the numbers agree to ``rtol=1e-6``. XLA on JAX (and PyTorch)
    evaluates the same float32 formula with other roundings (fused ops, another
    ``floor``/``mod`` order), and the error of the cycle position, about
    ``eps32 * step / step_size``, is amplified to the amplitude of the cycle:
    up to about 2e-6 of the peak rate over these 200 steps. So there, an
    absolute tolerance of 1e-5 of the peak, still far below any real difference
    (one step of a cycle moves the rate by a few percent of its peak).
    """
    if keras.backend.backend() == "tensorflow":
        return {}
    return {"atol": 1e-5 * float(np.max(np.abs(want)))}


def values(schedule, steps):
    return np.asarray(
        keras.ops.convert_to_numpy(schedule(np.asarray(steps))), dtype=np.float64
    )


# ----------------------------------------------------------------------------- references


def ref_seed_lr_function(epoch):
    """The article's ``lr_function`` (seeds/000), verbatim."""
    start_lr = 1e-3
    min_lr = 1e-3
    max_lr = 2e-3
    rampup_epochs = 6
    sustain_epochs = 0
    exp_decay = 0.5

    def lr(epoch, start_lr, min_lr, max_lr, rampup_epochs, sustain_epochs, exp_decay):
        if epoch < rampup_epochs:
            lr = (max_lr - start_lr) / rampup_epochs * epoch + start_lr
        elif epoch < rampup_epochs + sustain_epochs:
            lr = max_lr
        else:
            lr = (max_lr - min_lr) * exp_decay ** (
                epoch - rampup_epochs - sustain_epochs
            ) + min_lr
        return lr

    return lr(epoch, start_lr, min_lr, max_lr, rampup_epochs, sustain_epochs, exp_decay)


def ref_rampup(
    epoch, start_lr, min_lr, max_lr, rampup_epochs, sustain_epochs, exp_decay
):
    if epoch < rampup_epochs:
        return (max_lr - start_lr) / rampup_epochs * epoch + start_lr
    if epoch < rampup_epochs + sustain_epochs:
        return max_lr
    return (max_lr - min_lr) * exp_decay ** (
        epoch - rampup_epochs - sustain_epochs
    ) + min_lr


def ref_clr(step, initial, maximal, step_size, scale_fn, scale_mode):
    """Smith (2017) / tensorflow-addons: the CLR formula, one step at a time."""
    cycle = np.floor(1 + step / (2 * step_size))
    x = np.abs(step / step_size - 2 * cycle + 1)
    return initial + (maximal - initial) * np.maximum(0, 1 - x) * scale_fn(
        cycle if scale_mode == "cycle" else step
    )


def ref_one_cycle(
    max_lr,
    total_steps,
    pct_start=0.3,
    anneal_strategy="cos",
    div_factor=25.0,
    final_div_factor=1e4,
    three_phase=False,
    base_momentum=0.85,
    max_momentum=0.95,
    **_,
):
    """PyTorch's OneCycleLR.get_lr, ported to plain Python: (lrs, momenta) for steps 0..total-1."""

    def cos(start, end, pct):
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    def linear(start, end, pct):
        return (end - start) * pct + start

    anneal = cos if anneal_strategy == "cos" else linear
    group = {
        "initial_lr": max_lr / div_factor,
        "max_lr": max_lr,
        "max_momentum": max_momentum,
        "base_momentum": base_momentum,
    }
    group["min_lr"] = group["initial_lr"] / final_div_factor
    if three_phase:
        phases = [
            (
                float(pct_start * total_steps) - 1,
                "initial_lr",
                "max_lr",
                "max_momentum",
                "base_momentum",
            ),
            (
                float(2 * pct_start * total_steps) - 2,
                "max_lr",
                "initial_lr",
                "base_momentum",
                "max_momentum",
            ),
            (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
        ]
    else:
        phases = [
            (
                float(pct_start * total_steps) - 1,
                "initial_lr",
                "max_lr",
                "max_momentum",
                "base_momentum",
            ),
            (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
        ]
    lrs, moms = [], []
    for step_num in range(total_steps):
        start_step = 0.0
        for i, (end_step, lr0, lr1, m0, m1) in enumerate(phases):
            if step_num <= end_step or i == len(phases) - 1:
                pct = (step_num - start_step) / (end_step - start_step)
                lrs.append(anneal(group[lr0], group[lr1], pct))
                moms.append(anneal(group[m0], group[m1], pct))
                break
            start_step = end_step
    return np.array(lrs), np.array(moms)


# ----------------------------------------------------------------------------- the cases


@dataclass
class Case:
    make: Callable
    n: int  # steps scanned by the invariants
    lo: float  # bounds of every value
    hi: float
    endpoints: dict  # step -> value
    boundaries: tuple = ()  # phase boundaries where the schedule is continuous
    increasing: tuple = ()  # (a, b): non-decreasing on steps a..b
    decreasing: tuple = ()
    optimizer: Callable = field(default=lambda s: keras.optimizers.SGD(learning_rate=s))


D = 1e-2 - 1e-4
CASES = {
    "warmup_cosine": Case(
        lambda: Warmup(
            keras.optimizers.schedules.CosineDecay(0.1, 200), warmup_steps=50
        ),
        300,
        0.0,
        0.1,
        {0: 0.0, 25: 0.05, 50: 0.1, 150: 0.05, 250: 0.0, 400: 0.0},
        (50,),
        (0, 50),
        (50, 300),
    ),
    "warmup_constant": Case(
        lambda: Warmup(0.05, 20, initial_learning_rate=0.001),
        100,
        0.001,
        0.05,
        {0: 0.001, 10: 0.0255, 20: 0.05, 99: 0.05},
        (20,),
        (0, 100),
    ),
    "warmup_unshifted": Case(
        lambda: Warmup(
            keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5), 10, shift=False
        ),
        60,
        0.0,
        0.05,
        {0: 0.0, 5: 0.025, 10: 0.05, 20: 0.025},
        (10,),
        (0, 10),
        (10, 60),
    ),
    "warmup_onecycle": Case(
        lambda: Warmup(OneCycle(0.1, 100), 10),
        120,
        0.0,
        0.1,
        {0: 0.0, 10: 0.004, 39: 0.1, 109: 4e-7},
        (10, 39),
        (0, 39),
        (39, 120),
    ),
    "rampup_epochs": Case(
        RampUpExpDecay.article_defaults,
        30,
        1e-3,
        2e-3,
        {0: 1e-3, 3: 1.5e-3, 6: 2e-3, 7: 1.5e-3, 8: 1.25e-3},
        (),
        (0, 6),
        (6, 30),
    ),
    "rampup_continuous": Case(
        lambda: RampUpExpDecay(0.0, 1e-4, 0.1, 3, 2, 0.8, staircase=False),
        30,
        0.0,
        0.1,
        {0: 0.0, 1.5: 0.05, 3: 0.1, 5: 0.1, 6: 0.0999 * 0.8 + 1e-4},
        (3, 5),
        (0, 5),
        (3, 30),
    ),
    "rampup_steps": Case(
        lambda: RampUpExpDecay.article_defaults(steps_per_epoch=10),
        300,
        1e-3,
        2e-3,
        {0: 1e-3, 9: 1e-3, 10: 1e-3 + 1e-3 / 6, 60: 2e-3, 70: 1.5e-3},
        (),
        (0, 60),
        (60, 300),
    ),
    "triangular": Case(
        lambda: TriangularCyclicalLearningRate(1e-4, 1e-2, 10),
        100,
        1e-4,
        1e-2,
        {0: 1e-4, 5: 1e-4 + D / 2, 10: 1e-2, 20: 1e-4, 30: 1e-2},
        (10, 20, 30),
        (0, 10),
        (10, 20),
    ),
    "triangular2": Case(
        lambda: Triangular2CyclicalLearningRate(1e-4, 1e-2, 10),
        100,
        1e-4,
        1e-2,
        {10: 1e-2, 20: 1e-4, 30: 1e-4 + D / 2, 50: 1e-4 + D / 4},
        (10, 20, 30),
        (0, 10),
        (10, 20),
    ),
    "exp_range": Case(
        lambda: ExponentialCyclicalLearningRate(1e-4, 1e-2, 10, gamma=0.99),
        100,
        1e-4,
        1e-2,
        {0: 1e-4, 10: 1e-4 + D * 0.99**10, 20: 1e-4},
        (10, 20),
        (0, 10),
        (10, 20),
    ),
    "cyclical_registered_fn": Case(
        lambda: CyclicalLearningRate(
            1e-4, 1e-2, 10, scale_fn=schedules.triangular2_scale
        ),
        100,
        1e-4,
        1e-2,
        {10: 1e-2, 30: 1e-4 + D / 2},
        (10, 20, 30),
        (0, 10),
        (10, 20),
    ),
    "onecycle": Case(
        lambda: OneCycle(0.1, 100),
        120,
        4e-7,
        0.1,
        {0: 0.004, 29: 0.1, 99: 4e-7, 150: 4e-7},
        (29,),
        (0, 29),
        (29, 120),
        lambda s: optimizers.SGD(s, momentum=s.momentum_schedule()),
    ),
    "onecycle_linear_three_phase": Case(
        lambda: OneCycle(1.0, 90, anneal_strategy="linear", three_phase=True),
        100,
        4e-6,
        1.0,
        {0: 0.04, 26: 1.0, 52: 0.04, 89: 4e-6},
        (26, 52),
        (0, 26),
        (26, 100),
    ),
    "onecycle_fastai": Case(
        lambda: OneCycle.fastai(0.01, 200),
        200,
        1e-7,
        0.01,
        {0: 4e-4, 49: 0.01, 199: 1e-7},
        (49,),
        (0, 49),
        (49, 200),
    ),
    "onecycle_momentum": Case(
        lambda: OneCycleMomentum(100),
        120,
        0.85,
        0.95,
        {0: 0.95, 29: 0.85, 99: 0.95, 200: 0.95},
        (29,),
        (29, 120),
        (0, 29),
        lambda s: optimizers.Adam(1e-3, beta_1=s),
    ),
}
IDS = list(CASES)


@pytest.fixture(params=IDS)
def case(request):
    return CASES[request.param]


# ----------------------------------------------------------------------------- invariants, every schedule


def test_every_schedule_has_a_case():
    covered = {type(c.make()).__name__ for c in CASES.values()}
    assert covered == {name for name in schedules.__all__ if name[0].isupper()}


def test_endpoints(case):
    s = case.make()
    for step, want in case.endpoints.items():
        assert float(s(step)) == pytest.approx(want, rel=1e-5, abs=1e-12), step


def test_continuity_at_phase_boundaries(case):
    s = case.make()
    eps = 1e-3
    for b in case.boundaries:
        left, mid, right = values(s, np.array([b - eps, b, b + eps], np.float32))
        assert abs(right - left) <= 0.01 * (case.hi - case.lo), b
        assert abs(mid - left) <= 0.01 * (case.hi - case.lo), b


def test_bounds(case):
    lr = values(case.make(), np.arange(case.n + 20))
    tol = 1e-6 * case.hi
    assert np.all(np.isfinite(lr))
    assert lr.min() >= case.lo - tol and lr.max() <= case.hi + tol


def test_monotone_phases(case):
    lr = values(case.make(), np.arange(case.n + 1))
    tol = 1e-6 * case.hi
    if case.increasing:
        a, b = case.increasing
        assert np.all(np.diff(lr[a : b + 1]) >= -tol)
    if case.decreasing:
        a, b = case.decreasing
        assert np.all(np.diff(lr[a : b + 1]) <= tol)


def test_step_types(case):
    s = case.make()
    want = float(s(7))
    for step in (
        7,
        7.0,
        np.int64(7),
        np.int32(7),
        np.float32(7),
        ops.convert_to_tensor(7, "int64"),
        ops.convert_to_tensor(7, "int32"),
        ops.convert_to_tensor(7.0),
        keras.Variable(7, dtype="int64", trainable=False),  # as an iteration count
    ):
        got = s(step)
        assert tuple(got.shape) == ()
        assert float(got) == pytest.approx(want, rel=1e-6), repr(step)
    vector = values(s, np.arange(12))
    assert vector.shape == (12,)
    np.testing.assert_allclose(vector, [float(s(i)) for i in range(12)], rtol=1e-6)
    np.testing.assert_allclose(
        ops.convert_to_numpy(s(ops.arange(12, dtype="int64"))), vector, rtol=1e-6
    )
    traced = compiled(lambda step: s(step))
    got = traced(ops.convert_to_tensor(7, "int64"))
    assert float(ops.convert_to_numpy(got)) == pytest.approx(want, rel=1e-6)


def test_get_config_is_the_constructor_arguments(case):
    s = case.make()
    params = set(inspect.signature(type(s).__init__).parameters) - {"self"}
    assert set(s.get_config()) == params


def test_json_round_trip(case):
    s = case.make()
    text = json.dumps(keras.saving.serialize_keras_object(s))
    back = keras.saving.deserialize_keras_object(json.loads(text))
    assert type(back) is type(s)
    assert json.dumps(keras.saving.serialize_keras_object(back)) == text
    steps = np.arange(case.n)
    np.testing.assert_array_equal(values(back, steps), values(s, steps))


def test_fit_save_and_reload_compiled(case, tmp_path):
    """One epoch of fit, then a .keras round trip with compile=True, then training goes on."""
    keras.utils.set_random_seed(0)
    x = np.random.normal(size=(32, 4)).astype("float32")
    y = np.random.normal(size=(32, 1)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    s = case.make()
    model.compile(case.optimizer(s), "mse")
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, compile=True)
    opt, opt2 = model.optimizer, reloaded.optimizer
    assert type(opt2) is type(opt) and int(opt2.iterations) == 4
    assert float(opt2.learning_rate) == float(opt.learning_rate)
    assert optimizers.current_momentum(opt2) == optimizers.current_momentum(opt)
    for w_reloaded, w in zip(reloaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(w_reloaded, w)
    reloaded.fit(x[:8], y[:8], batch_size=8, verbose=0)
    assert int(opt2.iterations) == 5


# ----------------------------------------------------------------------------- Warmup


@pytest.mark.parametrize("shift", [True, False])
@pytest.mark.parametrize("inner", ["cosine", "constant"])
def test_warmup_matches_reference(shift, inner):
    w, init = 25, 0.002
    if inner == "cosine":
        wrapped = keras.optimizers.schedules.CosineDecay(0.1, 100)

        def f(step):
            return 0.1 * 0.5 * (1 + math.cos(math.pi * min(step, 100) / 100))
    else:
        wrapped = 0.03

        def f(step):
            return 0.03

    s = Warmup(wrapped, w, initial_learning_rate=init, shift=shift)

    def ref(step):
        if step < w:
            target = f(0) if shift else f(w)
            return init + (target - init) * step / w
        return f(step - w) if shift else f(step)

    steps = np.arange(0, 160)
    # atol: Keras's own CosineDecay loses float32 digits near zero.
    np.testing.assert_allclose(
        values(s, steps), [ref(k) for k in steps], rtol=2e-6, atol=1e-8
    )


def test_warmup_of_zero_steps_is_the_wrapped_schedule():
    inner = OneCycle(0.1, 50)
    steps = np.arange(60)
    np.testing.assert_array_equal(values(Warmup(inner, 0), steps), values(inner, steps))


# ----------------------------------------------------------------------------- RampUpExpDecay


def test_rampup_article_defaults_are_the_seed_function():
    s = RampUpExpDecay.article_defaults()
    epochs = np.arange(24)
    np.testing.assert_allclose(
        values(s, epochs), [ref_seed_lr_function(e) for e in epochs], rtol=1e-6
    )
    for (
        e
    ) in epochs:  # the LearningRateScheduler convention: schedule(epoch, lr) -> float
        got = s(int(e), 0.123)
        assert type(got) is float and got == pytest.approx(
            ref_seed_lr_function(int(e)), rel=1e-6
        )


@pytest.mark.parametrize(
    "params", [(0.0, 1e-4, 0.1, 3, 2, 0.8), (0.05, 0.0, 0.05, 0, 1, 0.9)]
)
def test_rampup_per_step(params):
    spe = 7
    steps = np.arange(0, 20 * spe)
    floored = RampUpExpDecay(*params, steps_per_epoch=spe)
    smooth = RampUpExpDecay(*params, steps_per_epoch=spe, staircase=False)
    np.testing.assert_allclose(
        values(floored, steps),
        [ref_rampup(k // spe, *params) for k in steps],
        rtol=1e-6,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        values(smooth, steps),
        [ref_rampup(k / spe, *params) for k in steps],
        rtol=1e-5,
        atol=1e-12,
    )
    # As a LearningRateScheduler function the first argument is an epoch, whatever steps_per_epoch.
    assert floored(3, 0.0) == pytest.approx(ref_rampup(3, *params), rel=1e-6, abs=1e-12)


def test_rampup_drives_learning_rate_scheduler():
    s = RampUpExpDecay.article_defaults()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    history = model.fit(
        np.zeros((8, 4)),
        np.zeros(8),
        epochs=8,
        batch_size=8,
        verbose=0,
        callbacks=[keras.callbacks.LearningRateScheduler(s)],
    )
    np.testing.assert_allclose(
        history.history["learning_rate"],
        [ref_seed_lr_function(e) for e in range(8)],
        rtol=1e-6,
    )


# ----------------------------------------------------------------------------- cyclical


def _tfa_reference():
    return json.loads((DATA / "tfa_cyclical_reference.json").read_text())


@pytest.mark.parametrize("index", range(len(_tfa_reference()["cases"])))
def test_cyclical_matches_tensorflow_addons(index):
    ref = _tfa_reference()
    item = ref["cases"][index]
    kwargs = dict(item["kwargs"])
    if "scale_fn" in kwargs:
        kwargs["scale_fn"] = eval(f"lambda x: {kwargs['scale_fn']}")
    s = getattr(schedules, item["class_name"])(**kwargs)
    want = np.array(item["lr"], np.float32)
    steps = np.array(ref["steps"], np.float32)
    for given in (steps, steps.astype(np.int64)):
        got = keras.ops.convert_to_numpy(s(given))
        np.testing.assert_allclose(got, want, rtol=1e-6, **_float32_atol(want))


@pytest.mark.parametrize(
    "cls,scale_fn,scale_mode,extra",
    [
        (TriangularCyclicalLearningRate, lambda x: 1.0, "cycle", {}),
        (TriangularCyclicalLearningRate, lambda x: 1.0, "iterations", {}),
        (Triangular2CyclicalLearningRate, lambda c: 1 / (2.0 ** (c - 1)), "cycle", {}),
        (
            ExponentialCyclicalLearningRate,
            lambda s: 0.995**s,
            "iterations",
            {"gamma": 0.995},
        ),
        (ExponentialCyclicalLearningRate, lambda c: 0.5**c, "cycle", {"gamma": 0.5}),
    ],
)
def test_cyclical_matches_formula(cls, scale_fn, scale_mode, extra):
    s = cls(3e-4, 3e-2, 12.5, scale_mode=scale_mode, **extra)
    steps = np.arange(0, 200)
    np.testing.assert_allclose(
        values(s, steps),
        ref_clr(steps.astype(float), 3e-4, 3e-2, 12.5, scale_fn, scale_mode),
        rtol=1e-5,
    )
    assert isinstance(s, CyclicalLearningRate)
    assert s.get_config()["name"] == cls.__name__


def test_cyclical_with_a_lambda_trains_but_refuses_get_config():
    # The tutorial of seeds/004, word for word but for the sizes.
    clr = CyclicalLearningRate(
        initial_learning_rate=1e-4,
        maximal_learning_rate=1e-2,
        scale_fn=lambda x: 1 / (2.0 ** (x - 1)),
        step_size=2 * 4,
    )
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(clr), "mse")
    model.fit(np.zeros((32, 4)), np.zeros(32), batch_size=8, verbose=0)
    np.testing.assert_allclose(
        values(clr, [0, 8, 16, 24]), [1e-4, 1e-2, 1e-4, 1e-4 + D / 2], rtol=1e-5
    )
    with pytest.raises(
        ValueError,
        match=r"Argument `scale_fn` must be a registered function for "
        r"CyclicalLearningRate to be serialized, not a lambda, which a saved model "
        r"could not reload.*Received: scale_fn=<function",
    ):
        clr.get_config()


@keras.saving.register_keras_serializable(package="lrbook_tests")
class HalvingScale:
    """A registered callable object with a config, as a ``scale_fn``."""

    def __init__(self, base=0.5):
        self.base = base

    def __call__(self, cycle):
        return self.base ** (cycle - 1)

    def get_config(self):
        return {"base": self.base}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def test_cyclical_with_a_registered_object_round_trips():
    s = CyclicalLearningRate(1e-3, 1e-1, 5, scale_fn=HalvingScale(0.25))
    back = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(s)))
    )
    assert isinstance(back.scale_fn, HalvingScale) and back.scale_fn.base == 0.25
    np.testing.assert_array_equal(values(back, range(40)), values(s, range(40)))


def _unregistered_scale(cycle):
    return 1.0


class _NoConfig:
    def __call__(self, x):
        return 1.0


@pytest.mark.parametrize(
    "fn,match",
    [
        (
            _unregistered_scale,
            r"Argument `scale_fn` must be .* not an unregistered function",
        ),
        (
            _NoConfig(),
            (
                r"Argument `scale_fn` must be a registered function or a registered "
                r"Keras-serializable object with `get_config` and `from_config` for "
                r"CyclicalLearningRate to be serialized. Received: scale_fn=<"
            ),
        ),
    ],
)
def test_cyclical_get_config_refuses_what_cannot_reload(fn, match):
    with pytest.raises(ValueError, match=match):
        CyclicalLearningRate(1e-3, 1e-1, 5, scale_fn=fn).get_config()


def test_cyclical_accepts_tensor_bounds_like_tfa():
    s = TriangularCyclicalLearningRate(
        ops.convert_to_tensor(1e-4), ops.convert_to_tensor(1e-2), 10
    )
    assert json.dumps(s.get_config())
    assert float(s(10)) == pytest.approx(1e-2)


# ----------------------------------------------------------------------------- one-cycle


def _torch_reference():
    return json.loads((DATA / "onecycle_reference.json").read_text())


@pytest.mark.parametrize("index", range(len(_torch_reference()["cases"])))
def test_one_cycle_matches_pytorch_fixture(index):
    item = _torch_reference()["cases"][index]
    s = OneCycle(**item["kwargs"])
    steps = np.arange(item["kwargs"]["total_steps"])
    np.testing.assert_allclose(values(s, steps), item["lr"], rtol=1e-6)
    np.testing.assert_allclose(
        values(s.momentum_schedule(), steps), item["momentum"], rtol=1e-6
    )
    # The NumPy port of PyTorch's algorithm agrees with PyTorch itself.
    lrs, moms = ref_one_cycle(**item["kwargs"])
    np.testing.assert_allclose(lrs, item["lr"], rtol=1e-12)
    np.testing.assert_allclose(moms, item["momentum"], rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_lr": 0.1, "total_steps": 100},
        {"max_lr": 0.1, "total_steps": 1000, "pct_start": 0.1},
        {
            "max_lr": 3.0,
            "total_steps": 41,
            "pct_start": 0.37,
            "anneal_strategy": "linear",
        },
        {"max_lr": 0.1, "total_steps": 64, "three_phase": True},
        {
            "max_lr": 0.1,
            "total_steps": 65,
            "pct_start": 0.45,
            "three_phase": True,
            "anneal_strategy": "linear",
            "div_factor": 5.0,
            "final_div_factor": 50.0,
            "base_momentum": 0.5,
            "max_momentum": 0.99,
        },
        {"max_lr": 0.1, "total_steps": 1},
        {"max_lr": 0.1, "total_steps": 2, "pct_start": 0.9},
        {"max_lr": 0.1, "total_steps": 13, "pct_start": 1.0},
        {"max_lr": 0.1, "total_steps": 300, "pct_start": 0.25, "final_div_factor": 4e3},
    ],
)
def test_one_cycle_matches_pytorch_algorithm(kwargs):
    s = OneCycle(**kwargs)
    lrs, moms = ref_one_cycle(**kwargs)
    steps = np.arange(kwargs["total_steps"])
    np.testing.assert_allclose(values(s, steps), lrs, rtol=1e-6)
    np.testing.assert_allclose(values(s.momentum_schedule(), steps), moms, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(s.momentum(steps)), moms, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"anneal_strategy": "linear", "three_phase": True}, {"pct_start": 0.25}],
)
def test_one_cycle_on_the_host_is_the_keras_ops_value(kwargs):
    """PyTorch evaluates one-cycle in NumPy for the iteration count: the same numbers."""
    if keras.backend.backend() != "torch":
        pytest.skip("the host path is PyTorch's (Keras runs its train step eagerly)")
    s = OneCycle(0.1, 500, **kwargs)
    m = s.momentum_schedule()
    counter = keras.Variable(0, dtype="int64", trainable=False)  # as the optimizer's
    steps = np.arange(-3, 520, 1)
    host = []
    for step in steps:
        counter.assign(int(step))
        host.append([float(s(counter)), float(m(counter))])
    assert schedules._host_step(counter) is not None  # the host path ran
    assert schedules._host_step(np.float32(3)) is None  # arrays: keras.ops
    ops_values = np.stack([values(s, steps), values(m, steps)], axis=1)
    np.testing.assert_allclose(np.asarray(host), ops_values, rtol=1e-6, atol=1e-12)


def test_one_cycle_clamps_outside_training():
    s = OneCycle(0.1, 50, three_phase=True)
    last, first = float(s(49)), float(s(0))
    assert float(s(50)) == last and float(s(10_000)) == last and float(s(-3)) == first
    assert float(s.momentum(10_000)) == float(s.momentum(49))
    assert last == pytest.approx(s.min_lr, rel=1e-6) and first == pytest.approx(
        s.initial_lr, rel=1e-7
    )


def test_one_cycle_presets_and_properties():
    s = OneCycle.fastai(0.01, 400)
    cfg = s.get_config()
    assert (cfg["pct_start"], cfg["div_factor"], cfg["final_div_factor"]) == (
        0.25,
        25.0,
        4000.0,
    )
    assert s.min_lr == pytest.approx(0.01 / 1e5) and float(s(399)) == pytest.approx(
        0.01 / 1e5, rel=1e-6
    )
    assert int(np.argmax(values(s, np.arange(400)))) == 99
    assert OneCycle.fastai(0.01, 400, pct_start=0.5).pct_start == 0.5


def test_one_cycle_without_momentum_cycling():
    s = OneCycle(0.1, 100, cycle_momentum=False)
    np.testing.assert_array_equal(
        values(s, range(100)), values(OneCycle(0.1, 100), range(100))
    )
    with pytest.raises(
        ValueError,
        match=r"OneCycle\(cycle_momentum=False\) leaves momentum to the optimizer",
    ):
        s.momentum_schedule()
    with pytest.raises(ValueError, match=r"Received: cycle_momentum=False"):
        s.momentum(3)


# ----------------------------------------------------------------------------- every ValueError

ERRORS = [
    (
        lambda: Warmup("0.1", 10),
        (
            r"Argument `schedule` must be a LearningRateSchedule or a float > 0. "
            r"Received: schedule='0.1'"
        ),
    ),
    (lambda: Warmup(-0.1, 10), r"Received: schedule=-0.1"),
    (
        lambda: Warmup(0.1, -1),
        r"Argument `warmup_steps` must be an integer >= 0. Received: warmup_steps=-1",
    ),
    (
        lambda: Warmup(0.1, 2.5),
        r"Argument `warmup_steps` must be an integer >= 0. Received: warmup_steps=2.5",
    ),
    (
        lambda: Warmup(0.1, 10, initial_learning_rate=-1e-3),
        r"Argument `initial_learning_rate` must be >= 0. Received: initial_learning_rate=-0.001",
    ),
    (
        lambda: Warmup(0.1, 10, shift="yes"),
        r"Argument `shift` must be a bool. Received: shift='yes'",
    ),
    (
        lambda: RampUpExpDecay(-1e-3, 1e-3, 2e-3, 6, 0, 0.5),
        r"Argument `start_lr` must be >= 0. Received: start_lr=-0.001",
    ),
    (
        lambda: RampUpExpDecay(1e-3, None, 2e-3, 6, 0, 0.5),
        r"Argument `min_lr` must be a real number. Received: min_lr=None",
    ),
    (
        lambda: RampUpExpDecay(1e-3, 1e-3, "2e-3", 6, 0, 0.5),
        r"Argument `max_lr` must be a real number. Received: max_lr='2e-3'",
    ),
    (
        lambda: RampUpExpDecay(1e-3, 1e-3, 2e-3, -6, 0, 0.5),
        r"Argument `rampup_epochs` must be >= 0. Received: rampup_epochs=-6",
    ),
    (
        lambda: RampUpExpDecay(1e-3, 1e-3, 2e-3, 6, -1, 0.5),
        r"Argument `sustain_epochs` must be >= 0. Received: sustain_epochs=-1",
    ),
    (
        lambda: RampUpExpDecay(1e-3, 1e-3, 2e-3, 6, 0, 0),
        r"Argument `exp_decay` must be > 0 and <= 1. Received: exp_decay=0",
    ),
    (
        lambda: RampUpExpDecay(1e-3, 1e-3, 2e-3, 6, 0, 1.5),
        r"Argument `exp_decay` must be > 0 and <= 1. Received: exp_decay=1.5",
    ),
    (
        lambda: RampUpExpDecay.article_defaults(steps_per_epoch=0),
        r"Argument `steps_per_epoch` must be an integer >= 1. Received: steps_per_epoch=0",
    ),
    (
        lambda: RampUpExpDecay.article_defaults(staircase=1),
        r"Argument `staircase` must be a bool. Received: staircase=1",
    ),
    (
        lambda: TriangularCyclicalLearningRate(1e-4, 1e-2, 0),
        r"Argument `step_size` must be > 0. Received: step_size=0",
    ),
    (
        lambda: TriangularCyclicalLearningRate(-1e-4, 1e-2, 5),
        r"Argument `initial_learning_rate` must be >= 0. Received: initial_learning_rate=-0.0001",
    ),
    (
        lambda: Triangular2CyclicalLearningRate(1e-4, float("nan"), 5),
        r"Argument `maximal_learning_rate` must be a real number. Received: maximal_learning_rate=nan",
    ),
    (
        lambda: TriangularCyclicalLearningRate(1e-4, 1e-2, 5, scale_mode="epoch"),
        r"Argument `scale_mode` must be one of \('cycle', 'iterations'\). Received: scale_mode='epoch'",
    ),
    (
        lambda: CyclicalLearningRate(1e-4, 1e-2, 5, scale_fn=2.0),
        r"Argument `scale_fn` must be callable. Received: scale_fn=2.0",
    ),
    (
        lambda: ExponentialCyclicalLearningRate(1e-4, 1e-2, 5, gamma=0),
        r"Argument `gamma` must be > 0. Received: gamma=0",
    ),
    (
        lambda: OneCycle(-0.1, 100),
        r"Argument `max_lr` must be > 0. Received: max_lr=-0.1",
    ),
    # Values that make a schedule meaningless: a peak rate of 0, an infinite rate.
    (
        lambda: OneCycle(0.0, 100),
        r"Argument `max_lr` must be > 0. Received: max_lr=0.0",
    ),
    (
        lambda: OneCycle(float("inf"), 100),
        r"Argument `max_lr` must be a finite number. Received: max_lr=inf",
    ),
    (
        lambda: Warmup(0.0, 10),
        r"Argument `schedule` must be a LearningRateSchedule or a float > 0. "
        r"Received: schedule=0.0",
    ),
    (
        lambda: RampUpExpDecay(0.0, 0.0, 0, 6, 0, 0.5),
        r"Argument `max_lr` must be > 0. Received: max_lr=0",
    ),
    (
        lambda: TriangularCyclicalLearningRate(0, 0.0, 10),
        r"Argument `maximal_learning_rate` must be > 0 when `initial_learning_rate` "
        r"is 0 .*Received: maximal_learning_rate=0.0, initial_learning_rate=0",
    ),
    (
        lambda: TriangularCyclicalLearningRate(1e-4, float("nan"), 10),
        r"Argument `maximal_learning_rate` must be a real number. "
        r"Received: maximal_learning_rate=nan",
    ),
    (
        lambda: OneCycle(0.1, 0),
        r"Argument `total_steps` must be an integer >= 1. Received: total_steps=0",
    ),
    (
        lambda: OneCycle(0.1, 100.0),
        r"Argument `total_steps` must be an integer >= 1. Received: total_steps=100.0",
    ),
    (
        lambda: OneCycle(0.1, 100, pct_start=1.5),
        r"Argument `pct_start` must be >= 0 and <= 1. Received: pct_start=1.5",
    ),
    (
        lambda: OneCycle(0.1, 10, pct_start=0.1),
        (
            r"Argument `pct_start` must be != 1 / total_steps, which gives a first "
            r"phase of zero length .* Received: pct_start=0.1, total_steps=10"
        ),
    ),
    (
        lambda: TriangularCyclicalLearningRate(0.0, 0, 5),
        (
            r"Argument `maximal_learning_rate` must be > 0 when "
            r"`initial_learning_rate` is 0 .* "
            r"Received: maximal_learning_rate=0, initial_learning_rate=0.0"
        ),
    ),
    (
        lambda: OneCycle(0.1, 100, anneal_strategy="exp"),
        r"Argument `anneal_strategy` must be one of \('linear', 'cos'\). Received: anneal_strategy='exp'",
    ),
    (
        lambda: OneCycle(0.1, 100, div_factor=0),
        r"Argument `div_factor` must be > 0. Received: div_factor=0",
    ),
    (
        lambda: OneCycle(0.1, 100, final_div_factor=-1.0),
        r"Argument `final_div_factor` must be > 0. Received: final_div_factor=-1.0",
    ),
    (
        lambda: OneCycle(0.1, 100, three_phase="no"),
        r"Argument `three_phase` must be a bool. Received: three_phase='no'",
    ),
    (
        lambda: OneCycle(0.1, 100, cycle_momentum=None),
        r"Argument `cycle_momentum` must be a bool. Received: cycle_momentum=None",
    ),
    (
        lambda: OneCycle(0.1, 100, base_momentum=1.2),
        r"Argument `base_momentum` must be >= 0 and <= 1. Received: base_momentum=1.2",
    ),
    (
        lambda: OneCycleMomentum(100, max_momentum=-0.1),
        r"Argument `max_momentum` must be >= 0 and <= 1. Received: max_momentum=-0.1",
    ),
    (
        lambda: OneCycleMomentum(-5),
        r"Argument `total_steps` must be an integer >= 1. Received: total_steps=-5",
    ),
]


@pytest.mark.parametrize(
    "make,match",
    ERRORS,
    ids=[
        f"{i}-{m.split('`')[1] if '`' in m else 'message'}"
        for i, (_, m) in enumerate(ERRORS)
    ],
)
def test_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ----------------------------------------------------------------------------- evaluate


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.optimizers.schedules.CosineDecay(
            0.0, 90, warmup_target=0.1, warmup_steps=10
        ),
        lambda: keras.optimizers.schedules.PiecewiseConstantDecay(
            [30, 60], [0.1, 0.01, 0.001]
        ),
        lambda: keras.optimizers.schedules.CosineDecayRestarts(0.1, 20),
        lambda: OneCycle(0.1, 100),
        lambda: Warmup(
            keras.optimizers.schedules.ExponentialDecay(0.1, 90, 0.01), warmup_steps=10
        ),
        lambda: Triangular2CyclicalLearningRate(1e-4, 1e-2, step_size=10),
    ],
    ids=[
        "cosine-warmup",
        "piecewise",
        "restarts",
        "one-cycle",
        "warmup",
        "triangular2",
    ],
)
def test_evaluate_is_the_schedule_step_by_step(make):
    schedule = make()
    steps = np.arange(0, 120, 7)
    expected = [float(keras.ops.convert_to_numpy(schedule(int(s)))) for s in steps]
    got = schedules.evaluate(schedule, steps)
    assert got.dtype == np.float64 and got.shape == steps.shape
    atol = _float32_atol(expected).get("atol", 1e-12)  # one call against many
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=atol)
    np.testing.assert_allclose(
        schedules.evaluate(schedule, steps.reshape(3, -1)),
        np.reshape(expected, (3, -1)),
        rtol=1e-6,
        atol=atol,
    )
    assert schedules.evaluate(schedule, 7).shape == ()


def test_evaluate_a_constant():
    np.testing.assert_array_equal(
        schedules.evaluate(0.05, [0, 1, 2]), [0.05, 0.05, 0.05]
    )
    np.testing.assert_array_equal(schedules.evaluate(1, np.arange(2)), [1.0, 1.0])


@pytest.mark.parametrize("bad", [-0.1, "0.1", None, True, lambda step: 0.1])
def test_evaluate_refuses_what_is_not_a_schedule(bad):
    with pytest.raises(
        ValueError,
        match=r"Argument `schedule` must be a LearningRateSchedule or a number >= 0. "
        r"Received: schedule=",
    ):
        schedules.evaluate(bad, [0, 1])


# ----------------------------------------------------------------------------- docs


@pytest.mark.parametrize(
    ("cls", "args"),
    [
        (schedules.Warmup, (0.1, 10)),
        (schedules.RampUpExpDecay, (1e-3, 1e-3, 2e-3, 6, 0, 0.5)),
        (schedules.OneCycleMomentum, (100,)),
        (schedules.OneCycle, (0.1, 100)),
    ],
)
def test_name_as_keras_schedules_take_it(cls, args):
    default = cls(*args)
    assert default.name == cls.__name__ and default.get_config()["name"] == cls.__name__
    named = cls(*args, name="mine")
    config = named.get_config()
    assert config["name"] == "mine"
    again = cls.from_config(config)
    assert again.name == "mine" and again.get_config() == config
    # A config saved before `name` existed (lrbook 0.2.0) still loads, with the default.
    old = {k: v for k, v in config.items() if k != "name"}
    assert cls.from_config(old).name == cls.__name__
    reloaded = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(named)
    )
    assert type(reloaded) is cls and reloaded.name == "mine"
    for bad in ("", None, 3):
        with pytest.raises(
            ValueError, match="Argument `name` must be a non-empty string"
        ):
            cls(*args, name=bad)


def test_one_cycle_momentum_schedule_is_named_after_its_schedule():
    assert (
        schedules.OneCycle(0.1, 100, name="oc").momentum_schedule().name == "ocMomentum"
    )
