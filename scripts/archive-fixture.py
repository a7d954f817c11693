#!/usr/bin/env python3
"""Writes N synthetic vidscribe JSON reports for the archive benchmark (not a test fixture).

Each report is made from the committed transcript of the sample report (its schema, model and
article), with its passages replaced by sentences drawn from the sample script, the founding
article and the LibriSpeech reference, names from a large generated list (some misspelled, as a
recogniser would), word times at a speaking pace, links to random paragraphs, and a date and a
source, so that the vocabulary, the names and the filters look like a real collection.

    scripts/archive-fixture.py N OUT_DIR [SEED]
"""
import json
import os
import random
import re
import sys

root = os.path.join(os.path.dirname(__file__), "..")
n = int(sys.argv[1])
out = sys.argv[2]
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)

base = json.load(open(os.path.join(root, "tests/golden/report.linked.json")))
for key in ("captions", "speech", "corrections"):
    base.pop(key, None)

pool = []
for path in ("samples/report.txt", "samples/article.txt", "tests/data/speech/en_ls_32-21631.txt"):
    text = open(os.path.join(root, path)).read()
    for s in re.split(r"(?<=[.?!])\s+", text):
        words = s.split()
        if 4 <= len(words) <= 40:
            pool.append(words)

onsets = ["Ar", "Va", "Ge", "Sa", "Po", "Ka", "Mi", "Ha", "Te", "Lu", "Da", "Ne", "Ro", "Be", "Zo", "Ki"]
middles = ["ra", "ha", "si", "ko", "ni", "va", "ge", "lo", "mu", "tse", "de", "ri", "ba", "sho"]
endings = ["yan", "ov", "ian", "enko", "idze", "ova", "li", "es", "ani", "yev"]
names = sorted({rng.choice(onsets) + rng.choice(middles) + rng.choice(middles) + rng.choice(endings) for _ in range(6000)})
misspell = {"yan": "ian", "ov": "off", "ian": "yan", "yev": "iev"}
sources = ["CivilNet", "Global Voices", "Azatutyun", "OC Media", "Hetq", "EVN Report"]
body = [b["number"] for b in base["article"]["blocks"] if b["kind"] in ("paragraph", "quote")]

os.makedirs(out, exist_ok=True)
for i in range(n):
    t = 1000
    segments, passages = [], []
    index = 0
    for _ in range(rng.randint(15, 35)):
        words = list(rng.choice(pool))
        for _ in range(rng.randint(0, 2)):
            name = rng.choice(names)
            for end, wrong in misspell.items():
                if name.endswith(end) and rng.random() < 0.2:
                    name = name[: -len(end)] + wrong
                    break
            words.insert(rng.randrange(len(words)), name)
        start = t
        ws = []
        for w in words:
            d = 180 + 40 * len(w)
            ws.append({"text": w, "start_ms": t, "end_ms": t + d, "probability": round(rng.uniform(0.5, 1.0), 3)})
            t += d + 60
        segments.append({"start_ms": start, "end_ms": t, "text": " ".join(words), "no_speech_probability": 0.01, "words": ws})
        kind = rng.choice(["verbatim", "paraphrase", "topical", "none"])
        p = {"start_ms": start, "end_ms": t, "words": {"first": index, "end": index + len(ws)}, "text": " ".join(words),
             "kind": kind, "score": 0.8, "matched_words": {"first": index, "end": index + len(ws)}}
        if kind != "none":
            p["paragraph"] = rng.choice(body)
        passages.append(p)
        index += len(ws)
        t += rng.randint(300, 1500)
    doc = dict(base)
    doc["input"] = dict(base["input"], path=f"report-{i:05d}.mp4", duration_ms=t)
    doc["segments"] = segments
    doc["links"] = {"passages": passages, "segments": [], "cues": [], "paragraphs": []}
    doc["meta"] = {
        "title": f"Report {i}: " + " ".join(rng.choice(pool)[:8]),
        "date": f"{rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "source": rng.choice(sources),
    }
    d = os.path.join(out, f"r{i // 1000:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"report-{i:05d}.json"), "w") as f:
        json.dump(doc, f, separators=(",", ":"))
