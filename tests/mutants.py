#!/usr/bin/env python3
"""Damaged copies of the sample media, for tests/damage.rs (generated, never committed).

    tests/mutants.py OUT_DIR

For each sample container: truncations at 10/50/90/99 %, 10 random bytes and 1 kB of zeros in
the header and in the middle, 4 kB duplicated in the middle. Writes the mutants into OUT_DIR and
one JSON object per mutant on stdout: file, source, kind, the damaged bytes, and the media time
those bytes held (from ffprobe's packet positions in the undamaged file): `lost_from_ms` and
`lost_to_ms` (the packets that start inside the damaged bytes, or that the cut leaves out; for
a duplicated stretch, the time of the repeated packets).
"""
import json
import os
import random
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SOURCES = ["samples/report.mp4", "samples/report.webm"] + sorted(
    "samples/formats/" + f for f in os.listdir(os.path.join(ROOT, "samples/formats"))
)


def packets(path):
    """(pos, size, start_ms, end_ms) of the first audio stream's packets, in file order."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "packet=pts_time,duration_time,pos,size", "-of", "json", path],
        check=True, capture_output=True, text=True,
    ).stdout
    got = []
    for p in json.loads(out).get("packets", []):
        if "pos" not in p or "pts_time" not in p:
            continue
        start = float(p["pts_time"]) * 1000
        end = start + float(p.get("duration_time", 0)) * 1000
        got.append((int(p["pos"]), int(p["size"]), max(start, 0.0), max(end, 0.0)))
    return got


def held(pk, lo, hi):
    """Media time (ms) of the packets whose bytes overlap [lo, hi)."""
    hit = [p for p in pk if p[0] < hi and p[0] + p[1] > lo]
    if not hit:
        return None, None
    return round(min(p[2] for p in hit)), round(max(p[3] for p in hit))


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    rng = random.Random(20261129)
    for rel in SOURCES:
        src = os.path.join(ROOT, rel)
        data = open(src, "rb").read()
        pk = packets(src)
        first_packet = min(p[0] for p in pk) if pk else len(data) // 10
        end_ms = round(max(p[3] for p in pk)) if pk else 0
        base = os.path.basename(rel)
        cases = []
        for pct in (10, 50, 90, 99):
            cut = len(data) * pct // 100
            lost = [p for p in pk if p[0] + p[1] > cut]
            frm = round(min(p[2] for p in lost)) if lost else end_ms
            cases.append((f"trunc{pct}", data[:cut], cut, len(data), frm, end_ms))
        mid = len(data) // 2
        for where, at in (("header", min(16, first_packet // 2)), ("middle", mid)):
            m = bytearray(data)
            for i in range(10):
                m[at + i * 7] = rng.randrange(256)
            frm, to = held(pk, at, at + 70)
            cases.append((f"random-{where}", bytes(m), at, at + 70, frm, to))
            m = bytearray(data)
            m[at:at + 1024] = bytes(1024)
            frm, to = held(pk, at, at + 1024)
            cases.append((f"zeros-{where}", bytes(m), at, at + 1024, frm, to))
        frm, to = held(pk, mid - 4096, mid)
        cases.append(("duplicate-middle", data[:mid] + data[mid - 4096:mid] + data[mid:], mid, mid + 4096, frm, to))
        for kind, body, lo, hi, frm, to in cases:
            name = f"{kind}-{base}"
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(body)
            print(json.dumps({
                "file": name, "source": rel, "kind": kind, "bytes": [lo, hi],
                "lost_from_ms": frm, "lost_to_ms": to, "length_ms": end_ms,
            }))


if __name__ == "__main__":
    main()
