"""The benchmarks run and report what their docstrings promise (timings are not asserted)."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "benchmarks" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.tensorflow_only(
    "benchmarks/training_speed.py times Keras's TensorFlow train loop (tf.data, tf.function)"
)
def test_training_speed_reports_the_ratio_and_identical_weights(capsys):
    out = _load("training_speed").main(["--quick"])
    assert {"old_epoch_s", "new_epoch_s", "ratio", "max_abs_diff"} <= set(out)
    # The ratio is taken before the times are rounded to 4 digits: equal to the
    # ratio of the rounded times only to within that rounding (0.596 vs 0.595 seen).
    assert out["ratio"] == pytest.approx(
        out["new_epoch_s"] / out["old_epoch_s"], abs=2e-3
    )
    # One call per epoch must train exactly like one call per step.
    assert out["max_abs_diff"] < 1e-6
    assert '"ratio"' in capsys.readouterr().out
