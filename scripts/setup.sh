#!/usr/bin/env bash
# Create .venv and install mailflow (editable) with its test tools.
# Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
# constraints.txt: the versions the suite last passed with, so a fresh machine gets the same
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]"
