import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SETUP, badge, derived  # noqa: E402
from nbgen import recorder, write  # noqa: E402

NAME = "01_training_basics"
cells, md, code = recorder()

md("# Training basics: epochs, steps, batch size, the learning rate and the optimizers")
md(badge(NAME))
md(r"""
## Overview

Every later chapter changes *how the learning rate moves* during training. This one fixes the
vocabulary and the baselines: what an epoch, a step and a batch are (measured, not asserted);
what the learning rate does to gradient descent on a problem small enough to solve by hand;
the same three regimes (too small, about right, too large) on a real network; and the seven
optimizers Keras ships, each written out as an update rule, checked against Keras, and
compared fairly: every optimizer gets its own learning rate from a sweep, and every run
starts from the same initial weights over several seeds.

**You will learn** why gradient descent diverges above $\eta = 2/\lambda_{\max}$, how to read
loss curves for the learning-rate regime you are in, and how much the choice of optimizer
matters once each one is tuned.

**Prerequisites:** Python, NumPy and a first Keras model (`compile`, `fit`).

**Run time:** the `quick` profile (what CI runs) takes under a minute on 2 CPU cores; the `full`
profile (what this page shows) takes about 10 minutes on 2 CPU cores and a few minutes on a GPU.
The exact time of this build is at the end of the page.
""")
code('''
# Parameters (papermill overrides these; see "How to use this book").
profile = None        # "quick" (CI) or "full" (the book); None reads $LRBOOK_PROFILE, default "full"
dataset = "mnist1d"   # "mnist1d" (offline) or "digits" (offline); see lrbook.data.NAMES
n_train = 4000        # training samples (MNIST-1D: 4000 is the published size)
seeds = 5             # seeds of the final comparison
tune_seeds = 2        # seeds of each learning-rate sweep point
regime_seeds = 3      # seeds of the learning-rate regimes on the network
epochs = 15           # epochs of every run
batch_size = 64
''', ["parameters"])
code(derived('''    n_train, seeds, tune_seeds, regime_seeds, epochs = 2000, 2, 1, 1, 3'''))
code(SETUP, ["hide-output"])

md(r"""
## Samples, batches, steps and epochs

A **sample** is one input with its label. Training does not use them one at a time: it draws
a **batch** of $B$ samples, computes the average loss over the batch, takes its gradient and
updates the weights once. That single update is a **step** (Keras counts them in
`optimizer.iterations`). An **epoch** is one pass over all $N$ training samples, so

$$\text{steps per epoch} = \left\lceil \frac{N}{B} \right\rceil ,$$

the last batch being smaller when $B$ does not divide $N$. The **learning rate** $\eta$ scales
each step: $\theta \leftarrow \theta - \eta\, g$ for plain gradient descent, with $g$ the gradient
of the batch loss.

The book's default data set is **MNIST-1D** {footcite:p}`greydanus2020mnist1d`: ten classes of
one-dimensional signals of length 40, generated procedurally (so it needs no download),
small enough to train on a laptop CPU in seconds yet hard enough that models, optimizers
and schedules separate clearly. One sample of each class:
""")
code('''
ds = data.load(dataset, n_train=n_train, validation_split=0.2, seed=None)
print(ds)

fig, axes = plt.subplots(2, 5, figsize=(10, 3.2), sharex=True, sharey=True)
for cls, ax in enumerate(axes.flat):
    i = int(np.flatnonzero(ds.y_train == cls)[0])
    x = ds.x_train[i].reshape(-1)
    ax.plot(x if x.ndim == 1 else x.ravel(), lw=1.4)
    ax.set_title(f"class {cls}")
fig.supxlabel("position")
fig.supylabel("signal (standardized)")
fig.tight_layout()
''')
md(r"""
Measure rather than trust the formula: train one epoch at three batch sizes with a callback
that counts the batches `fit` actually runs, and time each epoch.
""")
code('''
class BatchCounter(keras.callbacks.Callback):
    """Counts the training batches of each epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


rows = []
for bs in (16, 64, 256):
    training.set_seed(0)
    model = models.compile_classifier(models.cnn1d(ds.input_shape), keras.optimizers.SGD(0.05))
    model.fit(ds.x_train[:bs], ds.y_train[:bs], batch_size=bs, epochs=1, verbose=0)  # build + trace
    counter = BatchCounter()
    t0 = time.perf_counter()
    model.fit(ds.x_train, ds.y_train, batch_size=bs, epochs=1, verbose=0, callbacks=[counter])
    seconds = time.perf_counter() - t0
    rows.append({"batch size B": bs, "steps measured": counter.batches,
                 "ceil(N/B)": -(-len(ds.y_train) // bs), "seconds per epoch": seconds,
                 "ms per step": 1000 * seconds / counter.batches})
steps_table = pd.DataFrame(rows).set_index("batch size B")
assert (steps_table["steps measured"] == steps_table["ceil(N/B)"]).all(), steps_table
steps_table
''')
code('''
# The prose below says: bigger steps cost more, epochs cost less. Check it on this run.
assert steps_table["ms per step"].is_monotonic_increasing, steps_table
assert steps_table.loc[256, "seconds per epoch"] < steps_table.loc[16, "seconds per epoch"], steps_table
glue("n_train_fit", len(ds.y_train))
glue("n_val", len(ds.y_val))
glue("n_test", len(ds.y_test))
for bs, row in steps_table.iterrows():
    glue(f"steps_{bs}", int(row["steps measured"]))
    glue(f"epoch_s_{bs}", float(row["seconds per epoch"]))
    glue(f"step_ms_{bs}", float(row["ms per step"]))
''', ["remove-cell"])
md(r"""
With $N =$ {glue:text}`n_train_fit` training samples (the other {glue:text}`n_val` are held out
for validation, and {glue:text}`n_test` more for the test), one epoch is {glue:text}`steps_16`
steps at $B = 16$, {glue:text}`steps_64` at $B = 64$ and {glue:text}`steps_256` at $B = 256$,
exactly $\lceil N/B \rceil$. A step on a bigger batch costs more
({glue:text}`step_ms_16:.1f` ms at $B=16$ against {glue:text}`step_ms_256:.1f` ms at $B=256$ on
this machine) but far less than proportionally, so an epoch at $B=256$ costs less than one at
$B=16$: {glue:text}`epoch_s_256:.2f` s against {glue:text}`epoch_s_16:.2f` s. Fewer, larger steps per
epoch is also fewer updates, which is why the batch size and the learning rate have to be
chosen together (the scaling chapter returns to this).
""")

md(r"""
## The learning rate on a problem we can solve by hand

Take the quadratic $f(w) = \tfrac12 w^\top A w$ with $A = \operatorname{diag}(\lambda_1, \lambda_2)$.
Its gradient is $A w$, so one gradient-descent step multiplies each coordinate by a fixed factor:

$$ w_i \leftarrow w_i - \eta \lambda_i w_i = (1 - \eta\lambda_i)\, w_i . $$

The iteration converges exactly when every factor has $|1 - \eta\lambda_i| < 1$, that is when
$0 < \eta < 2/\lambda_{\max}$. Below $1/\lambda_{\max}$ the steepest direction shrinks
monotonically; between $1/\lambda_{\max}$ and $2/\lambda_{\max}$ it overshoots and oscillates
while still shrinking; above $2/\lambda_{\max}$ it oscillates with growing amplitude and
diverges. The flattest direction sets how slow convergence is: with a learning rate that is
safe for $\lambda_{\max}$, it shrinks only by $1 - \eta\lambda_{\min}$ per step. For a network
the Hessian plays the role of $A$ and changes as training moves, but the picture is the same.
""")
code('''
lam = np.array([1.0, 10.0])            # eigenvalues of A
w0 = np.array([-9.0, 2.0])
eta_max = 2 / lam.max()                # the divergence threshold
regimes = {"too small": 0.2 * eta_max / 2, "about right": 0.9 * eta_max / 2, "too large": 1.05 * eta_max}
n_steps = 30


def gradient_descent(eta, w0, n_steps):
    """NumPy gradient descent on f(w) = 0.5 * sum(lam * w**2); returns the iterates."""
    w = [np.array(w0, dtype=float)]
    for _ in range(n_steps):
        w.append(w[-1] - eta * lam * w[-1])
    return np.array(w)


def keras_sgd(eta, w0, n_steps):
    """The same iteration with keras.optimizers.SGD on a keras.Variable."""
    var = keras.Variable(np.array(w0, dtype="float64"), dtype="float64")
    opt = keras.optimizers.SGD(learning_rate=eta)
    path = [keras.ops.convert_to_numpy(var).copy()]
    for _ in range(n_steps):
        opt.apply_gradients([(keras.ops.convert_to_tensor(lam) * var, var)])
        path.append(keras.ops.convert_to_numpy(var).copy())
    return np.array(path)


paths = {name: gradient_descent(eta, w0, n_steps) for name, eta in regimes.items()}
for name, eta in regimes.items():  # the maths above is what Keras does (Keras stores η in float32)
    np.testing.assert_allclose(keras_sgd(eta, w0, n_steps), gradient_descent(float(np.float32(eta)), w0, n_steps),
                               rtol=1e-9, atol=1e-12)
f = lambda w: 0.5 * np.sum(lam * w**2, axis=-1)

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
g1, g2 = np.meshgrid(np.linspace(-10, 10, 200), np.linspace(-4, 4, 200))
ax0.contour(g1, g2, 0.5 * (lam[0] * g1**2 + lam[1] * g2**2), levels=np.geomspace(0.05, 150, 12), colors="0.8")
for name, path in paths.items():
    shown = path[: 12 if name == "too large" else None]
    ax0.plot(shown[:, 0], shown[:, 1], "o-", ms=3, lw=1, label=f"{name}: η = {regimes[name]:.3f}")
    ax1.semilogy(f(path), label=f"{name}: η = {regimes[name]:.3f}")
ax0.set(xlim=(-10, 10), ylim=(-4, 4), xlabel="$w_1$ (λ = 1)", ylabel="$w_2$ (λ = 10)", title="iterates")
ax1.set(xlabel="step", ylabel="f(w)", title="loss (log scale)")
ax1.axhline(f(w0), color="0.6", lw=0.8, ls=":")
ax0.legend(fontsize="small", loc="lower right")
fig.tight_layout()
''')
code('''
final = {name: f(path[-1]) for name, path in paths.items()}
assert final["about right"] < final["too small"] < f(w0) < final["too large"]
glue("quad_eta_max", eta_max)
for key, name in (("small", "too small"), ("right", "about right"), ("large", "too large")):
    glue(f"quad_eta_{key}", regimes[name])
    glue(f"quad_final_{key}", final[name])
glue("quad_f0", f(w0))
glue("quad_steps", n_steps)
''', ["remove-cell"])
md(r"""
Here $\lambda = (1, 10)$, so the threshold is $\eta = 2/\lambda_{\max} =$ {glue:text}`quad_eta_max:.2f`.
Starting from $f(w_0) =$ {glue:text}`quad_f0:.1f`, after {glue:text}`quad_steps` steps the loss is
{glue:text}`quad_final_small:.3g` at $\eta =$ {glue:text}`quad_eta_small:.3f` (too small: the flat
direction has barely moved), {glue:text}`quad_final_right:.3g` at $\eta =$ {glue:text}`quad_eta_right:.3f`
(about right), and {glue:text}`quad_final_large:.3g` at $\eta =$ {glue:text}`quad_eta_large:.3f`,
just 5% past the threshold: divergence is not gradual. The trajectories above were computed in
NumPy and checked, step by step, against `keras.optimizers.SGD` on a `keras.Variable`.
""")

md(r"""
## The same three regimes on a network

Now plain SGD (no momentum) on a small 1-D CNN (`lrbook.models.cnn1d`, 12k parameters), for
learning rates spread over four orders of magnitude. Every learning rate starts from the
same initial weights and sees the batches in the same order, so the learning rate is the only
difference between the curves.
""")
code('''
lr_grid = [1e-3, 1e-2, 1e-1, 1.0, 10.0] if not QUICK else [1e-2, 1e-1, 10.0]
build = lambda: models.cnn1d(ds.input_shape)
regime_runs = training.run_experiment(
    build,
    {f"η = {lr:g}": training.Arm(lambda lr=lr: keras.optimizers.SGD(lr)) for lr in lr_grid},
    ds, seeds=range(regime_seeds), epochs=epochs, batch_size=batch_size,
)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
plotting.plot_curves(regime_runs, "loss", ax=ax0, ylabel="training loss (cross-entropy)")
plotting.plot_curves(regime_runs, "test_accuracy", ax=ax1, ylabel="test accuracy")
ax0.set_ylim(0, 1.25 * np.log(10))  # diverged runs (loss far above, or NaN) leave the plot at the top
ax0.axhline(np.log(10), color="0.5", ls=":", lw=1)
ax0.text(0.99, np.log(10), "chance level: ln 10", color="0.4", fontsize="small", ha="right", va="bottom",
         transform=ax0.get_yaxis_transform())
ax0.set_title(f"plain SGD, {regime_runs.seed.nunique()} seed(s), same initial weights")
fig.tight_layout()
''')
code('''
last = regime_runs.sort_values("epoch").groupby(["arm", "seed"]).tail(1)
final_loss = last.groupby("arm", sort=False)["loss"].mean()
final_acc = last.groupby("arm", sort=False)["test_accuracy"].mean()
diverged = {arm: not np.isfinite(v) or v > np.log(10) for arm, v in final_loss.items()}
best_arm = final_acc.idxmax()
assert diverged[f"η = {lr_grid[-1]:g}"], "the largest learning rate should diverge"
assert not diverged[best_arm]
glue("reg_best", best_arm.split("= ")[1])
glue("reg_best_acc", final_acc[best_arm])
glue("reg_small", f"{lr_grid[0]:g}")
glue("reg_small_acc", final_acc[f"η = {lr_grid[0]:g}"])
glue("reg_small_loss", final_loss[f"η = {lr_grid[0]:g}"])
glue("reg_large", f"{lr_grid[-1]:g}")
glue("reg_large_acc", final_acc[f"η = {lr_grid[-1]:g}"])
glue("reg_epochs", epochs)
glue("reg_n", int(last.seed.nunique()))
glue("reg_diverged", ", ".join(a.split("= ")[1] for a, d in diverged.items() if d))
''', ["remove-cell"])
md(r"""
The same picture as the quadratic, read from loss curves. At $\eta =$ {glue:text}`reg_small` the loss
falls steadily but slowly (still {glue:text}`reg_small_loss:.2f` after {glue:text}`reg_epochs` epochs,
test accuracy {glue:text}`reg_small_acc:.3f`): too small. The best of the grid is
$\eta =$ {glue:text}`reg_best`, at {glue:text}`reg_best_acc:.3f` test accuracy (mean of
{glue:text}`reg_n` seeds). The runs at $\eta =$ {glue:text}`reg_diverged` diverged: their loss ends
above the chance level $\ln 10$ (or is not a number) and accuracy collapses to
{glue:text}`reg_large_acc:.3f`. A network has no single $\lambda_{\max}$, but it has a largest
learning rate that still trains, and the good learning rates sit a little below it. Finding that
edge cheaply is the job of the LR range test (a later chapter).
""")

md(r"""
## The optimizers, as update rules

With $g_t$ the gradient of the batch loss at step $t$, $\eta$ the learning rate and all
operations element-wise, these are the rules Keras 3 implements:

| optimizer | update |
|---|---|
| SGD | $\theta \leftarrow \theta - \eta g$ |
| SGD + momentum | $v \leftarrow \mu v - \eta g,\quad \theta \leftarrow \theta + v$ |
| Nesterov | $v \leftarrow \mu v - \eta g,\quad \theta \leftarrow \theta + \mu v - \eta g$ |
| AdaGrad {footcite:p}`duchi2011adagrad` | $G \leftarrow G + g^2,\quad \theta \leftarrow \theta - \eta\, g / \sqrt{G + \epsilon}$ |
| RMSProp {footcite:p}`tieleman2012rmsprop` | $s \leftarrow \rho s + (1-\rho) g^2,\quad \theta \leftarrow \theta - \eta\, g / \sqrt{s + \epsilon}$ |
| Adam {footcite:p}`kingma2014adam` | $m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,$ <br> $\theta \leftarrow \theta - \eta_t\, m / (\sqrt{v} + \epsilon),\quad \eta_t = \eta \sqrt{1-\beta_2^t} / (1-\beta_1^t)$ |
| AdamW {footcite:p}`loshchilov2017adamw` | $\theta \leftarrow \theta - \eta \lambda \theta$, then the Adam step |

The constants are Keras's defaults: $G_0 = 0.1$, $\rho = 0.9$, $\beta_1 = 0.9$, $\beta_2 = 0.999$,
$\epsilon = 10^{-7}$ and AdamW's $\lambda = 0.004$; the momentum $\mu = 0.9$ is ours (Keras's
default is 0).

Momentum accumulates a velocity, so a consistent gradient direction is followed with an
effective step of up to $\eta/(1-\mu)$ (ten times $\eta$ at $\mu = 0.9$), while oscillating
components cancel. Nesterov evaluates the momentum step "one step ahead". AdaGrad, RMSProp
and Adam divide each coordinate by a running size of its gradients, so every parameter gets its
own effective learning rate; Adam adds momentum and bias correction. AdamW applies weight
decay directly to the weights instead of adding an $L_2$ term to the loss, which for Adam is not
the same thing (the regularization chapter measures the difference).

The table is not folklore: the next cell implements each rule in NumPy and checks three steps of
each against the Keras optimizer on the same gradients.
""")
code('''
def numpy_steps(name, theta, grads, lr):
    """Apply the update rules of the table above, in NumPy."""
    theta = theta.copy()
    state = {"v": 0 * theta, "m": 0 * theta, "G": 0.1 + 0 * theta, "s": 0 * theta}
    eps = 1e-7
    for t, g in enumerate(grads, start=1):
        if name == "SGD":
            theta -= lr * g
        elif name in ("SGD+momentum", "Nesterov"):
            state["v"] = 0.9 * state["v"] - lr * g
            theta += 0.9 * state["v"] - lr * g if name == "Nesterov" else state["v"]
        elif name == "AdaGrad":
            state["G"] += g**2
            theta -= lr * g / np.sqrt(state["G"] + eps)
        elif name == "RMSProp":
            state["s"] = 0.9 * state["s"] + 0.1 * g**2
            theta -= lr * g / np.sqrt(state["s"] + eps)
        else:  # Adam, AdamW
            if name == "AdamW":
                theta -= lr * 0.004 * theta
            state["m"] = 0.9 * state["m"] + 0.1 * g
            state["v"] = 0.999 * state["v"] + 0.001 * g**2
            theta -= lr * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * state["m"] / (np.sqrt(state["v"]) + eps)
    return theta


OPTIMIZERS = {  # name -> factory(lr), the Keras optimizers compared below
    "SGD": lambda lr: keras.optimizers.SGD(lr),
    "SGD+momentum": lambda lr: keras.optimizers.SGD(lr, momentum=0.9),
    "Nesterov": lambda lr: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
    "AdaGrad": lambda lr: keras.optimizers.Adagrad(lr),
    "RMSProp": lambda lr: keras.optimizers.RMSprop(lr),
    "Adam": lambda lr: keras.optimizers.Adam(lr),
    "AdamW": lambda lr: keras.optimizers.AdamW(lr),
}
rng = np.random.default_rng(0)
theta0 = rng.normal(size=5)
grads = [rng.normal(size=5) for _ in range(3)]
for name, make in OPTIMIZERS.items():
    var = keras.Variable(theta0.astype("float32"))
    opt = make(0.1)
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g.astype("float32")), var)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(var), numpy_steps(name, theta0, grads, 0.1),
                               rtol=2e-5, atol=2e-6, err_msg=name)
print("all seven update rules match Keras")
''')

md(r"""
## Comparing optimizers fairly

A comparison of optimizers at one shared learning rate mostly measures which optimizer that
learning rate happens to suit. So each optimizer first gets a small learning-rate sweep
(four values around its usual range, each over {glue:text}`opt_tune_seeds` seed(s), scored on the
**validation** split), and only its best
learning rate goes into the comparison, which runs over several seeds from the same initial
weights per seed and is scored on the **test** split.
""")
code('''
LR_GRIDS = {
    "SGD": [0.03, 0.1, 0.3, 1.0],
    "SGD+momentum": [0.01, 0.03, 0.1, 0.3],
    "Nesterov": [0.01, 0.03, 0.1, 0.3],
    "AdaGrad": [0.01, 0.03, 0.1, 0.3],
    "RMSProp": [3e-4, 1e-3, 3e-3, 1e-2],
    "Adam": [1e-3, 3e-3, 1e-2, 3e-2],
    "AdamW": [1e-3, 3e-3, 1e-2, 3e-2],
}
if QUICK:
    LR_GRIDS = {name: grid[1:2] for name, grid in LR_GRIDS.items()}

sweep_arms = {f"{name} @ {lr:g}": training.Arm(lambda make=make, lr=lr: make(lr))
              for name, make in OPTIMIZERS.items() for lr in LR_GRIDS[name]}
sweep = training.run_experiment(build, sweep_arms, ds, seeds=range(100, 100 + tune_seeds),
                                epochs=epochs, batch_size=batch_size, evaluate_test=False)
sweep_final = training.compare(sweep, "val_accuracy")
sweep_final["optimizer"] = [a.split(" @ ")[0] for a in sweep_final.index]
sweep_final["lr"] = [float(a.split(" @ ")[1]) for a in sweep_final.index]
best_lr = sweep_final.loc[sweep_final.groupby("optimizer", sort=False)["mean"].idxmax()].set_index("optimizer")["lr"]
best_lr = best_lr.reindex(list(OPTIMIZERS))

fig, ax = plt.subplots(figsize=(7, 4))
for name in OPTIMIZERS:
    sub = sweep_final[sweep_final.optimizer == name]
    ax.plot(sub.lr, sub["mean"], "o-", label=name)
ax.set(xscale="log", xlabel="learning rate η", ylabel=f"validation accuracy after {epochs} epochs",
       title="learning-rate sweep per optimizer")
ax.grid(alpha=0.3)
ax.legend(fontsize="small", ncol=2)
fig.tight_layout()
''')
code('''
edge = [name for name in OPTIMIZERS if best_lr[name] in (LR_GRIDS[name][0], LR_GRIDS[name][-1])]
best_lr.to_frame("best learning rate").assign(**{"at the edge of its grid": [n in edge for n in OPTIMIZERS]})
''')
code('''
comparison = training.run_experiment(
    build, {name: training.Arm(lambda make=make, lr=best_lr[name]: make(lr)) for name, make in OPTIMIZERS.items()},
    ds, seeds=range(seeds), epochs=epochs, batch_size=batch_size,
)
table = training.compare(comparison, "test_accuracy", baseline="Adam")
table.insert(0, "lr", best_lr)
table["seconds per epoch"] = comparison.groupby("arm", sort=False)["epoch_time"].median()
table = table.rename(columns={"mean": "test acc mean", "std": "test acc std", "time": "train seconds"})
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
plotting.plot_curves(comparison, "test_accuracy", ax=ax0, ylabel="test accuracy")
plotting.plot_curves(comparison, "loss", ax=ax1, ylabel="training loss", logy=True)
ax0.set_title(f"each optimizer at its best learning rate (mean ± std, n = {seeds})")
fig.tight_layout()
table
''')
code('''
ranked = table.sort_values("test acc mean", ascending=False)
top, bottom = ranked.index[0], ranked.index[-1]
glue("opt_n", seeds)
glue("opt_tune_seeds", tune_seeds)
glue("opt_epochs", epochs)
glue("opt_top", top)
glue("opt_top_acc", f"{ranked.loc[top, 'test acc mean']:.3f} ± {ranked.loc[top, 'test acc std']:.3f}")
glue("opt_bottom", bottom)
glue("opt_bottom_acc", f"{ranked.loc[bottom, 'test acc mean']:.3f} ± {ranked.loc[bottom, 'test acc std']:.3f}")
glue("opt_spread", ranked["test acc mean"].max() - ranked["test acc mean"].min())
for name in OPTIMIZERS:
    key = name.replace("+", "_").replace(" ", "_")
    glue(f"opt_acc_{key}", f"{table.loc[name, 'test acc mean']:.3f} ± {table.loc[name, 'test acc std']:.3f}")
    glue(f"opt_lr_{key}", f"{best_lr[name]:g}")
glue("opt_p_sgd_adam", table.loc["SGD", "p_vs_Adam"])
glue("opt_p_mom_adam", table.loc["SGD+momentum", "p_vs_Adam"])
glue("opt_edge", ", ".join(edge) if edge else "none")
glue("opt_slowest", table["seconds per epoch"].idxmax())
glue("opt_fastest", table["seconds per epoch"].idxmin())
glue("opt_time_ratio", table["seconds per epoch"].max() / table["seconds per epoch"].min())
# Does the learning rate matter more than the optimizer? Compare, on the validation sweep, each
# optimizer's range over its learning rates with the range across tuned optimizers.
lr_range = sweep_final.groupby("optimizer", sort=False)["mean"].agg(lambda v: v.max() - v.min())
tuned_range = sweep_final.groupby("optimizer", sort=False)["mean"].max()
tuned_range = tuned_range.max() - tuned_range.min()
glue("opt_lr_range_max", lr_range.max())
glue("opt_lr_range_who", lr_range.idxmax())
glue("opt_tuned_range", tuned_range)
glue("opt_lesson", "the learning rate matters more than the optimizer" if lr_range.max() > tuned_range
     else "on this task the choice of optimizer mattered as much as its learning rate")
''', ["remove-cell"])
md(r"""
After {glue:text}`opt_epochs` epochs, over {glue:text}`opt_n` seeds, the best optimizer here is
**{glue:text}`opt_top`** at {glue:text}`opt_top_acc` test accuracy and the weakest is
{glue:text}`opt_bottom` at {glue:text}`opt_bottom_acc`: a spread of {glue:text}`opt_spread:.3f` between
the best and the worst *once each is tuned*. In detail: SGD {glue:text}`opt_acc_SGD` (η = {glue:text}`opt_lr_SGD`),
SGD with momentum {glue:text}`opt_acc_SGD_momentum` (η = {glue:text}`opt_lr_SGD_momentum`),
Nesterov {glue:text}`opt_acc_Nesterov` (η = {glue:text}`opt_lr_Nesterov`),
AdaGrad {glue:text}`opt_acc_AdaGrad` (η = {glue:text}`opt_lr_AdaGrad`),
RMSProp {glue:text}`opt_acc_RMSProp` (η = {glue:text}`opt_lr_RMSProp`),
Adam {glue:text}`opt_acc_Adam` (η = {glue:text}`opt_lr_Adam`) and
AdamW {glue:text}`opt_acc_AdamW` (η = {glue:text}`opt_lr_AdamW`).
Welch's t-test against Adam gives p = {glue:text}`opt_p_sgd_adam:.2g` for plain SGD and
p = {glue:text}`opt_p_mom_adam:.2g` for SGD with momentum: read small p-values as "this gap is
unlikely to be seed noise", not as a ranking that transfers to other problems.
Optimizers whose best learning rate sat at the edge of their grid (so the sweep may have
cut them short): {glue:text}`opt_edge`.
Per epoch, the slowest optimizer ({glue:text}`opt_slowest`) takes {glue:text}`opt_time_ratio:.2f`
times as long as the fastest ({glue:text}`opt_fastest`): the extra state of the adaptive methods
is cheap next to the forward and backward pass.

Two lessons carry through the book. First, {glue:text}`opt_lesson`: on the validation sweep,
{glue:text}`opt_lr_range_who` moves by {glue:text}`opt_lr_range_max:.3f` in accuracy between its worst
and best learning rate, while the seven tuned optimizers span {glue:text}`opt_tuned_range:.3f`.
Second, every run here kept its learning rate constant; the next chapters change it *during*
training, and that is where most of the remaining accuracy and speed is.
""")
code('''
from lrbook.notebook import glue_headlines, headline

setting = f"{dataset}, cnn1d, {epochs} epochs, n_train={n_train}"
headline("Best tuned optimizer (test accuracy)",
         f"{top}: {ranked.loc[top, 'test acc mean']:.3f} ± {ranked.loc[top, 'test acc std']:.3f}", n=seeds,
         note=setting + ", each optimizer at its best swept learning rate")
headline("Weakest tuned optimizer (test accuracy)",
         f"{bottom}: {ranked.loc[bottom, 'test acc mean']:.3f} ± {ranked.loc[bottom, 'test acc std']:.3f}",
         n=seeds, note=setting)
headline("Plain SGD: best learning rate of the grid (test accuracy)",
         f"η = {best_arm.split('= ')[1]}: {final_acc[best_arm]:.3f}", n=int(last.seed.nunique()),
         note=f"grid {', '.join(f'{lr:g}' for lr in lr_grid)}; diverged: {', '.join(a.split('= ')[1] for a, d in diverged.items() if d)}")
glue_headlines()
glue("runtime_s", time.perf_counter() - T_START)
glue("runtime_profile", profile)
glue("runtime_device", info["device"])
''', ["remove-cell"])
md(r"""
## Summary

- An epoch is $\lceil N/B \rceil$ steps; larger batches make each step dearer, each epoch
  cheaper and each update rarer.
- Gradient descent on a quadratic converges for $\eta < 2/\lambda_{\max}$ and diverges just past
  it; a network shows the same three regimes in its loss curves.
- Tuned, the seven Keras optimizers span {glue:text}`opt_spread:.3f` in test accuracy on this task,
  from {glue:text}`opt_bottom` to {glue:text}`opt_top`; tune the learning rate of whichever you pick.

*This page was computed with the {glue:text}`runtime_profile` profile on {glue:text}`runtime_device`
in {glue:text}`runtime_s:.0f` s.*

## References

```{footbibliography}
```
""")
write(cells, NAME)
