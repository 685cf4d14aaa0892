"""Prometheus metrics, correct across worker processes.

``jpki-fast serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before it starts
the workers, so prometheus_client keeps each worker's values in its own memory-mapped files
there and ``GET /metrics`` (answered by whichever worker) aggregates all of them
(prometheus_client's multiprocess mode). Without the variable (one process, e.g. the test
client), the default registry is used.

Metrics:

- ``jpki_fast_requests_total{endpoint,method,code}`` and
  ``jpki_fast_request_duration_seconds{endpoint}`` (histogram): every request.
- ``jpki_fast_checks_total{endpoint,status}``: answers by status (decisions count as
  ``allow`` / ``deny``).
- ``jpki_fast_snapshot_generation`` and ``jpki_fast_snapshot_age_seconds`` (per live worker,
  label ``pid`` in multiprocess mode), ``jpki_fast_reloads_total{outcome}``.
"""

from __future__ import annotations

import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter("jpki_fast_requests", "HTTP requests answered", ["endpoint", "method", "code"])
LATENCY = Histogram("jpki_fast_request_duration_seconds", "Time to answer a request", ["endpoint"], buckets=_BUCKETS)
CHECKS = Counter("jpki_fast_checks", "Answers given, by status", ["endpoint", "status"])
RELOADS = Counter("jpki_fast_reloads", "Snapshot reloads", ["outcome"])
GENERATION = Gauge("jpki_fast_snapshot_generation", "The snapshot generation a worker answers from", multiprocess_mode="liveall")
PUBLISHED = Gauge(
    "jpki_fast_snapshot_published_timestamp_seconds", "When the served generation was published", multiprocess_mode="liveall"
)
AGE = Gauge("jpki_fast_snapshot_age_seconds", "Seconds since the served generation was published", multiprocess_mode="liveall")


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def snapshot_loaded(generation: int, published: float | None) -> None:
    GENERATION.set(generation)
    if published is not None:
        PUBLISHED.set(published)
        AGE.set(max(0.0, time.time() - published))


def count_checks(endpoint: str, counts: dict[str, int]) -> None:
    for status, n in counts.items():
        if n:
            CHECKS.labels(endpoint, status).inc(n)


def render(published: float | None) -> tuple[bytes, str]:
    """The metrics text: every worker's values in multiprocess mode."""
    if published is not None:
        AGE.set(max(0.0, time.time() - published))
    if multiprocess():
        from prometheus_client import multiprocess as mp

        _forget_dead_workers(mp)
        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def worker_exit() -> None:
    """Removes this worker's live gauges (call when the worker stops)."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(os.getpid())


def _forget_dead_workers(mp) -> None:
    """Removes the live gauges of workers that died without :func:`worker_exit` (killed, or
    crashed; the server starts another), so /metrics shows only workers that live."""
    import re

    directory = os.environ.get(MULTIPROC_ENV, "")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for pid in {int(m.group(1)) for m in map(re.compile(r"^gauge_live\w*_(\d+)\.db$").match, names) if m}:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mp.mark_process_dead(pid, directory)
        except PermissionError:  # alive, someone else's
            pass
