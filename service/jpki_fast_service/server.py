"""Running the application under an HTTP server with several worker processes.

The parent process checks the configuration (store, key file, audit key) so that a bad setting
is reported once, clearly, before any worker starts; then it hands the configuration to the
workers through the environment and starts uvicorn (with uvloop and httptools) or granian.
Each worker opens the store itself: the snapshot's files are memory-mapped read-only, so the
workers share one copy in the page cache.

``PROMETHEUS_MULTIPROC_DIR`` is pointed at a fresh directory for the life of the server, so
``/metrics`` aggregates every worker (and starts from zero at each start).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from .config import ENV_VAR, ServiceConfig

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # as jpki_fast_service.metrics reads it (not imported here)

#: The faster of the two on this service's endpoints (bench/bench_service.py; figures in
#: bench/RESULTS.md, "The service"): on a quiet machine, in three runs, uvicorn (uvloop,
#: httptools) spent less server CPU on every request kind (JSON batches 3.6-4.7 ms against
#: 4.7-5.4 ms, logins 0.58-0.64 ms against 0.65-0.66 ms) and answered more batches and, in two
#: of three runs, more logins; granian only accepted new connections faster. (Earlier runs on
#: a loaded machine had favoured granian.) Both are tested; ``--server granian`` remains.
DEFAULT_SERVER = "uvicorn"
FACTORY = "jpki_fast_service.app:create_app_from_env"
#: granian does not read X-Forwarded-For/-Proto by itself: its factory adds what uvicorn does.
GRANIAN_FACTORY = "jpki_fast_service.app:create_app_behind_proxy_from_env"


def prepare(config: ServiceConfig) -> None:
    """Fails early (ValueError / StoreError naming the problem) when the service could not start.

    The store is opened in a short-lived child process, never in this one: opening it starts
    the Rust core's thread pool, and a worker forked (as granian forks them) from a process
    whose pool threads exist inherits the pool without its threads, so its first parallel
    check would wait forever."""
    import subprocess

    from jpki_fast.errors import StoreError

    from .audit import load_or_create_key
    from .auth import KeyRing

    check = subprocess.run(
        [sys.executable, "-c", "import sys, jpki_fast; jpki_fast.open_store(sys.argv[1], verify=sys.argv[2] == '1')", str(config.store),
         "1" if config.verify_snapshots else "0"],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        lines = [line for line in check.stderr.strip().splitlines() if line.strip()]
        message = lines[-1].split(": ", 1)[-1] if lines else f"{config.store}: the store cannot be opened"
        raise StoreError(message)
    KeyRing.load(config.resolved_api_keys())
    config.resolved_audit_log().parent.mkdir(parents=True, exist_ok=True)
    load_or_create_key(config.resolved_audit_key())


def run(config: ServiceConfig, host: str, port: int, workers: int, server: str, log_level: str = "warning") -> int:
    """Serves until interrupted; returns the exit code."""
    # Set before anything imports prometheus_client (jpki_fast_service.metrics): its metrics are
    # created in multiprocess mode only when the variable is there at import, and granian forks
    # its workers from this process.
    os.environ[ENV_VAR] = config.to_json()
    metrics_dir = tempfile.mkdtemp(prefix="jpki-fast-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir
    print(
        f"jpki-fast serve: {config.store} on http://{host}:{port} ({workers} worker{'s' if workers > 1 else ''}, {server}); "
        f"audit log {config.resolved_audit_log()}; docs at http://{host}:{port}/docs",
        file=sys.stderr,
        flush=True,
    )
    try:
        if server == "granian":
            _granian(host, port, workers, log_level)
        else:
            _uvicorn(host, port, workers, log_level)
    except KeyboardInterrupt:
        pass
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _uvicorn(host: str, port: int, workers: int, log_level: str) -> None:
    import uvicorn

    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level=log_level,
        access_log=False,  # the audit log records every request; no line may hold a key or serial
        timeout_graceful_shutdown=10,
    )


def _granian(host: str, port: int, workers: int, log_level: str) -> None:
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    Server(
        GRANIAN_FACTORY,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        factory=True,
        log_level=LogLevels(log_level),
        log_access=False,
        websockets=False,
        # A worker that dies (the OOM killer, a crash) is replaced; by default granian would
        # stop the whole server on the first one (service/tests/test_service_faults.py).
        respawn_failed_workers=True,
        respawn_interval=0.5,
    ).serve()
