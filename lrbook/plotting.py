"""Plots of experiment tables. Functions take results, never train, and
return the ``Axes`` they drew on (pass ``ax=`` to draw into your own figure).
"""

from __future__ import annotations

import numpy as np

__all__ = ["book_style", "plot_curves", "plot_summary_bars"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_curves(
    df,
    metric: str = "test_accuracy",
    *,
    x: str = "epoch",
    by: str = "arm",
    ax=None,
    band: str = "std",
    ylabel: str | None = None,
    logy: bool = False,
    arms=None,
):
    """Mean of ``metric`` against ``x`` per group, with a shaded spread over seeds.

    Args:
        df: a table from :func:`lrbook.training.run_experiment`.
        metric: the column on the y axis.
        x: the column on the x axis (``"epoch"`` or ``"time"``).
        by: the column that names the curves.
        ax: Axes to draw on (default: a new figure).
        band: ``"std"`` (mean ± one standard deviation), ``"minmax"`` or ``None``.
        ylabel: y-axis label (default: the metric's name).
        logy: log-scale y axis.
        arms: the groups to draw, in order (default: all, in order of appearance).

    Returns:
        The Axes.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({   # as lrbook.training.run_experiment returns it
        ...     "arm": ["sgd"] * 4 + ["adam"] * 4, "seed": [0, 0, 1, 1] * 2, "epoch": [1, 2] * 4,
        ...     "time": [1.0, 2.0, 1.1, 2.1] * 2, "loss": [1.0, 0.5, 1.1, 0.6, 0.9, 0.4, 0.8, 0.5],
        ...     "test_accuracy": [0.60, 0.80, 0.62, 0.79, 0.70, 0.85, 0.68, 0.86]})
        >>> ax = plot_curves(df, "test_accuracy")
        >>> ax.get_xlabel(), ax.get_ylabel(), [line.get_label() for line in ax.get_lines()]
        ('epoch', 'test accuracy', ['sgd', 'adam'])
        >>> ax = plot_curves(df, "loss", x="time", logy=True)      # against wall time
        >>> ax.get_xlabel(), ax.get_yscale()
        ('training time (s)', 'log')
    """
    if metric not in df:
        raise ValueError(
            f"Argument `metric` must be a column of the table. Received: metric={metric!r}"
        )
    if band not in ("std", "minmax", None):
        raise ValueError(
            f"Argument `band` must be 'std', 'minmax' or None. Received: band={band!r}"
        )
    ax = _axes(ax)
    for name in arms if arms is not None else list(dict.fromkeys(df[by])):
        g = df[df[by] == name].groupby(x)[metric]
        mean = g.mean()
        (line,) = ax.plot(mean.index, mean.values, label=str(name), lw=1.6)
        n = int(g.count().max())
        if band == "std" and n > 1:
            std = g.std().fillna(0.0)
            ax.fill_between(
                mean.index,
                mean - std,
                mean + std,
                color=line.get_color(),
                alpha=0.18,
                lw=0,
            )
        elif band == "minmax" and n > 1:
            ax.fill_between(
                mean.index, g.min(), g.max(), color=line.get_color(), alpha=0.18, lw=0
            )
    ax.set_xlabel({"epoch": "epoch", "time": "training time (s)"}.get(x, x))
    if x == "epoch":
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel or metric.replace("_", " "))
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_summary_bars(table, *, ax=None, ylabel: str = "", sort: bool = False):
    """Bars of ``mean`` with ``std`` error bars, one per row of a :func:`lrbook.training.compare` table.

    Example:
        >>> import pandas as pd
        >>> from lrbook.training import compare
        >>> df = pd.DataFrame({   # as lrbook.training.run_experiment returns it
        ...     "arm": ["sgd"] * 2 + ["adam"] * 2, "seed": [0, 1] * 2, "epoch": 1, "time": 1.0,
        ...     "test_accuracy": [0.80, 0.79, 0.85, 0.86]})
        >>> ax = plot_summary_bars(compare(df, "test_accuracy"), ylabel="test accuracy")
        >>> [label.get_text() for label in ax.get_xticklabels()], len(ax.patches)
        (['sgd', 'adam'], 2)
    """
    ax = _axes(ax)
    t = table.sort_values("mean") if sort else table
    pos = np.arange(len(t))
    ax.bar(pos, t["mean"], yerr=t["std"].fillna(0.0), capsize=3, color="C0", alpha=0.8)
    ax.set_xticks(pos, [str(i) for i in t.index], rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    return ax


def book_style() -> None:
    """The book's matplotlib defaults: readable sizes, light grid, no top/right spines.

    Example:
        >>> book_style()  # once, in a chapter's setup cell
    """
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 110,
            "figure.figsize": (6.4, 4.0),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": "medium",
            "legend.frameon": False,
        }
    )
