#!/usr/bin/env python3
"""Load for `vidscribe serve` (scripts/bench.sh --serve): latency of /api/search, one query at a
time, then N concurrent clients for S seconds.

    scripts/serve-load.py http://127.0.0.1:PORT [clients] [seconds]
"""
import json
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request

QUERIES = [
    "prisoners", "return prisoners", "children back", "landmine maps", "negotiation",
    '"prisoners of war"', '"we need our children back"', '"European Court"', '"December 9"', '"human rights"',
    "Gerasimov", "Sahakian", "Poghosyan", "Siranuysh", "Kerasimoff",
    "negotia*", "captiv*", "Gyumri OR Yerevan", "prisoners -Azerbaijan", "soldiers captivity",
]


def get(base, q):
    url = base + "/api/search?" + urllib.parse.urlencode({"q": q, "limit": 20})
    with urllib.request.urlopen(url, timeout=30) as r:
        body = r.read()
        if r.status != 200:
            raise RuntimeError(r.status)
        return len(json.loads(body))


def main():
    base = sys.argv[1].rstrip("/")
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 30
    lat = []
    for q in QUERIES:
        for _ in range(5):
            t = time.perf_counter()
            get(base, q)
            lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    print(f"search over HTTP, 20 queries x 5, one at a time: median {statistics.median(lat):.1f} ms, "
          f"p95 {lat[int(len(lat) * 0.95) - 1]:.1f} ms")
    done, errors = [0], [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(i):
        n = 0
        while time.perf_counter() < stop:
            try:
                get(base, QUERIES[(i + n) % len(QUERIES)])
                with lock:
                    done[0] += 1
            except Exception:
                with lock:
                    errors[0] += 1
            n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    print(f"{clients} concurrent clients for {wall:.0f} s: {done[0] / wall:.1f} requests/s, {errors[0]} errors")


if __name__ == "__main__":
    main()
