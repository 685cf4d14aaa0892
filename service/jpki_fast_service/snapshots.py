"""The published snapshot the service answers from, and hot reload.

A :class:`SnapshotHolder` keeps one open :class:`jpki_fast.Store`. Each request takes the
current store once, at its start (the :func:`current_store` dependency), and answers from it to
the end, so a request in flight finishes on the snapshot it started on while a newer one is
swapped in: the swap is the assignment of one reference. Opening a store only maps its files,
so every worker process shares one copy of the snapshot in the page cache.

A background task checks :meth:`jpki_fast.Store.has_newer` (one small file read) every
``reload_interval`` seconds and swaps in a newly published generation, after opening it and
warming what the first certificate check would otherwise build. ``POST /v1/admin/reload`` does
the same at once.

A generation is verified before it is served (``verify``, the default: every file against the
BLAKE3 digests of its manifest, as ``jpki-fast verify-store`` does), so a damaged or partly
copied generation is refused, not answered from: the current snapshot stays, the failure is in
:attr:`SnapshotHolder.last_error` (the log, the console, the ``reloads_total{outcome="failed"}``
metric; ``/readyz`` says only which generation and the error's type), and the refused
generation is not tried again until ``CURRENT`` names another one (or an admin forces a reload).
A generation deleted under a running server goes on answering from its open memory maps, which
keep the deleted files' contents.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jpki_fast
from fastapi import Request
from jpki_fast import certs
from jpki_fast.store import read_current

log = logging.getLogger("jpki_fast_service")


@dataclass(frozen=True)
class ReloadResult:
    generation: int
    previous: int
    changed: bool


class SnapshotHolder:
    """The current snapshot of a store; swapped atomically when a newer one is published."""

    def __init__(self, root: Path, on_swap: Callable[[jpki_fast.Store, int], None] | None = None, verify: bool = True,
                 on_failure: Callable[[], None] | None = None) -> None:
        self.root = Path(root)
        self.verify = verify
        self._lock = threading.Lock()  # one reload at a time (poller and admin endpoint)
        self._on_swap = on_swap
        self._on_failure = on_failure
        self.store = self._open()
        self.loaded_at = time.time()
        #: The last reload's failure, until a reload succeeds: what failed ("generation N not
        #: loaded, still serving M", or None when the poll itself failed) and the exception.
        self._failure: tuple[str | None, Exception] | None = None
        self._refused: int | None = None  # the published generation that failed to open
        if on_swap is not None:
            on_swap(self.store, 0)

    def _open(self) -> jpki_fast.Store:
        store = jpki_fast.open_store(self.root, verify=self.verify)
        # What the first certificate check or login would otherwise build on its own time: the
        # batch path's imports and context, and the one-item path's partition ids.
        store.check_certificates([])
        certs.prepare(store)
        return store

    @property
    def generation(self) -> int:
        return self.store.generation

    @property
    def last_error(self) -> str | None:
        """Why the newest published generation is not served, in full (the log, the console)."""
        if self._failure is None:
            return None
        what, exc = self._failure
        return f"{what + ': ' if what else ''}{type(exc).__name__}: {exc}"

    @property
    def last_error_summary(self) -> str | None:
        """What ``/readyz`` (no key) may say of it: which generation and the error's type, never
        its message (it can name paths in the store)."""
        if self._failure is None:
            return None
        what, exc = self._failure
        return f"{what or 'reload failed'} ({type(exc).__name__}; the service log and the console say why)"

    def reload(self, force: bool = False) -> ReloadResult:
        """Swaps in the published generation if it differs from the current one (``force``:
        reopen even if it does not). Raises StoreError when it cannot be opened; the current
        snapshot then stays."""
        with self._lock:
            previous = self.store.generation
            if not force and not self.store.has_newer():
                return ReloadResult(previous, previous, False)
            try:
                store = self._open()
            except Exception as exc:
                self._refused = read_current(self.root)
                self._failure = (f"generation {self._refused} not loaded, still serving {previous}", exc)
                if self._on_failure is not None:
                    self._on_failure()
                raise
            self.store = store  # the atomic swap: requests hold the store they started with
            self.loaded_at = time.time()
            self._failure = None
            self._refused = None
        if self._on_swap is not None:
            self._on_swap(store, previous)
        log.info("snapshot generation %d loaded (was %d)", store.generation, previous)
        return ReloadResult(store.generation, previous, store.generation != previous)

    async def follow(self, interval: float, also: Callable[[], None] | None = None) -> None:
        """Checks for a newer generation every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                if self.store.has_newer() and read_current(self.root) != self._refused:
                    await asyncio.to_thread(self.reload)
                if also is not None:
                    also()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep serving the current snapshot; readyz reports it
                if self._failure is None:
                    self._failure = (None, exc)
                log.warning("reload failed, still serving generation %d: %s", self.store.generation, self.last_error)


async def current_store(request: Request) -> jpki_fast.Store:
    """The dependency every answering endpoint takes: the snapshot this request answers from.
    It also records the generation, which the response names in ``X-Snapshot-Generation``."""
    store = request.app.state.snapshots.store
    request.state.generation = store.generation
    return store
