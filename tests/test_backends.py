"""lrbook on every Keras backend: TensorFlow loaded only where it is needed, clear errors elsewhere.

The backend-neutral modules import with Keras and one backend alone; the
TensorFlow-only parts (``quantize``, the tensorflow-datasets loader) fail with
an ``ImportError`` that names the backend and what to install; the backend is
the one the user chose (``$KERAS_BACKEND`` or ``keras.json``), TensorFlow only
by default. Subprocesses, since a backend is fixed once Keras is imported.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

import lrbook
from lrbook import env

BACKEND = env.backend()

#: The modules that must import and work without TensorFlow (issue 20).
NEUTRAL = (
    "annealing",
    "schedules",
    "optimizers",
    "callbacks",
    "lr_finder",
    "lr_rules",
    "distill",
    "stats",
    "training",
    "tuning",
    "data",
    "models",
    "plotting",
    "regularization",
    "pruning",
    "superconvergence",
    "notebook",
    "env",
    "_validation",
)


def _run(code: str, **environ) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")
    }
    base["PYTHONPATH"] = os.pathsep.join(sys.path)
    base.update(environ)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=base,
        timeout=300,
    )


def _missing_backend():
    for name, package in env.BACKENDS.items():
        if importlib.util.find_spec(package) is None:
            return name
    pytest.skip("every backend lrbook supports is installed here")


@pytest.mark.skipif(
    BACKEND == "tensorflow",
    reason="checks that JAX and PyTorch run without loading TensorFlow",
)
def test_neutral_modules_never_load_tensorflow():
    out = _run(
        f"""
        import importlib, sys
        import lrbook
        for name in {NEUTRAL!r}:
            importlib.import_module("lrbook." + name)
        from lrbook import data, models
        ds = data.load("mnist1d", n_train=256)
        model = models.compile_classifier(models.mlp(ds.input_shape, hidden=(8,)), "sgd")
        result = lrbook.lr_range_test(model, ds.x_train, ds.y_train, batch_size=32,
                                      num_steps=5)
        print(len(result.losses), "tensorflow" in sys.modules, lrbook.env.backend())
        """,
        KERAS_BACKEND=BACKEND,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-3:] == ["5", "False", BACKEND]


def test_tensorflow_only_parts_name_the_backend_and_what_to_install(monkeypatch):
    if BACKEND == "tensorflow":  # as if Keras ran on JAX
        monkeypatch.setattr(env, "backend", lambda: "jax")
    other = env.backend()
    message = (
        rf"needs TensorFlow as the Keras backend, and Keras is running on '{other}'\. "
        r"Install TensorFlow \(pip install tensorflow-cpu, or tensorflow\) and set "
        r"KERAS_BACKEND=tensorflow"
    )
    with pytest.raises(ImportError, match=r"^tf\.lite " + message):
        env.require_tensorflow("tf.lite")
    with pytest.raises(
        ImportError, match=r"^Data set 'rock_paper_scissors' .*" + message
    ):
        lrbook.data.load("rock_paper_scissors")
    from lrbook import distributed

    with pytest.raises(
        ImportError, match=r"^lrbook\.distributed\.configure_cpu_devices .*" + message
    ):
        distributed.configure_cpu_devices(2)
    with pytest.raises(
        ImportError, match=r"^lrbook\.distributed\.train_delayed_sgd .*" + message
    ):
        distributed.train_delayed_sgd(None, None, None, learning_rate=0.1, delay=1)
    assert distributed.linear_scaling(0.1, 64, 256) == pytest.approx(0.4)  # NumPy
    if BACKEND != "tensorflow":
        monkeypatch.delitem(sys.modules, "lrbook.quantize", raising=False)
        with pytest.raises(ImportError, match=r"^lrbook\.quantize .*" + message):
            importlib.import_module("lrbook.quantize")


def test_tensorflow_missing_is_said_with_what_to_install(monkeypatch):
    """What a TensorFlow-only function (``lrbook.distributed``'s) meets without TensorFlow."""
    find_spec = importlib.util.find_spec
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "tensorflow" else find_spec(name, *args),
    )
    with pytest.raises(
        ImportError,
        match=rf"^This needs TensorFlow, which is not installed \(Keras's backend is "
        rf"'{BACKEND}'\)\. Install it \(pip install tensorflow-cpu, or tensorflow\)",
    ):
        env.quiet_import_tensorflow()


def test_a_chosen_backend_that_is_not_installed_is_named():
    missing = _missing_backend()
    out = _run("import lrbook.schedules", KERAS_BACKEND=missing)
    assert out.returncode != 0
    assert (
        f"ImportError: Keras's backend is '{missing}', but the "
        f"'{env.BACKENDS[missing]}' package is not installed" in out.stderr
    ), out.stderr


def test_keras_json_chooses_the_backend_when_the_variable_is_unset(tmp_path):
    """``keras.json``'s choice is kept: lrbook sets TensorFlow only when nothing is chosen."""
    (tmp_path / "keras.json").write_text(json.dumps({"backend": BACKEND}))
    code = "import lrbook.schedules, keras; print(lrbook.env.backend(), keras.backend.backend())"
    out = _run(code, KERAS_HOME=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == [BACKEND, BACKEND]
    missing = _missing_backend()
    (tmp_path / "keras.json").write_text(json.dumps({"backend": missing}))
    out = _run("import lrbook.schedules", KERAS_HOME=str(tmp_path))
    assert f"Keras's backend is '{missing}'" in out.stderr, out.stderr


def test_versions_name_the_backend_package():
    info = env.versions()
    assert env.BACKENDS[BACKEND] in info
    others = set(env.BACKENDS.values()) - {env.BACKENDS[BACKEND]}
    assert not others & set(info)
