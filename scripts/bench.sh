#!/usr/bin/env bash
# Benchmark (not a test): for the sample report (both containers) and the longest real clip,
# prints decode + resample time, voice activity detection, model load, transcription time,
# real-time factor (wall time / audio length), peak memory and WER; for the samples also the cue
# start error against the script's true speech times and the caption rule violations.
# Run it on an idle machine.
#   scripts/bench.sh [extra transcribe options, e.g. --beam 5 or -m models/ggml-base.bin]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-model.sh tiny.en >/dev/null
cargo build --release --quiet
bin=target/release/vidscribe
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

inputs=(
  "samples/report.mp4|samples/report.txt|samples/report.script.tsv"
  "samples/report.webm|samples/report.txt|samples/report.script.tsv"
  "tests/data/speech/en_ls_32-21631.flac|tests/data/speech/en_ls_32-21631.txt|"
)
printf '%-38s %7s %9s %6s %7s %13s %6s %7s %7s %16s %5s\n' input audio_s decode_ms vad_ms load_ms transcribe_ms rtf peak_MB WER 'start_err_ms p50/p95' viol
for pair in "${inputs[@]}"; do
  IFS='|' read -r input ref times <<<"$pair"
  /usr/bin/time -f '%M' -o "$out/mem" "$bin" transcribe "$input" -o "$out" -f json -q --stats "$@" 2> "$out/err" || { cat "$out/err" >&2; exit 1; }
  stats=$(grep 'stats:' "$out/err")
  get() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$stats"; }
  stem=$(basename "${input%.*}")
  if [[ -n $times ]]; then
    report=$("$bin" score "$ref" "$out/$stem.json" --times "$times")
    timing=$(sed -nE 's/.*median ([0-9]+) ms, 95th percentile ([0-9]+) ms.*/\1\/\2/p' <<<"$report")
    viol=$(sed -nE 's/.*; ([0-9]+) rule violations.*/\1/p' <<<"$report")
  else
    report=$("$bin" score "$ref" "$out/$stem.json")
    timing=-
    viol=-
  fi
  wer=$(head -1 <<<"$report" | awk '{print $2}')
  printf '%-38s %7.1f %9s %6s %7s %13s %6s %7d %7s %16s %5s\n' "$input" "$(awk -v a="$(get audio_ms)" 'BEGIN{print a/1000}')" \
    "$(get decode_ms)" "$(get vad_ms)" "$(get load_ms)" "$(get transcribe_ms)" "$(get rtf)" "$(( $(tail -1 "$out/mem") / 1024 ))" "$wer" "$timing" "$viol"
done
