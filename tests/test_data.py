import contextlib
import random
import socket

import keras
import numpy as np
import pytest

from lrbook import data


def test_mnist1d_default_shapes_and_dtypes():
    ds = data.load("mnist1d")
    assert ds.x_train.shape == (4000, 40, 1) and ds.x_test.shape == (1000, 40, 1)
    assert ds.y_train.shape == (4000,) and ds.y_test.shape == (1000,)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert ds.input_shape == (40, 1) and ds.num_classes == 10
    assert set(np.unique(ds.y_train)) == set(range(10))
    assert ds.validation_data is None


def test_mnist1d_large_variant():
    ds = data.load("mnist1d", n_train=16000)
    assert len(ds.y_train) == 16000 and len(ds.y_test) == 4000


def test_mnist1d_deterministic_for_a_seed_and_different_across_seeds():
    a, b = data.load("mnist1d", seed=3), data.load("mnist1d", seed=3)
    c = data.load("mnist1d", seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)


def test_mnist1d_does_not_touch_global_rngs():
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    data._mnist1d_arrays.cache_clear()
    data.load("mnist1d", seed=7)
    assert np.random.rand() == expected_np
    assert random.random() == expected_py


def test_returned_arrays_are_copies():
    a = data.load("mnist1d")
    a.x_train[:] = 0
    b = data.load("mnist1d")
    assert b.x_train.std() > 0.5


def test_validation_split_is_stratified_and_deterministic():
    ds = data.load("mnist1d", validation_split=0.2, seed=1)
    assert len(ds.y_train) == 3200 and len(ds.y_val) == 800
    counts_val = np.bincount(ds.y_val, minlength=10)
    counts_all = counts_val + np.bincount(ds.y_train, minlength=10)
    np.testing.assert_allclose(counts_val, 0.2 * counts_all, atol=1)
    again = data.load("mnist1d", validation_split=0.2, seed=1)
    np.testing.assert_array_equal(ds.x_val, again.x_val)
    assert ds.validation_data[0] is ds.x_val


def test_digits_offline():
    ds = data.load("digits")
    assert ds.x_train.shape[1:] == (8, 8, 1)
    assert len(ds.y_train) + len(ds.y_test) == 1797
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    subset = data.load("digits", n_train=500, validation_split=0.1)
    assert len(subset.y_train) + len(subset.y_val) == 500


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "mnist"}, "Argument `name` must be one of"),
        (
            {"n_train": 0},
            "Argument `n_train` must be an integer >= 1. Received: n_train=0",
        ),
        ({"n_train": 1001}, "Argument `n_train` must be a multiple of 8"),
        (
            {"validation_split": 1.0},
            (
                r"Argument `validation_split` must be a number in \[0, 1\). "
                r"Received: validation_split=1.0"
            ),
        ),
        ({"name": "digits", "n_train": 99999}, "Argument `n_train` must be at most"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load(**kwargs)


@pytest.mark.parametrize("name", ["fashion_mnist", "cifar10", "rock_paper_scissors"])
def test_online_sets_fail_fast_offline_naming_the_alternatives(
    name, monkeypatch, tmp_path
):
    if name == "rock_paper_scissors" and keras.backend.backend() != "tensorflow":
        pytest.skip(
            "rock_paper_scissors is read with TensorFlow: on this backend it fails "
            "first naming the backend (tests/test_backends.py)"
        )
    monkeypatch.setattr(data, "_reachable", lambda host, **kw: False)
    with pytest.raises(data.DatasetUnavailableError) as err:
        data.load(name, data_dir=str(tmp_path))
    message = str(err.value)
    assert (
        name in message and "load('mnist1d')" in message and "load('digits')" in message
    )


@pytest.mark.parametrize("failure", [socket.timeout, ConnectionRefusedError, OSError])
def test_offline_probe_is_one_connection_bounded_by_its_timeout(
    failure, monkeypatch, tmp_path
):
    """Offline, ``load`` fails after one probe that waits at most ``_PROBE_TIMEOUT_S``.

    The network layer is replaced, so this runs the same online (GitHub's runners)
    and offline: the probe that would time out, or be refused, raises here.
    """
    calls = []

    def create_connection(address, timeout=None, *args, **kwargs):
        calls.append((address, timeout))
        raise failure("no network here")

    monkeypatch.setattr(data.socket, "create_connection", create_connection)
    with pytest.raises(
        data.DatasetUnavailableError, match="could not be reached within 3 s"
    ):
        data.load("fashion_mnist", data_dir=str(tmp_path))
    assert calls == [(("storage.googleapis.com", 443), data._PROBE_TIMEOUT_S)]
    assert 0 < data._PROBE_TIMEOUT_S <= 10


def test_probe_answers_true_when_the_connection_opens(monkeypatch):
    calls = []

    def create_connection(address, timeout=None, *args, **kwargs):
        calls.append((address, timeout))
        return contextlib.nullcontext()

    monkeypatch.setattr(data.socket, "create_connection", create_connection)
    assert data._reachable("example.org", timeout=0.5) is True
    assert calls == [(("example.org", 443), 0.5)]


def test_seed_draws_the_data_split_seed_cuts_it():
    base = data.load("mnist1d", validation_split=0.2)
    resplit = data.load("mnist1d", validation_split=0.2, split_seed=1)
    redrawn = data.load("mnist1d", validation_split=0.2, seed=1)
    # Same data set, cut differently: the union of train and validation is the same rows.
    rows = lambda d: sorted(map(bytes, np.concatenate([d.x_train, d.x_val])))
    assert rows(base) == rows(resplit)
    assert not np.array_equal(base.x_val, resplit.x_val)
    np.testing.assert_array_equal(base.x_test, resplit.x_test)
    # A new draw: other samples.
    assert rows(base) != rows(redrawn)
    assert not np.array_equal(base.x_test, redrawn.x_test)
    assert base.metadata["split_seed"] == 0 and resplit.metadata["split_seed"] == 1


def test_digits_splits_follow_split_seed_and_refuse_a_seed():
    a, b = data.load("digits"), data.load("digits", split_seed=1)
    assert not np.array_equal(a.y_test, b.y_test)
    with pytest.raises(
        ValueError, match=r"Argument `seed` must be None for 'digits'.*Received: seed=3"
    ):
        data.load("digits", seed=3)
    with pytest.raises(
        ValueError, match=r"Argument `split_seed` must be an integer >= 0"
    ):
        data.load("mnist1d", split_seed=-1)
