"""Plots of experiment tables. Functions take results, never train, and
return the ``Axes`` they drew on (pass ``ax=`` to draw into your own figure).
"""

from __future__ import annotations

import numpy as np

from lrbook._validation import check, shown

__all__ = [
    "book_style",
    "mark_level",
    "plot_curves",
    "plot_descent_paths",
    "plot_lr_sweep",
    "plot_summary_bars",
]


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
    check("metric", metric, metric in df, "a column of the table")
    check("band", band, band in ("std", "minmax", None), "'std', 'minmax' or None")
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


def plot_descent_paths(
    paths,
    lam,
    *,
    ax=None,
    xlim=(-10.0, 10.0),
    ylim=(-4.0, 4.0),
    levels: int = 12,
):
    """Iterates of gradient descent on ``f(w) = 0.5 * (lam[0] * w1**2 + lam[1] * w2**2)``.

    Draws the contour lines of the two-dimensional quadratic and, over them, each path
    of iterates as dots joined by lines (chapter 1, the learning rate on a problem
    solved by hand).

    Args:
        paths: ``{label: iterates}``, each an array of shape ``(steps + 1, 2)``, as
            returned by a loop of ``w <- w - lr * lam * w``. Cut a diverging path short
            before passing it, or it leaves the axes.
        lam: the two eigenvalues ``(lambda_1, lambda_2)`` of the quadratic.
        ax: Axes to draw on (default: a new figure).
        xlim, ylim: the window shown (the contours fill it).
        levels: number of contour lines, spaced geometrically.

    Returns:
        The Axes.

    Example:
        >>> lam = np.array([1.0, 10.0])
        >>> w = [np.array([-9.0, 2.0])]
        >>> for _ in range(20):
        ...     w.append(w[-1] - 0.15 * lam * w[-1])
        >>> ax = plot_descent_paths({"lr = 0.15": np.array(w)}, lam)
        >>> ax.get_xlabel(), ax.get_ylabel(), [l.get_label() for l in ax.get_lines()]
        ('$w_1$ (λ = 1)', '$w_2$ (λ = 10)', ['lr = 0.15'])
    """
    lam = np.asarray(lam, dtype=float)
    check("lam", lam.tolist(), lam.shape == (2,), "two eigenvalues")
    ax = _axes(ax)
    g1, g2 = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    f = 0.5 * (lam[0] * g1**2 + lam[1] * g2**2)
    top = float(f.max())
    ax.contour(g1, g2, f, levels=np.geomspace(top / 3000, top, levels), colors="0.8")
    for label, path in paths.items():
        path = np.asarray(path, dtype=float)
        ax.plot(path[:, 0], path[:, 1], "o-", ms=3, lw=1, label=str(label))
    ax.set(
        xlim=xlim,
        ylim=ylim,
        xlabel=f"$w_1$ (λ = {lam[0]:g})",
        ylabel=f"$w_2$ (λ = {lam[1]:g})",
    )
    ax.legend(fontsize="small", loc="lower right")
    return ax


def plot_lr_sweep(
    table,
    *,
    by: str = "optimizer",
    lr: str = "lr",
    score: str = "mean",
    ax=None,
    ylabel: str | None = None,
):
    """A score against the learning rate (log axis), one line per group of a sweep.

    Args:
        table: one row per (group, learning rate), e.g. a
            :func:`lrbook.training.compare` table with a group and a learning-rate
            column added.
        by: the column that names the lines.
        lr: the learning-rate column (x axis, log scale).
        score: the column on the y axis.
        ax: Axes to draw on (default: a new figure).
        ylabel: y-axis label (default: the score's name).

    Returns:
        The Axes.

    Example:
        >>> import pandas as pd
        >>> sweep = pd.DataFrame({"optimizer": ["SGD"] * 3 + ["Adam"] * 3,
        ...                       "lr": [0.01, 0.1, 1.0, 1e-4, 1e-3, 1e-2],
        ...                       "mean": [0.5, 0.7, 0.2, 0.6, 0.75, 0.7]})
        >>> ax = plot_lr_sweep(sweep, ylabel="validation accuracy")
        >>> ax.get_xscale(), ax.get_ylabel(), [l.get_label() for l in ax.get_lines()]
        ('log', 'validation accuracy', ['SGD', 'Adam'])
    """
    for column in (by, lr, score):
        check(
            "table",
            shown(f"<a table with columns {list(table.columns)}>"),
            column in table,
            f"a table with a column {column!r}",
        )
    ax = _axes(ax)
    for name in dict.fromkeys(table[by]):
        sub = table[table[by] == name].sort_values(lr)
        ax.plot(sub[lr], sub[score], "o-", label=str(name))
    ax.set(xscale="log", xlabel="learning rate η", ylabel=ylabel or score)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    return ax


def mark_level(ax, y: float, text: str, *, ymax: float | None = None):
    """A dotted horizontal line at ``y`` labelled ``text`` at the right edge of ``ax``.

    For a reference level on a curve plot, such as the chance-level loss ``ln 10`` of
    ten classes. With ``ymax``, the y axis is cut at ``ymax`` from 0, so curves that
    diverge (or turn NaN) leave the plot at the top instead of squashing the others.

    Returns:
        The Axes.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> _, ax = plt.subplots()
        >>> ax = mark_level(ax, np.log(10), "chance level: ln 10", ymax=3.0)
        >>> [float(y) for y in ax.get_ylim()], [t.get_text() for t in ax.texts]
        ([0.0, 3.0], ['chance level: ln 10'])
    """
    if ymax is not None:
        ax.set_ylim(0, ymax)
    ax.axhline(y, color="0.5", ls=":", lw=1)
    ax.text(
        0.99,
        y,
        text,
        color="0.4",
        fontsize="small",
        ha="right",
        va="bottom",
        transform=ax.get_yaxis_transform(),
    )
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
