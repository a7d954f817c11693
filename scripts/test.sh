#!/usr/bin/env bash
# Runs every test as CI does, on any machine of this kind: installs the system packages the build
# needs when they are missing, fetches and converts the tiny.en model, builds, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cmake >/dev/null || missing+=(cmake)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v pip >/dev/null || command -v pip3 >/dev/null || missing+=(python3-pip)
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  echo "test.sh: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

scripts/fetch-model.sh tiny.en
# Tests that run whisper use every core; one at a time keeps them from starving each other.
cargo test --release -- --test-threads=1 "$@"
