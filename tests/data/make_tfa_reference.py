"""Regenerate ``tfa_cyclical_reference.json``: tensorflow-addons' cyclical learning rates.

Not run by the tests (they never import tensorflow-addons, which does not
install with current TensorFlow). Run it by hand in an old environment, e.g.
``pip install tensorflow-cpu==2.15.1 tensorflow-addons==0.23.0 "numpy<2"``:

    python tests/data/make_tfa_reference.py

The steps are float32, as the legacy Keras optimizers passed them
(``tf.cast(self.iterations, var_dtype)``); with an int64 tensor step
tensorflow-addons' ``ExponentialCyclicalLearningRate(scale_mode="iterations")``
fails on ``gamma ** step`` (lrbook's casts every step to float32 first).
"""

from __future__ import annotations

import json
import pathlib
import platform

import numpy as np
import tensorflow as tf
import tensorflow_addons as tfa

STEPS = np.arange(0, 200, dtype=np.float32)

CASES = [
    (
        "TriangularCyclicalLearningRate",
        {"initial_learning_rate": 1e-4, "maximal_learning_rate": 1e-2, "step_size": 10},
    ),
    (
        "TriangularCyclicalLearningRate",
        {
            "initial_learning_rate": 0.3,
            "maximal_learning_rate": 0.01,
            "step_size": 7,
            "scale_mode": "iterations",
        },
    ),
    (
        "Triangular2CyclicalLearningRate",
        {"initial_learning_rate": 1e-4, "maximal_learning_rate": 1e-2, "step_size": 8},
    ),
    (
        "Triangular2CyclicalLearningRate",
        {
            "initial_learning_rate": 1e-3,
            "maximal_learning_rate": 1e-1,
            "step_size": 2.5,
        },
    ),
    (
        "ExponentialCyclicalLearningRate",
        {
            "initial_learning_rate": 1e-4,
            "maximal_learning_rate": 1e-2,
            "step_size": 10,
            "gamma": 0.99,
        },
    ),
    (
        "ExponentialCyclicalLearningRate",
        {
            "initial_learning_rate": 1e-4,
            "maximal_learning_rate": 1e-2,
            "step_size": 10,
            "gamma": 0.5,
            "scale_mode": "cycle",
        },
    ),
    # The tutorial of seeds/004: triangular2 written as a lambda.
    (
        "CyclicalLearningRate",
        {
            "initial_learning_rate": 1e-4,
            "maximal_learning_rate": 1e-2,
            "step_size": 6,
            "scale_fn": "1/(2.**(x-1))",
        },
    ),
    (
        "CyclicalLearningRate",
        {
            "initial_learning_rate": 1e-4,
            "maximal_learning_rate": 1e-2,
            "step_size": 6,
            "scale_fn": "1/(1. + x/50.)",
            "scale_mode": "iterations",
        },
    ),
]


def run(name, kwargs):
    kwargs = dict(kwargs)
    if "scale_fn" in kwargs:
        source = kwargs["scale_fn"]
        kwargs["scale_fn"] = eval(f"lambda x: {source}")  # noqa: S307 - fixed strings above
    sched = getattr(tfa.optimizers, name)(**kwargs)
    values = np.asarray(sched(tf.constant(STEPS)), dtype=np.float32)
    if "scale_fn" in kwargs:
        kwargs["scale_fn"] = source
    return {"class_name": name, "kwargs": kwargs, "lr": [float(v) for v in values]}


def main():
    out = {
        "generator": "tests/data/make_tfa_reference.py",
        "tensorflow_addons": tfa.__version__,
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
        "steps": [float(s) for s in STEPS],
        "cases": [run(n, k) for n, k in CASES],
    }
    path = pathlib.Path(__file__).with_name("tfa_cyclical_reference.json")
    path.write_text(json.dumps(out) + "\n")
    print(f"wrote {path} ({len(out['cases'])} cases)")


if __name__ == "__main__":
    main()
