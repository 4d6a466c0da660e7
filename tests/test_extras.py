"""Optional parts of lrbook: each needs its extra, and says so when it is missing.

``lrbook.search`` needs keras-tuner (``lrbook[search]``) and ``lrbook.quantize``
needs ai-edge-litert (``lrbook[quantize]``). A user who installed lrbook with
its declared dependencies alone gets an ``ImportError`` naming the extra, and
``from lrbook import *`` works for them. The missing package is simulated the
way Python spells it: ``sys.modules[name] = None`` makes ``import name`` fail.
"""

from __future__ import annotations

import importlib
import sys

import pytest

import lrbook

# module -> (the package it needs, the extra that installs it)
EXTRAS = {
    "search": ("keras_tuner", "search"),
    "quantize": ("ai_edge_litert", "quantize"),
}


def _without(monkeypatch, package):
    """``package`` (and its submodules) unimportable, and every lrbook module that uses it
    out of sys.modules and off the ``lrbook`` package, so the next import runs afresh.
    monkeypatch puts all of it back after the test."""
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, package, None)
    for module in EXTRAS:
        monkeypatch.delitem(sys.modules, f"lrbook.{module}", raising=False)
        if module in vars(lrbook):  # hasattr would import it through lrbook.__getattr__
            monkeypatch.delattr(lrbook, module)


def _skip_quantize_off_tensorflow(module):
    if module == "quantize" and lrbook.env.backend() != "tensorflow":
        pytest.skip(
            "lrbook.quantize needs the TensorFlow backend before its extra: on this "
            "backend its import fails naming the backend (tests/test_backends.py)"
        )


@pytest.mark.parametrize("module", sorted(EXTRAS))
def test_missing_extra_raises_an_import_error_naming_it(monkeypatch, module):
    _skip_quantize_off_tensorflow(module)
    package, extra = EXTRAS[module]
    _without(monkeypatch, package)
    with pytest.raises(
        ImportError, match=rf"lrbook\.{module} needs .*pip install 'lrbook\[{extra}\]'"
    ) as info:
        importlib.import_module(f"lrbook.{module}")
    assert isinstance(
        info.value.__cause__, ImportError
    )  # chained from the original error
    assert f"lrbook.{module}" not in sys.modules
    with pytest.raises(
        ImportError, match=rf"'lrbook\[{extra}\]'"
    ):  # the lazy attribute too
        getattr(lrbook, module)


def test_star_import_works_without_the_extras(monkeypatch):
    for package, _ in EXTRAS.values():
        _without(monkeypatch, package)
    namespace = {}
    exec("from lrbook import *", namespace)  # noqa: S102  (the statement under test)
    assert "schedules" in namespace and "lr_range_test" in namespace
    assert not set(EXTRAS) & set(namespace)
    assert set(EXTRAS) <= set(dir(lrbook))


def test_all_is_every_submodule_and_export_but_the_extras():
    assert set(EXTRAS) == set(lrbook._EXTRAS) <= lrbook._SUBMODULES
    expected = (
        (lrbook._SUBMODULES - set(EXTRAS)) | set(lrbook._EXPORTS) | {"__version__"}
    )
    assert sorted(lrbook.__all__) == sorted(expected) and len(
        set(lrbook.__all__)
    ) == len(lrbook.__all__)


@pytest.mark.parametrize("module", sorted(EXTRAS))
def test_with_the_extra_the_module_imports(module):
    _skip_quantize_off_tensorflow(module)
    assert importlib.import_module(f"lrbook.{module}").__all__
