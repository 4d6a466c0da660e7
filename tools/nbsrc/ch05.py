import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SETUP, badge, derived  # noqa: E402
from nbgen import recorder, write  # noqa: E402

NAME = "05_regularization"
cells, md, code = recorder()

md("# Regularization and normalization, measured")
md(badge(NAME))
md(r"""
## Overview

A network with more parameters than training examples can memorize its training set, and then
the accuracy it reports on that set says little about new data. Regularization is the family of
tricks that trade some of that memorization for generalization: dropout, penalties on the
weights, weight decay, stopping early. Normalization layers and a good initialization are
usually sold for speed and stability, with regularization as a side effect. This chapter takes
one deliberately overfitting setting and measures each of them on it, from the same initial
weights and over several seeds, with the generalization gap (training minus test accuracy) and
the test accuracy as the two numbers that matter.

**You will learn** what `keras.layers.Dropout` and `keras.layers.BatchNormalization` compute
(checked against NumPy versions of both, including the ones in the book's source notes); how L1
and L2 penalties change the weights; where decoupled weight decay (`AdamW`) and an L2 penalty
with Adam differ, with numbers; what Keras's `EarlyStopping` counts and what it saves; whether
batch normalization really breaks at tiny batch sizes and what layer, group and instance
normalization do there; why Glorot and He initialization exist, seen in the activations and
gradients of a deep network; and how much regularization a large learning rate with one-cycle
can replace.

**Prerequisites:** chapter 1 (training loop, optimizers), and for the last two sections the LR
range test of chapter 3 and the one-cycle schedule of chapter 2.

**Run time:** the `quick` profile (what CI runs) takes about a minute on 2 CPU cores; the `full`
profile (what this page shows) about 12 minutes on 2 CPU cores and a few minutes on a GPU. The
exact time of this build is at the end of the page.
""")
code('''
# Parameters (papermill overrides these; see "How to use this book").
profile = None          # "quick" (CI) or "full" (the book); None reads $LRBOOK_PROFILE, default "full"
n_train = 512           # training samples: a small subset of MNIST-1D's 3200, so the CNN overfits
batch_size = 32
learning_rate = 3e-3    # Adam, every arm of the main experiment
epochs = 15
seeds = 3               # seeds of every comparison (init and normalization: their own counts below)
dropout_rates = [0.25, 0.5, 0.75]
l1_strengths = [1e-4, 1e-3]
l2_strengths = [1e-4, 1e-3, 1e-2]
adamw_decays = [0.1, 0.3, 1.0]      # keras AdamW weight_decay (the step multiplies it by the learning rate)
near_zero = 1e-3        # |w| below this counts as a zero weight
patience = 3            # early stopping
es_epochs = 30          # the baseline trains this long, to show what early stopping saves
toy_steps = 1000        # the two-weight weight-decay experiment
norms = [None, "batch", "layer", "group", "instance"]
norm_batch_sizes = [4, 32]
norm_epochs = 4
norm_seeds = 3
finder_steps = 100      # LR range tests (with and without batch norm)
finder_seeds = 2
init_depth = 8          # the deep MLP of the initialization section
init_width = 128
init_lr = 0.01          # SGD with momentum 0.9 there
init_epochs = 6
init_seeds = 3
oc_divisor = 3          # the one-cycle peak is the edge of the range test divided by this
oc_dropouts = [0.0, 0.5]            # dropout kept under one-cycle
oc_small_factor = 10    # control: the same one-cycle with a peak this many times smaller
''', ["parameters"])
code(derived('''    n_train, epochs, es_epochs, seeds, toy_steps = 256, 3, 4, 2, 300
    dropout_rates, l1_strengths, l2_strengths, adamw_decays = [0.5], [1e-4], [1e-3], [1.0]
    norms, norm_batch_sizes, norm_epochs, norm_seeds = ["batch", "group"], [8, 32], 1, 1
    finder_steps, finder_seeds = 40, 1
    init_depth, init_epochs, init_seeds = 4, 1, 1
    oc_dropouts = [0.0]'''))
code(SETUP + '''

import math

from lrbook import optimizers, regularization, schedules
from lrbook.env import quiet_import_tensorflow
from lrbook.lr_finder import lr_range_test
from lrbook.notebook import Text

tf = quiet_import_tensorflow()''', ["hide-output"])

# ----------------------------------------------------------------------------- 1. setting
md(r"""
## One overfitting setting

MNIST-1D {footcite:p}`greydanus2020mnist1d` with only {glue:text}`p_n_train` training examples
(a random subset of the {glue:text}`p_n_pool` of the standard split), the {glue:text}`p_n_val` validation
examples (early stopping and every choice of a setting read these) and the {glue:text}`p_n_test` test
examples (reported, never used to choose). The model is the book's 1-D CNN (`models.cnn1d`, three convolutions of 32
channels, {glue:text}`p_params` parameters, more than {glue:text}`p_params_per_example:.0f` per
training example), trained with Adam at learning rate {glue:text}`p_lr:g`, batch size
{glue:text}`p_batch`, for {glue:text}`p_epochs` epochs.

One `training.run_experiment` call trains the unregularized baseline and every dropout, L1, L2
and weight-decay arm below, {glue:text}`p_seeds` seeds each: for each seed every arm starts from
the same initial weights and sees the batches in the same order, so differences between arms are
the technique's, not the luck of the draw. Two small callbacks record what the logs do not: the
accuracy on the whole training set **in inference mode** after every epoch (Keras's `accuracy`
log is a running mean over the epoch, with dropout on) and the kernels at the end.
""")
code('''
full = data.load("mnist1d", n_train=4000, validation_split=0.2, seed=None)
keep = np.sort(np.random.default_rng(0).permutation(len(full.y_train))[:n_train])
ds = data.Dataset("mnist1d", full.x_train[keep], full.y_train[keep], full.x_test, full.y_test,
                  full.x_val, full.y_val, metadata={"subset_of": "mnist1d train (3200)", "n_train": n_train})
steps_per_epoch = math.ceil(n_train / batch_size)


def cnn(dropout=0.0, reg=None, norm=None):
    """The chapter's model: models.cnn1d, with dropout before the output layer and a kernel penalty."""
    return models.cnn1d(ds.input_shape, dropout=dropout, norm=norm, kernel_regularizer=reg() if reg else None)


class TrainSetAccuracy(keras.callbacks.Callback):
    """Logs `train_eval_accuracy`: accuracy on the whole training set in inference mode (no dropout)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            r = self.model.evaluate(ds.x_train, ds.y_train, batch_size=256, verbose=0, return_dict=True)
            logs["train_eval_accuracy"] = float(r["accuracy"])


class KeepKernels(keras.callbacks.Callback):
    """Appends the model's kernels after epoch `epochs` to `store[name]` (one list per seed, in seed order)."""

    def __init__(self, store, name):
        super().__init__()
        self.store, self.name = store, name

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 != epochs:
            return
        self.store.setdefault(self.name, []).append(
            [layer.kernel.numpy() for layer in self.model.layers if getattr(layer, "kernel", None) is not None])


def adam():
    return keras.optimizers.Adam(learning_rate)


def adamw(decay):
    opt = keras.optimizers.AdamW(learning_rate, weight_decay=decay)
    opt.exclude_from_weight_decay(var_names=["bias"])  # decay the kernels only, as the penalties do
    return opt


kernels = {}
techniques = {}  # arm -> (technique, setting value)


def arm(name, technique, value, optimizer=adam, n_epochs=None, **build_kwargs):
    techniques[name] = (technique, value)
    return training.Arm(optimizer, build=lambda: cnn(**build_kwargs), epochs=n_epochs,
                        callbacks=lambda: [TrainSetAccuracy(), KeepKernels(kernels, name)])


arms = {"none": arm("none", "none", 0.0, n_epochs=max(es_epochs, epochs))}  # longer, for early stopping
for r in dropout_rates:
    arms[f"dropout {r:g}"] = arm(f"dropout {r:g}", "dropout", r, dropout=r)
for s in l1_strengths:
    arms[f"L1 {s:g}"] = arm(f"L1 {s:g}", "L1 penalty", s, reg=lambda s=s: keras.regularizers.L1(s))
for s in l2_strengths:
    arms[f"L2 {s:g}"] = arm(f"L2 {s:g}", "L2 penalty", s, reg=lambda s=s: keras.regularizers.L2(s))
for d in adamw_decays:
    arms[f"AdamW {d:g}"] = arm(f"AdamW {d:g}", "AdamW", d, optimizer=lambda d=d: adamw(d))

t0 = time.perf_counter()
core = training.run_experiment(cnn, arms, ds, seeds=range(seeds), epochs=epochs, batch_size=batch_size)
core_s = time.perf_counter() - t0
core["gap"] = core["train_eval_accuracy"] - core["test_accuracy"]
last = core[core.epoch == epochs]  # every comparison: epoch `epochs` (the baseline runs on, for early stopping)
print(ds, f"| {len(arms)} arms x {seeds} seeds in {core_s:.0f} s")


def sel(table, name):
    """The rows of `table` whose arm is `name`."""
    return table[table.arm == name]


def acc_text(arm_name, col="test_accuracy", table=None):
    """'mean ± std' of `col` at the last epoch of `arm_name`'s runs."""
    s = stats.summarize(sel(last if table is None else table, arm_name)[col])
    return f"{s.mean:.3f} ± {s.std:.3f}"


def welch_p(a_name, b_name, col="test_accuracy", table=None):
    t = last if table is None else table
    a, b = sel(t, a_name)[col], sel(t, b_name)[col]
    return stats.welch_t_test(a, b)[2] if min(len(a), len(b)) >= 2 else float("nan")


def mean_of(arm_name, col="test_accuracy", table=None):
    return float(sel(last if table is None else table, arm_name)[col].mean())


base = core[core.arm == "none"]
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8))
for col, label in (("train_eval_accuracy", "training set"), ("val_accuracy", "validation set"),
                   ("test_accuracy", "test set")):
    plotting.plot_curves(base.assign(arm=label), col, ax=ax0, ylabel="accuracy")
ax0.axvline(epochs, color="0.5", lw=0.8, ls=":")
ax0.set_title(f"baseline accuracy (mean ± std, n = {seeds} seeds)")
for col, label in (("loss", "training loss (running mean, training mode)"), ("val_loss", "validation loss")):
    plotting.plot_curves(base.assign(arm=label), col, ax=ax1, ylabel="cross-entropy")
ax1.axvline(epochs, color="0.5", lw=0.8, ls=":")
ax1.set_title(f"baseline loss (dotted: epoch {epochs}, where the other arms stop)")
fig.tight_layout()
''')
code('''
glue("p_n_train", n_train)
glue("p_n_pool", f"{len(full.y_train):,}")
glue("p_n_val", f"{len(ds.y_val):,}")
glue("p_n_test", f"{len(ds.y_test):,}")
glue("p_params", f"{cnn().count_params():,}")
glue("p_params_per_example", cnn().count_params() / n_train)
glue("p_lr", learning_rate)
glue("p_batch", batch_size)
glue("p_epochs", epochs)
glue("p_seeds", seeds)
glue("base_train", acc_text("none", "train_eval_accuracy"))
glue("base_test", acc_text("none"))
glue("base_gap", acc_text("none", "gap"))
val_min_epoch = base.loc[base.groupby("seed").val_loss.idxmin(), "epoch"]
glue("base_valmin_epoch", float(val_min_epoch.mean()))
end = base.epoch.max()
rise = float((base[base.epoch == end].val_loss.to_numpy() / base.groupby("seed").val_loss.min().to_numpy()).mean())
glue("base_val_rise", rise)
glue("p_es_epochs", int(end))
acc_end = float(base[base.epoch == end].test_accuracy.mean())
acc_mid = float(base[base.epoch == epochs].test_accuracy.mean())
glue("base_fit_sentence", ("the model is fitting the noise of its training set" if rise > 1.05 else
                           "within this budget the validation loss has not started to rise yet")
     + (f", {'although' if rise > 1.05 else 'and'} its test accuracy still goes from {acc_mid:.3f} at epoch "
        f"{epochs} to {acc_end:.3f}"
        if acc_end > acc_mid + 0.01 else ""))
glue("core_arms", len(arms))
glue("core_runs", len(arms) * seeds)
glue("core_s", core_s)
''', ["remove-cell"])
md(r"""
After {glue:text}`p_epochs` epochs, the budget of every arm, the baseline is at {glue:text}`base_train`
training accuracy and {glue:text}`base_test` test accuracy: a gap of {glue:text}`base_gap` (mean ± std
over {glue:text}`p_seeds` seeds). It trains on to epoch {glue:text}`p_es_epochs` for the early-stopping
section: its validation loss reaches its minimum around epoch {glue:text}`base_valmin_epoch:.1f` and is
{glue:text}`base_val_rise:.2f` times that minimum at epoch {glue:text}`p_es_epochs`: {glue:text}`base_fit_sentence`. This is
the regime regularization is for. The whole experiment below
({glue:text}`core_arms` arms, {glue:text}`core_runs` runs) took {glue:text}`core_s:.0f` s.
""")

# ----------------------------------------------------------------------------- 2. dropout
md(r"""
## Dropout

Dropout {footcite:p}`srivastava2014dropout` sets each unit's output to zero with probability
$r$ at every training step, a different random subset each time, so the network cannot rely on
any single unit. At inference nothing is dropped, and the two phases must agree in expectation.
There are two ways to arrange that. The source notes' NumPy class (from *Deep Learning from
Scratch*, and the original paper's formulation) multiplies by the keep mask while training and
**scales by $1-r$ at inference**; Keras (like PyTorch) uses **inverted** dropout, dividing by
$1-r$ while training so that inference is the identity:

| | training | inference | expectation in training |
|---|---|---|---|
| source notes | $x \odot m$ | $(1-r)\,x$ | $(1-r)\,x$ |
| Keras (inverted) | $x \odot m / (1-r)$ | $x$ | $x$ |

with $m_i \sim \text{Bernoulli}(1-r)$. `regularization.dropout_forward` implements both; the
cell below checks it against `keras.layers.Dropout` on the same mask (read off Keras's output)
and checks both equalities in expectation by averaging many masks.
""")
code('''
rate = 0.5
rng = np.random.default_rng(0)
x = rng.normal(3.0, 1.0, size=(256, 64)).astype("float32")  # positive in practice: a dropped unit is an exact 0
layer = keras.layers.Dropout(rate, seed=0)
y_keras = np.asarray(layer(x, training=True))
mask = y_keras != 0
y_ref, _ = regularization.dropout_forward(x, rate, mask=mask)
np.testing.assert_allclose(y_ref, y_keras, rtol=1e-6)                        # training: x * m / (1 - r)
np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)         # inference: identity
kept = float(mask.mean())
assert abs(kept - (1 - rate)) < 4 * math.sqrt(rate * (1 - rate) / mask.size), "keep rate must be 1 - r"

# The two scalings differ by the constant factor (1 - r), in training and at inference:
seed_train, _ = regularization.dropout_forward(x, rate, mask=mask, scaling="inference")
np.testing.assert_allclose(seed_train, (1 - rate) * y_keras, rtol=1e-6)
np.testing.assert_allclose(regularization.dropout_forward(x, rate, training=False, scaling="inference")[0],
                           (1 - rate) * x, rtol=1e-6)

# In expectation, training output = inference output, for both (z-scores of the Monte Carlo means).
draws = 4000
x8 = x[:4].astype(float)
z = {}
for scaling in ("inverted", "inference"):
    mean = np.mean([regularization.dropout_forward(x8, rate, scaling=scaling, rng=rng)[0] for _ in range(draws)], axis=0)
    target = regularization.dropout_forward(x8, rate, training=False, scaling=scaling)[0]
    sd = np.abs(x8) * math.sqrt(rate * (1 - rate)) / (1 - rate if scaling == "inverted" else 1) / math.sqrt(draws)
    z[scaling] = float(np.max(np.abs(mean - target) / sd))
    assert z[scaling] < 5, (scaling, z[scaling])
print(f"Keras Dropout({rate}) = NumPy inverted dropout on the same mask; kept {kept:.3f} of {mask.size} units; "
      f"largest |z| of the Monte Carlo means over {draws} masks: {z}")
''')
code('''
glue("do_rate", rate)
glue("do_kept", kept)
glue("do_units", int(mask.size))
glue("do_draws", draws)
glue("do_z", max(z.values()))
''', ["remove-cell"])
md(r"""
On one {glue:text}`do_units`-unit batch, Keras kept {glue:text}`do_kept:.3f` of the units at
$r =$ {glue:text}`do_rate:g` and its output equals the NumPy formula on that mask; averaged over
{glue:text}`do_draws` masks, both versions' training outputs match their inference outputs (largest
deviation {glue:text}`do_z:.1f` standard errors). The two versions compute the same network up to
the factor $1-r$ on the dropped layer's output, which the next layer's weights absorb; inverted
dropout is the convention because the trained model can then be used without knowing $r$.

Now the sweep: dropout before the output layer at rates {glue:text}`do_rates`.
""")
code('''
def best_of(prefix):
    """The arm (among those whose name starts with prefix) with the best mean validation accuracy."""
    names = [a for a in arms if a.startswith(prefix)]
    return max(names, key=lambda a: mean_of(a, "val_accuracy"))


def sweep_plot(ax_acc, ax_gap, names, values, label, logx=False, color="C0"):
    """Test accuracy and gap (mean ± std at the last epoch) against the setting, the baseline as a band."""
    for ax, col in ((ax_acc, "test_accuracy"), (ax_gap, "gap")):
        g = [sel(last, n)[col] for n in names]
        ax.errorbar(values, [v.mean() for v in g], yerr=[v.std() for v in g], fmt="o-", capsize=3,
                    color=color, label=label)
        b = sel(last, "none")[col]
        ax.axhspan(b.mean() - b.std(), b.mean() + b.std(), color="0.5", alpha=0.2, lw=0)
        ax.axhline(b.mean(), color="0.4", lw=1, ls="--", label="no regularization (± std)")
        if logx:
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.grid(alpha=0.3)
    ax_acc.set_ylabel("test accuracy (last epoch)")
    ax_gap.set_ylabel("gap: train − test accuracy")


do_names = [f"dropout {r:g}" for r in dropout_rates]
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
sweep_plot(ax0, ax1, do_names, dropout_rates, "dropout")
for ax in (ax0, ax1):
    ax.set_xlabel("dropout rate r")
    ax.legend(fontsize="small")
ax0.set_title(f"dropout: test accuracy (n = {seeds} seeds)")
ax1.set_title("dropout: generalization gap")
fig.tight_layout()
''')
code('''
best_do = best_of("dropout")
glue("do_rates", ", ".join(f"{r:g}" for r in dropout_rates))
glue("do_best", best_do)
glue("do_best_test", acc_text(best_do))
glue("do_best_gap", acc_text(best_do, "gap"))
glue("do_diff", mean_of(best_do) - mean_of("none"))
glue("do_p", welch_p(best_do, "none"))
top_do = do_names[-1]
glue("do_top", top_do)
glue("do_top_train", acc_text(top_do, "train_eval_accuracy"))
glue("do_top_gap", acc_text(top_do, "gap"))
gaps = [mean_of("none", "gap")] + [mean_of(n, "gap") for n in do_names]
trains = mean_of(top_do, "train_eval_accuracy")
glue("do_trend", ("The gap shrinks steadily as the rate grows" if all(np.diff(gaps) < 0) else
                  "The gap does not shrink steadily with the rate")
     + (f"; at {top_do} it is {acc_text(top_do, 'gap')} with training accuracy {acc_text(top_do, 'train_eval_accuracy')}: "
        "past some rate the network cannot fit the training set either, and a small gap is underfitting, "
        "not generalization" if trains < mean_of("none", "train_eval_accuracy") - 0.1 else
        f"; at {top_do} it is {acc_text(top_do, 'gap')}, with training accuracy {acc_text(top_do, 'train_eval_accuracy')}"))
''', ["remove-cell"])
md(r"""
The rate with the best validation accuracy is **{glue:text}`do_best`**: test accuracy
{glue:text}`do_best_test` against {glue:text}`base_test` without dropout (a difference of
{glue:text}`do_diff:+.3f`, Welch p = {glue:text}`do_p:.2g`), and a gap of {glue:text}`do_best_gap`
instead of {glue:text}`base_gap`. {glue:text}`do_trend`. A small gap is only good news together with a
high test accuracy.
""")

# ----------------------------------------------------------------------------- 3. L1 / L2
md(r"""
## L1 and L2 penalties

A penalty adds a function of the weights to the loss: `keras.regularizers.L2(λ)` adds
$\lambda \sum w^2$, `L1(λ)` adds $\lambda \sum |w|$, for every kernel it is attached to (here
every convolution and the output layer; biases are not penalized). The gradient of the L2 term,
$2\lambda w$, shrinks large weights most and small ones hardly at all; the L1 term's,
$\lambda\,\mathrm{sign}(w)$, pulls every weight towards zero with the same force, so weights that
the data does not support end up at (or, with a stochastic optimizer, near) zero: L1 makes the
network sparse, L2 only makes it small. The source notes say exactly this; here it is counted,
as the fraction of kernel weights with $|w| <$ {glue:text}`p_near_zero:g`.
""")
code('''
def near_zero_by_seed(name):
    return [regularization.near_zero_fraction(k, near_zero) for k in kernels[name]]


l1_names = [f"L1 {s:g}" for s in l1_strengths]
l2_names = [f"L2 {s:g}" for s in l2_strengths]
sparsity = pd.DataFrame(
    [{"arm": n, "technique": techniques[n][0], "λ": techniques[n][1],
      "near-zero weights": np.mean(near_zero_by_seed(n)),
      "kernel L2 norm": np.mean([math.sqrt(sum(float(np.sum(w ** 2)) for w in k)) for k in kernels[n]]),
      "test accuracy": acc_text(n), "gap": acc_text(n, "gap")}
     for n in ["none"] + l1_names + l2_names]).set_index("arm")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8))
sweep_plot(ax0, ax1, l1_names, l1_strengths, "L1", logx=True, color="C1")
sweep_plot(ax0, ax1, l2_names, l2_strengths, "L2", logx=True, color="C2")
ax1.cla()
bins = np.logspace(-7, 0.5, 60)
for n, color in (("none", "0.4"), (l1_names[-1], "C1"), (l2_names[-1], "C2")):
    w = np.abs(np.concatenate([a.ravel() for a in kernels[n][0]]))
    ax1.hist(np.clip(w, bins[0], None), bins=bins, histtype="step", lw=1.6, color=color,
             label=f"{n}: {regularization.near_zero_fraction(kernels[n][0], near_zero):.0%} below {near_zero:g}")
ax1.axvline(near_zero, color="k", lw=0.8, ls=":")
ax1.set(xscale="log", yscale="log", xlabel="|w| of a kernel weight after training (log scale; seed 0)",
        ylabel="number of weights (log scale)",
        title="where the weights end up")
ax1.legend(fontsize="small", loc="upper left")
ax0.set(xlabel="penalty strength λ (log scale)", title=f"test accuracy (n = {seeds} seeds)")
handles, names_ = ax0.get_legend_handles_labels()
unique = dict(zip(names_, handles))
ax0.legend(unique.values(), unique.keys(), fontsize="small")
fig.tight_layout()
sparsity
''')
code('''
glue("p_near_zero", near_zero)
glue("nz_none", float(sparsity.loc["none", "near-zero weights"]))
glue("nz_l1", float(sparsity.loc[l1_names[-1], "near-zero weights"]))
glue("nz_l2", float(sparsity.loc[l2_names[-1], "near-zero weights"]))
glue("l1_top", l1_names[-1])
glue("nz_l2_tiny", float(np.mean([regularization.near_zero_fraction(k, 1e-6) for k in kernels[l2_names[-1]]])))
glue("nz_l1_tiny", float(np.mean([regularization.near_zero_fraction(k, 1e-6) for k in kernels[l1_names[-1]]])))
glue("p_tiny", 1e-6)
glue("l2_top", l2_names[-1])
glue("norm_none", float(sparsity.loc["none", "kernel L2 norm"]))
glue("norm_l1", float(sparsity.loc[l1_names[-1], "kernel L2 norm"]))
glue("norm_l2", float(sparsity.loc[l2_names[-1], "kernel L2 norm"]))
shrunk = [n for n in ("L1", "L2") if sparsity.loc[{"L1": l1_names, "L2": l2_names}[n][-1], "kernel L2 norm"]
          < sparsity.loc["none", "kernel L2 norm"]]
glue("norm_verdict", {2: "Both penalties shrink the weights", 1: f"Only {shrunk[0] if shrunk else ''} shrinks the weights",
                      0: "Neither penalty shrinks the weights here"}[len(shrunk)])
ratio = sparsity.loc[l1_names[-1], "near-zero weights"] / max(sparsity.loc[l2_names[-1], "near-zero weights"], 1e-12)
glue("nz_verdict", f"L1 does sparsify: {ratio:.0f} times the L2 arm's fraction" if ratio > 2 else
     f"L1 does not sparsify more than L2 here (ratio {ratio:.1f})")
best_l1, best_l2 = best_of("L1"), best_of("L2")
glue("l1_best", best_l1)
glue("l2_best", best_l2)
glue("l1_best_test", acc_text(best_l1))
glue("l2_best_test", acc_text(best_l2))
glue("l1_p", welch_p(best_l1, "none"))
glue("l2_p", welch_p(best_l2, "none"))
glue("l1_best_gap", acc_text(best_l1, "gap"))
glue("l2_best_gap", acc_text(best_l2, "gap"))
''', ["remove-cell"])
md(r"""
With the strongest L1 penalty ({glue:text}`l1_top`), {glue:text}`nz_l1:.1%` of the kernel weights
end below {glue:text}`p_near_zero:g`, against {glue:text}`nz_l2:.1%` with the strongest L2 penalty
({glue:text}`l2_top`) and {glue:text}`nz_none:.1%` without a penalty: {glue:text}`nz_verdict`. The
histogram shows why a threshold is needed: Adam steps over zero rather than onto it, so L1's
"zeros" are a pile of weights a few orders of magnitude below the rest (a proximal optimizer or
pruning, a later chapter, sets them exactly to zero). Below {glue:text}`p_tiny:g` there are
{glue:text}`nz_l2_tiny:.1%` of the strongest L2 arm's weights and {glue:text}`nz_l1_tiny:.1%` of the L1
arm's: the next section shows how Adam with an L2 penalty drives a weight whose own gradient is
near zero all the way down. {glue:text}`norm_verdict`: the
kernel norm is {glue:text}`norm_l1:.2f` (L1) and {glue:text}`norm_l2:.2f` (L2) against
{glue:text}`norm_none:.2f`.

For accuracy, the best settings by validation accuracy are {glue:text}`l1_best`, with test
accuracy {glue:text}`l1_best_test` (Welch p = {glue:text}`l1_p:.2g` against no penalty; gap
{glue:text}`l1_best_gap`), and {glue:text}`l2_best`, with {glue:text}`l2_best_test`
(p = {glue:text}`l2_p:.2g`; gap {glue:text}`l2_best_gap`).
""")

# ----------------------------------------------------------------------------- 4. weight decay
md(r"""
## Weight decay is not an L2 penalty (with Adam)

*Weight decay* shrinks every weight by a small fraction at every step,
$w \leftarrow w - \eta\,\lambda\,w$, next to the gradient step; in Keras that is the
`weight_decay` argument of any optimizer (it multiplies by the current learning rate). For plain
SGD this is the same as an L2 penalty $\tfrac{\lambda}{2}\sum w^2$, whose gradient is $\lambda w$,
and the two names are often used as if they were one technique. Loshchilov and Hutter
{footcite:p}`loshchilov2017adamw` pointed out that they stop being the same as soon as the
optimizer transforms the gradient: with momentum the penalty's gradient goes through the velocity,
and with Adam it is **divided by the running RMS of the gradient**, so weights whose gradients are
large are barely decayed and weights whose gradients are small are decayed hard. `AdamW`
*decouples* the decay from the adaptive step.

First the exact statement, on a small model trained for a few steps from the same weights on the
same batches: SGD with `weight_decay=λ` against SGD on the loss plus `L2(λ/2)`, then the same pair
with momentum and with Adam.
""")
code('''
def tiny(reg=None):
    return keras.Sequential([keras.Input((40,)), keras.layers.Dense(32, activation="relu", kernel_regularizer=reg),
                             keras.layers.Dense(10, kernel_regularizer=reg)])


def train_steps(model, opt, n=16):
    """n plain gradient steps (eager, no compile) on consecutive batches of 16; returns the kernels."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    xs, ys = ds.x_train[:, :, 0], ds.y_train
    for i in range(n):
        xb, yb = xs[i * 16:(i + 1) * 16], ys[i * 16:(i + 1) * 16]
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True)) + sum(model.losses)  # model.losses: the L2 penalty
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    return [layer.kernel.numpy() for layer in model.layers]


lam, lr_small = 0.1, 0.05
keras.utils.set_random_seed(0)
w0 = tiny().get_weights()
pairs = {"SGD": (lambda wd=None: keras.optimizers.SGD(lr_small, weight_decay=wd)),
         "SGD, momentum 0.9": (lambda wd=None: keras.optimizers.SGD(lr_small, momentum=0.9, weight_decay=wd)),
         "Adam": (lambda wd=None: keras.optimizers.AdamW(1e-3, weight_decay=wd) if wd else keras.optimizers.Adam(1e-3))}
differences = {}
for name, make in pairs.items():
    decoupled = tiny()
    decoupled.set_weights(w0)
    opt = make(lam)
    opt.exclude_from_weight_decay(var_names=["bias"])
    k_dec = train_steps(decoupled, opt)
    penalized = tiny(keras.regularizers.L2(lam / 2))
    penalized.set_weights(w0)
    k_pen = train_steps(penalized, make())
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(k_pen, w0[::2]))
    differences[name] = max(float(np.max(np.abs(a - b))) for a, b in zip(k_dec, k_pen)) / moved
np.testing.assert_array_less(differences["SGD"], 1e-4)  # plain SGD: the same update, up to float rounding
pd.Series(differences, name="largest |w_decay - w_L2| / largest weight change, after 16 steps").to_frame()
''')
md(r"""
Plain SGD gives the same weights both ways (the `assert`), momentum and Adam do not. Where the
difference comes from is easiest to see on two weights, both starting at 1, whose loss has no
minimum of its own pulling them anywhere: one receives a loud gradient that flips sign every step
($\pm$ {glue:text}`toy_loud:g`, mean zero), the other none. Adam with an L2 penalty (its gradient
{glue:text}`toy_lam:g`$\,w$ added to the loss gradient) against AdamW with `weight_decay` =
{glue:text}`toy_lam:g`, both at learning rate {glue:text}`toy_lr:g`, for {glue:text}`toy_steps`
steps, with Keras's own optimizers:
""")
code('''
toy_lr, toy_lam, loud = 1e-2, 0.1, 10.0


def toy(opt, lam):
    """Trajectory of two weights under `opt`: a +-loud alternating gradient on the first, none on the second."""
    w = keras.Variable(np.ones(2, "float32"))
    opt.build([w])

    @tf.function
    def steps():
        out = tf.TensorArray(tf.float32, size=toy_steps)
        for t in tf.range(toy_steps):
            sign = 1.0 - 2.0 * tf.cast(t % 2, tf.float32)
            opt.apply_gradients([(tf.stack([loud * sign, 0.0]) + lam * tf.convert_to_tensor(w), w)])
            out = out.write(t, tf.convert_to_tensor(w))
        return out.stack()

    return steps().numpy()


traj = {"Adam + L2 penalty": toy(keras.optimizers.Adam(toy_lr), toy_lam),
        "AdamW (decoupled)": toy(keras.optimizers.AdamW(toy_lr, weight_decay=toy_lam), 0.0)}
expected_decay = (1 - toy_lr * toy_lam) ** toy_steps   # AdamW: (1 - lr * wd) per step
np.testing.assert_allclose(traj["AdamW (decoupled)"][-1, 1], expected_decay, rtol=1e-3)

fig, ax = plt.subplots(figsize=(7.5, 3.8))
steps_axis = np.arange(1, toy_steps + 1)
for k, (name, tr) in enumerate(traj.items()):
    ax.plot(steps_axis, np.abs(tr[:, 0]), color=f"C{k}", lw=1.6, label=f"{name}: weight with a loud gradient")
    ax.plot(steps_axis, np.abs(tr[:, 1]), color=f"C{k}", lw=1.6, ls="--", label=f"{name}: weight with no gradient")
ax.set(yscale="log", ylim=(1e-4, 1.5), xlabel="step", ylabel="|w| (log scale)",
       title=f"the same decay strength λ = {toy_lam:g}, two ways (learning rate {toy_lr:g})")
ax.grid(alpha=0.3)
ax.legend(fontsize="small", loc="lower left")
fig.tight_layout()
''')
code('''
glue("toy_lam", toy_lam)
glue("toy_loud", loud)
glue("toy_zero_level", 0.01)
glue("toy_lr", toy_lr)
glue("toy_steps", toy_steps)
glue("toy_adamw_loud", float(abs(traj["AdamW (decoupled)"][-1, 0])))
glue("toy_adamw_quiet", float(abs(traj["AdamW (decoupled)"][-1, 1])))
glue("toy_l2_loud", float(abs(traj["Adam + L2 penalty"][-1, 0])))
glue("toy_l2_quiet", float(abs(traj["Adam + L2 penalty"][-1, 1])))
glue("toy_expected", expected_decay)
quiet_zero = np.flatnonzero(np.abs(traj["Adam + L2 penalty"][:, 1]) < 0.01)
glue("toy_quiet_step", int(quiet_zero[0]) + 1 if quiet_zero.size else toy_steps)
glue("wd_diff_mom", differences["SGD, momentum 0.9"])
glue("wd_diff_adam", differences["Adam"])
glue("wd_diff_sgd", differences["SGD"])
''', ["remove-cell"])
md(r"""
AdamW shrinks both weights alike, to {glue:text}`toy_adamw_loud:.3f` and
{glue:text}`toy_adamw_quiet:.3f` (the formula $(1-\eta\lambda)^{T}$ gives
{glue:text}`toy_expected:.3f`): the decay does not care about the gradient. With the L2 penalty,
Adam divides the penalty's gradient by the RMS of the whole gradient: the weight with the loud
gradient keeps {glue:text}`toy_l2_loud:.3f` of its value, the one without a gradient is driven to
zero (below {glue:text}`toy_zero_level:g` after {glue:text}`toy_quiet_step` steps, {glue:text}`toy_l2_quiet:.1e` at the end),
because for it the penalty *is* the gradient and Adam normalizes it to full-size steps. In the
short check above, the weights of the two formulations differ by
{glue:text}`wd_diff_mom:.2f` (momentum) and {glue:text}`wd_diff_adam:.2f` (Adam) of the largest
weight change, against {glue:text}`wd_diff_sgd:.1e` for plain SGD.

Does it matter for accuracy on our task? The main experiment has AdamW at `weight_decay`
{glue:text}`adamw_values` next to the L2 arms above. Their strengths are on different scales, so
the right panel compares them at equal **kernel norm** after training, the quantity both are
meant to control.
""")
code('''
aw_names = [f"AdamW {d:g}" for d in adamw_decays]
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8))
sweep_plot(ax0, ax1, aw_names, adamw_decays, "AdamW", logx=True, color="C3")
ax1.cla()
for names, label, color in ((["none"], "no regularization", "0.4"), (l2_names, "Adam + L2 penalty", "C2"),
                            (aw_names, "AdamW", "C3")):
    norms_ = [np.mean([math.sqrt(sum(float(np.sum(w ** 2)) for w in k)) for k in kernels[n]]) for n in names]
    accs = [sel(last, n).test_accuracy for n in names]
    ax1.errorbar(norms_, [a.mean() for a in accs], yerr=[a.std() for a in accs], fmt="o-", capsize=3,
                 color=color, label=label)
ax1.set(xscale="log", xlabel="kernel L2 norm after training (log scale)", ylabel="test accuracy (last epoch)",
        title="test accuracy against how small the weights ended")
ax1.grid(alpha=0.3)
ax1.legend(fontsize="small")
ax0.set(xlabel="AdamW weight_decay (log scale)", title=f"AdamW: test accuracy (n = {seeds} seeds)")
ax0.legend(fontsize="small")
fig.tight_layout()
''')
code('''
best_aw = best_of("AdamW")
glue("adamw_values", ", ".join(f"{d:g}" for d in adamw_decays))
glue("aw_best", best_aw)
glue("aw_best_test", acc_text(best_aw))
glue("aw_best_gap", acc_text(best_aw, "gap"))
glue("aw_p_none", welch_p(best_aw, "none"))
glue("aw_vs_l2_diff", mean_of(best_aw) - mean_of(best_l2))
glue("aw_vs_l2_p", welch_p(best_aw, best_l2))
p_aw = welch_p(best_aw, best_l2)
glue("aw_verdict", ("AdamW is ahead" if mean_of(best_aw) > mean_of(best_l2) else "Adam with an L2 penalty is ahead")
     + (", though not significantly at this number of seeds" if not p_aw < 0.05 else ", significantly"))
''', ["remove-cell"])
md(r"""
The best AdamW setting by validation accuracy, {glue:text}`aw_best`, reaches test accuracy
{glue:text}`aw_best_test` (gap {glue:text}`aw_best_gap`; Welch p = {glue:text}`aw_p_none:.2g` against no
regularization), against {glue:text}`l2_best_test` for the best L2 penalty with Adam: a difference
of {glue:text}`aw_vs_l2_diff:+.3f` (p = {glue:text}`aw_vs_l2_p:.2g`). {glue:text}`aw_verdict`. The
mechanism is not in doubt (the two-weight experiment); its effect on a small network trained for a
few hundred steps is a different question, and the answer here is what the numbers say.
""")

# ----------------------------------------------------------------------------- 5. early stopping
md(r"""
## Early stopping

Early stopping {footcite:p}`prechelt1998early` watches a validation metric and ends training
when it stops improving. The source notes give the rule as: after every epoch compute the error;
if it did not get smaller than **the previous epoch's**, add one to a count; stop when the count
**exceeds** a threshold. `keras.callbacks.EarlyStopping(patience=p)` counts differently: the epochs
since the **best** value so far, reset by every new best, and it stops as soon as that count
**reaches** $p$; with `restore_best_weights=True` it then puts back the weights of the best epoch.
`regularization.early_stopping_epoch` implements both rules (its tests drive Keras's callback with
synthetic curves to check the Keras rule). Applied to the baseline's validation loss, with
patience {glue:text}`p_patience`:
""")
code('''
rows = []
for seed, g in base.groupby("seed"):
    g = g.sort_values("epoch")
    for rule, col, mode in (("keras", "val_loss", "min"), ("seed", "val_loss", "min"),
                            ("keras, val accuracy", "val_accuracy", "max")):
        stop, best = regularization.early_stopping_epoch(g[col].to_numpy(), patience, rule=rule.split(",")[0],
                                                         mode=mode)
        rows.append({"seed": seed, "rule": rule, "stop epoch": stop, "best epoch": best,
                     "epochs saved": len(g) - stop,
                     "test acc, restored": float(g.test_accuracy.iloc[best - 1]),
                     "test acc, no stopping": float(g.test_accuracy.iloc[-1]),
                     "train acc, restored": float(g.train_eval_accuracy.iloc[best - 1])})
stopping = pd.DataFrame(rows)
stopping["gap, restored"] = stopping["train acc, restored"] - stopping["test acc, restored"]

fig, ax = plt.subplots(figsize=(8, 4))
for seed, g in base.groupby("seed"):
    g = g.sort_values("epoch")
    ax.plot(g.epoch, g.val_loss, color=f"C{seed}", lw=1.4, label=f"seed {seed}")
    for rule, marker, ms in (("keras", "o", 7), ("seed", "s", 13)):
        r = stopping[(stopping.seed == seed) & (stopping.rule == rule)].iloc[0]
        ax.plot(r["stop epoch"], g.val_loss.iloc[r["stop epoch"] - 1], marker, color=f"C{seed}", ms=ms,
                mfc="none" if rule == "seed" else f"C{seed}", mew=1.5)
    k = stopping[(stopping.seed == seed) & (stopping.rule == "keras")].iloc[0]
    ax.plot(k["best epoch"], g.val_loss.iloc[k["best epoch"] - 1], "*", color="k", ms=10)
for marker, ms, mfc, label in (("o", 7, "0.3", "stop, Keras rule"), ("s", 13, "none", "stop, source notes' rule"),
                               ("*", 10, "k", "restored (best) epoch, Keras rule")):
    ax.plot([], [], marker, color="0.3" if marker != "*" else "k", mfc=mfc, ms=ms, mew=1.5, label=label)
ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
ax.set(xlabel="epoch", ylabel="validation loss (cross-entropy)",
       title=f"baseline validation loss; early stopping with patience {patience}")
ax.grid(alpha=0.3)
ax.legend(fontsize="small")
fig.tight_layout()
stopping.groupby("rule")[["stop epoch", "best epoch", "epochs saved", "test acc, restored", "test acc, no stopping",
                          "gap, restored"]].mean()
''')
md(r"""
The restored accuracies above are read off the baseline's per-epoch test accuracy, which is only
right if `EarlyStopping(restore_best_weights=True)` really gives back that epoch's model. One run
with the callback, seed 0, checks it: the same initial weights and batch order, so its history
must be the baseline's up to the stop.
""")
code('''
class TestAfterTraining(keras.callbacks.Callback):
    """Evaluates the test set once training has ended (after EarlyStopping has restored the best weights)."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def on_train_end(self, logs=None):
        self.out.update(self.model.evaluate(ds.x_test, ds.y_test, batch_size=512, verbose=0, return_dict=True))


after, es = {}, []


def es_callbacks():
    es.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True))
    return [es[-1], TestAfterTraining(after)]


es_run = training.run_experiment(cnn, {"early stopping": training.Arm(adam, callbacks=es_callbacks)}, ds,
                                 seeds=[0], epochs=es_epochs, batch_size=batch_size, progress=False)
own_stop, own_best = regularization.early_stopping_epoch(es_run.val_loss.to_numpy(), patience)
assert len(es_run) == own_stop, "Keras stopped where the Keras rule, applied to the run's own curve, says"
assert es[0].best_epoch + 1 == own_best
b0 = base[base.seed == 0].sort_values("epoch")
same_history = np.allclose(es_run.val_loss.to_numpy(), b0.val_loss.to_numpy()[:len(es_run)], rtol=1e-6, atol=0)
if same_history:  # deterministic training (CPU): the restored model is the baseline's model of that epoch
    np.testing.assert_allclose(after["accuracy"], b0.test_accuracy.iloc[own_best - 1], atol=1e-6)
print(f"stopped after epoch {len(es_run)}, restored epoch {own_best}; test accuracy after restoring "
      f"{after['accuracy']:.3f}; same history as the baseline: {same_history}")
''')
code('''
glue("p_patience", patience)
k = stopping[stopping.rule == "keras"]
s_ = stopping[stopping.rule == "seed"]
glue("es_stop", float(k["stop epoch"].mean()))
glue("es_best", float(k["best epoch"].mean()))
glue("es_saved", float(k["epochs saved"].mean()))
glue("es_saved_pct", 100 * float(k["epochs saved"].mean()) / es_epochs)
glue("es_restored", f"{k['test acc, restored'].mean():.3f} ± {k['test acc, restored'].std():.3f}")
glue("es_end", f"{k['test acc, no stopping'].mean():.3f} ± {k['test acc, no stopping'].std():.3f}")
glue("es_diff", float((k["test acc, restored"] - k["test acc, no stopping"]).mean()))
glue("es_gap", f"{k['gap, restored'].mean():.3f} ± {k['gap, restored'].std():.3f}")
glue("es_seed_stop", float(s_["stop epoch"].mean()))
glue("es_seed_saved", float(s_["epochs saved"].mean()))
glue("es_rule_compare", "fires earlier than" if s_["stop epoch"].mean() < k["stop epoch"].mean() else
     ("fires at the same epoch as" if s_["stop epoch"].mean() == k["stop epoch"].mean() else "fires later than"))
glue("es_seed_restored", f"{s_['test acc, restored'].mean():.3f} ± {s_['test acc, restored'].std():.3f}")
a_ = stopping[stopping.rule == "keras, val accuracy"]
glue("es_acc_stop", float(a_["stop epoch"].mean()))
glue("es_acc_restored", f"{a_['test acc, restored'].mean():.3f} ± {a_['test acc, restored'].std():.3f}")
glue("es_acc_diff", float((a_["test acc, restored"] - a_["test acc, no stopping"]).mean()))
glue("es_lost_sentence", "Early stopping on the validation loss cost accuracy here" if k["test acc, restored"].mean()
     < k["test acc, no stopping"].mean() - 0.01 else "Early stopping on the validation loss kept the accuracy")
glue("es_run_stop", len(es_run))
glue("es_run_best", own_best)
glue("es_run_acc", float(after["accuracy"]))
glue("es_same", "is identical to the baseline's, and the test accuracy after restoring equals the baseline's at "
     "that epoch (the `assert`)" if same_history else
     "differs from the baseline's (training was not bit-for-bit reproducible on this machine), so the check "
     "of the restored accuracy against the baseline was skipped")
never = int((k["stop epoch"] == es_epochs).sum())
glue("es_never", f" On {never} of {len(k)} seeds the rule never fired within {es_epochs} epochs." if never else "")
''', ["remove-cell"])
md(r"""
With Keras's rule, training stops at epoch {glue:text}`es_stop:.1f` on average (best epoch
{glue:text}`es_best:.1f`), saving {glue:text}`es_saved:.1f` of {glue:text}`p_es_epochs` epochs
({glue:text}`es_saved_pct:.0f`%), and the restored model's test accuracy is {glue:text}`es_restored`
against {glue:text}`es_end` for training to the end (difference {glue:text}`es_diff:+.3f`; gap
{glue:text}`es_gap`).{glue:text}`es_never` The source notes' rule, which never forgets an epoch
that got worse, stops at epoch {glue:text}`es_seed_stop:.1f` on average ({glue:text}`es_seed_saved:.1f`
epochs saved, restored test accuracy {glue:text}`es_seed_restored`): here the cumulative count
{glue:text}`es_rule_compare` the reset-on-best one with the same threshold. A cumulative count
can only grow, so on a long, noisy curve it always fires eventually. The run with the
callback stopped after epoch {glue:text}`es_run_stop` and restored epoch {glue:text}`es_run_best`;
its history {glue:text}`es_same`.

{glue:text}`es_lost_sentence`. The validation *loss* and the validation *accuracy* need not turn at
the same epoch: a network that grows over-confident on the examples it gets wrong raises its loss
while its accuracy can still improve. Watching
what you care about, `EarlyStopping(monitor="val_accuracy", mode="max", patience=...)`, the same
rule stops at epoch {glue:text}`es_acc_stop:.1f` on average with a restored test accuracy of
{glue:text}`es_acc_restored` (difference to training to the end: {glue:text}`es_acc_diff:+.3f`).
""")

# ----------------------------------------------------------------------------- 6. normalization
md(r"""
## Batch normalization and its alternatives

Batch normalization {footcite:p}`ioffe2015batchnorm` standardizes every channel over the batch
(and, in a CNN, over positions), then scales and shifts it with learned $\gamma, \beta$. In
training it uses the batch's own mean and (biased) variance and updates running averages; at
inference it uses the running averages. The source notes' NumPy class is the same computation
with different defaults: momentum 0.9 instead of Keras's 0.99, $\epsilon = 10^{-6}$ instead of
$10^{-3}$, and running statistics starting at 0 instead of mean 0, variance 1.
`regularization.batch_norm_forward` is that computation; the cell checks it against
`keras.layers.BatchNormalization` on a (batch, length, channels) input over three training steps
and one inference step, with Keras's defaults and with the notes' settings.
""")
code('''
def check_batch_norm(momentum, epsilon, start_var):
    """Largest |Keras - NumPy| over 3 training steps and 1 inference step; asserts agreement."""
    rng = np.random.default_rng(1)
    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon,
                                            moving_variance_initializer="ones" if start_var == 1 else "zeros")
    layer.build((16, 10, 8))
    gamma, beta = rng.normal(1.0, 0.2, size=8), rng.normal(size=8)
    layer.gamma.assign(gamma.astype("float32"))
    layer.beta.assign(beta.astype("float32"))
    mean, var = np.zeros(8), np.full(8, float(start_var))
    worst = 0.0
    for step in range(4):
        xb = rng.normal(5.0, 2.0, size=(16, 10, 8)).astype("float32")
        training_step = step < 3
        y, mean, var = regularization.batch_norm_forward(xb, gamma, beta, mean, var, training=training_step,
                                                         momentum=momentum, epsilon=epsilon)
        y_keras = np.asarray(layer(xb, training=training_step))
        np.testing.assert_allclose(y, y_keras, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(mean, np.asarray(layer.moving_mean), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(var, np.asarray(layer.moving_variance), rtol=1e-5, atol=1e-6)
        worst = max(worst, float(np.max(np.abs(y - y_keras))))
    return worst


bn_keras_err = check_batch_norm(0.99, 1e-3, 1)
bn_seed_err = check_batch_norm(0.9, 1e-6, 0)
print(f"largest |Keras - NumPy| output difference: Keras defaults {bn_keras_err:.1e}, "
      f"source notes' settings {bn_seed_err:.1e}")
''')
code('''
glue("bn_keras_err", bn_keras_err)
glue("bn_seed_err", bn_seed_err)
''', ["remove-cell"])
md(r"""
Both agree to float32 precision (largest output difference {glue:text}`bn_keras_err:.1e` and
{glue:text}`bn_seed_err:.1e`): the notes' class is `BatchNormalization(momentum=0.9, epsilon=1e-6,
moving_variance_initializer="zeros")`. The notes' other claim, that batch norm lets you train with
a larger learning rate, chapter 3 measured for SGD on this CNN with a full sweep; here is a short
repeat with this chapter's optimizer, Adam: one LR range test per seed
({glue:text}`p_finder_steps` steps) on `cnn1d` and on `cnn1d(norm="batch")`, from the same initial
weights the experiments use.
""")
code('''
def compiled(build_model, seed):
    keras.backend.clear_session()
    weights = training.initial_weights(build_model, seed)
    model = build_model()
    model.set_weights(weights)
    return models.compile_classifier(model, adam())


finder = {}
for name, build_model in (("cnn1d", cnn), ("cnn1d + batch norm", lambda: cnn(norm="batch"))):
    finder[name] = [lr_range_test(compiled(build_model, s), ds.x_train, ds.y_train, batch_size=batch_size,
                                  start_lr=1e-6, end_lr=10.0, num_steps=finder_steps, seed=s)
                    for s in range(finder_seeds)]
edge = {name: math.exp(np.mean([math.log(r.suggestion("minimum") * 10) for r in rs])) for name, rs in finder.items()}

fig, ax = plt.subplots(figsize=(7.5, 3.8))
for k, (name, rs) in enumerate(finder.items()):
    for j, r in enumerate(rs):
        ax.plot(r.lrs, r.smoothed_losses, color=f"C{k}", lw=1.3, label=name if j == 0 else None)
        e = r.suggestion("minimum") * 10
        ax.plot([e], [np.interp(np.log(e), np.log(r.lrs), r.smoothed_losses)], "o", color=f"C{k}")
ax.axvline(learning_rate, color="0.4", ls=":", lw=1, label=f"the chapter's learning rate ({learning_rate:g})")
ax.set(xscale="log", ylim=(None, 3.5), xlabel="learning rate η (log scale)", ylabel="smoothed training loss",
       title=f"LR range tests with Adam, one line per seed (n = {finder_seeds}); dot: the edge (lowest loss)")
ax.grid(alpha=0.3)
ax.legend(fontsize="small")
fig.tight_layout()
''')
code('''
glue("p_finder_steps", finder_steps)
glue("edge_plain", edge["cnn1d"])
glue("edge_bn", edge["cnn1d + batch norm"])
glue("edge_ratio", edge["cnn1d + batch norm"] / edge["cnn1d"])
r_ = edge["cnn1d + batch norm"] / edge["cnn1d"]
glue("edge_verdict", f"batch norm moves the edge up by a factor of {r_:.2g}" if r_ > 1.2 else
     f"batch norm does not move the edge up here (factor {r_:.2g})")
''', ["remove-cell"])
md(r"""
The edge of the test (the learning rate at the lowest smoothed loss, geometric mean over seeds) is
{glue:text}`edge_plain:.2g` without and {glue:text}`edge_bn:.2g` with batch norm:
{glue:text}`edge_verdict`. A range test is one short run per seed; [chapter 3](03_lr_finder.ipynb)
has the full sweep behind this kind of statement.

**Batch norm at tiny batch sizes.** The notes warn that batch norm may not converge when the
batch is small. The reason is in the formula: with {glue:text}`nb_small` examples per batch the
"batch statistics" are estimates from {glue:text}`nb_small` samples (times the sequence positions), noisy in training and different from
the running averages used at inference. Normalizations that do not look across the batch avoid
this by construction: **layer** normalization {footcite:p}`ba2016layernorm` normalizes each
example on its own (Keras's `LayerNormalization` on a (length, channels) input, as `cnn1d` uses it,
normalizes the channels at each position), **instance** normalization
{footcite:p}`ulyanov2016instance` each channel of each example over its positions, and **group**
normalization {footcite:p}`wu2018groupnorm` groups of channels of each example (`groups=8`, the `cnn1d` default; one
group is layer normalization over the whole example, one channel per group is instance
normalization). The CNN with each of them (and with none) at batch sizes {glue:text}`nb_sizes`,
{glue:text}`p_norm_epochs` epochs, Adam at {glue:text}`p_lr:g`, {glue:text}`p_norm_seeds` seeds:
""")
code('''
norm_runs = []
t0 = time.perf_counter()
for norm in norms:
    label = norm or "none"
    df = training.run_experiment(
        lambda norm=norm: cnn(norm=norm),
        {f"batch {b}": training.Arm(adam, batch_size=b, callbacks=lambda: [TrainSetAccuracy()]) for b in norm_batch_sizes},
        ds, seeds=range(norm_seeds), epochs=norm_epochs, progress=False)
    norm_runs.append(df.assign(norm=label, batch=df.arm.str.replace("batch ", "").astype(int)))
norm_df = pd.concat(norm_runs, ignore_index=True)
norm_df["gap"] = norm_df["train_eval_accuracy"] - norm_df["test_accuracy"]
norm_last = norm_df[norm_df.epoch == norm_epochs]
norm_s = time.perf_counter() - t0
norm_table = norm_last.groupby(["norm", "batch"], sort=False).agg(
    test_mean=("test_accuracy", "mean"), test_std=("test_accuracy", "std"),
    train_mean=("train_eval_accuracy", "mean"), n=("seed", "count")).reset_index()

labels = [n or "none" for n in norms]
fig, ax = plt.subplots(figsize=(8, 3.8))
width = 0.8 / len(norm_batch_sizes)
for j, b in enumerate(norm_batch_sizes):
    t = norm_table[norm_table.batch == b].set_index("norm").loc[labels]
    ax.bar(np.arange(len(labels)) + (j - (len(norm_batch_sizes) - 1) / 2) * width, t.test_mean,
           yerr=t.test_std.fillna(0), width=width, capsize=3, color=f"C{j}", alpha=0.85, label=f"batch size {b}")
ax.set_xticks(np.arange(len(labels)), labels)
ax.set(xlabel="normalization after every convolution", ylabel=f"test accuracy after {norm_epochs} epochs",
       title=f"normalization against batch size (mean ± std, n = {norm_seeds} seeds)")
ax.grid(alpha=0.3, axis="y")
ax.legend(fontsize="small")
fig.tight_layout()
print(f"{len(norms) * len(norm_batch_sizes) * norm_seeds} runs in {norm_s:.0f} s")
''')
code('''
small, large = min(norm_batch_sizes), max(norm_batch_sizes)
nt = norm_table.set_index(["norm", "batch"])
glue("nb_sizes", " and ".join(str(b) for b in norm_batch_sizes))
glue("p_norm_epochs", norm_epochs)
glue("p_norm_seeds", norm_seeds)
glue("nb_small", small)
glue("nb_large", large)
glue("nb_bn_small", f"{nt.loc[('batch', small), 'test_mean']:.3f} ± {nt.loc[('batch', small), 'test_std']:.3f}")
glue("nb_bn_large", f"{nt.loc[('batch', large), 'test_mean']:.3f} ± {nt.loc[('batch', large), 'test_std']:.3f}")
glue("nb_bn_drop", float(nt.loc[("batch", large), "test_mean"] - nt.loc[("batch", small), "test_mean"]))
others = [n for n in labels if n not in ("batch",)]
best_small = max(others, key=lambda n: nt.loc[(n, small), "test_mean"])
glue("nb_best_small", best_small)
glue("nb_best_small_acc", f"{nt.loc[(best_small, small), 'test_mean']:.3f} ± {nt.loc[(best_small, small), 'test_std']:.3f}")
a = norm_last[(norm_last.norm == best_small) & (norm_last.batch == small)].test_accuracy
b_ = norm_last[(norm_last.norm == "batch") & (norm_last.batch == small)].test_accuracy
p_small = stats.welch_t_test(a, b_)[2] if min(len(a), len(b_)) >= 2 else float("nan")
glue("nb_p", p_small)
diff_small = float(a.mean() - b_.mean())
glue("nb_diff", diff_small)
changes = {n: float(nt.loc[(n, small), "test_mean"] - nt.loc[(n, large), "test_mean"]) for n in labels}
glue("nb_drops", ", ".join(f"{n} {d:+.3f}" for n, d in changes.items()))
# Within one batch size every normalization gets the same steps: BN's deficit to the best alternative, per size.
best_large = max(others, key=lambda n: nt.loc[(n, large), "test_mean"])
deficit_small = float(nt.loc[(best_small, small), "test_mean"] - nt.loc[("batch", small), "test_mean"])
deficit_large = float(nt.loc[(best_large, large), "test_mean"] - nt.loc[("batch", large), "test_mean"])
glue("nb_deficit_small", deficit_small)
glue("nb_deficit_large", deficit_large)
glue("nb_best_large", best_large)
if deficit_small > deficit_large + 0.02:
    verdict = (f"batch norm falls further behind the best alternative at batch size {small} than at {large}: "
               "the small batch hurts it more than the others")
elif deficit_small < deficit_large - 0.02:
    verdict = (f"batch norm is *closer* to the best alternative at batch size {small} than at {large}: "
               "the claim that it breaks at small batch does not reproduce here")
else:
    verdict = (f"batch norm's distance to the best alternative is about the same at batch sizes {small} and "
               f"{large}: no sign here that the small batch hurts it in particular")
glue("nb_verdict", verdict)
w_small = min(labels, key=lambda n: nt.loc[(n, small), "test_mean"])
w_large = min(labels, key=lambda n: nt.loc[(n, large), "test_mean"])
glue("nb_weakest", f"The weakest choice is {w_small} normalization at batch size {small} and {w_large} "
     f"normalization at {large}".replace("none normalization", "no normalization"))
glue("nb_large_steps", norm_epochs * math.ceil(n_train / large))
glue("nb_small_steps", norm_epochs * math.ceil(n_train / small))
glue("norm_s", norm_s)
''', ["remove-cell"])
md(r"""
First, what the bars do **not** isolate: at a fixed number of epochs the small batch takes
{glue:text}`nb_step_ratio:.0f` times more steps ({glue:text}`nb_small_steps` against
{glue:text}`nb_large_steps`), for every normalization alike, so going from batch size
{glue:text}`nb_large` to {glue:text}`nb_small` changes test accuracy by (smaller minus larger batch)
{glue:text}`nb_drops`: in this short budget the larger batch is simply under-trained. The comparison
that isolates batch norm is between the bars of one batch size, where every model gets the same
steps. At batch size {glue:text}`nb_small`, batch norm reaches {glue:text}`nb_bn_small` and the best
alternative, {glue:text}`nb_best_small`, {glue:text}`nb_best_small_acc` (difference {glue:text}`nb_diff:+.3f`,
Welch p = {glue:text}`nb_p:.2g`); batch norm's deficit to the best alternative is
{glue:text}`nb_deficit_small:.3f` there and {glue:text}`nb_deficit_large:.3f` at batch size
{glue:text}`nb_large` (best: {glue:text}`nb_best_large`). So {glue:text}`nb_verdict`. {glue:text}`nb_weakest`.
""")
code('''
glue("nb_step_ratio", large / small)
''', ["remove-cell"])

# ----------------------------------------------------------------------------- 7. initialization
md(r"""
## Initialization: Glorot against He

Glorot and Bengio {footcite:p}`glorot2010understanding` chose the scale of the initial weights so
that, for a layer with $n_\text{in}$ inputs and $n_\text{out}$ outputs, the variance of the
activations and of the back-propagated gradients stays the same from layer to layer in a network
with symmetric activations (tanh, or sigmoid around its centre): $\mathrm{Var}(w) =
2/(n_\text{in}+n_\text{out})$, about $1/n_\text{in}$ for square layers, "divide by the square root
of the number of nodes", as the notes put it. ReLU sets half of its inputs to zero and so halves
the variance at every layer; He et al. {footcite:p}`he2015delving` compensate with
$\mathrm{Var}(w) = 2/n_\text{in}$ ("multiply by $\sqrt 2$"). The measurement:
`regularization.layer_statistics` on a {glue:text}`p_init_depth`-layer MLP of width
{glue:text}`p_init_width` at initialization, on one batch of {glue:text}`init_batch` training examples, for every
pair of initializer and activation: the standard deviation of each layer's activations and of the
gradient of the loss with respect to each layer's kernel.
""")
code('''
inits = {"Glorot": "glorot_normal", "He": "he_normal"}
acts = ["sigmoid", "tanh", "relu"]


def deep(activation, init):
    return models.mlp(ds.input_shape, hidden=(init_width,) * init_depth, activation=activation,
                      kernel_initializer=inits[init])


layer_stats = {}
for act in acts:
    for init in inits:
        model = deep(act, init)
        model.set_weights(training.initial_weights(lambda: deep(act, init), 0))
        layer_stats[(act, init)] = regularization.layer_statistics(model, ds.x_train[:512], ds.y_train[:512])

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
for k, act in enumerate(acts):
    for init, ls in (("Glorot", "--"), ("He", "-")):
        st = layer_stats[(act, init)]
        hidden = st.iloc[:-1]  # the hidden layers (the last row is the output layer's logits)
        ax0.plot(hidden.index, hidden.act_std, ls, marker="o", ms=3, color=f"C{k}", label=f"{act}, {init}")
        ax1.plot(st.index, st.grad_std, ls, marker="o", ms=3, color=f"C{k}", label=f"{act}, {init}")
ax0.set(yscale="log", xlabel="hidden layer (1 = nearest the input)", ylabel="std of the activations (log scale)",
        title="forward: activations at initialization")
ax1.set(yscale="log", xlabel=f"layer (1 = nearest the input, {init_depth + 1} = output)",
        ylabel="std of ∂loss/∂kernel (log scale)", title="backward: kernel gradients at initialization")
for ax in (ax0, ax1):
    ax.grid(alpha=0.3)
ax0.legend(fontsize="small", ncol=2)
fig.tight_layout()
''')
code('''
glue("p_init_depth", init_depth)
glue("init_batch", len(ds.y_train[:512]))
glue("p_init_width", init_width)


def act_ratio(act, init):
    st = layer_stats[(act, init)].iloc[:-1]
    return float(st.act_std.iloc[-1] / st.act_std.iloc[0])


def grad_ratio(act, init):
    st = layer_stats[(act, init)]
    return float(st.grad_std.iloc[0] / st.grad_std.iloc[-1])


for act in acts:
    for init in inits:
        glue(f"init_act_{act}_{init}", act_ratio(act, init))
        glue(f"init_grad_{act}_{init}", grad_ratio(act, init))
glue("init_vanish", "the first layers hardly get a gradient: the vanishing gradient" if grad_ratio("sigmoid", "Glorot") < 1e-2
     else "no vanishing gradient at this depth")
glue("init_relu_zero", float(layer_stats[("relu", "He")].iloc[:-1].act_zero.mean()))
''', ["remove-cell"])
md(r"""
Read the left panel as "how much of the input's scale survives": from the first to the last
hidden layer the activations' standard deviation is multiplied by
{glue:text}`init_act_relu_Glorot:.3f` for ReLU with Glorot and {glue:text}`init_act_relu_He:.2f` with
He (about half the ReLU units, {glue:text}`init_relu_zero:.0%`, output an exact zero), by
{glue:text}`init_act_tanh_Glorot:.2f` / {glue:text}`init_act_tanh_He:.2f` for tanh (Glorot / He), and by
{glue:text}`init_act_sigmoid_Glorot:.2f` / {glue:text}`init_act_sigmoid_He:.2f` for sigmoid (whose
outputs sit around 0.5, not 0: Glorot's derivation assumes an activation centred at zero). The right panel is the backward pass: the ratio of the first layer's gradient
to the output layer's is {glue:text}`init_grad_sigmoid_Glorot:.2g` for sigmoid with Glorot
({glue:text}`init_vanish`), {glue:text}`init_grad_tanh_Glorot:.2g`
for tanh with Glorot, {glue:text}`init_grad_relu_Glorot:.2g` for ReLU with Glorot and
{glue:text}`init_grad_relu_He:.2g` for ReLU with He.

Does it show in training? The same six networks, SGD with momentum 0.9 at learning rate
{glue:text}`p_init_lr:g`, {glue:text}`p_init_epochs` epochs, {glue:text}`p_init_seeds` seeds:
""")
code('''
init_runs = []
t0 = time.perf_counter()
for act in acts:
    for init in inits:
        df = training.run_experiment(
            lambda act=act, init=init: deep(act, init),
            {f"{act}, {init}": training.Arm(lambda: keras.optimizers.SGD(init_lr, momentum=0.9),
                                            callbacks=lambda: [TrainSetAccuracy()])},
            ds, seeds=range(init_seeds), epochs=init_epochs, batch_size=batch_size, progress=False)
        init_runs.append(df.assign(activation=act, init=init))
init_df = pd.concat(init_runs, ignore_index=True)
init_s = time.perf_counter() - t0
init_last = init_df[init_df.epoch == init_epochs]

fig, ax = plt.subplots(figsize=(7.5, 4))
for k, act in enumerate(acts):
    for init, ls in (("Glorot", "--"), ("He", "-")):
        g = init_df[init_df.arm == f"{act}, {init}"].groupby("epoch").loss
        m, s = g.mean(), g.std().fillna(0)
        ax.plot(m.index, m, ls, color=f"C{k}", lw=1.6, label=f"{act}, {init}")
        ax.fill_between(m.index, m - s, m + s, color=f"C{k}", alpha=0.15, lw=0)
ax.axhline(math.log(10), color="0.5", lw=0.8, ls=":", label="ln 10: chance level")
ax.set(xlabel="epoch", ylabel="training loss (running mean over the epoch)",
       title=f"{init_depth}-layer MLP, SGD + momentum (mean ± std, n = {init_seeds} seeds)")
ax.grid(alpha=0.3)
ax.legend(fontsize="small", ncol=2)
fig.tight_layout()
init_last.groupby("arm", sort=False)[["loss", "accuracy", "test_accuracy"]].mean()
''')
code('''
glue("p_init_lr", init_lr)
glue("p_init_epochs", init_epochs)
glue("p_init_seeds", init_seeds)
il = init_last.groupby("arm").loss.mean()
for act in acts:
    for init in inits:
        glue(f"init_loss_{act}_{init}", float(il[f"{act}, {init}"]))
glue("init_sigmoid_stuck", "stays at chance level (ln 10 ≈ 2.30), as the vanishing gradient at initialization predicts" if il["sigmoid, Glorot"] > 2.2 and il["sigmoid, He"] > 2.2
     else "does move away from chance level")
glue("init_relu_verdict", "He trains faster than Glorot" if il["relu, He"] < il["relu, Glorot"] else
     "Glorot is not behind He here")
glue("init_s", init_s)
''', ["remove-cell"])
md(r"""
After {glue:text}`p_init_epochs` epochs the training loss is {glue:text}`init_loss_relu_He:.3f` for ReLU with
He against {glue:text}`init_loss_relu_Glorot:.3f` with Glorot ({glue:text}`init_relu_verdict` for ReLU),
{glue:text}`init_loss_tanh_Glorot:.3f` / {glue:text}`init_loss_tanh_He:.3f` for tanh (Glorot / He), and
{glue:text}`init_loss_sigmoid_Glorot:.3f` / {glue:text}`init_loss_sigmoid_He:.3f` for sigmoid, which
{glue:text}`init_sigmoid_stuck`. Initialization is not a regularizer, but it
decides whether the deep network trains at all; batch norm, the notes say, makes training "less
dependent on the initial weights" precisely because it resets the scale at every layer.
""")

# ----------------------------------------------------------------------------- 8. large LR
md(r"""
## A large learning rate as a regularizer

Smith's one-cycle policy {footcite:p}`smith2018disciplined` {footcite:p}`smith2017superconvergence`
goes up to a learning rate close to where training diverges, and he argues that the noise of such
large steps regularizes by itself, so that other regularization should be *reduced* to balance
it. The test: one-cycle with Adam (`schedules.OneCycle`, `beta_1` cycled 0.95 → 0.85 → 0.95 with
`optimizers.Adam`), peak = the plain CNN's range-test edge ÷ {glue:text}`p_oc_divisor`
($\eta_\text{max} =$ {glue:text}`oc_peak:.2g`), same {glue:text}`p_epochs` epochs and initial weights as
the main experiment, with dropout {glue:text}`oc_do_values`; and, as the control that separates
"large" from "one-cycle", the same schedule with a peak {glue:text}`p_oc_small` times smaller and no
dropout. The constant-learning-rate arms come from the main experiment.
""")
code('''
peak = edge["cnn1d"] / oc_divisor
total_steps = epochs * steps_per_epoch


def one_cycle(max_lr):
    def make():
        sched = schedules.OneCycle(max_lr, total_steps)
        return optimizers.Adam(sched, beta_1=sched.momentum_schedule())
    return make


oc_arms = {f"one-cycle, dropout {d:g}": training.Arm(one_cycle(peak), build=lambda d=d: cnn(dropout=d),
                                                     callbacks=lambda: [TrainSetAccuracy()])
           for d in oc_dropouts}
oc_arms["one-cycle, small peak"] = training.Arm(one_cycle(peak / oc_small_factor), callbacks=lambda: [TrainSetAccuracy()])
t0 = time.perf_counter()
oc = training.run_experiment(cnn, oc_arms, ds, seeds=range(seeds), epochs=epochs, batch_size=batch_size, progress=False)
oc_s = time.perf_counter() - t0
oc["gap"] = oc["train_eval_accuracy"] - oc["test_accuracy"]
oc_last = oc[oc.epoch == epochs]
both_last = pd.concat([last, oc_last], ignore_index=True)

const_names = ["none"] + [f"dropout {d:g}" for d in dropout_rates]
show = const_names + list(oc_arms)
fig, ax = plt.subplots(figsize=(9, 3.8))
for i, n in enumerate(show):
    g = sel(both_last, n)
    ax.bar(i, g.test_accuracy.mean(), yerr=g.test_accuracy.std(), capsize=3,
           color="C0" if n in const_names else "C1", alpha=0.85)
    ax.plot([i] * len(g), g.test_accuracy, "k.", ms=4)
ax.set_xticks(np.arange(len(show)), [n.replace("one-cycle, ", "one-cycle\\n").replace("small peak", f"peak ÷ {oc_small_factor}")
                                    if n not in const_names else f"constant\\n{n}" for n in show], fontsize="small")
ax.set(ylabel="test accuracy (last epoch)",
       title=f"constant η = {learning_rate:g} (blue) against one-cycle to η = {peak:.2g} (orange); dots: seeds")
lo = both_last[both_last.arm.isin(show)].test_accuracy.min()
ax.set_ylim(max(0.0, lo - 0.1), None)
ax.grid(alpha=0.3, axis="y")
fig.tight_layout()
''')
code('''
glue("p_oc_divisor", oc_divisor)
glue("p_oc_small", oc_small_factor)
glue("oc_peak", peak)
glue("oc_do_values", ", ".join(f"{d:g}" for d in oc_dropouts))
oc0 = f"one-cycle, dropout {oc_dropouts[0]:g}"
best_oc = max([f"one-cycle, dropout {d:g}" for d in oc_dropouts], key=lambda n: mean_of(n, "val_accuracy", oc_last))
glue("oc0_test", acc_text(oc0, table=oc_last))
glue("oc0_gap", acc_text(oc0, "gap", table=oc_last))
glue("oc_small_test", acc_text("one-cycle, small peak", table=oc_last))
glue("oc_best", best_oc)
glue("oc_best_test", acc_text(best_oc, table=oc_last))
gain_reg = mean_of(best_do) - mean_of("none")
gain_oc = mean_of(oc0, table=oc_last) - mean_of("none")
glue("oc_gain_reg", gain_reg)
glue("oc_gain_oc", gain_oc)
glue("oc_vs_do_p", stats.welch_t_test(sel(oc_last, oc0).test_accuracy,
                                      sel(last, best_do).test_accuracy)[2] if seeds >= 2 else float("nan"))
frac = gain_oc / gain_reg if gain_reg > 0 else float("nan")
glue("oc_frac", frac)
glue("oc_large_vs_small", mean_of(oc0, table=oc_last) - mean_of("one-cycle, small peak", table=oc_last))
if not np.isfinite(frac):
    verdict = "dropout did not help the constant learning rate here, so there was nothing for the large learning rate to replace"
elif frac >= 1.1:
    verdict = (f"the large learning rate without dropout does more for test accuracy than dropout did at the "
               f"constant rate ({frac:.1f} times the gain)")
elif frac >= 0.9:
    verdict = "the large learning rate replaces the dropout almost entirely on this task"
elif frac > 0.25:
    verdict = f"the large learning rate recovers about {frac:.0%} of what dropout adds, not all of it"
else:
    verdict = "the large learning rate replaces little of the dropout here"
glue("oc_verdict", verdict)
glue("oc_s", oc_s)
''', ["remove-cell"])
md(r"""
Without dropout, one-cycle to the large peak reaches test accuracy {glue:text}`oc0_test` (gap
{glue:text}`oc0_gap`), against {glue:text}`base_test` for the constant learning rate without
regularization and {glue:text}`do_best_test` with the best dropout ({glue:text}`do_best`). Dropout
adds {glue:text}`oc_gain_reg:+.3f` to the constant-rate baseline; one-cycle alone adds
{glue:text}`oc_gain_oc:+.3f` (Welch p = {glue:text}`oc_vs_do_p:.2g` for one-cycle without dropout against
constant rate with it): {glue:text}`oc_verdict`. The small-peak control, the same schedule
{glue:text}`p_oc_small` times lower, reaches {glue:text}`oc_small_test`, so the large peak is worth
{glue:text}`oc_large_vs_small:+.3f` on its own. Under one-cycle, the dropout setting with the best
validation accuracy is {glue:text}`oc_best` ({glue:text}`oc_best_test` test accuracy).

Two caveats. The constant rate {glue:text}`p_lr:g` was chosen in a pilot run, not by a sweep in this
chapter, while the one-cycle peak came from a range test; and one-cycle also anneals to a tiny rate
at the end, which the small-peak control shares. What the control isolates is the size of the peak.
""")

# ----------------------------------------------------------------------------- summary
md(r"""
## Summary

Every setting chosen by validation accuracy, every number the last epoch of its runs (early
stopping: the restored epoch), test accuracy and gap as mean ± std over n seeds. The settings
differ (the normalization and initialization experiments use their own epochs and, for
initialization, a different network), so compare rows within a block.
""")
code('''
def row(technique, setting, table, name, n_epochs):
    t = sel(table, name)
    return {"technique": technique, "setting": setting,
            "test accuracy": f"{t.test_accuracy.mean():.3f} ± {t.test_accuracy.std():.3f}",
            "gap (train − test)": f"{t.gap.mean():.3f} ± {t.gap.std():.3f}", "n": len(t), "epochs": n_epochs}


init_last = init_last.assign(gap=init_last.train_eval_accuracy - init_last.test_accuracy)
summary = [row("none", f"Adam {learning_rate:g}, cnn1d", last, "none", epochs),
           row("dropout", best_do, last, best_do, epochs),
           row("L1 penalty", best_l1, last, best_l1, epochs),
           row("L2 penalty (Adam)", best_l2, last, best_l2, epochs),
           row("decoupled weight decay", best_aw, last, best_aw, epochs)]
es_table = stopping[stopping.rule == "keras"].assign(arm="es", test_accuracy=lambda d: d["test acc, restored"],
                                                     gap=lambda d: d["gap, restored"])
summary.append(row("early stopping", f"patience {patience}, restore best (stopped at epoch "
                   f"{es_table['stop epoch'].mean():.1f})", es_table, "es", es_epochs))
acc_table = stopping[stopping.rule == "keras, val accuracy"].assign(
    arm="es", test_accuracy=lambda d: d["test acc, restored"], gap=lambda d: d["gap, restored"])
summary.append(row("early stopping", f"on val accuracy, patience {patience} (stopped at epoch "
                   f"{acc_table['stop epoch'].mean():.1f})", acc_table, "es", es_epochs))
summary.append(row("large LR", f"one-cycle to {peak:.2g}, no dropout", oc_last, oc0, epochs))
summary.append(row("large LR + dropout", best_oc, oc_last, best_oc, epochs))
for norm in labels:
    for b in (small, large):
        t = norm_last[(norm_last.norm == norm) & (norm_last.batch == b)].assign(arm="x")
        summary.append(row("normalization", f"{norm}, batch {b}", t, "x", norm_epochs))
for act in acts:
    for init in inits:
        summary.append(row("initialization", f"{init_depth}-layer MLP, {act}, {init}", init_last, f"{act}, {init}",
                           init_epochs))
summary = pd.DataFrame(summary)
summary
''')
code('''
from lrbook.notebook import glue_headlines, headline

setting = f"MNIST-1D, {n_train} training examples, cnn1d, Adam {learning_rate:g}, {epochs} epochs"
top_reg = max([best_do, best_l1, best_l2, best_aw], key=lambda n: mean_of(n, "val_accuracy"))
headline("Best regularizer vs none (test accuracy; gap train − test)",
         f"{top_reg}: {acc_text(top_reg)} (gap {acc_text(top_reg, 'gap')}) vs none: {acc_text('none')} "
         f"(gap {acc_text('none', 'gap')})", n=seeds, note=f"{setting}; chosen by validation accuracy")
headline("AdamW vs Adam + L2 penalty (best of each, test accuracy)",
         f"{best_aw}: {acc_text(best_aw)} vs {best_l2}: {acc_text(best_l2)} (Welch p = {welch_p(best_aw, best_l2):.2g})",
         n=seeds, note=setting)
headline(f"Batch norm at batch size {small} vs {large} (test accuracy)",
         f"batch norm {nt.loc[('batch', small), 'test_mean']:.3f} vs {nt.loc[('batch', large), 'test_mean']:.3f}; "
         f"best alternative at {small}: {best_small} {nt.loc[(best_small, small), 'test_mean']:.3f}",
         n=norm_seeds, note=f"MNIST-1D, {n_train} examples, cnn1d, Adam {learning_rate:g}, {norm_epochs} epochs")
headline("Large LR (one-cycle, no dropout) vs dropout at a constant LR (test accuracy)",
         f"{acc_text(oc0, table=oc_last)} vs {best_do}: {acc_text(best_do)}; none: {acc_text('none')}",
         n=seeds, note=f"{setting}; one-cycle peak {peak:.2g} (range-test edge / {oc_divisor})")
glue_headlines()
glue("sum_top", top_reg)
glue("sum_top_test", acc_text(top_reg))
glue("sum_top_gap", acc_text(top_reg, "gap"))
glue("runtime_s", time.perf_counter() - T_START)
glue("runtime_profile", profile)
glue("runtime_device", info["device"])
''', ["remove-cell"])
md(r"""
- In this overfitting regime (a gap of {glue:text}`base_gap` without regularization), the best single
  regularizer by validation accuracy was {glue:text}`sum_top`: test accuracy {glue:text}`sum_top_test`,
  gap {glue:text}`sum_top_gap`, against {glue:text}`base_test` without. A small gap alone can be
  underfitting: read it with the test accuracy.
- Keras's dropout is inverted dropout; the source notes' version differs by a constant factor and
  is equivalent in expectation (checked). L1 leaves {glue:text}`nz_l1:.0%` of the weights near zero,
  L2 {glue:text}`nz_l2:.0%`.
- With Adam, an L2 penalty is not weight decay: it decays weights with small gradients hard and
  weights with large gradients hardly at all (two-weight experiment); on the task,
  {glue:text}`aw_verdict`.
- Early stopping on the validation loss (patience {glue:text}`p_patience`) saved
  {glue:text}`es_saved_pct:.0f`% of the epochs, test accuracy {glue:text}`es_restored` against
  {glue:text}`es_end` for training to the end; on the validation accuracy, {glue:text}`es_acc_restored`.
- Batch norm at batch size {glue:text}`nb_small`: {glue:text}`nb_bn_small`, against
  {glue:text}`nb_bn_large` at {glue:text}`nb_large`; {glue:text}`nb_verdict`.
- One-cycle to a large learning rate without dropout: {glue:text}`oc0_test`;
  {glue:text}`oc_verdict`.

*This page was computed with the {glue:text}`runtime_profile` profile on {glue:text}`runtime_device`
in {glue:text}`runtime_s:.0f` s.*

## References

```{footbibliography}
```
""")
write(cells, NAME)
