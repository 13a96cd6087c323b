#!/usr/bin/env bash
# Creates .venv and installs the project with its development tools. durable-rules has
# no wheels: it is built from source, so gcc and the Python headers must be present.
# The browser tests drive the system Chromium (Debian package); no browser is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)'; then
  echo "bevilling needs Python 3.11 or 3.12 (durable-rules does not import on 3.13); set PYTHON=..." >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
if [ "${BEVILLING_BROWSER:-1}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed: the browser tests will be skipped (apt-get install chromium)" >&2
  fi
fi
