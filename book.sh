#!/usr/bin/env bash
# The book's one entry point.
#
#   ./book.sh build [--profile full|quick] [--only NAME ...] [--force] [--keep-going|--fail-fast]
#        execute the chapters whose inputs changed since their last successful run
#        (the others are reported as cached; --force executes all), then render _build/html.
#        A failing chapter does not stop the others (--keep-going, the default): every
#        failure is reported at the end with its cell, and nothing is rendered.
#   ./book.sh test                                            the whole test suite:
#        1. unit tests + every notebook under nbval-lax (quick profile),
#        2. a quick-profile build of the site,
#        3. the site in headless Chromium (installed with apt-get when missing and possible).
#
# Both create (or reuse) a virtual environment in .venv and install requirements.txt
# into it first; set LRBOOK_VENV to use another folder, PYTHON to pick the interpreter.
# On a machine with an NVIDIA GPU the TensorFlow line becomes tensorflow[and-cuda]
# (LRBOOK_DEVICE=cpu|gpu overrides the detection); LRBOOK_MIXED_PRECISION=1 trains in
# mixed_float16 (see the scaling-out chapter).
set -euo pipefail
cd "$(dirname "$0")"

VENV=${LRBOOK_VENV:-.venv}
PYTHON=${PYTHON:-python3}

ensure_env() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "[book.sh] creating virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.lrbook-installed"
  # On a machine with an NVIDIA GPU (or LRBOOK_DEVICE=gpu) TensorFlow comes as tensorflow[and-cuda].
  local reqs
  reqs=$("$VENV/bin/python" -m lrbook.book requirements --device auto)
  if ! cmp -s <(echo "$reqs"; cat pyproject.toml) "$stamp" 2>/dev/null; then
    echo "[book.sh] installing requirements into $VENV (a few minutes the first time)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r <(echo "$reqs")
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
    { echo "$reqs"; cat pyproject.toml; } > "$stamp"
  fi
}

ensure_chromium() {
  if command -v chromium >/dev/null 2>&1; then return; fi
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "[book.sh] installing chromium for the browser test"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "[book.sh] could not install chromium: the browser test will be skipped"
  else
    echo "[book.sh] chromium missing and cannot be installed here: the browser test will be skipped"
  fi
}

cmd=${1:-}
shift || true
case "$cmd" in
  build)
    ensure_env
    exec "$VENV/bin/python" -m lrbook.book build "$@"
    ;;
  test)
    ensure_env
    export LRBOOK_PROFILE=quick MPLBACKEND=Agg
    echo "[book.sh] 1/3 unit tests and notebooks (nbval-lax, quick profile)"
    "$VENV/bin/python" -m pytest -n 2 --dist loadfile --nbval-lax --ignore=tests/site tests notebooks "$@"
    echo "[book.sh] 2/3 building the quick-profile site"
    "$VENV/bin/python" -m lrbook.book build --profile quick
    echo "[book.sh] 3/3 the site in a browser"
    ensure_chromium
    LRBOOK_SITE=_build/html exec "$VENV/bin/python" -m pytest tests/site -rs
    ;;
  *)
    echo "usage: ./book.sh build [--profile full|quick] [--only NAME ...] [--force] [--keep-going|--fail-fast]" >&2
    echo "       ./book.sh test" >&2
    exit 2
    ;;
esac
