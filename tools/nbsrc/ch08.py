import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SETUP, badge, derived  # noqa: E402
from nbgen import recorder, write  # noqa: E402

NAME = "08_scaling_out"
cells, md, code = recorder()

md("# Scaling out: data parallelism, the learning-rate scaling rule and stale gradients")
md(badge(NAME))
md(r"""
## Overview

When one device is too slow, the usual next step is **data parallelism**: several copies of the
model (replicas) each take a slice of the batch, and their gradients are combined. This chapter
uses TensorFlow's own engines for it (`tf.distribute`), never a home-made one, and checks what
they do rather than taking it on trust: that a synchronous step computes exactly the gradient of
the whole batch, what replicas cost and buy on a small machine, how to run a real multi-process
cluster (all-reduce workers, and parameter servers for asynchronous training) from a notebook
without leaving processes behind, how the learning rate must change when the batch grows
(Goyal et al.'s linear scaling rule, with and without warmup), and why stale gradients from
asynchronous training shrink the learning rates that work. It ends with what Keras 3 offers for
model parallelism and how to build this book on a GPU.

**You will learn** to read a synchronous data-parallel step as "one big batch", to scale the
learning rate with the batch size and see where that breaks, to run `MultiWorkerMirroredStrategy`
and `ParameterServerStrategy` clusters on one machine, and what staleness does to stability.

**Prerequisites:** chapter 1 (steps, epochs, batch size, SGD with momentum) and the warmup
schedule of chapter 2.

**Run time:** the `quick` profile (what CI runs) takes one to two minutes on 2 CPU cores (each
cluster process imports TensorFlow); the `full` profile (what this page shows) takes about
10 minutes on 2 CPU cores. The exact time of this build is at the end of the page.
""")
code('''
# Parameters (papermill overrides these; see "How to use this book").
profile = None             # "quick" (CI) or "full" (the book); None reads $LRBOOK_PROFILE, default "full"
n_train = 4000             # MNIST-1D training samples before the 20% validation split
momentum = 0.9             # SGD momentum everywhere
replica_counts = [1, 2, 4]  # MirroredStrategy replicas (logical CPU devices) to time
timing_batch = 256         # global batch of the timing runs
timing_epochs = 3          # epochs per timing run (the first one includes tracing)
cluster_workers = 2        # processes of the multi-worker and parameter-server clusters
cluster_epochs = 3         # epochs of the multi-worker run
ps_steps = 300             # asynchronous steps of the parameter-server run
show_fit_failure = True    # also run model.fit under MultiWorkerMirroredStrategy (it fails in Keras 3.15)
base_batch = 64            # the batch size the base learning rate is tuned for
base_lrs = [0.01, 0.03, 0.1, 0.3]  # sweep of the base learning rate at base_batch (validation accuracy)
big_batches = [256, 1024]  # larger global batches for the scaling rule
big_lrs = [0.03, 0.1, 0.3, 1.0]  # a direct sweep at each large batch (the best any rule could pick)
epochs = 12                # epoch budget of every scaling-rule run (equal epochs, as in Goyal et al.)
warmup_epochs = 3          # gradual warmup from the base rate to the scaled rate
seeds = 3                  # seeds of every comparison
delays = [0, 1, 2, 4, 8, 16]   # staleness (steps) of the delayed-SGD simulation
delay_lrs = [0.003, 0.01, 0.03, 0.1, 0.3]  # learning rates tried at each delay
delay_momentum = 0.9       # heavy-ball momentum of the delayed-SGD runs
delay_epochs = 3           # epochs of each delayed-SGD run
mixed_precision = None     # True/False; None reads $LRBOOK_MIXED_PRECISION (off by default)
''', ["parameters"])
code(derived('''    n_train, replica_counts, timing_epochs, cluster_epochs, ps_steps = 1000, [1, 2], 2, 1, 40
    show_fit_failure, base_lrs, big_batches, epochs, warmup_epochs, seeds = False, [0.1], [256], 2, 1, 2
    big_lrs, delays, delay_lrs, delay_epochs = [0.1], [0, 4], [0.03, 0.3], 1'''))
code(SETUP.replace("import lrbook\n", '''import lrbook
from lrbook import distributed

# Split the CPU into logical devices for MirroredStrategy: this must happen before TensorFlow
# creates its first tensor, so it comes first.
DEVICES = distributed.configure_cpu_devices(max(replica_counts))
''').replace("lrbook.setup(profile, seed=0)", "lrbook.setup(profile, seed=0, mixed_precision=mixed_precision)") + '''

import math
import os
import statistics

import matplotlib
import tensorflow as tf

from lrbook import schedules
from IPython.display import Markdown

from lrbook.notebook import Text''', ["hide-output"])

# ----------------------------------------------------------------------------- 1. synchronous step
md(r"""
## One synchronous step is one big batch

In synchronous data parallelism every replica holds the same weights. A global batch of $B$
examples is split across the $R$ replicas; replica $r$ computes the gradient of *its* examples'
losses, summed and divided by the **global** batch size, and an all-reduce adds the replicas'
gradients:

$$
g \;=\; \sum_{r=1}^{R} \nabla_w \Big[\frac{1}{B} \sum_{i \in \text{replica } r} \ell_i(w)\Big]
\;=\; \nabla_w \Big[\frac{1}{B} \sum_{i=1}^{B} \ell_i(w)\Big].
$$

So the step is exactly the single-device step on the whole batch: data parallelism changes *where*
the arithmetic happens, not *what* is computed. (The classic bug is dividing by the per-replica
batch size instead, which multiplies the gradient by $R$; `tf.nn.compute_average_loss` exists to
avoid it.) `tf.distribute.MirroredStrategy` does this across the devices of one machine. To try it
without several GPUs, the setup cell split this machine's CPU into {glue:text}`n_devices` logical
devices; `lrbook.distributed.replica_gradients` runs the replica computation and the all-reduce,
and the cell below checks the identity on a batch of {glue:text}`base_batch_g` MNIST-1D
{footcite:p}`greydanus2020mnist1d` examples.
""")
code('''
ds = data.load("mnist1d", n_train=n_train, validation_split=0.2, seed=None)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
x_b, y_b = ds.x_train[:base_batch], ds.y_train[:base_batch]

keras.utils.set_random_seed(0)
single_model = models.cnn1d(ds.input_shape)
with tf.GradientTape() as tape:
    batch_loss = loss_fn(y_b, single_model(x_b, training=False))
single_grad = [g.numpy() for g in tape.gradient(batch_loss, single_model.trainable_variables)]


def mirrored(n):
    """MirroredStrategy over the first n logical CPU devices, all-reducing through /cpu:0.

    (The default collective all-reduce fails when strategies of different sizes share one
    process: "joining a group with size 4, but that group has size 2".)
    """
    return tf.distribute.MirroredStrategy(
        DEVICES[:n], cross_device_ops=tf.distribute.ReductionToOneDevice(reduce_to_device=DEVICES[0]))


grad_error = {}
for n in replica_counts:
    strategy = mirrored(n)
    with strategy.scope():
        replica_model = models.cnn1d(ds.input_shape)
    replica_model.set_weights(single_model.get_weights())
    grads = distributed.replica_gradients(strategy, replica_model, x_b, y_b)
    grad_error[n] = max(float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in zip(grads, single_grad))
    print(f"{n} replica(s) of {base_batch // n} examples: largest relative difference to one device "
          f"= {grad_error[n]:.1e}")
    assert grad_error[n] < 1e-5, "the all-reduced gradient must equal the single-device gradient"

glue("n_devices", len(DEVICES))
glue("base_batch_g", base_batch)
glue("grad_err_max", max(grad_error.values()))
glue("grad_replicas", Text(", ".join(str(n) for n in replica_counts)));
''')
md(r"""
With {glue:text}`grad_replicas` replicas the all-reduced gradient matches the single-device one to
within {glue:text}`grad_err_max:.1e` (relative): float32 rounding, since the sums run in another
order. Everything that follows about batch size and learning rate therefore holds for a data-parallel
job with the same *global* batch.
""")

# ----------------------------------------------------------------------------- 2. timing
md(r"""
## What replicas cost on a small machine

Replicas only help when they run on hardware that would otherwise sit idle. The logical devices
here share the same {glue:text}`n_cores` CPU cores, so the cell below measures the honest case:
the same model, data and global batch ({glue:text}`timing_batch_g`), trained under
`MirroredStrategy` with 1, 2 and 4 replicas, timing every epoch (the first includes tracing).
""")
code('''
class EpochTimes(keras.callbacks.Callback):
    """Wall seconds of every epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._t0)


rows = []
for n in replica_counts:
    strategy = mirrored(n)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = models.compile_classifier(models.cnn1d(ds.input_shape),
                                          keras.optimizers.SGD(0.05, momentum=momentum))
    timer = EpochTimes()
    model.fit(ds.x_train, ds.y_train, batch_size=timing_batch, epochs=timing_epochs, verbose=0,
              callbacks=[timer])
    rows.append({"replicas": n, "first epoch (s)": timer.seconds[0],
                 "later epochs (s, median)": statistics.median(timer.seconds[1:])})
timing = pd.DataFrame(rows).set_index("replicas")
timing["speed-up vs 1 replica"] = timing["later epochs (s, median)"].iloc[0] / timing["later epochs (s, median)"]
display(timing)

fig, ax = plt.subplots(figsize=(6.5, 3.6))
ax.bar([str(n) for n in timing.index], timing["later epochs (s, median)"], color="C0", width=0.55)
for i, (n, row) in enumerate(timing.iterrows()):
    ax.text(i, row["later epochs (s, median)"], f"×{row['speed-up vs 1 replica']:.2f}", ha="center", va="bottom")
ax.set(xlabel="MirroredStrategy replicas (logical CPU devices)", ylabel="seconds per epoch (median)",
       title=f"Same global batch ({timing_batch}), {info['device']}")
ax.grid(axis="y", alpha=0.3)
plt.show()

''')
code('''
many = timing.index.max()
glue("n_cores", os.cpu_count())
glue("timing_batch_g", timing_batch)
glue("timing_max_replicas", int(many))
glue("timing_speedup", float(timing.loc[many, "speed-up vs 1 replica"]))
glue("timing_one", float(timing.loc[1, "later epochs (s, median)"]))
glue("timing_many", float(timing.loc[many, "later epochs (s, median)"]))
glue("timing_verdict", Text("faster" if timing.loc[many, "speed-up vs 1 replica"] > 1.05 else
                            "no faster" if timing.loc[many, "speed-up vs 1 replica"] > 0.95 else "slower"))
''', ["remove-cell"])
md(r"""
With {glue:text}`timing_max_replicas` replicas an epoch took {glue:text}`timing_many:.2f` s against
{glue:text}`timing_one:.2f` s with one: a speed-up of {glue:text}`timing_speedup:.2f`×, so
{glue:text}`timing_verdict` on {glue:text}`n_cores` cores. That is expected: TensorFlow already
spreads one replica's matrix products over all cores, so splitting the batch adds the cost of
the split and the all-reduce and no new arithmetic units. On a machine with one accelerator per
replica the same code divides each step's compute by the number of replicas, and the all-reduce
becomes the cost to watch.
""")

# ----------------------------------------------------------------------------- 3. multi-worker
md(r"""
## Several processes: `MultiWorkerMirroredStrategy`

Across machines, each worker is a process with a `TF_CONFIG` environment variable naming the
cluster and its own place in it; `MultiWorkerMirroredStrategy` then all-reduces gradients over
the network. `lrbook.distributed.run_cluster` starts such a cluster of processes on loopback
(127.0.0.1, free ports), runs a function in each, returns their results, and kills every process
before it returns, also when a worker fails or hangs past the timeout, so a notebook cannot be
left hanging or leave processes behind (the unit tests check both). Here
{glue:text}`mw_workers` workers train the book's CNN for {glue:text}`mw_epochs` epochs with a
global batch of {glue:text}`base_batch_g`.
""")
code('''
t0 = time.perf_counter()
cluster = distributed.run_cluster(
    "lrbook.distributed:mnist1d_worker", workers=cluster_workers, timeout=900,
    kwargs={"epochs": cluster_epochs, "n_train": n_train, "global_batch_size": base_batch,
            "learning_rate": 0.05, "momentum": momentum})
mw_seconds = time.perf_counter() - t0
mw = pd.DataFrame([r.value | {"seconds": r.seconds} for r in cluster]).set_index("task")
display(mw[["num_replicas", "test_accuracy", "weights_digest", "seconds"]])

digests = set(mw.weights_digest)
assert len(digests) == 1, "synchronous workers must end with bit-identical weights"
assert all(l == mw.loss.iloc[0] for l in mw.loss), "and see the same global loss at every epoch"


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:   # a reaped-but-listed zombie does not count
        return fh.read().split(")")[-1].split()[0] != "Z"


assert not any(alive(p) for p in distributed.STARTED_PIDS), "no cluster process may outlive run_cluster"

if show_fit_failure:
    try:
        distributed.run_cluster("lrbook.distributed:mnist1d_worker", workers=cluster_workers, timeout=900,
                                kwargs={"epochs": 1, "n_train": 512, "use_fit": True})
        fit_sentence = ("In this Keras, `model.fit` also runs under `MultiWorkerMirroredStrategy`: the custom "
                        "loop is no longer needed.")
    except distributed.WorkerError as err:
        last = [line for line in str(err).splitlines() if "Error" in line or "PerReplica" in line][-1]
        fit_sentence = (f"In Keras {keras.__version__}, `model.fit` itself does not run under "
                        f"`MultiWorkerMirroredStrategy`: the worker stops with `{last.strip()[:90]}…` "
                        "(keras-team/keras#20585), which is why `mnist1d_worker` uses a custom training "
                        "loop: `strategy.run` of a step that calls the Keras model and optimizer.")
    assert not any(alive(p) for p in distributed.STARTED_PIDS)
else:
    fit_sentence = ("`mnist1d_worker` uses a custom training loop, because `model.fit` under "
                    "`MultiWorkerMirroredStrategy` fails in Keras 3.15 (keras-team/keras#20585; the full "
                    "profile of this page runs it to show the error).")

''')
code('''
glue("mw_workers", cluster_workers)
glue("mw_epochs", cluster_epochs)
glue("mw_acc", float(mw.test_accuracy.iloc[0]))
glue("mw_seconds", mw_seconds)
glue("mw_digest", Text(next(iter(digests))[:12]))
glue("fit_sentence", Markdown(fit_sentence));
''', ["remove-cell"])
md(r"""
Both workers finished with bit-identical weights (SHA-256 digest beginning {glue:text}`mw_digest`) and
{glue:text}`mw_acc:.3f` test accuracy, in {glue:text}`mw_seconds:.0f` s of wall time, most of it
spent starting processes and importing TensorFlow. {glue:md}`fit_sentence`
""")

# ----------------------------------------------------------------------------- 4. scaling rule
md(r"""
## The learning-rate scaling rule

A synchronous job with more workers has a larger global batch, so each epoch has fewer steps.
Goyal et al. {footcite:p}`goyal2017accurate` trained ResNet-50 on ImageNet with batches up to 8,192 with no
loss of accuracy using two rules: **linear scaling** (multiply the batch size by $k$, multiply the
learning rate by $k$; `lrbook.distributed.linear_scaling`) and **gradual warmup** (start at the
base rate and ramp linearly to $k$ times it over the first epochs, here
{glue:text}`warmup_epochs_g`, with `lrbook.schedules.Warmup`). The reasoning: $k$ small steps of
size $\eta$ move the weights about as far as one step of size $k\eta$ on $k$ times the data, as long
as the gradient changes little over those steps, which fails early in training (hence warmup) and
for very large $k$.

The base learning rate is tuned first, at batch {glue:text}`base_batch_g`, by a sweep over
{glue:text}`base_lr_grid` on the validation split; then every batch size gets the same epoch
budget ({glue:text}`epochs_g`) under three rules: the unscaled base rate, the linearly scaled rate,
and the scaled rate with warmup. A fourth arm is the yardstick for all three: the best constant
rate for that batch size, found by its own sweep over {glue:text}`big_lr_grid`, i.e. the best any
rule could have picked. Every arm runs {glue:text}`seeds_g` seeds from the same initial weights.
""")
code('''
def sgd(lr):
    return lambda: keras.optimizers.SGD(lr, momentum=momentum)


build = lambda: models.cnn1d(ds.input_shape)
sweep = training.run_experiment(build, {f"{lr:g}": training.Arm(sgd(lr)) for lr in base_lrs}, ds, seeds=[0],
                                epochs=epochs, batch_size=base_batch, evaluate_test=False, progress=False)
sweep_val = sweep.groupby("arm", sort=False).val_accuracy.last()
base_lr = float(sweep_val.idxmax())
print("validation accuracy by base learning rate:", sweep_val.round(3).to_dict(), "-> base_lr =", base_lr)


def steps_per_epoch(batch):
    return math.ceil(len(ds.y_train) / batch)


arms = {f"{base_batch}": training.Arm(sgd(base_lr), batch_size=base_batch)}
swept_lr = {}
for b in big_batches:
    scaled = distributed.linear_scaling(base_lr, base_batch, b)
    warm = schedules.Warmup(scaled, warmup_steps=warmup_epochs * steps_per_epoch(b),
                            initial_learning_rate=base_lr, shift=False)
    arms[f"{b} unscaled"] = training.Arm(sgd(base_lr), batch_size=b)
    arms[f"{b} linear"] = training.Arm(sgd(scaled), batch_size=b)
    arms[f"{b} linear + warmup"] = training.Arm(lambda w=warm: keras.optimizers.SGD(w, momentum=momentum),
                                                batch_size=b)
    big_sweep = training.run_experiment(build, {f"{lr:g}": training.Arm(sgd(lr), batch_size=b) for lr in big_lrs},
                                        ds, seeds=[0], epochs=epochs, evaluate_test=False, progress=False)
    swept_lr[b] = float(big_sweep.groupby("arm", sort=False).val_accuracy.last().idxmax())
    arms[f"{b} swept"] = training.Arm(sgd(swept_lr[b]), batch_size=b)
scaling = training.run_experiment(build, arms, ds, seeds=range(seeds), epochs=epochs, batch_size=base_batch,
                                  progress=False)
table = training.compare(scaling, "test_accuracy", baseline=f"{base_batch}")
table["batch"] = [int(a.split()[0]) for a in table.index]
table["learning rate"] = [base_lr if ("unscaled" in a or " " not in a)
                          else swept_lr[int(a.split()[0])] if "swept" in a
                          else distributed.linear_scaling(base_lr, base_batch, int(a.split()[0]))
                          for a in table.index]
table["steps"] = [epochs * steps_per_epoch(b) for b in table.batch]
display(table[["batch", "learning rate", "steps", "mean", "std", "n", f"p_vs_{base_batch}"]])
''')
code('''
fig, ax = plt.subplots(figsize=(7.5, 4.2))
base_row = table.loc[f"{base_batch}"]
ax.axhspan(base_row["mean"] - base_row["std"], base_row["mean"] + base_row["std"], color="0.85",
           label=f"batch {base_batch}, η = {base_lr:g} (mean ± std)")
offsets = {"unscaled": -0.09, "linear": -0.03, "linear + warmup": 0.03, "swept": 0.09}
for i, (rule, off) in enumerate(offsets.items()):
    sub = table.loc[[f"{b} {rule}" for b in big_batches]]
    xs = np.array(big_batches) * (1 + off)
    ax.errorbar(xs, sub["mean"], yerr=sub["std"], fmt="o-", capsize=4, color=f"C{i}", label=rule)
ax.errorbar([base_batch], [base_row["mean"]], yerr=[base_row["std"]], fmt="s", color="k", capsize=4)
ax.set(xscale="log", xlabel="global batch size (log scale)", ylabel=f"test accuracy after {epochs} epochs",
       title="Linear scaling rule, with and without warmup (mean ± std over seeds)",
       xlim=(base_batch / 1.6, max(big_batches) * 1.6))
ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
ax.set_xticks([base_batch] + big_batches, [str(b) for b in [base_batch] + big_batches])
ax.legend(loc="lower left", fontsize=9)
ax.grid(alpha=0.3)
plt.show()

''')
code('''
top = max(big_batches)
acc = lambda arm: table.loc[arm, "mean"]
rules = ["unscaled", "linear", "linear + warmup"]
best_rule = max(rules, key=lambda r: acc(f"{top} {r}"))
p_warm = stats.welch_t_test(
    scaling[(scaling.arm == f"{top} linear + warmup") & (scaling.epoch == epochs)].test_accuracy,
    scaling[(scaling.arm == f"{top} unscaled") & (scaling.epoch == epochs)].test_accuracy)[2]
gap = acc(f"{base_batch}") - acc(f"{top} {best_rule}")
p_gap = table.loc[f"{top} {best_rule}", f"p_vs_{base_batch}"]
glue("base_lr_grid", Text(", ".join(f"{lr:g}" for lr in base_lrs)))
glue("big_lr_grid", Text(", ".join(f"{lr:g}" for lr in big_lrs)))
above = [lr for lr in base_lrs if lr > base_lr]
glue("sc_edge_sentence", Text(
    f"the next rate of the base sweep, {min(above):g}, reached only {sweep_val[f'{min(above):g}']:.2f} "
    "validation accuracy" if above else
    "the base sweep's best rate is its largest, so where the edge lies is not known from it"))
glue("base_lr", base_lr)
glue("epochs_g", epochs)
glue("seeds_g", seeds)
glue("warmup_epochs_g", warmup_epochs)
glue("sc_base", stats.format_mean_std(base_row["mean"], base_row["std"]))
glue("sc_top", top)
glue("sc_top_steps", int(epochs * steps_per_epoch(top)))
glue("sc_base_steps", int(epochs * steps_per_epoch(base_batch)))
glue("sc_top_lr", distributed.linear_scaling(base_lr, base_batch, top))
for rule in offsets:
    key = rule.replace(" + ", "_").replace(" ", "_")
    glue(f"sc_{key}", stats.format_mean_std(acc(f"{top} {rule}"), table.loc[f"{top} {rule}", "std"]))
glue("sc_best_rule", Text(best_rule))
glue("sc_p_warm", p_warm)
glue("sc_gap", gap * 100)
glue("sc_p_gap", p_gap)
if p_gap < 0.05 and gap > 0:
    verdict = (f"so at batch {top} even the best rule loses accuracy against batch {base_batch}: "
               "this is where the rule breaks here")
else:
    verdict = (f"which is within noise of batch {base_batch}: the rule holds up to batch {top} here")
glue("sc_verdict", Text(verdict))
glue("sc_swept_lr", swept_lr[top])
glue("sc_swept_ratio", swept_lr[top] / base_lr)
glue("sc_linear_ratio", top / base_batch)
glue("sc_swept_gap", (acc(f"{base_batch}") - acc(f"{top} swept")) * 100)
p_swept = table.loc[f"{top} swept", f"p_vs_{base_batch}"]
glue("sc_p_swept", p_swept)
glue("sc_swept_verdict", Text(
    f"so even the best constant rate for batch {top} cannot make up for the missing steps"
    if p_swept < 0.05 and acc(f"{base_batch}") > acc(f"{top} swept") else
    f"so a well-chosen rate does make batch {top} as good as batch {base_batch}: the loss above is the rule's"))
if len(big_batches) > 1:
    mid = min(big_batches)
    glue("sc_mid_sentence", Text(
        f"At batch {mid} ({epochs * steps_per_epoch(mid)} steps) the scaled rules reach "
        f"{acc(f'{mid} linear'):.3f} (linear) and {acc(f'{mid} linear + warmup'):.3f} (with warmup) "
        f"against {acc(f'{mid} unscaled'):.3f} unscaled."))
else:
    glue("sc_mid_sentence", Text(""))
''', ["remove-cell"])
md(r"""
The base rate picked by the sweep is $\eta =$ {glue:text}`base_lr:g`, which gives
{glue:text}`sc_base` test accuracy at batch {glue:text}`base_batch_g`
({glue:text}`sc_base_steps` steps). {glue:text}`sc_mid_sentence` At batch {glue:text}`sc_top` the
same {glue:text}`epochs_g` epochs are only {glue:text}`sc_top_steps` steps: the unscaled rate reaches
{glue:text}`sc_unscaled`, the linearly scaled rate ($\eta =$ {glue:text}`sc_top_lr:g`)
{glue:text}`sc_linear`, and the scaled rate with warmup {glue:text}`sc_linear_warmup` (Welch
$p =$ {glue:text}`sc_p_warm:.2g` against unscaled). The best of the three rules there,
{glue:text}`sc_best_rule`, is {glue:text}`sc_gap:.1f` points behind batch {glue:text}`base_batch_g`
($p =$ {glue:text}`sc_p_gap:.2g`), {glue:text}`sc_verdict`.

The direct sweep says why. The best constant rate at batch {glue:text}`sc_top` is $\eta =$
{glue:text}`sc_swept_lr:g`, {glue:text}`sc_swept_ratio:.2g` times the base rate where the linear rule
asks for {glue:text}`sc_linear_ratio:.0f` times, and it reaches {glue:text}`sc_swept`
({glue:text}`sc_swept_gap:.1f` points behind batch {glue:text}`base_batch_g`, $p =$
{glue:text}`sc_p_swept:.2g`), {glue:text}`sc_swept_verdict`. Two things limit the rule here. The
base rate that is best at the small batch already sits near the largest rate SGD with momentum
can take on this loss surface ({glue:text}`sc_edge_sentence`; chapter 3's range test measures
where that edge is), so multiplying
it by 4 or 16 crosses the edge, and warmup only delays the divergence: the rule assumes the
small-batch rate is far from that limit, as it was for Goyal et al.'s ResNet-50 with batch norm.
And at the largest batch an epoch is a handful of steps; no step size turns a few dozen updates
into hundreds (Goyal et al.'s 8k batch still took about 14,000 steps). Where the rule holds and
where it breaks moves with the data set, the model and the step budget, which is why it is worth
measuring on your own task before renting the cluster.
""")

# ----------------------------------------------------------------------------- 5. asynchronous
md(r"""
## Asynchronous training and stale gradients

In asynchronous data parallelism a **parameter server** holds the weights; each worker fetches
them, computes a gradient on its batch and sends it back, and the server applies it at once,
without waiting for the other workers. Nobody waits for the slowest worker, but a gradient can
arrive after other workers' updates have already changed the weights it was computed at: it is
**stale**. TensorFlow's engine for this is `ParameterServerStrategy` with a `ClusterCoordinator`
(Keras 3's `fit` does not drive it, so the step is a custom loop again). `run_cluster(...,
ps=1)` starts {glue:text}`ps_workers` worker processes and a parameter server on loopback, and a
chief process that schedules {glue:text}`ps_steps_g` training steps on whichever worker is free;
a counter on the parameter server records, for every update, how many other updates landed
between the worker's read and its own write.
""")
code('''
t0 = time.perf_counter()
(ps_result,) = distributed.run_cluster(
    "lrbook.distributed:ps_worker", workers=cluster_workers, ps=1, timeout=900,
    kwargs={"steps": ps_steps, "n_train": n_train, "batch_size": base_batch, "learning_rate": 0.05,
            "momentum": momentum})
ps_seconds = time.perf_counter() - t0
psr = ps_result.value
assert psr["variable_devices"] == ["/job:ps/replica:0/task:0/device:CPU:0"], "the weights live on the ps"
assert not any(alive(p) for p in distributed.STARTED_PIDS)
staleness = np.array(psr["staleness"])
print(f"{psr['steps']} asynchronous steps in {psr['seconds']:.1f} s on {psr['workers']} workers; "
      f"test accuracy {psr['test_accuracy']:.3f}; staleness counts:",
      dict(zip(*np.unique(staleness, return_counts=True))))

''')
code('''
glue("ps_workers", cluster_workers)
glue("ps_steps_g", ps_steps)
glue("ps_acc", psr["test_accuracy"])
glue("ps_rate", psr["steps"] / psr["seconds"])
glue("ps_stale_frac", float(np.mean(staleness > 0)) * 100)
glue("ps_stale_max", int(staleness.max()))
glue("ps_stale_mean", float(staleness.mean()));
''', ["remove-cell"])
md(r"""
The cluster ran {glue:text}`ps_rate:.0f` steps per second and reached {glue:text}`ps_acc:.3f` test
accuracy. Only {glue:text}`ps_stale_frac:.1f`% of the updates were stale here (at most by
{glue:text}`ps_stale_max` steps, {glue:text}`ps_stale_mean:.2f` on average): with two workers sharing
two cores and a step that takes milliseconds, the workers rarely overlap. Staleness grows with the
number of workers and with how uneven they are, up to roughly one step per other worker, and real
clusters of hundreds of workers see delays of tens of steps. So the rest of this section controls
the delay exactly instead of hoping for it.

**What a delay does.** On a quadratic with curvature $h$, gradient descent with a gradient
$k$ steps old is $x_{t+1} = x_t - \eta h\, x_{t-k}$. It converges if and only if
$\eta h < 2 \sin\!\big(\pi / (2(2k+1))\big)$ (a classical result on delay difference equations;
`lrbook.distributed.delayed_gd_threshold`, checked in the unit tests against the eigenvalues of the
recursion). For $k = 0$ that is the familiar $\eta < 2/h$; for large $k$ it shrinks like $1/k$: a
delay of $k$ steps divides the largest stable learning rate by about $k$. The left panel below
draws that bound and checks it by simulation (`delayed_gd`). The right panel trains the book's CNN
on MNIST-1D with `lrbook.distributed.train_delayed_sgd`: SGD (momentum
{glue:text}`delay_momentum_g`) whose every gradient is computed at the weights of $k$ steps before,
from the same initial weights, for {glue:text}`delay_epochs_g` epoch(s) at batch
{glue:text}`base_batch_g`, over a grid of learning rates.
""")
code('''
ks = np.arange(0, max(delays) + 1)
bound = np.array([distributed.delayed_gd_threshold(int(k)) for k in ks])
for k in delays:   # the bound, checked by simulation just below and just above it
    a = distributed.delayed_gd_threshold(k)
    assert abs(distributed.delayed_gd(1.0, 0.97 * a, k, 4000)[-1]) < 1.0
    assert abs(distributed.delayed_gd(1.0, 1.03 * a, k, 4000)[-1]) > 1.0

keras.utils.set_random_seed(0)
w0 = build().get_weights()
rows = []
for k in delays:
    for lr in delay_lrs:
        keras.backend.clear_session()
        model = build()
        model.set_weights(w0)
        out = distributed.train_delayed_sgd(model, ds.x_train, ds.y_train, learning_rate=lr, delay=k,
                                            epochs=delay_epochs, batch_size=base_batch, seed=0,
                                            momentum=delay_momentum)
        val = float("nan") if out["diverged"] else float(np.mean(
            np.argmax(model.predict(ds.x_val, batch_size=512, verbose=0), -1) == ds.y_val))
        rows.append({"delay": k, "lr": lr, "val_accuracy": val, "diverged": out["diverged"]})
delay_df = pd.DataFrame(rows)
grid_acc = delay_df.pivot(index="delay", columns="lr", values="val_accuracy")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 1.25]})
ax0.plot(ks, bound, "o-", ms=4, label=r"bound $2\\sin(\\pi / (2(2k+1)))$")
ax0.plot(ks[1:], np.pi / (2 * (2 * ks[1:] + 1)) * 2, ":", color="0.4", label=r"$\\approx \\pi / (2k+1)$")
ax0.set(xlabel="gradient delay k (steps)", ylabel="largest stable η · h (log scale)", yscale="log",
        title="Quadratic: the stable step shrinks like 1/k")
ax0.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
ax0.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
ax0.set_yticks([0.1, 0.2, 0.5, 1, 2])
ax0.grid(alpha=0.3)
ax0.legend(fontsize=9)
shown = np.ma.masked_invalid(grid_acc.to_numpy())
cmap = plt.get_cmap("viridis").copy()
cmap.set_bad("0.75")
im = ax1.imshow(shown, aspect="auto", cmap=cmap, vmin=0.1, vmax=1.0)
ax1.set_xticks(range(len(delay_lrs)), [f"{lr:g}" for lr in delay_lrs])
ax1.set_yticks(range(len(delays)), [str(k) for k in delays])
for i in range(shown.shape[0]):
    for j in range(shown.shape[1]):
        v = grid_acc.iloc[i, j]
        ax1.text(j, i, "div." if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center",
                 color="white" if np.isfinite(v) and v < 0.5 else "black", fontsize=8)
ax1.set(xlabel=f"learning rate η (SGD, momentum {delay_momentum:g})", ylabel="gradient delay k (steps)",
        title=f"MNIST-1D CNN: validation accuracy after {delay_epochs} epoch(s)")
fig.colorbar(im, ax=ax1, label="validation accuracy (grey: diverged)")
plt.tight_layout()
plt.show()

''')
code('''
best_lr_at = {}
for k in delays:
    accs = grid_acc.loc[k]
    best_lr_at[k] = float(accs.idxmax()) if accs.notna().any() else float("nan")
kmax = max(delays)
trainable = lambda k: [lr for lr in delay_lrs if np.isfinite(grid_acc.loc[k, lr])
                       and grid_acc.loc[k, lr] >= 0.9 * np.nanmax(grid_acc.to_numpy())]
largest = {k: max(trainable(k)) if trainable(k) else float("nan") for k in delays}
glue("delay_epochs_g", delay_epochs)
glue("delay_kmax", kmax)
glue("delay_best_0", best_lr_at[0])
glue("delay_best_kmax", best_lr_at[kmax])
glue("delay_acc_0", float(np.nanmax(grid_acc.loc[0])))
glue("delay_acc_kmax", float(np.nanmax(grid_acc.loc[kmax])) if grid_acc.loc[kmax].notna().any() else float("nan"))
glue("delay_n_div_0", int(delay_df[(delay_df.delay == 0)].diverged.sum()))
glue("delay_n_div_kmax", int(delay_df[(delay_df.delay == kmax)].diverged.sum()))
glue("delay_n_lrs", len(delay_lrs))
glue("delay_bound_ratio", distributed.delayed_gd_threshold(0) / distributed.delayed_gd_threshold(kmax))
glue("delay_large_0", largest[0])
glue("delay_large_kmax", largest[kmax])
glue("delay_momentum_g", delay_momentum)
glue("delay_large_sentence", Text(
    f"drops from {largest[0]:g} to {largest[kmax]:g}" if np.isfinite(largest[kmax]) else
    f"is {largest[0]:g} without delay, and with a delay of {kmax} no learning rate of the grid gets there"))
''', ["remove-cell"])
md(r"""
Without delay the best of the {glue:text}`delay_n_lrs` learning rates is $\eta =$
{glue:text}`delay_best_0:g` ({glue:text}`delay_acc_0:.3f` validation accuracy), and
{glue:text}`delay_n_div_0` of them diverge; with a delay of {glue:text}`delay_kmax` steps the best is
$\eta =$ {glue:text}`delay_best_kmax:g` ({glue:text}`delay_acc_kmax:.3f`), and
{glue:text}`delay_n_div_kmax` diverge. The largest learning rate within 90% of the grid's best
accuracy {glue:text}`delay_large_sentence`; for plain gradient descent on a quadratic the bound
falls by a factor of {glue:text}`delay_bound_ratio:.0f` between these two delays (momentum, used
here as in the rest of the book, makes delays hurt sooner still). The practical reading:
asynchronous training with many workers needs a smaller learning rate (or staleness-aware
corrections) than the synchronous job with the same batch, which is one reason large-scale
training moved to synchronous all-reduce.
""")

# ----------------------------------------------------------------------------- 6. model parallelism
md(r"""
## Model parallelism

Data parallelism copies the whole model to every device; when the model itself does not fit,
it has to be split. **Tensor (layer) parallelism** splits one layer's weight matrix across devices:
each device multiplies the input by its block of columns, and the blocks of the output are
concatenated (or, for a row split, summed). **Pipeline parallelism** puts consecutive layers on
different devices and streams micro-batches through them. Keras 3 describes such splits with
`keras.distribution` (a `DeviceMesh`, a `LayoutMap` from weight names to shardings and
`ModelParallel`). The cell below sets such a layout on the TensorFlow backend and looks at where
the weight went, then does both splits by hand with `tf.device` on two logical devices and checks
that they compute what the unsplit model computes.
""")
code('''
mesh = keras.distribution.DeviceMesh((2,), ["model"], keras.distribution.list_devices("cpu")[:2])
layout_map = keras.distribution.LayoutMap(mesh)
layout_map["tp_dense.*kernel"] = (None, "model")      # split the kernel's columns over "model"
keras.distribution.set_distribution(keras.distribution.ModelParallel(layout_map=layout_map,
                                                                     batch_dim_name=None))
probe = keras.layers.Dense(8, name="tp_dense")
probe.build((None, 4))
kernel_device = probe.kernel.value.device
kernel_shape = tuple(probe.kernel.value.shape)
keras.distribution.set_distribution(None)               # back to the default: one device
sharded = "/device:CPU:1" in kernel_device or kernel_shape != (4, 8)
print(f"kernel of shape {kernel_shape} on {kernel_device}: {'sharded' if sharded else 'not sharded'}")

# Tensor parallelism by hand: a 256 x 256 Dense layer, its columns split across two devices.
rng = np.random.default_rng(0)
x_tp = rng.normal(size=(64, 256)).astype("float32")
w_tp = rng.normal(size=(256, 256)).astype("float32") / 16
with tf.device(DEVICES[0]):
    left = tf.matmul(x_tp, w_tp[:, :128])
with tf.device(DEVICES[-1]):
    right = tf.matmul(x_tp, w_tp[:, 128:])
tp_err = float(np.max(np.abs(tf.concat([left, right], axis=1).numpy() - x_tp @ w_tp)))
assert tp_err < 1e-4, "the column-split layer must equal the whole layer"

# Pipeline parallelism by hand: the CNN's first half on one device, the rest on the other.
keras.utils.set_random_seed(0)
cnn = models.cnn1d(ds.input_shape)
half = len(cnn.layers) // 2
h = tf.constant(ds.x_test[:128])
for i, layer in enumerate(cnn.layers[1:], start=1):
    with tf.device(DEVICES[0] if i < half else DEVICES[-1]):
        h = layer(h)
    if i == half - 1:
        stage_one_device = h.device
pipe_err = float(np.max(np.abs(h.numpy() - cnn(ds.x_test[:128]).numpy())))
assert pipe_err < 1e-5, "the two-stage pipeline must equal the whole model"
assert "CPU:0" in stage_one_device

''')
code('''
glue("mp_device", Text(kernel_device.split("/")[-1] if kernel_device else "?"))
glue("mp_shape", Text(" × ".join(str(d) for d in kernel_shape)))
glue("mp_sentence", Markdown(
    "Keras sharded the kernel as the layout asked." if sharded else
    "The layout was accepted and ignored: the whole kernel sits on one device. In Keras "
    f"{keras.__version__} the TensorFlow backend's distribution module is a prototype (its source "
    "opens with \\"DO NOT USE\\", and `distribute_value` is a stub); `keras.distribution` shards "
    "weights on the JAX backend."))
glue("tp_err", tp_err)
glue("pipe_err", pipe_err)
glue("pipe_layers", len(cnn.layers) - 1)
glue("pipe_split", half - 1);
''', ["remove-cell"])
md(r"""
The `ModelParallel` layout asked for the $4 \times 8$ kernel's columns to be split over two
devices; the kernel came out of shape {glue:text}`mp_shape` on `{glue:text}`mp_device``.
{glue:md}`mp_sentence` On TensorFlow itself, splits are written with `tf.device` (or DTensor):
the column-split layer above matches the whole layer to {glue:text}`tp_err:.1e`, and the
two-stage pipeline (layers 1 to {glue:text}`pipe_split` of {glue:text}`pipe_layers` on the first
device, the rest on the second) matches the whole CNN to {glue:text}`pipe_err:.1e`. A real pipeline
also splits each batch into micro-batches so that both stages work at once (GPipe); on logical CPU
devices sharing two cores there is nothing to gain in speed, only the mechanism to see. For models
that fit on one device, which includes every model in this book, data parallelism is the tool.
""")

# ----------------------------------------------------------------------------- 7. GPU
md(r"""
## Building this book on a GPU

Every chapter runs the same code on a GPU; only the TensorFlow build and, optionally, the
precision change:

- `./book.sh build` detects an NVIDIA GPU (`nvidia-smi -L`, or `LRBOOK_DEVICE=gpu|cpu` to force
  it) and then installs `tensorflow[and-cuda]` at the version `requirements.txt` pins for
  `tensorflow-cpu` (`python -m lrbook.book requirements --device gpu` prints the file it installs;
  here its TensorFlow line reads `{glue:text}`gpu_req``). Nothing else changes: the same profiles,
  parameters and commands.
- `LRBOOK_MIXED_PRECISION=1` makes every chapter's `lrbook.setup` set Keras's `mixed_float16`
  policy; the book's models keep their logits (and so the loss) in float32. It pays off on GPUs
  with tensor cores; on a CPU it is slower. This build ran in {glue:text}`precision`.
- `.github/workflows/book-gpu.yml` is a GitHub Actions workflow for a self-hosted runner with a
  GPU (labels `self-hosted, linux, gpu`): it runs `./book.sh test` and `./book.sh build` and keeps
  the site as an artifact. The manifest on the results page records the device and precision of
  every build.

This page was computed on {glue:text}`device_g`.
""")
code('''
from lrbook import book

gpu_line = next(l for l in book.requirements("gpu").splitlines() if l.startswith("tensorflow"))
glue("gpu_req", Text(gpu_line))
glue("precision", Text(info["precision"]))
glue("device_g", Text(info["device"]))
''', ["remove-cell"])

# ----------------------------------------------------------------------------- summary
code('''
from lrbook.notebook import glue_headlines, headline

headline("Synchronous data parallelism = one big batch (largest relative gradient difference)",
         f"{max(grad_error.values()):.1e} with {', '.join(map(str, replica_counts))} replicas", n=1,
         note=f"MirroredStrategy on logical CPU devices, batch {base_batch}")
headline(f"Linear scaling rule at batch {top} (test accuracy)",
         f"unscaled {table.loc[f'{top} unscaled', 'mean']:.3f}, linear {table.loc[f'{top} linear', 'mean']:.3f}, "
         f"linear + warmup {table.loc[f'{top} linear + warmup', 'mean']:.3f} vs batch {base_batch}: "
         f"{base_row['mean']:.3f}", n=seeds,
         note=f"MNIST-1D cnn1d, SGD momentum {momentum:g}, {epochs} epochs, base η {base_lr:g}")
headline(f"Stale gradients: best learning rate at delay 0 vs {kmax}",
         f"{best_lr_at[0]:g} vs {best_lr_at[kmax]:g} (quadratic bound ratio {distributed.delayed_gd_threshold(0) / distributed.delayed_gd_threshold(kmax):.0f}×)",
         n=1, note=f"MNIST-1D cnn1d, SGD momentum {delay_momentum:g}, {delay_epochs} epoch(s)")
glue_headlines()
glue("runtime_s", time.perf_counter() - T_START)
glue("runtime_profile", profile)
glue("runtime_device", info["device"])
''', ["remove-cell"])
md(r"""
## Summary

- A synchronous data-parallel step is the single-device step on the global batch: the all-reduced
  gradient matched to {glue:text}`grad_err_max:.1e`. Replicas on shared CPU cores gave a
  {glue:text}`timing_speedup:.2f`× speed-up; replicas pay off when each has its own accelerator.
- `lrbook.distributed.run_cluster` runs real `MultiWorkerMirroredStrategy` and
  `ParameterServerStrategy` clusters on loopback and always cleans up; the synchronous workers
  ended bit-identical.
- Linear scaling with warmup at batch {glue:text}`sc_top` reached {glue:text}`sc_linear_warmup`
  against {glue:text}`sc_unscaled` unscaled and {glue:text}`sc_base` at batch
  {glue:text}`base_batch_g`; {glue:text}`sc_verdict`.
- A gradient {glue:text}`delay_kmax` steps stale moved the best learning rate from
  {glue:text}`delay_best_0:g` to {glue:text}`delay_best_kmax:g`; the stable step shrinks like $1/k$.
- Keras 3's model-parallel layouts shard on JAX; on TensorFlow, split by hand with `tf.device`.

*This page was computed with the {glue:text}`runtime_profile` profile on {glue:text}`runtime_device`
in {glue:text}`runtime_s:.0f` s.*

## References

```{footbibliography}
```
""")
write(cells, NAME)
