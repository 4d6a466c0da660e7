"""Reference implementations behind the regularization chapter.

Small NumPy versions of what Keras layers and callbacks do, written out so that
the chapter (and ``tests/test_regularization.py``) can check Keras against them:
dropout in both of its scalings, batch normalization with training and
inference statistics, the two early-stopping counting rules (Keras's and the
one in the exam article the book grew from), plus two measurements the chapter makes on
trained and freshly initialized models: the fraction of near-zero weights and
per-layer activation and gradient statistics.

Everything but :func:`layer_statistics` is pure NumPy and imports no TensorFlow.
They are references and measuring tools, not replacements: train with
``keras.layers.Dropout``, ``keras.layers.BatchNormalization`` and
``keras.callbacks.EarlyStopping``.
"""

from __future__ import annotations

import numpy as np

from lrbook._validation import fail as _fail

__all__ = [
    "batch_norm_forward",
    "dropout_forward",
    "early_stopping_epoch",
    "layer_statistics",
    "near_zero_fraction",
]

_SCALINGS = ("inverted", "inference")
_RULES = ("keras", "cumulative", "seed")  # "seed": the old name of "cumulative"


def dropout_forward(
    x,
    rate: float,
    *,
    training: bool = True,
    scaling: str = "inverted",
    mask=None,
    rng=None,
):
    """Dropout's forward pass in NumPy, in its two scalings.

    With a keep mask ``m`` (each entry 1 with probability ``1 - rate``)::

        def dropout(x, m, rate, training, scaling):
            if scaling == "inverted":          # Keras, PyTorch: rescale while training
                return x * m / (1 - rate) if training else x
            else:                              # the exam article (and the 2014 paper)
                return x * m if training else x * (1 - rate)

    Both keep the expected output of training equal to the inference output:
    ``E[x m / (1-r)] = x`` and ``E[x m] = (1-r) x``. The two networks differ only
    by the constant factor ``1 - rate`` on the layer's output, which the next
    layer's weights absorb.

    Args:
        x: input array.
        rate: probability of dropping a unit, in ``[0, 1)``.
        training: training mode (random mask) or inference mode (deterministic).
        scaling: ``"inverted"`` (what ``keras.layers.Dropout`` does) or
            ``"inference"`` (scale by ``1 - rate`` at inference, as in the seed's
            NumPy ``Dropout``).
        mask: an optional keep mask (booleans or 0/1, the shape of ``x``) to use
            instead of drawing one, e.g. the mask read off a Keras output.
        rng: a ``numpy.random.Generator`` for the mask (default: a fresh one).

    Returns:
        ``(y, mask)``: the output and the keep mask used (``None`` at inference).

    Raises:
        ValueError: ``rate`` outside ``[0, 1)``, an unknown ``scaling``, or a
            ``mask`` of the wrong shape.

    Example:
        >>> x = np.ones((2, 4))
        >>> y, m = dropout_forward(x, 0.5, mask=np.array([[1, 0, 1, 1], [0, 0, 1, 0]]))
        >>> y
        array([[2., 0., 2., 2.],
               [0., 0., 2., 0.]])
        >>> dropout_forward(x, 0.5, training=False, scaling="inference")[0][0]
        array([0.5, 0.5, 0.5, 0.5])

    Used in: the regularization chapter (checked against ``keras.layers.Dropout``).
    """
    if not (isinstance(rate, (int, float, np.floating)) and 0.0 <= rate < 1.0):
        _fail("rate", rate, "a float in [0, 1)")
    if scaling not in _SCALINGS:
        _fail("scaling", scaling, f"one of {_SCALINGS}")
    x = np.asarray(x, dtype=float)
    if not training:
        return (x.copy() if scaling == "inverted" else x * (1.0 - rate)), None
    if mask is None:
        rng = np.random.default_rng() if rng is None else rng
        mask = rng.random(x.shape) >= rate
    else:
        mask = np.asarray(mask).astype(bool)
        if mask.shape != x.shape:
            _fail(
                "mask",
                f"array of shape {mask.shape}",
                f"an array of the shape of x, {x.shape}",
            )
    y = x * mask
    if scaling == "inverted":
        y = y / (1.0 - rate)
    return y, mask


def batch_norm_forward(
    x,
    gamma,
    beta,
    moving_mean,
    moving_var,
    *,
    training: bool = True,
    momentum: float = 0.99,
    epsilon: float = 1e-3,
    axis: int = -1,
):
    """Batch normalization's forward pass in NumPy (Ioffe & Szegedy), with its running statistics.

    Over every axis but ``axis`` (the channels)::

        mu, var = x.mean(batch_axes), x.var(batch_axes)         # biased variance (ddof=0)
        if training:
            y = gamma * (x - mu) / sqrt(var + epsilon) + beta
            moving_mean = momentum * moving_mean + (1 - momentum) * mu
            moving_var  = momentum * moving_var  + (1 - momentum) * var
        else:
            y = gamma * (x - moving_mean) / sqrt(moving_var + epsilon) + beta

    The defaults are ``keras.layers.BatchNormalization``'s (``momentum=0.99``,
    ``epsilon=1e-3``; Keras starts the moving variance at 1). The book's source
    notes use ``momentum=0.9``, ``epsilon=1e-6`` and start both at 0.

    Args:
        x: input, channels on ``axis``.
        gamma, beta: scale and shift, one per channel.
        moving_mean, moving_var: the running statistics before this batch.
        training: normalize with the batch's statistics (and update the running
            ones) or with the running statistics.
        momentum: weight of the old running statistics, in ``[0, 1]``.
        epsilon: added to the variance, ``>= 0``.
        axis: the channel axis.

    Returns:
        ``(y, moving_mean, moving_var)``: the output and the running statistics
        after this batch (unchanged at inference).

    Raises:
        ValueError: ``momentum`` outside ``[0, 1]`` or a negative ``epsilon``.

    Example:
        >>> x = np.array([[0.0, 10.0], [2.0, 30.0]])
        >>> y, m, v = batch_norm_forward(x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), epsilon=0.0)
        >>> y
        array([[-1., -1.],
               [ 1.,  1.]])
        >>> m, v                                  # 0.99 * old + 0.01 * batch
        (array([0.01, 0.2 ]), array([1.  , 1.99]))

    Used in: the regularization chapter (checked against ``keras.layers.BatchNormalization``).
    """
    if not 0.0 <= momentum <= 1.0:
        _fail("momentum", momentum, "in [0, 1]")
    if not epsilon >= 0.0:
        _fail("epsilon", epsilon, ">= 0")
    x = np.asarray(x, dtype=float)
    axis = axis % x.ndim
    reduce = tuple(i for i in range(x.ndim) if i != axis)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def per_channel(a):
        return np.asarray(a, dtype=float).reshape(shape)

    moving_mean = np.asarray(moving_mean, dtype=float)
    moving_var = np.asarray(moving_var, dtype=float)
    if training:
        mu, var = x.mean(axis=reduce), x.var(axis=reduce)
        new_mean = momentum * moving_mean + (1.0 - momentum) * mu
        new_var = momentum * moving_var + (1.0 - momentum) * var
    else:
        mu, var = moving_mean, moving_var
        new_mean, new_var = moving_mean.copy(), moving_var.copy()
    y = per_channel(gamma) * (x - per_channel(mu)) / np.sqrt(
        per_channel(var) + epsilon
    ) + per_channel(beta)
    return y, new_mean, new_var


def early_stopping_epoch(
    values,
    patience: int,
    *,
    rule: str = "keras",
    mode: str = "min",
    min_delta: float = 0.0,
):
    """When early stopping ends training, and which epoch it keeps, for a monitored curve.

    Two counting rules, epochs numbered from 1:

    - ``"keras"`` (``keras.callbacks.EarlyStopping``): a counter of epochs since
      the last improvement on the **best** value so far (by more than
      ``min_delta``); it is reset by every improvement, and training stops at the
      first epoch where it reaches ``patience``.
    - ``"cumulative"`` (the rule of the exam article the book grew from; ``"seed"``
      is its old name, still accepted): count every epoch whose value is not
      better than the **previous** epoch's, never reset, and stop once the count
      *exceeds* ``patience``.

    The kept epoch is the best one up to the stop (what
    ``restore_best_weights=True`` gives back).

    Args:
        values: the monitored metric per epoch (e.g. ``val_loss``).
        patience: the rule's threshold, a non-negative integer.
        rule: ``"keras"`` or ``"cumulative"`` (``"seed"``: the same).
        mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
        min_delta: smallest change that counts as an improvement.

    Returns:
        ``(stop_epoch, best_epoch)``: the last epoch trained (``len(values)`` if
        the rule never fires) and the best epoch up to it.

    Raises:
        ValueError: an empty ``values``, a negative or non-integer ``patience``,
            an unknown ``rule`` or ``mode``, or a negative ``min_delta``.

    Example:
        >>> losses = [1.0, 0.8, 0.9, 0.7, 0.75, 0.72, 0.71, 0.9]
        >>> early_stopping_epoch(losses, patience=2)            # 0.7 at epoch 4, then 2 without
        (6, 4)
        >>> early_stopping_epoch(losses, patience=2, rule="cumulative")  # worse at 3, 5, 8
        (8, 4)

    Used in: the regularization chapter (checked against ``keras.callbacks.EarlyStopping``).
    """
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0:
        _fail("values", values.tolist(), "a non-empty sequence")
    if (
        not isinstance(patience, (int, np.integer))
        or isinstance(patience, bool)
        or patience < 0
    ):
        _fail("patience", patience, "a non-negative integer")
    if rule not in _RULES:
        _fail("rule", rule, f"one of {_RULES}")
    if mode not in ("min", "max"):
        _fail("mode", mode, "'min' or 'max'")
    if not min_delta >= 0:
        _fail("min_delta", min_delta, ">= 0")
    sign = 1.0 if mode == "min" else -1.0
    v = sign * values  # now lower is better

    stop = len(v)
    if rule == "keras":
        best, wait = np.inf, 0
        for i, current in enumerate(v):
            wait += 1
            if current + min_delta < best:
                best, wait = current, 0
                continue
            if wait >= patience and i > 0:
                stop = i + 1
                break
    else:
        count = 0
        for i in range(1, len(v)):
            if not v[i] < v[i - 1] - min_delta:
                count += 1
            if count > patience:
                stop = i + 1
                break
    best_epoch = int(np.argmin(v[:stop])) + 1
    return stop, best_epoch


def near_zero_fraction(weights, threshold: float = 1e-3) -> float:
    """The fraction of weights with ``|w| < threshold``, over all the arrays given.

    L1 penalties drive many weights towards zero; with a (sub)gradient optimizer
    they rarely land exactly on it, so the chapter counts the weights below a
    small threshold.

    Args:
        weights: an array or a list of arrays (e.g. every kernel of a model).
        threshold: the magnitude below which a weight counts as zero, ``> 0``.

    Returns:
        A float in ``[0, 1]``.

    Raises:
        ValueError: a non-positive ``threshold`` or no weights at all.

    Example:
        >>> near_zero_fraction([np.array([0.0, 1e-4, 0.5]), np.array([[2.0, -1e-5]])])
        0.6

    Used in: the regularization chapter (L1 against L2).
    """
    if not threshold > 0:
        _fail("threshold", threshold, "> 0")
    arrays = [weights] if isinstance(weights, np.ndarray) else list(weights)
    flat = (
        np.concatenate([np.abs(np.asarray(w, dtype=float)).ravel() for w in arrays])
        if arrays
        else np.array([])
    )
    if flat.size == 0:
        _fail("weights", weights, "at least one weight")
    return float(np.mean(flat < threshold))


def layer_statistics(model, x, y, *, loss=None):
    """Per-layer activation and gradient statistics of ``model`` on one batch.

    For every ``Dense``/``Conv`` layer with a kernel, in order: the mean and
    standard deviation of the layer's **activation** (the output of the
    ``Activation`` layer that follows it, if any, else the layer's own output),
    the fraction of activations that are exactly zero, and the standard
    deviation of the gradient of the loss with respect to the layer's kernel
    (training mode off, so no dropout). Glorot and He initialization are about
    keeping these two roughly constant from layer to layer.

    Args:
        model: a functional ``keras.Model`` outputting logits.
        x, y: one batch of inputs and integer labels.
        loss: a Keras loss (default: sparse categorical cross-entropy on logits).

    Returns:
        A ``pandas.DataFrame`` indexed by layer (1 = the first), with columns
        ``layer``, ``act_mean``, ``act_std``, ``act_zero`` and ``grad_std``.

    Example:
        >>> from lrbook import models
        >>> model = models.mlp((40, 1), hidden=(64,) * 6, activation="tanh")
        >>> x = np.random.default_rng(0).normal(size=(256, 40, 1)).astype("float32")
        >>> y = np.arange(256) % 10
        >>> stats = layer_statistics(model, x, y)
        >>> len(stats), list(stats.columns)
        (7, ['layer', 'act_mean', 'act_std', 'act_zero', 'grad_std'])

    Used in: the regularization chapter (Glorot against He initialization).
    """
    import pandas as pd

    from lrbook.env import import_keras

    keras = import_keras()

    loss = loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    layers = list(model.layers)
    kernels, probes = [], []
    for i, layer in enumerate(layers):
        if getattr(layer, "kernel", None) is None:
            continue
        probe = layer
        if i + 1 < len(layers) and isinstance(layers[i + 1], keras.layers.Activation):
            probe = layers[i + 1]
        kernels.append(layer)
        probes.append(probe)
    if not kernels:
        _fail("model", model.name, "a model with at least one layer that has a kernel")
    tap = keras.Model(model.inputs, [p.output for p in probes] + [model.outputs[0]])

    def forward():
        *acts, logits = tap(x, training=False)
        return loss(y, logits), acts

    acts, grads = _gradients(forward, [k.kernel for k in kernels])
    rows = []
    for layer, act, grad in zip(kernels, acts, grads):
        a = np.asarray(act)
        rows.append(
            {
                "layer": layer.name,
                "act_mean": float(a.mean()),
                "act_std": float(a.std()),
                "act_zero": float(np.mean(a == 0)),
                "grad_std": float(np.std(np.asarray(grad))),
            }
        )
    out = pd.DataFrame(rows)
    out.index = np.arange(1, len(out) + 1)
    out.index.name = "depth"
    return out


def _gradients(forward, variables):
    """``(aux, grads)``: run ``forward() -> (value, aux)``; the gradients of ``value`` by ``variables``.

    Backend-neutral (Keras has no gradient op): ``tf.GradientTape`` on
    TensorFlow, ``jax.grad`` through a ``keras.StatelessScope`` on JAX,
    ``torch.autograd.grad`` on PyTorch. ``aux`` and the gradients come back as
    NumPy arrays.
    """
    import keras

    backend = keras.backend.backend()
    to_numpy = keras.ops.convert_to_numpy
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value, aux = forward()
        grads = tape.gradient(value, variables)
    elif backend == "jax":
        import jax

        def pure(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                value, aux = forward()
            return value, aux

        grads, aux = jax.grad(pure, has_aux=True)([v.value for v in variables])
    elif backend == "torch":
        import torch

        value, aux = forward()
        grads = torch.autograd.grad(value, [v.value for v in variables])
    else:
        raise NotImplementedError(
            f"Gradients on the Keras backend {backend!r} are not supported by lrbook "
            "(supported: tensorflow, jax, torch)."
        )
    return [to_numpy(a) for a in aux], [to_numpy(g) for g in grads]
