"""lrbook.cluster: ports held until the servers are up, TF_CONFIG, and the launcher's clean-up
(every process reaped after a success, a failure or a timeout)."""

import errno
import json
import signal
import socket
import subprocess
import sys

import pytest

from lrbook import cluster as C


def reaped(procs):
    """Whether every one of ``procs`` has ended and been reaped by ``run_cluster``."""
    return all(p.returncode is not None for p in procs)


def test_cluster_spec_and_tf_config():
    c = C.loopback_cluster(2, ps=1)
    ports = [int(a.split(":")[1]) for job in c.values() for a in job]
    assert len(set(ports)) == 4 and all(
        a.startswith("127.0.0.1:") for job in c.values() for a in job
    )
    assert [len(c["worker"]), len(c["ps"]), len(c["chief"])] == [2, 1, 1]
    assert list(C.loopback_cluster(3)) == ["worker"]
    cfg = C.tf_config(c, "ps", 0)
    assert cfg["task"] == {"type": "ps", "index": 0} and cfg["cluster"] == c
    with pytest.raises(
        ValueError, match=r"Argument `index` must be in \[0, 2\). Received: index=2"
    ):
        C.tf_config(c, "worker", 2)
    with pytest.raises(
        ValueError, match=r"Argument `task_type` must be one of the cluster's jobs"
    ):
        C.tf_config(c, "evaluator", 0)
    with pytest.raises(
        ValueError,
        match=r"Argument `workers` must be a positive integer. Received: workers=0",
    ):
        C.loopback_cluster(0)


def test_run_cluster_runs_every_worker_with_its_tf_config(spawned):
    results = C.run_cluster("lrbook.cluster:probe_worker", workers=3, timeout=60)
    assert [r.value["index"] for r in results] == [0, 1, 2]
    assert all(r.value["type"] == "worker" and r.returncode == 0 for r in results)
    # the processes that reported are the ones this test started, all reaped
    assert [r.value["pid"] for r in results] == [p.pid for p in spawned]
    assert reaped(spawned) and [p.returncode for p in spawned] == [0, 0, 0]


def test_a_failing_worker_raises_and_leaves_no_process(spawned):
    with pytest.raises(
        C.WorkerError, match=r"(?s)worker 1 .* exited with 1.*fails on purpose"
    ):
        # worker 0 would sleep for two minutes: it must be killed, not waited for
        C.run_cluster(
            "lrbook.cluster:probe_worker",
            workers=2,
            kwargs={"fail_task": 1, "sleep": 120},
            timeout=600,
        )
    assert len(spawned) == 2 and reaped(spawned)
    assert [p.returncode for p in spawned] == [-signal.SIGKILL, 1]


def test_a_hung_cluster_times_out_and_leaves_no_process(spawned):
    with pytest.raises(C.WorkerError, match=r"did not finish in 2 s"):
        C.run_cluster(
            "lrbook.cluster:probe_worker",
            workers=2,
            kwargs={"sleep": 120},
            timeout=2,
        )
    assert len(spawned) == 2 and reaped(spawned)
    assert [p.returncode for p in spawned] == [-signal.SIGKILL] * 2
    assert C.leftover_processes() == []


def test_leftover_processes_asks_each_popen_not_its_pid(monkeypatch):
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        monkeypatch.setattr(C, "_STARTED", [done, running])
        assert C.leftover_processes() == [running.pid]
    finally:
        running.kill()
        running.wait()
    assert C.leftover_processes() == []


def test_reserved_ports_cannot_be_taken_until_released():
    with C.reserve_ports(3) as ports:
        assert len(set(ports)) == 3
        # no bind, and no port the OS hands out meanwhile, can be one of them
        others = C.free_ports(50)
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
        C.reserve_ports(0).__enter__()


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
    monkeypatch.setattr(C.subprocess, "Popen", steal_first_port)
    results = C.run_cluster("lrbook.cluster:probe_worker", workers=2, timeout=60)
    assert taken == [False] and len(results) == 2


def test_run_cluster_errors():
    with pytest.raises(
        ValueError, match=r"Argument `target` must be a string 'module:function'"
    ):
        C.run_cluster("lrbook.cluster.probe_worker")
    with pytest.raises(
        ValueError, match=r"Argument `kwargs` must be JSON-serializable"
    ):
        C.run_cluster("lrbook.cluster:probe_worker", kwargs={"x": object()})
    with pytest.raises(ValueError, match=r"Argument `timeout` must be > 0 seconds"):
        C.run_cluster("lrbook.cluster:probe_worker", timeout=0)
