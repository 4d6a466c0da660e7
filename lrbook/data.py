"""Data sets for the book: offline by default, online loaders kept real.

``load("mnist1d")`` (the default everywhere in the book) generates MNIST-1D
(Greydanus, 2020) procedurally with the ``mnist1d`` package, so it needs no
network. ``load("digits")`` uses scikit-learn's bundled 8x8 digits. The image
sets (``"fashion_mnist"``, ``"cifar10"``, ``"rock_paper_scissors"``) use their
real online loaders and are cached by them; without a network and without a
cached copy they fail within seconds with :class:`DatasetUnavailableError`,
which names the offline alternatives. All of them work on every Keras backend
but ``"rock_paper_scissors"``, which tensorflow-datasets reads with TensorFlow.
"""

from __future__ import annotations

import functools
import os
import random
import socket
from dataclasses import dataclass, field

import numpy as np

from lrbook._validation import check, fraction, integer, one_of

__all__ = [
    "NAMES",
    "OFFLINE_NAMES",
    "Dataset",
    "DatasetUnavailableError",
    "load",
]

#: Every name :func:`load` accepts.
NAMES = ("mnist1d", "digits", "fashion_mnist", "cifar10", "rock_paper_scissors")
#: The names that never need a network.
OFFLINE_NAMES = ("mnist1d", "digits")

_PROBE_TIMEOUT_S = 3.0
# Where each online data set is downloaded from (host probed before loading).
_HOSTS = {
    "fashion_mnist": "storage.googleapis.com",
    "cifar10": "www.cs.toronto.edu",
    "rock_paper_scissors": "storage.googleapis.com",
}


class DatasetUnavailableError(RuntimeError):
    """An online data set was asked for, is not cached, and cannot be downloaded.

    Example:
        Not run as a doctest: it downloads Fashion-MNIST when the machine is online.

        >>> try:  # doctest: +SKIP
        ...     data = load("fashion_mnist")
        ... except DatasetUnavailableError:
        ...     data = load("mnist1d")  # the offline alternative the message names
    """


@dataclass
class Dataset:
    """Train/test (and optional validation) arrays of one data set.

    Inputs are float32, channels-last (``(n, length, 1)`` for MNIST-1D,
    ``(n, height, width, channels)`` for images); labels are int32 class ids.

    Example:
        >>> data = load("digits", validation_split=0.1)
        >>> data.input_shape, data.num_classes, len(data.x_val) + len(data.x_train)
        ((8, 8, 1), 10, ...)
        >>> model = keras.Sequential([keras.Input(data.input_shape), keras.layers.Flatten(), keras.layers.Dense(10)])
        >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> history = model.fit(data.x_train, data.y_train, validation_data=data.validation_data,
        ...                     epochs=1, verbose=0)
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    num_classes: int = 10
    metadata: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple:
        """Shape of one input, without the batch dimension."""
        return tuple(self.x_train.shape[1:])

    @property
    def validation_data(self):
        """``(x_val, y_val)`` for ``fit``, or ``None`` without a validation split."""
        if self.x_val is None:
            return None
        return (self.x_val, self.y_val)

    def __repr__(self) -> str:
        parts = [f"train={len(self.y_train)}"]
        if self.y_val is not None:
            parts.append(f"val={len(self.y_val)}")
        parts.append(f"test={len(self.y_test)}")
        return (
            f"Dataset({self.name!r}, {', '.join(parts)}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes})"
        )


def load(
    name: str = "mnist1d",
    *,
    seed: int | None = None,
    split_seed: int = 0,
    n_train: int | None = None,
    validation_split: float = 0.0,
    data_dir: str | None = None,
) -> Dataset:
    """Load a data set by name, deterministically for its two seeds.

    Two seeds, for two different things: ``seed`` draws the data set itself
    (only MNIST-1D is generated), ``split_seed`` cuts it (the digits'
    train/test split, an ``n_train`` subset and the validation split). So a
    new validation split of the same data is ``split_seed=1``, and a new draw
    of MNIST-1D with the usual split is ``seed=1``.

    Args:
        name: one of :data:`NAMES`.
        seed: seed of the generation, MNIST-1D only (default 42, which gives
            the published data set). The other data sets are fixed files:
            giving them a ``seed`` is a ``ValueError``.
        split_seed: seed of every split (an integer >= 0; default 0).
        n_train: number of training samples before the validation split.
            MNIST-1D: any multiple of 8 (default 4000, the published size;
            16000 is the larger variant), with a test set a quarter that size.
            Other data sets: a seeded subset of the training set (default: all).
        validation_split: fraction of the training samples held out, stratified
            by class, as ``x_val``/``y_val``. ``0`` gives no validation set.
        data_dir: cache folder of the online loaders (default: Keras's).

    Returns:
        A :class:`Dataset`.

    Raises:
        ValueError: unknown name, a ``seed`` for a data set that is not
            generated, a negative ``split_seed``, non-positive ``n_train``, or
            a ``validation_split`` outside ``[0, 1)``.
        DatasetUnavailableError: an online data set that is not cached and
            cannot be reached; the message names the offline alternatives.
        ImportError: ``"rock_paper_scissors"`` (read with tensorflow-datasets)
            when Keras runs on JAX or PyTorch; the message names the backend
            and what to install.

    Example:
        >>> data = load("mnist1d", n_train=4000, validation_split=0.2)
        >>> data.x_train.shape, data.x_val.shape, data.x_test.shape
        ((3200, 40, 1), (800, 40, 1), (1000, 40, 1))
    """
    one_of("name", name, NAMES)
    check(
        "seed",
        seed,
        seed is None or name == "mnist1d",
        f"None for {name!r}, a fixed data set (its splits follow `split_seed`)",
    )
    split_seed = integer("split_seed", split_seed, low=0)
    if n_train is not None:
        integer("n_train", n_train, low=1)
    fraction("validation_split", validation_split)

    if name == "mnist1d":
        data = _load_mnist1d(seed=42 if seed is None else seed, n_train=n_train or 4000)
    elif name == "digits":
        data = _load_digits(seed=split_seed)
    else:
        data = _load_online(name, data_dir=data_dir)

    rng = np.random.default_rng(split_seed)
    if n_train is not None and name != "mnist1d":
        check(
            "n_train",
            n_train,
            n_train <= len(data.y_train),
            f"at most {len(data.y_train)} for {name!r}",
        )
        keep = np.sort(rng.permutation(len(data.y_train))[:n_train])
        data.x_train, data.y_train = data.x_train[keep], data.y_train[keep]
    if validation_split > 0:
        train_idx, val_idx = _stratified_split(data.y_train, validation_split, rng)
        data.x_val, data.y_val = data.x_train[val_idx], data.y_train[val_idx]
        data.x_train, data.y_train = data.x_train[train_idx], data.y_train[train_idx]
    data.metadata.update(
        seed=seed,
        split_seed=split_seed,
        n_train=len(data.y_train),
        validation_split=validation_split,
    )
    return data


def _stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator):
    """Indices (train, held-out) with ``fraction`` of each class held out."""
    held = []
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        k = int(round(fraction * len(idx)))  # noqa: RUF046  (round of a NumPy float)
        held.append(rng.permutation(idx)[:k])
    held = np.sort(np.concatenate(held))
    mask = np.ones(len(y), dtype=bool)
    mask[held] = False
    return np.flatnonzero(mask), held


@functools.lru_cache(maxsize=8)
def _mnist1d_arrays(seed: int, n_train: int):
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = int(seed)
    args.num_samples = n_train * 5 // 4
    args.train_split = n_train / args.num_samples
    # make_dataset reseeds NumPy's and Python's global RNGs: give them back.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return (
        raw["x"].astype("float32")[..., None],
        raw["y"].astype("int32"),
        raw["x_test"].astype("float32")[..., None],
        raw["y_test"].astype("int32"),
    )


def _load_mnist1d(seed: int, n_train: int) -> Dataset:
    check("n_train", n_train, n_train % 8 == 0, "a multiple of 8 for 'mnist1d'")
    x, y, xt, yt = (a.copy() for a in _mnist1d_arrays(seed, n_train))
    return Dataset(
        "mnist1d",
        x,
        y,
        xt,
        yt,
        num_classes=10,
        metadata={
            "source": "mnist1d.data.make_dataset (procedural, offline)",
            "generation_seed": seed,
        },
    )


def _load_digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.images / 16.0).astype("float32")[..., None]
    y = bunch.target.astype("int32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=seed, stratify=y
    )
    return Dataset(
        "digits",
        x_train,
        y_train,
        x_test,
        y_test,
        num_classes=10,
        metadata={"source": "sklearn.datasets.load_digits (bundled, offline)"},
    )


def _keras_cache_dir(data_dir: str | None) -> str:
    if data_dir:
        return data_dir
    base = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(base, "datasets")


def _is_cached(name: str, data_dir: str | None) -> bool:
    root = _keras_cache_dir(data_dir)
    if name == "fashion_mnist":
        folder = os.path.join(root, "fashion-mnist")
        files = [
            "train-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
        ]
        return all(os.path.exists(os.path.join(folder, f)) for f in files)
    if name == "cifar10":
        return os.path.isdir(os.path.join(root, "cifar-10-batches-py"))
    if name == "rock_paper_scissors":
        tfds_root = data_dir or os.environ.get(
            "TFDS_DATA_DIR",
            os.path.join(os.path.expanduser("~"), "tensorflow_datasets"),
        )
        return os.path.isdir(os.path.join(tfds_root, "rock_paper_scissors"))
    return False


def _reachable(host: str, port: int = 443, timeout: float = _PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _load_online(name: str, data_dir: str | None) -> Dataset:
    if name == "rock_paper_scissors":  # TensorFlow-only: say so before any download
        from lrbook.env import require_tensorflow

        require_tensorflow(_TFDS_FEATURE)
    if not _is_cached(name, data_dir) and not _reachable(_HOSTS[name]):
        raise DatasetUnavailableError(
            f"Data set {name!r} is not cached and must be downloaded from {_HOSTS[name]}, "
            f"which could not be reached within {_PROBE_TIMEOUT_S:.0f} s (no network?). "
            f"Offline, use lrbook.data.load('mnist1d') (procedural MNIST-1D, the book's default) "
            f"or lrbook.data.load('digits') (scikit-learn's bundled 8x8 digits)."
        )
    if name == "rock_paper_scissors":
        return _load_rock_paper_scissors(data_dir)
    import keras

    module = {
        "fashion_mnist": keras.datasets.fashion_mnist,
        "cifar10": keras.datasets.cifar10,
    }[name]
    (x, y), (xt, yt) = module.load_data()
    if x.ndim == 3:
        x, xt = x[..., None], xt[..., None]
    return Dataset(
        name,
        (x / 255.0).astype("float32"),
        y.reshape(-1).astype("int32"),
        (xt / 255.0).astype("float32"),
        yt.reshape(-1).astype("int32"),
        num_classes=10,
        metadata={"source": f"keras.datasets.{name} (online, cached)"},
    )


#: What the TensorFlow-only loader says when Keras runs on another backend.
_TFDS_FEATURE = (
    "Data set 'rock_paper_scissors' (read with tensorflow-datasets and tf.data)"
)


def _load_rock_paper_scissors(data_dir: str | None, image_size: int = 128) -> Dataset:
    from lrbook.env import require_tensorflow

    tf = require_tensorflow(_TFDS_FEATURE)
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:  # pragma: no cover - depends on the install
        raise DatasetUnavailableError(
            "Data set 'rock_paper_scissors' needs the tensorflow-datasets package "
            "(pip install tensorflow-datasets). Offline, use lrbook.data.load('mnist1d') "
            "or lrbook.data.load('digits')."
        ) from err
    splits = tfds.load(
        "rock_paper_scissors",
        split=["train", "test"],
        as_supervised=True,
        data_dir=data_dir,
    )

    def to_arrays(ds):
        ds = ds.map(
            lambda img, lbl: (
                tf.image.resize(img, (image_size, image_size)) / 255.0,
                lbl,
            )
        )
        xs, ys = zip(*tfds.as_numpy(ds))
        return np.stack(xs).astype("float32"), np.asarray(ys, dtype="int32")

    (x, y), (xt, yt) = (to_arrays(s) for s in splits)
    return Dataset(
        "rock_paper_scissors",
        x,
        y,
        xt,
        yt,
        num_classes=3,
        metadata={
            "source": "tensorflow_datasets rock_paper_scissors (online, cached)",
            "image_size": image_size,
        },
    )
