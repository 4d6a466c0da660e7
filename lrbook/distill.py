"""Knowledge distillation: the temperature softmax, the distillation loss and a ``Distiller`` model.

The loss is the one of the deep-learning exam article the book grew from (Zenn, 2022,
in Japanese), after
Hinton, Vinyals and Dean (2015)::

    L = (lambda_soft * T**2 * L_soft + lambda_hard * L_hard) / (lambda_soft + lambda_hard)

with ``L_soft = KL(softmax(teacher_logits / T) || softmax(student_logits / T))``
averaged over the batch and ``L_hard`` the sparse categorical cross-entropy of
the student's logits (at ``T = 1``) against the labels. The ``T**2`` keeps the
soft term's gradients the same size as ``T`` changes (they shrink as ``1/T**2``).

Keras 3.15 ships ``keras.distillation.Distiller``. With
``LogitsDistillation(temperature=T, loss=keras.losses.KLDivergence())`` and
``student_loss_weight=alpha`` it minimises
``alpha * L_hard + (1 - alpha) * T**2 * L_soft``: the same loss as here when
``alpha = lambda_hard / (lambda_soft + lambda_hard)``
(:func:`keras_student_loss_weight`); ``tests/test_distill.py`` checks that the
loss and one training step agree. Three differences:

* ``LogitsDistillation``'s *default* ``loss="kl_divergence"`` is resolved to the
  function ``keras.losses.kl_divergence``, which misses the class check that
  applies the softmax and the ``T**2``: Keras 3.15 then computes the KL
  divergence of the clipped, temperature-scaled *logits* (not a distillation
  loss). Pass the ``KLDivergence()`` instance.
* Keras clips both probability vectors to ``[1e-7, 1]`` inside the KL
  divergence; this module uses log-softmax, exact for any logits.
* Keras's student loss is whatever ``loss`` you compile with: with logit outputs
  pass ``SparseCategoricalCrossentropy(from_logits=True)``, not the string
  ``"sparse_categorical_crossentropy"`` (which expects probabilities).

Used in: the distillation and compression chapter.
"""

from __future__ import annotations

from lrbook._validation import fail
from lrbook.env import import_keras

import_keras()
import keras
from keras import ops

__all__ = [
    "DistillationLoss",
    "Distiller",
    "distillation_loss",
    "keras_student_loss_weight",
    "pack_targets",
    "packed_accuracy",
    "temperature_softmax",
]


def _check_settings(temperature, lambda_soft, lambda_hard):
    if (
        not isinstance(temperature, (int, float))
        or isinstance(temperature, bool)
        or not temperature > 0
    ):
        fail("temperature", temperature, "a number > 0")
    for name, value in (("lambda_soft", lambda_soft), ("lambda_hard", lambda_hard)):
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not value >= 0
        ):
            fail(name, value, "a number >= 0")
    if lambda_soft + lambda_hard == 0:
        fail("lambda_hard", lambda_hard, "> 0 when `lambda_soft` is 0", lambda_soft=0)


def temperature_softmax(logits, temperature=1.0, axis=-1):
    """The softmax of ``logits / T``: ``exp(z_i / T) / sum_j exp(z_j / T)``.

    ``T = 1`` is the ordinary softmax; a larger ``T`` flattens the distribution
    (towards uniform as ``T -> inf``) without changing the order of the classes,
    so the small probabilities a teacher gives the wrong classes become visible.

    Args:
        logits: array or tensor of logits.
        temperature: ``T > 0``.
        axis: the class axis.

    Returns:
        A tensor of probabilities, the shape of ``logits``.

    Raises:
        ValueError: ``temperature`` not a number > 0.

    Example:
        >>> import numpy as np
        >>> p = temperature_softmax(np.array([2.0, 1.0, 0.0]), temperature=2.0)
        >>> np.round(keras.ops.convert_to_numpy(p), 4)
        array([0.5065, 0.3072, 0.1863], dtype=float32)
    """
    if (
        not isinstance(temperature, (int, float))
        or isinstance(temperature, bool)
        or not temperature > 0
    ):
        fail("temperature", temperature, "a number > 0")
    logits = ops.convert_to_tensor(logits, dtype="float32")
    return ops.softmax(logits / temperature, axis=axis)


def distillation_loss(
    y_true, student_logits, teacher_logits, *, temperature, lambda_soft, lambda_hard
):
    """The distillation loss ``(lambda_soft T^2 L_soft + lambda_hard L_hard) / (lambda_soft + lambda_hard)``.

    ```python
    p_t = softmax(teacher_logits / T)
    log_p_s = log_softmax(student_logits / T)
    L_soft = mean_over_batch(sum_i p_t[i] * (log(p_t[i]) - log_p_s[i]))   # KL(p_t || p_s)
    L_hard = mean_over_batch(-log_softmax(student_logits)[y_true])        # T = 1
    ```

    Args:
        y_true: integer labels, shape ``(batch,)``; may be ``None`` when
            ``lambda_hard == 0`` (distilling on unlabeled inputs).
        student_logits: the student's logits, ``(batch, classes)``.
        teacher_logits: the teacher's logits, ``(batch, classes)`` (no gradient
            flows into them).
        temperature: ``T > 0``.
        lambda_soft: weight ``>= 0`` of the soft (teacher) term.
        lambda_hard: weight ``>= 0`` of the hard (label) term; not both 0.

    Returns:
        The scalar loss (float32 tensor).

    Raises:
        ValueError: ``temperature <= 0``, a negative weight, both weights 0, or
            ``y_true is None`` with ``lambda_hard > 0``.

    Example:
        >>> import numpy as np
        >>> s, t = np.zeros((2, 3)), np.array([[2.0, 0, 0], [0, 2.0, 0]])
        >>> float(distillation_loss(np.array([0, 1]), s, t, temperature=1.0, lambda_soft=1, lambda_hard=0))
        0.4330...
    """
    return ops.mean(
        _per_sample_loss(
            y_true,
            student_logits,
            teacher_logits,
            temperature,
            lambda_soft,
            lambda_hard,
        )
    )


def _per_sample_loss(
    y_true, student_logits, teacher_logits, temperature, lambda_soft, lambda_hard
):
    _check_settings(temperature, lambda_soft, lambda_hard)
    if y_true is None and lambda_hard > 0:
        fail(
            "y_true",
            None,
            "given when `lambda_hard` > 0 (the hard term needs labels)",
            lambda_hard=lambda_hard,
        )
    student_logits = ops.cast(ops.convert_to_tensor(student_logits), "float32")
    teacher_logits = ops.stop_gradient(
        ops.cast(ops.convert_to_tensor(teacher_logits), "float32")
    )
    total = ops.zeros(ops.shape(student_logits)[:1])
    if lambda_soft > 0:
        log_p_teacher = ops.log_softmax(teacher_logits / temperature, axis=-1)
        log_p_student = ops.log_softmax(student_logits / temperature, axis=-1)
        kl = ops.sum(ops.exp(log_p_teacher) * (log_p_teacher - log_p_student), axis=-1)
        total = total + lambda_soft * temperature**2 * kl
    if lambda_hard > 0:
        labels = ops.cast(ops.reshape(ops.convert_to_tensor(y_true), (-1,)), "int32")
        hard = keras.losses.sparse_categorical_crossentropy(
            labels, student_logits, from_logits=True
        )
        total = total + lambda_hard * hard
    return total / (lambda_soft + lambda_hard)


def keras_student_loss_weight(lambda_soft, lambda_hard):
    """The ``student_loss_weight`` of ``keras.distillation.Distiller`` that matches ``(lambda_soft, lambda_hard)``.

    Keras minimises ``alpha L_hard + (1 - alpha) T^2 L_soft``; this module
    ``(lambda_soft T^2 L_soft + lambda_hard L_hard) / (lambda_soft + lambda_hard)``,
    so ``alpha = lambda_hard / (lambda_soft + lambda_hard)``.

    Example:
        >>> keras_student_loss_weight(lambda_soft=3, lambda_hard=1)
        0.25
    """
    _check_settings(1.0, lambda_soft, lambda_hard)
    return lambda_hard / (lambda_soft + lambda_hard)


def pack_targets(y, teacher_logits):
    """Labels and a frozen teacher's logits in one float32 array ``[y, logits...]`` for :class:`DistillationLoss`.

    A frozen teacher on inputs that are not augmented gives the same logits
    every epoch: computing them once and training the student with plain
    ``fit`` on packed targets is the same distillation as :class:`Distiller`,
    without a teacher forward pass per step.

    Args:
        y: integer labels ``(n,)`` (use ``-1`` for unlabeled samples, with ``lambda_hard = 0``).
        teacher_logits: ``(n, classes)``.

    Returns:
        A ``(n, 1 + classes)`` float32 NumPy array.

    Example:
        >>> pack_targets(np.array([2]), np.array([[0.1, 0.2, 0.3]]))
        array([[2. , 0.1, 0.2, 0.3]], dtype=float32)
    """
    import numpy as np

    y = np.asarray(y).reshape(-1, 1).astype("float32")
    t = np.asarray(teacher_logits, dtype="float32")
    if t.ndim != 2 or len(t) != len(y):
        fail(
            "teacher_logits.shape",
            t.shape,
            "2-D with one row per label",
            **{"len(y)": len(y)},
        )
    return np.concatenate([y, t], axis=1)


@keras.saving.register_keras_serializable(package="lrbook")
class DistillationLoss(keras.losses.Loss):
    """:func:`distillation_loss` as a Keras loss on packed targets (:func:`pack_targets`).

    ``y_true[:, 0]`` is the label, ``y_true[:, 1:]`` the teacher's logits; the
    per-sample loss is averaged by Keras, so the batch loss equals
    :func:`distillation_loss` exactly.

    Example:
        >>> from lrbook import models
        >>> x = np.random.default_rng(0).normal(size=(64, 40, 1)).astype("float32")
        >>> y = np.arange(64) % 10
        >>> teacher = models.cnn1d(filters=(8, 8))   # a trained model in practice
        >>> student = models.cnn1d(filters=(4, 4))
        >>> student.compile("adam", loss=DistillationLoss(temperature=4.0), metrics=[packed_accuracy])
        >>> targets = pack_targets(y, teacher.predict(x, verbose=0))
        >>> history = student.fit(x, targets, batch_size=32, epochs=1, verbose=0)
        >>> targets.shape, sorted(history.history)
        ((64, 11), ['loss', 'packed_accuracy'])

    Args:
        temperature, lambda_soft, lambda_hard: as :func:`distillation_loss`.
    """

    def __init__(
        self,
        temperature=4.0,
        lambda_soft=1.0,
        lambda_hard=1.0,
        name="distillation_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        _check_settings(temperature, lambda_soft, lambda_hard)
        self.temperature = float(temperature)
        self.lambda_soft = float(lambda_soft)
        self.lambda_hard = float(lambda_hard)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        labels = y_true[:, 0] if self.lambda_hard > 0 else None
        return _per_sample_loss(
            labels,
            y_pred,
            y_true[:, 1:],
            self.temperature,
            self.lambda_soft,
            self.lambda_hard,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            temperature=self.temperature,
            lambda_soft=self.lambda_soft,
            lambda_hard=self.lambda_hard,
        )
        return config


@keras.saving.register_keras_serializable(package="lrbook")
def packed_accuracy(y_true, y_pred):
    """Accuracy of logits ``y_pred`` against the labels in packed targets (column 0); a Keras metric.

    Example:
        >>> acc = packed_accuracy(np.array([[1.0, 0, 0], [0.0, 0, 0]]), np.array([[0.0, 1.0], [0.0, 1.0]]))
        >>> keras.ops.convert_to_numpy(acc)
        array([1., 0.], dtype=float32)
    """
    labels = ops.cast(ops.convert_to_tensor(y_true)[:, 0], "int32")
    pred = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
    return ops.cast(ops.equal(labels, pred), "float32")


@keras.saving.register_keras_serializable(package="lrbook")
class Distiller(keras.Model):
    """Train a student on :func:`distillation_loss` against a frozen teacher, with ``fit``.

    The model's output is the student's logits, so ``compile(metrics=["accuracy"])``
    and ``evaluate`` report the student. The teacher is set to
    ``trainable = False`` and called with ``training=False`` (its batch-norm and
    dropout layers stay in inference mode); only the student's weights train.
    Fit on unlabeled inputs (``fit(x)``) with ``lambda_hard=0``.

    Example:
        >>> from lrbook import models
        >>> x = np.random.default_rng(0).normal(size=(64, 40, 1)).astype("float32")
        >>> y = np.arange(64) % 10
        >>> teacher, student = models.cnn1d(filters=(8, 8)), models.cnn1d(filters=(4, 4))
        >>> distiller = Distiller(student, teacher, temperature=4.0, lambda_soft=1.0, lambda_hard=1.0)
        >>> distiller.compile(keras.optimizers.Adam(1e-3), metrics=["accuracy"])
        >>> history = distiller.fit(x, y, batch_size=32, epochs=1, verbose=0)
        >>> student = models.compile_classifier(distiller.student, "adam")  # on its own
        >>> sorted(distiller.student.evaluate(x, y, verbose=0, return_dict=True))
        ['accuracy', 'loss']

    Args:
        student: the model to train (outputs logits).
        teacher: the trained model to distill from (outputs logits, same shape).
        temperature: ``T > 0``.
        lambda_soft: weight ``>= 0`` of the soft term.
        lambda_hard: weight ``>= 0`` of the hard term; not both 0.

    Raises:
        ValueError: as :func:`distillation_loss`, or a student or teacher that
            is not a ``keras.Model``.
    """

    def __init__(
        self,
        student,
        teacher,
        *,
        temperature=4.0,
        lambda_soft=1.0,
        lambda_hard=1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("student", student), ("teacher", teacher)):
            if not isinstance(value, keras.Model):
                fail(name, value, "a keras.Model")
        _check_settings(temperature, lambda_soft, lambda_hard)
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.temperature = float(temperature)
        self.lambda_soft = float(lambda_soft)
        self.lambda_hard = float(lambda_hard)

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if y_pred is None:
            y_pred = self(x, training=training)
        teacher_logits = self.teacher(x, training=False)
        loss = distillation_loss(
            y if self.lambda_hard > 0 else None,
            y_pred,
            teacher_logits,
            temperature=self.temperature,
            lambda_soft=self.lambda_soft,
            lambda_hard=self.lambda_hard,
        )
        if self.losses:  # the student's regularizers, if any
            loss = loss + ops.sum(ops.stack(self.student.losses))
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if y is None:  # distilling on unlabeled inputs: only the loss
            return {"loss": self._loss_tracker.result()}
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def get_config(self):
        return {
            "name": self.name,
            "student": keras.saving.serialize_keras_object(self.student),
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "temperature": self.temperature,
            "lambda_soft": self.lambda_soft,
            "lambda_hard": self.lambda_hard,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["student"] = keras.saving.deserialize_keras_object(config["student"])
        config["teacher"] = keras.saving.deserialize_keras_object(config["teacher"])
        return cls(**config)
