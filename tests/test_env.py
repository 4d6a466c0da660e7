import subprocess
import sys

import pytest

from lrbook import env


def test_resolve_profile(monkeypatch):
    monkeypatch.delenv("LRBOOK_PROFILE", raising=False)
    assert env.resolve_profile(None) == "full"
    monkeypatch.setenv("LRBOOK_PROFILE", "quick")
    assert env.resolve_profile(None) == "quick"
    assert env.resolve_profile("full") == "full"
    with pytest.raises(ValueError, match=r"Argument `profile` must be one of \('quick', 'full'\). Received: 'fast'"):
        env.resolve_profile("fast")
    monkeypatch.setenv("LRBOOK_PROFILE", "slow")
    with pytest.raises(ValueError, match=r"Argument `\$LRBOOK_PROFILE` must be one of"):
        env.resolve_profile(None)


def test_tensorflow_import_prints_no_cpp_log_lines():
    code = "import lrbook.env as e; e.quiet_import_tensorflow(); import keras; keras.ops.ones(2).numpy()"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)})
    assert out.returncode == 0, out.stderr
    for noise in ("cpu_feature_guard", "oneDNN", "absl::InitializeLog", "cuda"):
        assert noise not in out.stderr + out.stdout, out.stderr


def test_versions_and_device():
    v = env.versions()
    assert v["keras"].startswith("3.") and v["tensorflow"]
    assert env.device_name().startswith(("CPU", "1 x GPU", "2 x GPU", "4 x GPU", "8 x GPU"))
