#!/usr/bin/env bash
# The book's one entry point.
#
#   ./book.sh build [--profile full|quick] [--only NAME ...]   execute every chapter, render _build/html
#   ./book.sh test                                            unit tests + every notebook (quick profile)
#
# Both create (or reuse) a virtual environment in .venv and install requirements.txt
# into it first; set LRBOOK_VENV to use another folder, PYTHON to pick the interpreter.
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
  if ! cmp -s <(cat requirements.txt pyproject.toml) "$stamp" 2>/dev/null; then
    echo "[book.sh] installing requirements.txt into $VENV (a few minutes the first time)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
    cat requirements.txt pyproject.toml > "$stamp"
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
    exec "$VENV/bin/python" -m pytest -n 2 --dist loadfile --nbval-lax tests notebooks "$@"
    ;;
  *)
    echo "usage: ./book.sh build [--profile full|quick] [--only NAME ...] | ./book.sh test" >&2
    exit 2
    ;;
esac
