"""Processes on loopback: a TensorFlow cluster started, watched and always stopped.

The plumbing behind the scaling-out chapter's multi-process runs, apart from
the training code that runs inside them (:mod:`lrbook.distributed`):

- :func:`reserve_ports` holds free loopback ports until the servers that use
  them are up (:func:`free_ports` finds some and lets them go);
- :func:`tf_config` and :func:`loopback_cluster` write the ``TF_CONFIG`` of a
  cluster of workers, parameter servers and a chief;
- :func:`run_cluster` starts one Python process per task (``python -m
  lrbook.cluster``), each in its own session, with a timeout, collects what
  each returned, and kills and reaps every one of them whatever happens;
  :func:`leftover_processes` checks that none is left;
- :func:`probe_worker` is a task that only reports who it is (or fails or
  hangs on purpose), for checking a cluster.

Nothing here imports TensorFlow except a parameter-server process
(``--serve``), which runs ``tf.distribute.Server``.

Used in: the scaling-out chapter (through :mod:`lrbook.distributed`'s workers).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lrbook._validation import check as _check
from lrbook._validation import fail as _fail

__all__ = [
    "STARTED_PIDS",
    "WorkerError",
    "WorkerResult",
    "free_ports",
    "leftover_processes",
    "loopback_cluster",
    "probe_worker",
    "reserve_ports",
    "run_cluster",
    "tf_config",
]


def _bind_free(n: int, host: str) -> list[socket.socket]:
    """``n`` sockets bound to distinct ports of ``host`` that the OS picked, not listening.

    Each is bound without ``SO_REUSEADDR`` (so the OS picks a port no socket holds), then
    marked ``SO_REUSEADDR``: a server that sets it too (gRPC, hence ``tf.distribute.Server``)
    can bind and listen on the port while this socket still holds it, and any other bind
    to it, a port-0 bind included, is refused until this socket is closed.
    """
    _check("n", n, isinstance(n, int) and n >= 1, "a positive integer")
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((host, 0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports free on ``host`` right now (the OS picks them).

    The ports are released when this returns, so another process may take one before
    you bind it; to hold them until your servers are up, use :func:`reserve_ports`.

    Example:
        >>> ports = free_ports(2)
        >>> len(set(ports))
        2
    """
    socks = _bind_free(n, host)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@contextlib.contextmanager
def reserve_ports(n: int, host: str = "127.0.0.1"):
    """Hold ``n`` distinct free TCP ports of ``host`` for servers that you start inside the block.

    The ports stay bound (not listening, with ``SO_REUSEADDR``) until the block ends: a
    server that sets ``SO_REUSEADDR``, as gRPC's and so ``tf.distribute.Server`` do, can
    listen on them, and nothing else can bind them, not even another process asking the
    OS for a free port. That closes the race of :func:`free_ports` (a port found free,
    released, and taken by someone else before the server binds it).

    Yields:
        The list of ports.

    Example:
        >>> with reserve_ports(2) as ports:
        ...     probe = socket.socket()
        ...     try:
        ...         probe.bind(("127.0.0.1", ports[0]))
        ...     except OSError:
        ...         print("held")
        ...     finally:
        ...         probe.close()
        held
    """
    socks = _bind_free(n, host)
    try:
        yield [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tf_config(cluster: dict, task_type: str, index: int) -> dict:
    """The ``TF_CONFIG`` of task ``(task_type, index)`` in ``cluster`` (``{job: [address, ...]}``).

    Example:
        >>> tf_config({"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, "worker", 1)
        {'cluster': {'worker': ['127.0.0.1:2222', '127.0.0.1:2223']}, 'task': {'type': 'worker', 'index': 1}}
    """
    _check(
        "cluster",
        cluster,
        isinstance(cluster, dict)
        and cluster
        and all(isinstance(v, list) and v for v in cluster.values()),
        "a dict {job: [address, ...]}",
    )
    _check(
        "task_type",
        task_type,
        task_type in cluster,
        f"one of the cluster's jobs {sorted(cluster)}",
    )
    _check(
        "index",
        index,
        isinstance(index, int) and 0 <= index < len(cluster[task_type]),
        f"in [0, {len(cluster[task_type])})",
    )
    return {
        "cluster": {k: list(v) for k, v in cluster.items()},
        "task": {"type": task_type, "index": index},
    }


def loopback_cluster(workers: int, ps: int = 0, host: str = "127.0.0.1") -> dict:
    """A cluster spec with free loopback ports: ``workers`` workers, ``ps`` parameter servers and,
    with parameter servers, one ``chief`` (the coordinator).

    The ports come from :func:`free_ports` and are not held; :func:`run_cluster` holds its
    own with :func:`reserve_ports` until its processes end.

    Example:
        >>> sorted(loopback_cluster(2, ps=1))
        ['chief', 'ps', 'worker']
    """
    _check_cluster_shape(workers, ps)
    return _cluster_spec(
        workers, ps, host, free_ports(_cluster_size(workers, ps), host)
    )


def _check_cluster_shape(workers, ps):
    _check(
        "workers",
        workers,
        isinstance(workers, int) and workers >= 1,
        "a positive integer",
    )
    _check("ps", ps, isinstance(ps, int) and ps >= 0, "a non-negative integer")


def _cluster_size(workers: int, ps: int) -> int:
    return workers + ps + (1 if ps else 0)


def _cluster_spec(workers: int, ps: int, host: str, ports: list[int]) -> dict:
    ports = iter(ports)
    cluster = {"worker": [f"{host}:{next(ports)}" for _ in range(workers)]}
    if ps:
        cluster["ps"] = [f"{host}:{next(ports)}" for _ in range(ps)]
        cluster["chief"] = [f"{host}:{next(ports)}"]
    return cluster


class WorkerError(RuntimeError):
    """A cluster process failed (non-zero exit) or the cluster did not finish in time; the
    message holds the failing process's log.

    Example:
        >>> try:
        ...     run_cluster("lrbook.cluster:probe_worker", workers=2, kwargs={"fail_task": 1})
        ... except WorkerError as err:
        ...     print(str(err).splitlines()[-1])
        RuntimeError: probe_worker: task 1 fails on purpose
    """


@dataclass
class WorkerResult:
    """What one process of :func:`run_cluster` returned, with its exit code, wall seconds and log.

    Example:
        >>> results = run_cluster("lrbook.distributed:mnist1d_worker", workers=2)  # doctest: +SKIP
        >>> results[0].value["loss"]                                              # doctest: +SKIP
    """

    task: str
    value: object
    returncode: int
    seconds: float
    log: str = field(repr=False, default="")


def _tail(text: str, lines: int = 25) -> str:
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def _stop(proc: subprocess.Popen) -> None:
    """Kill ``proc``'s whole process group (it runs in its own session) and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=10)


#: Process ids of every cluster process started in this Python process. To check that none
#: is left, use :func:`leftover_processes` (a PID alone may since belong to another process).
STARTED_PIDS: list[int] = []

# The Popen object of every cluster process started in this Python process.
_STARTED: list[subprocess.Popen] = []


def leftover_processes() -> list[int]:
    """PIDs of the cluster processes started here that :func:`run_cluster` has not reaped.

    ``run_cluster`` kills and reaps every process it starts, so this is empty once it
    returns. It asks each process's own ``Popen`` object (a reaped process has a return
    code), not ``os.kill(pid, 0)``: a PID is reused by the system once its process is
    reaped, so a check by PID can see some unrelated process alive.

    Example:
        >>> leftover_processes()
        []
    """
    return [p.pid for p in _STARTED if p.returncode is None]


def run_cluster(
    target: str,
    *,
    workers: int = 2,
    ps: int = 0,
    kwargs: dict | None = None,
    timeout: float = 180.0,
    env: dict | None = None,
) -> list[WorkerResult]:
    """Run a TensorFlow cluster of processes on loopback; return what ``target`` returned.

    Two shapes, the two kinds of data parallelism:

    - ``ps = 0``: ``workers`` processes all run ``target`` (``"module:function"``)
      with ``TF_CONFIG`` set for their index; ``target`` typically builds
      ``tf.distribute.MultiWorkerMirroredStrategy()`` (synchronous all-reduce).
      One result per worker.
    - ``ps > 0``: the workers and ``ps`` parameter servers only serve
      (``tf.distribute.Server``); one extra ``chief`` process runs ``target``,
      which typically builds ``ParameterServerStrategy`` and a
      ``ClusterCoordinator`` (asynchronous updates). One result, the chief's.

    The ports, free on 127.0.0.1, are held (:func:`reserve_ports`) until every
    process has ended, so no other program can take one before its server binds
    it: two clusters started side by side (``pytest -n 2``) cannot collide. Every
    process runs in its own session and, whatever happens (a process fails, the
    timeout passes, the caller is interrupted), all of them are killed before this
    function returns, so a hung worker cannot hang the caller.

    Args:
        target: ``"module:function"``, importable in a fresh Python process;
            it returns something JSON-serializable.
        workers: number of worker processes.
        ps: number of parameter-server processes (0: all-reduce cluster).
        kwargs: keyword arguments for ``target`` (JSON-serializable).
        timeout: seconds for the whole run.
        env: extra environment variables for every process.

    Returns:
        A list of :class:`WorkerResult`, one per process that ran ``target``.

    Raises:
        WorkerError: a process exited non-zero (its log tail is in the message)
            or the run passed ``timeout``.

    Example:
        >>> results = run_cluster("lrbook.distributed:mnist1d_worker", workers=2,
        ...                       kwargs={"epochs": 2}, timeout=120)        # doctest: +SKIP
        >>> results[0].value["weights_digest"] == results[1].value["weights_digest"]  # doctest: +SKIP
        True
    """
    _check(
        "target",
        target,
        isinstance(target, str) and target.count(":") == 1 and all(target.split(":")),
        "a string 'module:function'",
    )
    _check(
        "timeout",
        timeout,
        isinstance(timeout, (int, float)) and timeout > 0,
        "> 0 seconds",
    )
    kwargs = dict(kwargs or {})
    try:
        encoded = json.dumps(kwargs)
    except TypeError as err:
        _fail("kwargs", kwargs, f"JSON-serializable ({err})")
    _check_cluster_shape(workers, ps)
    package_root = str(Path(__file__).resolve().parent.parent)
    base_env = dict(os.environ)
    base_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [package_root, base_env.get("PYTHONPATH")])
    )
    base_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    base_env.update(env or {})
    if ps:
        runners = [("chief", 0)]
        servers = [("worker", i) for i in range(workers)] + [
            ("ps", i) for i in range(ps)
        ]
    else:
        runners, servers = [("worker", i) for i in range(workers)], []
    results: list[WorkerResult] = []
    with (
        reserve_ports(_cluster_size(workers, ps)) as ports,
        tempfile.TemporaryDirectory(prefix="lrbook-cluster-") as tmp,
    ):
        cluster = _cluster_spec(workers, ps, "127.0.0.1", ports)
        procs, logs, outs = {}, {}, {}

        def start(task, argv):
            job, i = task
            log = open(Path(tmp) / f"{job}_{i}.log", "w+")  # noqa: SIM115 - closed below
            logs[task] = log
            procs[task] = subprocess.Popen(
                [sys.executable, "-m", "lrbook.cluster", *argv],
                env=dict(base_env, TF_CONFIG=json.dumps(tf_config(cluster, job, i))),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            STARTED_PIDS.append(procs[task].pid)
            _STARTED.append(procs[task])

        def fail(task, message):
            logs[task].seek(0)
            raise WorkerError(
                f"{task[0]} {task[1]} of the cluster running {target} {message}; "
                f"its log ends:\n{_tail(logs[task].read())}"
            )

        t0 = time.perf_counter()
        try:
            for task in servers:
                start(task, ["--serve"])
            for task in runners:
                outs[task] = Path(tmp) / f"result_{task[0]}_{task[1]}.json"
                start(task, [target, str(outs[task]), encoded])
            ended = {}
            while len(ended) < len(runners):
                for task, p in procs.items():
                    code = p.poll()
                    if code is None:
                        continue
                    if task in servers:
                        fail(task, f"(a server) exited early with {code}")
                    if task not in ended:
                        ended[task] = time.perf_counter() - t0
                        if code != 0:
                            fail(task, f"exited with {code}")
                if time.perf_counter() - t0 > timeout:
                    raise WorkerError(
                        f"the cluster running {target} did not finish in {timeout:g} s "
                        f"(finished: {sorted(ended)}); every process was killed"
                    )
                time.sleep(0.05)
            for task in runners:
                logs[task].seek(0)
                results.append(
                    WorkerResult(
                        f"{task[0]}:{task[1]}",
                        json.loads(outs[task].read_text()),
                        procs[task].returncode,
                        ended[task],
                        logs[task].read(),
                    )
                )
        finally:
            for p in procs.values():
                _stop(p)
            for log in logs.values():
                log.close()
    return results


def _main(argv) -> int:
    """Entry point of a cluster process (see :func:`run_cluster`)."""
    if argv == ["--serve"]:
        from lrbook.env import quiet_import_tensorflow

        tf = quiet_import_tensorflow()
        config = json.loads(os.environ["TF_CONFIG"])
        server = tf.distribute.Server(
            tf.train.ClusterSpec(config["cluster"]),
            job_name=config["task"]["type"],
            task_index=config["task"]["index"],
            protocol="grpc",
            start=True,
        )
        server.join()
        return 0
    target, out, kwargs = argv
    module, name = target.split(":")
    value = getattr(importlib.import_module(module), name)(**json.loads(kwargs))
    Path(out).write_text(json.dumps(value))
    return 0


def probe_worker(fail_task: int | None = None, sleep: float = 0.0) -> dict:
    """A cluster task that only reports who it is (and can fail or hang): for checking a cluster.

    Args:
        fail_task: the worker index that raises ``RuntimeError``, at once (``None``: none).
        sleep: seconds the other workers sleep before they report (to stand for a hung
            worker).

    Example:
        >>> run_cluster("lrbook.cluster:probe_worker", workers=2)[1].value["index"]  # doctest: +SKIP
        1
    """
    config = json.loads(os.environ["TF_CONFIG"])
    if fail_task is not None and config["task"]["index"] == fail_task:
        raise RuntimeError(f"probe_worker: task {fail_task} fails on purpose")
    time.sleep(sleep)
    return {"pid": os.getpid(), **config["task"]}


if __name__ == "__main__":  # a process of run_cluster
    sys.exit(_main(sys.argv[1:]))
