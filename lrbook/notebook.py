"""Gluing computed values into the book's prose.

:func:`glue` wraps ``myst_nb.glue`` so that every number the text quotes comes
from the computation. It also works where myst-nb is not installed (Colab, a
plain Jupyter): the value is kept in :data:`GLUED` and nothing breaks.
"""

from __future__ import annotations

import ast
import json

from lrbook._validation import check

__all__ = [
    "GLUED",
    "HEADLINES",
    "HEADLINES_NAME",
    "Text",
    "glue",
    "glue_headlines",
    "glue_summary",
    "headline",
    "read_glued",
]

#: Everything glued in this kernel, by name (for tests and the results page).
GLUED: dict = {}
#: The chapter's headline results, in order (see :func:`headline`).
HEADLINES: list = []
#: The glue name under which :func:`glue_headlines` stores the chapter's headlines.
HEADLINES_NAME = "lrbook_headlines"


def _literal(text: str):
    """``ast.literal_eval(text)``, or ``text`` itself where it is no Python literal."""
    try:
        return ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        return text


class Text(str):
    """A string whose plain-text representation has no quotes, and renders as itself.

    ``{glue:text}`` renders an object's ``text/plain`` representation, which
    for a ``str`` is its ``repr`` (quoted). Gluing ``Text(s)`` shows ``s``.
    myst-nb passes that representation through ``ast.literal_eval`` before it
    shows it, so text that happens to be a Python literal of another form
    (``"1, 2"`` is a tuple and would show as ``(1, 2)``) keeps its quotes in the
    representation, which myst-nb then strips: the page shows ``s`` either way.

    Example:
        >>> repr(Text("0.91 ± 0.01")), repr(Text("1, 2"))
        ('0.91 ± 0.01', "'1, 2'")
    """

    def __repr__(self) -> str:
        text = str(self)
        return text if str(_literal(text)) == text else repr(text)


def glue(name: str, value, *, display: bool = False):
    """Glue ``value`` under ``name`` for ``{glue:text}`name`` in the prose.

    Strings are glued as :class:`Text` (rendered without quotes); NumPy
    scalars become Python numbers so that format specs such as
    ``{glue:text}`acc:.3f``` work.

    Returns:
        The value glued.

    Example:
        >>> glue("acc_adam", 0.9123)        # prose: {glue:text}`acc_adam:.3f`
        0.9123
    """
    check("name", name, isinstance(name, str) and bool(name), "a non-empty string")
    if isinstance(value, str) and not isinstance(value, Text):
        value = Text(value)
    elif hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    GLUED[name] = value
    try:
        from myst_nb import glue as _myst_glue
    except ImportError:  # Colab or plain Jupyter: keep the value, show it if asked.
        if display:
            print(f"{name} = {value!r}")
        return value
    _myst_glue(name, value, display=display)
    return value


def glue_summary(prefix: str, summary, *, digits: int = 3, scale: float = 1.0):
    """Glue a :class:`lrbook.stats.Summary` as ``prefix`` (text "m ± s"),
    ``prefix_mean``, ``prefix_std`` and ``prefix_n``.

    ``scale`` multiplies mean and std (``100`` for percentages).

    Example:
        >>> from lrbook.stats import summarize
        >>> _ = glue_summary("acc", summarize([0.90, 0.92]), scale=100, digits=1)
        >>> GLUED["acc"], GLUED["acc_n"]   # a Text shows without quotes, as the glued prose will
        (91.0 ± 1.4, 2)
    """
    mean, std = summary.mean * scale, summary.std * scale
    glue(prefix, f"{mean:.{digits}f} ± {std:.{digits}f}")
    glue(f"{prefix}_mean", float(mean))
    glue(f"{prefix}_std", float(std))
    glue(f"{prefix}_n", int(summary.n))
    return summary


def headline(label: str, value: str, *, n: int | None = None, note: str = "") -> None:
    """Record one headline result of the chapter for the book's "Results at a glance" page.

    Args:
        label: what was measured, e.g. ``"Best tuned optimizer (test accuracy)"``.
        value: the result as text, e.g. ``"AdamW: 0.912 ± 0.004"``; compute it, never type it.
        n: the number of seeds behind it.
        note: the setting, e.g. ``"MNIST-1D, cnn1d, 15 epochs"``.

    Example:
        >>> from lrbook.stats import summarize
        >>> s = summarize([0.912, 0.905, 0.918])   # the test accuracies of the best arm's seeds
        >>> headline("Best optimizer (test accuracy)", f"Adam: {s.mean:.3f} ± {s.std:.3f}", n=s.n)
        >>> HEADLINES[-1]["value"], HEADLINES[-1]["n"]
        ('Adam: 0.912 ± 0.007', 3)
    """
    check("label", label, bool(label), "a non-empty string")
    HEADLINES.append(
        {"label": str(label), "value": str(value), "n": n, "note": str(note)}
    )


def glue_headlines() -> list:
    """Glue the recorded headlines (as JSON) under :data:`HEADLINES_NAME`; call once, at the end.

    Example:
        >>> _ = glue_headlines()  # last cell of a chapter; the build reads it for the results page
    """
    glue(HEADLINES_NAME, Text(json.dumps(HEADLINES)))
    return list(HEADLINES)


def read_glued(path) -> dict:
    """The values glued in an executed notebook, by name, as their plain-text representation.

    Example:
        >>> read_glued("_build/executed/full/notebooks/01_training_basics.ipynb")["opt_top"]  # doctest: +SKIP
        'SGD+momentum'
    """
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    out = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            key = meta.get("mime_prefix", "") + "text/plain"
            text = output.get("data", {}).get(key)
            if text is not None:
                text = "".join(text) if isinstance(text, list) else text
                # A Text that is a literal of another form is stored quoted (see Text): unquote it.
                value = (
                    _literal(text) if text[:1] in "'\"" and text[-1:] in "'\"" else None
                )
                out[meta["name"]] = value if isinstance(value, str) else text
    return out
