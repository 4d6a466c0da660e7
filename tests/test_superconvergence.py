"""lrbook.superconvergence: the target rule, the ratio, budgets, the summary, the arms, and their errors.

References are written out here (NumPy, by hand), never taken from the module.
"""

import functools
import json
import math

import keras
import numpy as np
import pandas as pd
import pytest

from lrbook import models
from lrbook import superconvergence as sc
from lrbook.data import Dataset

NAN = float("nan")


# ----------------------------------------------------------------------------- pure functions


def test_steps_per_epoch_keeps_the_last_partial_batch():
    assert sc.steps_per_epoch(3200, 64) == 50
    assert sc.steps_per_epoch(3201, 64) == 51
    assert sc.steps_per_epoch(10, 64) == 1


def test_step_decay_matches_he_et_al():
    # budget 20: x0.1 from epoch 10, x0.01 from epoch 15
    expected = [0.1] * 10 + [0.01] * 5 + [0.001] * 5
    np.testing.assert_allclose(
        [sc.step_decay(e, base_lr=0.1, epochs=20) for e in range(20)],
        expected,
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        [
            sc.step_decay(e, base_lr=1.0, epochs=4, drops=(0.5,), factor=0.5)
            for e in range(4)
        ],
        [1, 1, 0.5, 0.5],
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"base_lr": 0.0}, "`base_lr` must be a finite number > 0"),
        ({"epochs": 0}, "`epochs` must be an integer >= 1"),
        ({"factor": -1.0}, "`factor` must be a finite number > 0"),
        ({"drops": (0.5, 1.0)}, r"`drops` must be fractions of the budget in \(0, 1\)"),
    ],
)
def test_step_decay_errors(kwargs, message):
    args = {"epoch": 0, "base_lr": 0.1, "epochs": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        sc.step_decay(**args)


def test_step_decay_cannot_be_handed_to_learning_rate_scheduler():
    """Keras calls f(epoch, current_lr): a base-rate function would compound the decay."""
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x, y = np.zeros((4, 2), "float32"), np.zeros(4, "float32")
    with pytest.raises(TypeError):
        model.fit(
            x,
            y,
            epochs=3,
            verbose=0,
            # What a user would write; with the rate as its second positional
            # argument, Keras would pass the current rate and compound the decay.
            callbacks=[
                keras.callbacks.LearningRateScheduler(
                    functools.partial(sc.step_decay, epochs=3)
                )
            ],
        )
    # The arm's wrapper reads the base rate, not the current one: no compounding.
    arm = sc.step_decay_arm(0.1, epochs=4)
    (scheduler,) = arm.callbacks()
    rates = [scheduler.schedule(e, 0.001) for e in range(4)]
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.01, 0.001], rtol=1e-12)


def test_target_rule_is_a_fraction_of_the_reference_mean():
    assert sc.target_accuracy([0.90, 0.92, 0.94], 0.98) == pytest.approx(0.98 * 0.92)
    assert sc.target_accuracy([0.9, NAN], 1.0) == pytest.approx(0.9)


@pytest.mark.parametrize("fraction", [0.0, 1.01, -0.5, True])
def test_target_rule_rejects_bad_fractions(fraction):
    with pytest.raises(
        ValueError, match=r"`fraction` must be in \(0, 1\]. Received: fraction="
    ):
        sc.target_accuracy([0.9], fraction)


def test_target_rule_needs_a_finite_reference():
    with pytest.raises(
        ValueError, match="`reference_accuracies` must be at least one finite value"
    ):
        sc.target_accuracy([NAN], 0.9)


def test_median_counts_misses_as_infinite():
    assert sc.median_epochs([5, 1, 3]) == 3.0
    assert sc.median_epochs([4, 2]) == 3.0
    assert (
        sc.median_epochs([2, NAN]) == math.inf
    )  # half the seeds missed: no finite median
    assert sc.median_epochs([2, 3, NAN]) == 3.0
    with pytest.raises(ValueError, match="`epochs` must be at least one value"):
        sc.median_epochs([])


def test_ratio_of_medians_and_its_edge_cases():
    assert sc.ratio_epochs_to_target([9, 10, 11], [2, 5, 3]) == pytest.approx(10 / 3)
    assert sc.ratio_epochs_to_target([NAN, NAN, 3], [1, 1, 1]) == math.inf
    assert sc.ratio_epochs_to_target([1, 1, 1], [NAN, NAN, 3]) == 0.0
    assert math.isnan(sc.ratio_epochs_to_target([NAN], [NAN]))


# ----------------------------------------------------------------------------- the summary, on a hand-made table


def _table():
    """Two seeds; 'oc' trained per budget (2 and 4 epochs), 'const' once for 4 epochs."""
    rows = []
    acc = {
        ("const", 4, 0): [0.5, 0.7, 0.8, 0.9],
        ("const", 4, 1): [0.4, 0.6, 0.8, 0.88],
        ("oc", 2, 0): [0.6, 0.86],
        ("oc", 2, 1): [0.5, 0.80],
        ("oc", 4, 0): [0.5, 0.8, 0.9, 0.95],
        ("oc", 4, 1): [0.5, 0.7, 0.86, 0.92],
    }
    for (fam, budget, seed), values in acc.items():
        for e, a in enumerate(values, start=1):
            rows.append(
                {
                    "arm": f"{fam}@{budget}",
                    "family": fam,
                    "budget": budget,
                    "seed": seed,
                    "epoch": e,
                    "time": 1.0 * e,
                    "test_accuracy": a,
                }
            )
    return pd.DataFrame(rows)


def test_summary_hits_budgets_p_values_and_ratio():
    from scipy import stats

    df = _table()
    target = sc.target_accuracy(
        df[(df.family == "const") & (df.epoch == 4)].test_accuracy, 0.95
    )
    assert target == pytest.approx(0.95 * 0.89)  # 0.8455
    s = sc.summarize_comparison(df, target=target, method="oc")
    hits = s.hits.set_index(["family", "seed"])
    # Every family is read at the end of each budget: oc seed 0 ends its 2-epoch run at
    # 0.86; seed 1 ends it at 0.80 and its 4-epoch run at 0.92, so 4 (not 3, the epoch
    # inside the 4-epoch run where it first passed 0.8455: no best-of-k reading).
    assert hits.loc[("oc", 0), "epochs"] == 2 and hits.loc[("oc", 0), "budget"] == 2
    assert hits.loc[("oc", 1), "epochs"] == 4 and hits.loc[("oc", 1), "seconds"] == 4.0
    # const: 0.7 and 0.6 at epoch 2, 0.9 and 0.88 at epoch 4
    assert list(hits.loc["const", "epochs"]) == [4, 4]
    assert s.ratios["const"] == pytest.approx(4 / 3)
    # at budget 2: oc's own 2-epoch runs, const read at epoch 2 of its long run
    assert s.at_budget.loc[("oc", 2), "mean"] == pytest.approx(0.83)
    assert s.at_budget.loc[("const", 2), "mean"] == pytest.approx(0.65)
    # Paired by seed, by hand: differences oc - const.
    d2, d4 = np.array([0.86 - 0.7, 0.80 - 0.6]), np.array([0.95 - 0.9, 0.92 - 0.88])
    p = {}
    for b, d in ((2, d2), (4, d4)):
        t = d.mean() / (d.std(ddof=1) / math.sqrt(2))
        p[b] = 2 * stats.t.sf(abs(t), 1)
        row = s.at_budget.loc[("const", b)]
        assert row["diff"] == pytest.approx(d.mean())
        half = stats.t.ppf(0.975, 1) * d.std(ddof=1) / math.sqrt(2)
        assert (row["ci_low"], row["ci_high"]) == (
            pytest.approx(d.mean() - half),
            pytest.approx(d.mean() + half),
        )
        assert s.p_value("const", b) == pytest.approx(p[b])
    # Holm over the two comparisons (budgets 2 and 4)
    lo, hi = sorted(p.values())
    holm = {b: (2 * lo if p[b] == lo else max(2 * lo, hi)) for b in p}
    for b in p:
        assert s.p_value("const", b, adjusted=True) == pytest.approx(holm[b])
    assert (
        s.at_budget.loc[("const", 2), "verdict"] == "no difference detected at this n"
    )
    assert (
        math.isnan(s.at_budget.loc[("oc", 4), "p_vs_oc"])
        and s.at_budget.loc[("oc", 4), "verdict"] == ""
    )


def test_summary_to_dict_has_the_benchmark_keys_and_is_json():
    df = _table()
    d = sc.summarize_comparison(df, target=0.85, method="oc").to_dict()
    json.dumps(d, allow_nan=False)
    assert {"target", "budgets", "arms"} <= set(d)
    for arm in d["arms"].values():
        assert {
            "n",
            "accuracy",
            "epochs_to_target",
            "seconds_to_target",
            "wall_s",
            "diff",
            "ci",
            "p_vs_oc",
            "p_adj_vs_oc",
        } <= set(arm)
        assert set(arm["accuracy"]) == {"2", "4"} and set(arm["accuracy"]["2"]) == {
            "mean",
            "std",
        }
    assert d["arms"]["const"]["n"] == 2


def test_summary_marks_a_miss_as_none():
    d = sc.summarize_comparison(_table(), target=0.99, method="oc").to_dict()
    assert d["arms"]["oc"]["epochs_to_target"] == [None, None]
    assert d["arms"]["oc"]["median_epochs_to_target"] is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"method": "adam"},
            r"`method` must be one of the families \['const', 'oc'\]|`method` must be one of",
        ),
        ({"method": "oc", "baselines": ["oc"]}, "`baselines` must be families among"),
        (
            {"method": "oc", "metric": "val_accuracy"},
            "`metric` must be a column of the table",
        ),
    ],
)
def test_summary_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sc.summarize_comparison(_table(), target=0.9, **kwargs)


def test_summary_needs_a_comparison_table():
    with pytest.raises(ValueError, match="`df` must be a table of run_comparison"):
        sc.summarize_comparison(
            _table().drop(columns="budget"), target=0.9, method="oc"
        )


# ----------------------------------------------------------------------------- arms


def test_one_cycle_arm_spans_the_budget_and_cycles_momentum():
    arm = sc.one_cycle_arm(0.4, epochs=3, steps_per_epoch=10, pct_start=0.3)
    opt = arm.optimizer()
    assert arm.epochs == 3 and opt._learning_rate.total_steps == 30
    # peak at step pct_start * total - 1 = 8, as PyTorch's OneCycleLR; momentum at its lowest there
    assert float(opt._learning_rate(8)) == pytest.approx(0.4, rel=1e-6)
    assert float(opt.momentum_schedule(8)) == pytest.approx(0.85, rel=1e-6)
    assert float(opt.momentum_schedule(0)) == pytest.approx(0.95, rel=1e-6)
    assert float(opt._learning_rate(0)) == pytest.approx(0.4 / 25, rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_lr": 0.0}, "`max_lr` must be a finite number > 0"),
        ({"epochs": 0}, "`epochs` must be an integer >= 1"),
        (
            {"steps_per_epoch": 2.5},
            (
                "Argument `steps_per_epoch` must be an integer >= 1. "
                "Received: steps_per_epoch=2.5"
            ),
        ),
        ({"pct_start": 1.5}, "pct_start"),
    ],
)
def test_one_cycle_arm_errors(kwargs, message):
    args = {"max_lr": 0.1, "epochs": 2, "steps_per_epoch": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        sc.one_cycle_arm(**args)


def test_constant_and_adam_arms():
    opt = sc.constant_arm(0.05, weight_decay=1e-4).optimizer()
    assert (
        float(opt.learning_rate.numpy()) == pytest.approx(0.05) and opt.momentum == 0.9
    )
    assert opt.weight_decay == pytest.approx(1e-4)
    with pytest.raises(
        ValueError, match="Argument `learning_rate` must be a finite number > 0"
    ):
        sc.constant_arm(-1.0)
    with pytest.raises(
        ValueError, match="Argument `learning_rate` must be a finite number > 0"
    ):
        sc.adam_arm(0)
    with pytest.raises(
        ValueError, match="Argument `learning_rate` must be a finite number > 0"
    ):
        sc.step_decay_arm(0, epochs=4)


def test_arms_take_keras_vocabulary():
    """`learning_rate` as Keras's optimizers, `steps_per_epoch` as Keras's fit (issue 22)."""
    opt = sc.constant_arm(learning_rate=0.05).optimizer()
    assert float(opt.learning_rate.numpy()) == pytest.approx(0.05)
    opt = sc.adam_arm(learning_rate=0.01).optimizer()
    assert float(opt.learning_rate.numpy()) == pytest.approx(0.01)
    assert sc.step_decay_arm(learning_rate=0.1, epochs=2).epochs == 2
    arm = sc.one_cycle_arm(max_lr=0.1, epochs=2, steps_per_epoch=5)
    assert arm.optimizer()._learning_rate.total_steps == 10
    for old in (
        lambda: sc.constant_arm(lr=0.05),
        lambda: sc.adam_arm(lr=0.01),
        lambda: sc.step_decay_arm(lr=0.1, epochs=2),
        lambda: sc.one_cycle_arm(0.1, 2, steps=5),
        lambda: sc.tune_lr(
            build=None, make_arm=None, lrs=[0.1], data=None, seeds=[0], epochs=1
        ),
        lambda: sc.range_test_max_lr(build=None, data=None, seeds=[0]),
    ):
        with pytest.raises(TypeError, match="unexpected keyword argument"):
            old()


def test_article_arm_uses_the_articles_constants_per_epoch():
    sched = sc.article_arm().callbacks()[0].schedule
    ref = [
        (2e-3 - 1e-3) / 6 * e + 1e-3 if e < 6 else (2e-3 - 1e-3) * 0.5 ** (e - 6) + 1e-3
        for e in range(10)
    ]
    np.testing.assert_allclose([sched(e, 0.0) for e in range(10)], ref, rtol=1e-6)


def test_step_decay_arm_sets_the_rate_per_epoch():
    arm = sc.step_decay_arm(0.2, epochs=4, drops=(0.5,))
    cb = arm.callbacks()[0]
    assert [cb.schedule(e, 0.0) for e in range(4)] == [
        0.2,
        0.2,
        pytest.approx(0.02),
        pytest.approx(0.02),
    ]


# ----------------------------------------------------------------------------- running (tiny)


def _tiny():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 40, 1)).astype("float32")
    y = (x[:, :20, 0].mean(1) > 0).astype("int32")
    return Dataset("tiny", x[:64], y[:64], x[64:], y[64:], num_classes=2)


def test_run_comparison_trains_per_budget_families_once_per_budget():
    ds = _tiny()
    build = lambda: models.cnn1d(ds.input_shape, num_classes=2, filters=(4,))
    fams = {
        "oc": sc.Family(
            lambda e: sc.one_cycle_arm(0.1, e, sc.steps_per_epoch(64, 32)),
            per_budget=True,
        ),
        "const": sc.Family(lambda e: sc.constant_arm(0.05)),
    }
    df = sc.run_comparison(
        {"default": build}, fams, ds, budgets=[2, 1], seeds=[0], batch_size=32
    )
    runs = df.groupby("arm").epoch.max().to_dict()
    assert runs == {"oc@1": 1, "oc@2": 2, "const@2": 2}
    assert list(dict.fromkeys(df.family)) == ["oc", "const"]
    # The table feeds the summary: each family read at the end of each budget, by hand
    # (oc from its own run of that length, const from its one run at that epoch).
    acc = df.set_index(["arm", "epoch"]).test_accuracy
    reading = {
        ("oc", 1): acc[("oc@1", 1)],
        ("oc", 2): acc[("oc@2", 2)],
        ("const", 1): acc[("const@2", 1)],
        ("const", 2): acc[("const@2", 2)],
    }
    # A target that the best family reaches after one epoch, and no family above it: a
    # family below it at budget 1 must wait for budget 2 (or miss), so the hits differ
    # from an "everyone at epoch 1" answer whenever the runs differ at budget 1.
    target = max(reading[("oc", 1)], reading[("const", 1)])
    expected = []
    for fam in ("oc", "const"):
        hit = [b for b in (1, 2) if reading[(fam, b)] >= target]
        expected.append(float(hit[0]) if hit else math.nan)
    s = sc.summarize_comparison(df, target=target, method="oc")
    assert list(s.hits.family) == ["oc", "const"]
    np.testing.assert_array_equal(s.hits.epochs.to_numpy(), expected)
    above = sc.summarize_comparison(
        df, target=max(reading.values()) + 1e-6, method="oc"
    )
    assert above.hits.epochs.isna().all()


def test_run_comparison_errors():
    ds = _tiny()
    fam = {"a": sc.Family(lambda e: sc.constant_arm(0.1), model="bn")}
    with pytest.raises(
        ValueError, match="`builders` must be a dict with the model 'bn'"
    ):
        sc.run_comparison({"default": lambda: None}, fam, ds, budgets=[1], seeds=[0])
    with pytest.raises(
        ValueError, match="`families` must be a non-empty dict of Family"
    ):
        sc.run_comparison({"default": lambda: None}, {}, ds, budgets=[1], seeds=[0])
    with pytest.raises(ValueError, match="`budgets` must be an integer >= 1"):
        sc.run_comparison({"bn": lambda: None}, fam, ds, budgets=[0], seeds=[0])


# ----------------------------------------------------------------------------- the CIFAR variant's model


def test_resnet20_parameter_count_by_hand_and_cifar_shape():
    conv = lambda k, cin, cout: k * k * cin * cout
    bn = lambda c: 4 * c
    stem = conv(3, 3, 16) + bn(16)
    stage0 = 3 * 2 * (conv(3, 16, 16) + bn(16))
    stage1 = (
        conv(3, 16, 32)
        + conv(3, 32, 32)
        + conv(1, 16, 32)
        + 3 * bn(32)
        + 2 * 2 * (conv(3, 32, 32) + bn(32))
    )
    stage2 = (
        conv(3, 32, 64)
        + conv(3, 64, 64)
        + conv(1, 32, 64)
        + 3 * bn(64)
        + 2 * 2 * (conv(3, 64, 64) + bn(64))
    )
    expected = stem + stage0 + stage1 + stage2 + 64 * 10 + 10
    model = models.resnet((32, 32, 3))
    assert model.count_params() == expected == 274042
    out = keras.ops.convert_to_numpy(
        model(np.zeros((2, 32, 32, 3), "float32"), training=False)
    )
    assert out.shape == (2, 10)


def test_resnet_errors():
    with pytest.raises(ValueError, match="`depth` must be 6n \\+ 2"):
        models.resnet((32, 32, 3), depth=21)
    with pytest.raises(ValueError, match="`input_shape` must be"):
        models.resnet((40, 1))


def test_set_batch_norm_momentum_reaches_every_layer_and_changes_the_moving_mean():
    model = sc.set_batch_norm_momentum(models.resnet((8, 8, 3), depth=8), 0.5)
    bns = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, __import__("keras").layers.BatchNormalization)
    ]
    assert (
        len(bns) == 1 + 3 * 2 + 2
    )  # stem, 3 stages x 1 block x 2 convs, 2 projections
    assert {b.momentum for b in bns} == {0.5}
    # moving mean after one training-mode call on constant inputs: m = 0.5 * 0 + 0.5 * batch_mean
    import keras

    layer = keras.layers.BatchNormalization()
    m = keras.Sequential([keras.Input((3,)), layer])
    sc.set_batch_norm_momentum(m, 0.5)
    m(np.full((4, 3), 2.0, "float32"), training=True)
    np.testing.assert_allclose(np.asarray(layer.moving_mean), 1.0)
    with pytest.raises(ValueError, match=r"`momentum` must be in \[0, 1\)"):
        sc.set_batch_norm_momentum(m, 1.0)


def test_cifar_variant_trains_one_cycle_on_a_resnet():
    """The chapter's dataset="cifar10" path, on random CIFAR-shaped data (the data itself needs a network)."""
    rng = np.random.default_rng(0)
    ds = Dataset(
        "cifar-shaped",
        rng.random((16, 32, 32, 3), dtype=np.float32),
        rng.integers(0, 10, 16).astype("int32"),
        rng.random((8, 32, 32, 3), dtype=np.float32),
        rng.integers(0, 10, 8).astype("int32"),
    )
    build = lambda: sc.set_batch_norm_momentum(
        models.resnet(ds.input_shape, depth=8, width=0.25), 0.9
    )
    fams = {
        "one-cycle": sc.Family(
            lambda e: sc.one_cycle_arm(0.1, e, sc.steps_per_epoch(16, 8)),
            per_budget=True,
        )
    }
    df = sc.run_comparison(
        {"default": build}, fams, ds, budgets=[1], seeds=[0], batch_size=8
    )
    assert len(df) == 1 and np.isfinite(df.loss).all()


def test_tuning_helpers_return_named_results():
    from lrbook import data

    ds = data.load("mnist1d", n_train=160, validation_split=0.2)
    build = lambda: models.cnn1d(filters=(8,))
    sweep = sc.tune_lr(build, sc.constant_arm, [0.01, 0.1], ds, seeds=[0], epochs=1)
    assert isinstance(sweep, sc.LRSweep)
    assert sweep.best_lr in (0.01, 0.1) and list(sweep.table.index) == [0.01, 0.1]
    best, table = sweep
    assert best == sweep.best_lr and table is sweep.table
    peak = sc.range_test_max_lr(build, ds, seeds=[0], num_steps=20)
    assert isinstance(peak, sc.RangeTestPeak) and len(peak.results) == 1
    max_lr, results = peak
    assert max_lr == peak.max_lr > 0 and results is peak.results
