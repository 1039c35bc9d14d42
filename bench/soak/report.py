"""What the soak prints: requests per second, latency percentiles per operation, statuses,
and the devhost's resident memory over time."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import psutil

from bench.soak.workload import CONNECTION_ERROR, Record


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class RssSampler:
    """The resident memory of a process and its children, every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 5.0) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def _rss(self) -> int:
        total = self._process.memory_info().rss
        for child in self._process.children(recursive=True):
            with contextlib.suppress(psutil.Error):  # a child that just ended
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while True:
            try:
                self.samples.append((time.monotonic() - self._start, self._rss()))
            except psutil.Error:
                return
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def summary(record: Record, seconds: float) -> dict[str, Any]:
    total = sum(len(values) for values in record.latencies.values())
    statuses: dict[int, int] = {}
    for counts in record.statuses.values():
        for status, count in counts.items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        "requests": total, "seconds": round(seconds, 1),
        "rps": round(total / seconds, 1) if seconds else 0.0,
        "operations": {name: {"n": len(values),
                              "p50_ms": round(1000 * percentile(values, 0.50), 1),
                              "p95_ms": round(1000 * percentile(values, 0.95), 1),
                              "p99_ms": round(1000 * percentile(values, 0.99), 1),
                              "statuses": dict(sorted(record.statuses[name].items()))}
                       for name, values in sorted(record.latencies.items())},
        "statuses": dict(sorted(statuses.items())),
        "server_errors": sum(count for status, count in statuses.items()
                             if 500 <= status < CONNECTION_ERROR),
        "connection_errors": statuses.get(CONNECTION_ERROR, 0),
        "stored_files": len(record.stored),
        "uploaded_mib": round(record.bytes_uploaded / 2**20, 1),
    }


def lines(result: dict[str, Any]) -> list[str]:
    figures = result["figures"]
    out = [f"soak: {result['clients']} clients for {figures['seconds']} s: "
           f"{figures['requests']} requests, {figures['rps']} requests/s, "
           f"{figures['stored_files']} files stored ({figures['uploaded_mib']} MiB)",
           f"  {'operation':<16} {'n':>7} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}  statuses"]
    for name, op in figures["operations"].items():
        out.append(f"  {name:<16} {op['n']:>7} {op['p50_ms']:>9} {op['p95_ms']:>9} "
                   f"{op['p99_ms']:>9}  {op['statuses']}")
    out.append(f"  statuses: {figures['statuses']} (5xx: {figures['server_errors']}, "
               f"connections cut or refused ({CONNECTION_ERROR}): "
               f"{figures['connection_errors']})")
    rss = result["rss_mib"]
    if rss:
        out.append("  devhost RSS MiB over time: " + ", ".join(
            f"{at:.0f}s {mib:.0f}" for at, mib in rss))
    checks = result["checks"]
    out.append(f"  checked {checks['checked']} files: " + ", ".join(
        f"{kind} {len(found)}" for kind, found in checks["problems"].items()) + "  " +
        ", ".join(f"{name} {value:.1f}" for name, value in checks["timings"].items()))
    for kind, found in checks["problems"].items():
        out += [f"    {kind}: {what}" for what in found[:10]]
    out += [f"  unexpected: {what}" for what in result["unexpected"][:15]]
    return out
