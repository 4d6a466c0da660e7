import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SETUP, badge, derived  # noqa: E402
from nbgen import recorder, write  # noqa: E402

NAME = "06_hyperparameter_search"
cells, md, code = recorder()

md("# Hyperparameter search at equal compute: grid, random, Bayesian, Hyperband, or just the LR finder")
md(badge(NAME))
md(r"""
## Overview

A learning rate is one hyperparameter; a real training run has several more (batch size,
dropout, weight decay, the width of the network), and the usual advice is to *search* them. This
chapter runs the four searches every tutorial lists (grid search, random search, Bayesian
optimization and Hyperband, all from keras-tuner) over **one** search space, and compares them
the only fair way: at the same compute, counted in epochs trained, repeated over several search
seeds. It then retrains each method's winner from scratch and measures its test accuracy, and
puts next to them the cheap alternative from the LR-finder chapter: one range test and a few
one-cycle runs with peaks read off it, and no search.

**You will learn** how to define a search space once and hand it to any keras-tuner tuner; why
a grid wastes its trials as soon as there are more than two or three hyperparameters (Bergstra
and Bengio's argument, in numbers); what Hyperband's "budget" really is once its partial
trainings are counted; and how much a search buys over a range test on a small budget.

**Prerequisites:** chapter 1 (SGD with momentum, epochs, validation vs test accuracy) and the
LR-finder chapter (the range test, its edge and its `valley` suggestion). The one-cycle schedule is drawn in
the schedules chapter.

**Run time:** the `quick` profile (what CI runs) takes about a minute on 2 CPU cores; the `full`
profile (what this page shows) took 13 minutes on 2 CPU cores shared with other jobs (about 9
minutes of CPU time). The exact time of this build is at the end of the page.
""")
code('''
# Parameters (papermill overrides these; see "How to use this book").
profile = None         # "quick" (CI) or "full" (the book); None reads $LRBOOK_PROFILE, default "full"
n_train = 2400         # MNIST-1D training samples before the 20% validation split (test set: a quarter)
max_epochs = 6         # epochs of one full training: every trial of grid/random/Bayes, Hyperband's top rung
hyperband_factor = 3   # Hyperband keeps 1/factor of the configurations at each rung
hyperband_iterations = 1
search_seeds = 3       # repeats of every search (tuner seed, initial weights, data order)
bayes_initial_points = 2   # random trials before the Gaussian process takes over
momentum = 0.9         # SGD momentum of every searched configuration
finder_steps = 100     # steps of the range test of the no-search alternative
finder_peaks = ["edge/3", "edge/10", "valley"]  # one-cycle peaks read off the range test (edge: lowest loss)
state_dir = None       # folder for the tuners' state (trials, checkpoints); None: a temporary folder
keep_state = False     # keep that folder after the run (a temporary folder is otherwise deleted)
''', ["parameters"])
code(derived('''    n_train, max_epochs, hyperband_factor, search_seeds, finder_steps = 1200, 1, 3, 2, 30
    finder_peaks = ["edge/3", "valley"]'''))
code(SETUP + '''

import atexit
import math
import shutil
import warnings
import tempfile
from pathlib import Path

import keras_tuner

from lrbook import optimizers, schedules, search
from lrbook.lr_finder import lr_range_test
from lrbook.search import DEFAULT_SPACE as space''', ["hide-output"])

# ----------------------------------------------------------------------------- 1. the space
md(r"""
## One search space for every method

The space is data, defined once in `lrbook.search` and shared by every tuner below: the
book's 1-D CNN on MNIST-1D {footcite:p}`greydanus2020mnist1d`, trained with SGD and momentum, with
five hyperparameters. Learning rate and weight decay are searched on a log scale (a factor of
ten matters the same everywhere in the range), dropout on a linear one; the batch size and the
width multiplier of the convolutions are choices. Each has a default, the value used wherever a
method does not search it.
""")
code('''
ds = data.load("mnist1d", n_train=n_train, validation_split=0.2, seed=None)
print(ds)
pd.DataFrame([{"hyperparameter": p.name,
               "values": str(list(p.choices)) if p.categorical else f"[{p.low:g}, {p.high:g}]",
               "scale": "choice" if p.categorical else ("log" if p.log else "linear"),
               "default": p.default} for p in space.params]).set_index("hyperparameter")
''')
md(r"""
`search.build_model(point)` maps a point of the space (a dict) to a compiled model, and
`search.SearchHyperModel` wraps that for keras-tuner, so that `fit` uses the point's batch size
(a plain `build(hp)` function cannot tune the batch size). `SearchSpace.define(hp)` is what turns
the table above into keras-tuner hyperparameters:
""")
code('''
hp = keras_tuner.HyperParameters()
point = space.define(hp)                  # every dimension registered, at its default
assert point == space.defaults() and space.contains(point)
model = search.build_model(point, ds.input_shape)
print(point, f"-> {model.count_params():,} parameters,", type(model.optimizer).__name__,
      f"lr={float(model.optimizer.learning_rate):g}, momentum={model.optimizer.momentum}, "
      f"weight_decay={model.optimizer.weight_decay:g}")
for h in hp.space:
    print(f"  {h.name:14s} {type(h).__name__:6s}", {k: v for k, v in h.get_config().items()
                                                   if k in ("min_value", "max_value", "sampling", "values")})
''')

# ----------------------------------------------------------------------------- 2. equal compute
md(r"""
## Equal compute, counted in epochs

Hyperband {footcite:p}`li2018hyperband` does not train every configuration to the end: it starts
many configurations on a few epochs, keeps the best $1/\eta$ of them, trains those longer, and so
on (successive halving), and it runs several such *brackets*, from aggressive (many configurations,
short first rung) to none at all (a few configurations trained fully). A fair comparison must
count every epoch of those partial trainings. `search.hyperband_budget` computes what
keras-tuner's Hyperband spends for a given top rung (`max_epochs`) and factor $\eta$; the other
three methods then get the same number of epochs, as full trainings of `max_epochs` each.
`search.BudgetLedger`, a callback handed to every search, counts what was actually trained: every
epoch, every `fit`, every second.
""")
code('''
hb_epochs, hb_trials = search.hyperband_budget(max_epochs, hyperband_factor, hyperband_iterations)
n_trials = max(1, round(hb_epochs / max_epochs))   # full trainings the other methods get
grid = search.grid_counts(space, n_trials)         # the largest grid that fits in n_trials
n_grid = math.prod(grid.values())                  # = n_trials unless no grid of n_trials points exists
expected = {"grid": n_grid, "random": n_trials, "Bayesian": n_trials}
budget_table = pd.DataFrame({
    "trainings (fit calls)": [*expected.values(), hb_trials],
    "epochs each": [max_epochs] * 3 + [f"1 to {max_epochs}"],
    "epochs in all": [n * max_epochs for n in expected.values()] + [hb_epochs],
}, index=["grid", "random", "Bayesian", "Hyperband"])
budget_table
''')
code('''
glue("max_epochs", max_epochs)
glue("hb_factor", hyperband_factor)
glue("hb_epochs", hb_epochs)
glue("hb_trials", hb_trials)
glue("n_trials", n_trials)
glue("full_epochs", n_trials * max_epochs)
glue("budget_equal", "exactly the same number of epochs" if n_trials * max_epochs == hb_epochs else
     f"{n_trials * max_epochs} epochs against Hyperband's {hb_epochs} (the nearest whole number of full trainings)")
''', ["remove-cell"])
md(r"""
With a top rung of {glue:text}`max_epochs` epochs and $\eta =$ {glue:text}`hb_factor`, Hyperband
runs {glue:text}`hb_trials` trainings worth {glue:text}`hb_epochs` epochs in all; grid, random and
Bayesian search get {glue:text}`n_trials` full trainings of {glue:text}`max_epochs` epochs:
{glue:text}`budget_equal`. That is a small budget on purpose: it is what a CPU affords in a few
minutes per search seed.
""")

# ----------------------------------------------------------------------------- 3. curse of dimensionality
md(r"""
## Why a grid is a poor use of trials

Bergstra and Bengio's argument {footcite:p}`bergstra2012random` is about what each trial teaches
you. In most problems only one or two hyperparameters matter much (the learning rate, almost
always). A grid of $N$ points in $d$ dimensions tries only about $N^{1/d}$ distinct values of each
hyperparameter, so most of its trials repeat a learning rate already tried with different values
of hyperparameters that hardly matter. $N$ random points try $N$ distinct values of *every*
continuous hyperparameter. `search.grid_counts` builds the largest grid that fits in $N$ trials
(one more value per dimension in turn, from the learning rate on; a dimension with one value sits
at its default):
""")
code('''
trial_counts = np.unique(np.geomspace(1, 1000, 40).round().astype(int))
per_dim = pd.DataFrame([search.grid_counts(space, int(n)) for n in trial_counts], index=trial_counts)
needed = {k: k ** len(space) for k in (2, 3, 5)}   # trials for k values on every dimension

rng = np.random.default_rng(0)
random_points = space.sample(rng, n_trials)
grid_points = space.grid(grid)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4.2))
ax0.plot(trial_counts, trial_counts, color="C1", lw=2, label="random search: every continuous dimension")
for name, style in (("learning_rate", "-"), ("weight_decay", "--"), ("width", ":")):
    ax0.step(trial_counts, per_dim[name], where="post", color="C0", ls=style, lw=1.8, label=f"grid: {name}")
ax0.axvline(n_trials, color="0.5", lw=1)
ax0.annotate(f"this chapter's budget: {n_trials} trials", (n_trials, 1.1), xytext=(4, 0),
             textcoords="offset points", fontsize="small", color="0.35")
ax0.set(xscale="log", yscale="log", xlabel="trials (full trainings)",
        ylabel="distinct values tried per dimension",
        title=f"{len(space)} hyperparameters: the grid gets ~N^(1/{len(space)})")
ax0.grid(alpha=0.3, which="both")
ax0.legend(fontsize="small", loc="upper left")
for pts, color, marker, label in ((grid_points, "C0", "s", f"grid ({len(grid_points)} points)"),
                                  (random_points, "C1", "o", f"random ({len(random_points)} points)")):
    ax1.plot([p["learning_rate"] for p in pts], [p["weight_decay"] for p in pts], marker, color=color,
             ms=8, alpha=0.8, label=label, ls="none")
ax1.set(xscale="log", yscale="log", xlim=(space["learning_rate"].low, space["learning_rate"].high),
        ylim=(space["weight_decay"].low, space["weight_decay"].high), xlabel="learning rate (log scale)",
        ylabel="weight decay (log scale)", title=f"the same {n_trials} trials, two of the five dimensions")
ax1.grid(alpha=0.3)
ax1.legend(fontsize="small", loc="lower left")
fig.tight_layout()
''')
code('''
glue("grid_text", ", ".join(f"{k} × {v}" for k, v in grid.items() if v > 1) or "every dimension at its default")
glue("grid_size", len(grid_points))
glue("grid_lr_values", grid["learning_rate"])
glue("grid_fixed", ", ".join(k for k, v in grid.items() if v == 1) or "none")
glue("random_lr_values", len({p["learning_rate"] for p in random_points}))
glue("need2", needed[2])
glue("need3", needed[3])
glue("need3_epochs", needed[3] * max_epochs)
glue("need3_ratio", needed[3] * max_epochs / hb_epochs)
glue("n_dims", len(space))
assert n_trials == 1 or grid["learning_rate"] < len({p["learning_rate"] for p in random_points})
''', ["remove-cell"])
md(r"""
With this chapter's {glue:text}`n_trials` trials the grid is {glue:text}`grid_text`
({glue:text}`grid_size` points): it tries {glue:text}`grid_lr_values` learning rates and leaves
{glue:text}`grid_fixed` at their defaults, while random search tries
{glue:text}`random_lr_values` learning rates and as many values of every other continuous
hyperparameter. Giving each of the {glue:text}`n_dims` hyperparameters just two values takes
{glue:text}`need2` trials; three values take {glue:text}`need3` trials, {glue:text}`need3_epochs`
epochs, {glue:text}`need3_ratio:.0f` times this chapter's budget. (The grid's count of learning rates
in the left panel goes down as well as up: a few more trials are often spent on a new dimension
rather than on a finer learning rate.) The right panel is Bergstra and
Bengio's picture: projected on any one axis, the grid's points pile up on a few values.
""")

# ----------------------------------------------------------------------------- 4. the searches
md(r"""
## The four searches

Every search gets the same space, the same data, the same objective (the best validation accuracy
of a trial, keras-tuner's default for `objective="val_accuracy"`) and its own ledger. A search
seed sets the tuner's random choices and, through `training.set_seed`, the initial weights and the
data order of its trainings; the grid is the same for every seed, so its spread is the noise of
training alone. Bayesian optimization {footcite:p}`snoek2012practical` starts from
{glue:text}`bayes_init` random trials and then fits a Gaussian process to the scores so far and
picks the next point by an upper confidence bound. Tuner state (trials, checkpoints) goes to a
folder outside the repository, overwritten at every search and removed at the end.
""")
code('''
own_state = state_dir is None
state_root = Path(tempfile.mkdtemp(prefix="lrbook-ch06-") if own_state else state_dir)
state_root.mkdir(parents=True, exist_ok=True)
if own_state and not keep_state:  # removed at the end of the chapter, and also if it stops early
    atexit.register(shutil.rmtree, state_root, True)


def make_tuner(method, seed):
    """A fresh keras-tuner tuner of `method` over the shared space, its state under state_root."""
    common = dict(objective="val_accuracy", directory=str(state_root), project_name=f"{method}-seed{seed}",
                  overwrite=True)
    hypermodel = search.SearchHyperModel(space, ds.input_shape, ds.num_classes, momentum=momentum,
                                         grid=grid if method == "grid" else None)
    if method == "grid":
        return keras_tuner.GridSearch(hypermodel, max_trials=n_trials, seed=seed, **common)
    if method == "random":
        return keras_tuner.RandomSearch(hypermodel, max_trials=n_trials, seed=seed, **common)
    if method == "Bayesian":
        return keras_tuner.BayesianOptimization(hypermodel, max_trials=n_trials, seed=seed,
                                                num_initial_points=bayes_initial_points, **common)
    return keras_tuner.Hyperband(hypermodel, max_epochs=max_epochs, factor=hyperband_factor,
                                 hyperband_iterations=hyperband_iterations, seed=seed, **common)


METHODS = ["grid", "random", "Bayesian", "Hyperband"]
ledgers, searches = [], []
for seed in range(search_seeds):
    for method in METHODS:
        keras.backend.clear_session()
        training.set_seed(seed)
        tuner, ledger = make_tuner(method, seed), search.BudgetLedger()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            # Two known, harmless messages: Hyperband reloads a promoted trial's weights but not its
            # optimizer's momentum (Keras says it skips those variables), and scikit-learn's Gaussian
            # process may put a length scale at its bound (a hyperparameter with no visible effect).
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            warnings.filterwarnings("ignore", message="The optimal value found for dimension")
            tuner.search(ds.x_train, ds.y_train, epochs=max_epochs, validation_data=ds.validation_data,
                         callbacks=[ledger], verbose=0)
        wall = time.perf_counter() - t0
        best = tuner.get_best_hyperparameters(1)[0].values
        trials = [{"method": method, "seed": seed, "score": t.score,
                   "epochs": t.hyperparameters.values.get("tuner/epochs", max_epochs),
                   **{k: t.hyperparameters.values[k] for k in space.names}}
                  for t in tuner.oracle.trials.values() if t.score is not None]
        searches.append({"method": method, "seed": seed, "wall_s": wall, "fit_s": ledger.seconds,
                         "epochs": ledger.epochs, "trainings": ledger.trials, "trials": trials,
                         "best_point": {k: best[k] for k in space.names}, "best_score": tuner.oracle.get_best_trials(1)[0].score})
        ledgers.append(ledger.to_frame().assign(method=method, seed=seed))
        print(f"seed {seed} {method:9s}: {ledger.trials:2d} trainings, {ledger.epochs:3d} epochs, "
              f"{wall:5.1f} s, best val acc {searches[-1]['best_score']:.3f}")
runs = pd.DataFrame(searches)
epochs_log = pd.concat(ledgers, ignore_index=True)
trial_log = pd.DataFrame([t for s in searches for t in s["trials"]])
''')
md(r"""
Two checks that the accounting is right: Hyperband trained exactly the epochs and trainings
`hyperband_budget` predicts (its resumed trainings continue from a checkpoint at
`initial_epoch`, so only the new epochs count), and no method exceeded the grid/random/Bayes
budget by more than rounding to whole trainings. The best score a tuner reports is the best
validation accuracy its ledger saw.
""")
code('''
hb = runs[runs.method == "Hyperband"]
assert (hb.epochs == hb_epochs).all() and (hb.trainings == hb_trials).all(), hb[["epochs", "trainings"]]
for method, n in expected.items():
    r = runs[runs.method == method]
    assert (r.epochs == n * max_epochs).all() and (r.trainings == n).all(), (method, r[["epochs", "trainings"]])
best_in_ledger = epochs_log.groupby(["method", "seed"]).val_accuracy.max()
np.testing.assert_allclose(runs.set_index(["method", "seed"]).best_score.loc[best_in_ledger.index], best_in_ledger,
                           rtol=1e-6)
print("ledgers agree with hyperband_budget and with the tuners' best scores")
runs.groupby("method", sort=False)[["trainings", "epochs", "wall_s", "fit_s"]].mean()
''')
code('''
firsts = trial_log.groupby(["method", "seed"], sort=False).head(1).set_index(["method", "seed"])[space.names]
shared = sum(all(firsts.loc[(m, s)].equals(firsts.loc[("random", s)]) for m in ("Bayesian", "Hyperband"))
             for s in range(search_seeds))
if shared == search_seeds:
    glue("shared_start", "With the same seed, random search, Bayesian optimization and Hyperband started from "
         "the same configuration in every seed (keras-tuner's oracles draw their random points from the same "
         "seeded generator), so what separates them is what each does after that first draw.")
else:
    glue("shared_start", f"Random search, Bayesian optimization and Hyperband started from the same configuration "
         f"in {shared} of {search_seeds} seeds; elsewhere their random draws differ from the first trial on.")
bo_overhead = (runs[runs.method == "Bayesian"].wall_s - runs[runs.method == "Bayesian"].fit_s).mean()
rs_overhead = (runs[runs.method == "random"].wall_s - runs[runs.method == "random"].fit_s).mean()
glue("bo_overhead", float(bo_overhead))
glue("rs_overhead", float(rs_overhead))
''', ["remove-cell"])
md(r"""
{glue:text}`shared_start` The seconds outside `fit` are the tuner's own work (building and
compiling each model, checkpoints, and for Bayesian optimization fitting its Gaussian process and
optimizing the acquisition function): {glue:text}`bo_overhead:.0f` s per Bayesian search against
{glue:text}`rs_overhead:.0f` s per random search.
""")

# ----------------------------------------------------------------------------- 5. best-so-far
md(r"""
## Best found so far, against compute

For every search the ledger gives the validation accuracy after every epoch trained, in order.
The best value seen within the first $b$ epochs (`search.best_so_far`) is what the method would
have returned had it been stopped at budget $b$. The band is the spread over the
{glue:text}`n_seeds` search seeds. Hyperband's first trainings are short, so its curve takes more,
smaller steps; the full-training methods climb a staircase, one step per trial.
""")
code('''
budgets = np.arange(1, max(hb_epochs, n_trials * max_epochs) + 1)
curves = []
for (method, seed), g in epochs_log.groupby(["method", "seed"], sort=False):
    g = g.sort_values("epoch")
    b = budgets[budgets <= g.epoch.max()]   # each search's curve ends where its budget does
    curves.append(pd.DataFrame({"method": method, "seed": seed, "budget": b,
                                "best": search.best_so_far(g.epoch, g.val_accuracy, b)}))
curves = pd.concat(curves, ignore_index=True)
''')
code('''
def retrain(point, seed, arm=None, batch=None):
    """Train `point` from scratch (fresh initial weights for `seed`) for max_epochs; test accuracy per epoch."""
    build = lambda: models.cnn1d(ds.input_shape, ds.num_classes, dropout=float(point["dropout"]),
                                 width=float(point["width"]))
    arm = arm or training.Arm(lambda: keras.optimizers.SGD(float(point["learning_rate"]), momentum=momentum,
                                                           weight_decay=float(point["weight_decay"])))
    return training.run_experiment(build, {"run": arm}, ds, seeds=[seed], epochs=max_epochs,
                                   batch_size=int(batch or point["batch_size"]), progress=False)


RETRAIN_SEED = 1000   # retraining seeds 1000, 1001, ...: weights and data order no search has seen
retrained = []
for s in searches:
    t0 = time.perf_counter()
    df = retrain(s["best_point"], RETRAIN_SEED + s["seed"])
    retrained.append({"method": s["method"], "seed": s["seed"], "test_acc": float(df.test_accuracy.iloc[-1]),
                      "retrain_val_acc": float(df.val_accuracy.iloc[-1]), "retrain_s": time.perf_counter() - t0,
                      **s["best_point"]})
retrained = pd.DataFrame(retrained)
''')
md(r"""
## The cheap alternative: one range test and a few one-cycle runs, no search

From the LR-finder chapter: take the space's default point (batch size, dropout, weight decay,
width at their defaults), run one range test of {glue:text}`finder_steps_p` steps on the model's
initial weights, and train with a one-cycle schedule {footcite:p}`smith2017superconvergence`,
with momentum cycled inversely (`lrbook.optimizers.SGD` evaluates the momentum schedule inside the
compiled step). A range test gives a range, not one number, so three peaks are read off the same
test: the *edge* (the learning rate at the lowest smoothed loss, past which the loss blows up)
divided by 3, Smith's margin {footcite:p}`smith2018disciplined`; the edge divided by 10; and
fastai's `valley` suggestion, which the LR-finder chapter compares with the other rules. Each seed
keeps the peak with the best validation accuracy, and pays for all three trainings: "LR finder,
best of three" below costs the range test plus three trainings. (A first draft of this chapter
used `valley` alone, whose low peaks trained poorly in six epochs; then edge/3, too high on one
seed. The three peaks are shown separately too, so nothing is hidden.) Same
{glue:text}`max_epochs` epochs as one trial, same seeds as the retraining above. As a floor, the
default point itself is trained too, at its constant learning rate: what you get with no search
and no range test.
""")
code('''
default = space.defaults()
default_batch = int(default["batch_size"])
steps_per_epoch = math.ceil(len(ds.y_train) / default_batch)
finder_rows, default_rows = [], []
for seed in range(search_seeds):
    s = RETRAIN_SEED + seed
    build = lambda: models.cnn1d(ds.input_shape, ds.num_classes, dropout=float(default["dropout"]),
                                 width=float(default["width"]))
    t0 = time.perf_counter()
    keras.backend.clear_session()
    probe = search.build_model(default, ds.input_shape, ds.num_classes, momentum=momentum)
    probe.set_weights(training.initial_weights(build, s))
    result = lr_range_test(probe, ds.x_train, ds.y_train, batch_size=default_batch, num_steps=finder_steps, seed=s)
    finder_s = time.perf_counter() - t0
    for rule in finder_peaks:
        if rule.startswith("edge/"):
            peak = result.suggestion("minimum") * 10 / float(rule.split("/")[1])  # "minimum" is the edge / 10
        else:
            peak = result.suggestion(rule)
        one_cycle = schedules.OneCycle(max_lr=peak, total_steps=max_epochs * steps_per_epoch)
        arm = training.Arm(lambda: optimizers.SGD(one_cycle, momentum=one_cycle.momentum_schedule(),
                                                  weight_decay=float(default["weight_decay"])))
        t1 = time.perf_counter()
        df = retrain(default, s, arm=arm)
        finder_rows.append({"rule": rule, "seed": seed, "peak": peak, "finder_s": finder_s,
                            "train_s": time.perf_counter() - t1, "finder_epochs": len(result.lrs) / steps_per_epoch,
                            "test_acc": float(df.test_accuracy.iloc[-1]), "val_acc": float(df.val_accuracy.max())})
    t1 = time.perf_counter()
    df = retrain(default, s)
    default_rows.append({"seed": seed, "train_s": time.perf_counter() - t1,
                         "test_acc": float(df.test_accuracy.iloc[-1]), "val_acc": float(df.val_accuracy.max())})
finder_runs, default_runs = pd.DataFrame(finder_rows), pd.DataFrame(default_rows)
# The procedure a practitioner would run: per seed, keep the peak with the best validation accuracy.
finder_best = finder_runs.loc[finder_runs.groupby("seed").val_acc.idxmax()].reset_index(drop=True)
finder_best["cost_epochs"] = finder_best.finder_epochs + len(finder_peaks) * max_epochs
finder_best["wall_s"] = finder_best.finder_s + finder_runs.groupby("seed").train_s.sum().to_numpy()
finder_runs
''')
code('''
glue("n_seeds", search_seeds)
glue("bayes_init", bayes_initial_points)
glue("finder_steps_p", finder_steps)
''', ["remove-cell"])

# ----------------------------------------------------------------------------- 6. results
md(r"""
## Results

The curves: best validation accuracy found as a function of epochs trained (mean over search
seeds, band ± one standard deviation). The diamonds are the no-search alternatives, placed at
what they cost: each one-cycle peak alone at {glue:text}`max_epochs` epochs plus the range test,
the best of them (black) at the range test plus all its trainings, the default point at
{glue:text}`max_epochs` epochs.
""")
code('''
FINDER = {rule: f"LR finder ({rule}) + one-cycle" for rule in finder_peaks}
COLORS = {"grid": "C0", "random": "C1", "Bayesian": "C2", "Hyperband": "C3", "defaults (no search)": "0.45",
          **{name: f"C{4 + k}" for k, name in enumerate(FINDER.values())}}
fig, ax = plt.subplots(figsize=(9, 5))
for method in METHODS:
    g = curves[curves.method == method].groupby("budget").best
    mean, std = g.mean(), g.std().fillna(0)
    ax.plot(mean.index, mean, color=COLORS[method], lw=2, label=method, drawstyle="steps-post")
    ax.fill_between(mean.index, mean - std, mean + std, color=COLORS[method], alpha=0.15, lw=0, step="post")
COLORS[f"LR finder, best of {len(finder_peaks)} peaks"] = "k"
alternatives = [(FINDER[rule], finder_runs[finder_runs.rule == rule],   # side by side around their common cost
                 max_epochs + finder_runs.finder_epochs.mean() + 0.5 * (k - (len(finder_peaks) - 1) / 2))
                for k, rule in enumerate(finder_peaks)] + [("defaults (no search)", default_runs, max_epochs),
                                             (f"LR finder, best of {len(finder_peaks)} peaks", finder_best,
                                              finder_best.cost_epochs.mean())]
for name, frame, cost in alternatives:
    ax.errorbar([cost], [frame.val_acc.mean()], yerr=[frame.val_acc.std() if len(frame) > 1 else 0],
                fmt="D", ms=8, capsize=4, color=COLORS[name], label=f"{name} (best epoch)")
ax.set(xlabel="epochs trained (all trainings of the search, partial ones included)",
       ylabel="best validation accuracy so far",
       title=f"equal compute: {hb_epochs} epochs each; mean ± std over {search_seeds} search seeds")
low = curves.groupby(["method", "budget"]).best.mean().quantile(0.05)
ax.set_ylim(max(0.0, low - 0.05), None)
ax.grid(alpha=0.3)
ax.legend(fontsize="small", loc="lower right")
fig.tight_layout()
''')
md(r"""
Where each method looked: every finished trial of every seed, its validation accuracy against its
learning rate (Hyperband's short trainings are the small markers). The learning rate is the
hyperparameter that decides most here, and the grid can only try its few values of it.
""")
code('''
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
for ax, pair in zip(axes, (("grid", "random"), ("Bayesian", "Hyperband"))):
    for method in pair:
        t = trial_log[trial_log.method == method]
        ax.scatter(t.learning_rate, t.score, s=14 + 36 * t.epochs / max_epochs, color=COLORS[method], alpha=0.6,
                   label=method, edgecolor="none")
    ax.set(xscale="log", xlabel="learning rate (log scale)", title=" vs ".join(pair))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="lower center")
axes[0].set_ylabel("trial's best validation accuracy")
fig.tight_layout()
''')
code('''
def mean_std(values, digits=3):
    s = stats.summarize(values)
    return f"{s.mean:.{digits}f} ± {s.std:.{digits}f}" if s.n > 1 else f"{s.mean:.{digits}f}"


rows = {}
for method in METHODS:
    r, t = runs[runs.method == method], retrained[retrained.method == method]
    rows[method] = {"budget (epochs)": f"{r.epochs.mean():.0f} ({r.trainings.mean():.0f} trainings) + {max_epochs}",
                    "best val acc": mean_std(r.best_score), "retrained test acc": mean_std(t.test_acc),
                    "wall s (search + retrain)": f"{(r.wall_s.mean() + t.retrain_s.mean()):.0f}",
                    "test_values": t.test_acc.to_numpy(), "cost": r.epochs.mean() + max_epochs,
                    "wall": r.wall_s.mean() + t.retrain_s.mean(), "val": r.best_score.mean()}
for rule, name in FINDER.items():
    f = finder_runs[finder_runs.rule == rule]
    rows[name] = {
        "budget (epochs)": f"{f.finder_epochs.mean():.2g} (range test) + {max_epochs}",
        "best val acc": mean_std(f.val_acc), "retrained test acc": mean_std(f.test_acc),
        "wall s (search + retrain)": f"{(f.finder_s + f.train_s).mean():.0f}",
        "test_values": f.test_acc.to_numpy(), "cost": f.finder_epochs.mean() + max_epochs,
        "wall": (f.finder_s + f.train_s).mean(), "val": f.val_acc.mean()}
rows["defaults (no search)"] = {
    "budget (epochs)": f"{max_epochs}", "best val acc": mean_std(default_runs.val_acc),
    "retrained test acc": mean_std(default_runs.test_acc),
    "wall s (search + retrain)": f"{default_runs.train_s.mean():.0f}", "test_values": default_runs.test_acc.to_numpy(),
    "cost": max_epochs, "wall": default_runs.train_s.mean(), "val": default_runs.val_acc.mean()}
rows[f"LR finder, best of {len(finder_peaks)} peaks"] = {
    "budget (epochs)": f"{finder_best.finder_epochs.mean():.2g} (range test) + {len(finder_peaks)} × {max_epochs}",
    "best val acc": mean_std(finder_best.val_acc), "retrained test acc": mean_std(finder_best.test_acc),
    "wall s (search + retrain)": f"{finder_best.wall_s.mean():.0f}", "test_values": finder_best.test_acc.to_numpy(),
    "cost": finder_best.cost_epochs.mean(), "wall": finder_best.wall_s.mean(), "val": finder_best.val_acc.mean()}
full_table = pd.DataFrame(rows).T
finder_name = f"LR finder, best of {len(finder_peaks)} peaks"
p_vs_finder = []
for name in full_table.index:
    a, b = full_table.loc[name, "test_values"], full_table.loc[finder_name, "test_values"]
    p_vs_finder.append("–" if name == finder_name or len(a) < 2 or len(b) < 2
                       else f"{stats.welch_t_test(a, b)[2]:.2g}")
full_table["p (test) vs LR finder"] = p_vs_finder
table = full_table[[c for c in full_table.columns if c not in ("test_values", "cost", "wall", "val")]].rename_axis(
    f"method (n = {search_seeds} seeds)")
table
''')
code('''
searched = full_table.loc[METHODS]
test_means = searched["test_values"].apply(np.mean)
val_means = searched["val"].astype(float)
best_val_method = val_means.idxmax()
best_test_method = test_means.idxmax()
finder = full_table.loc[finder_name]
finder_test = float(np.mean(finder["test_values"]))
best_test = float(test_means.max())
diff = finder_test - best_test
p = (stats.welch_t_test(finder["test_values"], searched.loc[best_test_method, "test_values"])[2]
     if search_seeds > 1 else float("nan"))
spread_val = float(val_means.max() - val_means.min())
spread_test = float(test_means.max() - test_means.min())
cost_ratio = float(searched.loc[best_test_method, "cost"] / finder["cost"])
wall_ratio = float(searched.loc[best_test_method, "wall"] / finder["wall"])
glue("best_val_method", best_val_method)
glue("best_val", float(val_means.max()))
glue("best_test_method", best_test_method)
glue("best_test", mean_std(searched.loc[best_test_method, "test_values"]))
glue("same_winner", "the same method" if best_val_method == best_test_method else
     f"not {best_val_method}, the winner on validation accuracy")
glue("spread_val", spread_val)
glue("spread_test", spread_test)
glue("finder_test", mean_std(finder["test_values"]))
glue("finder_diff", diff)
glue("finder_p", p)
glue("finder_cost", float(finder["cost"]))
glue("search_cost", float(searched.loc[best_test_method, "cost"]))
glue("cost_ratio", cost_ratio)
glue("wall_ratio", wall_ratio)
glue("wall_phrase", f"{wall_ratio:.1f} times less wall time" if wall_ratio > 1.3 else
     f"{1 / wall_ratio:.1f} times more wall time" if wall_ratio < 1 / 1.3 else
     "about the same wall time (at this size a training's fixed cost, building and tracing the model, dominates)")
glue("finder_peaks_text", ", ".join(finder_peaks))
glue("finder_chosen", ", ".join(f"{r} × {n}" for r, n in finder_best.rule.value_counts().items()))
glue("finder_peak_range", f"{finder_best.peak.min():.2g} to {finder_best.peak.max():.2g}")
glue("finder_each", "; ".join(f"{rule} {mean_std(finder_runs[finder_runs.rule == rule].test_acc)}"
                              for rule in finder_peaks))
glue("default_test", mean_std(default_runs.test_acc))
glue("default_gain", best_test - float(default_runs.test_acc.mean()))
significant = np.isfinite(p) and p < 0.05
if significant:
    glue("finder_verdict", f"{'better' if diff > 0 else 'worse'} than the best search, and the difference is "
         f"unlikely to be noise (Welch p = {p:.2g})")
else:
    glue("finder_verdict", f"{'ahead of' if diff > 0 else 'behind'} the best search by {abs(diff):.3f}, a "
         f"difference these {search_seeds} seeds cannot tell from noise (Welch p = {p:.2g})")
val_gap = float(val_means[best_val_method] - test_means[best_val_method])
glue("optimism_head", "A search's best score is optimistic" if val_gap > 0 else
     "A search's best score can be optimistic; here it was not")
glue("optimism_sentence",
     f"retrained from scratch, the configurations {best_val_method} found score "
     f"{abs(val_gap):.3f} {'less' if val_gap > 0 else 'more'} on the test set than their search score "
     f"({test_means[best_val_method]:.3f} against {val_means[best_val_method]:.3f})"
     + ("" if val_gap > 0 else "; here the retraining's fresh seeds happened to be kinder than the search's"))
bests = retrained[retrained.method.isin(METHODS)]
glue("best_lrs", f"{bests.learning_rate.min():.2g} to {bests.learning_rate.max():.2g}")
hb_log = trial_log[trial_log.method == "Hyperband"]
hb_distinct = hb_log.drop(columns=["score", "epochs"]).drop_duplicates().groupby("seed").size()
glue("hb_distinct", float(hb_distinct.mean()))
hb_cfg = hb_log.groupby(["seed", *space.names]).epochs.max()   # furthest each configuration was trained
glue("hb_stopped", float((hb_cfg < max_epochs).groupby("seed").sum().mean()))
rand_val, hb_val = val_means["random"], val_means["Hyperband"]
glue("hb_sentence", f"its best validation accuracy was {abs(hb_val - rand_val):.3f} "
     f"{'above' if hb_val > rand_val else 'below'} random search's" if hb_val != rand_val
     else "its best validation accuracy equalled random search's")

# Best vs worst searched method on retrained test accuracy.
worst_test_method = test_means.idxmin()
p_methods = (stats.welch_t_test(searched.loc[best_test_method, "test_values"],
                                searched.loc[worst_test_method, "test_values"])[2] if search_seeds > 1 else float("nan"))
glue("p_methods", p_methods)
glue("worst_test_method", worst_test_method)
if np.isfinite(p_methods) and p_methods < 0.05:
    glue("methods_head", f"{best_test_method} beats {worst_test_method} at this budget")
    glue("methods_sentence", f"the gap between the best and the worst, {spread_test:.3f}, is unlikely to be noise "
         f"(Welch p = {p_methods:.2g})")
else:
    glue("methods_head", "At this budget the four methods cannot be told apart")
    glue("methods_sentence", f"even the best and the worst, {spread_test:.3f} apart, are within the noise of "
         f"{search_seeds} seeds (Welch p = {p_methods:.2g})")
if diff >= -0.01:
    glue("finder_head", "The range test is the cheap alternative, and it holds up")
elif significant:
    glue("finder_head", "The range test is cheaper, but here it costs accuracy")
else:
    glue("finder_head", "The range test is cheaper, but here it trails, with a wide spread")
gain = best_test - float(default_runs.test_acc.mean())
glue("default_sentence", f"the best search gained {gain:.3f} over it" if gain >= 0.0005 else
     "the best search only matched it" if gain > -0.0005 else
     f"no search beat it (the best was {abs(gain):.3f} below)")

# Which hyperparameter matters: among random search's trials (uniform draws from the space), the share
# of the score's variance explained by each hyperparameter cut into 3 quantile bins (eta squared).
rand_trials = trial_log[trial_log.method == "random"].reset_index(drop=True)


def eta_squared(x, y, bins=3):
    """Share of the variance of y between `bins` equal-count bins of x (by rank, so any scale)."""
    groups = pd.qcut(pd.Series(np.asarray(x, float)).rank(method="first"), min(bins, len(x)), labels=False)
    y = pd.Series(np.asarray(y, float))
    between = sum(len(g) * (g.mean() - y.mean()) ** 2 for _, g in y.groupby(groups))
    total = float(((y - y.mean()) ** 2).sum())
    return between / total if total > 0 else float("nan")


importance = pd.Series({name: eta_squared(rand_trials[name].astype(float), rand_trials.score)
                        for name in space.names}).sort_values(ascending=False)
glue("top_hp", importance.index[0])
glue("top_eta2", float(importance.iloc[0]))
glue("second_hp", importance.index[1])
glue("second_eta2", float(importance.iloc[1]))
glue("n_random_trials", len(rand_trials))
searched_dims = [k for k, v in grid.items() if v > 1]
fixed_dims = [k for k, v in grid.items() if v == 1]
if "grid" in (best_val_method, best_test_method) and searched_dims and fixed_dims:
    beat_random = default_runs.test_acc.mean() > test_means["random"]
    glue("grid_note", f"The grid did well here, and the reason is worth seeing: it searched only "
         f"{' and '.join(searched_dims)} and left {', '.join(fixed_dims)} at their defaults"
         + (f", which are good ones: the default point alone reached {mean_std(default_runs.test_acc)} test "
            f"accuracy, more than random search's winners ({mean_std(searched.loc['random', 'test_values'])}). "
            if beat_random else ". ") + "A grid is as "
         "good as the defaults of the dimensions it cannot afford to search; random search spends part of its "
         "trials on values of those dimensions that are worse than the defaults.")
else:
    glue("grid_note", "")
importance.rename("share of the score's variance (η², 3 bins)").to_frame().T
''')
md(r"""
Which hyperparameter matters? Among random search's {glue:text}`n_random_trials` trials (independent,
uniform draws from the space, over all seeds), cutting each hyperparameter into three equal-count
bins, **{glue:text}`top_hp`** explains the largest share of the variance of the trials' scores
(η² = {glue:text}`top_eta2:.2f`), then {glue:text}`second_hp` ({glue:text}`second_eta2:.2f`). With
this few trials η² is rough, but it is the quantity Bergstra and Bengio's argument is about: a grid
spends its trials evenly over dimensions that matter unequally.

What the numbers say, at {glue:text}`hb_epochs` epochs of search per method:

- **{glue:text}`methods_head`.** The best validation accuracy found was highest for
  {glue:text}`best_val_method` ({glue:text}`best_val:.3f` on average); the four methods span
  {glue:text}`spread_val:.3f` in validation accuracy and {glue:text}`spread_test:.3f` in retrained
  test accuracy, where the best is {glue:text}`best_test_method` ({glue:text}`best_test`),
  {glue:text}`same_winner`: {glue:text}`methods_sentence`. Hyperband tried
  {glue:text}`hb_distinct:.0f` distinct configurations per search where the others tried
  {glue:text}`n_trials`, {glue:text}`hb_stopped:.0f` of them stopped before {glue:text}`max_epochs`
  epochs; {glue:text}`hb_sentence`.
- **{glue:text}`optimism_head`.** A search's best score is the maximum over many noisy evaluations
  on the same validation set: {glue:text}`optimism_sentence`. Retraining on fresh seeds, as here, is how to
  report a searched configuration honestly.
- **{glue:text}`finder_head`.** One range test and three one-cycle runs (peaks
  {glue:text}`finder_peaks_text`), keeping the best on validation accuracy per seed (chosen:
  {glue:text}`finder_chosen`; peak $\eta$ from {glue:text}`finder_peak_range`), reached
  {glue:text}`finder_test` test accuracy, {glue:text}`finder_verdict`. Each peak alone:
  {glue:text}`finder_each`. It cost {glue:text}`finder_cost:.1f` epochs against
  {glue:text}`search_cost:.0f` for the best search plus its retraining:
  {glue:text}`cost_ratio:.1f` times less compute and {glue:text}`wall_phrase`. The space's default point with no search at all reached {glue:text}`default_test`;
  {glue:text}`default_sentence`.

{glue:text}`grid_note` The searches' best learning rates ranged from {glue:text}`best_lrs`. All of this is for a small
budget on a small problem: with hundreds of trials, or with several hyperparameters that matter as
much as the learning rate, Bayesian optimization and Hyperband are built to pull ahead
{footcite:p}`li2018hyperband,snoek2012practical`, and a grid falls further behind
{footcite:p}`bergstra2012random`. At the budget of
a few full trainings, spend it on the learning rate first; keras-tuner
{footcite:p}`omalley2019kerastuner` makes any of the four searches a dozen lines once the space is
data.
""")
code('''
if own_state and not keep_state:
    shutil.rmtree(state_root, ignore_errors=True)
    assert not state_root.exists()
print("tuner state:", "kept in " + str(state_root) if state_root.exists() else "removed")
''')

# ----------------------------------------------------------------------------- summary
code('''
from lrbook.notebook import glue_headlines, headline

setting = (f"MNIST-1D ({n_train} samples), cnn1d, SGD momentum {momentum:g}; 5 hyperparameters; "
           f"{hb_epochs} epochs of search per method, {max_epochs}-epoch trainings")
headline("Best search method at equal compute (retrained test accuracy)",
         f"{best_test_method}: {mean_std(searched.loc[best_test_method, 'test_values'])}; the four span {spread_test:.3f}",
         n=search_seeds, note=setting)
headline(f"LR finder + one-cycle, best of {len(finder_peaks)} peaks on validation (test accuracy, cost)",
         f"{mean_std(finder['test_values'])} vs {best_test_method} {mean_std(searched.loc[best_test_method, 'test_values'])} "
         f"(Welch p = {p:.2g}) at {cost_ratio:.1f}× less compute",
         n=search_seeds, note=setting + f"; peaks {', '.join(finder_peaks)} of a {finder_steps}-step range test; all three trainings counted")
headline("Grid search's curse of dimensionality",
         f"{n_trials} trials: grid tries {grid['learning_rate']} learning rates, random {n_trials}; "
         f"3 values on all 5 hyperparameters need {needed[3]} trials", note="lrbook.search.grid_counts")
glue_headlines()
glue("runtime_s", time.perf_counter() - T_START)
glue("runtime_profile", profile)
glue("runtime_device", info["device"])
''', ["remove-cell"])
md(r"""
## Summary

- Define the search space once, as data (`lrbook.search.DEFAULT_SPACE`), and every keras-tuner
  tuner searches the same thing; `SearchHyperModel` lets it tune the batch size too.
- Compare searches at equal compute, counting every epoch trained (`BudgetLedger`), Hyperband's
  partial trainings included ({glue:text}`hb_trials` trainings, {glue:text}`hb_epochs` epochs here),
  and report the retrained test accuracy, not the search's best score.
- A grid of {glue:text}`n_trials` points over {glue:text}`n_dims` hyperparameters tries
  {glue:text}`grid_lr_values` learning rates; random search tries {glue:text}`random_lr_values`.
- At this budget the four methods were within {glue:text}`spread_test:.3f` of each other in test
  accuracy, and one range test plus three one-cycle runs reached {glue:text}`finder_test`
  ({glue:text}`cost_ratio:.1f`× less compute than the best search).

*This page was computed with the {glue:text}`runtime_profile` profile on {glue:text}`runtime_device`
in {glue:text}`runtime_s:.0f` s.*

## References

```{footbibliography}
```
""")
write(cells, NAME)
