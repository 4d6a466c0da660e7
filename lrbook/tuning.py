"""Tuning every arm with the same effort, on the validation split only.

A comparison is only as fair as its baselines: an arm tuned over five settings
and three seeds will beat one run at a default. :func:`tune` is the one helper
the book uses for every arm it compares (the method and its baselines, Adam and
the articles' schedules included), so every arm gets

* the same kind of grid, trained with :func:`lrbook.training.run_experiment`
  (every setting of a seed from the same initial weights and data order);
* the same number of **grid points × seeds** (its :attr:`TuningResult.effort`;
  :func:`check_equal_effort` compares arms);
* a choice made on the **validation** split: the test split is not evaluated
  while tuning, and asking to select on a ``test_*`` metric is a ``ValueError``.
  The test set is read once, by the final comparison.

The protocol the book follows: in the full profile, at least 2 seeds per grid
point, and the same grid points × seeds for every arm of a comparison, or a
stated reason why not (for example, an arm with no hyperparameter to tune).

Used in: every chapter that compares tuned arms, and
:func:`lrbook.superconvergence.tune_lr`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrbook._validation import check, fail, one_of, shown
from lrbook.stats import summarize

__all__ = ["TuningResult", "check_equal_effort", "tune"]

_MODES = ("auto", "max", "min")


@dataclass
class TuningResult:
    """What :func:`tune` found.

    Attributes:
        best: the chosen setting (a grid value, or a dict of parameters for a
            dict grid).
        table: one row per grid point, in grid order: the parameter column(s),
            ``mean``, ``std`` and ``n`` of the metric over the seeds at the last
            epoch, and ``rank`` (1 = chosen).
        metric: the column that decided (a validation or training column).
        mode: ``"max"`` or ``"min"``.
        seeds: the seeds of every grid point.
        runs: the whole table of :func:`lrbook.training.run_experiment`, one
            row per (grid point, seed, epoch), for the figure; its ``arm``
            column is the grid point's label.

    Example:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"mean": [0.81, 0.86], "rank": [2, 1]}, index=[0.01, 0.1])
        >>> result = TuningResult(best=0.1, table=table, metric="val_accuracy", mode="max",
        ...                       seeds=[0, 1], runs=None)   # what tune returns
        >>> result.best, result.effort    # 2 grid points x 2 seeds
        (0.1, 4)
    """

    best: Any
    table: Any
    metric: str
    mode: str
    seeds: list
    runs: Any

    @property
    def effort(self) -> int:
        """The number of training runs the choice cost (grid points × seeds)."""
        return len(self.table) * len(self.seeds)

    def __repr__(self) -> str:
        return (
            f"TuningResult(best={self.best!r}, metric={self.metric!r}, "
            f"grid_points={len(self.table)}, seeds={self.seeds})"
        )


def _settings(grid):
    """The grid as a list of settings and their labels."""
    if isinstance(grid, Mapping):
        check("grid", grid, bool(grid), "a mapping that names at least one parameter")
        names = list(grid)
        for name in names:
            values = grid[name]
            if (
                isinstance(values, (str, bytes))
                or not hasattr(values, "__iter__")
                or len(list(values)) == 0
            ):
                fail(f"grid[{name!r}]", values, "a non-empty list of values")
        settings = [
            dict(zip(names, combo))
            for combo in itertools.product(*(list(grid[n]) for n in names))
        ]
        labels = [
            ", ".join(
                f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in s.items()
            )
            for s in settings
        ]
        return settings, labels, names
    settings = list(grid)
    check("grid", grid, bool(settings), "a sequence of at least one setting")
    labels = [f"{s:g}" if isinstance(s, float) else str(s) for s in settings]
    check("grid", settings, len(set(labels)) == len(labels), "settings without repeats")
    return settings, labels, None


def _check_metric(metric: str, data, mode: str) -> str:
    check("metric", metric, isinstance(metric, str) and bool(metric), "a column name")
    check(
        "metric",
        metric,
        not metric.startswith("test_"),
        "a column not computed on the test split: selecting on it would make the "
        "final comparison read the test set twice. Select on a validation column "
        "(e.g. 'val_accuracy')",
    )
    check(
        "data",
        data,
        not metric.startswith("val_")
        or getattr(data, "validation_data", None) is not None,
        f"a data set with a validation split to select on {metric!r}",
    )
    one_of("mode", mode, _MODES)
    if mode == "auto":
        return "min" if "loss" in metric else "max"
    return mode


def tune(
    build_model: Callable,
    make_arm: Callable,
    grid,
    data,
    *,
    seeds,
    epochs: int,
    batch_size: int = 64,
    metric: str = "val_accuracy",
    mode: str = "auto",
    progress: bool = False,
) -> TuningResult:
    """Train ``make_arm(setting)`` for every grid point and seed; choose by the mean validation metric.

    Every grid point of a seed starts from the same initial weights and data
    order (:func:`lrbook.training.run_experiment`), so the points differ only
    in their setting. The choice is the point with the best mean of
    ``metric`` over the seeds at the last epoch (the first in grid order on a
    tie); a point whose runs all diverged (NaN) is never chosen. The test
    split is not evaluated.

    Args:
        build_model: the model builder of the comparison.
        make_arm: ``make_arm(setting) -> Arm`` for a list grid, or
            ``make_arm(**setting) -> Arm`` for a dict grid. The arm's own
            ``epochs`` is replaced by ``epochs``.
        grid: a list of settings (e.g. learning rates), or a dict of
            parameter lists whose product is the grid
            (``{"lr": [0.01, 0.1], "weight_decay": [1e-4, 5e-4]}``).
        data: a :class:`lrbook.data.Dataset`; with a ``val_*`` metric it needs
            a validation split.
        seeds: the seeds of every grid point (at least 2 in the book's full
            profile).
        epochs: the budget of every run.
        batch_size: the default batch size.
        metric: the column that decides: a ``val_*`` column (or a training
            column); never a ``test_*`` one.
        mode: ``"max"``, ``"min"``, or ``"auto"`` (``"min"`` when the metric's
            name contains ``"loss"``).
        progress: show a progress bar.

    Returns:
        A :class:`TuningResult` with the best setting, the table and the runs.

    Raises:
        ValueError: if ``metric`` is a test column, ``data`` lacks the split
            the metric needs, ``grid`` is empty or repeats a setting, ``seeds``
            is empty or ``mode`` is unknown.

    Example:
        >>> from lrbook import data, models, superconvergence as sc
        >>> ds = data.load("mnist1d", n_train=160, validation_split=0.2)   # the chapters: 4000
        >>> result = tune(lambda: models.cnn1d(filters=(8,)), sc.constant_arm, [0.01, 0.1], ds,
        ...               seeds=[0, 1], epochs=1, progress=False)
        >>> result.best in (0.01, 0.1), result.metric, result.effort
        (True, 'val_accuracy', 4)
        >>> list(result.table[["mean", "std", "n", "rank"]].columns)
        ['mean', 'std', 'n', 'rank']
    """
    import pandas as pd

    from lrbook.training import Arm, run_experiment

    mode = _check_metric(metric, data, mode)
    settings, labels, names = _settings(grid)
    seeds = list(seeds)
    check("seeds", seeds, bool(seeds), "a sequence of at least one seed")
    arms = {}
    for setting, label in zip(settings, labels):
        arm = make_arm(**setting) if names is not None else make_arm(setting)
        if not isinstance(arm, Arm):
            fail(
                f"make_arm({label})",
                arm,
                "an lrbook.training.Arm (what `make_arm` must return)",
            )
        arm.epochs = epochs
        arms[label] = arm
    runs = run_experiment(
        build_model,
        arms,
        data,
        seeds=seeds,
        epochs=epochs,
        batch_size=batch_size,
        evaluate_test=False,
        progress=progress,
    )
    check(
        "metric", metric, metric in runs, f"a column of the runs {sorted(runs.columns)}"
    )
    last = runs[runs.epoch == epochs]
    rows = []
    for setting, label in zip(settings, labels):
        s = summarize(last[last.arm == label][metric].to_numpy())
        row = dict(setting) if names is not None else {"setting": setting}
        row.update({"label": label, "mean": s.mean, "std": s.std, "n": s.n})
        rows.append(row)
    table = pd.DataFrame(rows)
    score = table["mean"].to_numpy(dtype=float)
    score = np.where(np.isfinite(score), score, -np.inf if mode == "max" else np.inf)
    order = np.argsort(-score if mode == "max" else score, kind="stable")
    table["rank"] = np.empty(len(table), dtype=int)
    table.loc[order, "rank"] = np.arange(1, len(table) + 1)
    table = table.set_index(names if names is not None else "setting")
    best = settings[int(order[0])]
    if not math.isfinite(score[order[0]]):
        fail(
            "grid",
            grid,
            f"a grid with one setting at least whose {metric!r} is finite (here every "
            "run diverged)",
        )
    return TuningResult(
        best=best, table=table, metric=metric, mode=mode, seeds=seeds, runs=runs
    )


def check_equal_effort(
    results: Mapping[str, TuningResult], *, exempt: Mapping[str, str] | None = None
) -> int:
    """Check that every arm of a comparison was tuned with the same grid points × seeds.

    Args:
        results: ``{arm name: TuningResult}``.
        exempt: ``{arm name: reason}`` for arms deliberately tuned otherwise
            (the reason is the statement the protocol asks for); they are not
            compared.

    Returns:
        The common effort.

    Raises:
        ValueError: if ``results`` is empty or the efforts differ (the message
            lists each arm's grid points × seeds).

    Example:
        >>> import pandas as pd
        >>> def result(grid, seeds):   # stands in for tune's results
        ...     return TuningResult(best=grid[0], table=pd.DataFrame(index=grid), metric="val_accuracy",
        ...                         mode="max", seeds=seeds, runs=None)
        >>> oc, const = result([0.5, 1.0, 2.0], [0, 1, 2, 3]), result([0.01, 0.03, 0.1, 0.3], [0, 1, 2])
        >>> check_equal_effort({"one-cycle": oc, "constant": const})   # 3 x 4 = 4 x 3
        12
    """
    exempt = dict(exempt or {})
    checked = {name: r for name, r in results.items() if name not in exempt}
    check(
        "results",
        shown(f"<arms {list(results)}>"),
        bool(checked),
        "a mapping with at least one arm to check (not exempt)",
    )
    efforts = {name: r.effort for name, r in checked.items()}
    if len(set(efforts.values())) > 1:
        detail = ", ".join(
            f"{n}: {len(r.table)} x {len(r.seeds)} = {r.effort}"
            for n, r in checked.items()
        )
        fail(
            "results",
            shown(f"<{detail}>"),
            "tuned with the same effort (grid points x seeds) for every arm",
        )
    return next(iter(efforts.values()))
