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


def test_no_module_words_an_argument_error_itself():
    """Every "Received:" message is built by lrbook._validation (issue 22)."""
    inline = [
        f"{path.name}:{number}"
        for path in sorted(PACKAGE.glob("*.py"))
        if path.name != "_validation.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "Received:" in line or "raise ValueError(" in line
    ]
    allowed = {"lr_finder.py", "pruning.py"}  # model-state errors, not arguments
    assert [site for site in inline if site.split(":")[0] not in allowed] == []


def test_fail_shows_the_other_arguments_it_compared():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Argument `start_lr` must be < `end_lr`. Received: start_lr=2, end_lr=1"
        ),
    ):
        start_lr, end_lr = 2, 1
        v.check("start_lr", start_lr, start_lr < end_lr, "< `end_lr`", end_lr=end_lr)


def test_shown_describes_a_value_instead_of_its_repr():
    with pytest.raises(ValueError, match=re.escape("Received: x=<5 samples>")):
        v.fail("x", v.shown("<5 samples>"), "as long as `y`")


def test_fail_env_names_the_variable():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Environment variable `LRBOOK_PROFILE` must be one of ('quick', 'full'). "
            "Received: LRBOOK_PROFILE='fast'"
        ),
    ):
        v.fail_env("LRBOOK_PROFILE", "fast", "one of ('quick', 'full')")


def test_fraction_lower_open():
    assert v.fraction("c", 0.95, lower_open=True) == 0.95
    with pytest.raises(ValueError, match=_message("c", 0, "a number in (0, 1)")):
        v.fraction("c", 0, lower_open=True)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: __import__("lrbook.stats").stats.paired_comparison(
                [1, 2], [1, 3], confidence=0
            ),
            "Argument `confidence` must be a number in (0, 1). Received: confidence=0",
        ),
        (
            lambda: __import__("lrbook.tuning").tuning._settings({"lr": []}),
            (
                "Argument `grid['lr']` must be a non-empty list of values. "
                "Received: grid['lr']=[]"
            ),
        ),
        (
            lambda: __import__("lrbook.lr_rules").lr_rules.minimum([1.0, 2.0], [1.0]),
            (
                "Argument `lrs` must be as long as `losses`. "
                "Received: lrs=<2 values>, losses=<1 values>"
            ),
        ),
        (
            lambda: __import__("lrbook.pruning").pruning.polynomial_sparsity(
                0, begin_step=5, end_step=5
            ),
            (
                "Argument `end_step` must be an integer > `begin_step`. "
                "Received: end_step=5, begin_step=5"
            ),
        ),
    ],
)
def test_modules_word_their_errors_through_validation(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
