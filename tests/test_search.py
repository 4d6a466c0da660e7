"""lrbook.search: the shared search space, grids, Hyperband's budget and the compute ledger."""

import copy
import math

import keras
import keras_tuner
import numpy as np
import pytest

from lrbook import search
from lrbook.search import DEFAULT_SPACE, BudgetLedger, Param, SearchSpace


# ----------------------------------------------------------------------------- Param
def test_log_param_samples_inside_bounds_and_uniformly_in_log():
    p = Param("lr", 1e-4, 1.0, log=True, default=1e-2)
    values = np.array([p.sample(np.random.default_rng(s)) for s in range(4000)])
    assert values.min() >= 1e-4 and values.max() <= 1.0
    # log10 of a log-uniform sample is uniform on [-4, 0]: mean -2, a quarter below -3
    assert abs(np.log10(values).mean() + 2) < 0.1
    assert abs(np.mean(values < 1e-3) - 0.25) < 0.03


def test_linear_param_and_choices_sample_their_range():
    rng = np.random.default_rng(0)
    p = Param("dropout", 0.0, 0.5, default=0.0)
    v = np.array([p.sample(rng) for _ in range(2000)])
    assert v.min() >= 0 and v.max() <= 0.5 and abs(v.mean() - 0.25) < 0.02
    c = Param("bs", choices=(32, 64, 128), default=64)
    draws = [c.sample(rng) for _ in range(3000)]
    assert set(draws) == {32, 64, 128}
    assert all(abs(draws.count(k) / 3000 - 1 / 3) < 0.04 for k in (32, 64, 128))


def test_grid_values_are_bin_centres():
    lin = Param("x", 0.0, 1.0, default=0.3)
    np.testing.assert_allclose(lin.grid(4), [0.125, 0.375, 0.625, 0.875])
    log = Param("lr", 1e-3, 1e1, log=True, default=0.1)
    np.testing.assert_allclose(log.grid(2), [10**-2.0, 10**0.0])
    assert lin.grid(1) == [0.3] and log.grid(1) == [0.1]
    c = Param("bs", choices=(16, 32, 64, 128, 256), default=64)
    assert (
        c.grid(3) == [16, 64, 256]
        and c.grid(5) == [16, 32, 64, 128, 256]
        and c.grid(1) == [64]
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(name="", low=0.0, high=1.0, default=0.5),
            "`name` must be a non-empty string",
        ),
        (dict(name="x", low=1.0, high=1.0, default=1.0), r"`high` must be > low=1.0"),
        (
            dict(name="x", low=0.0, high=1.0, log=True, default=0.5),
            r"`low` must be > 0 on a log scale",
        ),
        (
            dict(name="x", low=0.0, high=1.0, default=2.0),
            r"`default` must be in \[0.0, 1.0\]. Received: default=2.0",
        ),
        (dict(name="x", low=0.0, high=1.0), "`default` must be in"),
        (dict(name="x", high=1.0, default=0.5), "`low` must be given with `high`"),
        (
            dict(name="x", choices=(1, 2), default=3),
            r"`default` must be one of the choices \(1, 2\)",
        ),
        (
            dict(name="x", choices=(), default=None),
            "`choices` must be a non-empty tuple",
        ),
        (
            dict(name="x", choices=[1, 2], default=1),
            "`choices` must be a non-empty tuple",
        ),
        (
            dict(name="x", low=0.0, choices=(1, 2), default=1),
            "`choices` must be given without",
        ),
        (dict(name="x", choices=(1, 2), log=True, default=1), "`log` must be False"),
    ],
)
def test_param_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Param(**kwargs)


def test_param_grid_value_errors():
    with pytest.raises(ValueError, match=r"`k` must be an integer >= 1. Received: k=0"):
        Param("x", 0.0, 1.0, default=0.5).grid(0)
    with pytest.raises(
        ValueError, match=r"`k` must be <= 2, the number of choices of 'c'"
    ):
        Param("c", choices=(1, 2), default=1).grid(3)


# ----------------------------------------------------------------------------- SearchSpace
def test_space_sampling_is_seeded_and_in_bounds():
    a = DEFAULT_SPACE.sample(0, 200)
    assert a == DEFAULT_SPACE.sample(0, 200) and a != DEFAULT_SPACE.sample(1, 200)
    assert all(DEFAULT_SPACE.contains(p) for p in a)
    lrs = np.array([p["learning_rate"] for p in a])
    assert lrs.min() >= 1e-3 and lrs.max() <= 1.0
    assert DEFAULT_SPACE.contains(DEFAULT_SPACE.defaults())
    assert not DEFAULT_SPACE.contains(
        {**DEFAULT_SPACE.defaults(), "learning_rate": 2.0}
    )
    assert not DEFAULT_SPACE.contains({"learning_rate": 0.1})


def test_space_grid_is_the_product_of_its_axes():
    counts = {"learning_rate": 3, "batch_size": 2, "width": 3}
    points = DEFAULT_SPACE.grid(counts)
    assert len(points) == 3 * 2 * 3
    assert len({tuple(sorted(p.items())) for p in points}) == len(points)
    assert {p["dropout"] for p in points} == {0.0}  # not searched: the default
    assert sorted({p["learning_rate"] for p in points}) == pytest.approx(
        [10**-2.5, 10**-1.5, 10**-0.5]
    )


def test_space_value_errors():
    p = Param("x", 0.0, 1.0, default=0.5)
    with pytest.raises(ValueError, match="distinct names"):
        SearchSpace((p, p))
    with pytest.raises(ValueError, match="`params` must be a non-empty tuple of Param"):
        SearchSpace(())
    with pytest.raises(ValueError, match="`params` must be a tuple of Param"):
        SearchSpace((p, "y"))
    with pytest.raises(ValueError, match=r"unknown: \['nope'\]"):
        DEFAULT_SPACE.grid({"nope": 2})
    with pytest.raises(ValueError, match="`n` must be a non-negative integer"):
        DEFAULT_SPACE.sample(0, -1)


def test_define_registers_keras_tuner_hyperparameters():
    hp = keras_tuner.HyperParameters()
    point = DEFAULT_SPACE.define(hp)
    assert point == DEFAULT_SPACE.defaults()
    lr = hp.get_config()["space"][0]["config"]
    assert lr["name"] == "learning_rate" and lr["sampling"] == "log"
    assert (lr["min_value"], lr["max_value"]) == (1e-3, 1.0)
    grid_hp = keras_tuner.HyperParameters()
    DEFAULT_SPACE.define(grid_hp, {"learning_rate": 3})
    values = {h.name: list(h.values) for h in grid_hp.space}
    assert values["learning_rate"] == pytest.approx([10**-2.5, 10**-1.5, 10**-0.5])
    assert values["dropout"] == [0.0]


# ----------------------------------------------------------------------------- grid_counts
def test_grid_counts_fit_the_budget_and_are_balanced():
    for n in (1, 2, 7, 8, 20, 32, 100, 500):
        counts = search.grid_counts(DEFAULT_SPACE, n)
        size = math.prod(counts.values())
        assert size <= n
        # one more value on any dimension that still has some would not fit
        for name, c in counts.items():
            p = DEFAULT_SPACE[name]
            if not (p.categorical and c == len(p.choices)):
                assert size // c * (c + 1) > n
    assert search.grid_counts(DEFAULT_SPACE, 1) == dict.fromkeys(DEFAULT_SPACE.names, 1)
    # width has only 3 choices: with a huge budget it stops there, the others go on
    big = search.grid_counts(DEFAULT_SPACE, 10**5)
    assert big["width"] == 3 and big["batch_size"] == 4 and big["learning_rate"] > 4
    order = ["width", "dropout", "batch_size", "weight_decay", "learning_rate"]
    assert search.grid_counts(DEFAULT_SPACE, 4, order) == {
        "learning_rate": 1,
        "batch_size": 1,
        "dropout": 2,
        "weight_decay": 1,
        "width": 2,
    }


def test_grid_counts_value_errors():
    with pytest.raises(
        ValueError, match="`n_trials` must be an integer >= 1. Received: n_trials=0"
    ):
        search.grid_counts(DEFAULT_SPACE, 0)
    with pytest.raises(ValueError, match="`order` must be a permutation"):
        search.grid_counts(DEFAULT_SPACE, 8, ["learning_rate"])


# ----------------------------------------------------------------------------- hyperband_budget
@pytest.mark.parametrize(
    "args, expected",
    [
        # by hand from keras-tuner's bracket sizes (9, 3, 1 @ 1, 3, 9 epochs | 5, 2 @ 3, 9 | 3 @ 9):
        (
            (9, 3, 1),
            (9 * 1 + 3 * 2 + 1 * 6 + 5 * 3 + 2 * 6 + 3 * 9, 9 + 3 + 1 + 5 + 2 + 3),
        ),
        ((9, 3, 2), (2 * 75, 2 * 23)),
        # max_epochs 2, factor 2: (2 @ 1, 1 @ 2) then (2 @ 2)
        ((2, 2, 1), (2 * 1 + 1 * 1 + 2 * 2, 2 + 1 + 2)),
        # max_epochs 1: a single bracket of ceil(1 + 0) = 1 configuration trained 1 epoch
        ((1, 3, 1), (1, 1)),
    ],
)
def test_hyperband_budget_by_hand(args, expected):
    assert search.hyperband_budget(*args) == expected


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(max_epochs=0), "`max_epochs` must be an integer >= 1"),
        (
            dict(max_epochs=9, factor=1),
            "`factor` must be an integer >= 2. Received: factor=1",
        ),
        (dict(max_epochs=9, iterations=0), "`iterations` must be an integer >= 1"),
    ],
)
def test_hyperband_budget_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        search.hyperband_budget(**kwargs)


def test_hyperband_budget_matches_keras_tuner(tmp_path):
    """The ledger, counting a real (tiny) Hyperband search, agrees with the formula."""
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(hp.Int("units", 2, 64)),
                keras.layers.Dense(2),
            ]
        )
        model.compile(
            "sgd",
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    ledger = BudgetLedger()
    tuner = keras_tuner.Hyperband(
        build,
        objective="val_accuracy",
        max_epochs=3,
        factor=3,
        seed=0,
        directory=str(tmp_path),
        project_name="hb",
    )
    tuner.search(x, y, validation_data=(x, y), callbacks=[ledger], verbose=0)
    assert (ledger.epochs, ledger.trials) == search.hyperband_budget(3, 3)
    frame = ledger.to_frame()
    assert frame.epoch.tolist() == list(range(1, ledger.epochs + 1))
    assert (
        frame.val_accuracy.notna().all() and (frame.seconds.diff().dropna() >= 0).all()
    )


# ----------------------------------------------------------------------------- BudgetLedger / best_so_far
def test_ledger_is_shared_across_deepcopies_and_counts_epochs():
    ledger = BudgetLedger()
    assert copy.deepcopy([ledger])[0] is ledger
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    x = np.zeros((4, 2))
    model.fit(
        x,
        np.zeros(4),
        epochs=2,
        verbose=0,
        callbacks=copy.deepcopy([ledger]),
        validation_data=(x, np.zeros(4)),
    )
    model.fit(x, np.zeros(4), epochs=5, initial_epoch=3, verbose=0, callbacks=[ledger])
    assert (ledger.epochs, ledger.trials) == (4, 2)
    f = ledger.to_frame()
    assert f.trial.tolist() == [1, 1, 2, 2] and f.keras_epoch.tolist() == [1, 2, 4, 5]
    assert f.trial_epoch.tolist() == [1, 2, 1, 2]
    assert f.val_accuracy.isna().all()  # no accuracy metric: recorded as missing
    assert ledger.seconds >= f.seconds.iloc[-1] > 0
    assert BudgetLedger(monitor="val_mae").get_config() == {"monitor": "val_mae"}
    with pytest.raises(ValueError, match="`monitor` must be a non-empty string"):
        BudgetLedger(monitor="")


def test_best_so_far_against_a_loop():
    rng = np.random.default_rng(1)
    epochs = np.cumsum(rng.integers(0, 3, size=50))
    values = rng.uniform(size=50)
    budgets = np.arange(-1, epochs[-1] + 3)
    expected = [
        max(values[epochs <= b]) if np.any(epochs <= b) else np.nan for b in budgets
    ]
    np.testing.assert_array_equal(search.best_so_far(epochs, values, budgets), expected)
    with pytest.raises(ValueError, match="`epochs` must be non-decreasing"):
        search.best_so_far([2, 1], [0.1, 0.2], [3])
    with pytest.raises(
        ValueError, match="`values` must be a 1-D array of the shape of `epochs`"
    ):
        search.best_so_far([1, 2], [0.1], [3])


# ----------------------------------------------------------------------------- build_model / hypermodel
def test_build_model_maps_a_point():
    point = {
        **DEFAULT_SPACE.defaults(),
        "learning_rate": 0.2,
        "weight_decay": 1e-3,
        "width": 2.0,
        "dropout": 0.3,
    }
    model = search.build_model(point, (40, 1))
    opt = model.optimizer
    assert isinstance(opt, keras.optimizers.SGD)
    assert float(opt.learning_rate) == pytest.approx(0.2) and opt.momentum == 0.9
    assert opt.weight_decay == pytest.approx(1e-3)
    assert model.get_layer("dropout").rate == pytest.approx(0.3)
    assert (
        model.count_params()
        > search.build_model(DEFAULT_SPACE.defaults()).count_params()
    )
    with pytest.raises(ValueError, match=r"missing: \['weight_decay', 'width'\]"):
        search.build_model({"learning_rate": 0.1, "dropout": 0.0})


def test_hypermodel_uses_the_points_batch_size():
    hm = search.SearchHyperModel(DEFAULT_SPACE, (40, 1))
    hp = keras_tuner.HyperParameters()
    hp.Fixed("batch_size", 128)
    model = hm.build(hp)
    seen = []

    class Steps(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.params["steps"])

    x = np.zeros((256, 40, 1), "float32")
    hm.fit(
        hp, model, x, np.zeros(256, "int32"), epochs=1, verbose=0, callbacks=[Steps()]
    )
    assert seen == [2]
    with pytest.raises(ValueError, match="`space` must be a SearchSpace"):
        search.SearchHyperModel({"learning_rate": 0.1})
