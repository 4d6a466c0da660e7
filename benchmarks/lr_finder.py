"""Benchmark of lrbook.lr_finder: its cost, and its suggestions against an LR sweep.

For the MNIST-1D CNN (``lrbook.models.cnn1d``) without and with batch norm:

1. **Sweep**: ``lrbook.training.run_experiment`` trains one arm per learning
   rate (12 log-spaced, constant LR, SGD with momentum 0.9) for a fixed epoch
   budget, every arm from the same initial weights, for each seed. The sweep's
   best LR is the one with the highest mean final test accuracy.
2. **Finder**: for each seed, the same initial weights, compiled with the same
   optimizer, go through ``lr_range_test`` (100 steps, batch 32).

Printed (JSON, on stdout) per model:

* ``finder_over_epoch``: finder wall time / one epoch's wall time (median
  epoch of the sweep, which runs a whole epoch per compiled call, validation
  included; ``finder_over_first_epoch`` compares with the first epoch, which
  like the finder includes tracing the train step);
* ``finder_over_per_step_epoch``: the same against a warm epoch of ``fit`` at
  ``steps_per_execution=1`` (one Python call per batch, the training loop the
  issue's target was set against), measured in the same run;
* ``sweep_over_finder``: the sweep's wall time / the finder's;
* ``ratio``: suggested LR / the sweep's best LR, per rule (geometric mean over
  seeds), the same for a naive finder reading Keras's running mean
  (``ratio_running_mean``), and the rule closest to the sweep's best.

Targets from the issue: finder <= 1 epoch; the best rule within 2x of the
sweep's best LR. The finder's cost is its steps (about 1.1 ms each here,
cheaper than a ``fit`` step) plus fixed costs that a warm epoch does not pay:
tracing the train step, instantiating the graph and building the optimizer's
variables (about 0.15 s for the plain CNN, 0.2 s with batch norm, on 2 CPU
cores). Against the compiled epoch (0.16 s) those fixed costs alone are about
one epoch, so ``finder_over_epoch`` stays above 1 there. Run ``python benchmarks/lr_finder.py`` (about 6 minutes on 2
CPU cores) or ``--quick`` (under a minute).

SGD with momentum 0.9 is the optimizer the range test was designed around
(Smith, 2017) and the one the book's schedule chapters use with one-cycle.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from lrbook.env import quiet_import_tensorflow

quiet_import_tensorflow()
import keras

from lrbook import data as lrdata
from lrbook import models
from lrbook.env import device_name, versions
from lrbook.lr_finder import lr_range_test
from lrbook.training import Arm, run_experiment, set_seed

MOMENTUM = 0.9


def _optimizer(lr=0.01):
    return keras.optimizers.SGD(learning_rate=float(lr), momentum=MOMENTUM)


def _geomean(values):
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")


def _finder(build, ds, seed, batch_size, num_steps, loss_source):
    """The range test on the sweep's initial weights for ``seed`` (run_experiment seeds, then builds)."""
    keras.backend.clear_session()
    set_seed(seed)
    model = models.compile_classifier(build(), _optimizer())
    t0 = time.perf_counter()
    result = lr_range_test(
        model,
        ds.x_train,
        ds.y_train,
        batch_size=batch_size,
        num_steps=num_steps,
        loss_source=loss_source,
        seed=seed,
    )
    return result, time.perf_counter() - t0


def bench_model(name, build, ds, *, lrs, seeds, epochs, batch_size, num_steps):
    print(
        f"[{name}] sweep: {len(lrs)} LRs x {len(seeds)} seeds x {epochs} epochs",
        file=sys.stderr,
    )
    arms = {f"{lr:.4g}": Arm(lambda lr=lr: _optimizer(lr)) for lr in lrs}
    t0 = time.perf_counter()
    df = run_experiment(
        build,
        arms,
        ds,
        seeds=seeds,
        epochs=epochs,
        batch_size=batch_size,
        progress=False,
    )
    sweep_s = time.perf_counter() - t0
    last = df[df.epoch == epochs]
    acc = last.groupby("arm", sort=False)["test_accuracy"].mean()
    loss = last.groupby("arm", sort=False)["test_loss"].mean()
    best_arm = acc.idxmax()
    best_lr = float(best_arm)
    epoch_s = (
        float(df[df.epoch > 1].epoch_time.median())
        if epochs > 1
        else float(df.epoch_time.median())
    )
    first_epoch_s = float(df[df.epoch == 1].epoch_time.median())
    # The same epoch with one Python call per batch (2 epochs, the second read).
    per_step = run_experiment(
        build,
        {best_arm: arms[best_arm]},
        ds,
        seeds=seeds[:1],
        epochs=2,
        batch_size=batch_size,
        steps_per_execution=1,
        progress=False,
    )
    per_step_epoch_s = float(per_step[per_step.epoch == 2].epoch_time.median())

    finder = {"batch": [], "running_mean": []}
    finder_s = []
    for seed in seeds:
        for source, results in finder.items():
            print(f"[{name}] finder seed={seed} loss_source={source}", file=sys.stderr)
            result, seconds = _finder(build, ds, seed, batch_size, num_steps, source)
            results.append(result)
            if source == "batch":
                finder_s.append(seconds)

    def ratios(results):
        per_seed = []
        for r in results:
            s = r.suggestions()
            try:  # the per-index variant of the gradient rule (older Lightning, torch-lr-finder)
                s["gradient_index"] = r.suggestion("gradient", wrt="index")
            except ValueError:
                s["gradient_index"] = float("nan")
            per_seed.append(s)
        return {
            m: _geomean([s[m] / best_lr for s in per_seed]) for m in per_seed[0]
        }, per_seed

    ratio, per_seed = ratios(finder["batch"])
    ratio_naive, per_seed_naive = ratios(finder["running_mean"])
    finite = {m: r for m, r in ratio.items() if math.isfinite(r)}
    best_rule = min(finite, key=lambda m: abs(math.log(finite[m]))) if finite else None
    finder_mean_s = float(np.mean(finder_s))
    return {
        "sweep": {
            "lrs": [float(lr) for lr in lrs],
            "final_test_accuracy": {k: round(float(v), 4) for k, v in acc.items()},
            "final_test_loss": {k: round(float(v), 4) for k, v in loss.items()},
            "best_lr": best_lr,
            "best_test_accuracy": round(float(acc.max()), 4),
            "wall_s": round(sweep_s, 2),
        },
        "epoch_s": round(epoch_s, 3),
        "first_epoch_s": round(first_epoch_s, 3),
        "per_step_epoch_s": round(per_step_epoch_s, 3),
        "finder_s": [round(s, 3) for s in finder_s],
        "finder_steps": [len(r.lrs) for r in finder["batch"]],
        "finder_stopped_early": [bool(r.stopped_early) for r in finder["batch"]],
        "finder_over_epoch": round(finder_mean_s / epoch_s, 3),
        "finder_over_first_epoch": round(finder_mean_s / first_epoch_s, 3),
        "finder_over_per_step_epoch": round(finder_mean_s / per_step_epoch_s, 3),
        "sweep_over_finder": round(sweep_s / finder_mean_s, 1),
        "suggestions": [
            {m: float(f"{lr:.4g}") for m, lr in s.items()} for s in per_seed
        ],
        "ratio": {m: float(f"{r:.3g}") for m, r in ratio.items()},
        "best_rule": best_rule,
        "best_rule_within_2x": bool(
            best_rule is not None and 0.5 <= ratio[best_rule] <= 2.0
        ),
        "suggestions_running_mean": [
            {m: float(f"{lr:.4g}") for m, lr in s.items()} for s in per_seed_naive
        ],
        "ratio_running_mean": {m: float(f"{r:.3g}") for m, r in ratio_naive.items()},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="6 LRs, 1 seed, 2 epochs (under a minute)"
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds (default 0 1; quick: 0)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epoch budget of the sweep (default 6; quick: 2)",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--num-steps", type=int, default=100, help="steps of the range test"
    )
    args = parser.parse_args(argv)

    seeds = args.seeds or ([0] if args.quick else [0, 1])
    epochs = args.epochs or (2 if args.quick else 6)
    lrs = np.geomspace(1e-3, 3.0, 6 if args.quick else 12)
    ds = lrdata.load("mnist1d")
    t0 = time.perf_counter()
    out = {
        "benchmark": "lr_finder",
        "quick": args.quick,
        "device": device_name(),
        "versions": versions(),
        "data": repr(ds),
        "optimizer": f"SGD(momentum={MOMENTUM}), constant LR",
        "batch_size": args.batch_size,
        "epochs": epochs,
        "seeds": seeds,
        "finder_num_steps": args.num_steps,
        "models": {},
    }
    variants = {
        "cnn1d": lambda: models.cnn1d(ds.input_shape),
        "cnn1d_batchnorm": lambda: models.cnn1d(ds.input_shape, norm="batch"),
    }
    for name, build in variants.items():
        out["models"][name] = bench_model(
            name,
            build,
            ds,
            lrs=lrs,
            seeds=seeds,
            epochs=epochs,
            batch_size=args.batch_size,
            num_steps=args.num_steps,
        )
    out["total_wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
