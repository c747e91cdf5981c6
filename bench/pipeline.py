#!/usr/bin/python3
"""End-to-end latency and throughput of the pipeline against a running stack.

Usage: bench/pipeline.py [--gateway URL] [--jobs N] [--concurrency C] [--language L]

Submits N hello-world jobs with ?wait=true from C client threads and prints, for the jobs that
finished ok: latency percentiles (submit to result, as the client sees it), throughput, and the
per-node medians from the persisted run plans (image, ip, boot, run).
"""
import argparse
import json
import statistics
import threading
import time

from berth_client import node_durations, submit as submit_job

SOURCES = {"python": 'print("Hello from berth!")', "bash": "echo Hello from berth!"}


def submit(gateway, language):
    return submit_job(gateway, language, SOURCES[language])


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gateway", default="http://127.0.0.1:8080")
    ap.add_argument("--jobs", type=int, default=40)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--language", default="python", choices=sorted(SOURCES))
    args = ap.parse_args()

    submit(args.gateway, args.language)  # warm: the image is built, caches are hot
    results, failures, lock = [], [], threading.Lock()
    todo = iter(range(args.jobs))

    def client():
        while True:
            with lock:
                if next(todo, None) is None:
                    return
            try:
                latency, record = submit(args.gateway, args.language)
                ok = (record.get("result") or {}).get("verdict") == "ok"
                with lock:
                    (results if ok else failures).append((latency, record))
            except Exception as e:  # noqa: BLE001 - a bench reports, it does not stop
                with lock:
                    failures.append((0, {"error": str(e)}))

    start = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start

    lat = [r[0] * 1000 for r in results]
    print(f"jobs={args.jobs} concurrency={args.concurrency} language={args.language} "
          f"ok={len(results)} failed={len(failures)}")
    if lat:
        print(f"latency_ms p50={pct(lat, 50):.0f} p95={pct(lat, 95):.0f} max={max(lat):.0f}")
        print(f"throughput_jobs_per_s={len(results) / elapsed:.2f}")
        nodes = {}
        for _, rec in results:
            for name, ms in node_durations(rec):
                nodes.setdefault(name, []).append(ms)
        print("node_median_ms " + " ".join(
            f"{k}={statistics.median(v):.0f}" for k, v in nodes.items()))
    for _, rec in failures[:3]:
        print("failure:", json.dumps(rec)[:300])


if __name__ == "__main__":
    main()
