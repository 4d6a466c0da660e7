"""lrbook.distributed: the delay bound against an eigenvalue computation, the launcher's clean-up,
a real MultiWorkerMirroredStrategy and ParameterServerStrategy cluster on loopback, replica gradients."""

import errno
import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from lrbook import distributed as D
from lrbook import models


@pytest.fixture
def spawned(monkeypatch):
    """The ``Popen`` objects of the processes this test starts (and only those).

    A process is gone for sure when its ``Popen`` has a return code: its parent
    reaped it. A check by PID (``os.kill(pid, 0)``) cannot tell: PIDs are reused.
    """
    procs = []

    class Recorded(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            procs.append(self)

    monkeypatch.setattr(D.subprocess, "Popen", Recorded)
    return procs


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
    with pytest.raises(ValueError, match=r"Argument `lr` must be > 0. Received: lr=0"):
        D.delayed_gd(1.0, 0, 1, 10)
    with pytest.raises(
        ValueError, match=r"Argument `steps` must be a positive integer"
    ):
        D.delayed_gd(1.0, 0.1, 1, 0)


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


def test_cluster_spec_and_tf_config():
    c = D.loopback_cluster(2, ps=1)
    ports = [int(a.split(":")[1]) for job in c.values() for a in job]
    assert len(set(ports)) == 4 and all(
        a.startswith("127.0.0.1:") for job in c.values() for a in job
    )
    assert [len(c["worker"]), len(c["ps"]), len(c["chief"])] == [2, 1, 1]
    assert list(D.loopback_cluster(3)) == ["worker"]
    cfg = D.tf_config(c, "ps", 0)
    assert cfg["task"] == {"type": "ps", "index": 0} and cfg["cluster"] == c
    with pytest.raises(
        ValueError, match=r"Argument `index` must be in \[0, 2\). Received: index=2"
    ):
        D.tf_config(c, "worker", 2)
    with pytest.raises(
        ValueError, match=r"Argument `task_type` must be one of the cluster's jobs"
    ):
        D.tf_config(c, "evaluator", 0)
    with pytest.raises(
        ValueError,
        match=r"Argument `workers` must be a positive integer. Received: workers=0",
    ):
        D.loopback_cluster(0)


def test_run_cluster_runs_every_worker_with_its_tf_config(spawned):
    results = D.run_cluster("lrbook.distributed:probe_worker", workers=3, timeout=60)
    assert [r.value["index"] for r in results] == [0, 1, 2]
    assert all(r.value["type"] == "worker" and r.returncode == 0 for r in results)
    # the processes that reported are the ones this test started, all reaped
    assert [r.value["pid"] for r in results] == [p.pid for p in spawned]
    assert reaped(spawned) and [p.returncode for p in spawned] == [0, 0, 0]


def test_a_failing_worker_raises_and_leaves_no_process(spawned):
    with pytest.raises(
        D.WorkerError, match=r"(?s)worker 1 .* exited with 1.*fails on purpose"
    ):
        # worker 0 would sleep for two minutes: it must be killed, not waited for
        D.run_cluster(
            "lrbook.distributed:probe_worker",
            workers=2,
            kwargs={"fail_task": 1, "sleep": 120},
            timeout=600,
        )
    assert len(spawned) == 2 and reaped(spawned)
    assert [p.returncode for p in spawned] == [-signal.SIGKILL, 1]


def test_a_hung_cluster_times_out_and_leaves_no_process(spawned):
    with pytest.raises(D.WorkerError, match=r"did not finish in 2 s"):
        D.run_cluster(
            "lrbook.distributed:probe_worker",
            workers=2,
            kwargs={"sleep": 120},
            timeout=2,
        )
    assert len(spawned) == 2 and reaped(spawned)
    assert [p.returncode for p in spawned] == [-signal.SIGKILL] * 2
    assert D.leftover_processes() == []


def test_leftover_processes_asks_each_popen_not_its_pid(monkeypatch):
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        monkeypatch.setattr(D, "_STARTED", [done, running])
        assert D.leftover_processes() == [running.pid]
    finally:
        running.kill()
        running.wait()
    assert D.leftover_processes() == []


def test_reserved_ports_cannot_be_taken_until_released():
    with D.reserve_ports(3) as ports:
        assert len(set(ports)) == 3
        # no bind, and no port the OS hands out meanwhile, can be one of them
        others = D.free_ports(50)
        assert not set(others) & set(ports)
        for port in ports:
            probe = socket.socket()
            with pytest.raises(OSError) as err:
                probe.bind(("127.0.0.1", port))
            probe.close()
            assert err.value.errno == errno.EADDRINUSE
        # a server that sets SO_REUSEADDR (as gRPC's does) can listen there meanwhile
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", ports[0]))
        server.listen()
        with socket.create_connection(("127.0.0.1", ports[0]), timeout=5):
            pass
        server.close()
    # (No check that a port binds again after the block: under pytest -n 2 another test
    # may take a released port at once, which is the point.)
    with pytest.raises(
        ValueError, match=r"Argument `n` must be a positive integer. Received: n=0"
    ):
        D.reserve_ports(0).__enter__()


def test_run_cluster_holds_its_ports_while_the_processes_run(monkeypatch):
    """The race of free ports: another program binds a port between the pick and the server."""
    taken = []

    def steal_first_port(*args, **kwargs):
        if not taken:  # the first process is about to start: try to take a cluster port
            port = int(
                json.loads(kwargs["env"]["TF_CONFIG"])["cluster"]["worker"][0].split(
                    ":"
                )[1]
            )
            thief = socket.socket()
            try:
                thief.bind(("127.0.0.1", port))
                taken.append(True)
            except OSError:
                taken.append(False)
            finally:
                thief.close()
        return real_popen(*args, **kwargs)

    real_popen = subprocess.Popen
    monkeypatch.setattr(D.subprocess, "Popen", steal_first_port)
    results = D.run_cluster("lrbook.distributed:probe_worker", workers=2, timeout=60)
    assert taken == [False] and len(results) == 2


def test_run_cluster_errors():
    with pytest.raises(
        ValueError, match=r"Argument `target` must be a string 'module:function'"
    ):
        D.run_cluster("lrbook.distributed.probe_worker")
    with pytest.raises(
        ValueError, match=r"Argument `kwargs` must be JSON-serializable"
    ):
        D.run_cluster("lrbook.distributed:probe_worker", kwargs={"x": object()})
    with pytest.raises(ValueError, match=r"Argument `timeout` must be > 0 seconds"):
        D.run_cluster("lrbook.distributed:probe_worker", timeout=0)


def test_multi_worker_mirrored_training_keeps_workers_identical(spawned):
    results = D.run_cluster(
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
    with pytest.raises(D.WorkerError, match=r"PerReplica"):
        D.run_cluster(
            "lrbook.distributed:mnist1d_worker",
            workers=2,
            kwargs={"epochs": 1, "n_train": 256, "use_fit": True},
            timeout=240,
        )


@pytest.mark.parametrize("workers", [1, 2])
def test_parameter_server_cluster_trains_asynchronously(spawned, workers):
    steps = 60
    (result,) = D.run_cluster(
        "lrbook.distributed:ps_worker",
        workers=workers,
        ps=1,
        kwargs={"steps": steps, "n_train": 512},
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
