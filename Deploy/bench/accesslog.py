"""What the benchmark scripts read from nginx's JSON access log (nginx/snippets/fullyloaded-http.conf):
the requests of one route, their latencies, and the steady-state rate of 200s."""
import json


def requests(path, uri_prefix="/api/load"):
    """The log's requests whose URI starts with uri_prefix; lines cut short are skipped."""
    rows = []
    for line in open(path):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if row["uri"].startswith(uri_prefix):
            rows.append(row)
    return rows


def latencies(rows, status):
    """nginx's request_time of the requests answered with status, sorted."""
    return sorted(r["request_time"] for r in rows if r["status"] == status)


def pick(values, q):
    """The q-quantile of sorted values, or None if there are none."""
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def steady_rate(rows, warm):
    """200s per second in the steady state: from `warm` seconds after the first answer (the queue
    has filled) to the last 200. `ab -t` drops the requests in flight when time runs out, so its
    own count is low."""
    done = sorted(r["msec"] for r in rows if r["status"] == 200)
    start = (min(r["msec"] for r in rows) + warm) if rows else 0
    window = [t for t in done if t > start]
    return (len(window) - 1) / (window[-1] - window[0]) if len(window) > 2 else 0.0
