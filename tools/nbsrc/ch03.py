import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SETUP, badge, derived  # noqa: E402
from nbgen import recorder, write  # noqa: E402

NAME = "03_lr_finder"
cells, md, code = recorder()

md("# Finding the learning rate: the LR range test")
md(badge(NAME))
md(r"""
## Overview

Chapter 1 found a good learning rate the expensive way: train once per candidate and keep the
best. The **LR range test** (the "LR finder") reads one off a single short run instead: for a
few dozen steps the learning rate grows from tiny to huge while the loss is recorded, and the
shape of that curve says where training works. This chapter takes the test apart step by step,
measures how close its suggestions land to the best learning rate of a brute-force sweep and
what each costs, shows a trap that silently shifts every suggestion in Keras, uses the result to
set the bounds of a cyclical and a one-cycle schedule, and repeats the test on a batch-norm
model and on a second data set.

**You will learn** what the test computes at every step (and how `lrbook.lr_range_test` leaves
your model exactly as it was), what the five usual suggestion rules do and which one to trust,
why a finder reading Keras's `logs["loss"]` is wrong, and how to turn the curve into schedule
bounds.

**Prerequisites:** chapter 1 (steps, epochs, the learning rate, SGD with momentum). The
schedules used in the last sections (triangular cyclical and one-cycle) are drawn and explained
in the schedules chapter; here they are only used.

**Run time:** the `quick` profile (what CI runs) takes about a minute on 2 CPU cores; the `full`
profile (what this page shows) takes about 10 minutes on 2 CPU cores and a few minutes on a GPU.
The exact time of this build is at the end of the page.
""")
code('''
# Parameters (papermill overrides these; see "How to use this book").
profile = None         # "quick" (CI) or "full" (the book); None reads $LRBOOK_PROFILE, default "full"
dataset = "mnist1d"    # "mnist1d" (offline) or "digits" (offline); see lrbook.data.NAMES
n_train = 4000         # training samples before the 20% validation split
batch_size = 32
momentum = 0.9         # SGD momentum, in the range test and in training
start_lr = 1e-7        # the range test sweeps the learning rate from start_lr to end_lr
end_lr = 10.0
finder_steps = 100     # steps (batches) of one range test
smoothing = 0.98       # beta of the smoothed loss
stop_factor = 4.0      # the test stops when the smoothed loss passes this times its best
sweep_low = 1e-3       # the brute-force sweep: sweep_points log-spaced constant learning rates
sweep_high = 3.0
sweep_points = 12
seeds = 3              # seeds of the main sweep, of the range tests and of every comparison
bn_sweep_seeds = 2     # seeds of the batch-norm sweep (the check of "tolerates larger learning rates")
epochs = 6             # epoch budget of every training run
peak_divisors = [1, 3, 10]  # cyclical and one-cycle peaks: the edge of the range test divided by each
clr_base_divisor = 4   # Smith: the cyclical lower bound is the peak / 3 to / 4
''', ["parameters"])
code(derived('''    n_train, finder_steps, sweep_points, seeds, epochs = 2000, 60, 3, 2, 2
    peak_divisors = [10]'''))
code(SETUP + '''

import math

from lrbook import lr_finder, optimizers, schedules
from lrbook.lr_finder import lr_range_test''', ["hide-output"])
code('''
glue("p_steps", finder_steps)
glue("p_beta", smoothing)
glue("p_stop", stop_factor)
glue("p_momentum", momentum)
glue("p_batch", batch_size)
''', ["remove-cell"])

# ----------------------------------------------------------------------------- 1. what the test does
md(r"""
## What the test does, step by step

Leslie Smith introduced the range test to set the bounds of cyclical learning rates
{footcite:p}`smith2017clr` and made it the first step of his "disciplined approach" to
hyperparameters {footcite:p}`smith2018disciplined`: train briefly while the learning rate grows,
and watch where the accuracy starts to rise, where it stops rising and where it falls apart. His
test grows the rate linearly over several epochs; fastai turned it into a short (by default
100-step) test on the training loss, with an exponentially growing rate, a smoothed loss and a
stop rule, and that is the version most libraries ship. `lrbook.lr_range_test` does the following on a
**compiled** model (compile it with the optimizer you will train with, momentum included):

1. **Learning rate.** Step $i = 0, \dots, n-1$ uses
   $\eta_i = \eta_{\text{start}} \, (\eta_{\text{end}}/\eta_{\text{start}})^{i/(n-1)}$: the rate is
   multiplied by the same factor every batch, so every decade gets the same number of steps.
2. **One batch, its own loss.** The model trains on one batch (`train_on_batch`, so a custom
   `train_step` is respected) and the test records *that batch's* loss, at the weights before
   the update it drives.
3. **Smoothing.** Batch losses are noisy, so the rules read a bias-corrected exponential moving
   average, $a_i = \beta a_{i-1} + (1-\beta)\,L_i$, $\;\hat L_i = a_i / (1-\beta^{i+1})$, with
   $\beta =$ {glue:text}`p_beta:g`.
4. **Stop rule.** The test stops once $\hat L_i$ exceeds {glue:text}`p_stop:g` times its best value
   so far (or stops being finite): past that point the curve only says "diverged".
5. **Restore.** Every variable the test touched (weights, batch-norm statistics, optimizer slots,
   iteration count, learning rate) gets back its value from before, bit for bit.

Here: MNIST-1D {footcite:p}`greydanus2020mnist1d` and the book's 1-D CNN, with SGD and momentum
{glue:text}`p_momentum:g` as in chapter 1, batch size {glue:text}`p_batch`, and a
{glue:text}`p_steps`-step test. The model below starts from the initial weights of seed 0, the same weights the
sweep further down starts from (`training.initial_weights` gives exactly what
`run_experiment` uses).
""")
code('''
ds = data.load(dataset, n_train=n_train, validation_split=0.2, seed=None)
steps_per_epoch = math.ceil(len(ds.y_train) / batch_size)
build = models.cnn1d if dataset == "mnist1d" else models.cnn2d
build_plain = lambda: build(ds.input_shape)


def sgd(lr=0.01):
    """The optimizer of the whole chapter: SGD with momentum."""
    return keras.optimizers.SGD(learning_rate=lr, momentum=momentum)


def compiled(build_model, seed):
    """A fresh model on the initial weights run_experiment gives `seed`, compiled with SGD + momentum."""
    keras.backend.clear_session()
    weights = training.initial_weights(build_model, seed)
    model = build_model()
    model.set_weights(weights)
    return models.compile_classifier(model, sgd())


def range_test(model, d, seed, **kwargs):
    """lr_range_test with this chapter's settings; returns (result, wall seconds)."""
    t0 = time.perf_counter()
    result = lr_range_test(model, d.x_train, d.y_train, batch_size=batch_size, start_lr=start_lr,
                           end_lr=end_lr, num_steps=finder_steps, smoothing=smoothing,
                           stop_factor=stop_factor, seed=seed, **kwargs)
    return result, time.perf_counter() - t0


def state(model):
    """Weights and optimizer state (slots, iteration count, learning rate) as raw bytes."""
    return [(v.path, np.asarray(v.numpy()).tobytes()) for v in model.variables + model.optimizer.variables]


def shown(df, formats):
    """A copy of `df` for display: each column formatted with its format spec (NaN shown as "–")."""
    out = df.copy()
    for col, spec in formats.items():
        out[col] = [("–" if not np.isfinite(v) else format(v, spec)) for v in df[col].astype(float)]
    return out


print(ds, f"| {steps_per_epoch} steps per epoch at batch size {batch_size}")
model = compiled(build_plain, seed=0)
model.optimizer.build(model.trainable_variables)  # create the momentum slots now, to compare them after
before = state(model)
walk, walk_s = range_test(model, ds, seed=0)
assert state(model) == before, "the range test must leave weights and optimizer state bit-identical"
print(walk)
print("weights and optimizer state after the test: bit-identical to before "
      f"({len(before)} variables, iterations = {int(model.optimizer.iterations.numpy())})")
''')
md(r"""
The `assert` above compares the raw bytes of every weight and every optimizer variable before
and after the test: the model you get back is the model you gave, so you can go on and train
it. The next cell checks the other steps against their definitions: the rate grows by the same
factor every step, the first recorded loss is the loss of the first batch computed by hand at
the initial weights, and the smoothed curve is the bias-corrected average of the recorded one.
""")
code('''
n_done = len(walk.lrs)
factor = (end_lr / start_lr) ** (1 / (finder_steps - 1))
np.testing.assert_allclose(walk.lrs, lr_finder.sweep_lrs(start_lr, end_lr, finder_steps)[:n_done], rtol=1e-6)
np.testing.assert_allclose(walk.lrs[1:] / walk.lrs[:-1], factor, rtol=1e-6)

# Step 1's loss, by hand: the test draws batches from a permutation seeded by `seed`.
first_batch = np.random.default_rng(0).permutation(len(ds.y_train))[:batch_size]
logits = model(ds.x_train[first_batch], training=True)  # the restored model: the initial weights
loss_by_hand = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(ds.y_train[first_batch], logits))
np.testing.assert_allclose(walk.losses[0], loss_by_hand, rtol=1e-5)
assert abs(walk.losses[0] - math.log(ds.num_classes)) < 0.5, "an untrained classifier's loss is near ln(classes)"

np.testing.assert_allclose(walk.smoothed_losses, lr_finder.smooth_losses(walk.losses, smoothing), rtol=1e-12)
# Without the bias correction the average starts near 0 and climbs: the stop rule would fire at once.
uncorrected = walk.smoothed_losses * (1 - smoothing ** np.arange(1, n_done + 1))
false_stop = np.flatnonzero(uncorrected > stop_factor * np.minimum.accumulate(uncorrected))
assert false_stop.size, "an uncorrected average should trip the stop rule"

best_smoothed = float(np.min(walk.smoothed_losses))
steps = np.arange(1, n_done + 1)
fig = plt.figure(figsize=(9, 8.2))
grid_spec = fig.add_gridspec(2, 2, height_ratios=[1, 1.3])
ax0, ax1, ax2 = fig.add_subplot(grid_spec[0, 0]), fig.add_subplot(grid_spec[0, 1]), fig.add_subplot(grid_spec[1, :])
ax0.semilogy(steps, walk.lrs, ".", ms=3)
ax0.set(xlabel="step (one batch each)", ylabel="learning rate η (log scale)",
        title=f"1. learning rate: × {factor:.3f} per step")
ax0.grid(alpha=0.3)
ax1.plot(steps, walk.losses, color="0.6", lw=0.8, label="batch loss")
ax1.plot(steps, walk.smoothed_losses, color="C0", lw=2, label=f"smoothed (β = {smoothing:g})")
ax1.axhline(stop_factor * best_smoothed, color="C3", ls=":", lw=1.2,
            label=f"stop level: {stop_factor:g} × best smoothed loss")
ax1.set(yscale="log", xlabel="step (one batch each)", ylabel="training loss (log scale)",
        title="2-4. batch loss, smoothing, stop rule")
ax1.grid(alpha=0.3)
ax1.legend(fontsize="small", loc="upper left")
walk.plot(ax=ax2)
ax2.set(xlabel="learning rate η (log scale)", ylabel="training loss (cross-entropy)",
        title="the curve the rules read (seed 0), every suggestion marked; blow-up cut off")
ax2.legend(fontsize="small", loc="lower left", ncol=2)
fig.tight_layout()
''')
code('''
glue("walk_steps", n_done)
glue("walk_planned", finder_steps)
glue("walk_factor", factor)
glue("walk_per_decade", (finder_steps - 1) / math.log10(end_lr / start_lr))
glue("walk_start", start_lr)
glue("walk_end", end_lr)
glue("walk_loss0", float(walk.losses[0]))
i_min = int(np.argmin(walk.smoothed_losses))
i_half = int(np.flatnonzero(walk.smoothed_losses <= (walk.smoothed_losses[0] + best_smoothed) / 2)[0])
if i_min - i_half >= 2:
    glue("walk_fall_sentence",
         f"the smoothed loss only falls from {walk.smoothed_losses[0]:.3f} to {best_smoothed:.3f} "
         f"(at η = {walk.lrs[i_min]:.2g}) before it blows up, and the second half of that fall takes only the "
         f"last {i_min - i_half} steps ({math.log10(walk.lrs[i_min] / walk.lrs[i_half]):.1f} decades of "
         "learning rate).")
else:
    glue("walk_fall_sentence",
         f"the smoothed loss never falls clearly below where it started ({walk.smoothed_losses[0]:.3f}; its "
         f"lowest point, {best_smoothed:.3f}, is at η = {walk.lrs[i_min]:.2g}): with this few steps the "
         "network hardly trains before the learning rate is too large.")
glue("walk_false_stop", int(false_stop[0]) + 1)
glue("walk_uncorrected0", float(uncorrected[0]))
walk_sugg = np.array([v for v in walk.suggestions().values() if np.isfinite(v)])
glue("walk_spread_decades", math.log10(walk_sugg.max() / walk_sugg.min()))
glue("walk_seconds", walk_s)
glue("walk_n_vars", len(before))
if walk.stopped_early:
    glue("walk_stop_sentence",
         f"Here the test stopped after {n_done} of its {finder_steps} steps, at η = {walk.lrs[-1]:.3g}, "
         f"when the smoothed loss reached {walk.smoothed_losses[-1]:.2f}, more than {stop_factor:g} times "
         f"its best ({best_smoothed:.2f}).")
else:
    glue("walk_stop_sentence",
         f"Here the test ran all {finder_steps} steps up to η = {walk.lrs[-1]:.3g}: the smoothed loss never "
         f"passed {stop_factor:g} times its best ({best_smoothed:.2f}); it ended at "
         f"{walk.smoothed_losses[-1]:.2f}, the plateau of a network that has stopped learning.")
''', ["remove-cell"])
md(r"""
The rate starts at {glue:text}`walk_start:.0e`, ends at {glue:text}`walk_end:g` and is multiplied by
{glue:text}`walk_factor:.3f` every step, {glue:text}`walk_per_decade:.1f` steps per decade.
{glue:text}`walk_stop_sentence` The first batch loss, {glue:text}`walk_loss0:.3f`, is close to what an
untrained 10-class classifier gives, $\ln 10 \approx 2.30$. The bias correction matters:
without it the average starts at $(1-\beta) L_0 =$ {glue:text}`walk_uncorrected0:.3f`, climbs as it
fills up, and the stop rule would end the test at step {glue:text}`walk_false_stop`. The whole test
took {glue:text}`walk_seconds:.1f` s.

Look at the scale of the bottom panel: {glue:text}`walk_fall_sentence` Most steps run at learning rates far too small to move the weights; the part of
the curve that carries information is short and noisy. That is what every rule has to work with,
and why two seeds can give quite different suggestions.

The rules that turn the curve into one number are pure functions of the (learning rate,
smoothed loss) pairs, after dropping a few points at each end; the first four are fastai's, the
last PyTorch Lightning's:

| rule | suggestion |
|---|---|
| `valley` | half-way down the longest descending stretch of the curve |
| `slide` | slide a window left from the end until the slope flattens |
| `minimum` | the learning rate at the lowest loss, divided by 10 |
| `steep` | where the loss falls fastest per decade of learning rate |
| `gradient` | where the loss falls fastest per unit of learning rate (Lightning) |

Each suggestion is marked on the curve above: five rules, five answers, spread over
{glue:text}`walk_spread_decades:.1f` decades of learning rate. Which one to believe is an empirical question, so the next section asks it.
""")

# ----------------------------------------------------------------------------- 2. the sweep
md(r"""
## The limit it approximates: a brute-force sweep

The honest reference is the expensive one: train the model at each of a dozen log-spaced
constant learning rates for a fixed epoch budget, from the same initial weights, over several
seeds, and keep the learning rate with the best mean **validation** accuracy. Then run the range
test on each seed's initial weights and see where each rule lands relative to that best
learning rate, and what each approach costs.
""")
code('''
grid = np.geomspace(sweep_low, sweep_high, sweep_points)
label = lambda lr: f"{lr:.3g}"


def lr_sweep(build_model, n_seeds, evaluate_test=True):
    """Train at every learning rate of the grid, from the same initial weights per seed; time it."""
    t0 = time.perf_counter()
    df = training.run_experiment(build_model, {label(lr): training.Arm(lambda lr=lr: sgd(lr)) for lr in grid},
                                 ds, seeds=range(n_seeds), epochs=epochs, batch_size=batch_size,
                                 evaluate_test=evaluate_test)
    df["lr_value"] = df.arm.astype(float)
    return df, time.perf_counter() - t0


def sweep_summary(df):
    """Per learning rate: final validation accuracy (mean, std), and whether any seed diverged."""
    last = df[df.epoch == df.epoch.max()]
    g = last.groupby("lr_value")
    out = pd.DataFrame({"val acc mean": g.val_accuracy.mean(), "val acc std": g.val_accuracy.std(),
                        "train loss": g.loss.mean()})
    # Diverged: the final training loss is not finite or no better than a uniform guess (ln 10).
    out["diverged"] = g.loss.apply(lambda v: bool((~np.isfinite(v) | (v > math.log(ds.num_classes))).any()))
    return out


def largest_trainable(summary):
    """The largest learning rate below which no run of the sweep diverged."""
    ok = summary.index[~summary.diverged.cummax()]
    return float(ok.max()) if len(ok) else float("nan")


sweep, sweep_s = lr_sweep(build_plain, seeds)
plain = sweep_summary(sweep)
best_lr = float(plain["val acc mean"].idxmax())
SWEEP_FORMATS = {"val acc mean": ".3f", "val acc std": ".3f", "train loss": ".3f"}
shown(plain, SWEEP_FORMATS).rename_axis("constant η")
''')
code('''
RULES = list(lr_finder.SUGGESTION_METHODS) + ["gradient (per step)"]
COLORS = {rule: f"C{k + 1}" for k, rule in enumerate(RULES)}  # as in LRFinderResult.plot


def suggestions(result):
    """Every rule's learning rate; "gradient (per step)" is Lightning's rule on the step index."""
    out = result.suggestions()
    try:
        out["gradient (per step)"] = result.suggestion("gradient", wrt="index")
    except ValueError:
        out["gradient (per step)"] = float("nan")
    return out


def finder_runs(build_model, d, **kwargs):
    """The range test on every seed's initial weights: (results, seconds)."""
    runs = [range_test(compiled(build_model, s), d, s, **kwargs) for s in range(seeds)]
    return [r for r, _ in runs], [t for _, t in runs]


def geomean(values):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.exp(np.mean(np.log(values)))) if values.size else float("nan")


def rule_table(results, best, summary):
    """Per rule: suggestion and its ratio to the sweep's best (geometric mean over seeds), how far
    off it typically is (either direction), and the sweep's accuracy at that learning rate."""
    per_seed = pd.DataFrame([suggestions(r) for r in results])
    ratio = per_seed / best
    log_acc = np.interp  # accuracy of the sweep at a learning rate, interpolated in log η
    rows = {}
    for rule in RULES:
        lr = geomean(per_seed[rule])
        inside = summary.index.min() <= lr <= summary.index.max()
        rows[rule] = {
            "suggested η": lr,
            "÷ sweep best": geomean(ratio[rule]),
            "typically off by ×": geomean(np.exp(np.abs(np.log(ratio[rule])))),
            "seeds within 2×": int(((ratio[rule] >= 0.5) & (ratio[rule] <= 2)).sum()),
            "sweep val acc there": float(log_acc(np.log(lr), np.log(summary.index), summary["val acc mean"]))
            if inside else float("nan"),
        }
    return pd.DataFrame(rows).T, ratio


RULE_FORMATS = {"suggested η": ".2g", "÷ sweep best": ".2g", "typically off by ×": ".2g",
                "seeds within 2×": ".0f", "sweep val acc there": ".3f"}
results, finder_s = finder_runs(build_plain, ds)
results_rm, _ = finder_runs(build_plain, ds, loss_source="running_mean")  # for the next section
rules_plain, ratio_plain = rule_table(results, best_lr, plain)
shown(rules_plain, RULE_FORMATS)
''')
code('''
fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(9, 8.6), gridspec_kw={"height_ratios": [1.3, 1]})
ax0.plot(plain.index, plain["val acc mean"], "o-", color="C0", label="sweep (constant η)")
ax0.fill_between(plain.index, plain["val acc mean"] - plain["val acc std"].fillna(0),
                 plain["val acc mean"] + plain["val acc std"].fillna(0), color="C0", alpha=0.18, lw=0)
ax0.axvline(best_lr, color="C0", lw=2.5, alpha=0.35)
ax0.set_xscale("log")
lo, hi = grid[0] / 3, grid[-1] * 3
ax0.set_xlim(lo, hi)
outside = 0
for rule in RULES:
    lr = rules_plain.loc[rule, "suggested η"]
    if lo <= lr <= hi:
        ax0.axvline(lr, color=COLORS[rule], ls="--", lw=1.4, label=f"{rule}: {lr:.2g}")
    elif np.isfinite(lr):  # far outside the sweep: say so at the edge instead of squashing the plot
        arrow, x = ("←", 0.02) if lr < lo else ("→", 0.98)
        ax0.annotate(f"{arrow} {rule}: {lr:.1e}, off the scale", xy=(x, 0.97 - 0.06 * outside),
                     xycoords="axes fraction", color=COLORS[rule], fontsize="small", va="top",
                     ha="left" if lr < lo else "right")
        outside += 1
ax0.set(xlabel="learning rate η (log scale)", ylabel=f"validation accuracy after {epochs} epochs",
        title=f"sweep: best η = {best_lr:.3g} (thick line); dashed: range-test suggestions (geo. mean of seeds)")
ax0.grid(alpha=0.3)
ax0.legend(fontsize="small", loc="lower left", frameon=True, framealpha=0.9, edgecolor="none")

for k, rule in enumerate(RULES):
    r = ratio_plain[rule].to_numpy()
    ax1.plot(np.full(r.shape, k) + np.linspace(-0.12, 0.12, r.size), r, "o", color=COLORS[rule], ms=6)
ax1.axhspan(0.5, 2, color="0.85", zorder=0)
ax1.axhline(1, color="0.4", lw=1)
ax1.set_yscale("log")
ax1.set_xticks(range(len(RULES)), RULES)
ax1.set(ylabel="suggested η ÷ sweep's best η (log scale)", title="one dot per seed; band: within 2×")
ax1.grid(alpha=0.3, axis="y")
fig.tight_layout()
''')
code('''
fast_rules = [r for r in RULES if r in lr_finder.SUGGESTION_METHODS]
typical = rules_plain.loc[RULES, "typically off by ×"]
best_rule = typical.idxmin()
worst_rule = typical.idxmax()
epoch_s = float(sweep[sweep.epoch > 1].epoch_time.median()) if epochs > 1 else float(sweep.epoch_time.median())
first_epoch_s = float(sweep[sweep.epoch == 1].epoch_time.median())
finder_mean_s = float(np.mean(finder_s))
glue("sw_points", len(grid))
glue("sw_low", float(grid[0]))
glue("sw_high", float(grid[-1]))
glue("sw_seeds", seeds)
glue("sw_epochs", epochs)
glue("sw_runs", len(grid) * seeds)
glue("sw_best", best_lr)
glue("sw_best_acc", f"{plain.loc[best_lr, 'val acc mean']:.3f} ± {plain.loc[best_lr, 'val acc std']:.3f}")
glue("sw_trainable", largest_trainable(plain))
if plain.diverged.any():
    glue("sw_trainable_sentence",
         f"Every run trains up to η = {largest_trainable(plain):.3g}; at {plain.index[plain.diverged.argmax()]:.3g}, "
         f"the next learning rate of the grid, some seed diverges (its final training loss is no better than "
         f"a uniform guess); {int(plain.diverged.sum())} of the {len(plain)} learning rates of the grid "
         + ("has" if int(plain.diverged.sum()) == 1 else "have") + " a diverged run.")
else:
    glue("sw_trainable_sentence", "No run of the grid diverged.")
acc_there = rules_plain.loc[best_rule, "sweep val acc there"]
glue("best_rule_acc_sentence",
     f"the sweep's validation accuracy at that learning rate is {acc_there:.3f}" if np.isfinite(acc_there)
     else "that learning rate lies outside the sweep's range")
glue("best_rule", best_rule)
glue("best_rule_ratio", rules_plain.loc[best_rule, "÷ sweep best"])
glue("best_rule_off", rules_plain.loc[best_rule, "typically off by ×"])
glue("best_rule_within", int(rules_plain.loc[best_rule, "seeds within 2×"]))
glue("worst_rule", worst_rule)
glue("worst_rule_off", rules_plain.loc[worst_rule, "typically off by ×"])
for rule in RULES:
    key = rule.split(" ")[0] + ("_step" if "step" in rule else "")
    glue(f"ratio_{key}", rules_plain.loc[rule, "÷ sweep best"])
    glue(f"off_{key}", rules_plain.loc[rule, "typically off by ×"])
    glue(f"sugg_{key}", rules_plain.loc[rule, "suggested η"])
within = [r for r in RULES if rules_plain.loc[r, "typically off by ×"] <= 2]
worst_seed = np.exp(np.abs(np.log(ratio_plain))).max()  # per rule, the worst single seed
glue("seed_worst_sentence", "; ".join(f"{r}: off by up to {worst_seed[r]:.2g}× on a single seed"
                                      for r in (within or [best_rule])))
glue("rules_within_2x", ", ".join(within) if within else "none of them")
glue("finder_s", finder_mean_s)
glue("epoch_s", epoch_s)
glue("first_epoch_s", first_epoch_s)
glue("finder_over_epoch", finder_mean_s / epoch_s)
glue("finder_over_first_epoch", finder_mean_s / first_epoch_s)
glue("finder_epochs_of_steps", finder_steps / steps_per_epoch)
glue("sweep_s", sweep_s)
glue("sweep_over_finder", sweep_s / finder_mean_s)
glue("sweep_minutes", sweep_s / 60)
''', ["remove-cell"])
md(r"""
The sweep ({glue:text}`sw_points` learning rates from {glue:text}`sw_low:.0e` to
{glue:text}`sw_high:g`, {glue:text}`sw_seeds` seeds, {glue:text}`sw_epochs` epochs each:
{glue:text}`sw_runs` training runs) puts the best constant learning rate at
$\eta =$ {glue:text}`sw_best:.3g`, with validation accuracy {glue:text}`sw_best_acc`.
{glue:text}`sw_trainable_sentence`

**Which rule works best here: {glue:text}`best_rule`.** Its suggestion is, over the seeds,
{glue:text}`best_rule_ratio:.2g` times the sweep's best (geometric mean), typically off by a
factor of {glue:text}`best_rule_off:.2g` in either direction, within 2× on
{glue:text}`best_rule_within` of {glue:text}`sw_seeds` seeds, and {glue:text}`best_rule_acc_sentence`. The rules typically within 2× of the
sweep's best: {glue:text}`rules_within_2x`. In ratios to the sweep's best (geometric means over
seeds): `valley` {glue:text}`ratio_valley:.2g`, `slide` {glue:text}`ratio_slide:.2g`, `minimum`
{glue:text}`ratio_minimum:.2g`, `steep` {glue:text}`ratio_steep:.2g`. The spread between seeds
(bottom panel) is the second lesson: one range test is one noisy sample, and a rule that is right
on average can be far off on a given run ({glue:text}`seed_worst_sentence`).

**Lightning's `gradient` rule is off by a factor of {glue:text}`off_gradient:.2g`.** Its
suggestion, {glue:text}`sugg_gradient:.2g`, is {glue:text}`ratio_gradient:.2g` times the sweep's
best: it picks the steepest slope of the loss *per unit of learning rate*, and on an exponential
sweep the first steps are {glue:text}`walk_factor:.3f`-fold increments of a learning rate near
$10^{-7}$: there a loss difference of pure noise, divided by a tiny $\Delta\eta$, is a huge slope.
The same rule on the step index (older Lightning releases and `torch-lr-finder` compute it that
way; `result.suggestion("gradient", wrt="index")`) is the slope per decade, like `steep`, and lands
at {glue:text}`ratio_gradient_step:.2g` times the sweep's best. The figure below shows the two slopes.

**Cost.** One range test took {glue:text}`finder_s:.2f` s (mean over seeds; it includes tracing the
train step), against {glue:text}`epoch_s:.2f` s for an epoch of training
({glue:text}`first_epoch_s:.2f` s for a first epoch, which also traces): the test is
{glue:text}`finder_over_epoch:.2g` epochs' worth of time for {glue:text}`finder_epochs_of_steps:.2g`
epochs' worth of steps. The sweep took {glue:text}`sweep_s:.0f` s
({glue:text}`sweep_minutes:.1f` min), {glue:text}`sweep_over_finder:.0f` times one range test.
""")
code('''
lrs_w, smooth_w = walk.curve("gradient")
slope_lr = np.gradient(smooth_w, lrs_w)   # Lightning: d loss / d η
slope_step = np.gradient(smooth_w)        # per step, i.e. per 1/(steps per decade) decade
fig, axes = plt.subplots(2, 1, figsize=(9, 7.4), sharex=True)
for ax, slope, what in ((axes[0], slope_lr, "per unit of η: −dL/dη"), (axes[1], slope_step, "per step: −ΔL per step")):
    down = -slope
    ax.plot(lrs_w[down > 0], down[down > 0], ".", ms=4, color="0.3")
    pick = int(np.argmax(down))
    ax.plot(lrs_w[pick], down[pick], "D", ms=9, color=COLORS["gradient"], label=f"steepest: η = {lrs_w[pick]:.2g}")
    ax.set(xscale="log", yscale="log", xlabel="learning rate η (log scale)", ylabel="descent rate (log scale)",
           title=f"seed 0, smoothed loss, descent {what}")
    ax.axvline(best_lr, color="C0", lw=2.5, alpha=0.35, label=f"sweep's best η = {best_lr:.3g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="lower center")
axes[0].set_xlabel("")
glue("slope_lr_pick", float(lrs_w[int(np.argmin(slope_lr))]))
glue("slope_step_pick", float(lrs_w[int(np.argmin(slope_step))]))
glue("slope_step_ratio", float(lrs_w[int(np.argmin(slope_step))]) / best_lr)
fig.tight_layout()
''')
md(r"""
Per unit of learning rate (top) the descent rate is largest at $\eta =$ {glue:text}`slope_lr_pick:.2g`,
where nothing is happening yet; per step (bottom), that is per fraction of a decade, it is largest
at $\eta =$ {glue:text}`slope_step_pick:.2g`, {glue:text}`slope_step_ratio:.2g` times the sweep's best,
where the loss really falls just before the edge. Keep this in mind when a finder's suggestion
looks absurdly small.
""")

# ----------------------------------------------------------------------------- 3. the trap
md(r"""
## The running-mean trap

A Keras callback is the natural place to write a finder: set the learning rate in
`on_train_batch_begin`, read `logs["loss"]` in `on_train_batch_end`. Since TensorFlow 2.2 that
reading is wrong: `logs["loss"]` is the **running mean of the loss since the start of the
epoch**, not the loss of the batch ([tensorflow/tensorflow#58098](https://github.com/tensorflow/tensorflow/issues/58098);
Keras 3 does the same). First, measured rather than asserted: run a finder as a callback in
`fit` (`lrbook.LRFinder`, which recovers each batch's loss from the totals behind the running
mean) next to a callback that records `logs["loss"]`, and compare.
""")
code('''
class LogsLoss(keras.callbacks.Callback):
    """What a naive finder records: logs["loss"] after every batch."""

    def on_train_begin(self, logs=None):
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(float(keras.ops.convert_to_numpy(logs["loss"])))


model = compiled(build_plain, seed=0)
finder_cb = lr_finder.LRFinder(start_lr, end_lr, finder_steps, smoothing=smoothing, stop_factor=stop_factor)
naive = LogsLoss()
model.fit(ds.x_train, ds.y_train, batch_size=batch_size, epochs=math.ceil(finder_steps / steps_per_epoch),
          callbacks=[finder_cb, naive], verbose=0)
true_losses = finder_cb.result.losses
seen = np.asarray(naive.seen[:len(true_losses)])
# The running mean of the epoch, computed from the true batch losses (weighted by batch size):
n = len(ds.y_train)
sizes = np.array([min(batch_size, n - b * batch_size) for b in range(steps_per_epoch)], dtype=float)
running = []
for i in range(len(true_losses)):
    e, b = divmod(i, steps_per_epoch)
    w = sizes[:b + 1]
    running.append(float(np.sum(true_losses[e * steps_per_epoch:i + 1] * w) / np.sum(w)))
np.testing.assert_allclose(seen, running, rtol=1e-5)
print(f"{len(seen)} batches: logs['loss'] equals the running mean of the true batch losses "
      f"(largest relative difference {np.max(np.abs(seen - running) / np.abs(running)):.1e})")
''')
md(r"""
So a finder reading `logs` sees a lagging average. `lr_range_test(..., loss_source="running_mean")`
records exactly that, for demonstration: same training, same batches, only the recorded loss
differs (and with it the smoothing, the stop rule and the suggestions). Here are both curves for
seed 0, and every rule on every seed.
""")
code('''
fig, axes = plt.subplots(2, 1, figsize=(9, 8.4), sharex=True)
results[0].plot(ax=axes[0])
results_rm[0].plot(ax=axes[1])
axes[0].set_title("true batch loss (lr_range_test)")
axes[1].set_title('running mean of the epoch (what logs["loss"] holds)')
for ax in axes:
    ax.set(xlabel="learning rate η (log scale)", ylabel="training loss (cross-entropy)")
    ax.legend(fontsize="small", loc="lower left")
axes[0].set_xlabel("")
fig.tight_layout()

rules_rm, ratio_rm = rule_table(results_rm, best_lr, plain)
trap = pd.DataFrame({
    "true loss: ÷ sweep best": rules_plain["÷ sweep best"],
    "running mean: ÷ sweep best": rules_rm["÷ sweep best"],
    "shift (running ÷ true)": rules_rm["suggested η"] / rules_plain["suggested η"],
    "running mean: off by ×": rules_rm["typically off by ×"],
})
shown(trap, {c: ".2g" for c in trap.columns})
''')
code('''
shift = trap["shift (running ÷ true)"]
moved = [r for r in fast_rules if not 0.5 <= shift[r] <= 2]
glue("trap_moved", ", ".join(moved) if moved else "none")
glue("trap_n_moved", len(moved))
glue("trap_n_rules", len(fast_rules))
glue("trap_max_rule", shift[fast_rules].apply(lambda s: abs(math.log(s))).idxmax())
max_shift = shift[shift[fast_rules].apply(lambda s: abs(math.log(s))).idxmax()]
glue("trap_max_shift", max_shift)
glue("trap_max_shift_text", f"{max_shift:.2g} times larger" if max_shift >= 1 else f"{1 / max_shift:.2g} times smaller")
glue("trap_best_rule_true", rules_plain.loc[best_rule, "typically off by ×"])
glue("trap_best_rule_rm", rules_rm.loc[best_rule, "typically off by ×"])
glue("trap_rm_best_rule", rules_rm.loc[fast_rules, "typically off by ×"].idxmin())
glue("trap_rm_best_off", rules_rm.loc[fast_rules, "typically off by ×"].min())
rm_steps = [len(r.lrs) for r in results_rm]
glue("trap_rm_stopped", sum(r.stopped_early for r in results_rm))
glue("trap_true_stopped", sum(r.stopped_early for r in results))
edge_true = geomean([r.suggestion("minimum") * 10 for r in results])
edge_rm = geomean([r.suggestion("minimum") * 10 for r in results_rm])
glue("trap_edge_shift", edge_rm / edge_true)
glue("trap_edge_word", "later (at a larger learning rate)" if edge_rm > edge_true
     else "earlier (at a smaller learning rate)")
glue("trap_reset_sentence",
     f"In a {finder_steps}-step test on {steps_per_epoch}-step epochs the running mean "
     + ("never resets: every point averages all the batches since the first."
        if finder_steps <= steps_per_epoch else
        f"resets at every epoch boundary ({math.ceil(finder_steps / steps_per_epoch) - 1} of them), and the "
        "curve jumps there."))
glue("trap_verdict",
     "The trap is not hypothetical here: it moves the suggestions of "
     + (f"{len(moved)} of the {len(fast_rules)} rules by more than a factor of 2."
        if moved else "no rule by more than a factor of 2 on this run, but the curve it reads is a different curve."))
''', ["remove-cell"])
md(r"""
At the $k$-th batch of an epoch a new batch moves the running mean by only $1/k$ of its
difference from it, so the curve is the curve of the past: its lowest point comes
{glue:text}`trap_edge_word`, by a factor of {glue:text}`trap_edge_shift:.2g` in learning rate
(geometric mean over seeds). {glue:text}`trap_reset_sentence` {glue:text}`trap_verdict` Moved by
more than 2×: {glue:text}`trap_moved`; the largest shift is {glue:text}`trap_max_rule`'s, whose suggestion
becomes {glue:text}`trap_max_shift_text`. The rule that works best on the true loss, {glue:text}`best_rule`,
is typically off by {glue:text}`trap_best_rule_true:.2g`× on the true loss and by
{glue:text}`trap_best_rule_rm:.2g`× on the running mean. The stop rule reads the wrong curve too: on
the true loss the test stopped early on {glue:text}`trap_true_stopped` of {glue:text}`sw_seeds` seeds,
on the running mean on {glue:text}`trap_rm_stopped`. A finder on the running mean can still land near
a good value by luck (here its best rule, {glue:text}`trap_rm_best_rule`, is typically off by
{glue:text}`trap_rm_best_off:.2g`×), but no rule calibrated on the true curve can be trusted on it.
""")

# ----------------------------------------------------------------------------- 4. use it
md(r"""
## Using the result: cyclical and one-cycle bounds

Smith's recipe for cyclical learning rates {footcite:p}`smith2017clr`: the upper bound is the
edge found by the range test, where the loss stops falling, and the lower bound a third to a
quarter of it. For one-cycle {footcite:p}`smith2018disciplined,smith2017superconvergence` the peak
is again the largest learning rate the test shows training at. On our curves the edge is the
learning rate at the lowest smoothed loss (ten times the `minimum` rule). But a
{glue:text}`p_steps`-step test with a smoothed loss may read that edge late, so the first question is how it compares with the
sweep's own edge; the second is how far below it the peak must go.

For each seed we read the edge off that seed's range test, and train from that seed's initial
weights with a triangular cyclical schedule (`TriangularCyclicalLearningRate`, peak / lower bound
= {glue:text}`clr_base_div`, ending at the end of a cycle) and with one-cycle (`OneCycle`, with its
momentum cycling {glue:text}`oc_momentum` through `lrbook.optimizers.SGD`), at peaks of the edge divided
by a few factors, next to the sweep's best constant learning rate. All runs have the same epoch
budget as the sweep. As for the sweep, the choice among them is made on **validation** accuracy,
and the comparison is reported on the **test** set.
""")
code('''
edges = [r.suggestion("minimum") * 10 for r in results]  # η at the lowest smoothed loss
total_steps = epochs * steps_per_epoch
cycles = max(1, epochs // 3)
step_size = total_steps // (2 * cycles)  # half a cycle; training ends at the end of a cycle


def clr_arm(peak):
    sched = lambda: schedules.TriangularCyclicalLearningRate(peak / clr_base_divisor, peak, step_size)
    return training.Arm(lambda: keras.optimizers.SGD(sched(), momentum=momentum))


def one_cycle_arm(peak):
    def make():
        sched = schedules.OneCycle(peak, total_steps)
        return optimizers.SGD(sched, momentum=sched.momentum_schedule())
    return training.Arm(make)


def peak_name(kind, d):
    return f"{kind}, peak = edge" + ("" if d == 1 else f" / {d:g}")


runs, peaks = [], {}
for seed in range(seeds):  # each seed uses its own range test's edge, as a user would
    arms = {}
    for d in peak_divisors:
        arms[peak_name("cyclical", d)] = clr_arm(edges[seed] / d)
        arms[peak_name("one-cycle", d)] = one_cycle_arm(edges[seed] / d)
        peaks.setdefault(peak_name("cyclical", d), []).append(edges[seed] / d)
        peaks.setdefault(peak_name("one-cycle", d), []).append(edges[seed] / d)
    runs.append(training.run_experiment(build_plain, arms, ds, seeds=[seed], epochs=epochs, batch_size=batch_size))
constant_name = f"constant η = {best_lr:.3g} (sweep's best)"
constant = sweep[sweep.arm == label(best_lr)].assign(arm=constant_name)
use = pd.concat([constant, *runs], ignore_index=True)
use_table = training.compare(use, "test_accuracy", baseline=constant_name)
use_table.insert(0, "peak η (geo. mean)", [best_lr] + [geomean(peaks[a]) for a in use_table.index[1:]])
final = use.sort_values("epoch").groupby(["arm", "seed"]).tail(1)
use_table["val acc mean"] = final.groupby("arm", sort=False).val_accuracy.mean()
use_table["final train loss"] = final.groupby("arm", sort=False).loss.mean()
use_table["diverged runs"] = final.groupby("arm", sort=False).loss.apply(
    lambda v: int((~np.isfinite(v) | (v > math.log(ds.num_classes))).sum()))
use_table = use_table.rename(columns={"mean": "test acc mean", "std": "test acc std", "time": "train seconds",
                                      f"p_vs_{constant_name}": "p vs constant"})

fig, ax = plt.subplots(figsize=(9, 5.6))
plotting.plot_curves(use, "test_accuracy", ax=ax, ylabel="test accuracy")
ax.set_title(f"schedules from the range test vs the sweep's best constant η (mean ± std, n = {seeds})")
ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
fig.tight_layout()
use_shown = shown(use_table, {"peak η (geo. mean)": ".3g", "p vs constant": ".2g", "val acc mean": ".3f",
                               "final train loss": ".3f", "diverged runs": ".0f"})
use_shown.insert(1, "test accuracy", [f"{m:.3f} ± {sd:.3f}" for m, sd in
                                      zip(use_table["test acc mean"], use_table["test acc std"])])
use_shown[["peak η (geo. mean)", "test accuracy", "p vs constant", "val acc mean", "final train loss",
           "diverged runs"]].rename_axis(f"arm (n = {seeds} seeds)")
''')
code('''
const_row = use_table.loc[constant_name]
sched_rows = use_table.drop(index=constant_name)
healthy = sched_rows[sched_rows["diverged runs"] == 0]
top = (healthy if len(healthy) else sched_rows)["val acc mean"].idxmax()  # chosen on validation
diff = use_table.loc[top, "test acc mean"] - const_row["test acc mean"]
p_top = use_table.loc[top, "p vs constant"]
fmt = lambda arm: f"{use_table.loc[arm, 'test acc mean']:.3f} ± {use_table.loc[arm, 'test acc std']:.3f}"
glue("clr_base_div", clr_base_divisor)
glue("edge_geo", geomean(edges))
glue("edge_over_best", geomean(edges) / best_lr)
glue("edge_over_trainable", geomean(edges) / largest_trainable(plain))
glue("use_const", fmt(constant_name))
glue("use_top", top)
glue("use_top_acc", fmt(top))
glue("use_top_peak", use_table.loc[top, "peak η (geo. mean)"])
glue("use_diff", diff)
glue("use_p", p_top)
glue("use_n", seeds)
glue("use_epochs", epochs)
glue("use_cycles_text", f"{cycles} cycle" + ("s" if cycles > 1 else ""))


def outcome(arm):
    k = int(use_table.loc[arm, "diverged runs"])
    return (f"{use_table.loc[arm, 'test acc mean']:.3f}"
            + (f" (diverged on {k} of {seeds} seed{'s' if seeds > 1 else ''})" if k else ""))


parts = []
for d in peak_divisors:
    where = "at the edge itself" if d == 1 else f"at the edge / {d:g}"
    parts.append(f"{where}, cyclical {outcome(peak_name('cyclical', d))} and one-cycle "
                 f"{outcome(peak_name('one-cycle', d))}")
glue("use_by_peak", "; ".join(parts) + ".")
gap = {d: use_table.loc[peak_name("one-cycle", d), "test acc mean"]
       - use_table.loc[peak_name("cyclical", d), "test acc mean"] for d in peak_divisors}
big = [d for d in peak_divisors if gap[d] > 0.1]
if big:
    d = big[0]
    glue("use_oc_sentence",
         f"One-cycle tolerated a peak the cyclical schedule did not: at the edge / {d:g} it reached "
         f"{use_table.loc[peak_name('one-cycle', d), 'test acc mean']:.3f} against "
         f"{use_table.loc[peak_name('cyclical', d), 'test acc mean']:.3f}. It starts "
         f"{schedules.OneCycle(1.0, 10).div_factor:g} times below its peak and passes the peak once, "
         "while the triangular cycle starts at a quarter of it and returns to it every cycle.")
elif any(g < -0.1 for g in gap.values()):
    glue("use_oc_sentence", "Here the cyclical schedule tolerated a higher peak than one-cycle.")
else:
    glue("use_oc_sentence", "The two schedules behaved alike at every peak tried.")
significant = bool(np.isfinite(p_top) and p_top < 0.05)
if diff > 0:
    verdict = ("beats the sweep's best constant learning rate, by more than seed noise explains (p < 0.05)"
               if significant else f"is ahead of the sweep's best constant learning rate on average, but with {seeds} seeds the "
               "difference is not significant (p ≥ 0.05)")
else:
    verdict = ("falls behind the sweep's best constant learning rate (p < 0.05)" if significant else
               "does not beat the sweep's best constant learning rate; the gap is within the seed-to-seed noise")
glue("use_verdict", verdict)
oc = schedules.OneCycle(1.0, 10)
glue("oc_momentum", f"{oc.max_momentum:g} → {oc.base_momentum:g} → {oc.max_momentum:g}")
half_cycle_epochs = step_size / steps_per_epoch
glue("use_half_cycle", half_cycle_epochs)
glue("use_half_cycle_sentence",
     f"Its half cycles last {half_cycle_epochs:.3g} epoch{'s' if half_cycle_epochs != 1 else ''}, "
     + ("shorter than the 2 to 8 epochs Smith recommends, because the budget is short; a longer budget "
        "gives it more room." if half_cycle_epochs < 2 else "within the 2 to 8 epochs Smith recommends."))
trainable = largest_trainable(plain)
if geomean(edges) > trainable:
    glue("edge_sentence",
         f"So the edge lies beyond every learning rate that trains at a constant rate for {epochs} epochs: a short "
         "test reads it late (plausibly because the smoothed loss lags the batch loss, and momentum carries each "
         "step's learning rate into the next steps), and the “largest learning rate that still trains” in "
         "Smith's sense sits below it.")
else:
    glue("edge_sentence",
         f"So the edge lies within the learning rates that train at a constant rate for {epochs} epochs.")
''', ["remove-cell"])
md(r"""
The edge the range test reports is at $\eta \approx$ {glue:text}`edge_geo:.2g` (geometric mean over
seeds): {glue:text}`edge_over_best:.2g` times the sweep's best constant learning rate and
{glue:text}`edge_over_trainable:.2g` times the largest constant learning rate at which every run
of the sweep still trained. {glue:text}`edge_sentence`

Test accuracy by peak (mean over {glue:text}`use_n` seeds): {glue:text}`use_by_peak`
{glue:text}`use_oc_sentence`

Over {glue:text}`use_n` seeds and {glue:text}`use_epochs` epochs, the schedule with the best
validation accuracy among those that never diverged is **{glue:text}`use_top`** (peak
$\eta \approx$ {glue:text}`use_top_peak:.2g`), at {glue:text}`use_top_acc` test accuracy against
{glue:text}`use_const` for the sweep's best constant learning rate: a difference of
{glue:text}`use_diff:+.3f` (Welch p = {glue:text}`use_p:.2g`). So a schedule set from one range test
per seed, without any sweep, {glue:text}`use_verdict`. The cyclical schedule runs
{glue:text}`use_cycles_text` in this budget. {glue:text}`use_half_cycle_sentence`
""")

# ----------------------------------------------------------------------------- 5. other models / data
md(r"""
## Another model, another data set

The curve is a property of the model, the data and the optimizer together. Two changes: the same
CNN with batch normalization after every convolution {footcite:p}`ioffe2015batchnorm`
(`cnn1d(norm="batch")`), which is often said to tolerate larger learning rates, and scikit-learn's
8×8 digits with a small 2-D CNN (`cnn2d`). For batch norm we also rerun the sweep (over
{glue:text}`bn_sweep_n` seeds, to save time), so "tolerates
larger learning rates" can be checked rather than repeated.
""")
code('''
build_bn = lambda: build(ds.input_shape, norm="batch")
sweep_bn, sweep_bn_s = lr_sweep(build_bn, min(bn_sweep_seeds, seeds), evaluate_test=False)
bn = sweep_summary(sweep_bn)
best_bn = float(bn["val acc mean"].idxmax())
results_bn, finder_bn_s = finder_runs(build_bn, ds)
rules_bn, ratio_bn = rule_table(results_bn, best_bn, bn)

digits = data.load("digits")
build_digits = lambda: models.cnn2d(digits.input_shape)
results_digits, _ = finder_runs(build_digits, digits)

setups = {"cnn1d": results, "cnn1d + batch norm": results_bn, "digits, cnn2d": results_digits}
fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(9, 8.6))
for k, (name, rs) in enumerate(setups.items()):
    for j, r in enumerate(rs):
        ax0.plot(r.lrs, r.smoothed_losses, color=f"C{k}", lw=1.2, alpha=0.85, label=name if j == 0 else None)
        edge = r.suggestion("minimum") * 10
        ax0.plot([edge], [np.interp(np.log(edge), np.log(r.lrs), r.smoothed_losses)], "o", color=f"C{k}", ms=6)
ax0.set(xscale="log", xlabel="learning rate η (log scale)", ylabel="smoothed training loss",
        title="range tests, one line per seed; dot: the edge (lowest loss)")
# y range: every curve up to its lowest point, plus a margin for the start of the blow-up
low = min(float(np.min(r.smoothed_losses)) for rs in setups.values() for r in rs)
high = max(float(np.max(r.smoothed_losses[:int(np.argmin(r.smoothed_losses)) + 1])) for rs in setups.values() for r in rs)
ax0.set_ylim(low - 0.1, high + 0.4 * (high - low) + 0.1)
ax0.grid(alpha=0.3)
ax0.legend(fontsize="small")
for k, (name, summary) in enumerate((("cnn1d", plain), ("cnn1d + batch norm", bn))):
    ax1.plot(summary.index, summary["val acc mean"], "o-", color=f"C{k}", label=name)
    ax1.fill_between(summary.index, summary["val acc mean"] - summary["val acc std"].fillna(0),
                     summary["val acc mean"] + summary["val acc std"].fillna(0), color=f"C{k}", alpha=0.18, lw=0)
ax1.set(xscale="log", xlabel="learning rate η (log scale)", ylabel=f"validation accuracy after {epochs} epochs",
        title=f"MNIST-1D sweeps (mean ± std; n = {sweep.seed.nunique()} seeds, batch norm {sweep_bn.seed.nunique()})")
ax1.grid(alpha=0.3)
ax1.legend(fontsize="small")
fig.tight_layout()

compare_setups = pd.DataFrame({
    name: {"edge η (geo. mean)": geomean([r.suggestion("minimum") * 10 for r in rs]),
           **{f"{rule} η": geomean([suggestions(r)[rule] for r in rs]) for rule in lr_finder.SUGGESTION_METHODS},
           "stopped early (seeds)": sum(r.stopped_early for r in rs)}
    for name, rs in setups.items()}).T
compare_setups["sweep's best η"] = [best_lr, best_bn, float("nan")]
compare_setups["largest trainable η"] = [largest_trainable(plain), largest_trainable(bn), float("nan")]
shown(compare_setups, {c: ".0f" if "seeds" in c else ".2g" for c in compare_setups.columns}).T
''')
code('''
edge_plain = compare_setups.loc["cnn1d", "edge η (geo. mean)"]
edge_bn = compare_setups.loc["cnn1d + batch norm", "edge η (geo. mean)"]
edge_digits = compare_setups.loc["digits, cnn2d", "edge η (geo. mean)"]
good = 0.9  # the "good range": learning rates whose mean validation accuracy is at least this times the best


def good_range(summary):
    ok = summary.index[summary["val acc mean"] >= good * summary["val acc mean"].max()]
    return float(ok.min()), float(ok.max())


def good_range_text(summary):
    lo, hi = good_range(summary)
    return f"only at η = {lo:.3g}" if lo == hi else f"from η = {lo:.3g} to {hi:.3g} ({math.log10(hi / lo):.1f} decades)"


checks = {"the largest learning rate at which every seed trains": largest_trainable(bn) / largest_trainable(plain),
          "the upper end of the good range": good_range(bn)[1] / good_range(plain)[1],
          "the range test's edge": edge_bn / edge_plain,
          "the best constant learning rate": best_bn / best_lr}
larger = [k for k, v in checks.items() if v > 1.2]
smaller = [k for k, v in checks.items() if v < 1 / 1.2]
and_list = lambda items: items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
if len(larger) == len(checks):
    verdict = "Batch norm does tolerate larger learning rates here, on every count"
elif larger and not smaller:
    verdict = f"Batch norm tolerates larger learning rates here on {len(larger)} of {len(checks)} counts"
elif not larger:
    verdict = ("Batch norm does not tolerate larger learning rates here: on no count is it more than 1.2 times "
               "the plain CNN's")
else:
    verdict = (f"Batch norm does tolerate larger learning rates here ({and_list(larger)} "
               f"{'is' if len(larger) == 1 else 'are'} larger), yet {and_list(smaller)} "
               f"{'is' if len(smaller) == 1 else 'are'} smaller")
glue("good_pct", 100 * good)
glue("bn_sweep_n", int(sweep_bn.seed.nunique()))
glue("bn_good_text", good_range_text(bn))
glue("plain_good_text", good_range_text(plain))
n_good_bn = int((bn["val acc mean"] >= good * bn["val acc mean"].max()).sum())
glue("bn_flat_note", f", a weak signal when {n_good_bn} learning rates of the grid are within {100 * good:.0f}% of it"
     if n_good_bn >= 3 else "")
glue("bn_verdict", verdict)
glue("bn_best", best_bn)
glue("bn_best_acc", f"{bn.loc[best_bn, 'val acc mean']:.3f} ± {bn.loc[best_bn, 'val acc std']:.3f}")
glue("bn_trainable", largest_trainable(bn))
glue("bn_edge", edge_bn)
glue("plain_edge", edge_plain)
glue("bn_best_ratio", checks["the best constant learning rate"])
glue("bn_trainable_ratio", checks["the largest learning rate at which every seed trains"])
glue("bn_edge_ratio", checks["the range test's edge"])
bn_typical = rules_bn.loc[RULES, "typically off by ×"]
glue("bn_best_rule", bn_typical.idxmin())
glue("bn_best_rule_off", bn_typical.min())
glue("bn_best_rule_same", "the same rule that wins on the plain CNN" if bn_typical.idxmin() == best_rule
     else f"not {best_rule}, the rule that wins on the plain CNN, which is typically off by "
          f"{bn_typical[best_rule]:.2g}× here")
glue("bn_plain_rule_off", bn_typical[best_rule])
glue("digits_edge", edge_digits)
glue("digits_edge_ratio", edge_digits / edge_plain)
glue("digits_epochs", finder_steps / math.ceil(len(digits.y_train) / batch_size))
glue("digits_n", len(digits.y_train))
glue("digits_valley", compare_setups.loc["digits, cnn2d", "valley η"])
glue("digits_minimum", compare_setups.loc["digits, cnn2d", "minimum η"])
''', ["remove-cell"])
md(r"""
{glue:text}`bn_verdict`. Against the plain CNN: the largest learning rate at which every seed still
trains is {glue:text}`bn_trainable_ratio:.2g` times as large ({glue:text}`bn_trainable:.3g`); the
validation accuracy stays within {glue:text}`good_pct:.0f`% of its best {glue:text}`bn_good_text`
(plain CNN: {glue:text}`plain_good_text`); the range test's edge is {glue:text}`bn_edge_ratio:.2g` times as large
({glue:text}`bn_edge:.2g` against {glue:text}`plain_edge:.2g`); and the single best constant
learning rate is {glue:text}`bn_best_ratio:.2g` times the plain CNN's ($\eta =$ {glue:text}`bn_best:.3g`,
validation accuracy {glue:text}`bn_best_acc`){glue:text}`bn_flat_note`.
Against the batch-norm sweep, the rule that works best is {glue:text}`bn_best_rule` (typically off by
{glue:text}`bn_best_rule_off:.2g`×), {glue:text}`bn_best_rule_same`.

On digits the training set has only {glue:text}`digits_n` images, so the
{glue:text}`walk_planned`-step test passes over it {glue:text}`digits_epochs:.1f` times; its edge is at
{glue:text}`digits_edge:.2g`, {glue:text}`digits_edge_ratio:.2g` times the MNIST-1D CNN's, and `valley`
and `minimum` suggest {glue:text}`digits_valley:.2g` and {glue:text}`digits_minimum:.2g`. The suggestions
move with the model and the data, which is the point of running the test on *your* model rather
than borrowing someone else's learning rate.
""")

# ----------------------------------------------------------------------------- summary
code('''
from lrbook.notebook import glue_headlines, headline

setting = f"{dataset}, cnn1d, SGD momentum {momentum:g}, batch {batch_size}, {finder_steps}-step range test"
headline("Best LR-finder rule vs a brute-force sweep (suggested η ÷ sweep's best η)",
         f"{best_rule}: × {rules_plain.loc[best_rule, '÷ sweep best']:.2g} "
         f"(typically off by × {rules_plain.loc[best_rule, 'typically off by ×']:.2g}); "
         f"Lightning gradient: × {rules_plain.loc['gradient', '÷ sweep best']:.1e}",
         n=seeds, note=f"{setting}; sweep of {len(grid)} constant η, {epochs} epochs, best η = {best_lr:.3g}")
headline("Cost of one range test",
         f"{finder_mean_s / epoch_s:.2g} epochs of training; the sweep costs {sweep_s / finder_mean_s:.0f} range tests",
         n=seeds, note=f"{setting}; {info['device']}")
headline("Schedule set from the range test vs the sweep's best constant η (test accuracy)",
         f"{top}: {fmt(top)} vs {fmt(constant_name)}", n=seeds,
         note=f"{setting}; {epochs} epochs; edge = η at the lowest smoothed loss")
glue_headlines()
glue("runtime_s", time.perf_counter() - T_START)
glue("runtime_profile", profile)
glue("runtime_device", info["device"])
''', ["remove-cell"])
md(r"""
## Summary

- The range test trains for up to {glue:text}`walk_planned` batches while the learning rate grows
  exponentially, records each batch's own loss, smooths it with a bias-corrected average, stops
  when it blows up, and (in `lrbook`) puts the model back bit for bit. It costs about
  {glue:text}`finder_over_epoch:.2g` epochs of training; a sweep costs
  {glue:text}`sweep_over_finder:.0f` times more.
- Against a {glue:text}`sw_runs`-run sweep, {glue:text}`best_rule` was the best rule here, typically
  within a factor of {glue:text}`best_rule_off:.2g` of the sweep's best learning rate; Lightning's
  `gradient` rule, on an exponential sweep, was off by a factor of {glue:text}`off_gradient:.2g`.
  Run the test on several seeds: a single curve is noisy.
- In Keras, never build a finder on `logs["loss"]`: it is the running mean of the epoch, and it
  moved {glue:text}`trap_n_moved` of the {glue:text}`trap_n_rules` rules by more than 2×.
- The edge the test reports (the lowest smoothed loss) was {glue:text}`edge_over_trainable:.2g` times
  the largest constant learning rate that trains; schedules set from it ({glue:text}`use_top`) reached {glue:text}`use_top_acc` test accuracy
  against {glue:text}`use_const` for the sweep's best constant learning rate.
- The curve moves with the model and the data: with batch norm the edge moved by a factor of
  {glue:text}`bn_edge_ratio:.2g`, on digits by {glue:text}`digits_edge_ratio:.2g`.

*This page was computed with the {glue:text}`runtime_profile` profile on {glue:text}`runtime_device`
in {glue:text}`runtime_s:.0f` s.*

## References

```{footbibliography}
```
""")
write(cells, NAME)
