#!/usr/bin/env bash
# Benchmark (not a test): for the sample report (both containers) and the longest real clip,
# prints decode + resample time, voice activity detection, model load, transcription time,
# real-time factor (wall time / audio length), peak memory and WER; for the samples also the cue
# start error against the script's true speech times and the caption rule violations. Then, for
# tiny.en and base, with and without the article features: link precision/recall against the
# script and the share of the article's names spelled as the article spells them.
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

# The article features on the sample report: links against the script's true paragraphs, and the
# share of the article's names the script speaks that the subtitles spell as the article does.
# "plain" is `run --literal` (links only: no prompt, no article wording, no name fixes).
echo
echo "Article features (samples/article.txt) on the sample report, tiny.en and base:"
scripts/fetch-model.sh base >/dev/null
printf '%-8s %-20s %-8s %7s %10s %8s %10s %15s %9s  %s\n' model input mode WER link_prec link_rec kind_right names_right distinct missed
for model in tiny.en base; do
  for input in samples/report.mp4 samples/report.webm; do
    for mode in plain article; do
      flags=()
      [[ $mode == plain ]] && flags=(--literal)
      rm -rf "$out/run"
      "$bin" run "$input" --article samples/article.txt -m "models/ggml-$model.bin" -o "$out/run" -q "${flags[@]}"
      report=$("$bin" score samples/report.txt "$out/run/$(basename "${input%.*}").json" \
        --times samples/report.script.tsv --article samples/article.txt)
      wer=$(head -1 <<<"$report" | awk '{print $2}')
      links=$(grep '^links:' <<<"$report")
      names=$(grep '^names:' <<<"$report")
      printf '%-8s %-20s %-8s %7s %10s %8s %10s %15s %9s  %s\n' "$model" "$input" "$mode" "$wer" \
        "$(sed -E 's/.*precision ([0-9.]+%).*/\1/' <<<"$links")" \
        "$(sed -E 's/.*recall ([0-9.]+%).*/\1/' <<<"$links")" \
        "$(sed -E 's/.*kind right for ([0-9]+) of ([0-9]+).*/\1\/\2/' <<<"$links")" \
        "$(sed -E 's/^names: ([0-9]+) of ([0-9]+) spoken \(([0-9.]+%)\).*/\1\/\2 \3/' <<<"$names")" \
        "$(sed -E 's/.*; ([0-9]+) of ([0-9]+) distinct.*/\1\/\2/' <<<"$names")" \
        "$(sed -E 's/.*missed: (.*)/\1/' <<<"$names")"
    done
  done
done
