"""Every public name of lrbook is documented, with an example (issue: API reference)."""

import importlib
import inspect
import re
import sys

import pytest

import lrbook

MODULES = sorted(m for m in lrbook._SUBMODULES)


@pytest.mark.parametrize("module", MODULES)
def test_every_public_function_and_class_has_a_docstring_with_an_example(module):
    if module == "quantize" and lrbook.env.backend() != "tensorflow":
        pytest.skip(
            "lrbook.quantize converts with tf.lite: it imports on the TensorFlow "
            f"backend only, Keras runs on {lrbook.env.backend()!r}"
        )
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
    """Each name of ``lrbook.__all__`` is the object it stands for, not just something.

    A submodule's name gives that very submodule; a function or class is the one of the
    same name defined in a submodule, which lists it in its own ``__all__`` (so it is
    documented there); ``__version__`` is a version string.
    """
    wrong = {}
    for name in lrbook.__all__:
        obj = getattr(lrbook, name)
        if name == "__version__":
            ok = isinstance(obj, str) and re.fullmatch(r"\d+\.\d+\.\d+\S*", obj)
        elif inspect.ismodule(obj):
            ok = obj.__name__ == f"lrbook.{name}" and obj is sys.modules[obj.__name__]
        else:
            home = importlib.import_module(obj.__module__)
            ok = (
                obj.__module__.startswith("lrbook.")
                and obj.__name__ == name
                and getattr(home, name) is obj
                and name in getattr(home, "__all__", ())
            )
        if not ok:
            wrong[name] = obj
    assert not wrong, f"lrbook.__all__ names that resolve to the wrong object: {wrong}"
