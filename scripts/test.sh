#!/usr/bin/env bash
# Runs every test as CI does, on any machine of this kind: installs the system packages the build
# and the browser test need when they are missing (cmake, libclang, Debian's Chromium, Node.js),
# playwright-core from npm (it drives that Chromium; it never downloads a browser), fetches and
# converts the tiny.en model, Datasette (pinned, from PyPI, in tests/.venv) for the archive test,
# builds, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cmake >/dev/null || missing+=(cmake)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v pip >/dev/null || command -v pip3 >/dev/null || missing+=(python3-pip)
command -v chromium >/dev/null || missing+=(chromium)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  echo "test.sh: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi

if [[ ! -x tests/.venv/bin/datasette ]]; then
  python3 -m venv tests/.venv
  tests/.venv/bin/pip install --quiet --disable-pip-version-check datasette==0.65.5
fi

scripts/fetch-model.sh tiny.en
# Tests that run whisper use every core; one at a time keeps them from starving each other.
cargo test --release -- --test-threads=1 "$@"
