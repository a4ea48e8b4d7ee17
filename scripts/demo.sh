#!/usr/bin/env bash
# Set up mailflow and run its main job on the embedded defaults: a whole
# mentoring program, end to end, on local in-process mail servers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/mailflow demo "$@"
