"""lrbook: learning-rate schedules, an LR range test and training helpers for Keras 3.

The helper package of the book *lrbook*. Submodules are imported lazily so that
``import lrbook`` stays cheap and TensorFlow is only loaded (quietly, see
:func:`lrbook.env.quiet_import_tensorflow`) when a Keras-facing module is used.

Two submodules need an optional dependency, installed with an extra, and are
imported explicitly (``from lrbook import search``, ``import lrbook.quantize``);
without the extra their import raises an ``ImportError`` naming it:

- :mod:`lrbook.search` needs keras-tuner: ``pip install 'lrbook[search]'``;
- :mod:`lrbook.quantize` needs ai-edge-litert: ``pip install 'lrbook[quantize]'``.

They are left out of ``__all__``, so ``from lrbook import *`` works with the
declared dependencies alone. The ``book`` extra holds what builds and tests the
book (papermill, Jupyter Book, nbval, pytest).
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

_SUBMODULES = {
    "env",
    "data",
    "models",
    "stats",
    "training",
    "tuning",
    "annealing",
    "schedules",
    "optimizers",
    "callbacks",
    "lr_finder",
    "distributed",
    "superconvergence",
    "distill",
    "pruning",
    "quantize",
    "regularization",
    "search",
    "plotting",
    "notebook",
    "book",
}

# Public names re-exported at the top level: name -> submodule.
_EXPORTS = {
    "setup": "env",
    "resolve_profile": "env",
    "set_seed": "training",
    "lr_range_test": "lr_finder",
    "LRFinderResult": "lr_finder",
    "LRFinder": "lr_finder",
}

# Submodules that need an optional dependency (the extra of the same name): importable
# one by one, left out of `from lrbook import *`.
_EXTRAS = {"search": "keras-tuner", "quantize": "ai-edge-litert"}

# Everything but the extras' modules (tests/test_extras.py checks it against the sets above).
__all__ = [
    "LRFinder",
    "LRFinderResult",
    "__version__",
    "annealing",
    "book",
    "callbacks",
    "data",
    "distill",
    "distributed",
    "env",
    "lr_finder",
    "lr_range_test",
    "models",
    "notebook",
    "optimizers",
    "plotting",
    "pruning",
    "regularization",
    "resolve_profile",
    "schedules",
    "set_seed",
    "setup",
    "stats",
    "superconvergence",
    "training",
    "tuning",
]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"lrbook.{name}")
    if name in _EXPORTS:
        module = importlib.import_module(f"lrbook.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'lrbook' has no attribute {name!r}")


def __dir__():
    return sorted(set(__all__) | set(_EXTRAS))
