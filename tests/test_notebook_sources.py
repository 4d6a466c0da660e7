"""One source per chapter: the MyST Markdown twin, its pairing, formatting and shared cells.

Every chapter is ``notebooks/NN_name.md`` (MyST Markdown, what you edit and review)
paired by jupytext with ``notebooks/NN_name.ipynb`` (what Colab, papermill and the build
run; output-free). These tests fail when the two drift apart, when a code line is not
formatted, when papermill cannot read a parameter, or when the cells every chapter
shares (the Colab badge, the derived settings, the setup) differ between chapters.
"""

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TWINS = sorted((ROOT / "notebooks").glob("*.md"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
LINE_LENGTH = 88
FORMATS = "ipynb,md:myst"


def fix_command(path):
    return f"jupytext --sync notebooks/{Path(path).stem}.md"


def cells_of(nb):
    """(type, source, metadata without ids) of every cell, as jupytext reads it."""
    return [
        (c.cell_type, c.source, {k: v for k, v in c.metadata.items() if k != "id"})
        for c in nb.cells
    ]


def code_cells(path):
    nb = json.loads(path.read_text())
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            src = cell["source"]
            yield index, "".join(src) if isinstance(src, list) else src


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def source(cell):
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


# --- 1. every chapter is a pair -------------------------------------------------------


def test_every_notebook_has_a_markdown_twin_and_both_are_in_the_toc():
    toc = set(re.findall(r"file:\s*(notebooks/\S+)", (ROOT / "_toc.yml").read_text()))
    ipynb = {p.relative_to(ROOT).with_suffix("").as_posix() for p in NOTEBOOKS}
    md = {p.relative_to(ROOT).with_suffix("").as_posix() for p in TWINS}
    assert ipynb, "no chapters found"
    assert ipynb == md, (
        f"every chapter is an .ipynb and its .md twin: only .ipynb: {sorted(ipynb - md)}, "
        f"only .md: {sorted(md - ipynb)} (create the twin with "
        f"`jupytext --set-formats {FORMATS} notebooks/NN_name.ipynb`)"
    )
    assert ipynb == toc, (
        f"_toc.yml lists {sorted(toc)}, the chapters are {sorted(ipynb)}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_pairing_is_declared_in_both_files(path):
    nb = jupytext.read(path)
    md = jupytext.read(path.with_suffix(".md"))
    assert nb.metadata.get("jupytext", {}).get("formats") == FORMATS, (
        f"{path.name}: pair it with `jupytext --set-formats {FORMATS} {path.name}`"
    )
    assert md.metadata.get("jupytext", {}).get("formats") == FORMATS, (
        f"{path.with_suffix('.md').name}: the header must say formats: {FORMATS}"
    )


# --- 2. the pair is in sync -----------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_twin_matches_the_notebook(path):
    nb = cells_of(jupytext.read(path))
    md = cells_of(jupytext.read(path.with_suffix(".md")))
    fix = f"Run: {fix_command(path)}"
    assert len(nb) == len(md), (
        f"{path.stem}: the .ipynb has {len(nb)} cells, the .md {len(md)}. {fix}"
    )
    for index, (a, b) in enumerate(zip(nb, md)):
        assert a[0] == b[0], f"{path.stem}, cell {index}: {a[0]} vs {b[0]}. {fix}"
        assert a[1] == b[1], f"{path.stem}, cell {index}: the sources differ. {fix}"
        assert a[2].get("tags", []) == b[2].get("tags", []), (
            f"{path.stem}, cell {index}: tags {a[2].get('tags')} vs {b[2].get('tags')}. {fix}"
        )
        assert a[2] == b[2], f"{path.stem}, cell {index}: cell metadata differs. {fix}"
    assert jupytext.read(path).metadata.get("kernelspec") == (
        jupytext.read(path.with_suffix(".md")).metadata.get("kernelspec")
    ), f"{path.stem}: kernelspecs differ. {fix}"


# --- 3. the round trip keeps tags, cell metadata and the kernelspec -------------------


def _tagged(nb):
    return [(i, c.metadata.get("tags")) for i, c in enumerate(nb.cells) if c.metadata]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_round_trip_keeps_tags_metadata_and_kernelspec(path, tmp_path):
    original = jupytext.read(path)
    assert any("parameters" in (c.metadata.get("tags") or []) for c in original.cells)
    # .md -> .ipynb, as a fresh checkout without the .ipynb would rebuild it
    from_md = tmp_path / "from_md.ipynb"
    jupytext.write(jupytext.read(path.with_suffix(".md")), from_md)
    rebuilt = json.loads(from_md.read_text())
    assert rebuilt["metadata"]["kernelspec"] == original.metadata["kernelspec"]
    assert [c["metadata"] for c in rebuilt["cells"]] == [
        {k: v for k, v in c.metadata.items() if k != "id"} for c in original.cells
    ]
    # .ipynb -> .md -> .ipynb
    md = tmp_path / "twin.md"
    jupytext.write(original, md, fmt="md:myst")
    back = jupytext.read(md)
    assert cells_of(back) == cells_of(original)
    assert _tagged(back) == _tagged(original)
    assert back.metadata["kernelspec"] == original.metadata["kernelspec"]


# --- 4. formatted code ----------------------------------------------------------------


def _ruff():
    next_to_python = Path(sys.executable).with_name("ruff")
    if next_to_python.exists():
        return [str(next_to_python)]
    probe = [sys.executable, "-m", "ruff", "--version"]
    if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return [sys.executable, "-m", "ruff"]
    if shutil.which("ruff"):
        return [shutil.which("ruff")]
    pytest.fail("ruff is not installed (pip install -r requirements.txt)")


def test_notebooks_are_ruff_formatted():
    cmd = _ruff() + ["format", "--check", "--line-length", str(LINE_LENGTH)]
    result = subprocess.run(
        cmd + [str(p) for p in NOTEBOOKS],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if result.returncode:
        pytest.fail(
            "ruff would reformat: run `ruff format notebooks/*.ipynb`, then "
            "`jupytext --sync notebooks/*.md`\n" + result.stdout + result.stderr
        )


def test_python_sources_are_ruff_formatted():
    """The package, its tests, benchmarks and tools follow the same formatter."""
    cmd = _ruff() + ["format", "--check", "lrbook", "tests", "benchmarks", "tools"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if result.returncode:
        pytest.fail(
            "ruff would reformat: run `ruff format lrbook tests benchmarks tools`\n"
            + result.stdout
            + result.stderr
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_code_line_longer_than_the_limit(path):
    long = [
        f"cell {index}, line {n}: {len(line)} characters"
        for index, src in code_cells(path)
        for n, line in enumerate(src.splitlines(), start=1)
        if len(line) > LINE_LENGTH
    ]
    assert not long, f"{path.name}: code lines over {LINE_LENGTH} characters: {long}"


# --- 5. papermill reads every parameter -----------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_sees_every_parameter_with_its_default(path):
    import papermill  # in requirements.txt and the `book` extra: missing is a failure

    [params] = [
        c for c in json.loads(path.read_text())["cells"] if "parameters" in tags(c)
    ]
    assigned = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(source(params)).body
    }
    seen = papermill.inspect_notebook(str(path))
    assert list(seen) == list(assigned), (
        f"{path.name}: papermill --help-notebook lists {list(seen)}, the parameters cell "
        f"assigns {list(assigned)} (papermill skips a line with a second '=', e.g. in its "
        "comment)"
    )
    for name, value in assigned.items():
        assert ast.literal_eval(seen[name]["default"]) == value, (name, seen[name])


# --- 6. the cells every chapter shares ------------------------------------------------

# The setup cell is the same in every chapter up to and including this line; a chapter
# may add its own imports after it.
SETUP_END = 'pd.set_option("display.precision", 4)'
# Declared exceptions inside the shared block, as (text in the chapter, text in the
# shared block). Chapter 8 must split the CPU into logical devices before lrbook.setup
# touches TensorFlow, and passes its mixed_precision parameter on.
SETUP_EXCEPTIONS = {
    "08_scaling_out": [
        (
            (
                "import lrbook\n"
                "from lrbook import cluster, distributed\n\n"
                "# Split the CPU into logical devices for MirroredStrategy: this must "
                "happen before\n# TensorFlow creates its first tensor, so it comes first.\n"
                "DEVICES = distributed.configure_cpu_devices(max(replica_counts))\n\n"
                "info = lrbook.setup(profile, seed=0, mixed_precision=mixed_precision)\n"
            ),
            "import lrbook\n\ninfo = lrbook.setup(profile, seed=0)\n",
        ),
    ],
}


def _shared_cells(path):
    """Sources of the badge, overview, parameters, derived-settings and setup cells."""
    cells = json.loads(path.read_text())["cells"]
    return [source(c) for c in cells[1:6]]


def _setup_block(path):
    setup = _shared_cells(path)[4]
    for own, shared in SETUP_EXCEPTIONS.get(path.stem, []):
        assert setup.count(own) == 1, (
            f"{path.name}: declared setup text not found: {own!r}"
        )
        setup = setup.replace(own, shared)
    lines = setup.splitlines()
    assert SETUP_END in lines, f"{path.name}: the setup cell must contain {SETUP_END!r}"
    return lines[: lines.index(SETUP_END) + 1]


def _derived_block(path):
    derived = _shared_cells(path)[3].splitlines()
    assert "if QUICK:" in derived, (
        f"{path.name}: the derived-settings cell needs `if QUICK:`"
    )
    end = derived.index("if QUICK:")
    tail = derived[end + 1 :]
    assert tail and all(line.startswith("    ") or not line for line in tail), (
        f"{path.name}: after `if QUICK:` only the quick profile's (indented) settings"
    )
    return derived[: end + 1]


def test_shared_cells_are_the_same_in_every_chapter():
    first = NOTEBOOKS[0]
    setup, derived = _setup_block(first), _derived_block(first)
    params_head = _shared_cells(first)[2].splitlines()[:2]
    for path in NOTEBOOKS:
        assert _setup_block(path) == setup, (
            f"{path.name}: the setup cell differs from {first.name}'s before its own "
            f"tail (declare a chapter's exception in SETUP_EXCEPTIONS)"
        )
        assert _derived_block(path) == derived, (
            f"{path.name}: the derived-settings cell must start as {first.name}'s does"
        )
        assert _shared_cells(path)[2].splitlines()[:2] == params_head, (
            f"{path.name}: the parameters cell must open with the comment and the "
            "`profile` line every chapter shares"
        )
    assert any("lrbook.setup(" in line for line in setup)
    assert any("LRBOOK_PROFILE" in line for line in derived)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_badge_is_exactly_the_template(path):
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    branch = CONFIG["repository"]["branch"]
    expected = (
        "[![Open in Colab](../book/_static/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{repo}/blob/{branch}/"
        f"notebooks/{path.name})"
    )
    assert _shared_cells(path)[0] == expected
