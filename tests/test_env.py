import subprocess
import sys

import numpy as np
import pytest

from lrbook import env


def test_resolve_profile(monkeypatch):
    monkeypatch.delenv("LRBOOK_PROFILE", raising=False)
    assert env.resolve_profile(None) == "full"
    monkeypatch.setenv("LRBOOK_PROFILE", "quick")
    assert env.resolve_profile(None) == "quick"
    assert env.resolve_profile("full") == "full"
    with pytest.raises(
        ValueError,
        match=r"Argument `profile` must be one of \('quick', 'full'\). Received: profile='fast'",
    ):
        env.resolve_profile("fast")
    monkeypatch.setenv("LRBOOK_PROFILE", "slow")
    with pytest.raises(
        ValueError,
        match=r"Environment variable `LRBOOK_PROFILE` must be one of .* Received: LRBOOK_PROFILE=",
    ):
        env.resolve_profile(None)


@pytest.mark.tensorflow_only("it imports TensorFlow")
def test_tensorflow_import_prints_no_cpp_log_lines():
    code = "import lrbook.env as e; e.quiet_import_tensorflow(); import keras; keras.ops.ones(2).numpy()"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    assert out.returncode == 0, out.stderr
    for noise in ("cpu_feature_guard", "oneDNN", "absl::InitializeLog", "cuda"):
        assert noise not in out.stderr + out.stdout, out.stderr


def test_versions_and_device():
    v = env.versions()
    package = env.BACKENDS[env.backend()]
    assert v["keras"].startswith("3.") and v[package]
    assert set(v) == {"python", package, "keras", "numpy", "lrbook"}
    assert env.device_name().startswith(
        ("CPU", "1 x GPU", "2 x GPU", "4 x GPU", "8 x GPU")
    )


def test_mixed_precision_switch(monkeypatch):
    import keras

    monkeypatch.delenv("LRBOOK_MIXED_PRECISION", raising=False)
    assert env.mixed_precision_requested() is False
    monkeypatch.setenv("LRBOOK_MIXED_PRECISION", "1")
    assert env.mixed_precision_requested() is True
    assert env.mixed_precision_requested(False) is False
    monkeypatch.setenv("LRBOOK_MIXED_PRECISION", "maybe")
    with pytest.raises(
        ValueError,
        match=r"Environment variable `LRBOOK_MIXED_PRECISION` must be 1/0.*"
        r"Received: LRBOOK_MIXED_PRECISION='maybe'",
    ):
        env.mixed_precision_requested()
    with pytest.raises(
        ValueError,
        match=r"Argument `mixed_precision` must be True, False or None. "
        r"Received: mixed_precision=1",
    ):
        env.mixed_precision_requested(1)
    monkeypatch.setenv("LRBOOK_MIXED_PRECISION", "1")
    try:
        info = env.setup("quick", verbose=False)
        assert info["precision"] == "mixed_float16"
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
        from lrbook import models

        model = models.cnn1d()
        assert (
            model.layers[1].compute_dtype == "float16"
        )  # the convolutions compute in float16
        assert (
            model.get_layer("logits").compute_dtype == "float32"
        )  # logits (and the loss) stay float32
        out = model(np.zeros((2, 40, 1), "float32"))
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    monkeypatch.delenv("LRBOOK_MIXED_PRECISION")
    assert env.setup("quick", verbose=False)["precision"] == "float32"
