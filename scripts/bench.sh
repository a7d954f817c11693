#!/usr/bin/env bash
# Speed benchmark (not a test): for the sample report (both containers) and the longest real
# clip, prints decode + resample time, model load, transcription time, real-time factor
# (wall time / audio length), peak memory and WER. Run it on an idle machine.
#   scripts/bench.sh [extra transcribe options, e.g. --beam 5 or -m models/ggml-base.bin]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-model.sh tiny.en >/dev/null
cargo build --release --quiet
bin=target/release/vidscribe
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

inputs=(
  "samples/report.mp4|samples/report.txt"
  "samples/report.webm|samples/report.txt"
  "tests/data/speech/en_ls_32-21631.flac|tests/data/speech/en_ls_32-21631.txt"
)
printf '%-38s %8s %9s %8s %11s %7s %9s %7s\n' input audio_s decode_ms load_ms transcribe_ms rtf peak_MB WER
for pair in "${inputs[@]}"; do
  input=${pair%%|*}
  ref=${pair##*|}
  /usr/bin/time -f '%M' -o "$out/mem" "$bin" transcribe "$input" -o "$out" -f json -q --stats "$@" 2> "$out/err" || { cat "$out/err" >&2; exit 1; }
  stats=$(grep 'stats:' "$out/err")
  get() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$stats"; }
  stem=$(basename "${input%.*}")
  wer=$("$bin" score "$ref" "$out/$stem.json" | awk '{print $2}')
  printf '%-38s %8.1f %9s %8s %11s %7s %9d %7s\n' "$input" "$(awk -v a="$(get audio_ms)" 'BEGIN{print a/1000}')" \
    "$(get decode_ms)" "$(get load_ms)" "$(get transcribe_ms)" "$(get rtf)" "$(( $(tail -1 "$out/mem") / 1024 ))" "$wer"
done
