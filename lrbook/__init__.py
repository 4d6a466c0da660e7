"""lrbook: learning-rate schedules, an LR range test and training helpers for Keras 3.

The helper package of the book *lrbook*. Submodules are imported lazily so that
``import lrbook`` stays cheap and TensorFlow is only loaded (quietly, see
:func:`lrbook.env.quiet_import_tensorflow`) when a Keras-facing module is used.
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

__all__ = sorted(_SUBMODULES | set(_EXPORTS) | {"__version__"})


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"lrbook.{name}")
    if name in _EXPORTS:
        module = importlib.import_module(f"lrbook.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'lrbook' has no attribute {name!r}")


def __dir__():
    return __all__
