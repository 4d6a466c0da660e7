"""Scaling out with TensorFlow's own engines: replicas, worker processes, stale gradients.

Nothing here is a distributed engine: the chapter uses ``tf.distribute``. This
module holds what the chapter needs around it:

- :func:`configure_cpu_devices` splits the CPU into logical devices so that
  ``tf.distribute.MirroredStrategy`` has several replicas on a laptop;
- :func:`replica_gradients` computes a gradient the way a synchronous
  data-parallel step does (each replica on its slice, then an all-reduce), to
  compare with the single-device gradient;
- :func:`mnist1d_worker` and :func:`ps_worker` are the training code of a
  ``MultiWorkerMirroredStrategy`` worker and of a ``ParameterServerStrategy``
  chief; :func:`lrbook.cluster.run_cluster` starts them as separate processes
  on loopback (``TF_CONFIG``), with a timeout, and always stops them;
- :func:`delayed_gd_threshold`, :func:`delayed_gd` and :func:`train_delayed_sgd`
  show the stale-gradient problem of asynchronous training: an update computed
  at weights ``k`` steps old.
- :func:`linear_scaling` is Goyal et al.'s learning-rate rule.

:func:`configure_cpu_devices`, :func:`replica_gradients`, :func:`mnist1d_worker`,
:func:`ps_worker` and :func:`train_delayed_sgd` need TensorFlow as the Keras backend
(``tf.distribute``, ``tf.GradientTape``) and raise an ``ImportError`` that says so
on any other; the scaling rule and the delay bound are NumPy and run anywhere.

Used in: the scaling-out chapter.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time

import numpy as np

from lrbook._validation import check as _check

__all__ = [
    "configure_cpu_devices",
    "delayed_gd",
    "delayed_gd_threshold",
    "linear_scaling",
    "mnist1d_worker",
    "ps_worker",
    "replica_gradients",
    "train_delayed_sgd",
    "weights_digest",
]


# ----------------------------------------------------------------------------- replicas in one process


def configure_cpu_devices(n: int) -> list:
    """Split the CPU into ``n`` logical devices (``/cpu:0`` ... ``/cpu:{n-1}``).

    TensorFlow fixes its devices when its runtime starts (the first op, tensor or
    model), so call this before anything creates one; calling it again with the
    same ``n`` is a no-op. The logical devices share the same cores: they give
    ``MirroredStrategy`` replicas to run on, not more compute.

    Returns:
        The names of the logical CPU devices.

    Raises:
        ValueError: ``n`` is not a positive integer.
        RuntimeError: the runtime already started with a different number of devices.

    Example:
        Not run as a doctest: it splits the CPU of the whole process, and only
        before TensorFlow's runtime starts (tests/test_distributed.py runs it in
        a fresh interpreter).

        >>> configure_cpu_devices(4)          # first thing in the notebook  # doctest: +SKIP
        ['/device:CPU:0', '/device:CPU:1', '/device:CPU:2', '/device:CPU:3']
        >>> strategy = tf.distribute.MirroredStrategy(configure_cpu_devices(4))  # doctest: +SKIP
    """
    _check(
        "n",
        n,
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1,
        "a positive integer",
    )
    from lrbook.env import require_tensorflow

    tf = require_tensorflow("lrbook.distributed.configure_cpu_devices (tf.distribute)")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * int(n)
        )
    except RuntimeError as err:
        have = tf.config.list_logical_devices("CPU")
        if len(have) != n:
            raise RuntimeError(
                f"TensorFlow's runtime already started with {len(have)} CPU device(s), so it cannot "
                f"be split into {n}: call configure_cpu_devices({n}) before anything creates a "
                "tensor or a model (restart the kernel)."
            ) from err
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def replica_gradients(strategy, model, x, y, loss_fn=None) -> list:
    """The gradient a synchronous data-parallel step computes, as NumPy arrays.

    The global batch ``(x, y)`` is split across ``strategy``'s replicas; each
    replica computes the gradient of its examples' summed loss divided by the
    **global** batch size, and the replicas' gradients are summed (the
    all-reduce). The result equals the gradient of the mean loss over the whole
    batch on one device:

        grad = sum_r  d/dw [ sum_{i in replica r} loss_i / B ]  =  d/dw mean_i loss_i

    ``model`` must have been created under ``strategy.scope()``.

    Args:
        strategy: a ``tf.distribute`` strategy.
        model: a built Keras model that outputs logits (its variables mirrored).
        x: the global batch's inputs.
        y: the global batch's integer labels.
        loss_fn: per-example loss ``loss_fn(y, logits)``; default sparse
            categorical cross-entropy from logits.

    Returns:
        One array per trainable variable.

    Example:
        >>> import tensorflow as tf
        >>> from lrbook import models
        >>> strategy = tf.distribute.MirroredStrategy(["/cpu:0"])  # the chapter: configure_cpu_devices(4)
        >>> with strategy.scope():
        ...     model = models.cnn1d(filters=(8,))
        >>> x = np.random.default_rng(0).normal(size=(64, 40, 1)).astype("float32")
        >>> grads = replica_gradients(strategy, model, x, np.arange(64) % 10)
        >>> [g.shape for g in grads] == [tuple(v.shape) for v in model.trainable_variables]
        True
    """
    from lrbook.env import require_tensorflow

    tf = require_tensorflow("lrbook.distributed.replica_gradients (tf.distribute)")
    import keras

    x = np.asarray(x)
    y = np.asarray(y)
    _check(
        "x",
        x.shape,
        x.ndim >= 1 and len(x) >= strategy.num_replicas_in_sync,
        f"a batch of at least num_replicas_in_sync={strategy.num_replicas_in_sync} examples",
    )
    _check("y", y.shape, y.shape[:1] == x.shape[:1], f"as long as `x` ({len(x)})")
    if loss_fn is None:
        loss_fn = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=None
        )
    global_batch = len(x)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch)
    dist = strategy.experimental_distribute_dataset(dataset)

    @tf.function
    def step(batch):
        def replica_fn(xb, yb):
            with tf.GradientTape() as tape:
                per_example = loss_fn(yb, model(xb, training=False))
                loss = tf.reduce_sum(per_example) / global_batch
            return tape.gradient(loss, [v.value for v in model.trainable_variables])

        per_replica = strategy.run(replica_fn, args=batch)
        return [
            strategy.reduce(tf.distribute.ReduceOp.SUM, g, axis=None)
            for g in per_replica
        ]

    grads = step(next(iter(dist)))
    return [np.asarray(g) for g in grads]


def weights_digest(model) -> str:
    """A SHA-256 of a model's weights (bytes): equal digests mean bit-identical weights.

    Example:
        >>> from lrbook import models
        >>> weights_digest(models.cnn1d()) == weights_digest(models.cnn1d())   # two initializations
        False
        >>> keras.utils.set_random_seed(0); first = weights_digest(models.cnn1d())
        >>> keras.utils.set_random_seed(0); weights_digest(models.cnn1d()) == first
        True
    """
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


def mnist1d_worker(
    epochs: int = 2,
    global_batch_size: int = 64,
    learning_rate: float = 0.05,
    n_train: int = 2000,
    seed: int = 0,
    momentum: float = 0.9,
    use_fit: bool = False,
) -> dict:
    """One worker of a ``MultiWorkerMirroredStrategy`` cluster training the book's CNN on MNIST-1D.

    Run it with :func:`lrbook.cluster.run_cluster`. Every worker builds the same data and
    model; the strategy shards each global batch across the workers and
    all-reduces the gradients, so every worker ends with the same weights.

    With ``use_fit=True`` it calls ``model.fit`` instead of its custom loop:
    in Keras 3.15 that raises (``Attempt to convert a value (PerReplica...)``,
    keras-team/keras#20585), which the chapter shows.

    Returns:
        ``{"task", "num_replicas", "loss", "accuracy", "test_accuracy",
        "weights_digest", "epoch_seconds"}``.

    Example:
        >>> from lrbook.cluster import run_cluster
        >>> results = run_cluster("lrbook.distributed:mnist1d_worker", workers=2,
        ...                       kwargs={"epochs": 1})    # doctest: +SKIP
    """
    from lrbook.env import require_tensorflow

    tf = require_tensorflow("lrbook.distributed.mnist1d_worker (tf.distribute)")
    import keras

    from lrbook import data, models

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    keras.utils.set_random_seed(seed)
    ds = data.load("mnist1d", n_train=n_train, seed=None)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    train = (
        tf.data.Dataset.from_tensor_slices((ds.x_train, ds.y_train))
        .shuffle(len(ds.y_train), seed=seed, reshuffle_each_iteration=True)
        .batch(global_batch_size, drop_remainder=True)
        .with_options(options)
    )
    with strategy.scope():
        model = models.cnn1d(ds.input_shape)
        optimizer = keras.optimizers.SGD(learning_rate, momentum=momentum)
        optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction=None
    )
    if use_fit:
        models.compile_classifier(model, optimizer)
        model.fit(train, epochs=epochs, verbose=0)
    dist = strategy.experimental_distribute_dataset(train)

    # Keras 3's fit() does not run under MultiWorkerMirroredStrategy (keras-team/keras#20585):
    # a custom loop, the strategy's own way, does.
    @tf.function
    def train_step(batch):
        def replica_step(x, y):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = tf.reduce_sum(loss_fn(y, logits)) / global_batch_size
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            hits = tf.reduce_sum(
                tf.cast(
                    tf.equal(
                        tf.argmax(logits, -1, output_type=tf.int32),
                        tf.cast(y, tf.int32),
                    ),
                    tf.float32,
                )
            )
            return loss, hits

        loss, hits = strategy.run(replica_step, args=batch)
        return (
            strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None),
            strategy.reduce(tf.distribute.ReduceOp.SUM, hits, axis=None),
        )

    history = {"loss": [], "accuracy": []}
    seconds = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        total, hits, steps = 0.0, 0.0, 0
        for batch in dist:
            loss, h = train_step(batch)
            total, hits, steps = total + float(loss), hits + float(h), steps + 1
        seconds.append(time.perf_counter() - t0)
        history["loss"].append(total / steps)
        history["accuracy"].append(hits / (steps * global_batch_size))
    logits = model.predict(ds.x_test, batch_size=512, verbose=0)
    test = {"accuracy": float(np.mean(np.argmax(logits, -1) == ds.y_test))}
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    return {
        "task": task,
        "num_replicas": int(strategy.num_replicas_in_sync),
        "loss": [float(v) for v in history["loss"]],
        "accuracy": [float(v) for v in history["accuracy"]],
        "test_accuracy": float(test["accuracy"]),
        "weights_digest": weights_digest(model),
        "epoch_seconds": seconds,
    }


def ps_worker(
    total_steps: int = 300,
    batch_size: int = 64,
    learning_rate: float = 0.05,
    momentum: float = 0.9,
    n_train: int = 2000,
    seed: int = 0,
) -> dict:
    """The chief of a ``ParameterServerStrategy`` cluster: asynchronous SGD on MNIST-1D.

    Run it with ``lrbook.cluster.run_cluster(..., workers=W, ps=P)``. The variables live on the
    parameter servers; a ``ClusterCoordinator`` schedules ``total_steps``
    training steps on whichever worker is free, and each worker reads the current
    variables, computes its gradient and applies it **without waiting for the
    others**. A counter on the parameter server measures each update's
    staleness: how many other updates landed between the moment the worker read
    the counter (before its forward pass) and the moment it applied its own.

    Returns:
        ``{"total_steps", "seconds", "loss" (every 10th step's batch), "staleness" (per
        step), "updates" (the counter's final value: one per update that landed),
        "train_loss" (on the whole training set, before and after), "test_accuracy",
        "workers", "variable_devices"}``.

    Example:
        >>> from lrbook.cluster import run_cluster
        >>> run_cluster("lrbook.distributed:ps_worker", workers=2, ps=1,
        ...             kwargs={"total_steps": 200})[0].value["staleness"][:5]   # doctest: +SKIP
    """
    from lrbook.env import require_tensorflow

    tf = require_tensorflow("lrbook.distributed.ps_worker (tf.distribute)")
    import keras

    from lrbook import data, models

    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    strategy = tf.distribute.experimental.ParameterServerStrategy(resolver)
    coordinator = tf.distribute.coordinator.ClusterCoordinator(strategy)
    keras.utils.set_random_seed(seed)
    ds = data.load("mnist1d", n_train=n_train, seed=None)
    with strategy.scope():
        model = models.cnn1d(ds.input_shape)
        optimizer = keras.optimizers.SGD(learning_rate, momentum=momentum)
        optimizer.build(model.trainable_variables)
        counter = tf.Variable(0, dtype=tf.int64, trainable=False)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def dataset_fn():
        return (
            tf.data.Dataset.from_tensor_slices((ds.x_train, ds.y_train))
            .shuffle(len(ds.y_train), seed=seed)
            .repeat()
            .batch(batch_size)
        )

    iterator = iter(coordinator.create_per_worker_dataset(dataset_fn))

    @tf.function
    def train_step(it):
        def replica_step(x, y):
            start = counter.read_value()
            with tf.control_dependencies([start]), tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            with tf.control_dependencies([optimizer.iterations]):
                end = counter.assign_add(1)
            return loss, end - start - 1

        return strategy.run(replica_step, args=next(it))

    def train_loss():  # on the whole training set, read by the chief from the ps
        return float(loss_fn(ds.y_train, model(ds.x_train, training=False)))

    loss_before = train_loss()
    t0 = time.perf_counter()
    remote = [
        coordinator.schedule(train_step, args=(iterator,)) for _ in range(total_steps)
    ]
    coordinator.join()
    seconds = time.perf_counter() - t0
    fetched = [r.fetch() for r in remote]
    logits = np.asarray(
        model(ds.x_test, training=False)
    )  # the chief reads the variables from the ps
    return {
        "total_steps": total_steps,
        "seconds": seconds,
        "loss": [float(loss) for loss, _ in fetched[::10]],
        "staleness": [int(st) for _, st in fetched],
        "updates": int(counter.numpy()),
        "train_loss": [loss_before, train_loss()],
        "test_accuracy": float(np.mean(np.argmax(logits, -1) == ds.y_test)),
        "workers": int(strategy.extended._num_workers)
        if hasattr(strategy.extended, "_num_workers")
        else None,
        "variable_devices": sorted({v.value.device for v in model.trainable_variables}),
    }


# ----------------------------------------------------------------------------- the learning-rate rule


def linear_scaling(base_lr: float, base_batch_size: int, batch_size: int) -> float:
    """Goyal et al.'s linear scaling rule: multiply the batch size by k, the learning rate by k.

        lr(batch_size) = base_lr * batch_size / base_batch_size

    Example:
        >>> linear_scaling(0.05, 64, 256)
        0.2
    """
    _check("base_lr", base_lr, isinstance(base_lr, (int, float)) and base_lr > 0, "> 0")
    _check(
        "base_batch_size",
        base_batch_size,
        isinstance(base_batch_size, int) and base_batch_size > 0,
        "a positive integer",
    )
    _check(
        "batch_size",
        batch_size,
        isinstance(batch_size, int) and batch_size > 0,
        "a positive integer",
    )
    return float(base_lr) * batch_size / base_batch_size


# ----------------------------------------------------------------------------- stale gradients


def delayed_gd_threshold(delay: int) -> float:
    """The largest stable ``lr * curvature`` of gradient descent with a gradient ``delay`` steps old.

    On a quadratic with curvature ``h`` the delayed update
    ``x[t+1] = x[t] - lr * h * x[t - delay]`` converges if and only if

        0 < lr * h < 2 * sin(pi / (2 * (2 * delay + 1)))

    (a classical result on delay difference equations). ``delay = 0`` gives
    the familiar ``lr < 2 / h``; a delay of ``k`` shrinks the bound roughly
    like ``pi / (2 (2k + 1))``, i.e. about ``1 / k`` for large ``k``.

    Example:
        >>> delayed_gd_threshold(0), round(delayed_gd_threshold(1), 4)
        (2.0, 1.0)
    """
    _check(
        "delay",
        delay,
        isinstance(delay, (int, np.integer)) and delay >= 0,
        "a non-negative integer",
    )
    return 2.0 * math.sin(math.pi / (2 * (2 * int(delay) + 1)))


def delayed_gd(
    curvature: float,
    learning_rate: float,
    delay: int,
    total_steps: int,
    x0: float = 1.0,
) -> np.ndarray:
    """Simulate ``x[t+1] = x[t] - learning_rate * curvature * x[t - delay]`` (``x[t] = x0`` for ``t <= 0``).

    Returns:
        The iterates ``x[0..total_steps]``.

    Example:
        >>> bool(abs(delayed_gd(1.0, 0.9, delay=1, total_steps=200)[-1]) < 1e-3)   # below the bound 1.0
        True
    """
    _check("curvature", curvature, curvature > 0, "> 0")
    lr = _check("learning_rate", learning_rate, learning_rate > 0, "> 0")
    _check(
        "delay",
        delay,
        isinstance(delay, (int, np.integer)) and delay >= 0,
        "a non-negative integer",
    )
    _check(
        "total_steps",
        total_steps,
        isinstance(total_steps, (int, np.integer)) and total_steps >= 1,
        "a positive integer",
    )
    x = np.full(total_steps + 1 + delay, float(x0))
    for t in range(delay, delay + total_steps):
        x[t + 1] = x[t] - lr * curvature * x[t - delay]
    return x[delay:]


def train_delayed_sgd(
    model,
    x,
    y,
    *,
    learning_rate: float,
    delay: int,
    epochs: int = 1,
    batch_size: int = 64,
    seed: int = 0,
    momentum: float = 0.0,
) -> dict:
    """Train ``model`` with SGD whose every gradient is computed at the weights of ``delay`` steps ago.

    This is the stale gradient of asynchronous data parallelism, made exact and
    repeatable: with ``delay = k`` the update at step ``t`` is
    ``w[t+1] = w[t] - lr * g(w[t-k], batch_t)`` (heavy-ball momentum optional),
    as if ``k`` other workers had updated the parameter server while this
    gradient was being computed. ``delay = 0`` is plain SGD.

    Args:
        model: a built Keras classifier that outputs logits (it is trained in place).
        x: training inputs.
        y: integer labels.
        learning_rate: the step size.
        delay: staleness ``k`` in steps.
        epochs: passes over the data.
        batch_size: batch size.
        seed: seed of the shuffling.
        momentum: heavy-ball momentum coefficient.

    Returns:
        ``{"loss": [per-step training loss at the stale weights], "diverged": bool}``.

    Example:
        >>> from lrbook import models
        >>> x = np.random.default_rng(0).normal(size=(256, 40, 1)).astype("float32")
        >>> y = np.arange(256) % 10
        >>> out = train_delayed_sgd(models.mlp((40, 1)), x, y, learning_rate=0.05, delay=4)
        >>> len(out["loss"]), out["diverged"]    # 256 / 64 = 4 steps
        (4, False)
    """
    from lrbook.env import require_tensorflow

    tf = require_tensorflow("lrbook.distributed.train_delayed_sgd (tf.GradientTape)")
    import keras

    _check("learning_rate", learning_rate, learning_rate > 0, "> 0")
    _check(
        "delay",
        delay,
        isinstance(delay, (int, np.integer)) and delay >= 0,
        "a non-negative integer",
    )
    _check(
        "epochs", epochs, isinstance(epochs, int) and epochs >= 1, "a positive integer"
    )
    _check(
        "batch_size",
        batch_size,
        isinstance(batch_size, int) and batch_size >= 1,
        "a positive integer",
    )
    _check("momentum", momentum, 0.0 <= momentum < 1.0, "in [0, 1)")
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    variables = model.trainable_variables
    non_trainable = [v.value for v in model.non_trainable_variables]

    @tf.function(reduce_retracing=True)
    def grad_at(weights, xb, yb):
        with tf.GradientTape() as tape:
            tape.watch(weights)
            logits, _ = model.stateless_call(weights, non_trainable, xb, training=True)
            loss = loss_fn(yb, logits)
        return loss, tape.gradient(loss, weights)

    history = [[tf.identity(v.value) for v in variables]]
    velocity = [tf.zeros_like(v.value) for v in variables]
    rng = np.random.default_rng(seed)
    losses, diverged = [], False
    n = len(y)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            stale = history[
                0
            ]  # the oldest kept weights: `delay` steps old once the queue is full
            loss, grads = grad_at(stale, tf.constant(x[idx]), tf.constant(y[idx]))
            loss = float(loss)
            losses.append(loss)
            if not math.isfinite(loss) or loss > 1e4:
                diverged = True
                break
            current = history[-1]
            velocity = [momentum * vel + g for vel, g in zip(velocity, grads)]
            new = [w - learning_rate * vel for w, vel in zip(current, velocity)]
            history.append(new)
            if len(history) > delay + 1:
                history.pop(0)
        if diverged:
            break
    for var, value in zip(variables, history[-1]):
        var.assign(value)
    return {"loss": losses, "diverged": diverged}
