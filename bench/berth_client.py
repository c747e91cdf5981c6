"""The gateway's HTTP API as the benchmarks use it (bench/pipeline.py, bench/languages.py).

Only the standard library, so the benches run under the system /usr/bin/python3.
"""
import json
import time
import urllib.request


def submit(gateway, language, source, timeout=300):
    """Submits one job with POST /v1/jobs?wait=true and waits for its record.

    Returns (seconds from submit to result as the client sees it, the job's record as JSON).
    """
    body = json.dumps({"language": language, "source": source}).encode()
    req = urllib.request.Request(gateway + "/v1/jobs?wait=true", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    start = time.monotonic()
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        record = json.load(resp)
    return time.monotonic() - start, record


def node_durations(record):
    """(name, ms) of every finished node of the record's persisted run plan, in plan order."""
    for n in record.get("plan", []):
        if n.get("started_ms") and n.get("finished_ms"):
            yield n["name"], n["finished_ms"] - n["started_ms"]


def node_ms(record, name):
    """ms the plan's node `name` took, or None when it did not run or did not finish."""
    return next((ms for n, ms in node_durations(record) if n == name), None)
