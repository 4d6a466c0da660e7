"""Benchmark of the training loop: one step per call against a whole epoch per call.

Setting (issue 16): ``lrbook.models.cnn1d(norm="batch")`` on MNIST-1D, batch 64,
an epoch of 50 steps (the first 3,200 training samples), SGD with momentum 0.9
and a one-cycle schedule (the schedule runs inside the compiled step).

Two copies of the model start from the same weights:

* **old**: ``fit`` with ``steps_per_execution=1`` (Keras's default: one Python
  call of the compiled train function per batch);
* **new**: ``fit`` with ``steps_per_execution=50``, what
  :func:`lrbook.training.run_experiment` now uses when no callback acts per
  batch (one call per epoch).

Measured side by side in one process, interleaved: ``rounds`` times, each copy
fits ``epochs`` epochs; the first epoch of each fit (tracing) is dropped and the
median of the remaining epoch times is taken. Printed (JSON, on stdout):
``old_epoch_s``, ``new_epoch_s``, ``ratio`` = new / old (goal: <= 0.6) and
``max_abs_diff``, the largest difference between the two copies' weights after
identical training (the two paths must give the same numbers).

Run ``python benchmarks/training_speed.py`` (about 15 s on 2 CPU cores) or
``--quick``.

Measured (2026-12-07, 2 idle CPU cores, TF 2.21): ``ratio`` 0.77, 0.71 and 0.63
in three runs (old 0.17-0.19 s, new 0.12-0.13 s per epoch); 0.53 on the same
cores under load (2026-12-03). The saving is the Python call per batch (about
0.5 ms here against about 1.7 ms of computation per step), so the goal of 0.6
is met where that call is slow and missed on an idle machine with this small
model.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from lrbook.env import quiet_import_tensorflow

quiet_import_tensorflow()
import keras  # noqa: E402

from lrbook import data as lrdata  # noqa: E402
from lrbook import models, schedules  # noqa: E402
from lrbook.env import device_name, versions  # noqa: E402
from lrbook.training import set_seed  # noqa: E402

BATCH, STEPS = 64, 50


class _EpochTimes(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t0)


def _model(weights, steps_per_execution, total_steps):
    model = models.cnn1d(norm="batch")
    model.set_weights(weights)
    schedule = schedules.OneCycle(0.3, total_steps)
    return models.compile_classifier(
        model,
        keras.optimizers.SGD(schedule, momentum=0.9),
        steps_per_execution=steps_per_execution,
    )


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and epochs")
    args = parser.parse_args(argv)
    rounds, epochs = (2, 3) if args.quick else (3, 6)

    ds = lrdata.load("mnist1d")
    x, y = ds.x_train[: BATCH * STEPS], ds.y_train[: BATCH * STEPS]
    set_seed(0)
    weights = models.cnn1d(norm="batch").get_weights()
    total = rounds * epochs * STEPS
    copies = {"old": _model(weights, 1, total), "new": _model(weights, STEPS, total)}
    times = {name: [] for name in copies}
    for _ in range(rounds):
        for name, model in copies.items():
            timer = _EpochTimes()
            set_seed(1)  # the same shuffling for both copies
            model.fit(
                x, y, batch_size=BATCH, epochs=epochs, callbacks=[timer], verbose=0
            )
            times[name] += timer.times[
                1:
            ]  # the first epoch of a fit traces the function
    old, new = (float(np.median(times[k])) for k in ("old", "new"))
    diff = max(
        float(np.max(np.abs(a - b)))
        for a, b in zip(copies["old"].get_weights(), copies["new"].get_weights())
    )
    out = {
        "setting": f"cnn1d(norm='batch'), MNIST-1D, batch {BATCH}, {STEPS} steps per epoch",
        "rounds": rounds,
        "epochs_per_fit": epochs,
        "old_epoch_s": round(old, 4),
        "new_epoch_s": round(new, 4),
        "ratio": round(new / old, 3),
        "max_abs_diff": diff,
        "device": device_name(),
        "versions": versions(),
    }
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
