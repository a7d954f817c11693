#!/usr/bin/env bash
# Builds the simulated CivilNet-style video report in samples/ from a script of segments:
# two synthetic voices (espeak-ng), pauses, a faint noise bed; some sentences quoted word for word
# from the article, some paraphrased, some not in it. Writes the exact script with each
# segment's true speech start and end (ms), and packs the audio as MP4 (H.264 + AAC, 44.1 kHz
# stereo) and WebM (VP8 + Opus). Needs espeak-ng, sox and ffmpeg; the generated files are
# committed so that tests never need them.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in espeak-ng sox soxi ffmpeg; do
  command -v "$tool" >/dev/null || { echo "make-samples: $tool is missing (apt-get install espeak-ng sox ffmpeg)" >&2; exit 1; }
done

out=samples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rate=48000

# voice <TAB> kind <TAB> article paragraph (0 = none) <TAB> pause before (ms) <TAB> text
cat > "$work/segments.tsv" <<'EOF'
en-us+f3	none	0	1500	Good evening. This is a CivilNet report on the Armenian prisoners of war who are still held in Azerbaijan.
en-us+f3	verbatim	4	700	On December 4, 2021, Azerbaijan returned ten Armenian prisoners of war captured in November 2021, in exchange for maps detailing landmine locations.
en-gb+m3	paraphrase	5	1200	The fighting in November was said to be the worst since the war of 2020, and more than thirty Armenian servicemen were taken prisoner.
en-gb+m3	verbatim	6	900	The work on the return of captured Armenian soldiers is ongoing at the moment. There are positive signs. There is an understanding.
en-us+f3	none	0	2500	We spoke to families across the country this week, and many said they had heard nothing for months.
en-gb+m3	verbatim	8	1000	I remember the first flight, when we left Baku, and the faces of those servicemen when they flew to Yerevan, to the Erebuni airfield.
en-us+f3	paraphrase	10	800	Estimates of how many Armenian soldiers are still held in Azerbaijan range from about forty to one hundred and forty.
en-gb+m3	verbatim	11	1100	The Chief of the General Staff of the Russian Armed Forces, Valery Gerasimov, discussed the issue on December 9.
en-us+f3	paraphrase	14	1300	The human rights lawyer Siranuysh Sahakyan, who represents the prisoners at the European court, says their return cannot be a matter for negotiation.
en-gb+m3	verbatim	16	900	In Gyumri, Armenia's second-largest city, relatives of some of the soldiers currently in captivity gathered outside the local government building demanding that the government responds.
en-us+f3	verbatim	17	1600	We need our children back.
en-gb+m3	paraphrase	19	1000	The analyst Benyamin Poghosyan believes there may simply be no more maps left to trade.
en-us+f3	none	0	1400	Snow has already fallen in the mountains, and the families say they will keep waiting through the winter.
en-us+f3	none	0	800	For CivilNet, this has been our evening report.
EOF

# Each segment: synthesise, trim espeak's own leading and trailing silence so the segment's
# true speech start and end are known to the sample, resample to 48 kHz.
: > "$work/list.txt"
t=0
i=0
script="$out/report.script.tsv"
printf 'segment\tstart_ms\tend_ms\tspeaker\tkind\tparagraph\ttext\n' > "$script.tmp"
while IFS=$'\t' read -r voice kind para pause text; do
  i=$((i + 1))
  espeak-ng -v "$voice" -s 155 -w "$work/raw$i.wav" "$text"
  sox "$work/raw$i.wav" -r $rate -c 1 -b 16 "$work/seg$i.wav" silence 1 0.005 0.5% reverse silence 1 0.005 0.5% reverse
  sox -n -r $rate -c 1 -b 16 "$work/pause$i.wav" trim 0 "$(awk -v p="$pause" 'BEGIN{printf "%.3f", p/1000}')"
  n=$(soxi -s "$work/seg$i.wav")
  start=$((t + pause))
  end=$((start + n * 1000 / rate))
  printf '%d\t%d\t%d\t%s\t%s\t%s\t%s\n' "$i" "$start" "$end" "$voice" "$kind" "$para" "$text" >> "$script.tmp"
  echo "$work/pause$i.wav" >> "$work/list.txt"
  echo "$work/seg$i.wav" >> "$work/list.txt"
  # Advance by exact sample counts so that rounding never accumulates.
  t=$(( (($(soxi -s "$work/pause$i.wav") + n) * 1000 + t * rate) / rate ))
done < "$work/segments.tsv"
sox -n -r $rate -c 1 -b 16 "$work/tail.wav" trim 0 2.0
echo "$work/tail.wav" >> "$work/list.txt"

# Concatenate, add a faint pink-noise bed (about -45 dBFS), make stereo with unequal channels
# so that a decoder reading only one channel would be caught.
sox $(cat "$work/list.txt") "$work/speech.wav"
dur=$(soxi -D "$work/speech.wav")
sox -R -n -r $rate -c 1 -b 16 "$work/noise.wav" synth "$dur" pinknoise vol 0.006
sox -m "$work/speech.wav" "$work/noise.wav" "$work/mono.wav"
sox "$work/mono.wav" -c 2 "$work/stereo.wav" remix 1v0.9 1v0.6

video=(-f lavfi -i "color=c=0x1d3557:s=320x180:r=15")
ffmpeg -v error -y "${video[@]}" -i "$work/stereo.wav" -shortest -map 0:v -map 1:a \
  -c:v libx264 -preset veryfast -crf 38 -pix_fmt yuv420p -c:a aac -b:a 128k -ar 44100 -ac 2 \
  -movflags +faststart "$out/report.mp4"
ffmpeg -v error -y "${video[@]}" -i "$work/stereo.wav" -shortest -map 0:v -map 1:a \
  -c:v libvpx -b:v 40k -deadline realtime -c:a libopus -b:a 96k -ar 48000 -ac 2 "$out/report.webm"
# A video with no audio track, for the bad-input tests.
ffmpeg -v error -y "${video[@]}" -t 1 -c:v libx264 -preset veryfast -crf 40 -pix_fmt yuv420p "$out/no-audio.mp4"

# The first eight seconds in every other container and codec the decoder must read, at
# assorted rates and channel counts, some under misleading names.
mkdir -p "$out/formats"
clip=(-t 8 -i "$work/stereo.wav")
ffmpeg -v error -y "${clip[@]}" -c:a aac -b:a 64k -ar 44100 "$out/formats/clip.m4a"
ffmpeg -v error -y "${clip[@]}" -c:a libvorbis -q:a 2 -ar 44100 "$out/formats/clip-vorbis.mkv"
ffmpeg -v error -y "${clip[@]}" -c:a libopus -b:a 32k "$out/formats/clip-opus.mkv"
ffmpeg -v error -y "${clip[@]}" -c:a libvorbis -q:a 2 -ar 22050 -ac 1 "$out/formats/clip.ogg"
ffmpeg -v error -y "${clip[@]}" -c:a libopus -b:a 32k -f ogg "$out/formats/clip.opus"
ffmpeg -v error -y "${clip[@]}" -c:a libmp3lame -b:a 48k -ar 24000 "$out/formats/clip.mp3"
ffmpeg -v error -y "${clip[@]}" -c:a pcm_s16le -ar 16000 -ac 1 "$out/formats/clip.wav"
ffmpeg -v error -y "${clip[@]}" -c:a flac -ar 32000 "$out/formats/clip.flac"
# Named wrongly on purpose: the container is sniffed, not guessed from the name.
ffmpeg -v error -y "${clip[@]}" -c:a libopus -b:a 32k -f webm "$out/formats/clip-webm-named.mp3"

mv "$script.tmp" "$script"
# The reference transcript: the script's text in order.
cut -f7 "$script" | tail -n +2 > "$out/report.txt"
install -m 644 ../shared/seeds/article.txt "$out/article.txt"
printf 'duration_ms\t%d\n' "$(soxi -s "$work/stereo.wav" | awk -v r=$rate '{printf "%d", $1*1000/r}')" > "$out/report.duration.tsv"
ls -l "$out"
