"""Tests of lrbook._validation: the argument checks every module shares, and that they are shared."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lrbook import _validation as v

PACKAGE = Path(__file__).resolve().parent.parent / "lrbook"


def _message(name, value, expected):
    return re.escape(
        f"Argument `{name}` must be {expected}. Received: {name}={value!r}"
    )


def test_fail_words_the_message_as_keras_does():
    with pytest.raises(ValueError, match=_message("epochs", 0, "an integer >= 1")):
        v.fail("epochs", 0, "an integer >= 1")


def test_check_returns_the_value_or_fails():
    assert v.check("x", 3, True, "anything") == 3
    with pytest.raises(ValueError, match=_message("x", "a", "a number")):
        v.check("x", "a", False, "a number")


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (True, {}, "a real number"),
        ("1", {}, "a real number"),
        (None, {}, "a real number"),
        (float("nan"), {}, "a real number"),
        (float("inf"), {"low": 0}, "a finite number"),
        (float("-inf"), {}, "a finite number"),
        (0.0, {"low": 0, "low_open": True}, "> 0"),
        (-1, {"low": 0}, ">= 0"),
        (2.0, {"low": 0, "high": 1}, ">= 0 and <= 1"),
        (2.0, {"high": 1}, "<= 1"),
    ],
)
def test_real_refuses(value, kwargs, expected):
    with pytest.raises(ValueError, match=_message("x", value, expected)):
        v.real("x", value, **kwargs)


def test_real_keeps_python_numbers_and_converts_numpy_scalars():
    assert v.real("x", 1) == 1 and type(v.real("x", 1)) is int
    assert v.real("x", 0.5, low=0, high=1) == 0.5
    out = v.real("x", np.float32(0.25))
    assert out == 0.25 and type(out) is float
    assert v.real("x", 0, low=0) == 0  # the closed end is allowed


def test_integer_and_positive_int():
    assert v.integer("n", np.int64(4), low=0) == 4
    assert type(v.positive_int("n", np.int32(2))) is int
    for bad in (True, 1.0, 0, -3, "2"):
        with pytest.raises(ValueError, match=_message("n", bad, "an integer >= 1")):
            v.positive_int("n", bad)
    with pytest.raises(ValueError, match=_message("n", 1.5, "an integer")):
        v.integer("n", 1.5)


def test_positive_real():
    assert v.positive_real("lr", np.float64(0.1)) == 0.1
    for bad in (0, -1.0, float("inf"), float("nan"), True, "0.1", None):
        with pytest.raises(
            ValueError, match=_message("lr", bad, "a finite number > 0")
        ):
            v.positive_real("lr", bad)


def test_fraction_names_the_interval_it_checks():
    assert v.fraction("s", 0) == 0.0 and v.fraction("s", 1, upper_open=False) == 1.0
    with pytest.raises(ValueError, match=_message("s", 1, "a number in [0, 1)")):
        v.fraction("s", 1)
    with pytest.raises(ValueError, match=_message("s", 1.5, "a number in [0, 1]")):
        v.fraction("s", 1.5, upper_open=False)
    with pytest.raises(ValueError, match=_message("s", -0.1, "a number in [0, 1)")):
        v.fraction("s", -0.1)


def test_one_of():
    assert v.one_of("mode", "min", ("min", "max")) == "min"
    with pytest.raises(
        ValueError, match=_message("mode", "mid", "one of ('min', 'max')")
    ):
        v.one_of("mode", "mid", ["min", "max"])


def test_the_message_is_built_in_one_place():
    """No module keeps its own copy of the helper that words the message."""
    pattern = re.compile(r"must be \{expected\}\. Received: \{name\}=")
    copies = [
        path.name
        for path in sorted(PACKAGE.glob("*.py"))
        if path.name != "_validation.py" and pattern.search(path.read_text())
    ]
    assert not copies, f"own copies of the argument check in: {copies}"


def test_pruning_names_its_own_arguments():
    from lrbook import pruning

    with pytest.raises(ValueError, match=r"Argument `target_sparsity` must be"):
        pruning.MagnitudePruning(target_sparsity=1.2, end_step=10)
    with pytest.raises(
        ValueError, match=r"Argument `frequency` must be an integer >= 1"
    ):
        pruning.MagnitudePruning(target_sparsity=0.5, end_step=10, frequency=0)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(v, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
