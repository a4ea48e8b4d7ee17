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
# Playwright drives the system's Chromium (scripts/install-system-deps.sh): never download one
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# setuptools prints an informational notice ("Editable installation. ...") on every
# editable build; it is silenced by its exact text, so real warnings still show
PYTHONWARNINGS="ignore:Editable installation" \
    .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]"
# axe-core, for the accessibility checks of the browser tests (tests/web/package.json)
if [ ! -f tests/web/node_modules/axe-core/axe.min.js ]; then
    if command -v npm >/dev/null 2>&1; then
        npm ci --prefix tests/web --no-audit --no-fund --loglevel=error
    else
        echo "setup: npm is missing (scripts/install-system-deps.sh): the browser tests need axe-core" >&2
    fi
fi
