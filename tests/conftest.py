"""Shared test setup: the Keras backend, the checkout importable, TensorFlow-only tests skipped loudly.

The unit tests run on every Keras backend lrbook supports: ``KERAS_BACKEND``
chooses it (TensorFlow when unset, as for the book). On JAX or PyTorch the test
modules of TensorFlow-only parts are skipped as a whole, and single tests with
the ``tensorflow_only`` mark, each with its reason in the report (``-rs`` lists
them); nothing is left out silently.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")

#: The backend these tests run on.
BACKEND = os.environ["KERAS_BACKEND"]

#: Test modules that cannot apply on another backend than TensorFlow, and why.
TENSORFLOW_ONLY_MODULES = {
    "test_distributed.py": "lrbook.distributed runs on tf.distribute",
    "test_quantize.py": "lrbook.quantize converts with tf.lite (the TFLite converter)",
    "test_book.py": "the book's build runs TensorFlow notebooks (./book.sh test)",
    "test_notebooks.py": "the book's notebooks are TensorFlow (./book.sh test)",
    "test_notebook_sources.py": "the book's notebooks are TensorFlow (./book.sh test)",
    "test_edit_button.py": "the book's site is built on TensorFlow (./book.sh test)",
    "test_release.py": "the release checks read the book's files (./book.sh test)",
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "tensorflow_only(reason): the test needs the TensorFlow backend; skipped, "
        "with the reason, on the others",
    )


class _SkippedModule(pytest.Module):
    """A test module skipped as a whole, with its reason, before it is imported."""

    reason = ""

    def _getobj(self):
        pytest.skip(
            f"{self.reason}: needs the TensorFlow backend, Keras runs on {BACKEND!r}",
            allow_module_level=True,
        )


def pytest_pycollect_makemodule(module_path, parent):
    reason = TENSORFLOW_ONLY_MODULES.get(module_path.name)
    if BACKEND == "tensorflow" or reason is None:
        return None
    module = _SkippedModule.from_parent(parent, path=module_path)
    module.reason = reason
    return module


def pytest_collection_modifyitems(config, items):
    if BACKEND == "tensorflow":
        return
    for item in items:
        mark = item.get_closest_marker("tensorflow_only")
        if mark is not None:
            reason = mark.kwargs.get("reason") or (mark.args[0] if mark.args else "")
            item.add_marker(
                pytest.mark.skip(
                    reason=f"{reason}: needs the TensorFlow backend, Keras runs on "
                    f"{BACKEND!r}"
                )
            )


@pytest.fixture
def spawned(monkeypatch):
    """The ``Popen`` objects of the cluster processes this test starts (and only those).

    A process is gone for sure when its ``Popen`` has a return code: its parent
    reaped it. A check by PID (``os.kill(pid, 0)``) cannot tell: PIDs are reused.
    """
    procs = []

    class Recorded(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            procs.append(self)

    from lrbook import cluster

    monkeypatch.setattr(cluster.subprocess, "Popen", Recorded)
    return procs
