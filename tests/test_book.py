"""The build pipeline: papermill execution, manifest, failure handling."""

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

from lrbook import book


def make_notebook(path, body):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell("profile = None\nx = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# T"),
        params,
        nbformat.v4.new_code_cell(body),
    ]
    nbformat.write(nb, path)
    return path


def test_notebooks_follow_the_toc():
    names = [p.stem for p in book.notebooks()]
    assert names and names[0].startswith("01_")
    with pytest.raises(SystemExit, match="--only names no notebook"):
        book.notebooks(["no_such_chapter"])


def test_execute_records_manifest_and_hides_injected_cell(tmp_path):
    nb = make_notebook(
        tmp_path / "ok.ipynb", "assert profile == 'quick' and x == 1\nprint('fine')"
    )
    manifest = book.execute("quick", paths=[nb], build=tmp_path / "build")
    entry = manifest["notebooks"][str(nb)]
    assert entry["success"] is True and entry["profile"] == "quick"
    assert entry["parameters"] == {"profile": "quick"}
    for key in ("wall_time_s", "keras", "tensorflow", "lrbook", "device"):
        assert key in entry
    out = nbformat.read(
        tmp_path / "build/executed/quick/notebooks/ok.ipynb", as_version=4
    )
    injected = [c for c in out.cells if book.INJECTED_TAG in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata["tags"]
    on_disk = json.loads((tmp_path / "build/executed/quick/manifest.json").read_text())
    assert on_disk["notebooks"][str(nb)]["success"] is True


def test_failing_notebook_stops_the_build_and_keeps_partial_copy(tmp_path):
    nb = make_notebook(
        tmp_path / "bad.ipynb", "print('before')\nraise RuntimeError('boom')"
    )
    with pytest.raises(SystemExit) as exc:
        book.execute("quick", paths=[nb], build=tmp_path / "build")
    message = str(exc.value)
    assert (
        "FAILED" in message
        and "bad.ipynb" in message
        and "nothing was rendered" in message
    )
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
    assert (
        book.requirements("gpu", text)
        == "# c\ntensorflow[and-cuda]==2.21.0\nkeras==3.15.1\n"
    )
    monkeypatch.setenv("LRBOOK_DEVICE", "gpu")
    assert (
        book.requirements("auto", text).splitlines()[1]
        == "tensorflow[and-cuda]==2.21.0"
    )
    monkeypatch.setenv("LRBOOK_DEVICE", "cpu")
    assert book.requirements("auto", text) == text
    real = book.requirements("gpu")  # the repository's file pins tensorflow-cpu
    assert "tensorflow[and-cuda]==" in real and "\ntensorflow-cpu==" not in real
    with pytest.raises(
        ValueError,
        match=r"Argument `device` must be 'cpu', 'gpu' or 'auto'. Received: device='tpu'",
    ):
        book.requirements("tpu", text)
    with pytest.raises(
        ValueError,
        match=r"Argument `text` must be requirements that pin tensorflow-cpu",
    ):
        book.requirements("gpu", "keras==3\n")


def test_gpu_detection_without_nvidia_smi(monkeypatch):
    monkeypatch.setattr(book.shutil, "which", lambda name, **kw: None)
    assert book.has_nvidia_gpu() is False


def test_keep_going_runs_every_notebook_and_reports_each_failure(tmp_path, capsys):
    bad = make_notebook(tmp_path / "bad.ipynb", "x = 2\nraise RuntimeError('boom')")
    ok = make_notebook(tmp_path / "ok.ipynb", "print('fine')")
    with pytest.raises(SystemExit) as exc:
        book.execute("quick", paths=[bad, ok], build=tmp_path / "build")
    message = str(exc.value)
    assert "FAILED: 1 notebook(s)" in message and "nothing was rendered" in message
    # The failing cell is named: its index, the exception and its first source line.
    assert "bad.ipynb" in message and "in cell 3" in message
    assert "RuntimeError: boom" in message and "| x = 2" in message
    assert "ok.ipynb" not in message
    manifest = json.loads((tmp_path / "build/executed/quick/manifest.json").read_text())
    assert manifest["notebooks"][str(bad)]["success"] is False
    assert manifest["notebooks"][str(bad)]["cell_index"] == 3
    assert manifest["notebooks"][str(ok)]["success"] is True
    assert (tmp_path / "build/executed/quick/notebooks/ok.ipynb").exists()
    assert "executing" in capsys.readouterr().out


def test_fail_fast_stops_at_the_first_failure(tmp_path):
    bad = make_notebook(tmp_path / "bad.ipynb", "raise RuntimeError('boom')")
    ok = make_notebook(tmp_path / "ok.ipynb", "print('fine')")
    with pytest.raises(SystemExit, match="bad.ipynb"):
        book.execute(
            "quick", paths=[bad, ok], build=tmp_path / "build", keep_going=False
        )
    manifest = json.loads((tmp_path / "build/executed/quick/manifest.json").read_text())
    assert str(ok) not in manifest["notebooks"]


def test_unchanged_notebook_is_cached_and_a_change_reexecutes_it(tmp_path, capsys):
    nb = make_notebook(tmp_path / "ok.ipynb", "print('one')")
    build = tmp_path / "build"
    first = book.execute("quick", paths=[nb], build=build)["notebooks"][str(nb)]
    assert first["cached"] is False and first["input_hash"]
    capsys.readouterr()

    second = book.execute("quick", paths=[nb], build=build)["notebooks"][str(nb)]
    assert "cached" in capsys.readouterr().out
    assert second["cached"] is True and second["started"] == first["started"]

    forced = book.execute("quick", paths=[nb], build=build, force=True)["notebooks"][
        str(nb)
    ]
    assert forced["cached"] is False and "executing" in capsys.readouterr().out

    other = book.execute("quick", paths=[nb], build=build, parameters={"x": 2})[
        "notebooks"
    ][str(nb)]
    assert other["cached"] is False and other["input_hash"] != first["input_hash"]

    make_notebook(nb, "print('two')")  # a cell changed
    changed = book.execute("quick", paths=[nb], build=build, parameters={"x": 2})[
        "notebooks"
    ][str(nb)]
    assert changed["cached"] is False and changed["input_hash"] != other["input_hash"]
    out = nbformat.read(build / "executed/quick/notebooks/ok.ipynb", as_version=4)
    assert "two" in json.dumps(out.cells[-1].outputs)


def test_a_failed_notebook_is_never_cached(tmp_path):
    bad = make_notebook(tmp_path / "bad.ipynb", "raise RuntimeError('boom')")
    for _ in range(2):
        with pytest.raises(SystemExit, match="boom"):
            book.execute("quick", paths=[bad], build=tmp_path / "build")


def test_input_hash_covers_cells_tags_sources_packages_parameters_and_device(tmp_path):
    nb = make_notebook(tmp_path / "a.ipynb", "print(1)")
    base = {"packages": ["keras==3.15.1"], "sources": [["lrbook/a.py", "0"]]}
    ref = book.input_hash(nb, {"profile": "quick"}, {"device": "CPU"}, **base)
    assert ref == book.input_hash(nb, {"profile": "quick"}, {"device": "CPU"}, **base)
    variants = [
        book.input_hash(nb, {"profile": "full"}, {"device": "CPU"}, **base),
        book.input_hash(nb, {"profile": "quick"}, {"device": "GPU"}, **base),
        book.input_hash(
            nb,
            {"profile": "quick"},
            {"device": "CPU", "precision": "mixed_float16"},
            **base,
        ),
        book.input_hash(
            nb,
            {"profile": "quick"},
            {"device": "CPU"},
            packages=["keras==3.15.2"],
            sources=base["sources"],
        ),
        book.input_hash(
            nb,
            {"profile": "quick"},
            {"device": "CPU"},
            packages=base["packages"],
            sources=[["lrbook/a.py", "1"]],
        ),
    ]
    tagged = nbformat.read(nb, as_version=4)
    tagged.cells[-1].metadata["tags"] = ["hide-input"]
    nbformat.write(tagged, nb)
    variants.append(
        book.input_hash(nb, {"profile": "quick"}, {"device": "CPU"}, **base)
    )
    assert len({ref, *variants}) == len(variants) + 1
    # The build's own machinery is not an input of any chapter; the rest of lrbook is.
    paths = [p for p, _ in book._lrbook_sources()]
    assert "lrbook/book.py" not in paths and "lrbook/schedules.py" in paths


def test_staged_page_carries_the_record_of_the_run_that_made_it(tmp_path):
    nb = make_notebook(tmp_path / "a.ipynb", "print(1)")
    entry = {
        "started": "2026-12-03T09:00:00+00:00",
        "profile": "full",
        "wall_time_s": 61.5,
        "device": "CPU",
        "lrbook": "0.1.0",
        "tensorflow": "2.21.0",
        "keras": "3.15.1",
    }
    book._stage_notebook(nb, tmp_path / "staged.ipynb", {**entry, "cached": True})
    footer = nbformat.read(tmp_path / "staged.ipynb", as_version=4).cells[-1].source
    assert "2026-12-03 at 09:00 UTC" in footer and "reused that run" in footer
    assert "lrbook 0.1.0" in footer
    assert "reused" not in book.run_record({**entry, "cached": False})


def test_command_line_flags(monkeypatch):
    calls = []
    monkeypatch.setattr(book, "execute", lambda *a, **k: calls.append(k))
    monkeypatch.setattr(book, "render", lambda *a, **k: None)
    book.main(["execute", "--profile", "quick"])
    book.main(["execute", "--profile", "quick", "--keep-going", "--force"])
    book.main(["execute", "--profile", "quick", "--fail-fast"])
    assert calls == [
        {"force": False, "keep_going": True},
        {"force": True, "keep_going": True},
        {"force": False, "keep_going": False},
    ]
    with pytest.raises(SystemExit):
        book.main(["build", "--keep-going", "--fail-fast"])


def test_results_page_states_render_date_and_each_chapters_run(tmp_path):
    entries = {}
    for nb_path in book.notebooks():
        make_notebook(tmp_path / nb_path.name, "pass")
        rel = nb_path.relative_to(book.ROOT).as_posix()
        entries[rel] = {
            "started": "2026-12-01T10:00:00+00:00",
            "profile": "full",
            "cached": True,
            "wall_time_s": 12.0,
            "lrbook": "9.9.9",
        }
    page = book.results_page(
        "full", tmp_path, {"runtime": {"lrbook": "9.9.9"}, "notebooks": entries}
    )
    assert re.search(r"rendered on \d{4}-\d\d-\d\d at \d\d:\d\d UTC", page)
    assert page.count("Executed on 2026-12-01 at 10:00 UTC in 12 s") == len(entries)
    assert "lrbook 9.9.9" in page and "reused that run" in page


def _installed_copy(tmp_path):
    """lrbook as a wheel would install it: the package alone, outside any checkout."""
    import shutil

    site = tmp_path / "site-packages"
    shutil.copytree(
        book.ROOT / "lrbook",
        site / "lrbook",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return site


def _run_book(args, *, cwd, site, extra_env=None):
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "LRBOOK_ROOT"}
    env["PYTHONPATH"] = str(site)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "lrbook.book", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_installed_package_outside_a_checkout_says_so(tmp_path):
    site = _installed_copy(tmp_path)
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    out = _run_book(["list"], cwd=elsewhere, site=site)
    assert out.returncode == 2, out.stderr
    assert "no checkout of the book here" in out.stderr and "LRBOOK_ROOT" in out.stderr
    assert "Traceback" not in out.stderr


def test_installed_package_finds_the_checkout_from_cwd_or_lrbook_root(tmp_path):
    site = _installed_copy(tmp_path)
    expected = [p.relative_to(book.ROOT).as_posix() for p in book.notebooks()]
    inside = _run_book(["list"], cwd=book.ROOT / "notebooks", site=site)
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.split() == expected
    named = _run_book(
        ["list"], cwd=tmp_path, site=site, extra_env={"LRBOOK_ROOT": str(book.ROOT)}
    )
    assert named.returncode == 0 and named.stdout.split() == expected
    wrong = _run_book(
        ["list"], cwd=tmp_path, site=site, extra_env={"LRBOOK_ROOT": str(tmp_path)}
    )
    assert wrong.returncode != 0
    assert (
        "Environment variable `LRBOOK_ROOT` must be the path of the book's checkout"
        in (wrong.stderr)
    )


def test_book_sh_test_builds_the_site_then_points_the_browser_tests_at_it():
    """tests/site skips without LRBOOK_SITE: `./book.sh test` must build, then set it."""
    script = (Path(__file__).resolve().parents[1] / "book.sh").read_text()
    branch = script[
        script.index("\n  test)") : script.index(";;", script.index("\n  test)"))
    ]
    lines = [line.strip() for line in branch.splitlines()]
    unit = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    build = next(i for i, line in enumerate(lines) if "build --profile quick" in line)
    site = next(i for i, line in enumerate(lines) if "pytest tests/site" in line)
    assert "--ignore=tests/site" in lines[unit]
    assert unit < build < site
    assert lines[site].startswith("LRBOOK_SITE=_build/html ")


def test_requirements_command_runs_before_numpy_is_installed():
    """book.sh calls `python -m lrbook.book requirements` in a bare venv: no numpy yet."""
    import subprocess
    import sys

    code = (
        "import sys, runpy; sys.modules['numpy'] = None; "
        "sys.argv = ['lrbook.book', 'requirements', '--device', 'cpu']; "
        "runpy.run_module('lrbook.book', run_name='__main__')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "tensorflow" in out.stdout
