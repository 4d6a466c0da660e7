import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SETUP, badge, derived  # noqa: E402
from nbgen import recorder, write  # noqa: E402

NAME = "07_distillation_compression"
cells, md, code = recorder()

md("# Distillation, pruning and quantization, measured")
md(badge(NAME))
md(r"""
## Overview

A model that is accurate is not always a model you can ship: it may be too large for the
device, or too slow per request. This chapter measures three ways to make a small model out of a
large one. **Knowledge distillation** trains a small *student* on the softened outputs of a large
*teacher*; **pruning** zeroes the weights that matter least; **quantization** stores weights and
activations in 8-bit integers instead of 32-bit floats. Each is measured against a baseline that
was tuned as carefully as the method, on several seeds, and at the end the three are stacked.

**You will learn** what the temperature softmax does to a teacher's output and why the
distillation loss carries a factor $T^2$; how `lrbook.distill` relates to Keras's built-in
`keras.distillation.Distiller` (and a default in Keras 3.15 that quietly computes something
else); how much of the teacher–student gap distillation recovers here, and how that depends on
the temperature, the loss weights and the size of the transfer set; how to prune a Keras 3 model
without the Model Optimization Toolkit; and what Keras's `model.quantize("int8")` and TFLite's
full-integer quantization do to size, accuracy and latency.

**Prerequisites:** chapter 1 (training loop, Adam, seeds and same-initial-weights comparisons);
one-cycle from the schedules chapter is used, not explained.

**Run time:** the `quick` profile (what CI runs) takes about a minute on 2 CPU cores; the `full`
profile (what this page shows) takes about 10 minutes on 2 CPU cores. The exact time of this
build is at the end of the page.
""")
code('''
# Parameters (papermill overrides these; see "How to use this book").
profile = None            # "quick" (CI) or "full" (the book); None reads $LRBOOK_PROFILE, default "full"
n_train = 4000            # MNIST-1D training samples before the 20% validation split
transfer_extra = 12800    # extra *unlabeled* inputs for the transfer-set section (a second MNIST-1D draw)
seeds = 3                 # seeds of every comparison (teacher, students, pruning, the final pipeline)
sweep_seeds = 2           # seeds of the temperature and loss-weight sweeps
batch_size = 128
teacher_filters = [64, 64, 64]   # cnn1d channels of the teacher
student_filters = [8, 8, 8]      # cnn1d channels of the student
teacher_epochs = 30
teacher_lr = 0.003        # Adam
epochs = 30               # every student run (scratch, distilled, one-cycle)
lr_grid = [0.01, 0.03, 0.1]  # Adam learning rates swept for the scratch AND the distilled student
temperature = 4.0         # the main distillation setting
lambda_soft = 1.0
lambda_hard = 1.0
temperatures = [1.0, 2.0, 4.0, 8.0, 20.0]
soft_fractions = [0.25, 0.5, 0.75, 1.0]  # lambda_soft / (lambda_soft + lambda_hard) in the weight sweep
onecycle_factor = 2.0     # the one-cycle peak, as a multiple of the best constant learning rate of each arm
prune_sparsities = [0.5, 0.75, 0.9]
prune_epochs = 10         # fine-tuning epochs while pruning (distillation loss)
prune_lr = 0.003          # Adam, fine-tuning
final_tolerance = 0.02    # final pipeline: the largest pruning sparsity within this accuracy of the dense student
latency_repeats = 300     # single-sample latency: median over this many calls
calibration_samples = 200 # representative inputs of TFLite's int8 calibration
''', ["parameters"])
code(derived('''    n_train, transfer_extra, seeds, sweep_seeds = 2000, 2000, 1, 1
    teacher_epochs, epochs, prune_epochs = 4, 4, 1
    lr_grid, temperatures, soft_fractions = [0.03], [1.0], [1.0]
    prune_sparsities, latency_repeats, calibration_samples = [0.75], 30, 50'''))
code(SETUP + '''

import math
import os
import tempfile
import warnings

import tensorflow as tf

from lrbook import distill, pruning, quantize, schedules
from lrbook.distill import DistillationLoss, pack_targets, packed_accuracy''', ["hide-output"])

# ----------------------------------------------------------------------------- teacher and student
md(r"""
## A teacher and a student

MNIST-1D {footcite:p}`greydanus2020mnist1d` again, with its published 4,000 training samples
split 80/20 into training and validation; the test set is only read to report. The **teacher** is
the book's 1-D CNN with {glue:text}`teacher_channels` channels per convolution; the **student**
is the same architecture with {glue:text}`student_channels` channels. Each teacher is trained once
per seed, with Adam at a fixed learning rate, and reused by every section below.
""")
code('''
ds = data.load("mnist1d", n_train=n_train, validation_split=0.2, seed=None)
SEEDS = list(range(seeds))
build_teacher = lambda: models.cnn1d(ds.input_shape, filters=tuple(teacher_filters), name="teacher")
build_student = lambda: models.cnn1d(ds.input_shape, filters=tuple(student_filters), name="student")
steps_per_epoch = math.ceil(len(ds.y_train) / batch_size)


def test_accuracy(model, x=None, y=None):
    """Accuracy of a logit model on the test set (or on x, y)."""
    x, y = (ds.x_test, ds.y_test) if x is None else (x, y)
    return float(np.mean(np.argmax(keras.ops.convert_to_numpy(model(x, training=False)), -1) == y))


teachers, teacher_acc, teacher_curves, T_START_TEACHERS = {}, {}, {}, time.perf_counter()
logits = {}  # per seed: the frozen teacher's logits on every input a student ever sees
for seed in SEEDS:
    keras.backend.clear_session()
    training.set_seed(seed)
    teacher = models.compile_classifier(build_teacher(), keras.optimizers.Adam(teacher_lr))
    h = teacher.fit(ds.x_train, ds.y_train, batch_size=batch_size, epochs=teacher_epochs,
                    validation_data=ds.validation_data, verbose=0)
    teachers[seed] = teacher.get_weights()
    teacher_acc[seed] = test_accuracy(teacher)
    teacher_curves[seed] = h.history["val_accuracy"]
    logits[seed] = {part: teacher.predict(x, batch_size=1024, verbose=0)
                    for part, x in (("train", ds.x_train), ("val", ds.x_val), ("test", ds.x_test))}
teacher_s = time.perf_counter() - T_START_TEACHERS
n_teacher, n_student = build_teacher().count_params(), build_student().count_params()
teacher_sum = stats.summarize(list(teacher_acc.values()))
pd.DataFrame({"parameters": [n_teacher, n_student],
              "channels per conv": [str(teacher_filters), str(student_filters)]},
             index=["teacher", "student"])
''')
code('''
glue("teacher_channels", str(teacher_filters[0]))
glue("student_channels", str(student_filters[0]))
glue("n_teacher", n_teacher)
glue("n_student", n_student)
glue("param_ratio", n_teacher / n_student)
glue_summary("teacher_acc", teacher_sum)
glue("n_seeds", len(SEEDS))
glue("teacher_epochs", teacher_epochs)
glue("teacher_lr", teacher_lr)
glue("teacher_s", teacher_s)
''', ["remove-cell"])
md(r"""
The teacher has {glue:text}`n_teacher` parameters, {glue:text}`param_ratio:.0f` times the
student's {glue:text}`n_student`. Trained for {glue:text}`teacher_epochs` epochs with Adam at
$\eta =$ {glue:text}`teacher_lr:g`, it reaches a test accuracy of {glue:text}`teacher_acc` over
{glue:text}`n_seeds` seeds ({glue:text}`teacher_s:.0f` s for all of them). Because the teacher is
frozen and the inputs are not augmented, its logits on every training input are a fixed array:
they are computed once per seed (the cell above) and every distillation run below reads them,
instead of running the teacher at every step.
""")

# ----------------------------------------------------------------------------- temperature softmax
md(r"""
## Softening the teacher: the temperature softmax

Distillation {footcite:p}`hinton2015distilling` trains the student to match the teacher's class
probabilities, not just its top class. Those probabilities come from a softmax with a
**temperature** $T$:

$$\operatorname{softmax}(z/T)_i = \frac{\exp(z_i / T)}{\sum_j \exp(z_j / T)} .$$

At $T = 1$ a well-trained teacher puts almost all the mass on one class; the rest, the "dark
knowledge" of which wrong classes look alike, is hidden in numbers like $10^{-4}$. Raising $T$
divides every logit by the same number, so the order of the classes stays and the small
probabilities grow. The figure shows it on one test input that the teacher classifies correctly with its runner-up
class near 1% (`lrbook.distill.temperature_softmax`).
""")
code('''
seed0 = SEEDS[0]
Ts = [1.0, 2.0, 4.0, 8.0, 20.0]
zt = logits[seed0]["test"].astype("float64")
p1 = np.exp(zt - zt.max(1, keepdims=True))
p1 /= p1.sum(1, keepdims=True)
runner_up = np.sort(p1, axis=1)[:, -2]
correct = np.flatnonzero(np.argmax(zt, 1) == ds.y_test)
sample = int(correct[np.argmin(np.abs(np.log(runner_up[correct] / 0.01)))])  # right, runner-up near 1%
z = zt[sample]
probs = {T: keras.ops.convert_to_numpy(distill.temperature_softmax(z.astype("float32"), T)) for T in Ts}
# float64 log-probabilities for the figure and the entropy (tiny probabilities underflow in float32)
log_p = {T: z / T - (z / T).max() - np.log(np.sum(np.exp(z / T - (z / T).max()))) for T in Ts}
entropy = {T: float(-(np.exp(lp) * lp).sum()) for T, lp in log_p.items()}
np.testing.assert_allclose(probs[4.0], np.exp(log_p[4.0]), rtol=1e-4, atol=1e-7)
order = np.argsort(-z)
fig, ax = plt.subplots(figsize=(9, 4.8))
width = 0.16
for k, T in enumerate(Ts):
    ax.bar(np.arange(10) + (k - 2) * width, np.exp(log_p[T][order]), width, label=f"T = {T:g}  (entropy {entropy[T]:.2f} nats)")
ax.set_yscale("log")
ax.set_xticks(np.arange(10), [str(c) for c in order])
ax.set(xlabel="class (sorted by the teacher's logit)", ylabel="probability (log scale)",
       title=f"teacher (seed {seed0}) on test sample {sample}, true class {ds.y_test[sample]}: softmax(z / T)")
ax.axhline(0.1, color="0.5", ls=":", lw=1, label="uniform, 1/10")
fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize="small", frameon=False)
fig.tight_layout(rect=(0, 0.1, 1, 1))
assert all(np.all(np.argsort(-log_p[T]) == order) for T in Ts), "T never reorders classes"
assert all(entropy[a] < entropy[b] for a, b in zip(Ts, Ts[1:])), "entropy grows with T"
''')
code('''
glue("sm_sample", sample)
glue("sm_top_T1", float(np.exp(log_p[1.0][order[0]])))
glue("sm_second_T1", float(np.exp(log_p[1.0][order[1]])))
glue("sm_last_T1", float(np.exp(log_p[1.0][order[-1]])))
glue("sm_top_T20", float(np.exp(log_p[20.0][order[0]])))
glue("sm_last_T20", float(np.exp(log_p[20.0][order[-1]])))
glue("sm_H1", entropy[1.0])
glue("sm_H20", entropy[20.0])
glue("sm_Hmax", math.log(10))
''', ["remove-cell"])
md(r"""
At $T = 1$ the teacher gives its top class {glue:text}`sm_top_T1:.3f`, the runner-up
{glue:text}`sm_second_T1:.2g` and the least likely class {glue:text}`sm_last_T1:.1e`. At $T = 20$
the same logits give {glue:text}`sm_top_T20:.3f` and {glue:text}`sm_last_T20:.3f`: the entropy
rises from {glue:text}`sm_H1:.2f` to {glue:text}`sm_H20:.2f` nats (uniform: {glue:text}`sm_Hmax:.2f`),
and the order of the classes, asserted in the cell, never changes.

**Why $T^2$.** The gradient of the soft term with respect to a student logit is
$\frac{1}{T}(q_i - p_i)$, with $q$ and $p$ the student's and teacher's softened probabilities; for
large $T$ that is about $\frac{1}{N T^2}(z_i - v_i)$ for $N$ classes and zero-mean logits $z$, $v$
{footcite:p}`hinton2015distilling`. Without the factor $T^2$ the soft term would fade as the
temperature rises, and changing $T$ would silently change the balance between the two terms. The
cell below measures it on a batch of student logits (an untrained student against the teacher):
""")
code('''
student0 = build_student()
student0.set_weights(training.initial_weights(build_student, seed0))
z_s = tf.constant(student0.predict(ds.x_train[:256], verbose=0))
z_t = tf.constant(logits[seed0]["train"][:256])
rows = {}
for T in Ts:
    with tf.GradientTape() as tape:
        tape.watch(z_s)
        soft = distill.distillation_loss(None, z_s, z_t, temperature=T, lambda_soft=1.0, lambda_hard=0.0) / T ** 2
    g = float(tf.norm(tape.gradient(soft, z_s)))
    rows[T] = {"‖∂L_soft/∂z‖ (no T²)": g, "× T² (the loss)": g * T ** 2}
grad_table = pd.DataFrame(rows).T
grad_table.index.name = "T"
ratio_plain = grad_table.iloc[-1, 0] / grad_table.iloc[0, 0]
ratio_scaled = grad_table.iloc[-1, 1] / grad_table.iloc[-2, 1]
assert ratio_plain < 0.05 and 0.5 < ratio_scaled < 2
grad_table
''')
code('''
glue("grad_ratio_plain", ratio_plain)
glue("grad_ratio_scaled", ratio_scaled)
''', ["remove-cell"])
md(r"""
From $T = 1$ to $T = 20$ the unscaled gradient shrinks by a factor {glue:text}`grad_ratio_plain:.1e`;
multiplied by $T^2$ it stays of the same order (from $T = 8$ to $T = 20$ it changes by a factor
{glue:text}`grad_ratio_scaled:.2f`).
""")

# ----------------------------------------------------------------------------- the loss and Keras's distiller
md(r"""
## The loss, in `lrbook` and in Keras

The exam notes this chapter grew from write the student's loss as

$$L = \frac{\lambda_{\text{soft}} \, T^2 \, L_{\text{soft}} + \lambda_{\text{hard}} \, L_{\text{hard}}}
{\lambda_{\text{soft}} + \lambda_{\text{hard}}},$$

with $L_{\text{soft}} = \mathrm{KL}\big(\operatorname{softmax}(v/T) \,\|\, \operatorname{softmax}(z/T)\big)$
between the teacher's ($v$) and the student's ($z$) softened outputs, averaged over the batch, and
$L_{\text{hard}}$ the usual cross-entropy of the student at $T = 1$ against the labels.
`lrbook.distill.distillation_loss` is exactly this; `Distiller` wraps it in a `keras.Model`
that trains with `fit` against a frozen teacher; `DistillationLoss` is the same loss on *packed*
targets (label and precomputed teacher logits side by side), which this chapter uses because the
teacher's logits were computed once.

Keras 3.15 ships its own `keras.distillation.Distiller`. It minimises
$\alpha L_{\text{hard}} + (1-\alpha)\,T^2 L_{\text{soft}}$ with `student_loss_weight` $=\alpha$:
the same loss when $\alpha = \lambda_{\text{hard}} / (\lambda_{\text{soft}} + \lambda_{\text{hard}})$
(`distill.keras_student_loss_weight`). The normalisation by $\lambda_{\text{soft}} + \lambda_{\text{hard}}$
is the only difference in convention, and it is a convention: only the ratio of the two weights
matters. But there is a trap. The cell checks both on one batch of MNIST-1D:
""")
code('''
teacher0 = build_teacher()
teacher0.set_weights(teachers[seed0])
xb, yb = ds.x_train[:batch_size], ds.y_train[:batch_size]
alpha = distill.keras_student_loss_weight(lambda_soft, lambda_hard)


def keras_distiller(kl_loss):
    s = build_student()
    s.set_weights(student0.get_weights())
    d = keras.distillation.Distiller(
        teacher=teacher0, student=s, student_loss_weight=alpha,
        distillation_losses=keras.distillation.LogitsDistillation(temperature=temperature, loss=kl_loss))
    d.compile(keras.optimizers.Adam(0.01), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return d


ours = distill.Distiller(student0, teacher0, temperature=temperature, lambda_soft=lambda_soft, lambda_hard=lambda_hard)
ours.compile(keras.optimizers.Adam(0.01))
keras_fixed, keras_default = keras_distiller(keras.losses.KLDivergence()), keras_distiller("kl_divergence")
check = pd.Series({
    "lrbook distillation_loss": float(distill.distillation_loss(
        yb, student0(xb), teacher0(xb), temperature=temperature, lambda_soft=lambda_soft, lambda_hard=lambda_hard)),
    "lrbook Distiller": float(ours.compute_loss(xb, yb, ours(xb))),
    "lrbook DistillationLoss, packed targets": float(DistillationLoss(temperature, lambda_soft, lambda_hard)(
        pack_targets(yb, logits[seed0]["train"][:batch_size]), student0(xb))),
    "Keras Distiller, loss=KLDivergence()": float(keras_fixed.compute_loss(xb, yb, keras_fixed(xb))),
    'Keras Distiller, default loss="kl_divergence"': float(keras_default.compute_loss(xb, yb, keras_default(xb))),
}, name=f"loss on one batch (T = {temperature:g}, α = {alpha:g})")
np.testing.assert_allclose(check.iloc[:4], check.iloc[0], rtol=1e-5)
assert abs(check.iloc[4] - check.iloc[0]) > 1e-3 * abs(check.iloc[0])
# The default: KL divergence of the clipped, temperature-scaled *logits*, no softmax, no T^2.
soft_default = float(keras.ops.mean(keras.losses.kl_divergence(teacher0(xb) / temperature, student0(xb) / temperature)))
hard = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(yb, student0(xb)))
np.testing.assert_allclose(check.iloc[4], alpha * hard + (1 - alpha) * soft_default, rtol=1e-5)
check.to_frame()
''')
code('''
glue("kd_loss", check.iloc[0])
glue("kd_default", check.iloc[4])
glue("kd_alpha", alpha)
''', ["remove-cell"])
md(r"""
`lrbook`'s three forms and Keras's distiller with an explicit `keras.losses.KLDivergence()`
agree to float32 precision ({glue:text}`kd_loss:.4f`; `tests/test_distill.py` also checks that
one training step gives the same weights). With its **default** `loss="kl_divergence"`, Keras
gives {glue:text}`kd_default:.4f`: the string is resolved to the *function*
`keras.losses.kl_divergence`, `LogitsDistillation` only applies the softmax and the $T^2$ when the
loss is an instance of the `KLDivergence` class, and so the default computes the KL divergence of
the temperature-scaled logits themselves, clipped to $[10^{-7}, 1]$. The cell reproduces that
number from the formula. If you use Keras's distiller, pass the class instance (and, since the
student outputs logits, `SparseCategoricalCrossentropy(from_logits=True)` as the student loss,
not the string, which expects probabilities).
""")

# ----------------------------------------------------------------------------- scratch vs distilled
md(r"""
## Student from scratch vs distilled

The comparison that matters: the same student, from the same initial weights and with the same
data order for each seed, trained either on the labels alone (cross-entropy, "scratch") or with
the distillation loss ($T =$ {glue:text}`p_T:g`, $\lambda_{\text{soft}} = \lambda_{\text{hard}}$).
A distilled student is easy to flatter with an undertrained baseline, so **both** arms get the
same {glue:text}`p_epochs` epochs and the same learning-rate sweep (Adam,
$\eta \in$ {glue:text}`p_grid`), and each arm is reported at the learning rate with its best mean
validation accuracy.
""")
code('''
init = {seed: training.initial_weights(build_student, seed) for seed in SEEDS}
packed = {seed: {part: pack_targets(y, logits[seed][part]) for part, y in
                 (("train", ds.y_train), ("val", ds.y_val))} for seed in SEEDS}


_compiled = {}  # one compiled student per loss: later runs reuse its traced train step


def compiled_student(loss, lr):
    """A compiled student for `loss` (None: cross-entropy) with a *reset* Adam at learning rate `lr`.

    Compiling and tracing costs more than a short run; a constant-rate run reuses the compiled model of its
    loss and resets every optimizer variable (moments, iteration count) to zero, which gives bit-identical
    weights to a freshly built and compiled model (checked while writing this chapter). A schedule gets a
    fresh model.
    """
    key = None if loss is None else (loss.temperature, loss.lambda_soft, loss.lambda_hard)
    fresh = not isinstance(lr, float) or key not in _compiled
    if fresh:
        model = build_student()
        opt = keras.optimizers.Adam(lr)
        if loss is None:
            models.compile_classifier(model, opt)
        else:
            model.compile(opt, loss=loss, metrics=[packed_accuracy])
        if isinstance(lr, float):
            _compiled[key] = model
        return model
    model = _compiled[key]
    for v in model.optimizer.variables:
        v.assign(keras.ops.zeros_like(v))
    model.optimizer.learning_rate.assign(lr)
    return model


def train_student(seed, lr, *, loss=None, x=None, targets=None, n_epochs=None, weights=None, callbacks=(),
                  validate=True):
    """Train the student once; loss=None is cross-entropy on the labels, else a DistillationLoss.

    Same initial weights (init[seed]) and same data order (seeded fit) for every arm of a seed.
    `lr` may be a float or a schedule. Returns (model, per-epoch validation accuracy, test accuracy).
    """
    lr = float(lr) if isinstance(lr, (int, float)) else lr
    model = compiled_student(loss, lr)
    model.set_weights(init[seed] if weights is None else weights)
    if loss is None:
        x, targets = (ds.x_train, ds.y_train) if x is None else (x, targets)
        val = ds.validation_data
    else:
        x, targets = (ds.x_train, packed[seed]["train"]) if x is None else (x, targets)
        val = (ds.x_val, packed[seed]["val"])
    training.set_seed(seed)
    h = model.fit(x, targets, batch_size=batch_size, epochs=n_epochs or epochs, verbose=0,
                  validation_data=val if validate else None, callbacks=list(callbacks))
    key = "val_accuracy" if loss is None else "val_packed_accuracy"
    return model, h.history.get(key, []), test_accuracy(model)


def kd_loss(T=temperature, soft_fraction=None):
    ls, lh = (lambda_soft, lambda_hard) if soft_fraction is None else (soft_fraction, 1 - soft_fraction)
    return DistillationLoss(T, ls, lh)


rows, curves, students = [], [], {}
T_SWEEP = time.perf_counter()
for seed in SEEDS:
    for lr in lr_grid:
        for arm, loss in (("scratch", None), ("distilled", kd_loss())):
            model, val_curve, acc = train_student(seed, lr, loss=loss)
            rows.append({"arm": arm, "seed": seed, "lr": lr, "val_acc": val_curve[-1], "test_acc": acc})
            curves += [{"arm": arm, "seed": seed, "lr": lr, "epoch": e + 1, "val_acc": v} for e, v in enumerate(val_curve)]
            students[arm, seed, lr] = model.get_weights()
main_s = time.perf_counter() - T_SWEEP
runs = pd.DataFrame(rows)
curves = pd.DataFrame(curves)
by_lr = runs.groupby(["arm", "lr"])[["val_acc", "test_acc"]].agg(["mean", "std"])
best_lr = {arm: float(runs[runs.arm == arm].groupby("lr").val_acc.mean().idxmax()) for arm in ("scratch", "distilled")}
best = {arm: runs[(runs.arm == arm) & (runs.lr == best_lr[arm])].set_index("seed").test_acc
        for arm in ("scratch", "distilled")}
by_lr.round(4)
''')
code('''
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
for k, arm in enumerate(("scratch", "distilled")):
    g = by_lr.loc[arm]
    ax0.errorbar(g.index, g[("val_acc", "mean")], yerr=g[("val_acc", "std")].fillna(0), fmt="o-", color=f"C{k}",
                 capsize=3, label=arm)
    c = curves[(curves.arm == arm) & (curves.lr == best_lr[arm])]
    plotting.plot_curves(c.assign(name=f"{arm}, η = {best_lr[arm]:g}"), "val_acc", by="name", ax=ax1)
ax0.set(xscale="log", xlabel="Adam learning rate η (log scale)", ylabel=f"validation accuracy after {epochs} epochs",
        title=f"learning-rate sweep (mean ± std, n = {len(SEEDS)})")
ax0.grid(alpha=0.3)
ax0.legend(fontsize="small")
ax1.axhline(teacher_sum.mean, color="0.3", ls="--", lw=1, label="teacher (test, mean)")
ax1.set(ylabel="validation accuracy", title="each arm at its best η (band: ± std over seeds)")
ax1.legend(fontsize="small", loc="lower right")
fig.tight_layout()

s_scr, s_kd = stats.summarize(best["scratch"]), stats.summarize(best["distilled"])
diff = best["distilled"].to_numpy() - best["scratch"].to_numpy()  # paired: same seed, same initial weights
p_main = stats.welch_t_test(best["distilled"], best["scratch"])[2] if len(SEEDS) > 1 else float("nan")
gap = teacher_sum.mean - s_scr.mean
recovered = (s_kd.mean - s_scr.mean) / gap if gap > 0 else float("nan")
# "flattened": gain of the scratch arm over its last 20% of epochs (mean over seeds)
c = curves[(curves.arm == "scratch") & (curves.lr == best_lr["scratch"])].groupby("epoch").val_acc.mean()
tail_gain = float(c.iloc[-1] - c.iloc[int(0.8 * len(c)) - 1])
pd.DataFrame({"test accuracy": [stats.format_mean_std(m.mean, m.std, m.n) for m in (teacher_sum, s_scr, s_kd)],
              "learning rate": ["%g" % teacher_lr, "%g" % best_lr["scratch"], "%g" % best_lr["distilled"]]},
             index=["teacher", "student, scratch", f"student, distilled (T = {temperature:g})"])
''')
code('''
HINTON = {"scratch": 146, "distilled": 74, "teacher": 67}  # test errors on MNIST, Hinton et al. (2015), section 3
hinton_recovered = (HINTON["scratch"] - HINTON["distilled"]) / (HINTON["scratch"] - HINTON["teacher"])
glue("p_T", temperature)
glue("p_epochs", epochs)
glue("p_grid", ", ".join(f"{v:g}" for v in lr_grid))
glue_summary("acc_scratch", s_scr)
glue_summary("acc_kd", s_kd)
glue("lr_scratch", best_lr["scratch"])
glue("lr_kd", best_lr["distilled"])
glue("kd_diff", s_kd.mean - s_scr.mean)
glue("kd_diff_pts", 100 * (s_kd.mean - s_scr.mean))
glue("kd_p", p_main)
glue("kd_wins", int((diff > 0).sum()))
glue("kd_gap_pts", 100 * gap)
glue("kd_recovered_pct", 100 * recovered)
glue("hinton_scratch", HINTON["scratch"])
glue("hinton_kd", HINTON["distilled"])
glue("hinton_teacher", HINTON["teacher"])
glue("hinton_pct", 100 * hinton_recovered)
glue("scratch_tail_gain_pts", 100 * tail_gain)
glue("main_s", main_s)
train_accs = []
for seed in SEEDS:
    m = build_student()
    m.set_weights(students["scratch", seed, best_lr["scratch"]])
    train_accs.append(test_accuracy(m, ds.x_train, ds.y_train))
scr_train = float(np.mean(train_accs))
scr_val = float(runs[(runs.arm == "scratch") & (runs.lr == best_lr["scratch"])].val_acc.mean())
glue("scr_train_acc", scr_train)
glue("scr_val_acc", scr_val)
glue("scr_fit_sentence",
     "the student is limited by its capacity more than by overfitting: there is little generalisation gap for "
     "soft targets to close." if scr_train - scr_val < 0.03 else
     f"it overfits by {100 * (scr_train - scr_val):.1f} points: the regime in which soft targets are said to help.")
if not gap > 0:
    verdict = "The student from scratch is as good as the teacher here, so there is no gap to recover"
elif p_main < 0.05 and recovered > 0:
    verdict = (f"Distillation recovers {100 * recovered:.0f}% of the teacher–student gap here, a difference "
               f"unlikely to be noise (Welch p = {p_main:.2g})")
elif recovered > 0:
    verdict = (f"Distillation closes {100 * recovered:.0f}% of the gap on average, but with {len(SEEDS)} seeds that "
               f"difference is within the noise (Welch p = {p_main:.2g})")
else:
    verdict = ("Distillation does not help here: the distilled student is, on average, no better than the tuned "
               f"student from scratch (Welch p = {p_main:.2g})")
glue("kd_verdict", verdict)
glue("kd_tail_sentence",
     f"its mean validation accuracy moved by {100 * tail_gain:+.1f} points over the last 20% of the epochs"
     + (", so it has flattened" if abs(tail_gain) < 0.01 else
        ", so it was still creeping up (the one-cycle section below anneals the rate to zero and gives both arms "
        "a settled end point)"))
''', ["remove-cell"])
md(r"""
The tuned student from scratch reaches {glue:text}`acc_scratch` test accuracy (best
$\eta =$ {glue:text}`lr_scratch:g`); at its best learning rate, {glue:text}`kd_tail_sentence`.
The distilled student reaches {glue:text}`acc_kd` (best $\eta =$ {glue:text}`lr_kd:g`), a difference of
{glue:text}`kd_diff_pts:+.1f` points; it is ahead on {glue:text}`kd_wins` of the
{glue:text}`n_seeds` seeds. The teacher is {glue:text}`kd_gap_pts:.1f` points above the scratch
student. {glue:text}`kd_verdict`.

For comparison, Hinton et al. report on MNIST a student with {glue:text}`hinton_scratch` test
errors from scratch and {glue:text}`hinton_kd` when distilled, from a teacher with
{glue:text}`hinton_teacher`: {glue:text}`hinton_pct:.0f`% of the gap recovered
{footcite:p}`hinton2015distilling`. Their setting differs: a teacher
of two 1,200-unit layers regularised with dropout and jittered inputs, a student of two 800-unit
layers trained on 60,000 labels without regularisation, and $T = 20$. Here the
student has {glue:text}`n_student` weights; at the end of training its accuracy on its own
training set is {glue:text}`scr_train_acc:.3f` against {glue:text}`scr_val_acc:.3f` on validation,
so {glue:text}`scr_fit_sentence` The next sections vary what distillation controls.
""")

# ----------------------------------------------------------------------------- T and lambda sweeps
md(r"""
## Temperature and loss weights

Two sweeps at the distilled arm's learning rate, over {glue:text}`sweep_n` seeds: the temperature
(with $\lambda_{\text{soft}} = \lambda_{\text{hard}}$), and the share of the soft term,
$\lambda_{\text{soft}} / (\lambda_{\text{soft}} + \lambda_{\text{hard}})$, at $T =$ {glue:text}`p_T:g`
(0 is the scratch student; 1 ignores the labels). Settings already trained above are reused.
""")
code('''
SWEEP_SEEDS = SEEDS[:sweep_seeds]
lr_kd = best_lr["distilled"]
sweep_rows = []
for seed in SWEEP_SEEDS:
    for T in temperatures:
        if T == temperature:
            acc = float(runs[(runs.arm == "distilled") & (runs.seed == seed) & (runs.lr == lr_kd)].test_acc.iloc[0])
        else:
            acc = train_student(seed, lr_kd, loss=kd_loss(T=T), validate=False)[2]
        sweep_rows.append({"sweep": "T", "value": T, "seed": seed, "test_acc": acc})
    for w in [0.0] + list(soft_fractions):
        if w == 0.0:
            acc = float(runs[(runs.arm == "scratch") & (runs.seed == seed) & (runs.lr == lr_kd)].test_acc.iloc[0])
        elif w == lambda_soft / (lambda_soft + lambda_hard):
            acc = float(runs[(runs.arm == "distilled") & (runs.seed == seed) & (runs.lr == lr_kd)].test_acc.iloc[0])
        else:
            acc = train_student(seed, lr_kd, loss=kd_loss(soft_fraction=w), validate=False)[2]
        sweep_rows.append({"sweep": "soft share", "value": w, "seed": seed, "test_acc": acc})
sweeps = pd.DataFrame(sweep_rows)
sweep_table = sweeps.groupby(["sweep", "value"]).test_acc.agg(["mean", "std", "count"])
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, name, xlabel in ((axes[0], "T", "temperature T (log scale)"),
                         (axes[1], "soft share", "soft share λ_soft / (λ_soft + λ_hard)")):
    g = sweep_table.loc[name]
    ax.errorbar(g.index, g["mean"], yerr=g["std"].fillna(0), fmt="o-", capsize=3, label="distilled student")
    ax.axhline(s_scr.mean, color="C1", ls=":", label="scratch student, tuned (mean)")
    ax.axhline(teacher_sum.mean, color="0.3", ls="--", lw=1, label="teacher (mean)")
    ax.set(xlabel=xlabel, title=f"test accuracy, mean ± std (n = {len(SWEEP_SEEDS)}), η = {lr_kd:g}")
    ax.grid(alpha=0.3)
axes[0].set_xscale("log")
axes[0].set_ylabel("test accuracy")
axes[1].legend(fontsize="small", loc="lower left")
fig.tight_layout()
sweep_table.round(4)
''')
code('''
tT = sweep_table.loc["T"]["mean"]
tw = sweep_table.loc["soft share"]["mean"]
glue("sweep_n", len(SWEEP_SEEDS))
glue("best_T", float(tT.idxmax()))
glue("best_T_acc", float(tT.max()))
glue("worst_T", float(tT.idxmin()))
glue("worst_T_acc", float(tT.min()))
glue("T_spread_pts", 100 * float(tT.max() - tT.min()))
glue("best_w", float(tw.idxmax()))
glue("best_w_acc", float(tw.max()))
glue("w1_acc", float(tw.loc[1.0]) if 1.0 in tw.index else float("nan"))
glue("w0_acc", float(tw.loc[0.0]))
glue("T_vs_scratch", "above" if tT.max() > s_scr.mean else "not above")
w1 = float(tw.loc[1.0]) if 1.0 in tw.index else float("nan")
glue("w1_sentence",
     "a student that never sees a label, only the teacher's soft outputs, learns as well as one trained on the labels "
     "(within a point)." if abs(w1 - float(tw.loc[0.0])) < 0.01 else
     f"a student that never sees a label, only the teacher's soft outputs, is {100 * (w1 - float(tw.loc[0.0])):+.1f} "
     "points from one trained on the labels alone.")
''', ["remove-cell"])
md(r"""
Across temperatures the mean test accuracy ranges over {glue:text}`T_spread_pts:.1f` points, from
{glue:text}`worst_T_acc:.3f` at $T =$ {glue:text}`worst_T:g` to {glue:text}`best_T_acc:.3f` at
$T =$ {glue:text}`best_T:g`; the best temperature is {glue:text}`T_vs_scratch` the tuned scratch
student's mean. Over the soft share, the best is {glue:text}`best_w:g`
({glue:text}`best_w_acc:.3f`); labels alone give {glue:text}`w0_acc:.3f` at this learning rate and
the teacher alone (share 1, no labels at all) {glue:text}`w1_acc:.3f`: {glue:text}`w1_sentence` With
{glue:text}`sweep_n` seeds per point, differences of a point or so are within the spread.
""")

# ----------------------------------------------------------------------------- transfer set
md(r"""
## A larger transfer set

The soft targets need no labels, so the student can be distilled on inputs nobody labelled: the
**transfer set** of Hinton et al. MNIST-1D is procedural, so more unlabeled inputs are one call
away: `data.load("mnist1d", n_train=..., seed=1)` draws a new data set from a different generation
seed (its labels are thrown away here; its test set is not used). Both arms use the soft loss only
($\lambda_{\text{hard}} = 0$) and **the same number of steps**; one sees the
{glue:text}`tr_n_labeled` labelled training inputs, the other those plus
{glue:text}`tr_n_extra` new ones.
""")
code('''
extra = data.load("mnist1d", n_train=int(transfer_extra), seed=1)
x_transfer = np.concatenate([ds.x_train, extra.x_train])
total_steps = epochs * steps_per_epoch
transfer_epochs = max(1, round(total_steps / math.ceil(len(x_transfer) / batch_size)))
tr_rows = []
for seed in SEEDS:
    teacher_s_model = build_teacher()
    teacher_s_model.set_weights(teachers[seed])
    big_targets = pack_targets(np.full(len(x_transfer), -1), teacher_s_model.predict(x_transfer, batch_size=1024, verbose=0))
    soft_only = DistillationLoss(temperature, 1.0, 0.0)
    acc_small = train_student(seed, lr_kd, loss=soft_only, validate=False)[2]
    acc_big = train_student(seed, lr_kd, loss=soft_only, x=x_transfer, targets=big_targets, n_epochs=transfer_epochs,
                            validate=False)[2]
    tr_rows.append({"seed": seed, "labelled inputs only": acc_small, "+ unlabeled transfer set": acc_big})
transfer = pd.DataFrame(tr_rows).set_index("seed")
transfer.loc["mean"] = transfer.mean()
transfer.round(4)
''')
code('''
tr = transfer.drop(index="mean")
s_small, s_big = stats.summarize(tr.iloc[:, 0]), stats.summarize(tr.iloc[:, 1])
p_tr = stats.welch_t_test(tr.iloc[:, 1], tr.iloc[:, 0])[2] if len(tr) > 1 else float("nan")
glue("tr_n_labeled", len(ds.y_train))
glue("tr_n_extra", len(extra.y_train))
glue("tr_epochs", transfer_epochs)
glue("tr_steps", total_steps)
glue_summary("tr_small", s_small)
glue_summary("tr_big", s_big)
glue("tr_diff_pts", 100 * (s_big.mean - s_small.mean))
glue("tr_p", p_tr)
glue("tr_vs_scratch_pts", 100 * (s_big.mean - s_scr.mean))
glue("tr_recovered_pct", 100 * (s_big.mean - s_scr.mean) / gap if gap > 0 else float("nan"))
if s_big.mean > s_small.mean and (p_tr < 0.05 or not np.isfinite(p_tr)):
    glue("tr_verdict", "The unlabeled inputs help, and by more than the seeds' spread: distillation pays most where "
         "the teacher can label data that the labels do not cover.")
elif s_big.mean > s_small.mean:
    glue("tr_verdict", "The unlabeled inputs help on average, but not clearly beyond the seeds' spread.")
else:
    glue("tr_verdict", "The unlabeled inputs do not help here.")
''', ["remove-cell"])
md(r"""
With the same {glue:text}`tr_steps` steps ({glue:text}`tr_epochs` epochs over the larger set),
distilling on the labelled inputs only gives {glue:text}`tr_small`; adding the unlabeled
transfer set gives {glue:text}`tr_big`, {glue:text}`tr_diff_pts:+.1f` points (Welch p =
{glue:text}`tr_p:.2g`). Against the tuned scratch student that is {glue:text}`tr_vs_scratch_pts:+.1f`
points, {glue:text}`tr_recovered_pct:.0f`% of the teacher–student gap. {glue:text}`tr_verdict`
""")

# ----------------------------------------------------------------------------- one-cycle
md(r"""
## The student with one-cycle

The schedules chapter's one-cycle policy {footcite:p}`smith2017superconvergence` (`lrbook.schedules.OneCycle`,
PyTorch's numbers), for both arms, with the peak at {glue:text}`oc_factor:g` times each arm's best
constant learning rate and the same {glue:text}`p_epochs` epochs; the constant-rate runs are the
ones above.
""")
code('''
oc_rows = []
for seed in SEEDS:
    for arm, loss in (("scratch", None), ("distilled", kd_loss())):
        sched = schedules.OneCycle(max_lr=onecycle_factor * best_lr[arm], total_steps=epochs * steps_per_epoch)
        acc = train_student(seed, sched, loss=loss, validate=False)[2]
        oc_rows.append({"arm": arm, "seed": seed, "one-cycle": acc, "constant η": float(best[arm].loc[seed])})
oc = pd.DataFrame(oc_rows)
oc_table = oc.groupby("arm")[["constant η", "one-cycle"]].agg(["mean", "std"]).loc[["scratch", "distilled"]]
oc_table.round(4)
''')
code('''
oc_s = {arm: stats.summarize(oc[oc.arm == arm]["one-cycle"]) for arm in ("scratch", "distilled")}
glue("oc_factor", onecycle_factor)
glue_summary("oc_scratch", oc_s["scratch"])
glue_summary("oc_kd", oc_s["distilled"])
glue("oc_scratch_gain_pts", 100 * (oc_s["scratch"].mean - s_scr.mean))
glue("oc_kd_gain_pts", 100 * (oc_s["distilled"].mean - s_kd.mean))
glue("oc_kd_vs_scratch_pts", 100 * (oc_s["distilled"].mean - oc_s["scratch"].mean))
glue("oc_p", stats.welch_t_test(oc[oc.arm == "distilled"]["one-cycle"], oc[oc.arm == "scratch"]["one-cycle"])[2]
     if len(SEEDS) > 1 else float("nan"))
''', ["remove-cell"])
md(r"""
With one-cycle, the scratch student reaches {glue:text}`oc_scratch` ({glue:text}`oc_scratch_gain_pts:+.1f`
points against its constant rate) and the distilled student {glue:text}`oc_kd`
({glue:text}`oc_kd_gain_pts:+.1f`); between the two arms, {glue:text}`oc_kd_vs_scratch_pts:+.1f`
points (Welch p = {glue:text}`oc_p:.2g`; with constant rates: {glue:text}`kd_diff_pts:+.1f`).
""")

# ----------------------------------------------------------------------------- pruning
md(r"""
## Pruning

The exam notes describe pruning as: remove the weights below a threshold, then retrain. The
usual Keras tool for it, the TensorFlow Model Optimization Toolkit, prunes only `tf.keras`
(Keras 2) models and does not support Keras 3 (tensorflow/model-optimization#1119), so
`lrbook.pruning` implements the part this chapter needs, after Zhu and Gupta
{footcite:p}`zhu2017prune`:

- the sparsity rises during fine-tuning along $s_t = s_f + (s_i - s_f)\big(1 - \frac{t - t_0}{n}\big)^3$,
  from 0 to the target $s_f$ over the first 60% of the steps (fast while many weights are
  redundant, slowly near the end);
- every few steps each Dense and convolution kernel gets a new mask that zeroes its
  smallest-magnitude weights (`magnitude_mask`; biases stay);
- `MagnitudePruning`, a Keras callback, multiplies the weights by their masks after **every**
  batch, so a pruned weight stays exactly zero whatever the optimizer does to it.

Each distilled student (best learning rate, every seed) is pruned to {glue:text}`pr_levels` of its
kernel weights, once in one shot (masks applied, no retraining) and once with
{glue:text}`pr_epochs` epochs of distillation fine-tuning (Adam, $\eta =$ {glue:text}`pr_lr:g`).
""")
code('''
pr_rows, pruned_weights = [], {}
fine_steps = prune_epochs * steps_per_epoch
for seed in SEEDS:
    trained = students["distilled", seed, best_lr["distilled"]]
    for s in prune_sparsities:
        # one shot: the magnitude masks of the trained weights, no retraining
        m = build_student()
        m.set_weights(trained)
        for v in pruning.prunable_kernels(m):
            v.assign(v * pruning.magnitude_mask(keras.ops.convert_to_numpy(v), s))
        one_shot = test_accuracy(m)
        # gradual pruning during distillation fine-tuning
        cb = pruning.MagnitudePruning(s, end_step=max(1, int(0.6 * fine_steps)), frequency=max(1, fine_steps // 50))
        model, _, acc = train_student(seed, prune_lr, loss=kd_loss(), weights=trained, n_epochs=prune_epochs,
                                      callbacks=[cb], validate=False)
        got = pruning.sparsity(model)
        assert abs(got - s) < 0.01, f"requested sparsity {s}, got {got}"
        pruned_weights[seed, s] = model.get_weights()
        pr_rows.append({"seed": seed, "sparsity": s, "measured sparsity": got, "one shot": one_shot,
                        "fine-tuned": acc})
pr = pd.DataFrame(pr_rows)
pr_table = pr.groupby("sparsity")[["measured sparsity", "one shot", "fine-tuned"]].agg(["mean", "std"])
dense = stats.summarize(best["distilled"])
fig, ax = plt.subplots(figsize=(8, 4.2))
xs = [0.0] + list(prune_sparsities)
for k, col in enumerate(("one shot", "fine-tuned")):
    ys = [dense.mean] + list(pr_table[(col, "mean")])
    es = [dense.std if np.isfinite(dense.std) else 0] + list(pr_table[(col, "std")].fillna(0))
    ax.errorbar(100 * np.array(xs), ys, yerr=es, fmt="o-", capsize=3, color=f"C{k + 2}", label=f"distilled student, {col}")
ax.axhline(teacher_sum.mean, color="0.3", ls="--", lw=1, label="teacher (mean)")
ax.axhline(s_scr.mean, color="C1", ls=":", label="dense scratch student (mean)")
ax.set(xlabel="sparsity of every kernel (% of weights zero)", ylabel="test accuracy",
       title=f"magnitude pruning, mean ± std over {len(SEEDS)} seeds")
ax.grid(alpha=0.3)
ax.legend(fontsize="small", loc="lower left")
fig.tight_layout()
pr_table.round(4)
''')
code('''
glue("pr_levels", ", ".join(f"{100 * s:.0f}%" for s in prune_sparsities))
glue("pr_epochs", prune_epochs)
glue("pr_lr", prune_lr)
glue("pr_dense", dense.mean)
ft = pr_table[("fine-tuned", "mean")]
osh = pr_table[("one shot", "mean")]
s_hi = max(prune_sparsities)
s_lo = min(prune_sparsities)
glue("pr_hi", 100 * s_hi)
glue("pr_lo", 100 * s_lo)
glue("pr_ft_hi", float(ft.loc[s_hi]))
glue("pr_os_hi", float(osh.loc[s_hi]))
glue("pr_ft_lo", float(ft.loc[s_lo]))
glue("pr_os_lo", float(osh.loc[s_lo]))
glue("pr_ft_drop_hi_pts", 100 * (dense.mean - float(ft.loc[s_hi])))
glue("pr_ft_drop_lo_pts", 100 * (dense.mean - float(ft.loc[s_lo])))
first = pruning.prunable_kernels(build_student())[0]
glue("pr_first_size", int(np.prod(first.shape)))
glue("pr_first_left", int(round((1 - s_hi) * np.prod(first.shape))))
n_better = int((ft > osh + 0.005).sum())
glue("pr_ft_verdict",
     f"Fine-tuning beats one-shot pruning at {n_better} of the {len(ft)} sparsities: the retraining step of the "
     "recipe is not optional." if n_better == len(ft) else
     f"Fine-tuning beats one-shot pruning (by more than half a point) at {n_better} of the {len(ft)} sparsities.")
''', ["remove-cell"])
md(r"""
Dense, the distilled students average {glue:text}`pr_dense:.3f`. In one shot, zeroing
{glue:text}`pr_lo:.0f`% of every kernel leaves {glue:text}`pr_os_lo:.3f` and
{glue:text}`pr_hi:.0f`% leaves {glue:text}`pr_os_hi:.3f`; with fine-tuning the same sparsities give
{glue:text}`pr_ft_lo:.3f` and {glue:text}`pr_ft_hi:.3f`, a loss of {glue:text}`pr_ft_drop_lo_pts:.1f`
and {glue:text}`pr_ft_drop_hi_pts:.1f` points against the dense student. {glue:text}`pr_ft_verdict` The measured sparsity of every run matches the request (asserted in
the cell), and `tests/test_pruning.py` checks that it holds batch after batch and that the masks
are the magnitude masks NumPy computes. This student has only {glue:text}`n_student` weights
and little redundancy: pruning every kernel to the same sparsity leaves its first convolution,
{glue:text}`pr_first_size` weights in all, with {glue:text}`pr_first_left` at
{glue:text}`pr_hi:.0f`%. Large networks, where pruning is usually shown, give up far less at the
same sparsity {footcite:p}`zhu2017prune`; a per-layer sparsity (sparing the small first layer) is
the usual remedy.

Zeros alone do not make a file smaller or a dense matrix product faster: the saved weights are
as large as before. They pay off when the file is compressed (next sections) or with sparse
kernels in the runtime.
""")

# ----------------------------------------------------------------------------- quantization
md(r"""
## Quantization

Two post-training routes, applied to the seed-{glue:text}`q_seed` teacher and distilled student:

- **Keras 3's `model.quantize("int8")`** converts, in place, the layers that implement it to int8
  weights with a per-channel scale, and quantizes their inputs on the fly. In Keras 3.15 that is
  `Dense`, `EinsumDense` and `Embedding`: a `Conv1D` stays float32 (Keras warns "does not have a
  `quantize` method"), so on these CNNs only the final layer changes.
- **TFLite full-integer quantization** {footcite:p}`jacob2018quantization`: the converter runs a
  *representative data set* ({glue:text}`q_calib` training inputs) through the model to calibrate
  the range of every activation, then stores every weight and activation as int8 with a scale and
  zero point; the model takes and returns int8 (`lrbook.quantize.TFLiteModel` does the conversion
  from and to float). It runs with the LiteRT interpreter (`ai_edge_litert`), which replaces the
  deprecated `tf.lite.Interpreter`.

Sizes are of the file a deployment would ship: `save_weights` (`.weights.h5`) for Keras, the
`.tflite` flatbuffer for TFLite, and the same after gzip. Latency is the median of
{glue:text}`q_repeats` single-sample calls (Keras: the model traced once as a `tf.function`; TFLite:
one interpreter thread).
Temporary files go to a temporary folder.
""")
code('''
q_seed = seed0
n_calib = calibration_samples


def keras_latency(model, x_one):
    """Median latency of one sample through the model traced once as a tf.function (no eager dispatch)."""
    x1 = tf.constant(x_one[None])
    serve = tf.function(lambda v: model(v, training=False))
    serve(x1)  # trace
    return quantize.median_latency_s(serve, x1, repeats=latency_repeats)


def keras_file_bytes(model):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.weights.h5")
        model.save_weights(path)
        return os.path.getsize(path), quantize.gzipped_bytes(open(path, "rb").read())


def quantization_rows(name, weights, build):
    m = build()
    m.set_weights(weights)
    acc_f = test_accuracy(m)
    out = []
    size, gz = keras_file_bytes(m)
    out.append({"model": name, "format": "Keras float32", "file (bytes)": size, "gzipped (bytes)": gz,
                "test accuracy": acc_f, "latency (µs)": 1e6 * keras_latency(m, ds.x_test[0])})
    mq = build()
    mq.set_weights(weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "Layer Conv1D does not have a `quantize` method": expected
        mq.quantize("int8")
    quantized_layers = [l.name for l in mq.layers if getattr(l, "quantization_mode", None) == "int8"]
    size, gz = keras_file_bytes(mq)
    out.append({"model": name, "format": "Keras int8 (model.quantize)", "file (bytes)": size, "gzipped (bytes)": gz,
                "test accuracy": test_accuracy(mq), "latency (µs)": 1e6 * keras_latency(mq, ds.x_test[0])})
    for fmt, rep in (("TFLite float32", None), ("TFLite int8 (full integer)", ds.x_train)):
        tfl = quantize.TFLiteModel(quantize.to_tflite(m, rep, num_calibration=n_calib))
        acc = float(np.mean(tfl.predict(ds.x_test).argmax(-1) == ds.y_test))
        out.append({"model": name, "format": fmt, "file (bytes)": tfl.size_bytes,
                    "gzipped (bytes)": quantize.gzipped_bytes(tfl.flatbuffer), "test accuracy": acc,
                    "latency (µs)": 1e6 * quantize.median_latency_s(tfl.predict_one, ds.x_test[0], repeats=latency_repeats)})
    return out, quantized_layers


q_rows, q_layers_teacher = quantization_rows("teacher", teachers[q_seed], build_teacher)
rows_s, q_layers_student = quantization_rows("distilled student", students["distilled", q_seed, best_lr["distilled"]],
                                             build_student)
qt = pd.DataFrame(q_rows + rows_s).set_index(["model", "format"])
for name in ("teacher", "distilled student"):
    base = qt.loc[(name, "Keras float32"), "test accuracy"]
    assert abs(qt.loc[(name, "TFLite int8 (full integer)"), "test accuracy"] - base) < 0.03, "int8 within 3 points"
    assert abs(qt.loc[(name, "TFLite float32"), "test accuracy"] - base) < 1e-3, "TFLite float32 = Keras"
qt.round({"file (bytes)": 0, "gzipped (bytes)": 0, "test accuracy": 3, "latency (µs)": 0})
''')
code('''
glue("q_seed", q_seed)
glue("q_calib", n_calib)
glue("q_repeats", latency_repeats)
glue("q_layers", ", ".join(f"`{n}`" for n in q_layers_student) or "none")
for name, key in (("teacher", "t"), ("distilled student", "s")):
    f32 = qt.loc[(name, "Keras float32")]
    i8 = qt.loc[(name, "TFLite int8 (full integer)")]
    tf32 = qt.loc[(name, "TFLite float32")]
    kq = qt.loc[(name, "Keras int8 (model.quantize)")]
    glue(f"q_{key}_tfl_ratio", tf32["file (bytes)"] / i8["file (bytes)"])
    glue(f"q_{key}_acc_f32", f32["test accuracy"])
    glue(f"q_{key}_acc_i8", i8["test accuracy"])
    glue(f"q_{key}_acc_kq", kq["test accuracy"])
    glue(f"q_{key}_lat_keras", f32["latency (µs)"])
    glue(f"q_{key}_lat_tf32", tf32["latency (µs)"])
    glue(f"q_{key}_lat_i8", i8["latency (µs)"])
    glue(f"q_{key}_kq_size_ratio", f32["file (bytes)"] / kq["file (bytes)"])
    glue(f"q_{key}_i8_change_pts", 100 * (i8["test accuracy"] - f32["test accuracy"]))
t_rows = qt.loc["teacher"]
overhead = t_rows.loc["Keras float32", "latency (µs)"] > 5 * t_rows.loc["TFLite float32", "latency (µs)"]
glue("q_overhead_sentence",
     "for a model this small, a TensorFlow call is mostly fixed per-call overhead, which no quantization removes "
     "(the same float32 network runs many times faster in the TFLite interpreter)" if overhead else
     "the TensorFlow call is not far from the interpreter here")
lat = {k2: (qt.loc[(n2, "TFLite int8 (full integer)"), "latency (µs)"], qt.loc[(n2, "TFLite float32"), "latency (µs)"])
       for k2, n2 in (("the teacher", "teacher"), ("the student", "distilled student"))}
faster = [k2 for k2, (a, b) in lat.items() if a < 0.9 * b]
slower = [k2 for k2, (a, b) in lat.items() if a > 1.1 * b]
glue("q_int8_speed_sentence",
     "On this x86 CPU int8 is faster than float32 for " + " and ".join(faster) + "." if faster and not slower else
     "On this x86 CPU int8 is not faster than float32 for " + " and ".join(slower) +
     ": at this size a call costs tens of microseconds either way, and the speed-ups of integer inference are "
     "reported for larger models on hardware with fast int8 arithmetic, such as mobile CPUs." if slower else
     "On this x86 CPU int8 and float32 run at about the same speed.")
glue("q_small_sentence",
     "because the flatbuffer's fixed structure (operator descriptions, tensor metadata) outweighs the weights"
     if qt.loc[("distilled student", "TFLite float32"), "file (bytes)"] < 2 * 4 * n_student + 4000 else
     "roughly in line with the 4× of 8-bit against 32-bit weights")
''', ["remove-cell"])
md(r"""
For the teacher, the int8 flatbuffer is {glue:text}`q_t_tfl_ratio:.1f` times smaller than the
float32 one, with test accuracy {glue:text}`q_t_acc_i8:.3f` against {glue:text}`q_t_acc_f32:.3f`;
a single prediction takes {glue:text}`q_t_lat_i8:.0f` µs in int8, {glue:text}`q_t_lat_tf32:.0f` µs
in TFLite float32 and {glue:text}`q_t_lat_keras:,.0f` µs through Keras/TensorFlow:
{glue:text}`q_overhead_sentence`. {glue:text}`q_int8_speed_sentence` For the tiny student ({glue:text}`n_student` weights) the int8
file is {glue:text}`q_s_tfl_ratio:.1f` times smaller than the float32 one, {glue:text}`q_small_sentence`; its
accuracy goes from {glue:text}`q_s_acc_f32:.3f` to {glue:text}`q_s_acc_i8:.3f`.

Keras's `model.quantize("int8")` quantized only {glue:text}`q_layers` in the student (the
convolutions have no int8 path in Keras 3.15), keeping accuracy ({glue:text}`q_s_acc_kq:.3f`) but
changing the weights file by a factor {glue:text}`q_s_kq_size_ratio:.2f` only: for convolutional
models, TFLite's full-integer conversion is the route that shrinks the model.
""")

# ----------------------------------------------------------------------------- together
md(r"""
## All three together

The full recipe, as Deep Compression stacked pruning and quantization {footcite:p}`han2016deepcompression`:
the distilled student, pruned to {glue:text}`fin_sparsity:.0f`% with distillation fine-tuning (the
runs above; {glue:text}`fin_choice`), converted to a full-integer TFLite model, against the float32 teacher, for every seed.
""")
code('''
# The sparsity is read off the pruning curve: the largest one that cost at most `final_tolerance`.
ok = [s for s in prune_sparsities if ft.loc[s] >= dense.mean - final_tolerance]
final_sparsity = max(ok) if ok else min(prune_sparsities)
fin_rows = []
for seed in SEEDS:
    t = build_teacher()
    t.set_weights(teachers[seed])
    t_size, t_gz = keras_file_bytes(t)
    s = build_student()
    s.set_weights(pruned_weights[seed, final_sparsity])
    flat = quantize.to_tflite(s, ds.x_train, num_calibration=n_calib)
    tfl = quantize.TFLiteModel(flat)
    nonzero = int(sum(np.count_nonzero(w) for w in s.get_weights()))
    fin_rows.append({"seed": seed, "teacher acc": teacher_acc[seed], "teacher nonzero weights": n_teacher,
                     "teacher file (bytes)": t_size, "teacher gzipped (bytes)": t_gz,
                     "student acc": float(np.mean(tfl.predict(ds.x_test).argmax(-1) == ds.y_test)),
                     "student nonzero weights": nonzero, "student file (bytes)": tfl.size_bytes,
                     "student gzipped (bytes)": quantize.gzipped_bytes(flat)})
fin = pd.DataFrame(fin_rows).set_index("seed")
side = pd.DataFrame({
    "teacher (float32, Keras)": [fin["teacher acc"].mean(), fin["teacher acc"].std(), n_teacher,
                                 fin["teacher file (bytes)"].mean(), fin["teacher gzipped (bytes)"].mean()],
    f"student (distilled, {100 * final_sparsity:.0f}% pruned, int8 TFLite)": [
        fin["student acc"].mean(), fin["student acc"].std(), fin["student nonzero weights"].mean(),
        fin["student file (bytes)"].mean(), fin["student gzipped (bytes)"].mean()]},
    index=["test accuracy (mean)", "test accuracy (std)", "nonzero weights", "file (bytes)", "gzipped (bytes)"])
side.T.round({"test accuracy (mean)": 3, "test accuracy (std)": 3, "nonzero weights": 0, "file (bytes)": 0,
              "gzipped (bytes)": 0})
''')
code('''
t_col, s_col = side.columns
glue("fin_sparsity", 100 * final_sparsity)
glue("fin_tol_pts", 100 * final_tolerance)
glue("fin_choice", "the largest tested sparsity whose fine-tuned accuracy is within "
     f"{100 * final_tolerance:.0f} points of the dense student" if ok else
     f"the smallest tested sparsity (none stayed within {100 * final_tolerance:.0f} points of the dense student)")
glue("fin_t_acc", stats.format_mean_std(side.loc["test accuracy (mean)", t_col], side.loc["test accuracy (std)", t_col]))
glue("fin_s_acc", stats.format_mean_std(side.loc["test accuracy (mean)", s_col], side.loc["test accuracy (std)", s_col]))
glue("fin_acc_drop_pts", 100 * (side.loc["test accuracy (mean)", t_col] - side.loc["test accuracy (mean)", s_col]))
glue("fin_size_ratio", side.loc["gzipped (bytes)", t_col] / side.loc["gzipped (bytes)", s_col])
glue("fin_weight_ratio", side.loc["nonzero weights", t_col] / side.loc["nonzero weights", s_col])
glue("fin_s_gz", side.loc["gzipped (bytes)", s_col])
glue("fin_t_gz", side.loc["gzipped (bytes)", t_col])
glue("fin_vs_scratch_pts", 100 * (side.loc["test accuracy (mean)", s_col] - s_scr.mean))
''', ["remove-cell"])
md(r"""
The compressed student keeps {glue:text}`fin_s_acc` test accuracy against the teacher's
{glue:text}`fin_t_acc` ({glue:text}`fin_acc_drop_pts:.1f` points less, and
{glue:text}`fin_vs_scratch_pts:+.1f` points against the dense float32 student trained from
scratch), with {glue:text}`fin_weight_ratio:.0f` times fewer nonzero weights and a file that,
gzipped, is {glue:text}`fin_size_ratio:.0f` times smaller ({glue:text}`fin_s_gz:,.0f` bytes against
{glue:text}`fin_t_gz:,.0f`).
""")

# ----------------------------------------------------------------------------- summary
code('''
from lrbook.notebook import glue_headlines, headline

setting = (f"MNIST-1D, cnn1d teacher {teacher_filters} ({n_teacher} weights) → student {student_filters} "
           f"({n_student} weights), Adam, {epochs} epochs, η tuned per arm")
headline("Distilled vs scratch student (test accuracy; share of teacher–student gap recovered)",
         f"{stats.format_mean_std(s_kd.mean, s_kd.std)} vs {stats.format_mean_std(s_scr.mean, s_scr.std)} "
         f"(teacher {stats.format_mean_std(teacher_sum.mean, teacher_sum.std)}); {100 * recovered:.0f}% recovered, "
         f"Welch p = {p_main:.2g}", n=len(SEEDS), note=f"{setting}; T = {temperature:g}, λ_soft = λ_hard")
headline("Distilling on a larger unlabeled transfer set (soft loss only, same steps)",
         f"{stats.format_mean_std(s_big.mean, s_big.std)} vs {stats.format_mean_std(s_small.mean, s_small.std)} "
         f"on the labelled inputs only (+{len(extra.y_train)} unlabeled inputs)", n=len(SEEDS), note=setting)
headline("Distilled + pruned + int8 student vs float32 teacher",
         f"{side.loc['test accuracy (mean)', s_col]:.3f} vs {side.loc['test accuracy (mean)', t_col]:.3f} test accuracy; "
         f"{side.loc['gzipped (bytes)', t_col] / side.loc['gzipped (bytes)', s_col]:.0f}× smaller gzipped file",
         n=len(SEEDS), note=f"{setting}; {100 * final_sparsity:.0f}% sparsity, TFLite full-integer, LiteRT")
glue_headlines()
glue("runtime_s", time.perf_counter() - T_START)
glue("runtime_profile", profile)
glue("runtime_device", info["device"])
''', ["remove-cell"])
md(r"""
## Summary

- The temperature softmax flattens a teacher's output without reordering it; the factor $T^2$ in
  the loss keeps the soft term's gradient from vanishing as $T$ grows
  (×{glue:text}`grad_ratio_plain:.1e` without it from $T = 1$ to 20).
- `lrbook.distill` implements the seed's loss exactly and agrees with `keras.distillation.Distiller`
  once you pass `loss=keras.losses.KLDivergence()`; Keras 3.15's default string computes a
  different quantity ({glue:text}`kd_default:.4f` instead of {glue:text}`kd_loss:.4f` on the same batch).
- Against a student from scratch with its own tuned learning rate, distillation gave
  {glue:text}`kd_diff_pts:+.1f` points ({glue:text}`kd_recovered_pct:.0f`% of the gap; Hinton et al.:
  {glue:text}`hinton_pct:.0f`%). A larger unlabeled transfer set gave {glue:text}`tr_diff_pts:+.1f`
  points over distilling on the labelled inputs alone.
- Magnitude pruning with fine-tuning cost {glue:text}`pr_ft_drop_lo_pts:.1f` points at
  {glue:text}`pr_lo:.0f`% and {glue:text}`pr_ft_drop_hi_pts:.1f` at {glue:text}`pr_hi:.0f`% sparsity on this tiny
  student; TFLite full-integer quantization changed the student's test accuracy by
  {glue:text}`q_s_i8_change_pts:+.1f` points (teacher: {glue:text}`q_t_i8_change_pts:+.1f`), while
  Keras's `model.quantize("int8")` left the convolutions in float32.
- Stacked, the student is {glue:text}`fin_size_ratio:.0f` times smaller than the teacher on disk
  (gzipped) for {glue:text}`fin_acc_drop_pts:.1f` points of test accuracy.

*This page was computed with the {glue:text}`runtime_profile` profile on {glue:text}`runtime_device`
in {glue:text}`runtime_s:.0f` s.*

## References

```{footbibliography}
```
""")
write(cells, NAME)
