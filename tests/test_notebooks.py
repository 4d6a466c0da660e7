"""The book's notebook conventions (see STYLE.md), checked on every chapter."""

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def load(path):
    return json.loads(path.read_text())


def source(cell):
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def test_there_are_chapters():
    assert NOTEBOOKS


def test_toc_lists_exactly_the_notebooks():
    toc = (ROOT / "_toc.yml").read_text()
    listed = set(re.findall(r"file:\s*(notebooks/\S+)", toc))
    assert listed == {p.relative_to(ROOT).with_suffix("").as_posix() for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    for cell in load(path)["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: a code cell has outputs"
            assert cell.get("execution_count") is None, f"{path.name}: a code cell has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cell_order_and_colab_badge(path):
    cells = load(path)["cells"]
    title, badge, overview, params, derived, setup = cells[:6]
    assert title["cell_type"] == "markdown" and source(title).startswith("# ")
    h1 = [line for c in cells if c["cell_type"] == "markdown" for line in source(c).splitlines()
          if line.startswith("# ")]
    assert len(h1) == 1, f"{path.name}: one H1 title, found {h1}"
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    url = (f"https://colab.research.google.com/github/{repo}/blob/{CONFIG['repository']['branch']}/"
           f"notebooks/{path.name}")
    assert f"]({url})" in source(badge), f"{path.name}: Colab badge must link to {url}"
    assert "colab-badge.svg" in source(badge)
    assert source(overview).startswith("## Overview") and "Run time" in source(overview)
    assert params["cell_type"] == "code" and tags(params) == ["parameters"]
    assert "LRBOOK_PROFILE" in source(derived) and "QUICK" in source(derived)
    assert "lrbook.setup(" in source(setup) and "hide-output" in tags(setup)
    assert "google.colab" in source(setup)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_holds_literals_only(path):
    params = load(path)["cells"][3]
    tree = ast.parse(source(params))
    names = []
    for node in tree.body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, ast.dump(node)
        ast.literal_eval(node.value)  # raises for anything but a literal
        names.append(node.targets[0].id)
    assert "profile" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_errors_allowed_and_bibliography_where_cited(path):
    nb = load(path)
    for cell in nb["cells"]:
        assert "raises-exception" not in tags(cell)
    assert "allow_errors" not in json.dumps(nb.get("metadata", {}))
    text = "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    # Chapters cite with footcite (page-local) so the global bibliography page has no duplicates.
    assert "{cite" not in text, f"{path.name}: use {{footcite:p}} in chapters, not {{cite}}"
    if "{footcite" in text:
        assert "```{footbibliography}" in text, f"{path.name} cites but has no bibliography"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_glued_reference_is_glued(path):
    cells = load(path)["cells"]
    prose = "\n".join(source(c) for c in cells if c["cell_type"] == "markdown")
    code = "\n".join(source(c) for c in cells if c["cell_type"] == "code")
    referenced = {m.split(":")[0] for m in re.findall(r"\{glue:(?:text|md|figure|math|any)\}`([^`]+)`", prose)}
    literal = set(re.findall(r"glue(?:_summary)?\(\s*\"([^\"{]+)\"", code))
    patterns = [re.compile("^" + re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(p)) + "$")
                for p in re.findall(r"glue(?:_summary)?\(\s*f\"([^\"]+)\"", code)]
    summaries = re.findall(r"glue_summary\(\s*\"([^\"]+)\"", code)
    literal |= {f"{s}_{k}" for s in summaries for k in ("mean", "std", "n")}
    missing = [r for r in referenced if r not in literal and not any(p.match(r) for p in patterns)]
    assert not missing, f"{path.name}: prose references names never glued: {missing}"


def test_bibliography_parses_and_holds_every_cited_key():
    from pybtex.database import parse_file

    keys = set(parse_file(str(ROOT / "book" / "references.bib"), bib_format="bibtex").entries)
    cited = set()
    for path in NOTEBOOKS:
        text = "\n".join(source(c) for c in load(path)["cells"] if c["cell_type"] == "markdown")
        for group in re.findall(r"\{footcite(?::[pt])?\}`([^`]+)`", text):
            cited |= {k.strip() for k in group.split(",")}
    for page in (ROOT / "book").glob("*.md"):
        for group in re.findall(r"\{cite(?::[pt])?\}`([^`]+)`", page.read_text()):
            cited |= {k.strip() for k in group.split(",")}
    assert cited and not cited - keys, f"cited but not in references.bib: {sorted(cited - keys)}"
