"""lrbook.pruning: the schedule against Zhu & Gupta's formula, NumPy masks, sparsity held through training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrbook.env import import_keras

import_keras()
import keras  # noqa: E402

from lrbook import models  # noqa: E402
from lrbook.distill import Distiller  # noqa: E402
from lrbook.pruning import (
    MagnitudePruning,
    magnitude_mask,
    polynomial_sparsity,
    prunable_kernels,
    sparsity,
)  # noqa: E402


def test_polynomial_schedule_matches_zhu_gupta():
    si, sf, t0, n = 0.1, 0.9, 20, 50
    for t in [0, 20, 21, 35, 44, 70, 71, 500]:
        pos = min(max((t - t0) / n, 0), 1)
        expected = (
            sf + (si - sf) * (1 - pos) ** 3
        )  # Zhu & Gupta (2017), eq. (1), with n * delta_t = 50
        assert polynomial_sparsity(
            t, initial=si, final=sf, begin_step=t0, end_step=t0 + n
        ) == pytest.approx(expected)
    # monotone non-decreasing
    vals = [polynomial_sparsity(t, final=0.75, end_step=100) for t in range(120)]
    assert all(b >= a for a, b in zip(vals, vals[1:]))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(final=1.0), r"`final` must be a number in \[0, 1\). Received: final=1.0"),
        (
            dict(initial=-0.1),
            r"`initial` must be a number in \[0, 1\). Received: initial=-0.1",
        ),
        (
            dict(begin_step=-1),
            r"`begin_step` must be an integer >= 0. Received: begin_step=-1",
        ),
        (
            dict(begin_step=10, end_step=10),
            (
                r"`end_step` must be an integer > `begin_step`. "
                r"Received: end_step=10, begin_step=10"
            ),
        ),
        (dict(power=0), r"`power` must be a number > 0. Received: power=0"),
    ],
)
def test_schedule_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        polynomial_sparsity(0, **kwargs)


@pytest.mark.parametrize("s", [0.0, 0.3, 0.5, 0.9])
def test_magnitude_mask_against_numpy_threshold(s):
    w = np.random.default_rng(0).normal(size=(7, 11))
    mask = magnitude_mask(w, s)
    k = int(round(s * w.size))
    assert int((mask == 0).sum()) == k
    if 0 < k < w.size:
        thr = np.sort(np.abs(w).ravel())[k - 1]  # continuous weights: no ties
        np.testing.assert_array_equal(mask, (np.abs(w) > thr).astype("float32"))
    with pytest.raises(
        ValueError,
        match=r"`sparsity` must be a number in \[0, 1\). Received: sparsity=1",
    ):
        magnitude_mask(w, 1)


def test_prunable_kernels_skip_frozen_teacher():
    teacher, student = (
        models.cnn1d(filters=(8,), name="teacher"),
        models.cnn1d(filters=(4,), name="student"),
    )
    d = Distiller(student, teacher, temperature=2.0)
    got = [id(v) for v in prunable_kernels(d)]
    assert got == [
        id(layer.kernel) for layer in student.layers if hasattr(layer, "kernel")
    ]


def test_sparsity_holds_through_training_and_pruned_weights_stay_zero():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(128, 40, 1)).astype("float32")
    y = np.random.default_rng(1).integers(0, 10, size=128)
    model = models.compile_classifier(
        models.cnn1d(filters=(8, 8)), keras.optimizers.SGD(0.05, momentum=0.9)
    )
    target, end = 0.75, 12
    prune = MagnitudePruning(target, end_step=end, frequency=4)
    seen = []

    class Spy(
        keras.callbacks.Callback
    ):  # runs after MagnitudePruning's on_train_batch_end
        def on_train_batch_end(self, batch, logs=None):
            ks = [keras.ops.convert_to_numpy(v) for v in prunable_kernels(self.model)]
            seen.append([float((k == 0).mean()) for k in ks])
            if (
                prune.step > end
            ):  # schedule over: every kernel exactly at the target, masks unchanged
                for k, m in zip(ks, prune.masks):
                    assert np.all(k[m == 0] == 0)

    model.fit(
        x, y, batch_size=16, epochs=4, verbose=0, callbacks=[prune, Spy()]
    )  # 32 steps
    seen = np.array(seen)
    for t, row in enumerate(seen):
        if t >= end:
            np.testing.assert_allclose(row, target, atol=0.01)
    # the sparsity rose along the schedule (checked at the mask updates)
    assert [round(s, 4) for _, s in prune.history] == [
        round(polynomial_sparsity(t, final=target, end_step=end), 4)
        for t in (0, 4, 8, 12)
    ]
    assert sparsity(model) == pytest.approx(target, abs=0.01)
    # the kept weights are the largest ones of the kernel at the last mask update: masks are magnitude masks
    for v, m in zip(prunable_kernels(model), prune.masks):
        k = keras.ops.convert_to_numpy(v)
        assert np.all(k[m == 1] != 0)


def test_callback_validation_and_config():
    with pytest.raises(
        ValueError, match=r"`frequency` must be an integer >= 1. Received: frequency=0"
    ):
        MagnitudePruning(0.5, frequency=0)
    with pytest.raises(
        ValueError,
        match=r"Argument `target_sparsity` must be a number in \(0, 1\). "
        r"Received: target_sparsity=0",
    ):
        MagnitudePruning(0)  # prunes nothing
    with pytest.raises(
        ValueError, match=r"`target_sparsity` must be a number in \[0, 1\)"
    ):
        MagnitudePruning(1.5)
    cb = MagnitudePruning(0.9, begin_step=5, end_step=50, frequency=5, power=1.0)
    cfg = json.loads(json.dumps(cb.get_config()))
    assert MagnitudePruning.from_config(cfg).get_config() == cfg
    model = keras.Sequential([keras.Input((3,)), keras.layers.Activation("relu")])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="found no trainable Dense or Conv kernel"):
        model.fit(
            np.zeros((4, 3)),
            np.zeros((4, 3)),
            verbose=0,
            callbacks=[MagnitudePruning(0.5)],
        )


def test_sparsity_helper():
    assert sparsity([np.array([0.0, 1.0, 0.0, 2.0])]) == 0.5
    assert sparsity([]) == 0.0
