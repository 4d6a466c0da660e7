"""Sphinx extension: render Markdown code fences in docstrings as code blocks.

lrbook's docstrings follow Keras's style, which writes formulas as small Python
functions inside ```python fences. reStructuredText has no fences, so this turns
each fenced block into a ``.. code-block::`` directive before napoleon and autodoc
read the docstring.
"""

import re

_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")


def fences_to_code_blocks(lines: list[str]) -> list[str]:
    """Rewrite ```lang ... ``` blocks of a docstring (list of lines) as RST code blocks."""
    out, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent, lang = m.group(1), m.group(2) or "text"
        body, i = [], i + 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i])
            i += 1
        i += 1  # closing fence
        if out and out[-1].strip():
            out.append("")
        out.append(f"{indent}.. code-block:: {lang}")
        out.append("")
        out += [f"{indent}   {line[len(indent):] if line.startswith(indent) else line}" if line.strip() else ""
                for line in body]
        out.append("")
    return out


def _process(app, what, name, obj, options, lines):
    lines[:] = fences_to_code_blocks(lines)


def setup(app):
    app.connect("autodoc-process-docstring", _process, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
