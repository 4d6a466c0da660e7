"""Tiny helper: build a notebook from a list of cells. Cells: ("md"|"code", src[, tags])."""
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def recorder():
    """``cells, md, code``: a list and two functions appending markdown / code cells (optional tags)."""
    cells = []

    def md(src, tags=()):
        cells.append(("md", src, list(tags)))

    def code(src, tags=()):
        cells.append(("code", src, list(tags)))

    return cells, md, code


def build(cells, path):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    out = []
    for c in cells:
        kind, src = c[0], c[1].strip("\n")
        tags = list(c[2]) if len(c) > 2 else []
        cell = nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        if tags:
            cell.metadata["tags"] = tags
        out.append(cell)
    nb.cells = out
    for i, cell in enumerate(nb.cells):  # stable ids, so regenerating gives small diffs
        cell.id = f"{Path(path).stem}-{i:02d}"
    nbformat.validator.normalize(nb)
    nbformat.write(nb, path)


def write(cells, name):
    """Build ``notebooks/<name>.ipynb`` from ``cells``."""
    build(cells, str(NOTEBOOKS / f"{name}.ipynb"))
    print("wrote", name)
