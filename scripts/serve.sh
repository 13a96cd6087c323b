#!/usr/bin/env bash
# Sets up everything and starts the service on the embedded SQLite database with the
# bundled rules: http://127.0.0.1:8000/docs
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/bevilling serve --demo "$@"
