#!/usr/bin/env bash
# Fuzzes the SRT/WebVTT readers, the article parsers and the media probe with cargo-fuzz
# (libFuzzer; needs a nightly toolchain, installs cargo-fuzz if missing), each for a fixed time,
# from seeds made of the project's samples. Every crash is copied into tests/fuzz/regressions/,
# which tests/fuzz_regressions.rs replays in every test run. Not part of CI.
#   scripts/fuzz.sh [SECONDS per target, default 120] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-120}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(subtitles article media)
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus/subtitles" "$work/corpus/article" "$work/corpus/media"
cp tests/golden/*.srt tests/golden/*.vtt tests/data/subtitles/* tests/data/webvtt/*.vtt "$work/corpus/subtitles/"
cp samples/article.txt tests/data/article/*.html "$work/corpus/article/"
# Small media only: the fuzzer mutates each whole.
for f in samples/formats/*; do [[ $(stat -c %s "$f") -lt 100000 ]] && cp "$f" "$work/corpus/media/"; done
printf '%-10s %8s %12s %8s\n' target seconds executions crashes
for t in "${targets[@]}"; do
  mkdir -p "$work/artifacts/$t" "tests/fuzz/regressions/$t"
  log=$work/$t.log
  cargo +nightly fuzz run --fuzz-dir tests/fuzz "$t" "$work/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=262144 \
    -artifact_prefix="$work/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || true
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  found=0
  for a in "$work/artifacts/$t"/*; do
    [[ -f $a ]] || continue
    cp "$a" "tests/fuzz/regressions/$t/"
    found=$((found + 1))
  done
  printf '%-10s %8s %12s %8s\n' "$t" "$seconds" "${execs:-?}" "$found"
  ((found == 0)) || { echo "  crash inputs copied to tests/fuzz/regressions/$t; the log:"; grep -m5 -E 'panicked|ERROR|SUMMARY' "$log" | sed 's/^/  /'; }
done
