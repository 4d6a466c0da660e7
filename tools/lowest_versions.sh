#!/usr/bin/env bash
# The versions lrbook claims are the versions it is tested with: install every direct
# dependency at its floor (tools/constraints-lowest.txt, which also names the TensorFlow
# that pairs with that Keras) into a fresh virtual environment, install this checkout
# without dependencies, and run the package's unit tests, the ones that need nothing
# beyond lrbook's declared dependencies (keras-tuner and LiteRT are the book's, not the
# package's).
#
#   tools/lowest_versions.sh [CONSTRAINTS]     default: tools/constraints-lowest.txt
#
# The same script tests any pinned set: tools/lowest_versions.sh tools/colab-versions.txt
# runs the unit tests at Colab's versions. Extra pytest arguments go in $PYTEST_ARGS.
# PYTHON picks the interpreter (default python3); KEEP_VENV=1 keeps the temp folder.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PINS=$(realpath "${1:-$ROOT/tools/constraints-lowest.txt}")
PYTHON=${PYTHON:-python3}
TESTS=(tests/test_annealing.py tests/test_schedules.py tests/test_optimizers.py
       tests/test_callbacks.py tests/test_lr_finder.py tests/test_training.py
       tests/test_stats.py tests/test_data.py tests/test_models.py tests/test_distill.py
       tests/test_env.py tests/test_regularization.py tests/test_pruning.py
       tests/test_superconvergence.py tests/test_tuning.py tests/test_doctests.py)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/lrbook-pins.XXXXXX")
if [ "${KEEP_VENV:-0}" = 1 ]; then echo "[pins] keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi
SECONDS=0
echo "[pins] $PINS"
"$PYTHON" -m venv "$TMP/venv"
PY="$TMP/venv/bin/python"
"$PY" -m pip install -q --disable-pip-version-check --upgrade pip
# Every pinned line exactly (-r), and nothing else may move them (-c); pytest is the test runner's.
"$PY" -m pip install -q --disable-pip-version-check -r "$PINS" -c "$PINS" "pytest>=8"
# This checkout, without dependencies, built from a copy (pip builds in the source folder).
mkdir "$TMP/src" && cp -r "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/LICENSE" "$ROOT/lrbook" "$TMP/src/"
"$PY" -m pip install -q --disable-pip-version-check --no-deps "$TMP/src"
"$PY" -m pip check
"$PY" - <<'PY'
import importlib.metadata as md
for name in ("keras", "tensorflow-cpu", "tensorflow", "numpy", "scipy", "pandas", "matplotlib",
             "scikit-learn", "statsmodels", "tqdm", "mnist1d", "lrbook"):
    try:
        print(f"[pins] {name}=={md.version(name)}")
    except md.PackageNotFoundError:
        pass
PY
echo "[pins] environment ready in ${SECONDS}s"
# The tests run from the checkout (tests/conftest.py puts it first on sys.path); what the
# dependency versions do to that code is the question here. tools/check_wheel.sh tests the
# installed wheel.
cd "$ROOT"
# -p no:cacheprovider: the checkout stays untouched; MPLBACKEND etc. come from tests/conftest.py.
"$PY" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} "${TESTS[@]}"
echo "[pins] done in ${SECONDS}s"
