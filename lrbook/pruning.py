"""Magnitude pruning for Keras 3: a sparsity schedule, magnitude masks and a callback.

The TensorFlow Model Optimization Toolkit (``tensorflow-model-optimization``)
prunes only ``tf.keras`` (Keras 2) models; it does not support Keras 3
(tensorflow/model-optimization#1119). This module is the small part of it the
book needs, after Zhu and Gupta (2017), "To prune, or not to prune":

* :func:`polynomial_sparsity` - the sparsity at step ``t``, rising from
  ``initial`` to ``final`` between ``begin_step`` and ``end_step`` as
  ``s_t = final + (initial - final) * (1 - (t - begin) / (end - begin)) ** power``
  (``power = 3``: prune fast while there are many redundant weights, slowly at the end).
* :func:`magnitude_mask` - the mask keeping the largest-magnitude weights of one tensor.
* :class:`MagnitudePruning` - a callback that recomputes the masks of every
  trainable ``Dense`` and convolution kernel every ``frequency`` steps while the
  schedule runs and re-applies them after **every** training batch, so pruned
  weights stay exactly zero however the optimizer moves them. Biases are not
  pruned (tfmot's default too).

Used in: the distillation and compression chapter.
"""

from __future__ import annotations

import numpy as np

from lrbook._validation import check, fail, fraction, integer, positive_int
from lrbook.env import import_keras

import_keras()
import keras

__all__ = [
    "MagnitudePruning",
    "magnitude_mask",
    "polynomial_sparsity",
    "prunable_kernels",
    "sparsity",
]


def polynomial_sparsity(
    step, *, initial=0.0, final=0.5, begin_step=0, end_step=100, power=3.0
):
    """Zhu and Gupta's polynomial sparsity schedule (tfmot's ``PolynomialDecay``).

    ```python
    pos = clip((step - begin_step) / (end_step - begin_step), 0, 1)
    sparsity = final + (initial - final) * (1 - pos) ** power
    ```

    Before ``begin_step`` the sparsity is ``initial``; from ``end_step`` on, ``final``.

    Args:
        step: the training step (int or float).
        initial: sparsity at ``begin_step``, in ``[0, 1)``.
        final: sparsity from ``end_step`` on, in ``[0, 1)``.
        begin_step: first step of the ramp (>= 0).
        end_step: last step of the ramp (> ``begin_step``).
        power: exponent (> 0); 1 is a linear ramp.

    Returns:
        The sparsity (float).

    Raises:
        ValueError: a sparsity outside ``[0, 1)``, ``end_step <= begin_step``,
            a negative ``begin_step`` or ``power <= 0``.

    Example:
        >>> [round(polynomial_sparsity(t, final=0.9, end_step=10), 4) for t in (0, 5, 10, 20)]
        [0.0, 0.7875, 0.9, 0.9]
    """
    fraction("initial", initial)
    fraction("final", final)
    integer("begin_step", begin_step, low=0)
    check(
        "end_step",
        end_step,
        isinstance(end_step, (int, np.integer)) and end_step > begin_step,
        "an integer > `begin_step`",
        begin_step=begin_step,
    )
    check(
        "power",
        power,
        isinstance(power, (int, float)) and power > 0,
        "a number > 0",
    )
    pos = min(max((float(step) - begin_step) / (end_step - begin_step), 0.0), 1.0)
    return float(final + (initial - final) * (1.0 - pos) ** power)


def magnitude_mask(weights, sparsity):
    """The 0/1 mask that zeroes the ``round(sparsity * size)`` smallest-magnitude entries of ``weights``.

    Ties are broken by position (a stable sort), so the number of zeros is
    exact. Entries that are already zero sort first and stay pruned.

    Args:
        weights: a NumPy array (any shape).
        sparsity: fraction of entries to zero, in ``[0, 1)``.

    Returns:
        A float32 array of the shape of ``weights``, with exactly
        ``round(sparsity * weights.size)`` zeros.

    Raises:
        ValueError: ``sparsity`` outside ``[0, 1)``.

    Example:
        >>> magnitude_mask(np.array([0.3, -0.1, 0.05, -2.0]), 0.5)
        array([1., 0., 0., 1.], dtype=float32)
    """
    fraction("sparsity", sparsity)
    w = np.asarray(weights)
    k = int(round(sparsity * w.size))  # noqa: RUF046  (round of a NumPy float)
    mask = np.ones(w.size, dtype="float32")
    if k:
        mask[np.argsort(np.abs(w).reshape(-1), kind="stable")[:k]] = 0.0
    return mask.reshape(w.shape)


_PRUNABLE = (
    keras.layers.Dense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
)


def prunable_kernels(model):
    """The kernels :class:`MagnitudePruning` prunes: those of ``model``'s trainable Dense/Conv layers.

    A frozen sub-model (a distiller's teacher, ``trainable = False``) is skipped.

    Example:
        >>> from lrbook import models
        >>> [tuple(v.shape) for v in prunable_kernels(models.cnn1d(filters=(8,)))]
        [(5, 1, 8), (160, 10)]
    """
    kernels = {
        id(layer.kernel)
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, _PRUNABLE)
        and layer.trainable
        and getattr(layer, "kernel", None) is not None
    }
    return [v for v in model.trainable_variables if id(v) in kernels]


def sparsity(model_or_variables):
    """Fraction of exact zeros in the prunable kernels of a model (or in a list of variables/arrays).

    Example:
        >>> sparsity([np.array([0.0, 1.0, 0.0, 2.0])])
        0.5
    """
    values = (
        prunable_kernels(model_or_variables)
        if isinstance(model_or_variables, keras.Model)
        else list(model_or_variables)
    )
    arrays = [np.asarray(keras.ops.convert_to_numpy(v)) for v in values]
    total = sum(a.size for a in arrays)
    if total == 0:
        return 0.0
    return float(sum(int(np.sum(a == 0)) for a in arrays) / total)


@keras.saving.register_keras_serializable(package="lrbook")
class MagnitudePruning(keras.callbacks.Callback):
    """Prune the smallest weights of every trainable Dense/Conv kernel during ``fit``.

    Each kernel is pruned to the same sparsity (layer-wise, as tfmot does).
    At step ``t`` (counted by the callback from 0, over every ``fit`` it is used
    in) the target is :func:`polynomial_sparsity` ``(t)``; every ``frequency``
    steps up to ``end_step`` (and once at ``end_step``) the masks are recomputed
    from the current magnitudes (:func:`magnitude_mask`), and after every batch
    the weights are multiplied by their masks. Zeroed weights therefore stay
    zero: they are the smallest at the next recomputation too.

    Use it with a fresh optimizer or accept that the optimizer's momentum of a
    pruned weight is wasted (the mask zeroes the weight again after each step).

    Example:
        >>> from lrbook import models
        >>> x = np.random.default_rng(0).normal(size=(64, 40, 1)).astype("float32")
        >>> y = np.arange(64) % 10
        >>> model = models.compile_classifier(models.cnn1d(filters=(8, 8)), "adam")
        >>> prune = MagnitudePruning(target_sparsity=0.75, end_step=6, frequency=2)
        >>> _ = model.fit(x, y, batch_size=16, epochs=2, callbacks=[prune], verbose=0)  # 8 steps
        >>> round(float(sparsity(model)), 2)
        0.75

    Args:
        target_sparsity: final sparsity of every pruned kernel, in ``[0, 1)``.
        begin_step: first step of the schedule (before it: no pruning).
        end_step: the step at which ``target_sparsity`` is reached.
        frequency: recompute the masks every this many steps (>= 1).
        initial_sparsity: the sparsity at ``begin_step``.
        power: exponent of the schedule.

    Raises:
        ValueError: as :func:`polynomial_sparsity`, ``target_sparsity`` of 0
            (nothing to prune), or ``frequency < 1``.
    """

    def __init__(
        self,
        target_sparsity,
        *,
        begin_step=0,
        end_step=100,
        frequency=10,
        initial_sparsity=0.0,
        power=3.0,
    ):
        super().__init__()
        fraction("initial_sparsity", initial_sparsity)
        fraction("target_sparsity", target_sparsity)
        if not target_sparsity > 0:  # a target of 0 prunes nothing
            fail("target_sparsity", target_sparsity, "a number in (0, 1)")
        polynomial_sparsity(
            0,
            initial=initial_sparsity,
            final=target_sparsity,
            begin_step=begin_step,
            end_step=end_step,
            power=power,
        )  # validates
        positive_int("frequency", frequency)
        self.target_sparsity = float(target_sparsity)
        self.begin_step = int(begin_step)
        self.end_step = int(end_step)
        self.frequency = int(frequency)
        self.initial_sparsity = float(initial_sparsity)
        self.power = float(power)
        self.step = 0
        self.masks = None
        self.history = []  # (step, scheduled sparsity) at each mask update

    def scheduled_sparsity(self, step):
        """The schedule's sparsity at ``step``."""
        return polynomial_sparsity(
            step,
            initial=self.initial_sparsity,
            final=self.target_sparsity,
            begin_step=self.begin_step,
            end_step=self.end_step,
            power=self.power,
        )

    def _synced_kernels(self):
        # Reading `self.model` makes Keras attach the weights of the running `fit` to
        # the variables first: on JAX they live apart from them between callbacks.
        _ = self.model
        return self._kernels

    def _update_masks(self):
        s = self.scheduled_sparsity(self.step)
        self.masks = [
            magnitude_mask(keras.ops.convert_to_numpy(v), s)
            for v in self._synced_kernels()
        ]
        self.history.append((self.step, s))

    def _apply(self):
        for v, m in zip(self._synced_kernels(), self.masks):
            v.assign(v * m)

    def on_train_begin(self, logs=None):
        self._kernels = prunable_kernels(self.model)
        if not self._kernels:
            raise ValueError(
                "MagnitudePruning found no trainable Dense or Conv kernel in the model."
            )
        if self.masks is None or len(self.masks) != len(self._kernels):
            self.masks = [np.ones(v.shape, "float32") for v in self._kernels]

    def on_train_batch_begin(self, batch, logs=None):
        t = self.step
        if self.begin_step <= t <= self.end_step and (
            (t - self.begin_step) % self.frequency == 0 or t == self.end_step
        ):
            self._update_masks()
            self._apply()

    def on_train_batch_end(self, batch, logs=None):
        self._apply()
        self.step += 1

    def get_config(self):
        return {
            "target_sparsity": self.target_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "frequency": self.frequency,
            "initial_sparsity": self.initial_sparsity,
            "power": self.power,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
