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

``--backend`` chooses the Keras backend (``tensorflow``, ``jax`` or ``torch``;
default: ``$KERAS_BACKEND``, else TensorFlow). On TensorFlow the data come from
a cached ``tf.data`` pipeline and the schedules' loop is a ``tf.while_loop`` in
a ``tf.function``; on JAX and PyTorch ``fit`` reads the NumPy arrays (same
batches, same order) and the loop is ``jax.lax.fori_loop`` under ``jax.jit``,
or a Python loop on PyTorch (whose train step Keras does not compile by
default). TensorFlow is not imported on the other backends. (On JAX, XLA
simplifies that loop so far that its microseconds say little; the step times
are the measure.)

    python benchmarks/schedule_overhead.py [--backend jax] [--repeats 20] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

TARGET = 1.05
BACKENDS = ("tensorflow", "jax", "torch")


def _choose_backend(name: str | None) -> str:
    """Set ``KERAS_BACKEND`` to ``name`` before Keras is imported; the backend to run on."""
    if name is not None:
        loaded = sys.modules.get("keras")
        if loaded is not None and loaded.backend.backend() != name:
            raise SystemExit(
                f"--backend {name}: Keras is already imported on "
                f"{loaded.backend.backend()!r} in this process"
            )
        os.environ["KERAS_BACKEND"] = name
    from lrbook.env import import_keras

    return import_keras().backend.backend()


def _step_timer():
    import keras

    class StepTimer(keras.callbacks.Callback):
        """Wall time of every train step, in milliseconds."""

        def on_train_batch_begin(self, batch, logs=None):
            self._t0 = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.steps_ms.append((time.perf_counter() - self._t0) * 1e3)

    return StepTimer()


def _compiled_loop(fn, backend: str):
    """``loop(n)``: the sum of ``fn(i)`` for ``i < n``, compiled as the backend compiles."""
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def loop(n):
            def body(i, acc):
                return i + 1, acc + tf.cast(fn(i), tf.float32)

            return tf.while_loop(
                lambda i, acc: i < n,
                body,
                (tf.constant(0, tf.int64), tf.constant(0.0)),
            )[1]

        return lambda n: loop(tf.constant(n, tf.int64))
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        @jax.jit
        def loop(n):
            body = lambda i, acc: acc + jnp.asarray(fn(i), jnp.float32)
            return jax.lax.fori_loop(0, n, body, jnp.float32(0.0))

        return lambda n: loop(n).block_until_ready()
    import keras
    from keras import ops

    # PyTorch: Keras runs its train step eagerly by default, and the optimizer calls
    # the schedules with its iteration count, a variable: so does this loop.
    counter = keras.Variable(0, dtype="int64", trainable=False)

    def loop(n):
        acc = 0.0
        for i in range(n):
            counter.assign(i)
            acc = acc + ops.cast(fn(counter), "float32")
        return acc

    return loop


def _schedule_eval_us(fn, backend: str, n=20_000, reps=3):
    """Microseconds per iteration of a compiled loop that evaluates ``fn(step)``."""
    loop = _compiled_loop(fn, backend)
    if backend == "torch":
        n = 2_000  # a Python loop: fewer iterations give the same per-step time
    loop(n)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        loop(n)
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="Keras backend (default: $KERAS_BACKEND, else tensorflow)",
    )
    parser.add_argument("--repeats", type=int, default=20, help="timed epochs per arm")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed epochs per arm first"
    )
    args = parser.parse_args(argv)
    backend = _choose_backend(args.backend)

    import keras

    from lrbook import data, models, optimizers
    from lrbook.env import BACKENDS as PACKAGES
    from lrbook.env import device_name, versions
    from lrbook.schedules import OneCycle
    from lrbook.training import set_seed

    ds = data.load("mnist1d")
    steps = -(-len(ds.x_train) // args.batch_size)
    if backend == "tensorflow":
        import tensorflow as tf

        batches = (
            tf.data.Dataset.from_tensor_slices((ds.x_train, ds.y_train))
            .batch(args.batch_size)
            .cache()
            .prefetch(tf.data.AUTOTUNE)
        )
        assert int(batches.cardinality()) == steps
        fit_data = {"x": batches}
    else:
        fit_data = {
            "x": ds.x_train,
            "y": ds.y_train,
            "batch_size": args.batch_size,
            "shuffle": False,
        }
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

    timer = _step_timer()

    def epoch(name):
        timer.steps_ms = []
        t0 = time.perf_counter()
        built[name].fit(**fit_data, epochs=1, verbose=0, callbacks=[timer])
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
    constant = keras.ops.convert_to_tensor(0.05)
    eval_constant = _schedule_eval_us(lambda i: constant, backend)
    eval_one_cycle = _schedule_eval_us(lambda i: sched(i) + momentum(i), backend)

    med = {name: statistics.median(v) for name, v in step_ms.items()}
    ratio = med["one_cycle"] / med["constant"]
    epoch_ratio = statistics.median(epoch_ms["one_cycle"]) / statistics.median(
        epoch_ms["constant"]
    )
    print(
        json.dumps(
            {
                "benchmark": "schedule_overhead",
                "backend": backend,
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
                PACKAGES[backend]: versions()[PACKAGES[backend]],
                "keras": keras.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
