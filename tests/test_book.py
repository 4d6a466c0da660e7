"""The build pipeline: papermill execution, manifest, failure handling."""

import json

import nbformat
import pytest

from lrbook import book


def make_notebook(path, body):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("profile = None\nx = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)
    return path


def test_notebooks_follow_the_toc():
    names = [p.stem for p in book.notebooks()]
    assert names and names[0].startswith("01_")
    with pytest.raises(SystemExit, match="--only names no notebook"):
        book.notebooks(["no_such_chapter"])


def test_execute_records_manifest_and_hides_injected_cell(tmp_path):
    nb = make_notebook(tmp_path / "ok.ipynb", "assert profile == 'quick' and x == 1\nprint('fine')")
    manifest = book.execute("quick", paths=[nb], build=tmp_path / "build")
    entry = manifest["notebooks"][str(nb)]
    assert entry["success"] is True and entry["profile"] == "quick"
    assert entry["parameters"] == {"profile": "quick"}
    for key in ("wall_time_s", "keras", "tensorflow", "lrbook", "device"):
        assert key in entry
    out = nbformat.read(tmp_path / "build/executed/quick/notebooks/ok.ipynb", as_version=4)
    injected = [c for c in out.cells if book.INJECTED_TAG in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata["tags"]
    on_disk = json.loads((tmp_path / "build/executed/quick/manifest.json").read_text())
    assert on_disk["notebooks"][str(nb)]["success"] is True


def test_failing_notebook_stops_the_build_and_keeps_partial_copy(tmp_path):
    nb = make_notebook(tmp_path / "bad.ipynb", "print('before')\nraise RuntimeError('boom')")
    with pytest.raises(SystemExit) as exc:
        book.execute("quick", paths=[nb], build=tmp_path / "build")
    message = str(exc.value)
    assert "FAILED" in message and "bad.ipynb" in message and "nothing was rendered" in message
    partial = tmp_path / "build/executed/quick/notebooks/bad.ipynb"
    assert partial.exists()
    text = partial.read_text()
    assert "boom" in text and "before" in text
    manifest = json.loads((tmp_path / "build/executed/quick/manifest.json").read_text())
    assert manifest["notebooks"][str(nb)]["success"] is False
    assert "boom" in manifest["notebooks"][str(nb)]["error"]


def test_requirements_for_a_gpu_swap_only_the_tensorflow_line(monkeypatch):
    text = "# c\ntensorflow-cpu==2.21.0\nkeras==3.15.1\n"
    assert book.requirements("cpu", text) == text
    assert book.requirements("gpu", text) == "# c\ntensorflow[and-cuda]==2.21.0\nkeras==3.15.1\n"
    monkeypatch.setenv("LRBOOK_DEVICE", "gpu")
    assert book.requirements("auto", text).splitlines()[1] == "tensorflow[and-cuda]==2.21.0"
    monkeypatch.setenv("LRBOOK_DEVICE", "cpu")
    assert book.requirements("auto", text) == text
    real = book.requirements("gpu")  # the repository's file pins tensorflow-cpu
    assert "tensorflow[and-cuda]==" in real and "\ntensorflow-cpu==" not in real
    with pytest.raises(ValueError, match=r"Argument `device` must be 'cpu', 'gpu' or 'auto'. Received: device='tpu'"):
        book.requirements("tpu", text)
    with pytest.raises(ValueError, match=r"Argument `text` must pin tensorflow-cpu"):
        book.requirements("gpu", "keras==3\n")


def test_gpu_detection_without_nvidia_smi(monkeypatch):
    monkeypatch.setattr(book.shutil, "which", lambda name, **kw: None)
    assert book.has_nvidia_gpu() is False
