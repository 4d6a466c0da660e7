"""lrbook.regularization against independent references: Keras's own layers and
callbacks, the seed's NumPy classes written out here, and hand-computed values."""

import numpy as np
import pytest

from lrbook import models, regularization
from lrbook.regularization import (
    batch_norm_forward,
    dropout_forward,
    early_stopping_epoch,
    layer_statistics,
    near_zero_fraction,
)

import keras  # noqa: E402  (after lrbook, which imports TensorFlow quietly)


# ----------------------------------------------------------------------------- dropout
class SeedDropout:
    """The seed's class (ゼロから作る Deep Learning), verbatim but for the mask argument."""

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio

    def forward(self, x, mask, train_flg=True):
        if train_flg:
            return x * mask
        return x * (1.0 - self.dropout_ratio)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_inverted_matches_keras_in_training_and_inference(rate):
    x = (
        np.random.default_rng(0).normal(size=(64, 50)).astype("float32") + 3.0
    )  # no exact zeros
    layer = keras.layers.Dropout(rate, seed=1)
    y_keras = keras.ops.convert_to_numpy(layer(x, training=True))
    mask = y_keras != 0
    y, m = dropout_forward(x, rate, mask=mask)
    np.testing.assert_allclose(y, y_keras, rtol=1e-6)
    assert abs(m.mean() - (1 - rate)) < 4 * np.sqrt(rate * (1 - rate) / m.size)
    np.testing.assert_array_equal(
        dropout_forward(x, rate, training=False)[0],
        keras.ops.convert_to_numpy(layer(x, training=False)),
    )


def test_dropout_inference_scaling_is_the_seed_class():
    x = np.random.default_rng(1).normal(size=(5, 7))
    mask = np.random.default_rng(2).random(x.shape) > 0.3
    seed = SeedDropout(0.3)
    np.testing.assert_allclose(
        dropout_forward(x, 0.3, scaling="inference", mask=mask)[0],
        seed.forward(x, mask),
    )
    np.testing.assert_allclose(
        dropout_forward(x, 0.3, training=False, scaling="inference")[0],
        seed.forward(x, mask, train_flg=False),
    )


@pytest.mark.parametrize("scaling", ["inverted", "inference"])
def test_dropout_expectation_equals_inference_output(scaling):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3))
    draws = np.stack(
        [dropout_forward(x, 0.4, scaling=scaling, rng=rng)[0] for _ in range(20000)]
    )
    np.testing.assert_allclose(
        draws.mean(axis=0),
        dropout_forward(x, 0.4, training=False, scaling=scaling)[0],
        atol=0.03,
    )


def test_dropout_errors():
    with pytest.raises(
        ValueError, match=r"`rate` must be a float in \[0, 1\). Received: rate=1.0"
    ):
        dropout_forward(np.ones(3), 1.0)
    with pytest.raises(
        ValueError, match="`scaling` must be one of .* Received: scaling='train'"
    ):
        dropout_forward(np.ones(3), 0.5, scaling="train")
    with pytest.raises(
        ValueError, match=r"`mask` must be an array of the shape of x, \(3,\)"
    ):
        dropout_forward(np.ones(3), 0.5, mask=np.ones(4))


# ----------------------------------------------------------------------------- batch norm
def seed_batch_norm(x, gamma, beta, momentum, running_mean, running_var, train_flg):
    """The seed's BatchNormalization.__forward (2-D input), epsilon 10e-7 as written there."""
    if train_flg:
        mu = x.mean(axis=0)
        xc = x - mu
        var = np.mean(xc**2, axis=0)
        std = np.sqrt(var + 10e-7)
        xn = xc / std
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        xc = x - running_mean
        xn = xc / np.sqrt(running_var + 10e-7)
    return gamma * xn + beta, running_mean, running_var


def test_batch_norm_matches_the_seed_class():
    rng = np.random.default_rng(0)
    x, gamma, beta = (
        rng.normal(2.0, 3.0, size=(16, 5)),
        rng.normal(size=5),
        rng.normal(size=5),
    )
    rm, rv = np.zeros(5), np.zeros(5)
    for train in (True, True, False):
        want = seed_batch_norm(x, gamma, beta, 0.9, rm, rv, train)
        got = batch_norm_forward(
            x, gamma, beta, rm, rv, training=train, momentum=0.9, epsilon=1e-6
        )
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-12)
        rm, rv = got[1], got[2]


@pytest.mark.parametrize("shape", [(32, 6), (8, 10, 6)])
def test_batch_norm_matches_keras_training_and_inference(shape):
    rng = np.random.default_rng(1)
    layer = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    layer.build(shape)
    gamma, beta = rng.normal(1.0, 0.2, size=6), rng.normal(size=6)
    layer.gamma.assign(gamma.astype("float32"))
    layer.beta.assign(beta.astype("float32"))
    mean, var = np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)
    np.testing.assert_array_equal(
        var, np.ones(6)
    )  # Keras starts the moving variance at 1
    for _ in range(3):
        x = rng.normal(5.0, 2.0, size=shape).astype("float32")
        y_keras = keras.ops.convert_to_numpy(layer(x, training=True))
        y, mean, var = batch_norm_forward(
            x, gamma, beta, mean, var, momentum=0.9, epsilon=1e-3
        )
        np.testing.assert_allclose(y, y_keras, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(mean, np.asarray(layer.moving_mean), rtol=1e-5)
        np.testing.assert_allclose(var, np.asarray(layer.moving_variance), rtol=1e-5)
    y_inf, m2, v2 = batch_norm_forward(
        x, gamma, beta, mean, var, training=False, epsilon=1e-3
    )
    np.testing.assert_allclose(
        y_inf,
        keras.ops.convert_to_numpy(layer(x, training=False)),
        rtol=1e-4,
        atol=1e-4,
    )
    np.testing.assert_array_equal(m2, mean)
    np.testing.assert_array_equal(v2, var)


def test_batch_norm_hand_values_and_errors():
    y, m, v = batch_norm_forward(
        np.array([[0.0], [4.0]]), [2.0], [1.0], [0.0], [1.0], momentum=0.5, epsilon=0.0
    )
    np.testing.assert_allclose(y, [[-1.0], [3.0]])  # 2 * (+-1) + 1
    np.testing.assert_allclose(m, [1.0])
    np.testing.assert_allclose(v, [2.5])  # 0.5 * 1 + 0.5 * 4
    with pytest.raises(
        ValueError, match=r"`momentum` must be in \[0, 1\]. Received: momentum=1.5"
    ):
        batch_norm_forward(np.ones((2, 1)), 1, 0, 0, 1, momentum=1.5)
    with pytest.raises(
        ValueError, match="`epsilon` must be >= 0. Received: epsilon=-1"
    ):
        batch_norm_forward(np.ones((2, 1)), 1, 0, 0, 1, epsilon=-1)


# ----------------------------------------------------------------------------- early stopping
def keras_stop(values, patience, mode="min", min_delta=0.0):
    """Drive keras.callbacks.EarlyStopping with a synthetic monitored curve."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    cb = keras.callbacks.EarlyStopping(
        monitor="val_loss",
        patience=patience,
        mode=mode,
        min_delta=min_delta,
        restore_best_weights=True,
    )
    cb.set_model(model)
    model.stop_training = False
    cb.on_train_begin()
    stop = len(values)
    for epoch, v in enumerate(values):
        model.layers[0].kernel.assign(
            [[float(epoch)]]
        )  # tag the weights with the epoch
        cb.on_epoch_end(epoch, {"val_loss": float(v)})
        if model.stop_training:
            stop = epoch + 1
            break
    cb.on_train_end()
    return stop, int(round(float(np.asarray(model.layers[0].kernel)[0, 0]))) + 1


CURVES = [
    [1.0, 0.8, 0.9, 0.7, 0.75, 0.72, 0.71, 0.9],
    [3.0, 2.0, 1.0, 0.5, 0.4],
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    [2.0, 1.5, 1.6, 1.4, 1.45, 1.5, 1.55, 1.3, 1.35, 1.4, 1.5, 1.6],
]


@pytest.mark.parametrize("values", CURVES)
@pytest.mark.parametrize("patience", [0, 1, 2, 3])
@pytest.mark.parametrize("min_delta", [0.0, 0.06])
def test_keras_rule_matches_keras_early_stopping(values, patience, min_delta):
    assert early_stopping_epoch(values, patience, min_delta=min_delta) == keras_stop(
        values, patience, min_delta=min_delta
    )


def test_keras_rule_max_mode_matches_keras():
    acc = [0.1, 0.3, 0.2, 0.25, 0.5, 0.4, 0.45, 0.42]
    assert early_stopping_epoch(acc, 2, mode="max") == keras_stop(acc, 2, mode="max")


def test_seed_rule_by_hand():
    # not better than the previous epoch at epochs 3, 5, 8: the count passes 2 at epoch 8, 1 at epoch 5
    values = [1.0, 0.8, 0.9, 0.7, 0.75, 0.72, 0.71, 0.9, 0.6]
    assert early_stopping_epoch(values, 2, rule="seed") == (8, 4)
    assert early_stopping_epoch(values, 1, rule="seed") == (5, 4)
    assert early_stopping_epoch(values, 3, rule="seed") == (9, 9)  # never fires
    assert early_stopping_epoch([1.0, 2.0], 0, rule="seed") == (2, 1)


def test_early_stopping_errors():
    with pytest.raises(
        ValueError,
        match="`patience` must be a non-negative integer. Received: patience=-1",
    ):
        early_stopping_epoch([1.0], -1)
    with pytest.raises(
        ValueError,
        match="`patience` must be a non-negative integer. Received: patience=1.5",
    ):
        early_stopping_epoch([1.0], 1.5)
    with pytest.raises(
        ValueError, match="`rule` must be one of .* Received: rule='pytorch'"
    ):
        early_stopping_epoch([1.0], 1, rule="pytorch")
    with pytest.raises(
        ValueError, match="`mode` must be 'min' or 'max'. Received: mode='auto'"
    ):
        early_stopping_epoch([1.0], 1, mode="auto")
    with pytest.raises(
        ValueError,
        match="`values` must be a non-empty sequence. Received: values=\\[\\]",
    ):
        early_stopping_epoch([], 1)
    with pytest.raises(
        ValueError, match="`min_delta` must be >= 0. Received: min_delta=-0.1"
    ):
        early_stopping_epoch([1.0], 1, min_delta=-0.1)


# ----------------------------------------------------------------------------- near-zero weights
def test_near_zero_fraction():
    assert near_zero_fraction(
        [np.array([0.0, 1e-4, 0.5]), np.array([[2.0, -1e-5]])]
    ) == pytest.approx(0.6)
    assert near_zero_fraction(np.array([0.01, 0.02]), threshold=0.015) == 0.5
    w = np.random.default_rng(0).uniform(-1, 1, size=100000)
    assert near_zero_fraction(w, 0.1) == pytest.approx(
        0.1, abs=0.005
    )  # uniform: P(|w| < t) = t
    with pytest.raises(
        ValueError, match="`threshold` must be > 0. Received: threshold=0"
    ):
        near_zero_fraction([np.ones(2)], 0)
    with pytest.raises(ValueError, match="`weights` must be at least one weight"):
        near_zero_fraction([])


# ----------------------------------------------------------------------------- layer statistics
def test_layer_statistics_against_a_hand_forward_and_backward_pass():
    keras.utils.set_random_seed(0)
    model = models.mlp((6,), num_classes=3, hidden=(5, 4), activation="relu")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 6)).astype("float32"), rng.integers(0, 3, size=32)
    stats = layer_statistics(model, x, y)
    assert list(stats.layer) == ["dense_0", "dense_1", "logits"]
    (w0, b0), (w1, b1), (w2, b2) = [
        (layer.kernel.numpy(), layer.bias.numpy())
        for layer in model.layers
        if getattr(layer, "kernel", None) is not None
    ]
    # NumPy forward and backward of the same MLP
    z0 = x @ w0 + b0
    a0 = np.maximum(z0, 0)
    z1 = a0 @ w1 + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ w2 + b2
    p = np.exp(z2 - z2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d2 = (p - np.eye(3)[y]) / len(y)
    g2 = a1.T @ d2
    d1 = (d2 @ w2.T) * (z1 > 0)
    g1 = a0.T @ d1
    d0 = (d1 @ w1.T) * (z0 > 0)
    g0 = x.T @ d0
    for depth, (a, g) in enumerate([(a0, g0), (a1, g1), (z2, g2)], start=1):
        np.testing.assert_allclose(stats.loc[depth, "act_std"], a.std(), rtol=1e-4)
        np.testing.assert_allclose(
            stats.loc[depth, "act_mean"], a.mean(), rtol=1e-4, atol=1e-6
        )
        np.testing.assert_allclose(stats.loc[depth, "act_zero"], np.mean(a == 0))
        np.testing.assert_allclose(stats.loc[depth, "grad_std"], g.std(), rtol=1e-4)


def test_layer_statistics_shows_he_keeps_relu_activations_alive_and_errors():
    x = np.random.default_rng(1).normal(size=(256, 40)).astype("float32")
    y = np.zeros(256, dtype="int32")
    stds = {}
    for init in ("glorot_normal", "he_normal"):
        keras.utils.set_random_seed(0)
        model = models.mlp((40,), hidden=(256,) * 12, kernel_initializer=init)
        stds[init] = layer_statistics(model, x, y).act_std.to_numpy()
    # He keeps the activation scale roughly constant through 12 ReLU layers; Glorot halves the variance per layer
    assert 0.3 < stds["he_normal"][-2] / stds["he_normal"][0] < 3
    assert stds["glorot_normal"][-2] / stds["glorot_normal"][0] < 0.05
    with pytest.raises(
        ValueError,
        match="`model` must be a model with at least one layer that has a kernel",
    ):
        layer_statistics(
            keras.Sequential([keras.Input((3,)), keras.layers.ReLU()]), x[:, :3], y
        )


def test_module_is_registered():
    import lrbook

    assert "regularization" in lrbook._SUBMODULES
    assert lrbook.regularization is regularization


def test_cumulative_is_the_article_rule_under_its_new_name():
    values = [1.0, 0.8, 0.9, 0.7, 0.75, 0.72, 0.71, 0.9]
    for patience in (0, 1, 2, 3):
        assert early_stopping_epoch(
            values, patience, rule="cumulative"
        ) == early_stopping_epoch(values, patience, rule="seed")
    assert early_stopping_epoch(values, 2, rule="cumulative") == (8, 4)
