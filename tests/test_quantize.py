"""lrbook.quantize: a full-integer TFLite model keeps the float32 model's accuracy on a fixed batch."""

from __future__ import annotations

import numpy as np
import pytest

from lrbook.env import import_keras

import_keras()
import keras  # noqa: E402

from lrbook import quantize  # noqa: E402

TOLERANCE = 0.05  # int8 accuracy within 5 points of float32 on the fixed batch


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=2.0, size=(4, 8))
    y = rng.integers(0, 4, size=600)
    x = (centers[y] + rng.normal(size=(600, 8))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(4),
        ]
    )
    model.compile(
        keras.optimizers.Adam(0.02),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x[:400], y[:400], epochs=20, batch_size=32, verbose=0)
    return model, x, y


def test_full_integer_tflite_accuracy_within_tolerance(trained):
    model, x, y = trained
    x_test, y_test = x[400:], y[400:]
    acc_float = float(
        (np.argmax(model.predict(x_test, verbose=0), -1) == y_test).mean()
    )
    flat = quantize.to_tflite(model, x[:400], num_calibration=100)
    tfl = quantize.TFLiteModel(flat)
    assert tfl.input_dtype == np.int8
    out = tfl.predict(x_test)
    assert out.shape == (200, 4) and out.dtype == np.float32
    acc_int8 = float((out.argmax(-1) == y_test).mean())
    assert acc_float > 0.8
    assert abs(acc_int8 - acc_float) <= TOLERANCE, (acc_int8, acc_float)
    # float32 TFLite reproduces the Keras logits
    f32 = quantize.TFLiteModel(quantize.to_tflite(model))
    np.testing.assert_allclose(
        f32.predict(x_test[:10]),
        model.predict(x_test[:10], verbose=0),
        rtol=1e-4,
        atol=1e-4,
    )
    assert (
        tfl.size_bytes > 0 and f32.size_bytes > 0
    )  # tiny model: the flatbuffer's overhead dominates


def test_keras_int8_quantize_within_tolerance(trained):
    model, x, y = trained
    q = keras.models.clone_model(model)
    q.set_weights(model.get_weights())
    q.quantize("int8")
    acc_float = float(
        (np.argmax(model.predict(x[400:], verbose=0), -1) == y[400:]).mean()
    )
    acc_q = float((np.argmax(q.predict(x[400:], verbose=0), -1) == y[400:]).mean())
    assert abs(acc_q - acc_float) <= TOLERANCE


def test_sizes_and_latency_helpers(trained):
    model, x, _ = trained
    assert quantize.weights_file_bytes(model) > 4 * model.count_params()
    assert quantize.gzipped_bytes(bytes(10_000)) < 100
    with pytest.raises(
        ValueError, match=r"`repeats` must be an integer >= 1. Received: repeats=0"
    ):
        quantize.median_latency_s(lambda v: v, x[0], repeats=0)
    with pytest.raises(
        ValueError,
        match=r"`num_calibration` must be an integer >= 1. Received: num_calibration=0",
    ):
        quantize.to_tflite(model, x, num_calibration=0)
    with pytest.raises(ValueError, match=r"`flatbuffer` must be non-empty bytes"):
        quantize.TFLiteModel(b"")


def test_median_latency_times_each_call_after_the_warmup(monkeypatch):
    """A fake clock that each call moves on by a known duration: the median of the timed ones."""
    clock = {"now": 0.0}
    durations = iter([9.0, 9.0] + [0.5, 0.1, 0.3, 0.2, 0.4])  # 2 warm-up calls, 5 timed
    calls = []

    def predict_one(v):
        calls.append(v)
        clock["now"] += next(durations)

    monkeypatch.setattr(quantize.time, "perf_counter", lambda: clock["now"])
    seconds = quantize.median_latency_s(predict_one, "x", repeats=5, warmup=2)
    assert calls == ["x"] * 7
    assert seconds == pytest.approx(0.3)  # the warm-up's 9 s are not timed
