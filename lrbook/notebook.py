"""Gluing computed values into the book's prose.

:func:`glue` wraps ``myst_nb.glue`` so that every number the text quotes comes
from the computation. It also works where myst-nb is not installed (Colab, a
plain Jupyter): the value is kept in :data:`GLUED` and nothing breaks.
"""

from __future__ import annotations

__all__ = ["GLUED", "Text", "glue", "glue_summary"]

#: Everything glued in this kernel, by name (for tests and the results page).
GLUED: dict = {}


class Text(str):
    """A string whose plain-text representation has no quotes.

    ``{glue:text}`` renders an object's ``text/plain`` representation, which
    for a ``str`` is its ``repr`` (quoted). Gluing ``Text(s)`` shows ``s``.
    """

    def __repr__(self) -> str:
        return str(self)


def glue(name: str, value, *, display: bool = False):
    """Glue ``value`` under ``name`` for ``{glue:text}`name`` in the prose.

    Strings are glued as :class:`Text` (rendered without quotes); NumPy
    scalars become Python numbers so that format specs such as
    ``{glue:text}`acc:.3f``` work.

    Returns:
        The value glued.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"Argument `name` must be a non-empty string. Received: name={name!r}")
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
    """
    mean, std = summary.mean * scale, summary.std * scale
    glue(prefix, f"{mean:.{digits}f} ± {std:.{digits}f}")
    glue(f"{prefix}_mean", float(mean))
    glue(f"{prefix}_std", float(std))
    glue(f"{prefix}_n", int(summary.n))
    return summary
