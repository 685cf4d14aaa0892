"""The publish journal: which generations a run made current, so that a failure is reported
truthfully (docs/DESIGN.md §6.2). Light on purpose: the command line imports it at start.

>>> with publish_journal() as published:
...     record_publish("store", 7)
>>> published
[('store', 7)]
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterator

_JOURNAL: contextvars.ContextVar[list | None] = contextvars.ContextVar("jpki_fast_publish_journal", default=None)


@contextlib.contextmanager
def publish_journal() -> Iterator[list[tuple[Any, int]]]:
    """Records, as ``(store, generation)``, every generation made current inside the block (by a
    publish or a rollback), so that whoever reports a later failure can say whether anything was
    published before it."""
    journal: list[tuple[Any, int]] = []
    token = _JOURNAL.set(journal)
    try:
        yield journal
    finally:
        _JOURNAL.reset(token)


def record_publish(store: Any, generation: int) -> None:
    """Called by the publisher once CURRENT names ``generation``; a no-op outside a journal."""
    journal = _JOURNAL.get()
    if journal is not None:
        journal.append((store, generation))
