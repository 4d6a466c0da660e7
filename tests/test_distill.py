"""lrbook.distill: the seed's distillation loss against NumPy, and against keras.distillation.Distiller."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrbook.env import import_keras

import_keras()
import keras  # noqa: E402

from lrbook.distill import (  # noqa: E402
    DistillationLoss,
    Distiller,
    distillation_loss,
    keras_student_loss_weight,
    pack_targets,
    packed_accuracy,
    temperature_softmax,
)

RNG = np.random.default_rng(0)


def np_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_loss(y, s, t, T, ls, lh):
    """The formula of seeds/002, written independently in float64 NumPy."""
    pt = np.exp(np_log_softmax(t / T))
    kl = (pt * (np.log(pt) - np_log_softmax(s / T))).sum(-1).mean()
    ce = -np_log_softmax(s)[np.arange(len(y)), y].mean()
    return (ls * T**2 * kl + lh * ce) / (ls + lh)


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 8.0, 20.0])
@pytest.mark.parametrize(
    "ls,lh", [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.9, 0.1), (3.0, 0.5)]
)
def test_loss_matches_numpy_formula(T, ls, lh):
    s = RNG.normal(scale=3, size=(16, 10))
    t = RNG.normal(scale=3, size=(16, 10))
    y = RNG.integers(0, 10, size=16)
    got = float(
        distillation_loss(y, s, t, temperature=T, lambda_soft=ls, lambda_hard=lh)
    )
    np.testing.assert_allclose(got, np_loss(y, s, t, T, ls, lh), rtol=1e-5, atol=1e-6)


def test_loss_is_zero_soft_term_for_identical_logits_and_scales_with_weights():
    s = RNG.normal(size=(8, 5))
    y = RNG.integers(0, 5, size=8)
    assert (
        abs(
            float(
                distillation_loss(
                    y, s, s, temperature=3.0, lambda_soft=1, lambda_hard=0
                )
            )
        )
        < 1e-6
    )
    # Only the ratio of the weights matters.
    t = RNG.normal(size=(8, 5))
    a = float(distillation_loss(y, s, t, temperature=2.0, lambda_soft=1, lambda_hard=3))
    b = float(
        distillation_loss(y, s, t, temperature=2.0, lambda_soft=10, lambda_hard=30)
    )
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_temperature_softmax_known_values_and_limits():
    z = np.array([2.0, 1.0, 0.0])
    e = np.exp(z / 2.0)
    np.testing.assert_allclose(
        np.asarray(temperature_softmax(z, 2.0)), e / e.sum(), rtol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(temperature_softmax(z, 1e6)), np.full(3, 1 / 3), atol=1e-5
    )
    assert np.asarray(temperature_softmax(z, 1e-3))[0] > 0.999999
    with pytest.raises(
        ValueError, match=r"`temperature` must be a number > 0. Received: temperature=0"
    ):
        temperature_softmax(z, 0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            dict(temperature=0.0, lambda_soft=1, lambda_hard=1),
            r"`temperature` must be a number > 0. Received: temperature=0.0",
        ),
        (
            dict(temperature=-1, lambda_soft=1, lambda_hard=1),
            r"Received: temperature=-1",
        ),
        (
            dict(temperature=2, lambda_soft=-0.1, lambda_hard=1),
            r"`lambda_soft` must be a number >= 0. Received: lambda_soft=-0.1",
        ),
        (
            dict(temperature=2, lambda_soft=1, lambda_hard=-1),
            r"`lambda_hard` must be a number >= 0. Received: lambda_hard=-1",
        ),
        (
            dict(temperature=2, lambda_soft=0, lambda_hard=0),
            (
                r"`lambda_hard` must be > 0 when `lambda_soft` is 0. "
                r"Received: lambda_hard=0, lambda_soft=0"
            ),
        ),
    ],
)
def test_loss_validation(kwargs, match):
    s = np.zeros((2, 3))
    with pytest.raises(ValueError, match=match):
        distillation_loss(np.array([0, 1]), s, s, **kwargs)


def test_loss_needs_labels_for_the_hard_term():
    s = np.zeros((2, 3))
    with pytest.raises(
        ValueError,
        match=r"Argument `y_true` must be given when `lambda_hard` > 0 .*"
        r"Received: y_true=None, lambda_hard=1",
    ):
        distillation_loss(None, s, s, temperature=2, lambda_soft=1, lambda_hard=1)
    assert float(
        distillation_loss(None, s, s, temperature=2, lambda_soft=1, lambda_hard=0)
    ) == pytest.approx(0.0)


def test_keras_student_loss_weight():
    assert keras_student_loss_weight(3, 1) == 0.25
    assert keras_student_loss_weight(0, 1) == 1.0
    with pytest.raises(
        ValueError,
        match=r"Argument `lambda_hard` must be > 0 when `lambda_soft` is 0. "
        r"Received: lambda_hard=0, lambda_soft=0",
    ):
        keras_student_loss_weight(0, 0)


def _pair(seed=0):
    keras.utils.set_random_seed(seed)
    teacher = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(4),
        ]
    )
    student = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)])
    return teacher, student


def _clone(model):
    m = keras.models.clone_model(model)
    m.set_weights(model.get_weights())
    return m


@pytest.mark.parametrize(
    "T,ls,lh", [(4.0, 1.0, 1.0), (2.0, 3.0, 1.0), (8.0, 1.0, 0.0), (1.0, 0.5, 2.0)]
)
def test_same_loss_and_same_step_as_keras_distiller(T, ls, lh):
    teacher, student = _pair()
    x = np.random.default_rng(1).normal(size=(32, 6)).astype("float32")
    y = np.random.default_rng(2).integers(0, 4, size=32)

    ours = Distiller(
        _clone(student), _clone(teacher), temperature=T, lambda_soft=ls, lambda_hard=lh
    )
    theirs = keras.distillation.Distiller(
        teacher=_clone(teacher),
        student=_clone(student),
        # The loss must be the KLDivergence *instance*: see test_keras_default_kl_string_is_not_hintons_loss.
        distillation_losses=keras.distillation.LogitsDistillation(
            temperature=T, loss=keras.losses.KLDivergence()
        ),
        student_loss_weight=keras_student_loss_weight(ls, lh),
    )
    ours.compile(keras.optimizers.SGD(0.1))
    theirs.compile(
        keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    loss_ours = float(ours.compute_loss(x, y, ours(x)))
    loss_theirs = float(theirs.compute_loss(x, y, theirs(x)))
    np.testing.assert_allclose(loss_ours, loss_theirs, rtol=1e-5)
    s_logits = keras.ops.convert_to_numpy(student(x))
    np.testing.assert_allclose(
        loss_ours,
        np_loss(y, s_logits, keras.ops.convert_to_numpy(teacher(x)), T, ls, lh),
        rtol=1e-5,
    )

    ours.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    theirs.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b, t0 in zip(
        ours.student.get_weights(), theirs.student.get_weights(), student.get_weights()
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert not np.allclose(a, t0)  # the step moved the student
    for a, t0 in zip(ours.teacher.get_weights(), teacher.get_weights()):
        np.testing.assert_array_equal(a, t0)  # the teacher is frozen


def test_distiller_fits_unlabeled_and_reports_student_accuracy():
    teacher, student = _pair()
    x = np.random.default_rng(1).normal(size=(64, 6)).astype("float32")
    d = Distiller(student, teacher, temperature=2.0, lambda_soft=1.0, lambda_hard=0.0)
    d.compile(keras.optimizers.Adam(0.05))
    hist = d.fit(x, batch_size=16, epochs=3, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    d2 = Distiller(
        _clone(student), teacher, temperature=2.0, lambda_soft=1.0, lambda_hard=1.0
    )
    d2.compile(keras.optimizers.Adam(0.05), metrics=["accuracy"])
    y = np.argmax(keras.ops.convert_to_numpy(teacher(x)), -1)
    logs = d2.fit(x, y, epochs=1, verbose=0).history
    assert "accuracy" in logs


def test_distiller_validation_and_config():
    teacher, student = _pair()
    with pytest.raises(ValueError, match=r"`student` must be a keras.Model"):
        Distiller("student", teacher)
    with pytest.raises(ValueError, match=r"`teacher` must be a keras.Model"):
        Distiller(student, None)
    with pytest.raises(ValueError, match=r"Received: temperature=0"):
        Distiller(student, teacher, temperature=0)
    d = Distiller(student, teacher, temperature=3.0, lambda_soft=2.0, lambda_hard=1.0)
    assert teacher.trainable is False
    cfg = d.get_config()
    assert {k: cfg[k] for k in ("temperature", "lambda_soft", "lambda_hard")} == {
        "temperature": 3.0,
        "lambda_soft": 2.0,
        "lambda_hard": 1.0,
    }
    json.dumps(cfg)
    back = Distiller.from_config(cfg)
    assert back.temperature == 3.0 and back.lambda_soft == 2.0


def test_keras_default_kl_string_is_not_hintons_loss():
    """Keras 3.15: LogitsDistillation(loss="kl_divergence") (the default) resolves the string to the
    *function* kl_divergence, misses its `isinstance(loss, KLDivergence)` branch, and so applies the KL
    divergence to the clipped temperature-scaled logits, without softmax and without T^2. If this test
    fails, Keras has changed that behaviour: update lrbook/distill.py's docstring and the chapter."""
    T = 4.0
    rng = np.random.default_rng(3)
    t, s = (
        rng.normal(size=(8, 5)).astype("float32"),
        rng.normal(size=(8, 5)).astype("float32"),
    )
    default = float(
        keras.distillation.LogitsDistillation(temperature=T).compute_loss(t, s)
    )
    on_logits = float(np.mean(np.asarray(keras.losses.kl_divergence(t / T, s / T))))
    np.testing.assert_allclose(default, on_logits, rtol=1e-6)
    fixed = float(
        keras.distillation.LogitsDistillation(
            temperature=T, loss=keras.losses.KLDivergence()
        ).compute_loss(t, s)
    )
    np.testing.assert_allclose(
        fixed, np_loss(np.zeros(8, int), s, t, T, 1.0, 0.0), rtol=1e-5
    )
    assert abs(default - fixed) > 1e-3


def test_packed_targets_loss_equals_distiller_step():
    """Precomputed teacher logits + DistillationLoss = Distiller: same loss, same weights after a step."""
    teacher, student = _pair()
    x = np.random.default_rng(1).normal(size=(32, 6)).astype("float32")
    y = np.random.default_rng(2).integers(0, 4, size=32)
    d = Distiller(
        _clone(student),
        _clone(teacher),
        temperature=3.0,
        lambda_soft=2.0,
        lambda_hard=1.0,
    )
    d.compile(keras.optimizers.SGD(0.1))
    packed = pack_targets(y, keras.ops.convert_to_numpy(teacher(x)))
    s2 = _clone(student)
    s2.compile(
        keras.optimizers.SGD(0.1),
        loss=DistillationLoss(3.0, 2.0, 1.0),
        metrics=[packed_accuracy],
    )
    np.testing.assert_allclose(
        float(DistillationLoss(3.0, 2.0, 1.0)(packed, s2(x))),
        np_loss(
            y,
            keras.ops.convert_to_numpy(student(x)),
            keras.ops.convert_to_numpy(teacher(x)),
            3.0,
            2.0,
            1.0,
        ),
        rtol=1e-5,
    )
    d.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    logs = s2.fit(x, packed, batch_size=32, epochs=1, shuffle=False, verbose=0).history
    for a, b in zip(d.student.get_weights(), s2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    acc = float((np.argmax(keras.ops.convert_to_numpy(student(x)), -1) == y).mean())
    assert logs["packed_accuracy"][0] == pytest.approx(acc)
    cfg = DistillationLoss(3.0, 2.0, 1.0).get_config()
    assert DistillationLoss.from_config(cfg).lambda_soft == 2.0
    with pytest.raises(
        ValueError,
        match=r"Argument `teacher_logits.shape` must be 2-D with one row per label. "
        r"Received: teacher_logits.shape=\(3, 4\), len\(y\)=32",
    ):
        pack_targets(y, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"Received: temperature=0"):
        DistillationLoss(temperature=0)
