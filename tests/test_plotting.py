"""lrbook.plotting: each function draws what it is given on the Axes it returns."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from lrbook import plotting


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def descent(lr, lam, w0, n_steps):
    """NumPy gradient descent on 0.5 * sum(lam * w**2) (the reference)."""
    w = [np.asarray(w0, dtype=float)]
    for _ in range(n_steps):
        w.append(w[-1] - lr * lam * w[-1])
    return np.array(w)


def test_plot_descent_paths_draws_each_path_over_contours_on_the_given_axes():
    lam = np.array([1.0, 10.0])
    paths = {
        "slow": descent(0.02, lam, [-9.0, 2.0], 10),
        "fast": descent(0.09, lam, [-9.0, 2.0], 10),
    }
    _, ax = plt.subplots()
    out = plotting.plot_descent_paths(paths, lam, ax=ax)
    assert out is ax
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["slow", "fast"]
    for line, path in zip(lines, paths.values()):
        np.testing.assert_array_equal(line.get_xdata(), path[:, 0])
        np.testing.assert_array_equal(line.get_ydata(), path[:, 1])
    assert ax.collections, "no contour lines drawn"
    assert ax.get_xlim() == (-10.0, 10.0) and ax.get_ylim() == (-4.0, 4.0)
    assert ax.get_xlabel() == "$w_1$ (λ = 1)" and ax.get_ylabel() == "$w_2$ (λ = 10)"


def test_plot_descent_paths_makes_a_figure_without_ax():
    ax = plotting.plot_descent_paths({"a": np.zeros((3, 2))}, [2.0, 3.0], xlim=(-1, 1))
    assert ax.figure is not None and ax.get_xlim() == (-1.0, 1.0)


def test_plot_descent_paths_needs_two_eigenvalues():
    with pytest.raises(ValueError, match=r"must be two eigenvalues. Received: lam="):
        plotting.plot_descent_paths({}, [1.0, 2.0, 3.0])


def test_plot_lr_sweep_draws_one_line_per_group_sorted_by_learning_rate():
    sweep = pd.DataFrame(
        {
            "optimizer": ["SGD", "Adam", "SGD", "Adam"],
            "lr": [1.0, 1e-3, 0.1, 1e-2],
            "mean": [0.2, 0.6, 0.7, 0.75],
        }
    )
    _, ax = plt.subplots()
    assert plotting.plot_lr_sweep(sweep, ax=ax, ylabel="val acc") is ax
    sgd, adam = ax.get_lines()
    assert (sgd.get_label(), adam.get_label()) == ("SGD", "Adam")
    np.testing.assert_array_equal(sgd.get_xdata(), [0.1, 1.0])
    np.testing.assert_array_equal(sgd.get_ydata(), [0.7, 0.2])
    np.testing.assert_array_equal(adam.get_xdata(), [1e-3, 1e-2])
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "val acc"
    assert ax.get_xlabel() == "learning rate η"


def test_plot_lr_sweep_names_a_missing_column():
    with pytest.raises(
        ValueError,
        match=r"must be a table with a column 'lr'. Received: table=<a table with columns",
    ):
        plotting.plot_lr_sweep(pd.DataFrame({"optimizer": ["a"], "mean": [1.0]}))


def test_mark_level_draws_a_labelled_line_and_cuts_the_axis():
    _, ax = plt.subplots()
    ax.plot([0, 1], [0.5, 40.0])
    assert plotting.mark_level(ax, np.log(10), "chance", ymax=3.0) is ax
    assert ax.get_ylim() == (0.0, 3.0)
    (line,) = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    np.testing.assert_allclose(line.get_ydata(), [np.log(10)] * 2)
    assert [t.get_text() for t in ax.texts] == ["chance"]


def test_mark_level_leaves_the_axis_alone_without_ymax():
    _, ax = plt.subplots()
    ax.plot([0, 1], [0.0, 10.0])
    before = ax.get_ylim()
    plotting.mark_level(ax, 1.0, "one")
    assert ax.get_ylim() == before
