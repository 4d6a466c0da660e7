"""The LR range test ("LR finder") for Keras 3, on the true loss of every batch.

The test (Smith, 2017; popularized by fastai) trains for a few dozen steps
while the learning rate grows from tiny to huge, records the loss at every
step and reads a good learning rate off the curve. Two things make a Keras
version easy to get wrong, and this module gets them right:

* **The running-mean trap.** Since TF 2.2, ``logs["loss"]`` in
  ``on_train_batch_end`` is the mean of the epoch so far, not the loss of the
  batch (tensorflow/tensorflow#58098). A finder that records it sees a curve
  that lags, flattens and turns up late, so every suggestion shifts.
  :func:`lr_range_test` records the loss of each batch itself (see
  "How the loss of a batch is obtained" below); the :class:`LRFinder` callback
  recovers it exactly from the sums behind the running mean.
  ``loss_source="running_mean"`` reproduces the trap, for the chapter.
* **Leaving the model as it was.** The test really trains. Every variable it
  can touch (weights, batch-norm statistics, dropout seed states, optimizer
  slots, the iteration count, the learning rate, metric totals) is saved before
  and put back bit for bit after, in a ``finally`` block, so also after an
  exception or ``KeyboardInterrupt``; an optimizer built with a
  ``LearningRateSchedule`` gets its schedule object back.

How the loss of a batch is obtained:
    As by ``model.train_on_batch(x, y, return_dict=True)``, which runs the
    model's own ``train_step`` (custom overrides included) after resetting the
    metrics, so that its ``"loss"`` is the loss tracker's mean over exactly one
    batch: the loss of that batch, in training mode, at the weights *before*
    the update it drives (up to one float32 rounding of
    ``loss * batch_size / batch_size``). It is the total loss the optimizer
    minimizes: the compiled loss **plus** the model's regularization losses
    (``model.losses``); decoupled weight decay (``AdamW``'s ``weight_decay``)
    is not a loss and is not included.

How the steps run:
    Many steps (8 in the first call, then as many as take about a second, at
    most 128 and 64 MiB of batches) run in one call of a traced loop, a
    ``tf.function`` around a ``tf.while_loop``: each iteration assigns
    the step's learning rate to the optimizer's variable, trains on its batch
    and writes the loss into a ``tf.TensorArray``. With Keras's own
    ``train_step`` the iteration runs that step's forward pass, loss and
    update without the metrics, and records the loss it computes; a custom
    ``train_step`` runs as ``train_on_batch`` runs it (metrics reset first, then
    ``logs["loss"]``). The loop also keeps the smoothed loss and leaves after
    the first step that diverged; Python then applies the same rule to the
    losses it got back and decides (any step the loop ran past the stop is
    discarded), so the result is that of stopping at once. One Python call per
    batch costs more than the step itself on small models; this way the test
    costs its steps plus one trace of the train step. A model compiled with
    ``run_eagerly=True`` or under a distribution strategy, and batches that
    cannot be stacked (ragged or sparse tensors), take one
    ``model.train_on_batch`` call per step instead.

On JAX and PyTorch:
    Every step is one ``model.train_on_batch`` call (the traced loop is
    TensorFlow's ``tf.while_loop``), so the loss of a step is the one the
    module docstring describes, by definition, and the model is put back bit
    for bit in the same ``finally`` block. An optimizer built with a
    ``LearningRateSchedule`` gets, for the test, a learning-rate variable that
    it tracks (so that the compiled step reads the swept value from the
    optimizer's state), and its schedule back afterwards. TensorFlow is never
    imported there; ``x`` may still be a ``tf.data.Dataset`` where TensorFlow
    is installed, as Keras allows. On PyTorch, where Keras draws an unseeded
    ``Dropout``'s masks from PyTorch's global generator, the test puts that
    generator's state back too. The test draws nothing from NumPy's or
    Python's global generators. But the first ``fit`` of a model that was never
    built reads a batch to build it first, and there that read draws from a
    global generator: a permutation from NumPy's on JAX (Keras shuffles arrays
    with it), the DataLoader's seed from PyTorch's on PyTorch. The test builds
    the model, so that ``fit`` no longer draws it and trains as the ``fit`` of a
    built model does, not as the ``fit`` without the test would have; on a
    model already built or trained, training afterwards is bit for bit the
    same. Likewise the :class:`LRFinder` callback's own ``fit`` shuffles with
    NumPy's generator on JAX.

The sweep, the smoothing, the suggestion rules and :class:`~lrbook.lr_rules.LRFinderResult`
are pure functions of ``(lrs, losses)`` and live in :mod:`lrbook.lr_rules`
(NumPy only, no TensorFlow); this module re-exports them, so
``lr_finder.valley`` is :func:`lrbook.lr_rules.valley`. The rules follow
fastai's definitions (``valley``, ``slide``, ``minimum``, ``steep``) and
PyTorch Lightning's (``gradient``); each docstring states its exact rule.

Used in: the LR-finder chapter.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from lrbook._validation import fail, shown
from lrbook.env import import_keras, quiet_import_tensorflow

keras = import_keras()
#: Whether the traced loop (TensorFlow's) can run: on the TensorFlow backend only.
_TENSORFLOW = keras.backend.backend() == "tensorflow"
tf = quiet_import_tensorflow() if _TENSORFLOW else None

from lrbook.lr_rules import (
    LOSS_SOURCES,
    MODES,
    ONE_CYCLE_PEAK_RULE,
    SUGGESTION_METHODS,
    LRFinderResult,
    _check_sweep_args,
    _Recorder,
    gradient,
    minimum,
    one_cycle_peak,
    slide,
    smooth_losses,
    steep,
    sweep_lrs,
    valley,
)
from lrbook.optimizers import unwrap

__all__ = [
    "LOSS_SOURCES",
    "MODES",
    "ONE_CYCLE_PEAK_RULE",
    "SUGGESTION_METHODS",
    "LRFinder",
    "LRFinderResult",
    "gradient",
    "lr_range_test",
    "minimum",
    "one_cycle_peak",
    "slide",
    "smooth_losses",
    "steep",
    "sweep_lrs",
    "valley",
]

# --------------------------------------------------------------------------
# Saving and restoring the training state
# --------------------------------------------------------------------------


def _inner_optimizer(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        fail(
            "model",
            shown(f"<{type(model).__name__} without an optimizer>"),
            "compiled with the optimizer you will train with (the range test "
            "sweeps that optimizer's learning rate)",
        )
    # A LossScaleOptimizer keeps the learning rate in its inner optimizer.
    return unwrap(optimizer)


def _to_numpy(variable) -> np.ndarray:
    return np.array(keras.ops.convert_to_numpy(variable), copy=True)


class _TrainingState:
    """A bit-exact copy of everything training changes, and how to put it back.

    Saved: ``model.variables`` (weights, non-trainable state such as batch-norm
    moving statistics, and the dropout ``SeedGenerator`` states, which
    ``get_weights`` misses), ``model.metrics_variables``, and
    ``model.optimizer.variables`` (iteration count, learning-rate variable,
    slots), plus the optimizer's learning-rate object and ``model.train_function``.
    On PyTorch also the state of PyTorch's global generators: Keras draws the
    masks of an unseeded ``Dropout`` from them (``torch.nn.functional.dropout``),
    not from a ``SeedGenerator`` variable.
    """

    def __init__(self, model):
        self.model = model
        self.optimizer = _inner_optimizer(model)
        seen, saved = set(), []
        for v in (
            list(model.variables)
            + list(model.metrics_variables)
            + list(model.optimizer.variables)
        ):
            if id(v) not in seen:
                seen.add(id(v))
                saved.append((v, _to_numpy(v)))
        self.saved = saved
        self.learning_rate = self.optimizer._learning_rate
        self.train_function = model.train_function
        self.torch_rng = _torch_rng_state()

    def restore(self, *, variables: bool = True) -> None:
        if self.optimizer._learning_rate is not self.learning_rate:
            # The schedule (or callable) object itself.
            self.optimizer.learning_rate = self.learning_rate
        self.model.train_function = self.train_function
        if variables:
            self.model.reset_metrics()  # metrics created meanwhile start from zero
            for v, value in self.saved:
                v.assign(value)
            _set_torch_rng_state(self.torch_rng)


def _torch_rng_state():
    """PyTorch's global generator states (CPU, and each GPU), or ``None`` on another backend."""
    if keras.backend.backend() != "torch":
        return None
    import torch

    gpus = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    return torch.get_rng_state(), gpus


def _set_torch_rng_state(state) -> None:
    if state is None:
        return
    import torch

    cpu, gpus = state
    torch.set_rng_state(cpu)
    if gpus is not None:
        torch.cuda.set_rng_state_all(gpus)


def _build_for_training(model, batch) -> None:
    """Create every variable the first training step would create (model, metrics, optimizer).

    Keras builds these inside the first traced ``train_step``, where the
    optimizer's slots are updated in the same step they are created; building
    them first lets the finder save their initial values and put them back. An
    optimizer that was not built is therefore left built, in the state its
    first ``fit`` would build it in (slots at their initial values, iteration 0).
    """
    symbolic_build = getattr(model, "_symbolic_build", None)
    if symbolic_build is not None:
        symbolic_build(data_batch=batch)
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)


class _VariableSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A "schedule" that reads a variable: stands in for a user's schedule during the sweep."""

    def __init__(self, variable):
        self.variable = variable

    def __call__(self, step):
        return self.variable

    def get_config(self):  # never saved: it only lives during the test
        return {}


def _sweepable_lr(model, state: _TrainingState):
    """The variable to assign the swept LR to.

    A float learning rate is already a variable in Keras 3, read by the traced
    train step: use it (its value is restored with the optimizer variables).
    An optimizer built with a ``LearningRateSchedule`` (or a callable) has no
    assignable variable; swap in a stand-in schedule reading a new variable and
    force a new ``train_function`` (the old one has the schedule traced in).
    :meth:`_TrainingState.restore` puts back the schedule object and the old
    ``train_function``.

    On JAX and PyTorch the compiled step reads only the variables the
    optimizer tracks (its state is an argument of the step): the stand-in is
    then a learning-rate variable the optimizer tracks, as one built with a
    float has; putting the schedule back through the ``learning_rate`` setter
    untracks it.
    """
    optimizer = state.optimizer
    if isinstance(optimizer._learning_rate, keras.Variable):
        return optimizer._learning_rate
    variable = keras.Variable(
        0.0,
        dtype=keras.config.floatx(),
        trainable=False,
        name="lr_finder_learning_rate",
    )
    if _TENSORFLOW:
        optimizer.learning_rate = _VariableSchedule(variable)
    else:
        optimizer._learning_rate = variable  # Keras's optimizers track what is set
        if all(v is not variable for v in optimizer.variables):
            optimizer._track_variable(variable)
    model.make_train_function(force=True)
    return variable


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def _is_batch_source(x) -> bool:
    # A tf.data.Dataset feeds any backend where TensorFlow is installed; never import it here.
    tf_module = sys.modules.get("tensorflow")
    if tf_module is not None and isinstance(x, tf_module.data.Dataset):
        return True
    if isinstance(x, (np.ndarray, list, tuple, dict)) or keras.ops.is_tensor(x):
        return False
    if tf_module is not None and tf_module.is_tensor(x):
        return False
    return hasattr(x, "__iter__")


def _first_dim(x) -> int:
    leaves = [leaf for leaf in keras.tree.flatten(x) if leaf is not None]
    if not leaves:
        return 0
    shape = getattr(leaves[0], "shape", None)
    return int(shape[0]) if shape is not None and len(shape) else 0


def _array_batches(x, y, batch_size, shuffle, seed):
    """Yield ``((x, y, None), first_of_pass)`` forever; full batches only, reshuffled each pass."""
    n = _first_dim(x)
    size = min(batch_size, n)
    steps = n // size
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n) if shuffle else np.arange(n)
        for s in range(steps):
            idx = order[s * size : (s + 1) * size]
            take = lambda a, idx=idx: None if a is None else np.asarray(a)[idx]
            yield (
                (
                    keras.tree.map_structure(take, x),
                    keras.tree.map_structure(take, y),
                    None,
                ),
                s == 0,
            )


def _iterable_batches(data):
    """Yield ``((x, y, sample_weight), first_of_pass)``, re-iterating ``data`` when it runs out."""
    while True:
        produced = False
        for element in data:
            yield keras.utils.unpack_x_y_sample_weight(element), not produced
            produced = True
        if not produced:
            return


def _batches(x, y, batch_size, shuffle, seed):
    if _is_batch_source(x):
        if y is not None:
            fail(
                "y",
                shown(f"<{type(y).__name__}>"),
                "None when `x` is a dataset (it yields (x, y) batches)",
            )
        if batch_size is not None:
            fail(
                "batch_size",
                batch_size,
                "None when `x` is a dataset (it is already batched)",
            )
        batches = _iterable_batches(x)
        first = next(batches, None)
        if first is None:
            fail(
                "x",
                shown(f"<an empty {type(x).__name__}>"),
                "a source of at least one batch",
            )
        return first, batches
    if y is None:
        fail("y", None, "given when `x` holds arrays")
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        fail("batch_size", batch_size, "a positive integer when `x` holds arrays")
    n = _first_dim(x)
    if n == 0:
        shapes = [getattr(a, "shape", None) for a in keras.tree.flatten(x)]
        fail(
            "x", shown(f"<arrays of shapes {shapes}>"), "arrays of at least one sample"
        )
    if _first_dim(y) != n:
        fail(
            "y",
            shown(f"<{_first_dim(y)} samples>"),
            "as long as `x`",
            x=shown(f"<{n} samples>"),
        )
    batches = _array_batches(x, y, int(batch_size), shuffle, seed)
    return next(batches), batches


# --------------------------------------------------------------------------
# Running the steps: many per call, in a traced loop
# --------------------------------------------------------------------------

#: Most steps one call of the traced loop runs.
_CHUNK_STEPS = 128
#: Most bytes of batches one call stacks (a call holds all its batches at once).
_CHUNK_BYTES = 64 * 2**20
#: Steps of the first call; later calls are sized to take about ``_CALL_SECONDS``,
#: so that a large model still reports back (and can be interrupted) every second.
_FIRST_CALL_STEPS = 8
_CALL_SECONDS = 1.0


def _runs_per_batch(model) -> bool:
    """Whether each step must be its own ``train_on_batch`` (eager, distributed, not TensorFlow)."""
    return (
        not _TENSORFLOW
        or bool(getattr(model, "run_eagerly", False))
        or tf.distribute.has_strategy()
        or getattr(model, "_distribute_strategy", None) is not None
    )


def _stack_key(batch):
    """What batches run in one call must share: structure, shapes and dtypes.

    ``None`` for a batch that cannot be stacked (a leaf that is neither a NumPy
    array nor a dense tensor: ragged, sparse, strings in NumPy, ...).
    """
    specs = []
    for leaf in tf.nest.flatten(batch):
        if leaf is None:
            specs.append(None)
            continue
        if not isinstance(leaf, (np.ndarray, tf.Tensor)):
            return None
        try:
            dtype = tf.as_dtype(leaf.dtype)
        except TypeError:
            return None
        specs.append((tuple(leaf.shape), dtype))
    return repr(tf.nest.map_structure(lambda _: None, batch)), tuple(specs)


def _batch_bytes(batch) -> int:
    """Bytes of a stackable batch (8 per element of a string tensor)."""
    total = 0
    for leaf in tf.nest.flatten(batch):
        if isinstance(leaf, np.ndarray):
            total += leaf.nbytes
        elif leaf is not None:
            dtype = tf.as_dtype(leaf.dtype)
            total += int(np.prod(leaf.shape)) * (
                8 if dtype == tf.string else dtype.size
            )
    return total


def _stack(leaves):
    if all(isinstance(leaf, np.ndarray) for leaf in leaves):
        return np.stack(leaves)
    return tf.stack(leaves)


class _StepQueue:
    """The batches of the planned steps, in order, in groups that one call can run."""

    def __init__(self, first, batches, num_steps: int):
        self._pending = [first]
        self._batches = batches
        self._left = int(num_steps)  # batches still to hand out
        self.exhausted = False

    def _take(self):
        if self._pending:
            self._left -= 1
            return self._pending.pop(0)
        if self.exhausted:
            return None
        try:
            item = next(self._batches)
        except StopIteration:
            self.exhausted = True
            return None
        self._left -= 1
        return item

    def put_back(self, items) -> None:
        """Hand ``items`` out again, first (steps a call did not run)."""
        self._pending[:0] = list(items)
        self._left += len(items)

    def next_group(self, stack: bool, max_steps: int = 1):
        """``(group, key)``: consecutive ``(batch, first_of_pass)`` items, their key.

        With ``stack``, the group holds up to ``max_steps`` batches (and
        ``_CHUNK_BYTES``) with the same :func:`_stack_key`; otherwise, or for a
        batch that cannot be stacked, one batch and ``key=None``. Empty when
        the planned steps are handed out or the data ran out.
        """
        group, key, nbytes = [], None, 0
        while self._left > 0 and len(group) < max_steps:
            item = self._take()
            if item is None:
                break
            item_key = _stack_key(item[0]) if stack else None
            size = _batch_bytes(item[0]) if item_key is not None else 0
            if group and (item_key != key or nbytes + size > _CHUNK_BYTES):
                self.put_back([item])
                break
            group.append(item)
            key, nbytes = item_key, nbytes + size
            if key is None:
                break
        return group, key


def _relaxed_spec(leaf) -> tf.TensorSpec:
    """The spec of ``leaf`` stacked over steps: any number of steps, any batch size."""
    shape = tuple(leaf.shape)
    return tf.TensorSpec(
        (None, None, *shape[1:]) if shape else (None,), tf.as_dtype(leaf.dtype)
    )


def _default_train_step(model) -> bool:
    """Whether ``model`` trains with Keras's own ``train_step`` (not overridden)."""
    return (
        getattr(type(model), "train_step", None) is keras.Model.train_step
        and "train_step" not in vars(model)
        and hasattr(model, "_compute_loss")
        and hasattr(model, "_call_has_training_arg")
    )


def _lean_train_step(model):
    """Keras's ``train_step`` without the metrics, returning the loss of the batch.

    The same forward pass, loss (``model._compute_loss``: the compiled loss
    plus ``model.losses``), loss scaling and optimizer update as
    ``keras.Model.train_step`` on the TensorFlow backend; it only skips
    updating the loss tracker and the compiled metrics, which the range test
    does not read (and restores anyway). The loss is returned as is, without
    the tracker's ``loss * batch_size / batch_size``.
    """

    def step(data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = (
                model(x, training=True) if model._call_has_training_arg else model(x)
            )
            loss = model._compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            scaled = model.optimizer.scale_loss(loss)
        trainable = model.trainable_weights
        if trainable:
            model.optimizer.apply_gradients(
                zip(tape.gradient(scaled, trainable), trainable)
            )
        return loss

    return step


class _TracedSteps:
    """Runs a group of range-test steps in one call of a traced loop.

    Step ``i`` of a call assigns ``lrs[i]`` to the learning-rate variable and
    trains on batch ``i`` of the stacked data as ``train_on_batch`` would:
    with a custom ``train_step`` it resets the metrics, runs it and records
    ``logs["loss"]``; with Keras's own, it runs the same step without the
    metrics (:func:`_lean_train_step`) and records the loss it computes.
    With ``check_stop``, the loop also carries the smoothed loss and its best
    value (the :class:`_Recorder`'s arithmetic, in float64) and leaves after
    the first step that diverged, so a long call wastes no steps; the
    :class:`_Recorder` decides in the end. One trace serves every call with
    the same kind of batch (structure, dtypes, shapes past the batch size).
    """

    def __init__(
        self,
        model,
        lr_variable,
        smoothing: float,
        stop_factor: float | None,
        check_stop: bool,
    ):
        self.model, self.lr_variable = model, lr_variable
        self.smoothing = float(smoothing)
        self.stop_factor, self.check_stop = stop_factor, check_stop
        if _default_train_step(model):
            step = _lean_train_step(model)
        else:

            def step(data):
                # As train_on_batch: "loss" is then the mean over this batch only.
                model.reset_metrics()
                return model.train_step(data)["loss"]

        step = tf.autograph.experimental.do_not_convert(step)
        if model.jit_compile:
            # As in Keras's own train_function: the step XLA-compiled, the loop not.
            step = tf.function(step, reduce_retracing=True, jit_compile=True)
        self._step = step
        self._functions = {}

    def _make_function(self, template, specs):
        lr_variable, step = self.lr_variable, self._step
        beta, stop_factor = self.smoothing, self.stop_factor
        check_stop = self.check_stop
        positions = [
            k for k, leaf in enumerate(tf.nest.flatten(template)) if leaf is None
        ]
        num_leaves = len(specs)

        @tf.autograph.experimental.do_not_convert
        def loop(*args):
            leaves = args[:num_leaves]
            lrs, avg, best, denominators = args[num_leaves:]
            n = tf.shape(lrs)[0]

            def body(i, avg, best, go, losses):
                lr_variable.assign(lrs[i])
                flat = [leaf[i] for leaf in leaves]
                for k in positions:
                    flat.insert(k, None)
                loss = tf.cast(
                    step(tf.nest.pack_sequence_as(template, flat)), tf.float64
                )
                losses = losses.write(i, loss)
                if not check_stop:
                    return i + 1, avg, best, go, losses
                # _Recorder.add, op for op: the average, the smoothed loss, its best.
                avg = beta * avg + (1.0 - beta) * loss
                smoothed = avg / denominators[i]
                best = tf.minimum(best, smoothed)
                go = tf.math.is_finite(smoothed)
                if stop_factor is not None:
                    go = tf.logical_and(go, smoothed <= stop_factor * best)
                return i + 1, avg, best, go, losses

            def cond(i, avg, best, go, losses):
                return tf.logical_and(i < n, go)

            losses = tf.TensorArray(tf.float64, size=0, dynamic_size=True)
            loop_vars = (tf.constant(0), avg, best, tf.constant(True), losses)
            *_, losses = tf.while_loop(cond, body, loop_vars, parallel_iterations=1)
            return losses.stack()

        signature = [
            *specs,
            tf.TensorSpec((None,), lr_variable.dtype),
            tf.TensorSpec((), tf.float64),
            tf.TensorSpec((), tf.float64),
            tf.TensorSpec((None,), tf.float64),
        ]
        return tf.function(loop, input_signature=signature)

    def __call__(self, group, lrs, recorder: _Recorder) -> np.ndarray:
        """Run ``group`` (batches of one stack key) at ``lrs``: the losses of its steps.

        Fewer losses than batches when the loop saw the loss diverge.
        """
        batches = [batch for batch, _ in group]
        flats = [
            [leaf for leaf in tf.nest.flatten(batch) if leaf is not None]
            for batch in batches
        ]
        leaves = [_stack([flat[k] for flat in flats]) for k in range(len(flats[0]))]
        specs = [_relaxed_spec(leaf) for leaf in flats[0]]
        template = tf.nest.map_structure(
            lambda leaf: None if leaf is None else 0, batches[0]
        )
        key = (repr(template), tuple(specs))
        function = self._functions.get(key)
        if function is None:
            function = self._functions[key] = self._make_function(template, specs)
        done = len(recorder.losses)
        # The recorder's bias corrections, 1 - beta ** (step + 1), computed as it does.
        denominators = [
            1.0 - self.smoothing ** (done + k + 1) for k in range(len(group))
        ]
        losses = function(
            *leaves,
            np.asarray(lrs, dtype=self.lr_variable.dtype),
            np.float64(recorder.avg),
            np.float64(recorder.best),
            np.asarray(denominators, dtype=np.float64),
        )
        return losses.numpy()


# --------------------------------------------------------------------------
# The range test
# --------------------------------------------------------------------------


def lr_range_test(
    model,
    x,
    y=None,
    *,
    batch_size: int | None = None,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    mode: str = "exponential",
    smoothing: float = 0.98,
    stop_factor: float | None = 4.0,
    loss_source: str = "batch",
    shuffle: bool = True,
    seed: int | None = 0,
) -> LRFinderResult:
    """Run the LR range test on a compiled model and leave the model as it was.

    Step ``i`` sets the optimizer's learning rate to ``sweep_lrs(...)[i]``,
    trains on one batch as ``model.train_on_batch`` would (the model's own
    ``train_step``) and records the loss of that batch (the loss the optimizer
    minimizes, regularization included, at the weights before the step; see
    the module docstring). The smoothed loss is the bias-corrected moving
    average of :func:`~lrbook.lr_rules.smooth_losses`; the test stops early after the step where
    it exceeds ``stop_factor`` times its best value so far, or stops being
    finite. Losses are assumed non-negative. The steps run many per call in a
    traced loop (see "How the steps run" in the module docstring), so the test
    costs about ``num_steps`` steps of a warm ``fit`` plus one trace of the
    train step; it may read up to a call's worth of batches past the step
    where it stops.

    Afterwards every variable of the model, its metrics and its optimizer
    (iteration count and learning rate included) holds exactly its value from
    before, the optimizer's learning-rate object (a schedule too) and the
    model's ``train_function`` are put back, and this happens in a ``finally``
    block, so also after an exception or ``KeyboardInterrupt``. Training the
    model afterwards gives bit for bit what it gives without the test (on JAX
    and PyTorch, see the module docstring for the first shuffled ``fit`` of a
    model never built). An
    optimizer that was never built is built first (as ``fit`` would) and left
    in that freshly built state. Global random generators are not touched;
    NumPy batches are drawn with a private generator seeded by ``seed``.

    The test starts from the optimizer's current state: on a model already
    trained with momentum, the carried-over velocity keeps moving the weights
    even at the tiny first LRs. For the usual reading, run it on the freshly
    compiled model you are about to train.

    Args:
        model: a compiled ``keras.Model``; its optimizer is the one swept, so
            compile it with the optimizer (and momentum, etc.) you will train with.
        x: input arrays (a NumPy array, or a list/dict of them, with ``y`` and
            ``batch_size``), or a batched ``tf.data.Dataset`` (or another
            re-iterable of batches) yielding ``(x, y)`` or ``(x, y,
            sample_weight)``. A dataset is read in its own order and iterated
            again when it has fewer batches than ``num_steps``.
        y: targets, with arrays.
        batch_size: batch size, with arrays. Only full batches are used; with
            fewer samples than ``batch_size``, every step uses all of them.
        start_lr: learning rate of the first step (> 0).
        end_lr: learning rate of the last step (> ``start_lr``).
        num_steps: number of steps (>= 2) if the test does not stop early.
        mode: ``"exponential"`` (geometric steps) or ``"linear"``.
        smoothing: ``beta`` of the moving average, in [0, 1).
        stop_factor: stop when the smoothed loss exceeds ``stop_factor`` times
            its best (> 1); ``None`` stops only on a non-finite loss.
        loss_source: ``"batch"`` (the loss of each batch). ``"running_mean"``
            is a **demonstration of the wrong way**: it records what a finder
            reading ``logs["loss"]`` in a Keras callback sees, the running mean
            since the start of the epoch (one epoch = one pass over the data),
            and smooths and stops on that. Training is the same either way.
        shuffle: with arrays, draw batches from a new permutation each pass.
        seed: seed of that permutation (a private ``numpy`` generator).

    Returns:
        An :class:`~lrbook.lr_rules.LRFinderResult`.

    Raises:
        ValueError: an argument out of range (the message names it and the
            value received), arrays without ``y`` or ``batch_size``, empty
            data, or an uncompiled model.

    Example:
        >>> from lrbook import data, models
        >>> ds = data.load("mnist1d")
        >>> model = models.compile_classifier(models.cnn1d(), keras.optimizers.SGD(momentum=0.9))
        >>> result = lr_range_test(model, ds.x_train, ds.y_train, batch_size=32)
        >>> lr = result.suggestion("valley")
        >>> _ = model.optimizer.learning_rate.assign(lr)  # the model is as it was: train it
        >>> history = model.fit(ds.x_train, ds.y_train, batch_size=32, epochs=1, verbose=0)
        >>> bool(result.lrs[0] <= lr <= result.lrs[-1]), len(history.history["loss"])
        (True, 1)
    """
    _check_sweep_args(
        start_lr, end_lr, num_steps, mode, smoothing, stop_factor, loss_source
    )
    if not getattr(model, "compiled", False):
        fail(
            "model",
            shown(
                f"<uncompiled {type(model).__name__} {getattr(model, 'name', '')!r}>"
            ),
            "compiled with the optimizer you will train with",
        )
    _inner_optimizer(model)
    first, batches = _batches(x, y, batch_size, shuffle, seed)
    plan = sweep_lrs(start_lr, end_lr, num_steps, mode)
    recorder = _Recorder(smoothing, stop_factor)

    _build_for_training(model, first[0])
    state = _TrainingState(model)
    try:
        lr_variable = _sweepable_lr(model, state)
        lrs = np.asarray(plan, dtype=lr_variable.dtype)  # what the variable will hold
        traced = None
        if not _runs_per_batch(model):
            # The loop leaves at a divergence of the batch loss; the running mean
            # is only known here.
            check = loss_source == "batch"
            traced = _TracedSteps(model, lr_variable, smoothing, stop_factor, check)
        steps = _StepQueue(first, batches, num_steps)
        call_steps = min(_FIRST_CALL_STEPS, _CHUNK_STEPS)
        pass_total, pass_count = 0.0, 0.0
        while not recorder.diverged:
            i = len(recorder.losses)
            group, key = steps.next_group(traced is not None, call_steps)
            if not group:
                break
            if key is None:
                (bx, by, bw), _ = group[0]
                lr_variable.assign(lrs[i])
                # train_on_batch resets the metrics first on every backend: "loss"
                # is then the mean over this batch only.
                logs = model.train_on_batch(bx, by, sample_weight=bw, return_dict=True)
                losses = [float(logs["loss"])]
            else:
                start = time.perf_counter()
                losses = traced(group, lrs[i : i + len(group)], recorder)
                per_step = (time.perf_counter() - start) / len(losses)
                call_steps = int(min(_CHUNK_STEPS, max(1, _CALL_SECONDS / per_step)))
            for ((bx, _, _), new_pass), loss in zip(group, losses):
                loss = float(loss)
                if loss_source == "running_mean":
                    # What logs["loss"] in on_train_batch_end would hold: Keras's
                    # loss tracker is a Mean weighted by the batch size, reset at
                    # the start of every epoch.
                    if new_pass:
                        pass_total, pass_count = 0.0, 0.0
                    size = _first_dim(bx)
                    pass_total += loss * size
                    pass_count += size
                    loss = pass_total / pass_count
                if recorder.add(float(lrs[len(recorder.losses)]), loss):
                    break  # any later step the loop ran is discarded
            if not recorder.diverged:
                # The loop left early, the recorder did not: run the rest next.
                steps.put_back(group[len(losses) :])
        if not recorder.diverged and len(recorder.losses) < num_steps:
            warnings.warn(
                f"The data ran out after {len(recorder.losses)} of {num_steps} steps "
                "and cannot be iterated again (a one-shot generator?); the test ends "
                "there.",
                stacklevel=2,
            )
    finally:
        state.restore()
    return recorder.result(num_steps, mode, loss_source)


# --------------------------------------------------------------------------
# The callback
# --------------------------------------------------------------------------


def _loss_tracker(model):
    """The model's loss tracker: the ``Mean`` behind ``logs["loss"]`` (``total`` and ``count``)."""
    for metric in model.metrics:
        if (
            metric.name == "loss"
            and hasattr(metric, "total")
            and hasattr(metric, "count")
        ):
            return metric
    return None


@keras.saving.register_keras_serializable(package="lrbook")
class LRFinder(keras.callbacks.Callback):
    """The range test as a callback, for a ``fit`` you run yourself.

    Sets the learning rate before every batch (``sweep_lrs(...)[i]`` for the
    ``i``-th batch of the whole ``fit``), records the true loss of the batch,
    and sets ``model.stop_training`` after ``num_steps`` batches or when the
    smoothed loss diverges; run ``fit`` for enough epochs to cover
    ``num_steps`` batches. The result is in its ``result`` attribute.

    The loss of a batch: in a callback, ``logs["loss"]`` is the running mean
    of the epoch. Keras 3's loss tracker is a ``Mean`` weighted by the batch
    size: ``total += loss * batch_size``, ``count += batch_size``, ``logs["loss"]
    = total / count``, both reset at every epoch start. The callback reads
    ``total`` and ``count`` before and after each batch, so
    ``loss = (total_after - total_before) / (count_after - count_before)``,
    which is ``i * mean_i - (i - 1) * mean_(i-1)`` generalized to unequal
    (partial last) batches. The only error is float32 rounding in Keras's own
    ``total`` (relative error below about ``i * 6e-8`` at batch ``i`` of an
    epoch). It needs ``steps_per_execution=1``.

    At the end of training the learning rate (value, or schedule object) and
    ``model.train_function`` are always put back; with ``restore_weights=True``
    every variable of the model, its metrics and its optimizer is too, bit for bit.
    Keras does not call ``on_train_end`` when ``fit`` raises (or is
    interrupted): call :meth:`restore` then, e.g. in a ``finally`` block.

    Args:
        start_lr, end_lr, num_steps, mode, smoothing, stop_factor, loss_source:
            as in :func:`lr_range_test` (``loss_source="running_mean"`` records
            ``logs["loss"]`` as naive finders do, for demonstrations).
        restore_weights: put the model and optimizer back at the end of training.

    Example:
        >>> from lrbook import models
        >>> x = np.random.default_rng(0).normal(size=(256, 40, 1)).astype("float32")
        >>> y = np.arange(256) % 10
        >>> model = models.compile_classifier(models.mlp((40, 1), hidden=(32,)), keras.optimizers.SGD())
        >>> finder = LRFinder(num_steps=16)   # 8 batches an epoch: two epochs cover them
        >>> _ = model.fit(x, y, batch_size=32, epochs=2, callbacks=[finder], verbose=0)
        >>> finder.result.num_steps, len(finder.result.lrs) <= 16
        (16, True)
        >>> lr = finder.result.suggestion("valley")
    """

    def __init__(
        self,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_steps: int = 100,
        mode: str = "exponential",
        smoothing: float = 0.98,
        stop_factor: float | None = 4.0,
        loss_source: str = "batch",
        restore_weights: bool = True,
    ):
        super().__init__()
        _check_sweep_args(
            start_lr, end_lr, num_steps, mode, smoothing, stop_factor, loss_source
        )
        self.start_lr, self.end_lr, self.num_steps = start_lr, end_lr, int(num_steps)
        self.mode, self.smoothing, self.stop_factor = mode, smoothing, stop_factor
        self.loss_source, self.restore_weights = loss_source, bool(restore_weights)
        self.result: LRFinderResult | None = None
        self._state = None

    def get_config(self):
        return {
            "start_lr": self.start_lr,
            "end_lr": self.end_lr,
            "num_steps": self.num_steps,
            "mode": self.mode,
            "smoothing": self.smoothing,
            "stop_factor": self.stop_factor,
            "loss_source": self.loss_source,
            "restore_weights": self.restore_weights,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def on_train_begin(self, logs=None):
        model = self.model
        if int(getattr(model, "steps_per_execution", 1) or 1) != 1:
            fail(  # compile's argument: the callback needs one batch a call
                "steps_per_execution",
                model.steps_per_execution,
                "1 in the model's compile() for the LRFinder callback (one batch a "
                "callback call)",
            )
        _inner_optimizer(model)
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        self._tracker = _loss_tracker(model) if self.loss_source == "batch" else None
        if self.loss_source == "batch" and self._tracker is None:
            raise ValueError(
                "The LRFinder callback reads the loss from the model's loss tracker (the `Mean` named 'loss' "
                "in `model.metrics`), which this model does not have (a custom train_step?). "
                "Use lrbook.lr_finder.lr_range_test instead."
            )
        self._plan = sweep_lrs(self.start_lr, self.end_lr, self.num_steps, self.mode)
        self._recorder = _Recorder(self.smoothing, self.stop_factor)
        self._step = 0
        self.result = None
        self._state = _TrainingState(model)
        self._lr_variable = _sweepable_lr(model, self._state)

    def _tracker_values(self):
        # Reading `self.model` makes Keras attach the state of the running `fit` to the
        # variables first: on JAX it lives apart from them between callbacks.
        _ = self.model
        return float(_to_numpy(self._tracker.total)), float(
            _to_numpy(self._tracker.count)
        )

    def on_train_batch_begin(self, batch, logs=None):
        if self._step >= self.num_steps:
            return
        lr = self._plan[self._step]
        _ = (
            self.model
        )  # on JAX: the state of the running `fit` into the variables first
        self._lr_variable.assign(lr)
        self._used_lr = float(np.asarray(lr, dtype=self._lr_variable.dtype))
        if self._tracker is not None:
            self._before = self._tracker_values()

    def on_train_batch_end(self, batch, logs=None):
        if self._step >= self.num_steps:
            self.model.stop_training = True
            return
        if self._tracker is not None:
            total, count = self._tracker_values()
            total0, count0 = self._before
            loss = (
                (total - total0) / (count - count0) if count != count0 else float("nan")
            )
        else:
            loss = float(keras.ops.convert_to_numpy((logs or {})["loss"]))
        self._step += 1
        if self._recorder.add(self._used_lr, loss) or self._step >= self.num_steps:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.restore()

    def restore(self) -> None:
        """End the sweep: record ``result`` and put the model back (as ``on_train_end`` does).

        Safe to call more than once, and needed when ``fit`` raised, because
        Keras then skips ``on_train_end``::

            finder = LRFinder()
            try:
                model.fit(x, y, epochs=3, callbacks=[finder])
            finally:
                finder.restore()
        """
        if self._state is None:
            return
        self.result = self._recorder.result(self.num_steps, self.mode, self.loss_source)
        if not self.restore_weights:
            # Keep the trained weights, but not the swept learning rate.
            lr = self._state.learning_rate
            if isinstance(lr, keras.Variable):
                for v, value in self._state.saved:
                    if v is lr:
                        v.assign(value)
        self._state.restore(variables=self.restore_weights)
        self._state = None
