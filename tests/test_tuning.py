import keras
import numpy as np
import pytest

from lrbook import data, models, training
from lrbook.tuning import TuningResult, check_equal_effort, tune


@pytest.fixture(scope="module")
def tiny():
    return data.load("mnist1d", n_train=400, validation_split=0.25)


def build_tiny():
    return models.mlp((40, 1), hidden=(16,))


def sgd_arm(lr):
    return training.Arm(lambda: keras.optimizers.SGD(lr))


@pytest.fixture(scope="module")
def lr_result(tiny):
    return tune(build_tiny, sgd_arm, [1e-4, 0.3, 0.03], tiny, seeds=[0, 1], epochs=2)


def test_tune_scores_on_validation_and_never_reads_test(lr_result):
    r = lr_result
    assert "test_accuracy" not in r.runs and "test_loss" not in r.runs
    assert (r.metric, r.mode, r.seeds, r.effort) == ("val_accuracy", "max", [0, 1], 6)
    # The table from the runs, computed here independently.
    last = r.runs[r.runs.epoch == 2]
    for lr, label in ((1e-4, "0.0001"), (0.3, "0.3"), (0.03, "0.03")):
        values = last[last.arm == label].val_accuracy
        assert len(values) == 2
        assert r.table.loc[lr, "mean"] == pytest.approx(values.mean())
        assert r.table.loc[lr, "std"] == pytest.approx(values.std(ddof=1))
    means = r.table["mean"]
    assert r.best == means.idxmax()
    assert r.table.loc[r.best, "rank"] == 1
    assert sorted(r.table["rank"]) == [1, 2, 3]
    assert list(r.table.index) == [1e-4, 0.3, 0.03]  # grid order kept
    assert "best=" in repr(r)


def test_tune_every_point_of_a_seed_starts_from_the_same_weights(tiny):
    # Two identical settings under different labels give identical runs.
    r = tune(build_tiny, lambda s: sgd_arm(0.05), ["a", "b"], tiny, seeds=[3], epochs=1)
    a, b = (r.runs[r.runs.arm == k].val_loss.to_numpy() for k in ("a", "b"))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert r.best == "a"  # a tie goes to the first in grid order


def test_tune_dict_grid_and_loss_metric(tiny):
    seen = []

    def make(lr, momentum):
        seen.append((lr, momentum))
        return training.Arm(lambda: keras.optimizers.SGD(lr, momentum=momentum))

    r = tune(
        build_tiny,
        make,
        {"lr": [0.01, 0.1], "momentum": [0.0, 0.9]},
        tiny,
        seeds=[0],
        epochs=1,
        metric="val_loss",
    )
    assert seen == [(0.01, 0.0), (0.01, 0.9), (0.1, 0.0), (0.1, 0.9)]
    assert r.mode == "min" and r.effort == 4
    assert list(r.table.index.names) == ["lr", "momentum"]
    assert isinstance(r.best, dict) and set(r.best) == {"lr", "momentum"}
    assert (
        r.table.loc[(r.best["lr"], r.best["momentum"]), "mean"] == r.table["mean"].min()
    )
    assert set(r.runs.arm) == {
        "lr=0.01, momentum=0",
        "lr=0.01, momentum=0.9",
        "lr=0.1, momentum=0",
        "lr=0.1, momentum=0.9",
    }


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"metric": "test_accuracy"},
            "must be a column not computed on the test split.*Received: metric='test_accuracy'",
        ),
        ({"metric": "test_loss"}, "Received: metric='test_loss'"),
        (
            {"grid": []},
            "Argument `grid` must be a sequence of at least one setting. Received: grid=\\[\\]",
        ),
        ({"grid": [0.1, 0.1]}, "must be settings without repeats"),
        (
            {"grid": {}},
            "Argument `grid` must be a mapping that names at least one parameter",
        ),
        (
            {"grid": {"lr": []}},
            (
                "Argument `grid\\['lr'\\]` must be a non-empty list of values. "
                "Received: grid\\['lr'\\]=\\[\\]"
            ),
        ),
        (
            {"seeds": []},
            "Argument `seeds` must be a sequence of at least one seed. Received: seeds=\\[\\]",
        ),
        ({"mode": "largest"}, "Received: mode='largest'"),
        (
            {"make_arm": lambda lr: "sgd"},
            r"Argument `make_arm\(0.1\)` must be an lrbook.training.Arm .*Received: make_arm\(0.1\)='sgd'",
        ),
        ({"metric": "val_nope"}, "must be a column of the runs"),
    ],
)
def test_tune_rejects(tiny, kwargs, match):
    args = {
        "make_arm": sgd_arm,
        "grid": [0.1],
        "seeds": [0],
        "metric": "val_accuracy",
        "mode": "auto",
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        tune(
            build_tiny,
            args["make_arm"],
            args["grid"],
            tiny,
            seeds=args["seeds"],
            epochs=1,
            metric=args["metric"],
            mode=args["mode"],
        )


def test_tune_needs_a_validation_split_for_a_validation_metric():
    no_val = data.load("mnist1d", n_train=200)
    assert no_val.validation_data is None
    with pytest.raises(
        ValueError,
        match="must be a data set with a validation split to select on 'val_accuracy'",
    ):
        tune(build_tiny, sgd_arm, [0.1], no_val, seeds=[0], epochs=1)


def test_tune_refuses_when_every_run_diverged(tiny):
    with pytest.raises(
        ValueError, match="one setting at least whose 'val_loss' is finite"
    ):
        tune(build_tiny, sgd_arm, [1e30], tiny, seeds=[0], epochs=1, metric="val_loss")


def _result(points, seeds):
    import pandas as pd

    return TuningResult(
        best=0,
        table=pd.DataFrame({"mean": range(points)}),
        metric="val_accuracy",
        mode="max",
        seeds=list(range(seeds)),
        runs=None,
    )


def test_check_equal_effort():
    assert (
        check_equal_effort({"one-cycle": _result(4, 3), "constant": _result(6, 2)})
        == 12
    )
    with pytest.raises(ValueError, match="one-cycle: 4 x 3 = 12, adam: 1 x 3 = 3"):
        check_equal_effort({"one-cycle": _result(4, 3), "adam": _result(1, 3)})
    assert (
        check_equal_effort(
            {"one-cycle": _result(4, 3), "adam": _result(1, 3)},
            exempt={"adam": "its default is the tuned one"},
        )
        == 12
    )
    with pytest.raises(
        ValueError, match="at least one arm to check.*Received: results=<arms"
    ):
        check_equal_effort({"adam": _result(1, 3)}, exempt={"adam": "reason"})
