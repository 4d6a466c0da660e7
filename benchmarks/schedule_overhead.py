"""What one-cycle with momentum cycling costs per train step, next to a constant learning rate.

Two copies of ``lrbook.models.cnn1d()`` with the same initial weights train on
MNIST-1D with the same optimizer class, ``lrbook.optimizers.SGD``:

* ``constant``: ``SGD(0.05, momentum=0.9)``;
* ``one_cycle``: ``SGD(OneCycle(...), momentum=OneCycle(...).momentum_schedule())``,
  i.e. both schedules evaluated inside every compiled step, plus the
  assignment of the momentum variable.

After a warm-up (tracing) of each, the two arms run one epoch each, in turns
(ABBA order, so drift hits both alike), ``--repeats`` times. A callback times
every step (``on_train_batch_begin`` to ``on_train_batch_end``: the compiled
step, the same callback overhead in both arms); the step time of an arm is the
median over all its steps, which a burst of load from other processes on a
shared machine moves much less than a mean or a whole-epoch time would. Prints
one JSON line with the median step times, their ratio (target <= 1.05), the
median of each timed epoch (the raw numbers) and the whole-epoch times. On a
busy shared machine the ratio moves by a few percent from run to run, so the
line also gives the cost of the schedules alone, measured apart from training:
evaluating the learning rate and momentum schedules in a compiled loop, in
microseconds a step, next to a constant (best of three).

    python benchmarks/schedule_overhead.py [--repeats 20] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from lrbook.env import device_name, quiet_import_tensorflow, versions

tf = quiet_import_tensorflow()
import keras  # noqa: E402

from lrbook import data, models, optimizers  # noqa: E402
from lrbook.schedules import OneCycle  # noqa: E402
from lrbook.training import set_seed  # noqa: E402

TARGET = 1.05


class _StepTimer(keras.callbacks.Callback):
    """Wall time of every train step, in milliseconds."""

    def on_train_batch_begin(self, batch, logs=None):
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps_ms.append((time.perf_counter() - self._t0) * 1e3)


def _schedule_eval_us(fn, n=20_000, reps=3):
    """Microseconds per iteration of a compiled loop that evaluates ``fn(step)``."""

    @tf.function
    def loop(n):
        def body(i, acc):
            return i + 1, acc + tf.cast(fn(i), tf.float32)

        return tf.while_loop(
            lambda i, acc: i < n, body, (tf.constant(0, tf.int64), tf.constant(0.0))
        )[1]

    n_t = tf.constant(n, tf.int64)
    loop(n_t)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        loop(n_t)
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed epochs per arm")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed epochs per arm first"
    )
    args = parser.parse_args(argv)

    ds = data.load("mnist1d")
    batches = (
        tf.data.Dataset.from_tensor_slices((ds.x_train, ds.y_train))
        .batch(args.batch_size)
        .cache()
        .prefetch(tf.data.AUTOTUNE)
    )
    steps = int(batches.cardinality())
    total_steps = steps * (args.warmup + args.repeats)

    set_seed(0)
    initial = models.cnn1d(ds.input_shape).get_weights()
    sched = OneCycle(0.1, total_steps)
    arms = {
        "constant": optimizers.SGD(0.05, momentum=0.9),
        "one_cycle": optimizers.SGD(sched, momentum=sched.momentum_schedule()),
    }
    built = {}
    for name, optimizer in arms.items():
        model = models.cnn1d(ds.input_shape)
        model.set_weights(initial)
        built[name] = models.compile_classifier(model, optimizer)

    timer = _StepTimer()

    def epoch(name):
        timer.steps_ms = []
        t0 = time.perf_counter()
        built[name].fit(batches, epochs=1, verbose=0, callbacks=[timer])
        return (time.perf_counter() - t0) / steps * 1e3, timer.steps_ms

    for _ in range(args.warmup):
        for name in built:
            epoch(name)
    step_ms = {name: [] for name in built}
    epoch_medians = {name: [] for name in built}
    epoch_ms = {name: [] for name in built}
    order = list(built)
    for r in range(args.repeats):
        for name in order if r % 2 == 0 else order[::-1]:
            per_step, per_epoch_steps = epoch(name)
            epoch_ms[name].append(per_step)
            step_ms[name].extend(per_epoch_steps)
            epoch_medians[name].append(statistics.median(per_epoch_steps))

    momentum = sched.momentum_schedule()
    eval_constant = _schedule_eval_us(lambda i: tf.constant(0.05))
    eval_one_cycle = _schedule_eval_us(lambda i: sched(i) + momentum(i))

    med = {name: statistics.median(v) for name, v in step_ms.items()}
    ratio = med["one_cycle"] / med["constant"]
    epoch_ratio = statistics.median(epoch_ms["one_cycle"]) / statistics.median(
        epoch_ms["constant"]
    )
    print(
        json.dumps(
            {
                "benchmark": "schedule_overhead",
                "model": "lrbook.models.cnn1d",
                "data": "mnist1d",
                "optimizer": "lrbook.optimizers.SGD",
                "batch_size": args.batch_size,
                "steps_per_epoch": steps,
                "repeats": args.repeats,
                "jit_compile": bool(built["one_cycle"].jit_compile),
                "constant_step_ms": round(med["constant"], 4),
                "one_cycle_momentum_step_ms": round(med["one_cycle"], 4),
                "ratio": round(ratio, 4),
                "target": TARGET,
                "within_target": ratio <= TARGET,
                "timed_steps_per_arm": len(step_ms["constant"]),
                "raw_epoch_median_step_ms": {
                    name: [round(t, 4) for t in v] for name, v in epoch_medians.items()
                },
                "raw_epoch_wall_ms_per_step": {
                    name: [round(t, 4) for t in v] for name, v in epoch_ms.items()
                },
                "ratio_of_median_epoch_wall": round(epoch_ratio, 4),
                "schedule_eval_us_per_step": {
                    "constant": round(eval_constant, 2),
                    "one_cycle_lr_and_momentum": round(eval_one_cycle, 2),
                    "difference": round(eval_one_cycle - eval_constant, 2),
                },
                "device": device_name(),
                "tensorflow": versions()["tensorflow"],
                "keras": keras.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
