"""Optimizers whose momentum follows a schedule inside the compiled train step.

Keras's ``SGD`` reads its ``momentum`` and ``Adam`` its ``beta_1`` as
constants of the traced train step: a float assigned from a callback is never
seen by the compiled step. The optimizers here (drop-in subclasses of
``keras.optimizers.SGD``, ``Adam`` and ``AdamW``, same arguments) also accept a
schedule of the step for that one hyperparameter, typically
:meth:`lrbook.schedules.OneCycle.momentum_schedule`:

```python
sched = lrbook.schedules.OneCycle(max_lr=0.1, total_steps=epochs * steps_per_epoch)
optimizer = lrbook.optimizers.SGD(sched, momentum=sched.momentum_schedule())
```

At every update, before the variables change, the optimizer evaluates the
schedule at its iteration count (the same count its learning-rate schedule
sees) and stores the value in a non-trainable variable, which the update then
reads: update ``i`` uses ``schedule(i)``, exactly like the learning rate. No
callback is needed, ``steps_per_execution`` does not matter, and the schedule
is saved in the optimizer's config, so a ``.keras`` model reloads with
``compile=True``. With a float they behave exactly as the Keras optimizers.

After an update, ``optimizer.momentum`` (``optimizer.beta_1``) holds the value
that update used; :func:`current_momentum` gives the one the next update will
use.

Used in: the schedules chapter (one-cycle with cyclical momentum).
"""

from __future__ import annotations

from lrbook._validation import fail
from lrbook.env import import_keras

import_keras()
import keras  # noqa: E402
from keras import ops  # noqa: E402

__all__ = ["SGD", "Adam", "AdamW", "unwrap", "momentum_name", "current_momentum"]

_register = keras.saving.register_keras_serializable(package="lrbook")
_Schedule = keras.optimizers.schedules.LearningRateSchedule

#: The hyperparameters that play the role of momentum, by attribute name.
MOMENTUM_NAMES = ("momentum", "beta_1")


class _ScheduledMomentum:
    """Mixin: the hyperparameter ``_MOMENTUM`` may be a schedule of the step."""

    _MOMENTUM = "momentum"

    def _init_momentum_schedule(self, schedule):
        """Keep ``schedule`` and replace the hyperparameter by a variable it fills every step."""
        setattr(self, f"{self._MOMENTUM}_schedule", schedule)
        if schedule is None:
            return
        with keras.name_scope(self.name, caller=self):
            variable = keras.Variable(
                float(ops.convert_to_numpy(schedule(0))),
                name=self._MOMENTUM,
                dtype=keras.backend.floatx(),
                trainable=False,
                aggregation="only_first_replica",
            )
        setattr(self, self._MOMENTUM, variable)

    @classmethod
    def _split_momentum(cls, value):
        """``(float_for_keras, schedule_or_None)`` from the user's argument."""
        if isinstance(value, _Schedule):
            return None, value
        if isinstance(value, dict):  # from a config
            value = keras.saving.deserialize_keras_object(value)
            if isinstance(value, _Schedule):
                return None, value
        if callable(value) or isinstance(value, keras.Variable):
            fail(
                cls._MOMENTUM,
                value,
                "a float or a `LearningRateSchedule` of the step (e.g. "
                "`OneCycle(...).momentum_schedule()`); a callable or a variable would "
                "not be saved with the model",
            )
        return value, None

    def _backend_apply_gradients(self, grads, trainable_variables):
        schedule = getattr(self, f"{self._MOMENTUM}_schedule")
        if schedule is not None:
            # The learning-rate schedule is evaluated at the same count (`_iterations`).
            variable = getattr(self, self._MOMENTUM)
            variable.assign(ops.cast(schedule(self._iterations), variable.dtype))
        return super()._backend_apply_gradients(grads, trainable_variables)

    def get_config(self):
        config = super().get_config()
        schedule = getattr(self, f"{self._MOMENTUM}_schedule")
        if schedule is not None:
            config[self._MOMENTUM] = keras.saving.serialize_keras_object(schedule)
        return config


@_register
class SGD(_ScheduledMomentum, keras.optimizers.SGD):
    """``keras.optimizers.SGD`` whose ``momentum`` may follow a schedule of the step.

    The update is Keras's (``m = momentum * m - lr * g; w = w + m``, Nesterov
    optional), with ``momentum = momentum_schedule(i)`` at update ``i``:

    ```python
    def update(i, w, g, m):
        mu = momentum_schedule(i)
        m = mu * m - learning_rate(i) * g
        return w + (mu * m - learning_rate(i) * g if nesterov else m), m
    ```

    Example:
        >>> from lrbook.schedules import OneCycle
        >>> sched = OneCycle(max_lr=0.1, total_steps=8)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(SGD(sched, momentum=sched.momentum_schedule()), "mse")
        >>> _ = model.fit(np.ones((16, 4)), np.ones(16), batch_size=2, verbose=0)
        >>> round(float(model.optimizer.momentum), 4)  # the momentum of the last update
        0.95

    Args:
        learning_rate: a float or a ``LearningRateSchedule``.
        momentum: a float in [0, 1], or a ``LearningRateSchedule`` giving the
            momentum of every update (its values should lie in [0, 1]).
        nesterov: Nesterov momentum.
        **kwargs: the other arguments of ``keras.optimizers.SGD``.

    Raises:
        ValueError: if ``momentum`` is neither a float in [0, 1] nor a schedule.
    """

    _MOMENTUM = "momentum"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        value, schedule = self._split_momentum(momentum)
        super().__init__(
            learning_rate=learning_rate,
            momentum=0.0 if schedule is not None else value,
            nesterov=nesterov,
            **kwargs,
        )
        self._init_momentum_schedule(schedule)

    def build(self, variables):
        if self.built or self.momentum_schedule is None:
            return super().build(variables)
        # keras's SGD.build tests `momentum != 0` in Python; here it is a variable.
        keras.optimizers.Optimizer.build(self, variables)
        self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        if self.momentum_schedule is None:
            return super().update_step(gradient, variable, learning_rate)
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        m = self.momentums[self._get_variable_index(variable)]
        momentum = ops.cast(self.momentum, variable.dtype)
        self.assign(
            m,
            ops.subtract(
                ops.multiply(m, momentum), ops.multiply(gradient, learning_rate)
            ),
        )
        if self.nesterov:
            self.assign_add(
                variable,
                ops.subtract(
                    ops.multiply(m, momentum), ops.multiply(gradient, learning_rate)
                ),
            )
        else:
            self.assign_add(variable, m)


@_register
class Adam(_ScheduledMomentum, keras.optimizers.Adam):
    """``keras.optimizers.Adam`` whose ``beta_1`` may follow a schedule of the step.

    Keras's Adam update, with ``beta_1 = beta_1_schedule(i)`` at update ``i``
    (also in the bias correction ``1 - beta_1 ** (i + 1)``, as PyTorch's Adam
    does when ``OneCycleLR`` cycles its ``betas[0]``).

    Example:
        >>> from lrbook.schedules import OneCycle
        >>> sched = OneCycle(max_lr=1e-2, total_steps=8)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(Adam(sched, beta_1=sched.momentum_schedule()), "mse")
        >>> _ = model.fit(np.ones((16, 4)), np.ones(16), batch_size=2, verbose=0)

    Args:
        learning_rate: a float or a ``LearningRateSchedule``.
        beta_1: a float, or a ``LearningRateSchedule`` giving ``beta_1`` for
            every update.
        **kwargs: the other arguments of ``keras.optimizers.Adam``.

    Raises:
        ValueError: if ``beta_1`` is a callable or a variable but not a schedule.
    """

    _MOMENTUM = "beta_1"

    def __init__(self, learning_rate=0.001, beta_1=0.9, **kwargs):
        value, schedule = self._split_momentum(beta_1)
        super().__init__(
            learning_rate=learning_rate,
            beta_1=0.9 if schedule is not None else value,
            **kwargs,
        )
        self._init_momentum_schedule(schedule)


@_register
class AdamW(_ScheduledMomentum, keras.optimizers.AdamW):
    """``keras.optimizers.AdamW`` whose ``beta_1`` may follow a schedule of the step.

    As :class:`Adam`, with decoupled weight decay.

    Example:
        >>> from lrbook.schedules import OneCycle
        >>> sched = OneCycle(max_lr=1e-2, total_steps=8)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(AdamW(sched, weight_decay=1e-4, beta_1=sched.momentum_schedule()), "mse")
        >>> _ = model.fit(np.ones((16, 4)), np.ones(16), batch_size=2, verbose=0)

    Args:
        learning_rate: a float or a ``LearningRateSchedule``.
        weight_decay: decoupled weight decay.
        beta_1: a float, or a ``LearningRateSchedule`` giving ``beta_1`` for
            every update.
        **kwargs: the other arguments of ``keras.optimizers.AdamW``.

    Raises:
        ValueError: if ``beta_1`` is a callable or a variable but not a schedule.
    """

    _MOMENTUM = "beta_1"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, **kwargs):
        value, schedule = self._split_momentum(beta_1)
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            beta_1=0.9 if schedule is not None else value,
            **kwargs,
        )
        self._init_momentum_schedule(schedule)


def unwrap(optimizer):
    """The optimizer that does the updates: the inner one of a ``LossScaleOptimizer``.

    Under ``keras.mixed_precision.set_global_policy("mixed_float16")``,
    ``compile`` wraps the optimizer in a ``LossScaleOptimizer``, which has a
    learning rate of its own and no momentum: the schedule, the momentum and
    the iteration count that matter are the inner optimizer's. Every lrbook
    function that reads an optimizer reads it through this one.

    Example:
        >>> inner = keras.optimizers.SGD(0.1, momentum=0.9)
        >>> unwrap(keras.optimizers.LossScaleOptimizer(inner)) is inner, unwrap(inner) is inner
        (True, True)
    """
    while hasattr(optimizer, "inner_optimizer"):
        optimizer = optimizer.inner_optimizer
    return optimizer


def momentum_name(optimizer) -> str | None:
    """``"momentum"`` (SGD, RMSprop), ``"beta_1"`` (the Adam family, Lion) or ``None``.

    Example:
        >>> momentum_name(keras.optimizers.Adam()), momentum_name(keras.optimizers.Adagrad())
        ('beta_1', None)
    """
    optimizer = unwrap(optimizer)
    for name in MOMENTUM_NAMES:
        if hasattr(optimizer, name):
            return name
    return None


def current_momentum(optimizer) -> float | None:
    """The momentum (or ``beta_1``) the optimizer's next update will use, as a float.

    For an optimizer of this module with a schedule, the schedule at the
    optimizer's iteration count; otherwise the attribute's value. ``None``
    for an optimizer without momentum. A ``LossScaleOptimizer`` (mixed
    precision) is read through its inner optimizer (:func:`unwrap`).

    Example:
        >>> current_momentum(keras.optimizers.SGD(0.1, momentum=0.9))
        0.9
    """
    optimizer = unwrap(optimizer)
    name = momentum_name(optimizer)
    if name is None:
        return None
    schedule = getattr(optimizer, f"{name}_schedule", None)
    if schedule is not None:
        return float(ops.convert_to_numpy(schedule(optimizer.iterations)))
    value = getattr(optimizer, name)
    if callable(value):
        value = value()
    return float(ops.convert_to_numpy(value))
