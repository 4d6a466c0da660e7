"""lrbook: learning-rate schedules, an LR range test and training helpers for Keras 3.

The helper package of the book *lrbook*. What Keras 3 lacks, at the top level:

- one-cycle (:class:`~lrbook.schedules.OneCycle`, with its momentum
  :class:`~lrbook.schedules.OneCycleMomentum`) and the cyclical family
  (:class:`~lrbook.schedules.CyclicalLearningRate`, its ``Triangular``,
  ``Triangular2`` and ``Exponential`` variants), :class:`~lrbook.schedules.Warmup`
  around any schedule and :class:`~lrbook.schedules.RampUpExpDecay`, all
  ``keras.optimizers.schedules.LearningRateSchedule`` objects that save and load;
- the LR range test, :func:`~lrbook.lr_finder.lr_range_test` (or the
  :class:`~lrbook.lr_finder.LRFinder` callback), returning an
  :class:`~lrbook.lr_rules.LRFinderResult` with fastai's and Lightning's rules;
- :class:`~lrbook.callbacks.ScheduleRecorder`, the learning rate and momentum
  every update really used.

>>> import lrbook, keras
>>> schedule = lrbook.OneCycle(max_lr=0.1, total_steps=1000)
>>> optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)

The book's own machinery ships too, because the chapters import it:
:mod:`lrbook.plotting` (figures in the book's style), :mod:`lrbook.notebook`
(values glued into a chapter's text) and :mod:`lrbook.book` (the build, which
works on a checkout of the book's repository). A training script needs none of
them.

Submodules are imported lazily so that
``import lrbook`` stays cheap. lrbook runs on whichever backend Keras uses
(TensorFlow, JAX or PyTorch; see :func:`lrbook.env.import_keras`): TensorFlow is
loaded (quietly, see :func:`lrbook.env.quiet_import_tensorflow`) only when it
is the backend and a Keras-facing module is used, or by the TensorFlow-only
parts (:mod:`lrbook.quantize`, which on another backend raises an
``ImportError`` naming it, and :mod:`lrbook.distributed`).

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
    "lr_rules",
    "cluster",
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
    "LRFinderResult": "lr_rules",
    "LRFinder": "lr_finder",
    "OneCycle": "schedules",
    "OneCycleMomentum": "schedules",
    "Warmup": "schedules",
    "RampUpExpDecay": "schedules",
    "CyclicalLearningRate": "schedules",
    "TriangularCyclicalLearningRate": "schedules",
    "Triangular2CyclicalLearningRate": "schedules",
    "ExponentialCyclicalLearningRate": "schedules",
    "ScheduleRecorder": "callbacks",
}

# Submodules that need an optional dependency (the extra of the same name): importable
# one by one, left out of `from lrbook import *`.
_EXTRAS = {"search": "keras-tuner", "quantize": "ai-edge-litert"}

# Everything but the extras' modules (tests/test_extras.py checks it against the sets above).
__all__ = [
    "CyclicalLearningRate",
    "ExponentialCyclicalLearningRate",
    "LRFinder",
    "LRFinderResult",
    "OneCycle",
    "OneCycleMomentum",
    "RampUpExpDecay",
    "ScheduleRecorder",
    "Triangular2CyclicalLearningRate",
    "TriangularCyclicalLearningRate",
    "Warmup",
    "__version__",
    "annealing",
    "book",
    "callbacks",
    "cluster",
    "data",
    "distill",
    "distributed",
    "env",
    "lr_finder",
    "lr_range_test",
    "lr_rules",
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
