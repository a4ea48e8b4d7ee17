#!/usr/bin/env bash
# Set everything up and run the whole test suite: system packages (Dovecot,
# Postfix's smtp-sink/smtp-source, Chromium), the virtual environment, lint,
# type checks, tests and a small benchmark smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check mailflow tests bench
echo "== mypy (strict, mailflow/)"
.venv/bin/mypy
echo "== benchmark smoke run (must run; targets are checked at full size: python -m bench)"
.venv/bin/python -m bench --pairs 50 --smoke >/tmp/mailflow-bench-smoke.log 2>&1 || {
    cat /tmp/mailflow-bench-smoke.log; echo "benchmark smoke run failed" >&2; exit 1; }
tail -n 3 /tmp/mailflow-bench-smoke.log
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
