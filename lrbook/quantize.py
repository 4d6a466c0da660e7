"""Post-training quantization, measured: TFLite full-integer models, sizes and latencies.

Two routes for a trained Keras 3 model:

* ``model.quantize("int8")`` (Keras 3): weight and activation int8 quantization
  of the layers that implement it. In Keras 3.15 that is ``Dense``,
  ``EinsumDense`` and ``Embedding``; a ``Conv1D`` stays float32 (Keras warns
  "does not have a `quantize` method"), so on a CNN only the classifier head
  shrinks.
* TFLite post-training **full-integer** quantization (:func:`to_tflite` with a
  representative data set): every weight and activation in int8, the scales of
  the activations calibrated on the representative inputs, int8 input and
  output. Run it with the LiteRT interpreter (``ai_edge_litert``; the old
  ``tf.lite.Interpreter`` is deprecated) through :class:`TFLiteModel`.

Needs TensorFlow as the Keras backend (the TFLite converter is ``tf.lite``) and
ai-edge-litert, the ``quantize`` extra (``pip install 'lrbook[quantize]'``);
without either, ``import lrbook.quantize`` raises an ``ImportError`` that says
which (on JAX or PyTorch: the backend, and what to install).

Used in: the distillation and compression chapter.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import statistics
import tempfile
import time
import warnings

import numpy as np

from lrbook._validation import fail, integer, shown
from lrbook.env import require_tensorflow

require_tensorflow("lrbook.quantize (the TFLite converter, tf.lite)")
import keras  # noqa: F401  (TensorFlow imported quietly first)

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError as error:  # an optional dependency: the `quantize` extra
    raise ImportError(
        "lrbook.quantize needs ai-edge-litert (the LiteRT interpreter), which lrbook "
        "installs only with its `quantize` extra: pip install 'lrbook[quantize]' "
        f"(or pip install ai-edge-litert). The import failed with: {error}"
    ) from error

__all__ = [
    "TFLiteModel",
    "gzipped_bytes",
    "median_latency_s",
    "to_tflite",
    "weights_file_bytes",
]


def to_tflite(model, representative_inputs=None, *, num_calibration=200):
    """Convert a Keras model to a TFLite flatbuffer: float32, or full-integer int8.

    With ``representative_inputs`` the converter calibrates activation ranges on
    the first ``num_calibration`` of them (one sample per call) and produces a
    model whose weights, activations, input and output are all int8
    (``TFLITE_BUILTINS_INT8``). Without it, a plain float32 model.

    Tries ``tf.lite.TFLiteConverter.from_keras_model``; if that fails, exports a
    SavedModel (``model.export``) into a temporary folder and converts that.

    Args:
        model: a built Keras model.
        representative_inputs: array of inputs for calibration, or ``None``.
        num_calibration: how many of them to use (>= 1).

    Returns:
        The ``.tflite`` flatbuffer as ``bytes``.

    Raises:
        ValueError: ``num_calibration < 1``.

    Example:
        >>> from lrbook import models
        >>> x = np.random.default_rng(0).normal(size=(64, 40, 1)).astype("float32")
        >>> model = models.cnn1d(filters=(8,))               # a trained model in practice
        >>> flat = to_tflite(model, x, num_calibration=32)   # int8
        >>> TFLiteModel(flat).predict(x[:5]).shape, len(to_tflite(model)) > len(flat)   # float32 is larger
        ((5, 10), True)
    """
    integer("num_calibration", num_calibration, low=1)
    import tensorflow as tf

    def configure(converter):
        if representative_inputs is not None:
            calib = np.asarray(representative_inputs, dtype="float32")[:num_calibration]

            def representative():
                for i in range(len(calib)):
                    yield [calib[i : i + 1]]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        return converter.convert()

    from lrbook.env import _silenced_fd

    # The converter prints the exported signature to stdout, warns about the (int8) input statistics it
    # calibrates itself, and logs from C++ to fd 2: keep a notebook's output readable.
    with (
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
        _silenced_fd(2),
    ):
        warnings.simplefilter("ignore")
        try:
            return configure(tf.lite.TFLiteConverter.from_keras_model(model))
        # Any failure: the route for models from_keras_model cannot trace.
        except Exception:  # noqa: BLE001  # pragma: no cover
            with tempfile.TemporaryDirectory() as tmp:
                model.export(os.path.join(tmp, "saved_model"), verbose=False)
                return configure(
                    tf.lite.TFLiteConverter.from_saved_model(
                        os.path.join(tmp, "saved_model")
                    )
                )


class TFLiteModel:
    """A TFLite flatbuffer run with the LiteRT interpreter, with a Keras-like ``predict``.

    Handles int8 models: inputs are quantized with the input tensor's
    ``(scale, zero_point)``, outputs dequantized, so ``predict`` takes and
    returns float32 like the Keras model it came from.

    Example:
        >>> from lrbook import models
        >>> x = np.random.default_rng(0).normal(size=(64, 40, 1)).astype("float32")
        >>> y = np.arange(64) % 10
        >>> tfl = TFLiteModel(to_tflite(models.cnn1d(filters=(8,)), x))
        >>> tfl.input_dtype, tfl.predict(x).dtype
        (dtype('int8'), dtype('float32'))
        >>> acc = (tfl.predict(x).argmax(-1) == y).mean()    # accuracy of the int8 model

    Args:
        flatbuffer: the ``bytes`` of a ``.tflite`` model.
        num_threads: interpreter threads (1: a fair single-core latency).
    """

    def __init__(self, flatbuffer, *, num_threads=1):
        if not isinstance(flatbuffer, (bytes, bytearray)) or not flatbuffer:
            fail(
                "flatbuffer",
                shown(f"<{len(flatbuffer)} bytes>")
                if isinstance(flatbuffer, (bytes, bytearray))
                else shown(f"<{type(flatbuffer).__name__}>"),
                "non-empty bytes",
            )
        self.flatbuffer = bytes(flatbuffer)
        self.interpreter = Interpreter(
            model_content=self.flatbuffer, num_threads=num_threads
        )
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]

    @property
    def size_bytes(self) -> int:
        """Size of the flatbuffer (what a ``.tflite`` file on disk holds)."""
        return len(self.flatbuffer)

    @property
    def input_dtype(self):
        """NumPy dtype of the model's input (``int8`` for a full-integer model)."""
        return np.dtype(self._in["dtype"])

    def _quantize(self, x):
        dtype = self.input_dtype
        if dtype == np.float32:
            return x.astype("float32")
        scale, zero = self._in["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)

    def _dequantize(self, y):
        if np.dtype(self._out["dtype"]) == np.float32:
            return y.astype("float32")
        scale, zero = self._out["quantization"]
        return ((y.astype("float32") - zero) * scale).astype("float32")

    def predict_one(self, x_one):
        """Outputs for one sample (shape of one input, batch dimension added here)."""
        self.interpreter.set_tensor(
            self._in["index"], self._quantize(np.asarray(x_one)[None])
        )
        self.interpreter.invoke()
        return self._dequantize(self.interpreter.get_tensor(self._out["index"]))[0]

    def predict(self, x):
        """Outputs for every sample of ``x``, one ``invoke`` per sample."""
        return np.stack([self.predict_one(xi) for xi in np.asarray(x, dtype="float32")])


def weights_file_bytes(model) -> int:
    """Size on disk of ``model.save_weights(...)`` (the ``.weights.h5`` file: weights only, no optimizer).

    Example:
        >>> from lrbook import models
        >>> weights_file_bytes(models.cnn1d()) > 4 * models.cnn1d().count_params()
        True
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.weights.h5")
        model.save_weights(path)
        return os.path.getsize(path)


def gzipped_bytes(data: bytes) -> int:
    """Size of ``data`` after gzip (level 9): how much a pruned model's zeros are worth on disk.

    Example:
        >>> gzipped_bytes(bytes(10_000)) < 100
        True
    """
    return len(gzip.compress(bytes(data), compresslevel=9, mtime=0))


def median_latency_s(predict_one, x_one, *, repeats=200, warmup=10) -> float:
    """Median wall time (seconds) of ``predict_one(x_one)`` over ``repeats`` calls after ``warmup`` calls.

    Example:
        >>> seconds = median_latency_s(lambda x: x * 2, np.ones(3), repeats=5)
        >>> f"{seconds * 1e6:.1f} microseconds a call"
        '... microseconds a call'
    """
    integer("repeats", repeats, low=1)
    for _ in range(warmup):
        predict_one(x_one)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict_one(x_one)
        times.append(time.perf_counter() - t0)
    return float(statistics.median(times))
