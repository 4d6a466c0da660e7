"""Argument checks shared by lrbook's modules: one message format, in one place.

Every check raises a ``ValueError`` worded as Keras words its own::

    Argument `name` must be <expected>. Received: name=<value!r>

and otherwise returns the value (converted where the check says so), so that
``self.x = real("x", x, low=0)`` validates and stores in one line. Pure
Python and NumPy: no TensorFlow import. Private: the public modules import
these under their own names.
"""

from __future__ import annotations

import math
import numbers
from typing import NoReturn


def fail(name: str, value, expected: str, /, **also) -> NoReturn:
    """Raise the ``ValueError`` for argument ``name``.

    ``also`` names the other arguments the requirement depends on; they are
    repeated after ``value`` so the message shows everything it compared.

    Example:
        >>> fail("epochs", 0, "an integer >= 1")
        Traceback (most recent call last):
        ...
        ValueError: Argument `epochs` must be an integer >= 1. Received: epochs=0
        >>> fail("start_lr", 2, "< `end_lr`", end_lr=1)
        Traceback (most recent call last):
        ...
        ValueError: Argument `start_lr` must be < `end_lr`. Received: start_lr=2, end_lr=1
    """
    received = ", ".join(f"{k}={v!r}" for k, v in {name: value, **also}.items())
    raise ValueError(f"Argument `{name}` must be {expected}. Received: {received}")


class shown(str):
    """Text that a message shows as it is: a ``Received:`` that describes the value.

    For values whose ``repr`` would be long or unreadable (a model, an array of
    a thousand numbers, a list of results), pass ``shown("<...>")`` instead.

    Example:
        >>> fail("x", shown("<an empty Dataset>"), "a source of at least one batch")
        Traceback (most recent call last):
        ...
        ValueError: Argument `x` must be a source of at least one batch. Received: x=<an empty Dataset>
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def fail_env(name: str, value, expected: str) -> NoReturn:
    """Raise the ``ValueError`` for environment variable ``name``, worded as :func:`fail`.

    Example:
        >>> fail_env("LRBOOK_PROFILE", "fast", "'quick' or 'full'")
        Traceback (most recent call last):
        ...
        ValueError: Environment variable `LRBOOK_PROFILE` must be 'quick' or 'full'. Received: LRBOOK_PROFILE='fast'
    """
    raise ValueError(
        f"Environment variable `{name}` must be {expected}. Received: {name}={value!r}"
    )


def check(name: str, value, ok: bool, expected: str, /, **also):
    """``value`` if ``ok``, else :func:`fail` (``also`` as there).

    Example:
        >>> check("mode", "max", "max" in ("min", "max"), "'min' or 'max'")
        'max'
    """
    if not ok:
        fail(name, value, expected, **also)
    return value


def real(name: str, value, *, low=None, high=None, low_open: bool = False):
    """``value`` checked to be a finite real number in ``[low, high]`` (``(low, high]`` if ``low_open``).

    A Python int or float is returned as given (so a ``get_config`` returns what
    the user passed); a NumPy scalar or a scalar tensor becomes a float. NaN,
    infinities, booleans, strings and ``None`` are refused.

    Example:
        >>> real("max_lr", 0.1, low=0, low_open=True)
        0.1
        >>> real("pct_start", 1.5, low=0, high=1)
        Traceback (most recent call last):
        ...
        ValueError: Argument `pct_start` must be >= 0 and <= 1. Received: pct_start=1.5
    """
    if isinstance(value, (bool, str)) or value is None:
        fail(name, value, "a real number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        fail(name, value, "a real number")
    if math.isnan(number):
        fail(name, value, "a real number")
    if math.isinf(number):
        fail(name, value, "a finite number")
    too_low = low is not None and (number <= low if low_open else number < low)
    if too_low or (high is not None and number > high):
        expected = f"{'>' if low_open else '>='} {low:g}" if low is not None else ""
        if high is not None:
            expected += f" and <= {high:g}" if expected else f"<= {high:g}"
        fail(name, value, expected)
    return value if type(value) in (int, float) else number


def integer(name: str, value, *, low: int | None = None) -> int:
    """``value`` as an ``int``, checked to be an integer (not a bool) ``>= low``.

    Example:
        >>> import numpy as np
        >>> integer("steps", np.int64(3), low=1)
        3
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or (low is not None and value < low)
    ):
        fail(name, value, "an integer" + (f" >= {low}" if low is not None else ""))
    return int(value)


def positive_int(name: str, value) -> int:
    """``value`` as an ``int``, checked to be an integer >= 1."""
    return integer(name, value, low=1)


def positive_real(name: str, value) -> float:
    """``value`` as a ``float``, checked to be a finite number > 0.

    Example:
        >>> positive_real("lr", float("inf"))
        Traceback (most recent call last):
        ...
        ValueError: Argument `lr` must be a finite number > 0. Received: lr=inf
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value > 0
        or not math.isfinite(value)
    ):
        fail(name, value, "a finite number > 0")
    return float(value)


def fraction(
    name: str, value, *, upper_open: bool = True, lower_open: bool = False
) -> float:
    """``value`` as a ``float``, checked to lie in [0, 1).

    ``upper_open=False`` allows 1, ``lower_open=True`` refuses 0.

    Example:
        >>> fraction("sparsity", 1.0, upper_open=False)
        1.0
        >>> fraction("sparsity", 1.0)
        Traceback (most recent call last):
        ...
        ValueError: Argument `sparsity` must be a number in [0, 1). Received: sparsity=1.0
        >>> fraction("confidence", 0.0, lower_open=True)
        Traceback (most recent call last):
        ...
        ValueError: Argument `confidence` must be a number in (0, 1). Received: confidence=0.0
    """
    ok = (
        isinstance(value, (numbers.Integral, numbers.Real))
        and not isinstance(value, bool)
        and (0 < value if lower_open else 0 <= value)
        and (value < 1 if upper_open else value <= 1)
    )
    if not ok:
        interval = f"{'(' if lower_open else '['}0, 1{')' if upper_open else ']'}"
        fail(name, value, f"a number in {interval}")
    return float(value)


def one_of(name: str, value, options):
    """``value`` if it is one of ``options``.

    Example:
        >>> one_of("mode", "linear", ("exponential", "linear"))
        'linear'
    """
    if value not in options:
        fail(name, value, f"one of {tuple(options)}")
    return value
