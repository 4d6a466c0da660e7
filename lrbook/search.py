"""One hyperparameter search space for every tuner, and the compute each search spends.

The hyperparameter-search chapter compares grid search, random search, Bayesian
optimization and Hyperband (all four from keras-tuner) at **equal compute**. For
that comparison to mean anything, every method searches the same space and every
epoch any method trains is counted. This module holds exactly that:

- :class:`Param` and :class:`SearchSpace`: the space as data (bounds, log scale,
  choices, a default), with seeded sampling, a grid of chosen resolution and the
  translation into keras-tuner hyperparameters (:meth:`SearchSpace.define`);
- :func:`build_model`: a point of the space -> the book's 1-D CNN, compiled with
  SGD + momentum; :class:`SearchHyperModel` wraps it for keras-tuner (batch size
  included, which a plain ``build(hp)`` function cannot tune);
- :func:`grid_counts`: how many values per dimension a grid of at most
  ``n_trials`` points can afford;
- :func:`hyperband_budget`: the epochs and trials keras-tuner's Hyperband spends;
- :class:`BudgetLedger`: a callback counting every epoch trained and every second
  spent in ``fit``, shared by all the trials of a search; :func:`best_so_far`
  reads the best validation accuracy found within a budget from it.

Needs keras-tuner, the ``search`` extra (``pip install 'lrbook[search]'``); without it,
``import lrbook.search`` raises an ``ImportError`` that says so.

Used in: the hyperparameter-search chapter.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from lrbook._validation import fail as _fail
from lrbook.env import import_keras

import_keras()
import keras

try:
    import keras_tuner
except ImportError as error:  # an optional dependency: the `search` extra
    raise ImportError(
        "lrbook.search needs keras-tuner, which lrbook installs only with its `search` "
        "extra: pip install 'lrbook[search]' (or pip install keras-tuner). "
        f"The import failed with: {error}"
    ) from error

__all__ = [
    "DEFAULT_SPACE",
    "BudgetLedger",
    "Param",
    "SearchHyperModel",
    "SearchSpace",
    "best_so_far",
    "build_model",
    "grid_counts",
    "hyperband_budget",
]


@dataclass(frozen=True)
class Param:
    """One dimension of a search space: a real interval (linear or log scale) or a list of choices.

    A continuous dimension samples ``low + u * (high - low)`` (or, with ``log``,
    ``exp(log(low) + u * (log(high) - log(low)))``) for ``u ~ U(0, 1)``; a grid of
    ``k`` values takes the centres of ``k`` equal bins of that (log) interval::

        def grid(low, high, k):          # log=True: the same on log(low), log(high)
            return [low + (i + 0.5) * (high - low) / k for i in range(k)]

    A categorical dimension samples a choice uniformly; its grid of ``k`` values
    takes ``k`` choices evenly spread over the list. A grid of one value is the
    ``default``.

    Example:
        >>> lr = Param("learning_rate", 1e-3, 1.0, log=True, default=0.03)
        >>> [round(v, 4) for v in lr.grid(3)]
        [0.0032, 0.0316, 0.3162]
        >>> Param("width", choices=(0.5, 1.0, 2.0), default=1.0).grid(2)
        [0.5, 2.0]

    Args:
        name: the hyperparameter's name (a key of a point of the space).
        low, high: bounds of a continuous dimension, ``low < high`` (``low > 0`` with ``log``).
        log: sample and grid on a log scale.
        choices: the values of a categorical dimension (instead of ``low``/``high``).
        default: the value used where the dimension is not searched; must lie in
            the interval or among the choices.

    Raises:
        ValueError: for an empty name, both or neither of ``choices`` and
            ``low``/``high``, ``low >= high``, ``log`` with ``low <= 0``, or a
            ``default`` outside the dimension.
    """

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None
    default: object = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            _fail("name", self.name, "a non-empty string")
        if self.choices is not None:
            if self.low is not None or self.high is not None:
                _fail("choices", self.choices, "given without `low`/`high`")
            if not isinstance(self.choices, tuple) or not self.choices:
                _fail("choices", self.choices, "a non-empty tuple")
            if self.log:
                _fail("log", self.log, "False for a categorical dimension")
            if self.default not in self.choices:
                _fail("default", self.default, f"one of the choices {self.choices}")
            return
        if self.low is None or self.high is None:
            _fail("low", self.low, "given with `high` (or give `choices`)")
        if not self.low < self.high:
            _fail("high", self.high, f"> low={self.low!r}")
        if self.log and self.low <= 0:
            _fail("low", self.low, "> 0 on a log scale")
        if self.default is None or not self.low <= self.default <= self.high:
            _fail("default", self.default, f"in [{self.low!r}, {self.high!r}]")

    @property
    def categorical(self) -> bool:
        """Whether the dimension is a list of choices."""
        return self.choices is not None

    def contains(self, value) -> bool:
        """Whether ``value`` is a value of this dimension."""
        if self.categorical:
            return value in self.choices
        return self.low <= value <= self.high

    def sample(self, rng: np.random.Generator):
        """One value drawn with ``rng`` (uniform on the choices, or on the (log) interval)."""
        if self.categorical:
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def grid(self, k: int) -> list:
        """``k`` grid values (see the class docstring); ``k = 1`` gives ``[default]``."""
        if not isinstance(k, (int, np.integer)) or k < 1:
            _fail("k", k, "an integer >= 1")
        if k == 1:
            return [self.default]
        if self.categorical:
            if k > len(self.choices):
                _fail(
                    "k",
                    k,
                    f"<= {len(self.choices)}, the number of choices of {self.name!r}",
                )
            idx = np.round(np.linspace(0, len(self.choices) - 1, k)).astype(int)
            return [self.choices[i] for i in idx]
        lo, hi = (
            (math.log(self.low), math.log(self.high))
            if self.log
            else (self.low, self.high)
        )
        centres = [lo + (i + 0.5) * (hi - lo) / k for i in range(k)]
        return [float(math.exp(c)) if self.log else float(c) for c in centres]

    def define(self, hp, values=None):
        """Register this dimension on keras-tuner's ``hp`` and return its value for the trial.

        With ``values`` (a grid) the dimension is ``hp.Choice(name, values)``; otherwise
        a categorical one is ``hp.Choice(name, choices)`` and a continuous one
        ``hp.Float(name, low, high, sampling="log" | "linear")``.
        """
        if values is not None:
            return hp.Choice(self.name, list(values))
        if self.categorical:
            return hp.Choice(self.name, list(self.choices), default=self.default)
        return hp.Float(
            self.name,
            self.low,
            self.high,
            sampling="log" if self.log else "linear",
            default=self.default,
        )


@dataclass(frozen=True)
class SearchSpace:
    """A search space: a tuple of :class:`Param` with distinct names.

    A *point* is a dict ``{name: value}`` with one value per dimension.

    Example:
        >>> space = SearchSpace((Param("lr", 1e-3, 1.0, log=True, default=0.03),
        ...                      Param("batch_size", choices=(32, 64), default=64)))
        >>> space.defaults()
        {'lr': 0.03, 'batch_size': 64}
        >>> len(space.grid({"lr": 3, "batch_size": 2}))
        6
        >>> all(space.contains(p) for p in space.sample(np.random.default_rng(0), 100))
        True

    Raises:
        ValueError: for no parameters, a non-:class:`Param` entry or a repeated name.
    """

    params: tuple

    def __post_init__(self):
        if not isinstance(self.params, tuple) or not self.params:
            _fail("params", self.params, "a non-empty tuple of Param")
        for p in self.params:
            if not isinstance(p, Param):
                _fail("params", p, "a tuple of Param")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            _fail("params", names, "a tuple of Param with distinct names")

    @property
    def names(self) -> list:
        """The dimension names, in order."""
        return [p.name for p in self.params]

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, name) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict:
        """The point made of every dimension's default."""
        return {p.name: p.default for p in self.params}

    def contains(self, point) -> bool:
        """Whether ``point`` has exactly this space's names, each with a value of its dimension."""
        return set(point) == set(self.names) and all(
            p.contains(point[p.name]) for p in self.params
        )

    def sample(self, rng, n: int) -> list:
        """``n`` points drawn independently (``rng``: a NumPy generator or a seed)."""
        if not isinstance(n, (int, np.integer)) or n < 0:
            _fail("n", n, "a non-negative integer")
        rng = (
            rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        )
        return [{p.name: p.sample(rng) for p in self.params} for _ in range(n)]

    def _check_counts(self, counts):
        unknown = set(counts) - set(self.names)
        if unknown:
            _fail(
                "counts",
                counts,
                f"a dict over the names {self.names} (unknown: {sorted(unknown)})",
            )

    def grid(self, counts: dict) -> list:
        """Every point of the grid with ``counts[name]`` values on each dimension (missing: 1)."""
        self._check_counts(counts)
        axes = [p.grid(counts.get(p.name, 1)) for p in self.params]
        return [dict(zip(self.names, values)) for values in itertools.product(*axes)]

    def define(self, hp, grid: dict | None = None) -> dict:
        """Register every dimension on keras-tuner's ``hp``; returns the trial's point.

        With ``grid`` (counts per dimension, as :meth:`grid`) every dimension becomes
        an ``hp.Choice`` over its grid values, which is what ``keras_tuner.GridSearch``
        enumerates.
        """
        if grid is not None:
            self._check_counts(grid)
        return {
            p.name: p.define(hp, None if grid is None else p.grid(grid.get(p.name, 1)))
            for p in self.params
        }


#: The search space of the chapter, shared by every method (SGD with momentum 0.9 on the book's 1-D CNN).
DEFAULT_SPACE = SearchSpace(
    (
        Param("learning_rate", 1e-3, 1.0, log=True, default=0.03),
        Param("batch_size", choices=(32, 64, 128, 256), default=64),
        Param("dropout", 0.0, 0.5, default=0.0),
        Param("weight_decay", 1e-6, 1e-2, log=True, default=1e-4),
        Param("width", choices=(0.5, 1.0, 2.0), default=1.0),
    )
)


def build_model(
    point: dict,
    input_shape=(40, 1),
    num_classes: int = 10,
    *,
    momentum: float = 0.9,
    optimizer=None,
) -> keras.Model:
    """A point of the space -> ``models.cnn1d`` (dropout, width) compiled with SGD + momentum.

    The optimizer is ``keras.optimizers.SGD(learning_rate, momentum,
    weight_decay=weight_decay)`` (decoupled decay: ``w -= lr * wd * w`` each step)
    unless ``optimizer`` is given (its ``weight_decay`` is then its own). The batch
    size is used by ``fit``, not here.

    Example:
        >>> model = build_model(DEFAULT_SPACE.defaults())
        >>> model.count_params(), round(float(model.optimizer.learning_rate), 3)
        (12106, 0.03)

    Raises:
        ValueError: if ``point`` lacks one of ``learning_rate``, ``dropout``,
            ``weight_decay`` or ``width``.
    """
    from lrbook.models import cnn1d, compile_classifier

    needed = ("learning_rate", "dropout", "weight_decay", "width")
    missing = [k for k in needed if k not in point]
    if missing:
        _fail("point", point, f"a dict with the keys {needed} (missing: {missing})")
    model = cnn1d(
        input_shape,
        num_classes,
        dropout=float(point["dropout"]),
        width=float(point["width"]),
    )
    if optimizer is None:
        optimizer = keras.optimizers.SGD(
            float(point["learning_rate"]),
            momentum=momentum,
            weight_decay=float(point["weight_decay"]),
        )
    return compile_classifier(model, optimizer)


class SearchHyperModel(keras_tuner.HyperModel):
    """keras-tuner's view of a :class:`SearchSpace`: ``build`` compiles :func:`build_model`'s
    model for the trial's point and ``fit`` trains it with the point's batch size.

    Example:
        >>> import tempfile
        >>> x = np.random.default_rng(0).normal(size=(128, 40, 1)).astype("float32")
        >>> y = np.arange(128) % 10
        >>> ledger = BudgetLedger()
        >>> tuner = keras_tuner.RandomSearch(
        ...     SearchHyperModel(DEFAULT_SPACE, (40, 1)), objective="val_accuracy",
        ...     max_trials=2, seed=0, directory=tempfile.mkdtemp(), project_name="random")
        >>> tuner.search(x, y, epochs=1, validation_data=(x, y), callbacks=[ledger], verbose=0)
        >>> ledger.trials, ledger.epochs     # the chapter: the MNIST-1D split, more trials and epochs
        (2, 2)

    Args:
        space: the :class:`SearchSpace`.
        input_shape, num_classes: of the data.
        grid: counts per dimension (see :meth:`SearchSpace.grid`) for ``GridSearch``;
            ``None`` for every other tuner.
        momentum: SGD momentum.
    """

    def __init__(
        self,
        space: SearchSpace,
        input_shape=(40, 1),
        num_classes: int = 10,
        *,
        grid=None,
        momentum: float = 0.9,
        name=None,
        tunable=True,
    ):
        super().__init__(name=name, tunable=tunable)
        if not isinstance(space, SearchSpace):
            _fail("space", space, "a SearchSpace")
        self.space, self.input_shape, self.num_classes = (
            space,
            tuple(input_shape),
            num_classes,
        )
        self.grid, self.momentum = grid, momentum

    def build(self, hp):
        point = self.space.define(hp, self.grid)
        return build_model(
            point, self.input_shape, self.num_classes, momentum=self.momentum
        )

    def fit(self, hp, model, *args, **kwargs):
        if "batch_size" in self.space.names:
            kwargs["batch_size"] = int(hp.get("batch_size"))
        return model.fit(*args, **kwargs)


def grid_counts(space: SearchSpace, n_trials: int, order=None) -> dict:
    """The values per dimension of the largest grid with at most ``n_trials`` points.

    Starting from one value everywhere (the defaults), dimensions take turns in
    ``order`` (default: the space's order) to go up by one value, as long as the
    grid still fits in ``n_trials`` and a categorical dimension has choices left.
    This is the curse of dimensionality in one function: five dimensions need
    ``2**5 = 32`` trials before every one of them gets even two values.

    Example:
        >>> grid_counts(DEFAULT_SPACE, 8)
        {'learning_rate': 2, 'batch_size': 2, 'dropout': 2, 'weight_decay': 1, 'width': 1}
        >>> grid_counts(DEFAULT_SPACE, 32)
        {'learning_rate': 2, 'batch_size': 2, 'dropout': 2, 'weight_decay': 2, 'width': 2}

    Raises:
        ValueError: if ``n_trials`` < 1 or ``order`` is not a permutation of the names.
    """
    if not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        _fail("n_trials", n_trials, "an integer >= 1")
    order = list(space.names if order is None else order)
    if sorted(order) != sorted(space.names):
        _fail("order", order, f"a permutation of {space.names}")
    counts = dict.fromkeys(space.names, 1)
    grew = True
    while grew:
        grew = False
        for name in order:
            p = space[name]
            c = counts[name]
            if p.categorical and c >= len(p.choices):
                continue
            if math.prod(counts.values()) // c * (c + 1) <= n_trials:
                counts[name] = c + 1
                grew = True
    return counts


def hyperband_budget(
    max_epochs: int, factor: int = 3, iterations: int = 1
) -> tuple[int, int]:
    """Epochs trained and trials run by ``keras_tuner.Hyperband``: ``(epochs, trials)``.

    keras-tuner's oracle runs brackets ``s = s_max, ..., 0`` with
    ``s_max + 1 = #{k >= 0 : max_epochs / factor**k >= 1}``; round ``r`` of
    bracket ``s`` trains ``n(s, r)`` configurations up to ``e(s, r)`` epochs::

        n(s, r) = ceil(ceil(1 + log(max_epochs, factor)) / (s + 1) * factor**(s - r))
        e(s, r) = ceil(max_epochs / factor**(s - r))

    and a configuration promoted from round ``r - 1`` resumes from its checkpoint,
    so it trains ``e(s, r) - e(s, r - 1)`` new epochs. Every partial training
    counts: that is the compute Hyperband spends.

    Example:
        >>> hyperband_budget(9, 3)     # 9 + 3 + 1 configs, then 5 + 2, then 3
        (75, 23)

    Raises:
        ValueError: if ``max_epochs`` < 1, ``factor`` < 2 or ``iterations`` < 1.
    """
    for name, value, low in (
        ("max_epochs", max_epochs, 1),
        ("factor", factor, 2),
        ("iterations", iterations, 1),
    ):
        if not isinstance(value, (int, np.integer)) or value < low:
            _fail(name, value, f"an integer >= {low}")
    brackets, e = 0, float(max_epochs)
    while e >= 1:
        e /= factor
        brackets += 1
    end_size = math.ceil(1 + math.log(max_epochs, factor))
    epochs = trials = 0
    for s in range(brackets - 1, -1, -1):
        previous = 0
        for r in range(s + 1):
            n = math.ceil(end_size / (s + 1) * factor ** (s - r))
            e_r = math.ceil(max_epochs / factor ** (s - r))
            epochs += n * (e_r - previous)
            trials += n
            previous = e_r
    return epochs * iterations, trials * iterations


class BudgetLedger(keras.callbacks.Callback):
    """Counts every epoch trained and every second spent in ``fit``, across the trials of a search.

    keras-tuner deep-copies the callbacks of ``search`` for every trial; the ledger
    returns itself from ``__deepcopy__``, so one ledger sees the whole search. Each
    ``fit`` is one trial (Hyperband's resumed trainings are trials of their own);
    each epoch adds a row.

    Example:
        >>> ledger = BudgetLedger()
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> for _ in range(2):
        ...     _ = model.fit(np.zeros((8, 4)), np.zeros(8), epochs=3, verbose=0, callbacks=[ledger])
        >>> ledger.epochs, ledger.trials
        (6, 2)

    Args:
        monitor: the log entry recorded at every epoch (``None`` if absent).

    Attributes:
        epochs: epochs trained so far; trials: ``fit`` calls so far;
        seconds: wall seconds spent inside ``fit``.
    """

    def __init__(self, monitor: str = "val_accuracy"):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            _fail("monitor", monitor, "a non-empty string")
        self.monitor = monitor
        self.epochs, self.trials, self.seconds = 0, 0, 0.0
        self.rows = []
        self._t0 = None

    def __deepcopy__(self, memo):
        return self

    def get_config(self):
        return {"monitor": self.monitor}

    def on_train_begin(self, logs=None):
        self.trials += 1
        self._trial_epoch = 0
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1
        self._trial_epoch += 1
        value = (logs or {}).get(self.monitor)
        self.rows.append(
            {
                "trial": self.trials,
                "epoch": self.epochs,
                "trial_epoch": self._trial_epoch,
                "keras_epoch": int(epoch) + 1,
                self.monitor: None if value is None else float(value),
                "seconds": self.seconds + time.perf_counter() - self._t0,
            }
        )

    def on_train_end(self, logs=None):
        self.seconds += time.perf_counter() - self._t0

    def to_frame(self):
        """One row per epoch trained: ``trial``, ``epoch`` (cumulative over the search),
        ``trial_epoch``, ``keras_epoch`` (Hyperband resumes at ``initial_epoch``),
        the monitored value and ``seconds`` (cumulative in ``fit``)."""
        import pandas as pd

        return pd.DataFrame(
            self.rows,
            columns=[
                "trial",
                "epoch",
                "trial_epoch",
                "keras_epoch",
                self.monitor,
                "seconds",
            ],
        )


def best_so_far(epochs, values, budgets) -> np.ndarray:
    """The best value seen within each budget: ``max(values[epochs <= b])`` for each ``b``.

    ``epochs`` is the cumulative epoch count at which each value was seen (a
    :class:`BudgetLedger`'s ``epoch`` column); a budget below the first epoch gives NaN.

    Example:
        >>> best_so_far([1, 2, 3, 4], [0.2, 0.5, 0.4, 0.6], [0, 1, 3, 10]).tolist()
        [nan, 0.2, 0.5, 0.6]

    Raises:
        ValueError: if ``epochs`` and ``values`` differ in length or ``epochs`` decreases.
    """
    epochs, values = np.asarray(epochs, float), np.asarray(values, float)
    if epochs.shape != values.shape or epochs.ndim != 1:
        _fail(
            "values",
            values.shape,
            f"a 1-D array of the shape of `epochs` {epochs.shape}",
        )
    if np.any(np.diff(epochs) < 0):
        _fail("epochs", epochs.tolist(), "non-decreasing")
    running = np.fmax.accumulate(values) if len(values) else values
    idx = np.searchsorted(epochs, np.asarray(budgets, float), side="right") - 1
    return np.where(
        idx >= 0, running[np.clip(idx, 0, None)] if len(values) else np.nan, np.nan
    )
