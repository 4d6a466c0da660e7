"""Callbacks that show what a schedule did during ``fit``.

:class:`ScheduleRecorder` records the learning rate and the momentum (or
``beta_1``) of every optimizer update, so a plot can show the schedule that
actually ran next to the loss.

Used in: the schedules chapter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrbook.env import import_keras
from lrbook.optimizers import current_momentum, momentum_name, unwrap
from lrbook.schedules import evaluate

import_keras()
import keras

__all__ = ["ScheduleRecorder", "ScheduleTrace"]

_Schedule = keras.optimizers.schedules.LearningRateSchedule


@dataclass
class ScheduleTrace:
    """The learning rate and momentum of every recorded optimizer update.

    Attributes:
        steps: the optimizer's iteration count at each update (update ``i``
            used the schedules at ``i``), int64.
        epochs: the epoch (0-based) of each update.
        lr: the learning rate of each update, float64.
        momentum: the momentum (SGD) or ``beta_1`` (Adam) of each update, or
            ``None`` when the optimizer has neither.
        momentum_name: ``"momentum"``, ``"beta_1"`` or ``None``.

    Example:
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
        >>> recorder = ScheduleRecorder()
        >>> _ = model.fit(np.zeros((16, 3)), np.zeros(16), batch_size=8, epochs=3, verbose=0,
        ...               callbacks=[recorder])
        >>> recorder.trace.to_frame().tail(2)
           step  epoch   lr  momentum
        4     4      2  0.1       0.9
        5     5      2  0.1       0.9
        >>> ax = recorder.trace.to_frame().plot(x="step", y="lr")
    """

    steps: np.ndarray
    epochs: np.ndarray
    lr: np.ndarray
    momentum: np.ndarray | None = None
    momentum_name: str | None = None

    def __len__(self) -> int:
        return len(self.steps)

    def to_frame(self):
        """A ``pandas.DataFrame`` with ``step``, ``epoch``, ``lr`` (and the momentum column)."""
        import pandas as pd

        data = {"step": self.steps, "epoch": self.epochs, "lr": self.lr}
        if self.momentum is not None:
            data[self.momentum_name] = self.momentum
        return pd.DataFrame(data)


def _evaluate(schedule, steps):
    """``schedule`` at every step, as a list of floats (see :func:`lrbook.schedules.evaluate`)."""
    return evaluate(schedule, steps).tolist()


@keras.saving.register_keras_serializable(package="lrbook")
class ScheduleRecorder(keras.callbacks.Callback):
    """Records the learning rate and momentum of every optimizer update during ``fit``.

    Two ways of reading them, chosen per quantity:

    * a **schedule** (a ``LearningRateSchedule`` learning rate, the momentum
      schedule of an :mod:`lrbook.optimizers` optimizer) is stateless, so the
      value of update ``i`` is ``schedule(i)``: the recorder notes the
      optimizer's iteration count at the start and end of each epoch and
      evaluates the schedule on that whole range at once (exact, no cost per
      batch, right for any ``steps_per_execution``);
    * a **value** (a float learning rate that callbacks such as
      ``LearningRateScheduler`` or an LR finder change, a float momentum) is
      read at ``on_train_batch_begin``, i.e. the value the coming update uses.
      Put the recorder after the callbacks that change it at batch begin.
      With ``steps_per_execution > 1`` there is one reading per execution.

    The record covers every ``fit`` since the recorder was created (call
    :meth:`reset` to start over). It is kept on the callback, not in
    ``history.history``, whose lists hold one value per epoch.

    Example:
        >>> from lrbook.schedules import OneCycle
        >>> from lrbook.optimizers import SGD
        >>> sched = OneCycle(max_lr=0.1, total_steps=8)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(SGD(sched, momentum=sched.momentum_schedule()), "mse")
        >>> recorder = ScheduleRecorder()
        >>> _ = model.fit(np.ones((16, 4)), np.ones(16), batch_size=2, verbose=0, callbacks=[recorder])
        >>> trace = recorder.trace
        >>> len(trace), trace.momentum_name, bool(np.allclose(trace.lr, sched(trace.steps)))
        (8, 'momentum', True)

    Returns:
        :attr:`trace`, a :class:`ScheduleTrace`.
    """

    def __init__(self):
        super().__init__()
        self.reset()

    def reset(self):
        """Forget everything recorded so far."""
        self._steps, self._epochs, self._lr, self._mom = [], [], [], []
        self._momentum_name = None
        self._has_momentum = False
        self._by_schedule = False
        self._epoch = 0

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- what to read -----------------------------------------------------------------------

    @property
    def _optimizer(self):
        # Under mixed precision the model's optimizer is a LossScaleOptimizer; its inner
        # optimizer holds the learning rate, the momentum and the iteration count.
        return unwrap(self.model.optimizer)

    def _lr_schedule(self):
        lr = getattr(self._optimizer, "_learning_rate", None)
        return lr if isinstance(lr, _Schedule) else None

    def _momentum_schedule(self):
        name = momentum_name(self._optimizer)
        return (
            None if name is None else getattr(self._optimizer, f"{name}_schedule", None)
        )

    def _iterations(self) -> int:
        return int(keras.ops.convert_to_numpy(self._optimizer.iterations))

    # -- hooks ----------------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._momentum_name = momentum_name(self._optimizer)
        self._has_momentum = self._momentum_name is not None
        self._by_schedule = self._lr_schedule() is not None and (
            not self._has_momentum
            or self._momentum_schedule() is not None
            or not isinstance(
                getattr(self._optimizer, self._momentum_name), keras.Variable
            )
        )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self._by_schedule:
            self._first = self._iterations()

    def on_train_batch_begin(self, batch, logs=None):
        if self._by_schedule:
            return
        optimizer = self._optimizer
        self._steps.append(self._iterations())
        self._epochs.append(self._epoch)
        self._lr.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
        if self._has_momentum:
            self._mom.append(current_momentum(optimizer))

    def on_epoch_end(self, epoch, logs=None):
        if not self._by_schedule:
            return
        steps = np.arange(self._first, self._iterations(), dtype=np.int64)
        if not len(steps):
            return
        self._steps.extend(steps.tolist())
        self._epochs.extend([epoch] * len(steps))
        self._lr.extend(_evaluate(self._lr_schedule(), steps))
        if self._has_momentum:
            schedule = self._momentum_schedule()
            if schedule is not None:
                self._mom.extend(_evaluate(schedule, steps))
            else:  # a constant float momentum
                self._mom.extend([current_momentum(self._optimizer)] * len(steps))

    # -- result ---------------------------------------------------------------------------------

    @property
    def trace(self) -> ScheduleTrace:
        """Everything recorded so far, as a :class:`ScheduleTrace`."""
        has_momentum = bool(self._mom)
        return ScheduleTrace(
            steps=np.asarray(self._steps, dtype=np.int64),
            epochs=np.asarray(self._epochs, dtype=np.int64),
            lr=np.asarray(self._lr, dtype=np.float64),
            momentum=np.asarray(self._mom, dtype=np.float64) if has_momentum else None,
            momentum_name=self._momentum_name if has_momentum else None,
        )
