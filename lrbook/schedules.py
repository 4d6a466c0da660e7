"""Learning-rate schedules Keras does not ship: warmup, ramp-up/decay, cyclical, one-cycle.

Every class here is a ``keras.optimizers.schedules.LearningRateSchedule``:
pass it as an optimizer's ``learning_rate`` and it is evaluated inside the
compiled train step at the optimizer's iteration count. The maths live once in
:mod:`lrbook.annealing` (pure NumPy-or-``keras.ops`` functions); the classes
validate their arguments, evaluate those functions with ``keras.ops`` in
float32, and serialize (``get_config`` returns exactly the constructor
arguments). A schedule accepts a Python int or float, a NumPy scalar or array,
or a tensor, so ``schedule(np.arange(n))`` gives the whole curve to plot.

What Keras already has is not repeated here: step decay
(``ExponentialDecay(staircase=True)``, ``PiecewiseConstantDecay``),
``ExponentialDecay``, ``InverseTimeDecay``, ``PolynomialDecay``,
``CosineDecay`` (with warmup) and ``CosineDecayRestarts``. :class:`Warmup` puts
a linear warmup in front of any of them.

The cyclical schedules keep tensorflow-addons' public signatures and numbers,
so ``tfa.optimizers.X`` can be replaced by ``lrbook.schedules.X``; unlike
tensorflow-addons' (tensorflow/addons#2728), a model using them saves and
reloads with ``compile=True``. :class:`OneCycle` gives PyTorch's ``OneCycleLR``
numbers; its momentum half, :class:`OneCycleMomentum`, drives the optimizers of
:mod:`lrbook.optimizers`.

Used in: the schedules chapter.
"""

from __future__ import annotations

import numbers
import types

import numpy as np

from lrbook import annealing
from lrbook._validation import fail as _fail
from lrbook._validation import integer as _integer
from lrbook._validation import real as _real
from lrbook.env import import_keras

import_keras()
import keras
from keras import ops

__all__ = [
    "CyclicalLearningRate",
    "ExponentialCyclicalLearningRate",
    "OneCycle",
    "OneCycleMomentum",
    "RampUpExpDecay",
    "Triangular2CyclicalLearningRate",
    "TriangularCyclicalLearningRate",
    "Warmup",
    "evaluate",
    "triangular2_scale",
    "triangular_scale",
]


def _name(name):
    """A schedule's ``name`` (Keras's convention: the ``name_scope`` of its ops, in its config)."""
    if not isinstance(name, str) or not name:
        _fail("name", name, "a non-empty string")
    return name


_register = keras.saving.register_keras_serializable(package="lrbook")
_Schedule = keras.optimizers.schedules.LearningRateSchedule

#: ``scale_fn``s for :class:`CyclicalLearningRate` that save and reload
#: (registered as ``"lrbook>triangular_scale"`` and ``"lrbook>triangular2_scale"``).
triangular_scale = keras.saving.register_keras_serializable(
    "lrbook", "triangular_scale"
)(annealing.triangular_scale)
triangular2_scale = keras.saving.register_keras_serializable(
    "lrbook", "triangular2_scale"
)(annealing.triangular2_scale)


# ----------------------------------------------------------------------------- validation


def _choice(name, value, options):
    if value not in options:
        _fail(name, value, f"one of {tuple(options)}")
    return value


def _step(step):
    return ops.cast(step, "float32")


def _host_step(step):
    """``step`` as a NumPy float32 scalar where a schedule is cheaper on the host, else ``None``.

    On PyTorch Keras runs the train step eagerly (its default), so each of a
    schedule's twenty-odd scalar ops is dispatched on its own: one-cycle's rate
    and momentum cost about 0.2 ms a step on a CPU that way, the same float32
    maths in NumPy a few microseconds. So there, for a scalar step (the
    optimizer's iteration count) outside ``torch.compile``, the schedule is
    evaluated in NumPy; everywhere else (TensorFlow's and JAX's compiled steps,
    arrays of steps) with ``keras.ops``.
    """
    if keras.backend.backend() != "torch":
        return None
    import torch

    if torch.compiler.is_compiling():
        return None
    if isinstance(step, keras.Variable):
        step = step.value
    if isinstance(step, torch.Tensor):
        if step.ndim != 0 or step.requires_grad:
            return None
        return np.float32(step.item())
    return None


def _serialize_fn(owner, name, fn):
    """Serialize a user callable, or explain why it cannot be reloaded."""
    if isinstance(fn, types.FunctionType):
        registered = keras.saving.get_registered_name(fn)
        if keras.saving.get_registered_object(registered) is not fn:
            kind = (
                "a lambda" if fn.__name__ == "<lambda>" else "an unregistered function"
            )
            _fail(
                name,
                fn,
                f"a registered function for {owner} to be serialized, not {kind}, "
                "which a saved model could not reload. Define it at module level and "
                "decorate it with `@keras.saving.register_keras_serializable("
                "package=...)` (or use `lrbook.schedules.triangular_scale` / "
                "`triangular2_scale`, or the Triangular/Triangular2/Exponential "
                "subclasses)",
            )
        return keras.saving.serialize_keras_object(fn)
    if callable(getattr(fn, "get_config", None)) and callable(
        getattr(fn, "from_config", None)
    ):
        return keras.saving.serialize_keras_object(fn)
    _fail(
        name,
        fn,
        "a registered function or a registered Keras-serializable object with "
        f"`get_config` and `from_config` for {owner} to be serialized",
    )


# ----------------------------------------------------------------------------- evaluation


def evaluate(schedule, steps) -> np.ndarray:
    """The value of ``schedule`` at every step of ``steps``, as a float64 NumPy array.

    Works for any ``LearningRateSchedule``, Keras's or lrbook's, and for a plain
    number (a constant rate). The schedule is called once on the whole array;
    one that only takes a scalar step (Keras's ``CosineDecay`` with warmup
    branches with ``ops.cond``) is called step by step instead.

    Example:
        >>> warm = keras.optimizers.schedules.CosineDecay(0.0, 90, warmup_target=0.1, warmup_steps=10)
        >>> evaluate(warm, [0, 5, 10, 100]).round(4).tolist()
        [0.0, 0.05, 0.1, 0.0]
        >>> evaluate(0.01, np.arange(3)).tolist()
        [0.01, 0.01, 0.01]

    Args:
        schedule: a ``LearningRateSchedule``, or a number >= 0.
        steps: a step or an array of steps (ints or floats).

    Returns:
        The values, with the shape of ``np.asarray(steps)``.

    Raises:
        ValueError: if ``schedule`` is neither a ``LearningRateSchedule`` nor a
            number >= 0.

    Used in: the schedules chapter (every schedule plotted from one call).
    """
    steps = np.asarray(steps)
    if not isinstance(schedule, _Schedule):
        if (
            isinstance(schedule, (bool, str))
            or not isinstance(schedule, numbers.Real)
            or schedule < 0
        ):
            _fail("schedule", schedule, "a LearningRateSchedule or a number >= 0")
        return np.full(steps.shape, float(schedule))
    try:
        values = np.asarray(ops.convert_to_numpy(schedule(steps)), dtype=np.float64)
        return np.broadcast_to(values, steps.shape).copy()
    except Exception:  # noqa: BLE001 - any failure of the vector call: fall back to scalars
        flat = [
            float(ops.convert_to_numpy(schedule(step)))
            for step in steps.reshape(-1).tolist()
        ]
        return np.asarray(flat, dtype=np.float64).reshape(steps.shape)


# ----------------------------------------------------------------------------- warmup


@_register
class Warmup(_Schedule):
    """A linear warmup in front of any schedule (or a constant learning rate).

    For ``step < warmup_steps`` the rate rises linearly from
    ``initial_learning_rate`` to the value where the wrapped schedule starts;
    after that the wrapped schedule runs:

    ```python
    def warmup(step):
        inner = step - warmup_steps if shift else step
        start = schedule(0) if shift else schedule(warmup_steps)
        if step < warmup_steps:
            return initial_learning_rate + (start - initial_learning_rate) * step / warmup_steps
        return schedule(inner)
    ```

    With ``shift=True`` (the default) the wrapped schedule starts *after* the
    warmup and runs whole (it sees ``step - warmup_steps``; a ``CosineDecay``
    over ``decay_steps`` then ends at ``warmup_steps + decay_steps``), which is
    what Keras's ``CosineDecay(warmup_steps=...)`` does. With ``shift=False`` the
    warmup replaces the wrapped schedule's first ``warmup_steps`` steps (it sees
    the global step, timm's convention). Either way the rate is continuous at
    ``warmup_steps``.

    Example:
        >>> sched = Warmup(keras.optimizers.schedules.CosineDecay(0.1, 900), warmup_steps=100)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.SGD(sched), "mse")
        >>> _ = model.fit(np.zeros((8, 4)), np.zeros(8), verbose=0)
        >>> [round(float(sched(s)), 4) for s in (0, 50, 100, 550, 1000)]
        [0.0, 0.05, 0.1, 0.05, 0.0]

    Args:
        schedule: the schedule to warm up into (a ``LearningRateSchedule``), or a
            float for a constant rate after the warmup.
        warmup_steps: length of the warmup in steps (0: no warmup).
        initial_learning_rate: the rate at step 0.
        shift: whether the wrapped schedule sees ``step - warmup_steps`` (True)
            or ``step`` (False).
        name: the name scope of its ops, kept in its config (as Keras's schedules).

    Returns:
        The learning rate at ``step`` (float32 tensor).

    Raises:
        ValueError: if ``schedule`` is neither a ``LearningRateSchedule`` nor a
            finite number > 0 (a warmup to 0 trains nothing), ``warmup_steps``
            is not an integer >= 0, or ``initial_learning_rate`` < 0.
    """

    def __init__(
        self,
        schedule,
        warmup_steps,
        initial_learning_rate=0.0,
        shift=True,
        name="Warmup",
    ):
        super().__init__()
        self.name = _name(name)
        if not isinstance(schedule, _Schedule):
            if (
                isinstance(schedule, (bool, str))
                or not isinstance(schedule, numbers.Real)
                or not 0 < schedule < float("inf")
            ):
                # A warmup to a rate of 0 (or inf) trains nothing: refused.
                _fail("schedule", schedule, "a LearningRateSchedule or a float > 0")
            if type(schedule) not in (int, float):
                schedule = float(schedule)
        self.schedule = schedule
        self.warmup_steps = _integer("warmup_steps", warmup_steps, low=0)
        self.initial_learning_rate = _real(
            "initial_learning_rate", initial_learning_rate, low=0.0
        )
        if not isinstance(shift, bool):
            _fail("shift", shift, "a bool")
        self.shift = shift

    def _after(self, step):
        if isinstance(self.schedule, _Schedule):
            return ops.cast(self.schedule(step), "float32")
        return ops.full_like(step, self.schedule)

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = _step(step)
            w = float(self.warmup_steps)
            inner = ops.maximum(step - w, 0.0) if self.shift else ops.maximum(step, w)
            after = self._after(inner)
            if not self.warmup_steps:
                return after
            target = self._after(
                ops.convert_to_tensor(0.0 if self.shift else w, "float32")
            )
            ramp = annealing.linear_warmup(step, w, self.initial_learning_rate, target)
            return ops.where(step < w, ramp, after)

    def get_config(self):
        schedule = self.schedule
        if isinstance(schedule, _Schedule):
            schedule = keras.saving.serialize_keras_object(schedule)
        return {
            "schedule": schedule,
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
            "shift": self.shift,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["schedule"], dict):
            config["schedule"] = keras.saving.deserialize_keras_object(
                config["schedule"]
            )
        return cls(**config)


# ----------------------------------------------------------------------------- ramp-up / exp decay


@_register
class RampUpExpDecay(_Schedule):
    """Linear ramp-up, a plateau, then exponential decay: the article's ``lr_function``.

    Per epoch (the one-cycle article the book grew from (VoAGI, in Japanese), a ``LearningRateScheduler``
    function):

    ```python
    def lr(epoch):
        if epoch < rampup_epochs:
            return (max_lr - start_lr) / rampup_epochs * epoch + start_lr
        elif epoch < rampup_epochs + sustain_epochs:
            return max_lr
        return (max_lr - min_lr) * exp_decay ** (epoch - rampup_epochs - sustain_epochs) + min_lr
    ```

    Two ways to use it:

    * **per epoch**, as that article does: ``keras.callbacks.LearningRateScheduler(
      RampUpExpDecay(...))`` with a float learning rate in the optimizer. Keras
      calls ``schedule(epoch, lr)``; given the ``lr`` argument the schedule reads
      its first argument as an epoch and returns a Python float, as that
      callback requires.
    * **per step**, inside the optimizer: give ``steps_per_epoch`` and pass the
      schedule as ``learning_rate``; the epoch is ``step / steps_per_epoch``,
      floored (``staircase=True``, the default) so that every step of epoch
      ``e`` gets exactly ``lr_function(e)``; ``staircase=False`` interpolates
      between epochs.

    Without ``steps_per_epoch`` a step *is* an epoch.

    Example:
        >>> sched = RampUpExpDecay.article_defaults()
        >>> [round(sched(e, 0.0), 6) for e in (0, 3, 6, 7)]
        [0.001, 0.0015, 0.002, 0.0015]
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.Adam(1e-3), "mse")
        >>> _ = model.fit(np.zeros((8, 4)), np.zeros(8), epochs=2, verbose=0,
        ...               callbacks=[keras.callbacks.LearningRateScheduler(sched)])

    Args:
        start_lr: rate at epoch 0.
        min_lr: rate the decay tends to.
        max_lr: rate at the end of the ramp and on the plateau.
        rampup_epochs: epochs of the linear ramp (>= 0).
        sustain_epochs: epochs of the plateau at ``max_lr`` (>= 0).
        exp_decay: factor per epoch of the decay, in (0, 1].
        steps_per_epoch: optimizer steps in an epoch, or ``None`` when the
            schedule is called with epochs.
        staircase: floor the epoch (exactly the article's per-epoch values).
        name: the name scope of its ops, kept in its config (as Keras's schedules).

    Returns:
        ``__call__(step)``: the rate (float32 tensor); ``__call__(epoch, lr)``:
        the rate for ``epoch`` as a Python float.

    Raises:
        ValueError: if a rate is < 0 or infinite, the peak ``max_lr`` is 0,
            an epoch count < 0, ``exp_decay`` is not in (0, 1], or
            ``steps_per_epoch`` is not ``None`` or an integer >= 1.
    """

    def __init__(
        self,
        start_lr,
        min_lr,
        max_lr,
        rampup_epochs,
        sustain_epochs,
        exp_decay,
        steps_per_epoch=None,
        staircase=True,
        name="RampUpExpDecay",
    ):
        super().__init__()
        self.name = _name(name)
        self.start_lr = _real("start_lr", start_lr, low=0.0)
        self.min_lr = _real("min_lr", min_lr, low=0.0)
        self.max_lr = _real("max_lr", max_lr, low=0.0, low_open=True)  # the peak
        self.rampup_epochs = _real("rampup_epochs", rampup_epochs, low=0.0)
        self.sustain_epochs = _real("sustain_epochs", sustain_epochs, low=0.0)
        self.exp_decay = _real("exp_decay", exp_decay, low=0.0, high=1.0, low_open=True)
        if steps_per_epoch is not None:
            steps_per_epoch = _integer("steps_per_epoch", steps_per_epoch, low=1)
        self.steps_per_epoch = steps_per_epoch
        if not isinstance(staircase, bool):
            _fail("staircase", staircase, "a bool")
        self.staircase = staircase

    @classmethod
    def article_defaults(cls, steps_per_epoch=None, staircase=True):
        """The constants of the one-cycle article the book grew from (VoAGI, in Japanese).

        ``start_lr=1e-3, min_lr=1e-3, max_lr=2e-3, rampup_epochs=6,
        sustain_epochs=0, exp_decay=0.5``: up from 1e-3 to 2e-3 over 6 epochs,
        then halfway back to 1e-3 every epoch.
        """
        return cls(
            start_lr=1e-3,
            min_lr=1e-3,
            max_lr=2e-3,
            rampup_epochs=6,
            sustain_epochs=0,
            exp_decay=0.5,
            steps_per_epoch=steps_per_epoch,
            staircase=staircase,
        )

    def _epoch_value(self, epoch):
        if self.staircase:
            epoch = ops.floor(epoch)
        return annealing.rampup_exp_decay(
            epoch,
            self.start_lr,
            self.min_lr,
            self.max_lr,
            self.rampup_epochs,
            self.sustain_epochs,
            self.exp_decay,
            xp=ops,
        )

    def __call__(self, step, lr=None):
        with keras.name_scope(self.name):
            if (
                lr is not None
            ):  # keras.callbacks.LearningRateScheduler: schedule(epoch, lr)
                return float(ops.convert_to_numpy(self._epoch_value(_step(step))))
            epoch = _step(step)
            if self.steps_per_epoch is not None:
                epoch = epoch / float(self.steps_per_epoch)
            return self._epoch_value(epoch)

    def get_config(self):
        return {
            "start_lr": self.start_lr,
            "min_lr": self.min_lr,
            "max_lr": self.max_lr,
            "rampup_epochs": self.rampup_epochs,
            "sustain_epochs": self.sustain_epochs,
            "exp_decay": self.exp_decay,
            "steps_per_epoch": self.steps_per_epoch,
            "staircase": self.staircase,
            "name": self.name,
        }


# ----------------------------------------------------------------------------- cyclical


@_register
class CyclicalLearningRate(_Schedule):
    """Smith's cyclical learning rate with a user scale function (tensorflow-addons' API).

    ```python
    def clr(step):
        cycle = floor(1 + step / (2 * step_size))
        x = abs(step / step_size - 2 * cycle + 1)
        scale = scale_fn(cycle if scale_mode == "cycle" else step)
        return initial_learning_rate + (
            maximal_learning_rate - initial_learning_rate) * max(0, 1 - x) * scale
    ```

    The same signature and the same values (to float32 precision) as
    ``tfa.optimizers.CyclicalLearningRate``. ``scale_fn`` receives a float32
    tensor: the cycle number (from 1) or the step. To save a model using this
    schedule, ``scale_fn`` must be reloadable: a module-level function
    decorated with ``@keras.saving.register_keras_serializable(package=...)``
    (e.g. :func:`triangular2_scale`) or a registered object with
    ``get_config`` and ``from_config``. A lambda works for training but ``get_config`` raises a
    ``ValueError`` that says so (tensorflow-addons failed there too, less
    clearly); prefer the Triangular, Triangular2 and Exponential subclasses.

    Example:
        >>> clr = CyclicalLearningRate(1e-4, 1e-2, step_size=4, scale_fn=triangular2_scale)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.SGD(clr), "mse")
        >>> _ = model.fit(np.zeros((8, 4)), np.zeros(8), batch_size=2, verbose=0)
        >>> [round(float(clr(s)), 5) for s in (0, 4, 8, 12)]
        [0.0001, 0.01, 0.0001, 0.00505]

    Args:
        initial_learning_rate: the lower bound (a float, or a scalar tensor).
        maximal_learning_rate: the upper bound (a float, or a scalar tensor).
        step_size: half a cycle, in steps (> 0); Smith suggests 2-8 epochs.
        scale_fn: scales the amplitude; a function of the cycle or the step.
        scale_mode: ``"cycle"`` or ``"iterations"``: what ``scale_fn`` gets.
        name: name scope of the computation.

    Returns:
        The learning rate at ``step`` (float32 tensor).

    Raises:
        ValueError: if a bound is < 0 or infinite, both bounds are 0,
            ``step_size`` <= 0, ``scale_fn`` is not callable or ``scale_mode``
            is unknown; from ``get_config``, if
            ``scale_fn`` cannot be serialized.
    """

    def __init__(
        self,
        initial_learning_rate,
        maximal_learning_rate,
        step_size,
        scale_fn,
        scale_mode="cycle",
        name="CyclicalLearningRate",
    ):
        super().__init__()
        self.initial_learning_rate = _real(
            "initial_learning_rate", initial_learning_rate, low=0.0
        )
        self.maximal_learning_rate = _real(
            "maximal_learning_rate", maximal_learning_rate, low=0.0
        )
        if self.initial_learning_rate == 0 and self.maximal_learning_rate == 0:
            _fail(
                "maximal_learning_rate",
                maximal_learning_rate,
                "> 0 when `initial_learning_rate` is 0 (a cycle between 0 and 0 "
                "trains nothing)",
                initial_learning_rate=initial_learning_rate,
            )
        self.step_size = _real("step_size", step_size, low=0.0, low_open=True)
        if not callable(scale_fn):
            _fail("scale_fn", scale_fn, "callable")
        self.scale_fn = scale_fn
        self.scale_mode = _choice("scale_mode", scale_mode, ("cycle", "iterations"))
        self.name = name

    def __call__(self, step):
        with keras.name_scope(self.name or "CyclicalLearningRate"):
            # Bounds as float32 tensors, so (maximal - initial) rounds as in tensorflow-addons.
            initial = ops.convert_to_tensor(self.initial_learning_rate, "float32")
            maximal = ops.convert_to_tensor(self.maximal_learning_rate, "float32")
            return ops.cast(
                annealing.cyclical(
                    _step(step),
                    initial,
                    maximal,
                    self.step_size,
                    self.scale_fn,
                    self.scale_mode,
                    xp=ops,
                ),
                "float32",
            )

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "maximal_learning_rate": self.maximal_learning_rate,
            "step_size": self.step_size,
            "scale_fn": _serialize_fn(type(self).__name__, "scale_fn", self.scale_fn),
            "scale_mode": self.scale_mode,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("scale_fn"), dict):
            config["scale_fn"] = keras.saving.deserialize_keras_object(
                config["scale_fn"]
            )
        return cls(**config)


def _bounds_config(s):
    return {
        "initial_learning_rate": s.initial_learning_rate,
        "maximal_learning_rate": s.maximal_learning_rate,
        "step_size": s.step_size,
        "scale_mode": s.scale_mode,
    }


@_register
class TriangularCyclicalLearningRate(CyclicalLearningRate):
    """Smith's ``triangular`` policy: the same triangle every cycle (``scale_fn = 1``).

    ```python
    lr = initial_learning_rate + (maximal_learning_rate - initial_learning_rate) * max(0, 1 - x)
    ```

    Same signature and values as ``tfa.optimizers.TriangularCyclicalLearningRate``;
    see :class:`CyclicalLearningRate` for ``x`` and the arguments.

    Example:
        >>> clr = TriangularCyclicalLearningRate(1e-4, 1e-2, step_size=4)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.SGD(clr), "mse")
        >>> [round(float(clr(s)), 5) for s in (0, 2, 4, 8)]
        [0.0001, 0.00505, 0.01, 0.0001]

    Raises:
        ValueError: as :class:`CyclicalLearningRate`.
    """

    def __init__(
        self,
        initial_learning_rate,
        maximal_learning_rate,
        step_size,
        scale_mode="cycle",
        name="TriangularCyclicalLearningRate",
    ):
        super().__init__(
            initial_learning_rate,
            maximal_learning_rate,
            step_size,
            scale_fn=triangular_scale,
            scale_mode=scale_mode,
            name=name,
        )

    def get_config(self):
        return {**_bounds_config(self), "name": self.name}


@_register
class Triangular2CyclicalLearningRate(CyclicalLearningRate):
    """Smith's ``triangular2`` policy: the amplitude halves every cycle.

    ```python
    scale_fn = lambda cycle: 1 / 2 ** (cycle - 1)
    ```

    Same signature and values as ``tfa.optimizers.Triangular2CyclicalLearningRate``
    (the policy of the tensorflow-addons ``CyclicalLearningRate`` tutorial); see
    :class:`CyclicalLearningRate`.

    Example:
        >>> clr = Triangular2CyclicalLearningRate(1e-4, 1e-2, step_size=4)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.SGD(clr), "mse")
        >>> [round(float(clr(s)), 5) for s in (4, 12, 20)]
        [0.01, 0.00505, 0.00258]

    Raises:
        ValueError: as :class:`CyclicalLearningRate`.
    """

    def __init__(
        self,
        initial_learning_rate,
        maximal_learning_rate,
        step_size,
        scale_mode="cycle",
        name="Triangular2CyclicalLearningRate",
    ):
        super().__init__(
            initial_learning_rate,
            maximal_learning_rate,
            step_size,
            scale_fn=triangular2_scale,
            scale_mode=scale_mode,
            name=name,
        )

    def get_config(self):
        return {**_bounds_config(self), "name": self.name}


@_register
class ExponentialCyclicalLearningRate(CyclicalLearningRate):
    """Smith's ``exp_range`` policy: the amplitude shrinks by ``gamma`` every step.

    ```python
    scale_fn = lambda step: gamma ** step     # scale_mode="iterations"
    ```

    Same signature and values as ``tfa.optimizers.ExponentialCyclicalLearningRate``;
    see :class:`CyclicalLearningRate`.

    Example:
        >>> clr = ExponentialCyclicalLearningRate(1e-4, 1e-2, step_size=4, gamma=0.9)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.SGD(clr), "mse")
        >>> round(float(clr(4)), 6)
        0.006595

    Args:
        gamma: factor of the amplitude per step (per cycle with
            ``scale_mode="cycle"``), > 0.

    Raises:
        ValueError: as :class:`CyclicalLearningRate`, or if ``gamma`` <= 0.
    """

    def __init__(
        self,
        initial_learning_rate,
        maximal_learning_rate,
        step_size,
        scale_mode="iterations",
        gamma=1.0,
        name="ExponentialCyclicalLearningRate",
    ):
        self.gamma = _real("gamma", gamma, low=0.0, low_open=True)
        super().__init__(
            initial_learning_rate,
            maximal_learning_rate,
            step_size,
            scale_fn=self._scale,
            scale_mode=scale_mode,
            name=name,
        )

    def _scale(self, x):
        return annealing.exponential_scale(x, self.gamma)

    def get_config(self):
        return {**_bounds_config(self), "gamma": self.gamma, "name": self.name}


# ----------------------------------------------------------------------------- one-cycle


def _one_cycle_common(
    total_steps, pct_start, anneal_strategy, three_phase, base_momentum, max_momentum
):
    total_steps = _integer("total_steps", total_steps, low=1)
    pct_start = _real("pct_start", pct_start, low=0.0, high=1.0)
    if pct_start * total_steps == 1.0:
        _fail(
            "pct_start",
            pct_start,
            "!= 1 / total_steps, which gives a first phase of zero length (on which "
            "PyTorch's OneCycleLR divides by zero)",
            total_steps=total_steps,
        )
    anneal_strategy = _choice(
        "anneal_strategy", anneal_strategy, tuple(annealing.ANNEAL_STRATEGIES)
    )
    if not isinstance(three_phase, bool):
        _fail("three_phase", three_phase, "a bool")
    base_momentum = _real("base_momentum", base_momentum, low=0.0, high=1.0)
    max_momentum = _real("max_momentum", max_momentum, low=0.0, high=1.0)
    return (
        total_steps,
        pct_start,
        anneal_strategy,
        three_phase,
        base_momentum,
        max_momentum,
    )


@_register
class OneCycleMomentum(_Schedule):
    """The momentum half of one-cycle: PyTorch's ``OneCycleLR`` momentum for each update.

    Down from ``max_momentum`` to ``base_momentum`` while the learning rate
    rises, back up while it falls (``three_phase``: up, then flat at
    ``max_momentum``); see :func:`lrbook.annealing.one_cycle_momentum`. Not a
    learning rate: pass it as the ``momentum`` of :class:`lrbook.optimizers.SGD`
    or the ``beta_1`` of :class:`lrbook.optimizers.Adam` / ``AdamW``. Usually
    obtained from :meth:`OneCycle.momentum_schedule`. Steps past
    ``total_steps - 1`` keep the last value.

    Example:
        >>> from lrbook.optimizers import SGD
        >>> mom = OneCycleMomentum(total_steps=100)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(SGD(0.01, momentum=mom), "mse")
        >>> [round(float(mom(s)), 4) for s in (0, 29, 99)]
        [0.95, 0.85, 0.95]

    Args:
        total_steps: number of updates in training (>= 1).
        pct_start: fraction of the updates spent increasing the learning rate.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        three_phase: PyTorch's three-phase variant.
        base_momentum: the lowest momentum, at the learning-rate peak.
        max_momentum: the momentum at the start and at the end.
        name: the name scope of its ops, kept in its config (as Keras's schedules).

    Returns:
        The momentum at ``step`` (float32 tensor).

    Raises:
        ValueError: as :class:`OneCycle`.
    """

    def __init__(
        self,
        total_steps,
        pct_start=0.3,
        anneal_strategy="cos",
        three_phase=False,
        base_momentum=0.85,
        max_momentum=0.95,
        name="OneCycleMomentum",
    ):
        super().__init__()
        self.name = _name(name)
        (
            self.total_steps,
            self.pct_start,
            self.anneal_strategy,
            self.three_phase,
            self.base_momentum,
            self.max_momentum,
        ) = _one_cycle_common(
            total_steps,
            pct_start,
            anneal_strategy,
            three_phase,
            base_momentum,
            max_momentum,
        )

    def __call__(self, step):
        host = _host_step(step)
        if host is not None:  # PyTorch, eager: NumPy on the host (see _host_step)
            value = annealing.one_cycle_momentum(
                host,
                self.total_steps,
                self.pct_start,
                self.anneal_strategy,
                self.three_phase,
                self.base_momentum,
                self.max_momentum,
            )
            return ops.convert_to_tensor(np.float32(value), "float32")
        with keras.name_scope(self.name):
            return ops.cast(
                annealing.one_cycle_momentum(
                    _step(step),
                    self.total_steps,
                    self.pct_start,
                    self.anneal_strategy,
                    self.three_phase,
                    self.base_momentum,
                    self.max_momentum,
                    xp=ops,
                ),
                "float32",
            )

    def get_config(self):
        return {
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "anneal_strategy": self.anneal_strategy,
            "three_phase": self.three_phase,
            "base_momentum": self.base_momentum,
            "max_momentum": self.max_momentum,
            "name": self.name,
        }


@_register
class OneCycle(_Schedule):
    """Smith's one-cycle policy, with the numbers of PyTorch's ``OneCycleLR``.

    For the same arguments, ``OneCycle(...)(i)`` is the learning rate PyTorch
    uses for update ``i`` (``i = 0 .. total_steps - 1``), and
    :meth:`momentum` the momentum (SGD) or ``beta_1`` (Adam) it sets:

    ```python
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    # phase ends: pct_start * total_steps - 1, [2 * pct_start * total_steps - 2,] total_steps - 1
    # lr:       initial_lr -> max_lr -> [initial_lr ->] min_lr
    # momentum: max_momentum -> base_momentum -> max_momentum [-> max_momentum]
    # each phase: cos  end + (start - end) / 2 * (cos(pi * pct) + 1), or linear
    ```

    Past ``total_steps - 1`` the last value is kept (PyTorch raises there; a
    schedule inside a compiled train step cannot, and Keras's ``CosineDecay``
    clamps the same way); negative steps give the first value.

    Momentum: pass :meth:`momentum_schedule` to an optimizer of
    :mod:`lrbook.optimizers`, which evaluates it inside the compiled step. With
    ``cycle_momentum=False`` one-cycle leaves momentum to the optimizer, as
    PyTorch does, and :meth:`momentum` / :meth:`momentum_schedule` raise.

    Example:
        >>> from lrbook.optimizers import SGD
        >>> sched = OneCycle(max_lr=0.1, total_steps=100)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(SGD(sched, momentum=sched.momentum_schedule()), "mse")
        >>> _ = model.fit(np.zeros((8, 4)), np.zeros(8), batch_size=2, verbose=0)
        >>> [float(f"{float(sched(s)):.6g}") for s in (0, 29, 99)]
        [0.004, 0.1, 4e-07]

    Args:
        max_lr: the peak learning rate.
        total_steps: number of updates in training (>= 1).
        pct_start: fraction of the updates spent increasing the learning rate,
            in [0, 1].
        anneal_strategy: ``"cos"`` or ``"linear"``.
        div_factor: ``initial_lr = max_lr / div_factor`` (> 0).
        final_div_factor: ``min_lr = initial_lr / final_div_factor`` (> 0).
        three_phase: go back down to ``initial_lr`` before annealing to
            ``min_lr`` (symmetrical warmup, as in fast.ai's original version).
        cycle_momentum: cycle the momentum inversely to the learning rate.
        base_momentum: the lowest momentum, at the learning-rate peak.
        max_momentum: the momentum at the start and at the end.
        name: the name scope of its ops, kept in its config (as Keras's schedules).

    Returns:
        The learning rate at ``step`` (float32 tensor).

    Raises:
        ValueError: if ``max_lr`` <= 0 or infinite (the peak: a cycle up to 0
            trains nothing), ``total_steps`` is not an integer >= 1,
            ``pct_start`` is outside [0, 1] or gives a zero-length first phase,
            ``anneal_strategy`` is unknown, a divisor is <= 0 or a momentum is
            outside [0, 1].
    """

    def __init__(
        self,
        max_lr,
        total_steps,
        pct_start=0.3,
        anneal_strategy="cos",
        div_factor=25.0,
        final_div_factor=1e4,
        three_phase=False,
        cycle_momentum=True,
        base_momentum=0.85,
        max_momentum=0.95,
        name="OneCycle",
    ):
        super().__init__()
        self.name = _name(name)
        self.max_lr = _real("max_lr", max_lr, low=0.0, low_open=True)  # the peak
        (
            self.total_steps,
            self.pct_start,
            self.anneal_strategy,
            self.three_phase,
            self.base_momentum,
            self.max_momentum,
        ) = _one_cycle_common(
            total_steps,
            pct_start,
            anneal_strategy,
            three_phase,
            base_momentum,
            max_momentum,
        )
        self.div_factor = _real("div_factor", div_factor, low=0.0, low_open=True)
        self.final_div_factor = _real(
            "final_div_factor", final_div_factor, low=0.0, low_open=True
        )
        if not isinstance(cycle_momentum, bool):
            _fail("cycle_momentum", cycle_momentum, "a bool")
        self.cycle_momentum = cycle_momentum

    @classmethod
    def fastai(cls, max_lr, total_steps, **kwargs):
        """One-cycle with fastai's ``fit_one_cycle`` defaults.

        ``pct_start=0.25``, ``div=25`` and ``div_final=1e5``; fastai divides
        ``max_lr`` by ``div_final`` while PyTorch's ``final_div_factor`` divides
        ``initial_lr``, so ``final_div_factor = 1e5 / 25 = 4e3`` (the last rate
        is ``max_lr / 1e5``). Momentum 0.95 -> 0.85 -> 0.95 as fastai's
        ``moms``. The curve keeps PyTorch's step convention (fastai places its
        phase boundary at ``pct_start * total_steps`` and ends one step later),
        so it is fastai's shape, not its exact numbers. ``kwargs`` override any
        argument.
        """
        args = {
            "pct_start": 0.25,
            "div_factor": 25.0,
            "final_div_factor": 1e5 / 25.0,
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        }
        args.update(kwargs)
        return cls(max_lr, total_steps, **args)

    @property
    def initial_lr(self) -> float:
        """The rate at step 0, ``max_lr / div_factor``."""
        return self.max_lr / self.div_factor

    @property
    def min_lr(self) -> float:
        """The final rate, ``initial_lr / final_div_factor``."""
        return self.initial_lr / self.final_div_factor

    def __call__(self, step):
        host = _host_step(step)
        if host is not None:  # PyTorch, eager: NumPy on the host (see _host_step)
            value = annealing.one_cycle(
                host,
                self.max_lr,
                self.total_steps,
                self.pct_start,
                self.anneal_strategy,
                self.div_factor,
                self.final_div_factor,
                self.three_phase,
            )
            return ops.convert_to_tensor(np.float32(value), "float32")
        with keras.name_scope(self.name):
            return ops.cast(
                annealing.one_cycle(
                    _step(step),
                    self.max_lr,
                    self.total_steps,
                    self.pct_start,
                    self.anneal_strategy,
                    self.div_factor,
                    self.final_div_factor,
                    self.three_phase,
                    xp=ops,
                ),
                "float32",
            )

    def momentum_schedule(self) -> OneCycleMomentum:
        """The matching momentum schedule, for ``lrbook.optimizers.SGD(momentum=...)``
        or ``Adam(beta_1=...)``.

        Raises:
            ValueError: if ``cycle_momentum`` is False.
        """
        if not self.cycle_momentum:
            _fail(
                "cycle_momentum",
                self.cycle_momentum,
                "True for a momentum schedule: OneCycle(cycle_momentum=False) leaves "
                "momentum to the optimizer (as PyTorch does), so give the optimizer a "
                "float momentum",
            )
        return OneCycleMomentum(
            self.total_steps,
            self.pct_start,
            self.anneal_strategy,
            self.three_phase,
            self.base_momentum,
            self.max_momentum,
            name=f"{self.name}Momentum",
        )

    def momentum(self, step):
        """The momentum (or Adam's ``beta_1``) PyTorch sets for update ``step``.

        Raises:
            ValueError: if ``cycle_momentum`` is False.
        """
        return self.momentum_schedule()(step)

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "anneal_strategy": self.anneal_strategy,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "three_phase": self.three_phase,
            "cycle_momentum": self.cycle_momentum,
            "base_momentum": self.base_momentum,
            "max_momentum": self.max_momentum,
            "name": self.name,
        }
