#!/usr/bin/env bash
# The wheel stands alone: build the sdist and the wheel from this checkout (isolated,
# as the package index will get them), check their metadata with twine, install the WHEEL
# with its declared dependencies (plus the tensorflow-cpu that requirements.txt pins: the
# package needs a TensorFlow but pins none) into a fresh virtual environment, and, from
# a folder where the checkout is not importable, import every module that needs only
# the declared dependencies, check that lrbook.search and lrbook.quantize (extras not
# installed here) fail with an ImportError naming their extra, and run a short smoke test.
#
#   tools/check_wheel.sh          PYTHON picks the interpreter (default python3);
#                                 KEEP_TMP=1 keeps the temp folder (dist/, venv/).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lrbook-wheel.XXXXXX")
if [ "${KEEP_TMP:-0}" = 1 ]; then echo "[wheel] keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi
SECONDS=0
PIP_Q=(-q --disable-pip-version-check)

echo "[wheel] building sdist and wheel"
"$PYTHON" -m venv "$TMP/tools"
"$TMP/tools/bin/python" -m pip install "${PIP_Q[@]}" build twine
"$TMP/tools/bin/python" -m build --outdir "$TMP/dist" "$ROOT" > "$TMP/build.log" 2>&1 \
  || { cat "$TMP/build.log"; exit 1; }
"$TMP/tools/bin/twine" check --strict "$TMP"/dist/*
WHEEL=$(ls "$TMP"/dist/lrbook-*.whl)
echo "[wheel] $(basename "$WHEEL") and $(cd "$TMP/dist" && ls ./*.tar.gz | xargs -n1 basename) in ${SECONDS}s"

TF=$(grep -E '^tensorflow-cpu==' "$ROOT/requirements.txt")
echo "[wheel] installing the wheel with its dependencies and $TF into a clean environment"
"$PYTHON" -m venv "$TMP/venv"
"$TMP/venv/bin/python" -m pip install "${PIP_Q[@]}" "$WHEEL" "$TF"
"$TMP/venv/bin/python" -m pip check

echo "[wheel] smoke test"
mkdir "$TMP/elsewhere" && cd "$TMP/elsewhere"
MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2 "$TMP/venv/bin/python" - "$ROOT" <<'PY'
import importlib
import pathlib
import sys

root = pathlib.Path(sys.argv[1]).resolve()
import lrbook

where = pathlib.Path(lrbook.__file__).resolve()
assert root not in where.parents, f"imported the checkout, not the wheel: {where}"
assert (where.parent / "py.typed").is_file(), "py.typed is missing from the installed package"
print(f"lrbook {lrbook.__version__} from {where.parent}")

MODULES = ["schedules", "annealing", "optimizers", "callbacks", "lr_finder", "training",
           "data", "models", "stats", "plotting"]
for name in MODULES:
    importlib.import_module(f"lrbook.{name}")
print("imported lrbook and", ", ".join(f"lrbook.{m}" for m in MODULES))

# The optional parts: without their extra, an ImportError that names it; `import *` works.
for name in ("search", "quantize"):
    try:
        importlib.import_module(f"lrbook.{name}")
    except ImportError as error:
        assert f"pip install 'lrbook[{name}]'" in str(error), error
        print(f"lrbook.{name} without its extra: ImportError naming lrbook[{name}]")
    else:
        raise AssertionError(f"lrbook.{name} imported, but its extra is not installed here")
exec("from lrbook import *", {})
print("from lrbook import * works with the declared dependencies alone")

import keras
import numpy as np

from lrbook import lr_range_test, models, optimizers, schedules

total = 40
one_cycle = schedules.OneCycle(0.1, total_steps=total)
lrs = [float(one_cycle(step)) for step in (0, total // 4, total // 2, total)]
# PyTorch's defaults: start at max_lr / 25, peak near 30% of the steps, end at max_lr / 25e4.
assert abs(lrs[0] - 0.1 / 25) < 1e-7, lrs
assert max(lrs) <= 0.1 + 1e-7 and lrs[-1] < lrs[0], lrs
print("OneCycle at steps 0, 10, 20, 40:", [f"{v:.3g}" for v in lrs])

rng = np.random.default_rng(0)
x = rng.normal(size=(160, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int32")


def tiny():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(2)])
    return model


model = tiny()
model.compile(optimizer=optimizers.SGD(one_cycle, momentum=one_cycle.momentum_schedule()),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)  # 40 steps: the whole cycle
loss = history.history["loss"][-1]
assert np.isfinite(loss), loss
print(f"one epoch with OneCycle + momentum cycling: loss {loss:.3f}")

model = tiny()
model.compile(optimizer=keras.optimizers.SGD(momentum=0.9),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
before = [w.copy() for w in model.get_weights()]
result = lr_range_test(model, x, y, batch_size=16, start_lr=1e-4, end_lr=1.0, num_steps=30)
assert len(result.lrs) == len(result.losses) > 0
assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights())), "weights not restored"
print(f"lr_range_test: {len(result.lrs)} steps, valley at {result.suggestion('valley'):.3g}")
PY
echo "[wheel] passed in ${SECONDS}s"
