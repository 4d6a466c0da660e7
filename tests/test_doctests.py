"""Every docstring example of every lrbook module runs, and prints what it says it prints.

One test per module (the package itself and each of ``lrbook._SUBMODULES``),
with ``doctest.DocTestFinder`` and a ``DocTestRunner`` under ``ELLIPSIS`` and
``NORMALIZE_WHITESPACE``. The examples see ``np`` and ``keras`` besides their
module's own names, run from a temporary folder (so anything they write lands
there) and start from seed 0. An example is marked ``# doctest: +SKIP`` only
when no fast version of it exists (it trains for minutes, starts processes,
downloads, or executes notebooks); every module still has examples that run.

The modules of the extras (``search``, ``quantize``) are skipped, with the
reason, where their extra is not installed (tools/lowest_versions.sh), and the
TensorFlow-only modules (``distributed``, ``quantize``) on the other backends.
"""

from __future__ import annotations

import doctest
import importlib
import io

import numpy as np
import pytest

import lrbook
from lrbook.env import import_keras

import_keras()
import keras

#: Modules whose examples are TensorFlow's, and why.
TENSORFLOW_ONLY = {
    "lrbook.distributed": "tf.distribute",
    "lrbook.quantize": "tf.lite",
}

MODULES = ["lrbook", *(f"lrbook.{name}" for name in sorted(lrbook._SUBMODULES))]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _import(name):
    if name in TENSORFLOW_ONLY and keras.backend.backend() != "tensorflow":
        pytest.skip(
            f"{name} runs on {TENSORFLOW_ONLY[name]}: needs the TensorFlow backend, "
            f"Keras runs on {keras.backend.backend()!r}"
        )
    short = name.removeprefix("lrbook.")
    if short in lrbook._EXTRAS:
        try:
            return importlib.import_module(name)
        except ImportError as error:
            pytest.skip(f"{name}: its extra is not installed ({error})")
    return importlib.import_module(name)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    module = _import(name)
    monkeypatch.chdir(tmp_path)
    if name == "lrbook.notebook":  # its examples glue values: into fresh registries
        monkeypatch.setattr(module, "GLUED", {})
        monkeypatch.setattr(module, "HEADLINES", [])
    tests = doctest.DocTestFinder(exclude_empty=True).find(
        module, name, globs=vars(module).copy(), extraglobs={"np": np, "keras": keras}
    )
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in sorted(tests, key=lambda t: t.name):
        keras.utils.set_random_seed(0)
        try:
            runner.run(test, out=out.write)
        finally:
            keras.mixed_precision.set_global_policy("float32")
    result = runner.summarize(verbose=False)
    assert result.failed == 0, (
        f"{name}: {result.failed} failing examples\n{out.getvalue()}"
    )
    if name != "lrbook":  # the package's docstring has no example
        assert result.attempted > 0, f"{name}: no docstring example runs (all skipped?)"
