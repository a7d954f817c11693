#!/usr/bin/env python3
"""Load for `vidscribe serve` (scripts/bench.sh --serve): latency of /api/search, one query at a
time, then N concurrent clients for S seconds.

    scripts/serve-load.py http://127.0.0.1:PORT [clients] [seconds] [idle] [server-pid]
    scripts/serve-load.py --queries      (the bench's queries, one per line, for scripts/bench.sh)

The last line printed is `figures: median_ms p95_ms max_ms requests_per_s` for scripts that
tabulate them.

With `idle` (and the server's pid), then holds that many idle and half-open connections while
one client searches: its latency beside them against alone, the server's memory, and that it
still answers once they are gone.
"""
import json
import socket
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
    # Words in nearly every report: the queries whose cost grew with the archive.
    "the", "war", "said", "the war",
]


def get(base, q):
    url = base + "/api/search?" + urllib.parse.urlencode({"q": q, "limit": 20})
    with urllib.request.urlopen(url, timeout=30) as r:
        body = r.read()
        if r.status != 200:
            raise RuntimeError(r.status)
        return len(json.loads(body))


def main():
    if sys.argv[1] == "--queries":
        print("\n".join(QUERIES))
        return
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
    print(f"search over HTTP, {len(QUERIES)} queries x 5, one at a time: median {statistics.median(lat):.1f} ms, "
          f"p95 {lat[int(len(lat) * 0.95) - 1]:.1f} ms, max {lat[-1]:.1f} ms")
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

    if len(sys.argv) > 5:
        slow_clients(base, int(sys.argv[4]), int(sys.argv[5]))
    print(f"figures: {statistics.median(lat):.1f} {lat[int(len(lat) * 0.95) - 1]:.1f} {lat[-1]:.1f} {done[0] / wall:.1f}")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def latencies(base, rounds=3):
    lat = []
    for q in QUERIES:
        for _ in range(rounds):
            t = time.perf_counter()
            get(base, q)
            lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    return statistics.median(lat), lat[int(len(lat) * 0.95) - 1]


def slow_clients(base, n, pid):
    host, port = urllib.parse.urlsplit(base).netloc.rsplit(":", 1)
    alone = latencies(base)
    before = rss_kb(pid)
    held = []
    for i in range(n):
        s = socket.create_connection((host, int(port)), timeout=5)
        if i % 2:
            s.sendall(b"GET /api/search?q=")  # half a request line, never finished
        held.append(s)
    beside = latencies(base)
    during = rss_kb(pid)
    for s in held:
        s.close()
    time.sleep(0.5)
    after = latencies(base, 1)
    print(f"slow clients: {n} idle and half-open connections held; search median / p95 "
          f"{alone[0]:.1f} / {alone[1]:.1f} ms alone, {beside[0]:.1f} / {beside[1]:.1f} ms beside them; "
          f"server memory {before / 1024:.0f} -> {during / 1024:.0f} MB; answering after: "
          f"{after[0]:.1f} ms median")


if __name__ == "__main__":
    main()
