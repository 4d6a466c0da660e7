"""The small models the chapters share. Every builder returns an uncompiled
``keras.Model`` that outputs **logits**; :func:`compile_classifier` adds the
matching loss (sparse categorical cross-entropy ``from_logits=True``).

Parameter counts with the defaults (MNIST-1D input ``(40, 1)``, 10 classes),
checked by ``tests/test_models.py``:

=====================================  ==========
builder                                parameters
=====================================  ==========
``mlp((40, 1))``                       78,858
``cnn1d((40, 1))``                     12,106
``cnn1d((40, 1), norm="batch")``       12,394
``cnn2d((8, 8, 1))`` (digits)          21,386
``resnet((32, 32, 3))`` (ResNet-20)    274,042
``resnet1d((40, 1))`` (depth 8)        29,178
=====================================  ==========
"""

from __future__ import annotations

from lrbook._validation import check as _check
from lrbook.env import import_keras

import_keras()
import keras

__all__ = [
    "NORMS",
    "cnn1d",
    "cnn2d",
    "compile_classifier",
    "mlp",
    "resnet",
    "resnet1d",
]

#: The output layer always computes in float32, so logits and the loss stay float32 under a
#: ``mixed_float16`` policy (Keras's mixed-precision guide); under float32 it changes nothing.
_LOGITS_DTYPE = "float32"

#: Normalization layers a builder can insert after each hidden layer.
NORMS = (None, "batch", "layer", "group", "instance")


def _norm_layer(norm: str | None, groups: int, name: str):
    """The normalization layer for ``norm`` (applied over the channel axis)."""
    if norm is None:
        return None
    if norm == "batch":
        return keras.layers.BatchNormalization(name=name)
    if norm == "layer":
        return keras.layers.LayerNormalization(name=name)
    if norm == "group":
        return keras.layers.GroupNormalization(groups=groups, name=name)
    # Instance norm = group norm with one channel per group.
    return keras.layers.GroupNormalization(groups=-1, name=name)


def _validate_common(num_classes, norm, dropout, width):
    _check(
        "num_classes",
        num_classes,
        isinstance(num_classes, int) and num_classes >= 2,
        "an integer >= 2",
    )
    _check("norm", norm, norm in NORMS, f"one of {NORMS}")
    _check("dropout", dropout, 0.0 <= dropout < 1.0, "in [0, 1)")
    _check("width", width, width > 0, "> 0")


def mlp(
    input_shape,
    num_classes: int = 10,
    *,
    hidden=(256, 256),
    activation: str = "relu",
    dropout: float = 0.0,
    norm: str | None = None,
    width: float = 1.0,
    kernel_initializer="glorot_uniform",
    kernel_regularizer=None,
    name: str = "mlp",
) -> keras.Model:
    """A multilayer perceptron: ``Flatten -> [Dense -> norm -> act -> dropout] * k -> Dense``.

    Args:
        input_shape: shape of one input, e.g. ``(40, 1)``.
        num_classes: number of output logits.
        hidden: units of each hidden layer (before ``width`` scaling).
        activation: activation of the hidden layers.
        dropout: dropout rate after each hidden layer.
        norm: ``None``, ``"batch"`` or ``"layer"`` after each hidden Dense.
        width: multiplier on every hidden layer's units.
        kernel_initializer: initializer of every Dense kernel.
        kernel_regularizer: regularizer of every Dense kernel.
        name: model name.

    Example:
        >>> model = mlp((40, 1))
        >>> model.count_params()
        78858

    Used in: chapter 1 (optimizers), the regularization chapter.
    """
    _validate_common(num_classes, norm, dropout, width)
    _check(
        "norm",
        norm,
        norm in (None, "batch", "layer"),
        "None, 'batch' or 'layer' for an MLP",
    )
    _check(
        "hidden",
        hidden,
        len(hidden) >= 1 and all(int(h) > 0 for h in hidden),
        "a non-empty list of positive ints",
    )
    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.Flatten()(inputs)
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(
            max(1, int(round(units * width))),
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            use_bias=norm != "batch",
            name=f"dense_{i}",
        )(x)
        layer = _norm_layer(norm, groups=8, name=f"norm_{i}")
        if layer is not None:
            x = layer(x)
        x = keras.layers.Activation(activation, name=f"act_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(
        num_classes,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=kernel_regularizer,
        dtype=_LOGITS_DTYPE,
        name="logits",
    )(x)
    return keras.Model(inputs, outputs, name=name)


def _conv_net(
    conv,
    pool,
    input_shape,
    num_classes,
    filters,
    kernel_size,
    norm,
    groups,
    dropout,
    width,
    activation,
    kernel_regularizer,
    name,
):
    _validate_common(num_classes, norm, dropout, width)
    _check(
        "filters",
        filters,
        len(filters) >= 1 and all(int(f) > 0 for f in filters),
        "a non-empty list of positive ints",
    )
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    for i, f in enumerate(filters):
        channels = max(1, int(round(f * width)))
        x = conv(
            channels,
            kernel_size,
            padding="same",
            use_bias=norm != "batch",
            kernel_regularizer=kernel_regularizer,
            name=f"conv_{i}",
        )(x)
        layer = _norm_layer(norm, groups=min(groups, channels), name=f"norm_{i}")
        if layer is not None:
            x = layer(x)
        x = keras.layers.Activation(activation, name=f"act_{i}")(x)
        x = pool(2, name=f"pool_{i}")(x)
    x = keras.layers.Flatten()(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(
        num_classes,
        kernel_regularizer=kernel_regularizer,
        dtype=_LOGITS_DTYPE,
        name="logits",
    )(x)
    return keras.Model(inputs, outputs, name=name)


def cnn1d(
    input_shape=(40, 1),
    num_classes: int = 10,
    *,
    filters=(32, 32, 32),
    kernel_size: int = 5,
    norm: str | None = None,
    groups: int = 8,
    dropout: float = 0.0,
    width: float = 1.0,
    activation: str = "relu",
    kernel_regularizer=None,
    name: str = "cnn1d",
) -> keras.Model:
    """A 1-D CNN for MNIST-1D: ``[Conv1D -> norm -> act -> MaxPool(2)] * k -> Flatten -> [Dropout] -> Dense``.

    With ``norm="batch"`` the convolutions drop their bias (batch norm's
    ``beta`` replaces it).

    Args:
        input_shape: shape of one input, ``(length, channels)``.
        num_classes: number of output logits.
        filters: channels of each convolution (before ``width`` scaling).
        kernel_size: convolution kernel length.
        norm: normalization after each convolution (see :data:`NORMS`).
        groups: groups of group normalization (capped at the channel count).
        dropout: dropout rate before the output layer.
        width: multiplier on every convolution's channels.
        activation: activation after each convolution.
        kernel_regularizer: regularizer of every kernel.
        name: model name.

    Example:
        >>> cnn1d().count_params(), cnn1d(norm="batch").count_params()
        (12106, 12394)

    Used in: every chapter (the book's default model).
    """
    return _conv_net(
        keras.layers.Conv1D,
        keras.layers.MaxPooling1D,
        input_shape,
        num_classes,
        filters,
        kernel_size,
        norm,
        groups,
        dropout,
        width,
        activation,
        kernel_regularizer,
        name,
    )


def cnn2d(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    *,
    filters=(32, 64),
    kernel_size: int = 3,
    norm: str | None = None,
    groups: int = 8,
    dropout: float = 0.0,
    width: float = 1.0,
    activation: str = "relu",
    kernel_regularizer=None,
    name: str = "cnn2d",
) -> keras.Model:
    """A 2-D CNN for image data (digits, Fashion-MNIST, CIFAR-10).

    Same structure as :func:`cnn1d` with ``Conv2D`` and ``MaxPooling2D``.

    Example:
        >>> cnn2d((8, 8, 1)).count_params()
        21386

    Used in: the schedules chapter (Fashion-MNIST variant), the LR-finder chapter (digits).
    """
    return _conv_net(
        keras.layers.Conv2D,
        keras.layers.MaxPooling2D,
        input_shape,
        num_classes,
        filters,
        kernel_size,
        norm,
        groups,
        dropout,
        width,
        activation,
        kernel_regularizer,
        name,
    )


def resnet(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    *,
    depth: int = 20,
    width: float = 1.0,
    norm: str | None = "batch",
    groups: int = 8,
    name: str = "resnet",
) -> keras.Model:
    """He et al.'s CIFAR ResNet (depth ``6n + 2``: ResNet-20, -32, -44, -56, -110) for image inputs.

    A 3x3 convolution with 16 channels, then three stages of ``n`` basic
    blocks (two 3x3 convolutions, ``norm`` and ReLU, plus the identity) with
    16, 32 and 64 channels (times ``width``); the first block of stages 2 and
    3 halves the resolution with stride 2 and projects its shortcut with a
    strided 1x1 convolution. Global average pooling and a dense layer give the
    logits. ResNet-56 is the model of Smith & Topin's super-convergence
    experiments on CIFAR-10::

        x = relu(norm(conv3x3(x)))
        for stage, channels in enumerate((16, 32, 64)):
            for block in range(n):
                stride = 2 if stage > 0 and block == 0 else 1
                y = norm(conv3x3(relu(norm(conv3x3(x, stride)))))
                x = relu(y + (conv1x1(x, stride) if stride == 2 else x))

    Args:
        input_shape: shape of one image, ``(height, width, channels)``.
        num_classes: number of output logits.
        depth: ``6n + 2`` layers with weights (convolutions and the dense layer).
        width: multiplier on every stage's channels.
        norm: normalization after each convolution (see :data:`NORMS`).
        groups: groups of group normalization (capped at the channel count).
        name: model name.

    Example:
        >>> resnet((32, 32, 3)).count_params(), resnet((32, 32, 3), depth=56).count_params() > 850_000
        (274042, True)

    Used in: the super-convergence chapter (its CIFAR-10 variant).
    """
    _validate_residual(num_classes, norm, width, depth)
    _check(
        "input_shape",
        input_shape,
        len(tuple(input_shape)) == 3,
        "(height, width, channels)",
    )
    return _residual_net(
        keras.layers.Conv2D,
        keras.layers.GlobalAveragePooling2D,
        input_shape,
        num_classes,
        depth=depth,
        width=width,
        kernel_size=3,
        norm=norm,
        groups=groups,
        name=name,
    )


def _validate_residual(num_classes, norm, width, depth):
    """The checks :func:`resnet` and :func:`resnet1d` share (depth = 6n + 2)."""
    _validate_common(num_classes, norm, 0.0, width)
    _check(
        "depth",
        depth,
        isinstance(depth, int) and depth >= 8 and (depth - 2) % 6 == 0,
        "6n + 2 with n >= 1",
    )


def _residual_net(
    conv_layer,
    pool_layer,
    input_shape,
    num_classes,
    *,
    depth,
    width,
    kernel_size,
    norm,
    groups,
    name,
):
    """The body of :func:`resnet` and :func:`resnet1d` (Conv2D or Conv1D)."""
    n = (depth - 2) // 6

    def conv(x, channels, kernel, stride, label):
        x = conv_layer(
            channels,
            kernel,
            strides=stride,
            padding="same",
            use_bias=norm != "batch",
            kernel_initializer="he_normal",
            name=f"{label}_conv",
        )(x)
        layer = _norm_layer(norm, groups=min(groups, channels), name=f"{label}_norm")
        return layer(x) if layer is not None else x

    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.Activation("relu", name="stem_act")(
        conv(inputs, max(1, round(16 * width)), kernel_size, 1, "stem")
    )
    for stage, base in enumerate((16, 32, 64)):
        channels = max(1, round(base * width))
        for block in range(n):
            stride = 2 if stage > 0 and block == 0 else 1
            label = f"s{stage}b{block}"
            y = keras.layers.Activation("relu", name=f"{label}_act1")(
                conv(x, channels, kernel_size, stride, f"{label}_a")
            )
            y = conv(y, channels, kernel_size, 1, f"{label}_b")
            shortcut = (
                conv(x, channels, 1, stride, f"{label}_proj") if stride == 2 else x
            )
            x = keras.layers.Activation("relu", name=f"{label}_act2")(
                keras.layers.Add(name=f"{label}_add")([y, shortcut])
            )
    x = pool_layer(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, dtype=_LOGITS_DTYPE, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def resnet1d(
    input_shape=(40, 1),
    num_classes: int = 10,
    *,
    depth: int = 8,
    width: float = 1.0,
    kernel_size: int = 3,
    norm: str | None = "batch",
    groups: int = 8,
    name: str = "resnet1d",
) -> keras.Model:
    """A 1-D version of :func:`resnet` (depth ``6n + 2``) for sequences such as MNIST-1D.

    The same layout as :func:`resnet` with ``Conv1D`` layers of length
    ``kernel_size``: a stem convolution with 16 channels, three stages of
    ``n`` basic blocks with 16, 32 and 64 channels (times ``width``), the
    first block of stages 2 and 3 halving the length with stride 2 and a
    strided 1x1 projection shortcut, then global average pooling and a dense
    layer. Depth 8 (one block per stage) is the small default; 20 is
    ResNet-20's depth.

    Args:
        input_shape: shape of one input, ``(length, channels)``.
        num_classes: number of output logits.
        depth: ``6n + 2`` layers with weights (convolutions and the dense layer).
        width: multiplier on every stage's channels.
        kernel_size: length of the (non-shortcut) convolution kernels.
        norm: normalization after each convolution (see :data:`NORMS`).
        groups: groups of group normalization (capped at the channel count).
        name: model name.

    Returns:
        An uncompiled ``keras.Model`` that outputs logits.

    Raises:
        ValueError: if an argument is out of range.

    Example:
        >>> resnet1d().count_params(), resnet1d(depth=20).output_shape
        (29178, (None, 10))

    Used in: the super-convergence benchmark (``--model resnet1d``).
    """
    _validate_residual(num_classes, norm, width, depth)
    _check(
        "kernel_size",
        kernel_size,
        isinstance(kernel_size, int) and kernel_size >= 1,
        "an integer >= 1",
    )
    _check(
        "input_shape",
        input_shape,
        len(tuple(input_shape)) == 2,
        "(length, channels)",
    )
    return _residual_net(
        keras.layers.Conv1D,
        keras.layers.GlobalAveragePooling1D,
        input_shape,
        num_classes,
        depth=depth,
        width=width,
        kernel_size=kernel_size,
        norm=norm,
        groups=groups,
        name=name,
    )


def compile_classifier(
    model: keras.Model, optimizer, *, metrics=("accuracy",), **kwargs
) -> keras.Model:
    """Compile ``model`` (which outputs logits) for integer-label classification.

    Returns the model, so ``compile_classifier(cnn1d(), "adam").fit(...)`` reads well.

    Example:
        >>> model = compile_classifier(cnn1d(), keras.optimizers.SGD(0.05, momentum=0.9))
        >>> model.loss.from_logits
        True
    """
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=list(metrics),
        **kwargs,
    )
    return model
