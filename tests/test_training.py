import math

import keras
import numpy as np
import pandas as pd
import pytest

from lrbook import data, models, training
from scipy import stats as sps

from lrbook import schedules


@pytest.fixture(scope="module")
def tiny():
    ds = data.load("mnist1d", n_train=400, validation_split=0.25)
    return ds


class RecordInitialWeights(keras.callbacks.Callback):
    seen = []

    def on_train_begin(self, logs=None):
        RecordInitialWeights.seen.append([w.copy() for w in self.model.get_weights()])


def build_tiny():
    return models.mlp((40, 1), hidden=(16,))


def test_arms_share_initial_weights_and_seeds_differ(tiny):
    RecordInitialWeights.seen = []
    arms = {
        "sgd": training.Arm(
            lambda: keras.optimizers.SGD(0.1),
            callbacks=lambda: [RecordInitialWeights()],
        ),
        "adam": training.Arm(
            lambda: keras.optimizers.Adam(1e-3),
            callbacks=lambda: [RecordInitialWeights()],
        ),
    }
    df = training.run_experiment(
        build_tiny, arms, tiny, seeds=[0, 1], epochs=2, progress=False
    )
    (s0_sgd, s0_adam, s1_sgd, s1_adam) = RecordInitialWeights.seen
    for a, b in zip(s0_sgd, s0_adam):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(s1_sgd, s1_adam):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(s0_sgd[0], s1_sgd[0])
    assert len(df) == 2 * 2 * 2
    assert list(df.columns[:3]) == ["arm", "seed", "epoch"]
    for col in (
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "test_loss",
        "test_accuracy",
        "lr",
        "epoch_time",
        "time",
    ):
        assert col in df, col
    assert df[df.arm == "sgd"].lr.eq(np.float32(0.1)).all()
    first = df[(df.arm == "adam") & (df.seed == 0)]
    assert first.time.is_monotonic_increasing
    np.testing.assert_allclose(first.time, first.epoch_time.cumsum())


def test_initial_weights_are_those_every_arm_starts_from(tiny):
    RecordInitialWeights.seen = []
    arm = training.Arm(
        lambda: keras.optimizers.SGD(0.1), callbacks=lambda: [RecordInitialWeights()]
    )
    training.run_experiment(
        build_tiny,
        {"a": arm},
        tiny,
        seeds=[0, 1],
        epochs=1,
        progress=False,
        evaluate_test=False,
    )
    np.random.default_rng().normal(
        size=3
    )  # unrelated randomness in between changes nothing
    keras.random.normal((3,))
    for seed, seen in zip([0, 1], RecordInitialWeights.seen):
        weights = training.initial_weights(build_tiny, seed)
        assert len(weights) == len(seen)
        for a, b in zip(weights, seen):
            np.testing.assert_array_equal(a, b)


def test_identical_arms_see_identical_data_order(tiny):
    arms = {
        name: training.Arm(lambda: keras.optimizers.SGD(0.05)) for name in ("a", "b")
    }
    df = training.run_experiment(
        build_tiny, arms, tiny, seeds=[3], epochs=2, progress=False
    )
    np.testing.assert_allclose(
        df[df.arm == "a"].loss.to_numpy(), df[df.arm == "b"].loss.to_numpy(), rtol=1e-6
    )


def test_arm_epochs_and_batch_size_override(tiny):
    arms = {
        "short": training.Arm("sgd", epochs=1, batch_size=200),
        "long": training.Arm("sgd"),
    }
    df = training.run_experiment(
        build_tiny, arms, tiny, seeds=[0], epochs=3, progress=False, evaluate_test=False
    )
    assert df.groupby("arm").epoch.max().to_dict() == {"short": 1, "long": 3}
    assert "test_accuracy" not in df


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"arms": {}}, "Argument `arms` must be a mapping that names at least one arm"),
        (
            {"arms": {"x": "sgd"}},
            "Argument `arms\\['x'\\]` must be an Arm. Received: arms\\['x'\\]='sgd'",
        ),
        ({"seeds": []}, "Argument `seeds` must be a sequence of at least one seed"),
    ],
)
def test_run_experiment_bad_arguments(tiny, kwargs, match):
    args = {"arms": {"x": training.Arm("sgd")}, "seeds": [0], **kwargs}
    with pytest.raises(ValueError, match=match):
        training.run_experiment(
            build_tiny,
            args["arms"],
            tiny,
            seeds=args["seeds"],
            epochs=1,
            progress=False,
        )


def test_optimizer_instance_is_rejected(tiny):
    with pytest.raises(ValueError, match="zero-argument callable"):
        training.run_experiment(
            build_tiny,
            {"x": training.Arm(keras.optimizers.SGD())},
            tiny,
            seeds=[0],
            epochs=1,
            progress=False,
        )


def test_set_seed_validates_and_reproduces():
    training.set_seed(5)
    a = np.random.rand()
    training.set_seed(5)
    assert np.random.rand() == a
    with pytest.raises(
        ValueError,
        match="Argument `seed` must be an integer >= 0. Received: seed=-1",
    ):
        training.set_seed(-1)


@pytest.fixture
def table():
    # Two arms, two seeds, three epochs, made by hand.
    rows = []
    acc = {
        ("a", 0): [0.5, 0.8, 0.9],
        ("a", 1): [0.6, 0.7, 0.95],
        ("b", 0): [0.4, 0.5, 0.6],
        ("b", 1): [0.3, 0.6, 0.7],
    }
    for (arm, seed), values in acc.items():
        for e, v in enumerate(values, start=1):
            rows.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "epoch": e,
                    "test_accuracy": v,
                    "time": 2.0 * e,
                }
            )
    return pd.DataFrame(rows)


def test_epochs_to_target_by_hand(table):
    out = training.epochs_to_target(table, 0.7).set_index(["arm", "seed"])
    assert out.loc[("a", 0), "epochs"] == 2 and out.loc[("a", 0), "seconds"] == 4.0
    assert out.loc[("a", 1), "epochs"] == 2
    assert math.isnan(out.loc[("b", 0), "epochs"]) and math.isnan(
        out.loc[("b", 0), "seconds"]
    )
    assert out.loc[("b", 1), "epochs"] == 3


def test_compare_by_hand(table):
    out = training.compare(table, baseline="b")
    assert list(out.index) == ["a", "b"]
    assert out.loc["a", "mean"] == pytest.approx(0.925)
    assert out.loc["a", "std"] == pytest.approx(np.std([0.9, 0.95], ddof=1))
    assert out.loc["b", "n"] == 2
    # Paired by seed: differences 0.9 - 0.6 = 0.3 and 0.95 - 0.7 = 0.25.
    d = np.array([0.3, 0.25])
    half = sps.t.ppf(0.975, 1) * d.std(ddof=1) / math.sqrt(2)
    assert out.loc["a", "diff"] == pytest.approx(0.275)
    assert out.loc["a", "ci_low"] == pytest.approx(0.275 - half)
    assert out.loc["a", "ci_high"] == pytest.approx(0.275 + half)
    t = 0.275 / (d.std(ddof=1) / math.sqrt(2))
    assert out.loc["a", "p_vs_b"] == pytest.approx(2 * sps.t.sf(t, 1))
    assert out.loc["a", "p_adj_vs_b"] == pytest.approx(
        out.loc["a", "p_vs_b"]
    )  # a family of one
    assert (
        out.loc["a", "verdict"] == "no difference detected at this n"
    )  # p = 0.07 with n = 2
    assert math.isnan(out.loc["b", "p_vs_b"]) and out.loc["b", "verdict"] == ""
    at2 = training.compare(table, epoch=2)
    assert at2.loc["b", "mean"] == pytest.approx(0.55)
    assert at2.loc["a", "time"] == 4.0
    assert "diff" not in at2


def _family_table(seeds=range(6)):
    # Per-seed effects shared by every arm; "good" adds a clear gain, "same" only noise.
    rng = np.random.default_rng(7)
    seed_effect = rng.normal(0, 0.03, len(seeds))
    values = {
        "base": 0.9 + seed_effect,
        "good": 0.92 + seed_effect + rng.normal(0, 0.002, len(seeds)),
        "same": 0.9 + seed_effect + rng.normal(0, 0.002, len(seeds)),
        "bad": 0.88 + seed_effect + rng.normal(0, 0.002, len(seeds)),
    }
    rows = [
        {
            "arm": arm,
            "seed": s,
            "epoch": 1,
            "test_accuracy": v[i],
            "test_loss": 1 - v[i],
            "time": 1.0,
        }
        for arm, v in values.items()
        for i, s in enumerate(seeds)
    ]
    return pd.DataFrame(rows), values


def test_compare_holm_within_the_table_and_verdicts():
    df, values = _family_table()
    out = training.compare(df, baseline="base")
    raw = {
        arm: sps.ttest_rel(values[arm], values["base"]).pvalue
        for arm in ("good", "same", "bad")
    }
    for arm in raw:
        assert out.loc[arm, "p_vs_base"] == pytest.approx(raw[arm])
        assert out.loc[arm, "diff"] == pytest.approx(
            np.mean(values[arm] - values["base"])
        )
    # Holm by hand: sorted p times (m - rank), then the running maximum.
    order = sorted(raw, key=raw.get)
    running, holm = 0.0, {}
    for rank, arm in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * raw[arm]))
        holm[arm] = running
    for arm in raw:
        assert out.loc[arm, "p_adj_vs_base"] == pytest.approx(holm[arm])
    assert out.loc[["good", "same", "bad"], "verdict"].tolist() == [
        "better",
        "no difference detected at this n",
        "worse",
    ]
    # A loss: lower is better, so the verdicts turn around.
    loss = training.compare(df, "test_loss", baseline="base")
    assert (
        loss.loc["good", "verdict"] == "better"
        and loss.loc["bad", "verdict"] == "worse"
    )
    assert loss.loc["good", "diff"] == pytest.approx(-out.loc["good", "diff"])


def test_compare_pairs_by_seed_not_by_row_order():
    df, values = _family_table()
    shuffled = df.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(
        training.compare(df, baseline="base"),
        training.compare(shuffled, baseline="base").loc[
            ["base", "good", "same", "bad"]
        ],
    )
    # A seed the baseline lacks is not a pair.
    partial = df[~((df.arm == "base") & (df.seed == 5))]
    out = training.compare(partial, baseline="base")
    assert out.loc["good", "n"] == 6
    assert len(training.paired_values(partial).dropna()) == 5
    # The pairs of seeds 0 to 4, from the table's own values: Student's paired t by hand.
    d = values["good"][:5] - values["base"][:5]
    t = d.mean() / (d.std(ddof=1) / math.sqrt(5))
    expected = 2 * sps.t.sf(abs(t), df=4)
    assert expected == pytest.approx(
        sps.ttest_rel(values["good"][:5], values["base"][:5]).pvalue
    )
    assert out.loc["good", "p_vs_base"] == pytest.approx(expected)


def test_compare_bad_arguments(table):
    with pytest.raises(ValueError, match="Argument `metric` must be a column"):
        training.compare(table, "nope")
    with pytest.raises(
        ValueError,
        match="Argument `epoch` must be an epoch that a run in the table reached",
    ):
        training.compare(table, epoch=9)
    with pytest.raises(
        ValueError, match="Argument `baseline` must be None or one of the arms"
    ):
        training.compare(table, baseline="c")
    with pytest.raises(ValueError, match="Argument `metric` must be a column"):
        training.epochs_to_target(table, 0.5, metric="val")


def test_has_batch_hooks():
    class PerBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    assert training.has_batch_hooks([PerBatch()])
    assert not training.has_batch_hooks(
        [keras.callbacks.EarlyStopping(), keras.callbacks.History()]
    )
    assert not training.has_batch_hooks([])


class RecordStepsPerExecution(keras.callbacks.Callback):
    seen = []

    def on_train_begin(self, logs=None):
        RecordStepsPerExecution.seen.append(self.model.steps_per_execution)


class PerBatchNoop(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        pass


def test_whole_epoch_per_call_gives_the_same_numbers(tiny):
    # Batch norm and dropout (random masks drawn inside the loop), a schedule inside
    # the step and an epoch-level callback: grouping steps must change nothing.
    def build():
        return models.cnn1d((40, 1), filters=(8, 8), norm="batch", dropout=0.3)

    steps = 3 * 5  # 300 samples / batch 64 -> 5 steps per epoch
    arms = {
        "one-cycle": training.Arm(
            lambda: keras.optimizers.SGD(schedules.OneCycle(0.3, steps), momentum=0.9),
            callbacks=lambda: [RecordStepsPerExecution()],
        ),
        "step": training.Arm(
            lambda: keras.optimizers.SGD(0.1),
            callbacks=lambda: [
                RecordStepsPerExecution(),
                keras.callbacks.LearningRateScheduler(lambda e, lr: 0.1 * 0.5**e),
            ],
        ),
        "per batch": training.Arm(
            lambda: keras.optimizers.SGD(0.1),
            callbacks=lambda: [RecordStepsPerExecution(), PerBatchNoop()],
        ),
    }
    RecordStepsPerExecution.seen = []
    fast = training.run_experiment(
        build, arms, tiny, seeds=[0, 1], epochs=3, progress=False
    )
    # Keras's PyTorch backend takes one step per call only.
    epoch = 1 if keras.backend.backend() == "torch" else 5
    assert RecordStepsPerExecution.seen == [epoch, epoch, 1] * 2
    RecordStepsPerExecution.seen = []
    slow = training.run_experiment(
        build, arms, tiny, seeds=[0, 1], epochs=3, progress=False, steps_per_execution=1
    )
    assert RecordStepsPerExecution.seen == [1, 1, 1] * 2
    cols = [
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "test_loss",
        "test_accuracy",
        "lr",
    ]
    np.testing.assert_allclose(
        fast[cols].to_numpy(), slow[cols].to_numpy(), rtol=2e-5, atol=1e-6
    )
    assert fast.loss.nunique() > 10  # the runs differ from each other


@pytest.mark.parametrize("value", [0, -2, 1.5, True, "fast"])
def test_steps_per_execution_rejects(tiny, value):
    with pytest.raises(ValueError, match=f"Received: steps_per_execution={value!r}"):
        training.run_experiment(
            build_tiny,
            {"x": training.Arm("sgd")},
            tiny,
            seeds=[0],
            epochs=1,
            progress=False,
            steps_per_execution=value,
        )


def test_arm_build_model_replaces_the_experiments_builder(tiny):
    """`Arm(build_model=...)`, named as `run_experiment`'s builder (issue 22)."""
    calls = []

    def build_other():
        calls.append(1)
        return build_tiny()

    arms = {
        "own": training.Arm("sgd", build_model=build_other),
        "shared": training.Arm("sgd"),
    }
    training.run_experiment(build_tiny, arms, tiny, seeds=[0], epochs=1, progress=False)
    assert len(calls) == 1  # the "own" arm's model, once for its one seed
    with pytest.raises(TypeError, match="unexpected keyword argument 'build'"):
        training.Arm("sgd", build=build_tiny)
