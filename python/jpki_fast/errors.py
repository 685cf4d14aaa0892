"""Exceptions raised by jpki_fast. Every message names the file, field or item at fault."""

from __future__ import annotations


class JpkiFastError(Exception):
    """Base class of every jpki_fast error."""


class TrustStoreError(JpkiFastError):
    """A trust directory or CA certificate cannot be used."""


class SerialFormatError(JpkiFastError, ValueError):
    """A serial number is not a valid RFC 5280 serial (names the item index)."""


class StoreError(JpkiFastError):
    """A store is missing, locked, or damaged."""


class StoreCorruptedError(StoreError):
    """A published generation fails its integrity checks."""


class PublishedThenFailed(JpkiFastError):
    """A run published a generation (it is current and complete), then a later step failed.

    The message says both; ``store`` and ``generation`` name what was published, ``step`` what
    failed after it, and ``result`` holds what the run produced (an
    :class:`~jpki_fast.ingest.IngestSummary` or :class:`~jpki_fast.update.UpdateResult`), when it
    has one. The command line exits 3 for it (docs/DESIGN.md §6.2).
    """

    def __init__(self, store, generation: int, step: str, cause: BaseException, result=None) -> None:
        super().__init__(
            f"generation {generation} of {store} was published and is current; then {step} failed: {cause}"
        )
        self.store = store
        self.generation = generation
        self.step = step
        self.cause = cause
        self.result = result


class IngestRefused(JpkiFastError):
    """An ingest run published nothing because input was refused.

    ``summary`` holds the full :class:`~jpki_fast.ingest.IngestSummary`, with every refused
    file and its cause.
    """

    def __init__(self, message: str, summary) -> None:
        super().__init__(message)
        self.summary = summary
