"""Every public name of lrbook is documented, with an example (issue: API reference)."""

import importlib
import inspect

import pytest

import lrbook

MODULES = sorted(m for m in lrbook._SUBMODULES)


@pytest.mark.parametrize("module", MODULES)
def test_every_public_function_and_class_has_a_docstring_with_an_example(module):
    mod = importlib.import_module(f"lrbook.{module}")
    assert mod.__doc__, f"lrbook.{module} has no module docstring"
    missing = []
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)) or name == "main":
            continue
        doc = inspect.getdoc(obj) or ""
        if "Example" not in doc:
            missing.append(name)
    assert not missing, f"lrbook.{module}: no Example in the docstring of {missing}"


def test_top_level_exports_resolve():
    for name in lrbook.__all__:
        assert getattr(lrbook, name) is not None
