"""lrbook.distributed: the delay bound against an eigenvalue computation, a real
MultiWorkerMirroredStrategy and ParameterServerStrategy cluster on loopback, replica gradients."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lrbook import cluster as C
from lrbook import distributed as D
from lrbook import models


def reaped(procs):
    """Whether every one of ``procs`` has ended and been reaped by ``run_cluster``."""
    return all(p.returncode is not None for p in procs)


# ----------------------------------------------------------------------------- stale gradients


def companion_radius(a, k):
    """Spectral radius of x[t+1] = x[t] - a x[t-k] as a (k+1)-state linear map (independent reference)."""
    m = np.zeros((k + 1, k + 1))
    m[0, 0] += 1.0
    m[0, k] -= a
    for i in range(1, k + 1):
        m[i, i - 1] = 1.0
    return max(abs(np.linalg.eigvals(m)))


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5, 8])
def test_delay_threshold_is_where_the_spectral_radius_crosses_one(k):
    a = D.delayed_gd_threshold(k)
    assert companion_radius(a * 0.99, k) < 1 < companion_radius(a * 1.01, k)


def test_delayed_gd_converges_below_and_diverges_above_the_threshold():
    for k in (0, 2, 4):
        a = D.delayed_gd_threshold(k)
        assert abs(D.delayed_gd(1.0, 0.9 * a, k, 2000)[-1]) < 1e-3
        assert abs(D.delayed_gd(1.0, 1.1 * a, k, 2000)[-1]) > 1e3
    x = D.delayed_gd(2.0, 0.1, 0, 3)
    np.testing.assert_allclose(x, [1.0, 0.8, 0.64, 0.512])
    x = D.delayed_gd(1.0, 0.5, 1, 3)  # x1 = 1 - .5*1, x2 = .5 - .5*1, x3 = 0 - .5*.5
    np.testing.assert_allclose(x, [1.0, 0.5, 0.0, -0.25])


def test_delay_errors():
    with pytest.raises(
        ValueError,
        match=r"Argument `delay` must be a non-negative integer. Received: delay=-1",
    ):
        D.delayed_gd_threshold(-1)
    with pytest.raises(
        ValueError,
        match=r"Argument `learning_rate` must be > 0. Received: learning_rate=0",
    ):
        D.delayed_gd(1.0, 0, 1, 10)
    with pytest.raises(
        ValueError,
        match=r"Argument `total_steps` must be a positive integer. Received: total_steps=0",
    ):
        D.delayed_gd(1.0, 0.1, 1, total_steps=0)
    # The old names, `lr` and `steps` (total here, per epoch elsewhere), are gone.
    with pytest.raises(TypeError, match="unexpected keyword argument 'lr'"):
        D.delayed_gd(1.0, lr=0.1, delay=1, total_steps=10)
    with pytest.raises(TypeError, match="unexpected keyword argument 'steps'"):
        D.delayed_gd(1.0, 0.1, delay=1, steps=10)


def test_linear_scaling():
    assert D.linear_scaling(0.05, 64, 1024) == pytest.approx(0.8)
    assert D.linear_scaling(0.1, 256, 64) == pytest.approx(0.025)
    with pytest.raises(
        ValueError,
        match=r"Argument `batch_size` must be a positive integer. Received: batch_size=0",
    ):
        D.linear_scaling(0.1, 64, 0)
    with pytest.raises(ValueError, match=r"Argument `base_lr` must be > 0"):
        D.linear_scaling(-1.0, 64, 64)


def _softmax_model():
    import keras

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.set_weights(
        [np.linspace(-1, 1, 18).reshape(6, 3).astype("float32"), np.zeros(3, "float32")]
    )
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 6)).astype("float32"), rng.integers(0, 3, 40).astype(
        "int32"
    )


def test_delay_zero_is_plain_sgd():
    import keras

    x, y = _data()
    model = _softmax_model()
    out = D.train_delayed_sgd(
        model, x, y, learning_rate=0.3, delay=0, batch_size=8, seed=3
    )
    ref = _softmax_model()
    ref.compile(
        optimizer=keras.optimizers.SGD(0.3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    order = np.random.default_rng(3).permutation(len(y))
    for s in range(0, len(y), 8):
        idx = order[s : s + 8]
        ref.train_on_batch(x[idx], y[idx])
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert len(out["loss"]) == 5 and not out["diverged"]


def test_a_delay_longer_than_training_computes_every_gradient_at_the_start():
    import keras
    import tensorflow as tf

    x, y = _data()
    model = _softmax_model()
    w0 = [tf.constant(w) for w in model.get_weights()]
    D.train_delayed_sgd(model, x, y, learning_rate=0.3, delay=10, batch_size=8, seed=1)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    ref = _softmax_model()
    total = [np.zeros_like(w) for w in ref.get_weights()]
    order = np.random.default_rng(1).permutation(len(y))
    for s in range(0, len(y), 8):
        idx = order[s : s + 8]
        with tf.GradientTape() as tape:
            loss = loss_fn(y[idx], ref(x[idx]))
        grads = tape.gradient(loss, ref.trainable_variables)
        total = [t + g.numpy() for t, g in zip(total, grads)]
    for w, start, g in zip(model.get_weights(), w0, total):
        np.testing.assert_allclose(w, start.numpy() - 0.3 * g, rtol=1e-5, atol=1e-6)


def test_train_delayed_sgd_errors():
    x, y = _data()
    with pytest.raises(
        ValueError,
        match=r"Argument `momentum` must be in \[0, 1\). Received: momentum=1.0",
    ):
        D.train_delayed_sgd(
            _softmax_model(), x, y, learning_rate=0.1, delay=1, momentum=1.0
        )
    with pytest.raises(
        ValueError, match=r"Argument `delay` must be a non-negative integer"
    ):
        D.train_delayed_sgd(_softmax_model(), x, y, learning_rate=0.1, delay=1.5)


# ----------------------------------------------------------------------------- cluster specs and the launcher


def test_multi_worker_mirrored_training_keeps_workers_identical(spawned):
    results = C.run_cluster(
        "lrbook.distributed:mnist1d_worker",
        workers=2,
        kwargs={"epochs": 1, "n_train": 512, "global_batch_size": 64},
        timeout=240,
    )
    a, b = (r.value for r in results)
    assert a["num_replicas"] == b["num_replicas"] == 2
    # One synchronous training, not two: each step applies the same all-reduced gradient
    # on both workers, so their weights and reduced losses are the same bits.
    assert a["weights_digest"] == b["weights_digest"]
    assert a["loss"] == b["loss"] and np.isfinite(a["loss"][0])
    assert reaped(spawned)


def test_keras_fit_under_multi_worker_mirrored_strategy_fails_in_this_keras():
    # keras-team/keras#20585: when this starts passing, the chapter's prose must change.
    with pytest.raises(C.WorkerError, match=r"PerReplica"):
        C.run_cluster(
            "lrbook.distributed:mnist1d_worker",
            workers=2,
            kwargs={"epochs": 1, "n_train": 256, "use_fit": True},
            timeout=240,
        )


@pytest.mark.parametrize("workers", [1, 2])
def test_parameter_server_cluster_trains_asynchronously(spawned, workers):
    steps = 60
    (result,) = C.run_cluster(
        "lrbook.distributed:ps_worker",
        workers=workers,
        ps=1,
        kwargs={"total_steps": steps, "n_train": 512},
        timeout=240,
    )
    v = result.value
    assert result.task == "chief:0" and v["workers"] == workers
    assert v["variable_devices"] == ["/job:ps/replica:0/task:0/device:CPU:0"]
    # Every step's update landed on the parameter server's counter, once.
    assert v["updates"] == steps
    staleness = np.array(v["staleness"])
    assert len(staleness) == steps
    if workers == 1:
        # One worker runs one step at a time: no other update can land in between.
        assert not staleness.any()
    # Async updates make single-batch losses noisy; the loss of the whole training set,
    # read by the chief before and after, falls (60 SGD steps, momentum 0.9, lr 0.05).
    before, after = v["train_loss"]
    assert np.isfinite(after) and after < before
    assert len(spawned) == workers + 2 and reaped(spawned)


# ----------------------------------------------------------------------------- replicas in one process

REPLICA_SCRIPT = r"""
import json, numpy as np
from lrbook import distributed as D, models
names = D.configure_cpu_devices(4)
assert D.configure_cpu_devices(4) == names
import keras, tensorflow as tf
rng = np.random.default_rng(0)
x = rng.normal(size=(32, 40, 1)).astype("float32"); y = rng.integers(0, 10, 32)
keras.utils.set_random_seed(0)
ref = models.cnn1d(); ref.build((None, 40, 1))
loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
with tf.GradientTape() as tape:
    l = loss(y, ref(x))
single = [g.numpy() for g in tape.gradient(l, ref.trainable_variables)]
out = {"names": names}
for n in (2, 4):
    s = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(n)])
    with s.scope():
        m = models.cnn1d(); m.build((None, 40, 1))
    m.set_weights(ref.get_weights())
    g = D.replica_gradients(s, m, x, y)
    out[n] = max(float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-12)) for a, b in zip(g, single))
try:
    D.configure_cpu_devices(2)
except RuntimeError as e:
    out["error"] = str(e)
print(json.dumps(out))
"""


def test_replica_gradients_equal_the_single_device_gradient():
    out = subprocess.run(
        [sys.executable, "-c", REPLICA_SCRIPT],
        capture_output=True,
        text=True,
        timeout=240,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(res["names"]) == 4
    assert res["2"] < 1e-5 and res["4"] < 1e-5
    assert (
        "already started with 4 CPU device(s), so it cannot be split into 2"
        in res["error"]
    )


def test_configure_cpu_devices_errors():
    with pytest.raises(
        ValueError, match=r"Argument `n` must be a positive integer. Received: n=0"
    ):
        D.configure_cpu_devices(0)


def test_weights_digest():
    a = models.mlp((4, 1), hidden=(3,))
    b = a.__class__.from_config(a.get_config())
    b.set_weights(a.get_weights())
    assert D.weights_digest(a) == D.weights_digest(b)
    w = b.get_weights()
    w[0] = w[0] + 1e-7
    b.set_weights(w)
    assert D.weights_digest(a) != D.weights_digest(b)
