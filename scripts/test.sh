#!/usr/bin/env bash
# Sets up everything and runs every check CI runs: lint, types, the import contract,
# the rule files, the golden decision cases and the test suite (SQLite and PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
mypy bevilling
lint-imports --no-logo
bevilling rules check
bevilling cases run tests/cases/*.yaml tests/cases/errors/*.yaml
python -m pytest -q -p no:cacheprovider
