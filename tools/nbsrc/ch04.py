import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SETUP, badge, derived  # noqa: E402
from nbgen import recorder, write  # noqa: E402

NAME = "04_superconvergence"
cells, md, code = recorder()

md("# Super-convergence: one-cycle against tuned baselines")
md(badge(NAME))
md(r"""
## Overview

"Train with one cycle of a large learning rate and the network converges in a fraction of the
epochs": that is **super-convergence**, reported by Smith and Topin for ResNets on CIFAR-10
{footcite:p}`smith2017superconvergence` and repeated by the article this book grew from, where a
classifier with a ramp-up/decay schedule "converges in only 5 epochs" while the others take
longer. This chapter tests the claim the way a sceptical reader would want it tested: against
baselines tuned as carefully as the method, from the same initial weights, over several seeds,
with a target accuracy fixed *before* the runs, at equal epoch budgets, and with the p-values.
Then it looks for the conditions under which the effect appears and those under which it
vanishes.

**You will learn** how to set up a fair schedule comparison (budget-dependent schedules get one
run per budget), how to measure "epochs to target" without fooling yourself, what one-cycle's
learning rate *and* momentum do during training, and which ingredients (peak learning rate,
warm-up fraction, batch size, weight decay, batch norm) the effect depends on here.

**Prerequisites:** the schedules chapter (one-cycle, cyclical momentum) and the LR-finder
chapter (the range test and its `minimum` rule).

**Run time:** the `quick` profile (what CI runs) takes one to two minutes on 2 CPU cores; the
`full` profile (what this page shows) about 10 minutes on 2 CPU cores of its own (19 minutes were
measured on 2 cores shared with other jobs) and a few minutes on a GPU. The exact time of this
build is at the end of the page.
""")
code('''
# Parameters (papermill overrides these; see "How to use this book").
profile = None              # "quick" (CI) or "full" (the book); None reads $LRBOOK_PROFILE, default "full"
dataset = "mnist1d"         # "mnist1d" (offline) or "cifar10" (online; ResNet-20, the Smith & Topin setting: use a GPU)
n_train = 4000              # training samples before the validation split (cifar10: a subset, None for all)
batch_size = 64
momentum = 0.9              # SGD momentum of the constant and step-decay baselines
bn_momentum = 0.9           # batch norm's moving-average momentum (Keras's default is 0.99; see the text)
seeds = 5                   # seeds of the main comparison
budgets = [2, 5, 10]        # epoch budgets; one-cycle and step decay are trained once per budget
target_fraction = 0.98      # the target: this fraction of the mean final test accuracy of the tuned constant LR
constant_lrs = [0.01, 0.03, 0.1, 0.3]  # sweep of the constant-LR baseline (validation accuracy, longest budget)
step_lrs = [0.03, 0.1, 0.3]            # sweep of the step-decay baseline's initial LR
sweep_seeds = 1             # seeds per sweep point
max_lr_rule = "minimum"     # one-cycle's peak: this range-test rule ...
max_lr_factor = 1.0         # ... times this factor
finder_seeds = 2            # range tests (one per seed) behind the peak
pct_start = 0.3             # one-cycle: fraction of the updates spent warming up
regime_epochs = 4           # the regime search: a short budget ...
regime_seeds = 2            # ... over this many seeds, one factor changed at a time:
regime_max_lr_factors = [0.3, 3.0]   # peak learning rate (times the range test's)
regime_pct_starts = [0.1, 0.6]       # warm-up fraction
regime_batch_sizes = [256]           # batch size
regime_weight_decays = [1e-3]        # weight decay (Keras's optimizer weight_decay)
''', ["parameters"])
code(derived('''    n_train, seeds, budgets, constant_lrs, step_lrs, finder_seeds = 2000, 2, [2], [0.03, 0.1], [0.1], 1
    regime_epochs, regime_seeds, regime_pct_starts, regime_batch_sizes, regime_weight_decays = 2, 1, [], [], []
    regime_max_lr_factors = []'''))
code(SETUP + '''

import math

from lrbook import callbacks
from lrbook import superconvergence as sc''', ["hide-output"])

# ----------------------------------------------------------------------------- 1. claim and setup
md(r"""
## The claim, and what stands for what

Smith and Topin trained a ResNet-56 on CIFAR-10 with one cycle of the learning rate (up to a
large peak, then down) and cyclical momentum: 92.4% test accuracy after 10,000 iterations, where
the piecewise-constant schedule reached 90.3% after 80,000, eight times fewer iterations
{footcite:p}`smith2017superconvergence`. Smith's later report names the ingredients: a large peak
learning rate (set with the range test), less of the other regularization (the large rate
regularizes; weight decay around $10^{-4}$ or less), and batch normalization
{footcite:p}`smith2018disciplined`.

The article (`seeds/000`) compares three arms on rock-paper-scissors images at batch size 64 for
24 epochs: a simple CNN; an ImageNet-pretrained MobileNetV2 with a new head, trained with Adam at
its default rate; and the same MobileNetV2 with its `lr_function` (up from $10^{-3}$ to
$2 \times 10^{-3}$ over six epochs, then halfway back to $10^{-3}$ every epoch) set through
`keras.callbacks.LearningRateScheduler`. Here, on data every reader can run:

| the article / the paper | here |
|---|---|
| rock-paper-scissors images | MNIST-1D {footcite:p}`greydanus2020mnist1d`, generated offline |
| the "simple CNN" | `models.cnn1d()` without normalization, Adam at $10^{-3}$ |
| the pretrained MobileNetV2 | `models.cnn1d(norm="batch")`: the same CNN with batch norm {footcite:p}`ioffe2015batchnorm` |
| "MobileNetV2_lr" | that model with Adam and the article's exact `lr_function` (`RampUpExpDecay.article_defaults()`) |
| one-cycle (Smith & Topin) | that model, SGD with one-cycle learning rate *and* momentum, peak from the range test |
| piecewise-constant baseline | that model, SGD + momentum, constant or step decay (×0.1 at 50% and 75%), each tuned by a sweep |

The stand-in for MobileNetV2 is not pretrained: no pretrained weights can be downloaded here,
and a pretrained feature extractor would test transfer learning, not the schedule. What it
keeps is the ingredient Smith names, batch norm. Set `dataset = "cifar10"` to run the paper's
setting instead (a CIFAR ResNet-20 from `models.resnet`, on a GPU; it needs a network once to
download the data).

**The rules, fixed before any run.** Every arm of a seed starts from the same initial weights
and sees the same data order. A schedule that depends on the length of training (one-cycle, step
decay) is trained once per budget of {glue:text}`p_budgets` epochs; the others are trained once
for {glue:text}`p_max_budget` epochs and read at each budget's epoch, which gives the same
numbers a shorter run would. The **target** is {glue:text}`p_target_pct:.0f`% of the tuned constant
learning rate's mean final test accuracy: "how soon does each arm get close to where a careful
practitioner's run ends?". A seed's **epochs to target** is the first epoch at which test
accuracy reaches the target, the fewest over that arm's runs (one per budget); a one-cycle run
that gets there only at its last epoch counts its whole budget, since its schedule needs all of it. Medians over seeds (a seed that never gets
there counts as infinitely many), and the ratio of medians. The comparison runs over
{glue:text}`p_seeds` seeds.
""")
code('''
if dataset == "mnist1d":
    ds = data.load("mnist1d", n_train=n_train, validation_split=0.2, seed=None)
    build_simple = lambda: models.cnn1d(ds.input_shape)
    build_strong = lambda: sc.set_batch_norm_momentum(models.cnn1d(ds.input_shape, norm="batch"), bn_momentum)
elif dataset == "cifar10":  # online; fails fast with DatasetUnavailableError when offline
    ds = data.load("cifar10", n_train=n_train, validation_split=0.2, seed=0)
    build_simple = lambda: models.cnn2d(ds.input_shape)
    build_strong = lambda: sc.set_batch_norm_momentum(models.resnet(ds.input_shape, depth=20), bn_momentum)
else:
    raise ValueError(f"Argument `dataset` must be 'mnist1d' or 'cifar10'. Received: dataset={dataset!r}")
budgets = sorted(budgets)
steps = sc.steps_per_epoch(len(ds.y_train), batch_size)
seed_list = list(range(seeds))
print(ds, f"| {steps} steps per epoch at batch size {batch_size}")
print(f"simple model: {build_simple().count_params():,} parameters; "
      f"strong model: {build_strong().count_params():,} parameters")
''')
code('''
glue("p_budgets", ", ".join(map(str, budgets)))
glue("p_max_budget", budgets[-1])
glue("p_target_pct", 100 * target_fraction)
glue("p_seeds", seeds)
glue("p_batch", batch_size)
glue("p_steps", steps)
''', ["remove-cell"])

# ----------------------------------------------------------------------------- 1b. BN momentum
md(r"""
### A trap first: batch norm's statistics in short runs

At test time a batch-norm layer normalizes with moving averages of the batch statistics, updated
after every training step as $m \leftarrow \mu\, m + (1-\mu)\, \bar x_{\text{batch}}$. Keras's
default is $\mu = 0.99$: an average over roughly the last 100 updates. Here an epoch is
{glue:text}`p_steps` updates, and in the first epochs the weights move fast, so the averages lag
behind the weights and the test accuracy reads far below what the weights can do. That bias
would hit exactly the comparison of this chapter (accuracy after few epochs). The cell below
trains the article's Adam arm on the strong model for {glue:text}`bn_check_epochs` epochs with
both settings, same initial weights:
""")
code('''
bn_check = {}
for mu in (0.99, bn_momentum):
    build_mu = lambda mu=mu: sc.set_batch_norm_momentum(build_strong(), mu)
    runs = training.run_experiment(build_mu, {f"batch-norm momentum {mu:g}": sc.adam_arm()}, ds,
                                   seeds=seed_list[:1 if QUICK else 2], epochs=budgets[0], batch_size=batch_size,
                                   progress=False)
    bn_check[mu] = stats.summarize(runs[runs.epoch == budgets[0]].test_accuracy)
    print(f"momentum {mu:g}: test accuracy after {budgets[0]} epochs {bn_check[mu]}")
''')
code('''
glue("bn_check_epochs", budgets[0])
glue("bn_check_default", str(bn_check[0.99]))
glue("bn_check_ours", str(bn_check[bn_momentum]))
glue("bn_momentum", bn_momentum)
''', ["remove-cell"])
md(r"""
With Keras's 0.99: {glue:text}`bn_check_default`; with {glue:text}`bn_momentum:g`:
{glue:text}`bn_check_ours`. Same weights, same updates, only the test-time statistics differ.
Every batch-norm model in this chapter uses $\mu =$ {glue:text}`bn_momentum:g` (PyTorch's default,
its `momentum=0.1`), set by `superconvergence.set_batch_norm_momentum`. If you compare schedules
after a few epochs in Keras, check this first.
""")

# ----------------------------------------------------------------------------- 2. tuning
md(r"""
## Tuning the baselines, and setting the peak

A method compared with a badly tuned baseline always wins. The constant learning rate of SGD
(momentum {glue:text}`p_momentum:g`) and the initial rate of step decay are picked by a sweep of
{glue:text}`p_n_const` and {glue:text}`p_n_step` rates at the longest budget, scored on the
**validation** split ({glue:text}`p_sweep_seeds` seed per point{glue:text}`p_sweep_note`), so the
test set is only read by the comparison. One-cycle's peak comes from the LR range test
(chapter 3) on the strong model's initial weights, with the `minimum` rule (the lowest smoothed
loss divided by 10), the rule whose suggestion chapter 3 found closest to a sweep's best constant
rate; times a factor of {glue:text}`p_max_lr_factor:g`. Smith would push the peak higher; the regime
search below tries three times higher and lower, so the choice is tested rather than assumed.
""")
code('''
t0 = time.perf_counter()
sweep_seed_list = list(range(sweep_seeds))
best_constant, sweep_constant = sc.tune_lr(build_strong, lambda lr: sc.constant_arm(lr, momentum=momentum),
                                           constant_lrs, ds, seeds=sweep_seed_list, epochs=budgets[-1],
                                           batch_size=batch_size)
best_step, sweep_step = sc.tune_lr(build_strong, lambda lr: sc.step_decay_arm(lr, budgets[-1], momentum=momentum),
                                   step_lrs, ds, seeds=sweep_seed_list, epochs=budgets[-1], batch_size=batch_size)
max_lr, finder_results = sc.range_test_max_lr(build_strong, ds, seeds=seed_list[:finder_seeds], rule=max_lr_rule,
                                              factor=max_lr_factor, batch_size=batch_size)
tuning_s = time.perf_counter() - t0
sweeps = pd.concat({"constant LR": sweep_constant["mean"], "step decay (initial LR)": sweep_step["mean"]},
                   axis=1).rename_axis("learning rate")
print(f"best constant LR {best_constant:g}, best step-decay LR {best_step:g}, "
      f"one-cycle max_lr {max_lr:.3g} ({max_lr_factor:g} x range test '{max_lr_rule}', "
      f"suggestions {[round(r.suggestion(max_lr_rule), 4) for r in finder_results]}); {tuning_s:.0f} s")
sweeps.style.format("{:.3f}", na_rep="–").set_caption(
    f"validation accuracy after {budgets[-1]} epochs (mean over {sweep_seeds} seed(s))")
''')
code('''
glue("p_momentum", momentum)
glue("p_n_const", len(constant_lrs))
glue("p_n_step", len(step_lrs))
glue("p_sweep_seeds", sweep_seeds)
glue("p_sweep_note", ": one seed is little, and the table shows how flat the top of each sweep is"
     if sweep_seeds == 1 else "")
glue("p_max_lr_factor", max_lr_factor)
glue("best_constant", best_constant)
glue("best_step", best_step)
glue("max_lr", max_lr)
glue("max_lr_over_constant", max_lr / best_constant)
edge_note = ("the best rate is at an end of the grid, so a wider sweep might find a better one"
             if best_constant in (min(constant_lrs), max(constant_lrs)) else "inside the grid")
glue("constant_edge_note", edge_note)
''', ["remove-cell"])
md(r"""
The best constant rate is $\eta =$ {glue:text}`best_constant:g` ({glue:text}`constant_edge_note`), the
best initial rate of step decay {glue:text}`best_step:g`, and one-cycle's peak is
{glue:text}`max_lr:.3g`, {glue:text}`max_lr_over_constant:.2g` times the best constant rate.
""")

# ----------------------------------------------------------------------------- 3. comparison
md(r"""
## The comparison

Six arms, {glue:text}`p_seeds` seeds each. The simple CNN has its own initial weights (another
architecture); the five arms on the strong model share theirs.
""")
code('''
recorder = callbacks.ScheduleRecorder()
SIMPLE, ADAM, ARTICLE = "simple CNN, Adam", "batch norm, Adam", "batch norm, article schedule"
ONE_CYCLE, CONSTANT, STEP = "one-cycle", "tuned constant LR", "tuned step decay"
families = {
    ONE_CYCLE: sc.Family(lambda e: sc.one_cycle_arm(max_lr, e, steps, pct_start=pct_start,
                                                    recorder=recorder if e == budgets[-1] else None),
                         per_budget=True, model="strong"),
    CONSTANT: sc.Family(lambda e: sc.constant_arm(best_constant, momentum=momentum), model="strong"),
    STEP: sc.Family(lambda e: sc.step_decay_arm(best_step, e, momentum=momentum), per_budget=True, model="strong"),
    ADAM: sc.Family(lambda e: sc.adam_arm(), model="strong"),
    ARTICLE: sc.Family(lambda e: sc.article_arm(), model="strong"),
    SIMPLE: sc.Family(lambda e: sc.adam_arm(), model="simple"),
}
t0 = time.perf_counter()
df = sc.run_comparison({"strong": build_strong, "simple": build_simple}, families, ds, budgets=budgets,
                       seeds=seed_list, batch_size=batch_size, progress=True)
compare_s = time.perf_counter() - t0
final_constant = df[(df.family == CONSTANT) & (df.epoch == budgets[-1])].test_accuracy
target = sc.target_accuracy(final_constant, target_fraction)
summary = sc.summarize_comparison(df, target=target, method=ONE_CYCLE)
print(f"{len(df.groupby(['arm', 'seed']))} runs in {compare_s:.0f} s; target = {target_fraction:g} x "
      f"{final_constant.mean():.4f} = {target:.4f}")
''')
md(r"""
The figure shows test accuracy after every epoch of the longest runs (mean ± one standard
deviation over seeds); the dots are the shorter one-cycle and step-decay runs, each at the end of
its own budget, and the dashed line is the target.
""")
code('''
longest = df[df.budget == budgets[-1]]
colors = {name: f"C{i}" for i, name in enumerate(families)}
fig, ax = plt.subplots(figsize=(9, 5.2))
for name in families:
    g = longest[longest.family == name].groupby("epoch").test_accuracy
    mean, std = g.mean(), g.std().fillna(0.0)
    ax.plot(mean.index, mean, color=colors[name], lw=1.8, label=name)
    ax.fill_between(mean.index, mean - std, mean + std, color=colors[name], alpha=0.15, lw=0)
    for b in budgets[:-1]:
        if families[name].per_budget:
            row = summary.at_budget.loc[(name, b)]
            ax.errorbar([b], [row["mean"]], yerr=[0 if np.isnan(row["std"]) else row["std"]], fmt="o",
                        color=colors[name], ms=6, capsize=3, mec="white")
ax.axhline(target, color="0.3", ls="--", lw=1, label=f"target ({target:.3f})")
short_text = f"; dots: {', '.join(map(str, budgets[:-1]))}-epoch runs" if len(budgets) > 1 else ""
ax.set(xlabel="epoch", ylabel="test accuracy", ylim=(max(0.0, longest.test_accuracy.min() - 0.02), 1.0),
       title=f"{ds.name}: test accuracy per epoch (mean ± std, n = {seeds} seeds{short_text})")
ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
ax.grid(alpha=0.3)
ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
fig.tight_layout()
''')
code('''
def fmt(family, budget=None):
    row = summary.at_budget.loc[(family, budgets[-1] if budget is None else budget)]
    return stats.format_mean_std(row["mean"], row["std"], int(row["n"]))


hits = summary.hits
table = pd.DataFrame({
    **{f"accuracy @ {b} epochs": [fmt(f, b) for f in families] for b in budgets},
    f"p vs one-cycle @ {budgets[-1]}": [summary.p_value(f) if f != ONE_CYCLE else float("nan") for f in families],
    "epochs to target (median)": [sc.median_epochs(hits[hits.family == f].epochs) for f in families],
    "seeds at target": [f"{int(hits[hits.family == f].epochs.notna().sum())}/{seeds}" for f in families],
    "seconds to target (median)": [float(hits[hits.family == f].seconds.median()) for f in families],
}, index=list(families))
table.style.format({f"p vs one-cycle @ {budgets[-1]}": "{:.2g}", "epochs to target (median)": "{:g}",
                    "seconds to target (median)": "{:.1f}"}, na_rep="–")
''')
md(r"""
Epochs to target per seed (bars: medians; dots: seeds; a seed that never got there is drawn at
the top, beyond the longest budget), and what one-cycle actually ran in its longest run: the
learning rate and the momentum of every update, read back by `callbacks.ScheduleRecorder`.
""")
code('''
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [1.25, 1]})
miss_y = budgets[-1] + 1
for i, name in enumerate(families):
    e = hits[hits.family == name].epochs.to_numpy()
    med = sc.median_epochs(e)
    ax0.bar(i, med if np.isfinite(med) else miss_y, color=colors[name], alpha=0.35 if np.isfinite(med) else 0.12)
    jitter = np.linspace(-0.15, 0.15, len(e))
    ax0.plot(i + jitter, np.where(np.isnan(e), miss_y, e), "o", color=colors[name], ms=4)
ax0.axhline(miss_y, color="0.5", ls=":", lw=1)
ax0.text(-0.45, miss_y + 0.15, "never reached (drawn here)", ha="left", va="bottom", fontsize="small", color="0.4")
ax0.set_xticks(range(len(families)), list(families), rotation=30, ha="right")
ax0.set(ylabel="epochs to target", ylim=(0, miss_y + 1), title=f"epochs to {target:.3f} test accuracy")
ax0.grid(alpha=0.3, axis="y")
trace = recorder.trace
ax1.plot(trace.steps / steps, trace.lr, color="C0", lw=1.8)
ax1.set(xlabel="epoch", ylabel="learning rate", title=f"one-cycle, {budgets[-1]} epochs: learning rate and momentum")
ax1.tick_params(axis="y", colors="C0")
ax1.yaxis.label.set_color("C0")
ax2 = ax1.twinx()
ax2.plot(trace.steps / steps, trace.momentum, color="C3", lw=1.4, ls="--")
ax2.set_ylabel("momentum", color="C3")
ax2.tick_params(axis="y", colors="C3")
ax2.spines["right"].set_visible(True)
ax1.grid(alpha=0.3)
fig.tight_layout()
assert len(trace) == budgets[-1] * steps and abs(trace.lr.max() - max_lr) / max_lr < 1e-3
assert abs(trace.momentum.min() - 0.85) < 1e-3 and abs(trace.momentum[0] - 0.95) < 1e-6
''')
code('''
largest = budgets[-1]
oc_final = summary.at_budget.loc[(ONE_CYCLE, largest)]
glue("target", target)
glue("target_ref", float(final_constant.mean()))
glue("oc_final", fmt(ONE_CYCLE))
glue("const_final", fmt(CONSTANT))
glue("step_final", fmt(STEP))
glue("adam_final", fmt(ADAM))
glue("article_final", fmt(ARTICLE))
glue("simple_final", fmt(SIMPLE))
glue("largest", largest)
glue("smallest", budgets[0])
med = {f: sc.median_epochs(hits[hits.family == f].epochs) for f in families}
glue("oc_med", med[ONE_CYCLE])
glue("const_med", med[CONSTANT])


def ratio_text(baseline):
    r = summary.ratios[baseline]
    if np.isnan(r):
        return "neither reached the target in most seeds"
    if np.isinf(r):
        return "only one-cycle reached the target (median)"
    if r == 0:
        return f"only {baseline} reached the target (median)"
    return f"{r:.2g}×"


for key, fam in (("const", CONSTANT), ("step", STEP), ("adam", ADAM), ("article", ARTICLE), ("simple", SIMPLE)):
    glue(f"ratio_{key}", ratio_text(fam))
    glue(f"p_{key}", summary.p_value(fam))
    glue(f"diff_{key}", float(oc_final["mean"] - summary.at_budget.loc[(fam, largest), "mean"]))
r_const = summary.ratios[CONSTANT]
if np.isnan(r_const):
    verdict = "cannot be judged here: neither one-cycle nor the tuned constant rate reached the target in most seeds"
elif np.isinf(r_const) or r_const >= 3:
    verdict = "does reproduce here: one-cycle needs at most a third of the epochs the tuned constant rate needs"
elif r_const > 1:
    verdict = (f"reproduces only weakly here: one-cycle gets there {r_const:.2g} times sooner than the tuned "
               "constant rate (median), far from the factor of 8 of the paper")
elif r_const == 1:
    verdict = "does not reproduce here: one-cycle and the tuned constant rate need the same number of epochs (median)"
else:
    verdict = "does not reproduce here: one-cycle needs more epochs than the tuned constant rate (median)"
glue("verdict", verdict)
p_c = summary.p_value(CONSTANT)
d_c = float(oc_final["mean"] - summary.at_budget.loc[(CONSTANT, largest), "mean"])
glue("final_sentence",
     f"one-cycle ends {'ahead of' if d_c > 0 else 'behind'} the tuned constant rate by {abs(d_c):.3f} "
     f"({'a difference Welch’s test finds significant' if p_c < 0.05 else 'not a significant difference'}, "
     f"p = {p_c:.2g})")
# the short budget: where super-convergence should show most
short = budgets[0]
d_short = {f: float(summary.at_budget.loc[(ONE_CYCLE, short), "mean"] - summary.at_budget.loc[(f, short), "mean"])
           for f in (CONSTANT, STEP)}
glue("short_sentence",
     f"At the shortest budget, {short} epochs, one-cycle reaches {fmt(ONE_CYCLE, short)} against "
     f"{fmt(CONSTANT, short)} for the constant rate (difference {d_short[CONSTANT]:+.3f}, p = "
     f"{summary.p_value(CONSTANT, short):.2g}) and {fmt(STEP, short)} for step decay trained for {short} epochs "
     f"(difference {d_short[STEP]:+.3f}, p = {summary.p_value(STEP, short):.2g}).")
glue("by_budget_sentence", "; ".join(
    f"{b} epochs {summary.at_budget.loc[(ONE_CYCLE, b), 'mean'] - summary.at_budget.loc[(CONSTANT, b), 'mean']:+.3f} "
    f"(p = {summary.p_value(CONSTANT, b):.2g})" for b in budgets))
d_first = summary.at_budget.loc[(ONE_CYCLE, budgets[0]), "mean"] - summary.at_budget.loc[(CONSTANT, budgets[0]), "mean"]
d_last = summary.at_budget.loc[(ONE_CYCLE, largest), "mean"] - summary.at_budget.loc[(CONSTANT, largest), "mean"]
closest = min((f for f in families if f != ONE_CYCLE),
              key=lambda f: abs(summary.at_budget.loc[(f, largest), "mean"] - summary.at_budget.loc[(ONE_CYCLE, largest), "mean"]))
if len(budgets) > 1 and d_first < 0 < d_last:
    p_first = summary.p_value(CONSTANT, budgets[0])
    pattern = ("So one-cycle's advantage is no head start: in the shortest budget most of its updates go to the "
               f"warm-up and it trails the constant rate (p = {p_first:.2g}"
               f"{', not significant with these seeds' if p_first >= 0.05 else ''}); it pays off in the annealing "
               "phase, which a constant rate never has")
elif d_last > 0:
    pattern = "One-cycle is ahead of the constant rate at the longest budget"
else:
    pattern = "One-cycle is not ahead of the constant rate at the longest budget"
pattern += f". The baseline closest to one-cycle after {largest} epochs is {closest}."
glue("pattern_sentence", pattern)
glue("article_vs_adam", float(summary.at_budget.loc[(ARTICLE, largest), "mean"]
                              - summary.at_budget.loc[(ADAM, largest), "mean"]))
glue("article_ratio_adam", ratio_text(ADAM))
article_med, adam_med = med[ARTICLE], med[ADAM]
if not np.isfinite(article_med) and not np.isfinite(adam_med):
    article_sentence = "neither the article's schedule nor plain Adam reaches the target in most seeds"
elif not np.isfinite(adam_med):
    article_sentence = (f"the article's schedule reaches the target (median {article_med:g} epochs) and plain Adam "
                        "does not in most seeds")
elif not np.isfinite(article_med):
    article_sentence = (f"plain Adam reaches the target (median {adam_med:g} epochs) and the article's schedule "
                        "does not in most seeds")
elif article_med == adam_med:
    article_sentence = "the article's schedule reaches the target in the same median number of epochs as plain Adam"
else:
    article_sentence = (f"the article's schedule reaches the target {'sooner' if article_med < adam_med else 'later'} "
                        f"than plain Adam (median {article_med:g} against {adam_med:g} epochs)")
glue("article_sentence", article_sentence)
glue("compare_s", compare_s)
''', ["remove-cell"])
md(r"""
**The headline claim {glue:text}`verdict`.** The target was {glue:text}`target:.3f`
({glue:text}`p_target_pct:.0f`% of {glue:text}`target_ref:.3f`). Ratios of median epochs to target,
baseline ÷ one-cycle: tuned constant rate {glue:text}`ratio_const`, tuned step decay
{glue:text}`ratio_step`, Adam {glue:text}`ratio_adam`, the article's schedule
{glue:text}`ratio_article`, the simple CNN {glue:text}`ratio_simple`.

After {glue:text}`largest` epochs, {glue:text}`final_sentence`: one-cycle {glue:text}`oc_final`,
constant {glue:text}`const_final`, step decay {glue:text}`step_final` (p =
{glue:text}`p_step:.2g`), Adam {glue:text}`adam_final` (p = {glue:text}`p_adam:.2g`), the article's
schedule {glue:text}`article_final`, the simple CNN {glue:text}`simple_final`.
{glue:text}`short_sentence` One-cycle minus the constant rate, budget by budget:
{glue:text}`by_budget_sentence`. {glue:text}`pattern_sentence`

About the article's own comparison: {glue:text}`article_sentence`, and after
{glue:text}`largest` epochs the two differ by {glue:text}`article_vs_adam:+.3f`. Its ramp spans
six epochs and moves the rate only between $10^{-3}$ and $2 \times 10^{-3}$: a gentle warm-up and
decay of Adam, not a one-cycle policy with a large peak, so one should not expect
super-convergence from it. The fast convergence the article shows comes, most likely, from its
pretrained feature extractor, which our stand-in does not have.
""")

# ----------------------------------------------------------------------------- 4. regime search
md(r"""
## Where the effect shows, and where it vanishes

Smith's conditions for super-convergence can be checked one at a time. Starting from the
setting above (batch norm, batch size {glue:text}`p_batch`, no weight decay, warm-up
{glue:text}`p_pct_start:g`, the range test's peak), each variant changes one thing, and
one-cycle and the constant rate are trained with that change for a short budget of
{glue:text}`p_regime_epochs` epochs over {glue:text}`p_regime_seeds` seeds. The constant rate is
the one tuned above, not retuned per variant (and neither is one-cycle's peak, except where the
peak is the variant). The quantity plotted is the difference in validation accuracy, one-cycle
minus constant, seed by seed (same initial weights, same data order), mean ± std over seeds.
""")
code('''
def regime_variants():
    """(label, factor, model, one-cycle kwargs, shared kwargs): one change from the center at a time."""
    center = {"max_lr": max_lr, "pct_start": pct_start}
    out = [("center", "center", "strong", center, {})]
    out += [(f"peak × {f:g}", "peak LR", "strong", {**center, "max_lr": max_lr * f}, {}) for f in regime_max_lr_factors]
    out += [(f"warm-up {p:g}", "warm-up", "strong", {**center, "pct_start": p}, {}) for p in regime_pct_starts]
    out += [(f"batch {b}", "batch size", "strong", center, {"batch_size": b}) for b in regime_batch_sizes]
    out += [(f"weight decay {w:g}", "weight decay", "strong", center, {"weight_decay": w})
            for w in regime_weight_decays]
    out += [("no batch norm", "model", "simple", center, {})]
    return out


variants = regime_variants()


def constant_key(model, shared):
    """The constant-LR arm a variant is compared with: same model, batch size and weight decay."""
    return f"{model}: constant" + "".join(f", {k} {v}" for k, v in shared.items())


regime_arms = {"strong": {}, "simple": {}}
for label, factor, model, oc_kwargs, shared in variants:
    bs = shared.get("batch_size", batch_size)
    regime_arms[model][f"{label}: one-cycle"] = sc.one_cycle_arm(
        epochs=regime_epochs, steps=sc.steps_per_epoch(len(ds.y_train), bs), batch_size=bs,
        weight_decay=shared.get("weight_decay"), **oc_kwargs)
    regime_arms[model][constant_key(model, shared)] = sc.constant_arm(
        best_constant, momentum=momentum, batch_size=bs, weight_decay=shared.get("weight_decay"))
t0 = time.perf_counter()
regime = pd.concat([training.run_experiment(build_strong if m == "strong" else build_simple, arms, ds,
                                            seeds=list(range(regime_seeds)), epochs=regime_epochs,
                                            batch_size=batch_size, evaluate_test=False, progress=True)
                    for m, arms in regime_arms.items()], ignore_index=True)
regime_s = time.perf_counter() - t0
last = regime[regime.epoch == regime_epochs].set_index(["arm", "seed"]).val_accuracy.sort_index()
rows = []
for label, factor, model, oc_kwargs, shared in variants:
    oc, const = last.xs(f"{label}: one-cycle"), last.xs(constant_key(model, shared))
    diff = (oc - const).to_numpy()  # paired by seed
    rows.append({"variant": label, "factor": factor, "one-cycle": oc.mean(), "constant": const.mean(),
                 "difference": diff.mean(), "std": diff.std(ddof=1) if len(diff) > 1 else float("nan")})
effects = pd.DataFrame(rows).set_index("variant")
print(f"{len(regime.groupby(['arm', 'seed']))} runs in {regime_s:.0f} s")
effects.style.format("{:.3f}", subset=["one-cycle", "constant", "difference", "std"], na_rep="–")
''')
code('''
fig, ax = plt.subplots(figsize=(8, 0.42 * len(effects) + 1.6))
ypos = np.arange(len(effects))[::-1]
factor_colors = {f: f"C{i}" for i, f in enumerate(dict.fromkeys(effects.factor))}
for y, (label, row) in zip(ypos, effects.iterrows()):
    ax.errorbar(row["difference"], y, xerr=0 if np.isnan(row["std"]) else row["std"], fmt="o",
                color=factor_colors[row["factor"]], capsize=3, ms=7)
ax.axvline(0, color="0.3", lw=1)
ax.set_yticks(ypos, list(effects.index))
ax.set(xlabel=f"validation accuracy, one-cycle − constant LR, after {regime_epochs} epochs",
       title=f"one change at a time from the center (mean ± std over {regime_seeds} seed(s))")
ax.grid(alpha=0.3, axis="x")
fig.tight_layout()
''')
code('''
glue("p_pct_start", pct_start)
glue("p_regime_epochs", regime_epochs)
glue("p_regime_seeds", regime_seeds)
best_variant = effects.difference.idxmax()
worst_variant = effects.difference.idxmin()
glue("regime_best", best_variant)
glue("regime_best_diff", float(effects.loc[best_variant, "difference"]))
glue("regime_worst", worst_variant)
glue("regime_worst_diff", float(effects.loc[worst_variant, "difference"]))
glue("regime_center_diff", float(effects.loc["center", "difference"]))
noise = effects["std"].fillna(0.0)
vanish = [v for v in effects.index if abs(effects.loc[v, "difference"]) <= max(noise[v], 0.01)]
behind = [v for v in effects.index if effects.loc[v, "difference"] < -max(noise[v], 0.01)]
ahead = [v for v in effects.index if effects.loc[v, "difference"] > max(noise[v], 0.01)]
join = lambda xs: ", ".join(xs) if xs else "none"
glue("regime_ahead", join(ahead))
glue("regime_behind", join(behind))
glue("regime_vanish", join(vanish))
glue("regime_s", regime_s)
bn_diff = float(effects.loc["no batch norm", "difference"])
center_diff = float(effects.loc["center", "difference"])
if center_diff - bn_diff > 0.01:
    bn_word = "batch norm helps one-cycle more than the constant rate, as Smith says"
elif bn_diff - center_diff > 0.01:
    bn_word = "here batch norm helps the constant rate more than one-cycle, the opposite of Smith's ingredient"
else:
    bn_word = "batch norm makes no clear difference to the effect here"
glue("regime_bn_sentence",
     f"Without batch norm the difference is {bn_diff:+.3f}, against {center_diff:+.3f} with it: {bn_word}.")
''', ["remove-cell"])
md(r"""
At the center the difference is {glue:text}`regime_center_diff:+.3f`. It is largest for
**{glue:text}`regime_best`** ({glue:text}`regime_best_diff:+.3f`) and smallest for
**{glue:text}`regime_worst`** ({glue:text}`regime_worst_diff:+.3f`). Counting a difference
as real only when it exceeds both its spread over seeds and 0.01: one-cycle is ahead for
{glue:text}`regime_ahead`; behind for {glue:text}`regime_behind`; and the effect vanishes for
{glue:text}`regime_vanish`. {glue:text}`regime_bn_sentence` With
{glue:text}`p_regime_seeds` seeds and one change at a time this is a map of where to look,
not a proof: the interactions (a larger peak *with* a larger batch, say) are not explored.
""")

# ----------------------------------------------------------------------------- summary
code('''
from lrbook.notebook import glue_headlines, headline

setting = (f"{ds.name}, cnn1d + batch norm, batch {batch_size}, budgets {budgets} epochs, "
           f"target {target_fraction:g} × tuned constant's final = {target:.3f}")
headline("Super-convergence: epochs to target, tuned constant LR ÷ one-cycle (medians)",
         f"{ratio_text(CONSTANT)} (one-cycle {med[ONE_CYCLE]:g}, constant {med[CONSTANT]:g} epochs)",
         n=seeds, note=setting)
headline(f"One-cycle vs tuned constant LR at {largest} epochs (test accuracy)",
         f"{fmt(ONE_CYCLE)} vs {fmt(CONSTANT)}, p = {summary.p_value(CONSTANT):.2g}", n=seeds, note=setting)
headline(f"Regime search: largest one-cycle advantage at {regime_epochs} epochs (validation accuracy)",
         f"{best_variant}: {effects.loc[best_variant, 'difference']:+.3f}; center "
         f"{effects.loc['center', 'difference']:+.3f}", n=regime_seeds, note="one change at a time from the center")
glue_headlines()
glue("runtime_s", time.perf_counter() - T_START)
glue("runtime_profile", profile)
glue("runtime_device", info["device"])
''', ["remove-cell"])
md(r"""
## Summary

- Measured honestly (baselines tuned by a sweep on the validation split, the same initial
  weights, {glue:text}`p_seeds` seeds, a target fixed by rule before the runs), the claim of
  super-convergence {glue:text}`verdict`. Median epochs to {glue:text}`target:.3f` test accuracy:
  one-cycle {glue:text}`oc_med:g`, the tuned constant rate {glue:text}`const_med:g`.
- After {glue:text}`largest` epochs, {glue:text}`final_sentence`.
- The article's schedule is a gentle warm-up and decay of Adam; against plain Adam it changes
  the final accuracy by {glue:text}`article_vs_adam:+.3f`.
- One change at a time, one-cycle's advantage over the constant rate is largest for
  {glue:text}`regime_best` and smallest for {glue:text}`regime_worst`.
- What to do in practice: tune the baseline before believing any schedule's speed-up; train a
  budget-dependent schedule once per budget; report epochs to a target fixed in advance, with
  seeds and p-values.

*This page was computed with the {glue:text}`runtime_profile` profile on {glue:text}`runtime_device`
in {glue:text}`runtime_s:.0f` s.*

## References

```{footbibliography}
```
""")
write(cells, NAME)
